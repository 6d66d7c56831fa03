//! Targets: start and stop the processes a comparison measures — ringpin, Pushpin, the
//! kernel-floor server — and the loadgen backend they route to.
//!
//! Owns: child processes, Pushpin's generated config directory, readiness (by connecting),
//! and the pid list whose CPU and RSS the coordinator measures.
//! Must not: measure anything (the `run` coordinator does) or touch a process it did not
//! start.
//! Invariants: every child is stopped by pid, SIGTERM first, then SIGKILL after
//! [`STOP_GRACE`]; Pushpin's pids are the runner and every process it spawned (condure,
//! zurl, pushpin-proxy, pushpin-handler), so its CPU is the sum over all of them.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started target gets to accept connections.
const READY_WAIT: Duration = Duration::from_secs(20);
/// SIGTERM to SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A started target: its children, the pids to measure, and where to reach it.
pub struct Target {
    /// Name used in reports (`ringpin`, `pushpin`, `floor-send`, `floor-uring`, `backend`).
    pub name: String,
    /// Processes to measure (includes grandchildren for Pushpin).
    pub pids: Vec<u32>,
    /// Client-facing port on 127.0.0.1.
    pub client_port: u16,
    /// Publish URLs, one per instance.
    pub publish_urls: Vec<String>,
    /// ZeroMQ SUB publish inputs (bound by the target), one per instance; empty if none.
    pub zmq_sub_specs: Vec<String>,
    /// ZeroMQ PULL publish inputs, one per instance; empty if none.
    pub zmq_pull_specs: Vec<String>,
    children: Vec<Child>,
    temp_dir: Option<PathBuf>,
    logs: Vec<PathBuf>,
}

/// Where a started target's files and ports go.
#[derive(Debug, Clone)]
pub struct Ports {
    /// Client listener port, shared by every instance (SO_REUSEPORT).
    pub client: u16,
    /// Publish ports; instance i uses `publish[i]` (Pushpin uses the first).
    pub publish: Vec<u16>,
    /// ringpin's ZeroMQ PULL input ports, `pull[i]` for instance i.
    pub pull: Vec<u16>,
    /// ringpin's ZeroMQ SUB input ports, `sub[i]` for instance i.
    pub sub: Vec<u16>,
    /// Loadgen backend port.
    pub backend: u16,
}

/// The directory of the running binary (ringpin is built next to ringpin-loadgen).
fn bin_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| "current_exe has no parent".to_string())
}

/// Where a child's stderr goes when no log path is given: a file named after the port in
/// its arguments, so a failed start can say why.
fn default_log(args: &[String]) -> PathBuf {
    let tag: String = args
        .iter()
        .filter(|a| a.starts_with("127.0.0.1:"))
        .map(|a| a.trim_start_matches("127.0.0.1:"))
        .collect::<Vec<_>>()
        .join("-");
    std::env::temp_dir().join(format!("ringpin-loadgen-{}-{tag}.log", std::process::id()))
}

/// The last line a child wrote to its log.
fn last_log_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.lines().last().map(String::from))
        .unwrap_or_default()
}

fn spawn(program: &Path, args: &[String], log: Option<&Path>) -> Result<Child, String> {
    let fallback = default_log(args);
    let log = Some(log.unwrap_or(&fallback));
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null());
    match log {
        Some(path) => {
            let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
            cmd.stderr(f);
        }
        None => {
            cmd.stderr(Stdio::null());
        }
    }
    cmd.spawn()
        .map_err(|e| format!("starting {}: {e}", program.display()))
}

