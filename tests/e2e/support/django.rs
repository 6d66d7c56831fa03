//! The Django project of `tests/django/`, run as a real origin behind ringpin.
//!
//! Owns: the Python venv (found or created by `tests/django/bootstrap.sh`, the same script
//! `.ci/run` runs up front; `publisher.rs` runs pubcontrol in it too), the sqlite database
//! (fresh per test, migrated), and the `manage.py runserver` process, killed by pid on drop.
//! Invariants: the venv lives at a fixed place, `target/django-venv` in the repository, or
//! `$RINGPIN_DJANGO_VENV`; the server is up once its port accepts TCP connections; its output
//! is kept in a file and printed when a test fails.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use super::client::DEADLINE;
use super::files::TempDir;

/// One bootstrap at a time, should several tests want the venv.
static BOOTSTRAP: Mutex<()> = Mutex::new(());

/// How long `runserver` may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

fn project_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/django")
}

/// The venv's directory, created or refreshed from `requirements.txt` when needed.
pub fn venv() -> PathBuf {
    let venv = match std::env::var_os("RINGPIN_DJANGO_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/django-venv"),
    };
    let _one = BOOTSTRAP
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let status = Command::new("sh")
        .arg(project_dir().join("bootstrap.sh"))
        .arg(&venv)
        .status()
        .unwrap_or_else(|e| panic!("run tests/django/bootstrap.sh: {e}"));
    assert!(
        status.success(),
        "tests/django/bootstrap.sh failed: {status}"
    );
    venv
}

/// A fresh, migrated sqlite database, ready to be served. Preparing it before choosing the
/// server's port keeps the window in which another test could take that port short.
pub struct DjangoSite {
    python: PathBuf,
    dir: TempDir,
}

impl DjangoSite {
    /// Finds or makes the venv and migrates a new database.
    pub fn prepare() -> DjangoSite {
        let site = DjangoSite {
            python: venv().join("bin/python"),
            dir: TempDir::new("django"),
        };
        let migrate = Command::new(&site.python)
            .args(["manage.py", "migrate", "-v0"])
            .current_dir(project_dir())
            .envs(site.env(None))
            .output()
            .unwrap_or_else(|e| panic!("run manage.py migrate: {e}"));
        assert!(
            migrate.status.success(),
            "manage.py migrate failed: {}",
            String::from_utf8_lossy(&migrate.stderr)
        );
        site
    }

    /// Starts `runserver` on `port`; the project publishes to `publish_addr`.
    pub fn serve(self, port: u16, publish_addr: SocketAddr) -> Django {
        let log = File::create(self.dir.path().join("django.log")).expect("create django.log");
        let child = Command::new(&self.python)
            .args(["manage.py", "runserver", "--noreload"])
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(project_dir())
            .envs(self.env(Some(publish_addr)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start manage.py runserver: {e}"));
        let mut django = Django {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            dir: self.dir,
        };
        django.wait_ready();
        django
    }

    /// The environment `tests/django/demo/settings.py` reads.
    fn env(&self, publish_addr: Option<SocketAddr>) -> Vec<(&'static str, String)> {
        let db = self.dir.path().join("db.sqlite3");
        let mut env = vec![
            ("RINGPIN_DJANGO_DB", db.display().to_string()),
            ("PYTHONDONTWRITEBYTECODE", "1".to_string()),
        ];
        if let Some(addr) = publish_addr {
            env.push(("RINGPIN_PUBLISH_URI", format!("http://{addr}")));
        }
        env
    }
}

/// A running `manage.py runserver`.
pub struct Django {
    pub addr: SocketAddr,
    child: Child,
    dir: TempDir,
}

impl Django {
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect_timeout(&self.addr, DEADLINE).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("runserver exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "runserver not up after {START_TIMEOUT:?}:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the server printed so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("django.log")).unwrap_or_default()
    }
}

impl Drop for Django {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!("--- django log ---\n{}", self.log());
        }
    }
}
