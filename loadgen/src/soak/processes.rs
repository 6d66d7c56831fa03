//! Processes: the ringpin under test and the soak backend, started, signalled and stopped
//! by the soak alone.
//!
//! Owns: their command lines, log files, ringpin's routes file (the soak rewrites it and
//! sends SIGHUP) and readiness.
//! Must not: signal any process it did not start: every signal goes to a `Child`'s own pid.
//! Invariants: ringpin runs with a short `--origin-timeout`, its ZeroMQ inputs and command
//! socket off (nothing here uses them, and their default ports could be taken), and logs
//! at `warn` to a file the report summarizes. The routes file is replaced by rename, so
//! ringpin never reads one half-written.

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::os;
use super::probes;

/// How long a started process gets to accept connections.
const READY_WAIT: Duration = Duration::from_secs(20);
/// Longest wait for every thread of a SIGSTOPped backend to have stopped.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// SIGTERM to SIGKILL when stopping ringpin (it drains first).
const STOP_GRACE: Duration = Duration::from_secs(15);

/// The routes ringpin is given, by variant. The variant with `/gone` sends that path to a
/// port nothing listens on (502), the other to the backend (404), so a probe of `/gone`
/// tells which table ringpin uses.
pub(crate) fn routes_text(backend: u16, with_gone: bool) -> String {
    let mut text = format!("*,path_beg=/ws 127.0.0.1:{backend},over_http\n");
    if with_gone {
        text += "*,path_beg=/gone 127.0.0.1:1\n";
    }
    text + &format!("* 127.0.0.1:{backend}\n")
}

/// What ringpin logs when it refuses a reload and keeps its routes.
pub(crate) const REFUSED_RELOAD: &str = "routes reload failed, keeping the old routes";

/// A routes file without one valid route: a reload must refuse it and keep the old table.
pub(crate) const BROKEN_ROUTES: &str =
    "this is not a route\n*,path_beg=/ws\n* 127.0.0.1:notaport\n";

/// Waits until `GET path` through `proxy` answers `status`; false at the deadline.
pub(crate) fn wait_for_status(
    proxy: SocketAddrV4,
    path: &str,
    status: u16,
    wait: Duration,
) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if probes::get_status(proxy, path, probes::PROBE_TIMEOUT) == status {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// True when every thread of `pid` is stopped (state `T` in `/proc/PID/task/TID/stat`).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat"))
            .ok()
            .and_then(|stat| Some(stat.rsplit_once(')')?.1.split_whitespace().next()? == "T"))
            .unwrap_or(true)
    })
}

fn spawn_logged(program: &Path, args: &[String], log: &Path) -> Result<Child, String> {
    let file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", program.display()))
}

/// ringpin's routes file and pid: enough to rewrite the routes and ask for a reload.
#[derive(Debug, Clone)]
pub(crate) struct RoutesHandle {
    pub(crate) path: PathBuf,
    pub(crate) pid: u32,
    /// ringpin's log, where it says that it refused a reload.
    pub(crate) log: PathBuf,
}

impl RoutesHandle {
    /// How many reloads ringpin has refused so far, by its log.
    pub(crate) fn refused_reloads(&self) -> usize {
        std::fs::read_to_string(&self.log).map_or(0, |text| text.matches(REFUSED_RELOAD).count())
    }

    pub(crate) fn write(&self, text: &str) -> Result<(), String> {
        let tmp = self.path.with_extension("new");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }

    pub(crate) fn hup(&self) -> Result<(), String> {
        os::signal(self.pid, libc::SIGHUP).map_err(|e| format!("SIGHUP ringpin: {e}"))
    }
}

/// The soak backend process.
#[derive(Debug)]
pub(crate) struct Backend {
    child: Child,
    args: Vec<String>,
    log: PathBuf,
    /// Its listening port on 127.0.0.1.
    pub(crate) port: u16,
}

impl Backend {
    /// Starts `ringpin-loadgen soak-backend` and waits until it accepts.
    pub(crate) fn start(
        port: u16,
        state: &Path,
        size: usize,
        dir: &Path,
    ) -> Result<Backend, String> {
        let args = vec![
            "soak-backend".to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--state".into(),
            state.display().to_string(),
            "--size".into(),
            size.to_string(),
        ];
        let log = dir.join("backend.log");
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let child = spawn_logged(&exe, &args, &log)?;
        let backend = Backend {
            child,
            args,
            log,
            port,
        };
        crate::targets::wait_ready(port, Instant::now() + READY_WAIT)?;
        Ok(backend)
    }