/// `count` ports from `from` upward that can be bound on 127.0.0.1 right now (4xxxx/5xxxx
/// ports are in the ephemeral range, and earlier runs' loopback connections hold many).
pub fn free_ports(from: u16, count: usize) -> Result<Vec<u16>, String> {
    let free = (from..=u16::MAX)
        .filter(|&p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        .take(count)
        .collect::<Vec<_>>();
    if free.len() < count {
        return Err(format!("fewer than {count} free ports above {from}"));
    }
    Ok(free)
}

/// Waits until `127.0.0.1:port` accepts a connection.
pub fn wait_ready(port: u16, deadline: Instant) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("nothing accepts on 127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until a request through the proxy at `port` gets the backend's 404 for `/ready`.
fn wait_proxied(port: u16, deadline: Instant) -> Result<(), String> {
    use std::io::{Read, Write};
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        let mut head = [0u8; 12];
        let status = TcpStream::connect_timeout(&addr, Duration::from_millis(500))
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(2)))?;
                s.write_all(b"GET /ready HTTP/1.0\r\nHost: ready\r\n\r\n")?;
                s.read_exact(&mut head)
            })
            .ok()
            .map(|()| head);
        if status.is_some_and(|h| h.ends_with(b"404")) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "127.0.0.1:{port} never proxied a request to the backend"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Target {
    fn new(name: &str, client_port: u16) -> Target {
        Target {
            name: name.to_string(),
            pids: Vec::new(),
            client_port,
            publish_urls: Vec::new(),
            zmq_sub_specs: Vec::new(),
            zmq_pull_specs: Vec::new(),
            children: Vec::new(),
            temp_dir: None,
            logs: Vec::new(),
        }
    }

    fn add(&mut self, child: Child, args: &[String]) {
        self.logs.push(default_log(args));
        self.pids.push(child.id());
        self.children.push(child);
    }

    /// An error if a started child has already exited (a bind failure, usually).
    fn check_alive(&mut self) -> Result<(), String> {
        for c in &mut self.children {
            if let Ok(Some(status)) = c.try_wait() {
                let why = self
                    .logs
                    .iter()
                    .map(|p| last_log_line(p))
                    .collect::<Vec<_>>()
                    .join(" | ");
                return Err(format!("pid {} exited at start ({status}): {why}", c.id()));
            }
        }
        Ok(())
    }

    /// Waits for the client port and every publish port.
    fn wait_all_ready(mut self, publish_ports: &[u16]) -> Result<Target, String> {
        let deadline = Instant::now() + READY_WAIT;
        let ready = std::iter::once(self.client_port)
            .chain(publish_ports.iter().copied())
            .try_for_each(|p| {
                while Instant::now() < deadline {
                    self.check_alive()?;
                    if wait_ready(p, Instant::now()).is_ok() {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                wait_ready(p, deadline)
            });
        match ready {
            Ok(()) => Ok(self),
            Err(e) => {
                let message = format!("{}: {e}", self.name);
                self.stop();
                Err(message)
            }
        }
    }

    /// The loadgen backend as a child process (`ringpin-loadgen backend`).
    pub fn backend(port: u16) -> Result<Target, String> {
        let mut t = Target::new("backend", port);
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let args = vec![
            "backend".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ];
        t.add(spawn(&exe, &args, None)?, &args);
        t.wait_all_ready(&[])
    }

    /// `instances` ringpin processes, `shards` each, sharing `ports.client`.
    pub fn ringpin(
        instances: u16,
        shards: u16,
        extra_args: &[String],
        ports: &Ports,
    ) -> Result<Target, String> {
        let mut t = Target::new("ringpin", ports.client);
        let bin = bin_dir()?.join("ringpin").display().to_string();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut publish = Vec::new();
        for i in 0..instances {
            let port = |list: &[u16], what: &str| {
                list.get(usize::from(i))
                    .copied()
                    .ok_or_else(|| format!("too few {what} ports"))
            };
            let pp = port(&ports.publish, "publish")?;
            let pull = format!("tcp://127.0.0.1:{}", port(&ports.pull, "PULL")?);
            let sub = format!("tcp://127.0.0.1:{}", port(&ports.sub, "SUB")?);
            // With one shard, each instance sees one core in its affinity mask, so its shard
            // pins there and instances spread over the cores instead of all pinning to core
            // 0; with more shards, every core is allowed (`taskset -c 0-N`).
            let mask = if shards == 1 {
                (usize::from(i) % cores).to_string()
            } else {
                format!("0-{}", cores - 1)
            };
            let mut args = vec![
                "-c".to_string(),
                mask,
                bin.clone(),
                "--listen".to_string(),
                format!("127.0.0.1:{}", ports.client),
                "--publish-listen".into(),
                format!("127.0.0.1:{pp}"),
                "--shards".into(),
                shards.to_string(),
                // The same routes Pushpin gets: WebSocket-over-HTTP for /ws, plain HTTP else.
                "--route".into(),
                format!("*,path_beg=/ws 127.0.0.1:{},over_http", ports.backend),
                "--route".into(),
                format!("* 127.0.0.1:{}", ports.backend),
                "--log-level".into(),
                "warn".into(),
                // Each instance its own ZeroMQ inputs: the defaults (5560, 5562) would let
                // only the first bind. No command socket: nothing here uses it.
                "--push-in-spec".into(),
                pull.clone(),
                "--push-in-sub-spec".into(),
                sub.clone(),
                "--command-spec".into(),
                String::new(),
            ];
            args.extend_from_slice(extra_args);
            t.add(spawn(Path::new("taskset"), &args, None)?, &args);
            t.publish_urls.push(format!("http://127.0.0.1:{pp}"));
            t.zmq_pull_specs.push(pull);
            t.zmq_sub_specs.push(sub);
            publish.push(pp);
        }
        t.wait_all_ready(&publish)
    }

    /// `instances` floor servers (`--mode send|uring`) sharing `ports.client`.
    pub fn floor(instances: u16, mode: &str, ports: &Ports) -> Result<Target, String> {
        let mut t = Target::new(&format!("floor-{mode}"), ports.client);
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut publish = Vec::new();
        for i in 0..instances {
            let pp = ports
                .publish
                .get(usize::from(i))
                .copied()
                .ok_or("too few publish ports")?;
            let args = [
                "floor-server".to_string(),
                "--listen".into(),
                format!("127.0.0.1:{}", ports.client),
                "--publish-listen".into(),
                format!("127.0.0.1:{pp}"),
                "--mode".into(),
                mode.to_string(),
            ];
            t.add(spawn(&exe, &args, None)?, &args);
            t.publish_urls.push(format!("http://127.0.0.1:{pp}"));
            publish.push(pp);
        }
        t.wait_all_ready(&publish)
    }

    /// Pushpin 1.36 with a generated config in a fresh temp dir; `port_offset` must be
    /// unique among concurrently running Pushpins (it shifts the handler's TCP ports).
    pub fn pushpin(ports: &Ports, port_offset: u16) -> Result<Target, String> {
        let dir = std::env::temp_dir().join(format!(
            "ringpin-loadgen-pushpin-{}-{}",
            std::process::id(),
            ports.client
        ));
        std::fs::create_dir_all(dir.join("run")).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::create_dir_all(dir.join("log")).map_err(|e| format!("{}: {e}", dir.display()))?;
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))
        };
        write("routes", pushpin_routes(ports.backend))?;
        write("pushpin.conf", pushpin_conf(&dir, ports, port_offset))?;
        let mut t = Target::new("pushpin", ports.client);
        t.temp_dir = Some(dir.clone());
        let conf = dir.join("pushpin.conf").display().to_string();
        let log = dir.join("runner.log");
        let child = spawn(
            Path::new("pushpin"),
            &["--config".to_string(), conf],
            Some(&log),
        )?;
        t.add(child, &[]);
        t.logs = vec![dir.join("log/pushpin-handler.log"), log];
        t.publish_urls
            .push(format!("http://127.0.0.1:{}", ports.publish[0]));
        // The handler binds both inputs on ipc (see pushpin_conf); loadgen connects there.
        let run = dir.join("run");
        t.zmq_pull_specs = vec![format!("ipc://{}/pushpin-push-in", run.display())];
        t.zmq_sub_specs = vec![format!("ipc://{}/pushpin-push-in-sub", run.display())];
        let t = t.wait_all_ready(&ports.publish[..1])?;
        // condure accepts before pushpin-proxy and zurl are wired up; requests in that
        // window fail with 502, so wait until one reaches the backend (its 404).
        if let Err(e) = wait_proxied(ports.client, Instant::now() + READY_WAIT) {
            t.stop();
            return Err(format!("pushpin: {e}"));
        }
        Ok(t.with_descendants())
    }

    /// Adds every descendant of the started children to `pids` (Pushpin's services).
    fn with_descendants(mut self) -> Target {
        let mut frontier: Vec<u32> = self.pids.clone();
        while let Some(parent) = frontier.pop() {
            for pid in children_of(parent) {
                if !self.pids.contains(&pid) {
                    self.pids.push(pid);
                    frontier.push(pid);
                }
            }
        }
        self
    }

    /// SIGTERM to every measured pid, then SIGKILL to whatever is left after
    /// [`STOP_GRACE`]; removes the temp dir and the logs (kept with
    /// `RINGPIN_LOADGEN_KEEP_LOGS=1`).
    pub fn stop(mut self) {
        for &pid in &self.pids {
            signal(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        for child in &mut self.children {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if matches!(child.try_wait(), Ok(None)) {
                signal(child.id(), libc::SIGKILL);
                let _ = child.wait();
            }
        }
        // Grandchildren (Pushpin's services) are not ours to wait for; kill stragglers.
        for &pid in &self.pids {
            if Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid) {
                signal(pid, libc::SIGKILL);
            }
        }
        // RINGPIN_LOADGEN_KEEP_LOGS=1 keeps the targets' stderr logs for a look afterwards.
        let keep_logs = std::env::var_os("RINGPIN_LOADGEN_KEEP_LOGS").is_some_and(|v| v == "1");
        for log in &self.logs {
            if keep_logs {
                eprintln!("kept log {}", log.display());
            } else {
                let _ = std::fs::remove_file(log);
            }
        }
        if let Some(dir) = self.temp_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn signal(pid: u32, sig: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) on a pid this process started; no memory is touched.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Field 3 (state) and 4 (ppid) of /proc/PID/stat, after the `(comm)` field.
fn stat_fields(pid: u32) -> Option<(String, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = text.rsplit_once(')')?.1;
    let mut it = after.split_whitespace();
    let state = it.next()?.to_string();
    let ppid = it.next()?.parse().ok()?;
    Some((state, ppid))
}

fn is_zombie(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|(s, _)| s == "Z")
}

fn children_of(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| stat_fields(pid).is_some_and(|(_, ppid)| ppid == parent))
        .collect()
}

