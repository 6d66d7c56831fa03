//! Start-up failures a user meets before any client does: ringpin says what is wrong and exits
//! non-zero, instead of logging that it listens and then answering nothing.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::support::{free_port, TempDir, EXIT_TIMEOUT};

/// A locked-memory limit below what glommio's io_uring rings need (512 KiB per executor):
/// the executors cannot be built, which glommio reports only on their own threads.
const MEMLOCK_TOO_SMALL: &str = "--memlock=65536:65536";

#[test]
fn an_executor_that_cannot_be_built_stops_start_up_with_the_reason() {
    // root has CAP_IPC_LOCK, which ignores RLIMIT_MEMLOCK: run as `nobody` then, from a copy
    // of the binary that user can execute.
    let dir = TempDir::new("memlock");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let binary = dir.path().join("ringpin");
    std::fs::copy(env!("CARGO_BIN_EXE_ringpin"), &binary).expect("copy the binary");
    let mut command = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "prlimit",
        ]);
        c
    } else {
        Command::new("prlimit")
    };
    let (listen, publish) = (free_port(), free_port());
    command
        .arg(MEMLOCK_TOO_SMALL)
        .arg(&binary)
        .args(["--listen", &format!("127.0.0.1:{listen}")])
        .args(["--publish-listen", &format!("127.0.0.1:{publish}")])
        .args([
            "--push-in-spec",
            "",
            "--push-in-sub-spec",
            "",
            "--command-spec",
            "",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start ringpin under prlimit");
    let deadline = Instant::now() + EXIT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ringpin kept running with executors that could not be built");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot start executor ringpin-shard-0"),
        "{stderr}"
    );
    assert!(stderr.contains("RLIMIT_MEMLOCK"), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
}