    /// Kills it (SIGKILL: no goodbye to ringpin's pooled connections) and reaps it.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port, after [`Backend::kill`].
    pub(crate) fn restart(&mut self) -> Result<(), String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let log = self.log.with_extension("restarted.log");
        self.child = spawn_logged(&exe, &self.args, &log)?;
        crate::targets::wait_ready(self.port, Instant::now() + READY_WAIT)
    }

    /// SIGSTOP: it keeps its sockets, and the kernel keeps accepting into its backlog, but
    /// nothing is answered until [`Backend::resume`]. Returns once every thread has stopped:
    /// the kernel stops a thread group only after one of its threads has run to take the
    /// signal, and on a loaded machine the others answer requests meanwhile.
    pub(crate) fn hang(&self) -> Result<(), String> {
        let pid = self.child.id();
        os::signal(pid, libc::SIGSTOP).map_err(|e| format!("SIGSTOP backend: {e}"))?;
        let deadline = Instant::now() + STOP_WAIT;
        while !all_threads_stopped(pid) {
            if Instant::now() >= deadline {
                return Err(format!("the backend did not stop within {STOP_WAIT:?}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// SIGCONT after [`Backend::hang`].
    pub(crate) fn resume(&self) -> Result<(), String> {
        os::signal(self.child.id(), libc::SIGCONT).map_err(|e| format!("SIGCONT backend: {e}"))
    }
}

/// The ringpin under test.
#[derive(Debug)]
pub(crate) struct Ringpin {
    child: Child,
    /// Its pid (what RSS and descriptors are sampled from).
    pub(crate) pid: u32,
    /// Client listener and publish listener.
    pub(crate) proxy: SocketAddrV4,
    pub(crate) publish: SocketAddrV4,
    /// Its full command line.
    pub(crate) command: Vec<String>,
    /// Where its stderr goes.
    pub(crate) log: PathBuf,
    routes: PathBuf,
}

impl Ringpin {
    /// Starts `binary` on the given ports with a routes file to `backend`, and waits until a
    /// request reaches the backend through it.
    pub(crate) fn start(
        binary: &Path,
        extra_args: &[String],
        origin_timeout: Duration,
        ports: (u16, u16, u16),
        dir: &Path,
    ) -> Result<Ringpin, String> {
        let (client, publish, backend) = ports;
        let routes = dir.join("routes");
        std::fs::write(&routes, routes_text(backend, false))
            .map_err(|e| format!("{}: {e}", routes.display()))?;
        let mut args: Vec<String> = [
            "--listen",
            &format!("127.0.0.1:{client}"),
            "--publish-listen",
            &format!("127.0.0.1:{publish}"),
            "--routes",
            &routes.display().to_string(),
            "--origin-timeout",
            &origin_timeout.as_secs().to_string(),
            "--log-level",
            "warn",
            "--push-in-spec",
            "",
            "--push-in-sub-spec",
            "",
            "--command-spec",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend_from_slice(extra_args);
        let log = dir.join("ringpin.log");
        let child = spawn_logged(binary, &args, &log)?;
        let mut command = vec![binary.display().to_string()];
        command.extend(args);
        let mut ringpin = Ringpin {
            pid: child.id(),
            child,
            proxy: SocketAddrV4::new([127, 0, 0, 1].into(), client),
            publish: SocketAddrV4::new([127, 0, 0, 1].into(), publish),
            command,
            log,
            routes,
        };
        let ready =
            crate::targets::wait_ready(publish, Instant::now() + READY_WAIT).and_then(|()| {
                match wait_for_status(ringpin.proxy, "/probe", 200, READY_WAIT) {
                    true => Ok(()),
                    false => Err("no request reached the backend through ringpin".to_string()),
                }
            });
        if let Err(e) = ready {
            let _ = ringpin.stop();
            return Err(format!("ringpin did not start: {e}"));
        }
        Ok(ringpin)
    }

    /// Its routes file and pid, for the fault thread.
    pub(crate) fn routes(&self) -> RoutesHandle {
        RoutesHandle {
            path: self.routes.clone(),
            pid: self.pid,
            log: self.log.clone(),
        }
    }

    /// True while the process has not exited.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then SIGKILL after [`STOP_GRACE`]; its exit status, and whether it stopped
    /// within the grace.
    pub(crate) fn stop(&mut self) -> Result<(ExitStatus, bool), String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Ok((status, false));
        }
        let _ = os::signal(self.pid, libc::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Ok((status, true));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .map_err(|e| format!("ringpin wait: {e}"))?;
        Ok((status, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_process_is_not_stopped() {
        assert!(!all_threads_stopped(std::process::id()));
        assert!(!all_threads_stopped(u32::MAX), "no such process");
    }

    #[test]
    fn the_two_route_variants_differ_only_in_gone() {
        let plain = routes_text(8080, false);
        let gone = routes_text(8080, true);
        assert_eq!(plain.lines().count() + 1, gone.lines().count());
        assert!(gone.contains("*,path_beg=/gone 127.0.0.1:1\n"));
        assert!(plain.ends_with("* 127.0.0.1:8080\n") && gone.ends_with("* 127.0.0.1:8080\n"));
    }
}