fn pushpin_routes(backend: u16) -> String {
    format!("*,path_beg=/ws 127.0.0.1:{backend},over_http\n* 127.0.0.1:{backend}\n")
}

/// The shipped /etc/pushpin/pushpin.conf with zurl added, ports and dirs moved, and the
/// handler's throttles raised (`message_rate=` empty means unlimited in 1.36).
/// Only two TCP ports: condure's client port, bound to 127.0.0.1 (not 0.0.0.0, which any
/// loopback socket on that port would block), and the publish port; the handler's zmq
/// sockets are ipc, since 4xxxx ports are ephemeral and often held by an earlier run.
fn pushpin_conf(dir: &Path, ports: &Ports, offset: u16) -> String {
    let d = dir.display();
    // The handler adds port_offset to its TCP port; subtract it so the publish port is exact.
    let h = ports.publish.first().copied().unwrap_or(offset) - offset;
    format!(
        "[global]\ninclude={{libdir}}/internal.conf\nrundir={d}/run\nipc_prefix=pushpin-\n\
port_offset={offset}\nstats_connection_ttl=120\n\n\
[runner]\nservices=condure,zurl,pushpin-proxy,pushpin-handler\nhttp_port=127.0.0.1:{client}\n\
logdir={d}/log\nlog_level=2\nclient_buffer_size=8192\nclient_maxconn=200000\n\
condure_bin=condure\nzurl_bin=zurl\n\n\
[proxy]\nroutesfile={d}/routes\ndebug=false\nauto_cross_origin=false\n\
zurl_out_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-in\n\
zurl_out_stream_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-in-stream\n\
zurl_in_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-out\n\
sig_iss=pushpin\nsig_key=changeme\nupdates_check=off\n\n\
[handler]\npush_in_spec=ipc://{{rundir}}/{{ipc_prefix}}push-in\n\
push_in_sub_specs=ipc://{{rundir}}/{{ipc_prefix}}push-in-sub\n\
push_in_sub_connect=false\npush_in_http_addr=127.0.0.1\npush_in_http_port={h}\n\
push_in_http_max_headers_size=10000\npush_in_http_max_body_size=1000000\n\
stats_spec=ipc://{{rundir}}/{{ipc_prefix}}stats\n\
command_spec=ipc://{{rundir}}/{{ipc_prefix}}handler-command\n\
message_rate=\nmessage_hwm=1000000\nmessage_wait=5000\nid_cache_ttl=60\n\
connection_subscription_max=20\nsubscription_linger=60\nstats_subscription_ttl=60\n\
stats_report_interval=10\nstats_format=tnetstring\n",
        client = ports.client,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushpin_conf_moves_ports_and_enables_zurl() {
        let ports = Ports {
            client: 47000,
            publish: vec![47100],
            pull: Vec::new(),
            sub: Vec::new(),
            backend: 48080,
        };
        let conf = pushpin_conf(Path::new("/tmp/x"), &ports, 5);
        assert!(conf.contains("services=condure,zurl,pushpin-proxy,pushpin-handler"));
        assert!(conf.contains("http_port=127.0.0.1:47000\n"));
        assert!(conf.contains("push_in_http_port=47095\n"));
        assert!(conf.contains("port_offset=5\n"));
        assert!(conf.contains("rundir=/tmp/x/run\n"));
        assert!(conf.contains("message_hwm=1000000\n"));
        assert!(pushpin_routes(48080).contains("* 127.0.0.1:48080\n"));
    }
}
