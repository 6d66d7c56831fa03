//! Hosts for tests that run several ringpins as a scaled-out deployment: each instance gets an
//! IPv4 address of its own, as if it ran on its own machine.
//!
//! Owns: `Hosts`, which makes them, and `Host`, one of them. As root with `ip` (iproute2),
//! each host is a network namespace joined to the test's namespace by a veth pair: the
//! instance listens on the namespace's end (`Host::ip`), and an origin for it listens on the
//! test's end (`Host::peer_ip`). Otherwise, or when `RINGPIN_E2E_NETNS=0`, each host is a
//! distinct loopback address (127.x.y.z) of the test's own namespace, and `peer_ip` is the
//! same address. `Hosts::mode` says which; tests print it.
//! Invariants: namespaces and links are named `rpz<pid>n<k>`/`rpz<pid>h<k>` after the test
//! process, are deleted on drop (also while a test panics, and when creation failed half-way),
//! and ones left by a killed run whose process is gone are deleted by the next run. Each set
//! of hosts takes a /24 of 10.0.0.0/8 that no route of this machine overlaps, chosen and
//! configured under one lock, so parallel tests never share a subnet.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// One subnet choice and configuration at a time (parallel tests in this process).
static CONFIGURE: Mutex<()> = Mutex::new(());
/// Tells the namespaces and loopback addresses of this process's `Hosts` apart.
static NEXT_SET: AtomicU32 = AtomicU32::new(0);

/// How the hosts were made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostsMode {
    /// One network namespace per host, joined to the test's by a veth pair.
    Namespaces,
    /// One loopback address per host in the test's namespace.
    Loopback,
}

/// One place an instance runs.
#[derive(Clone, Debug)]
pub struct Host {
    /// The instance's address: its listeners and ZeroMQ sockets bind here, and the test and
    /// the publishers connect here.
    pub ip: Ipv4Addr,
    /// The test's address as the instance reaches it: origins for this instance listen here.
    pub peer_ip: Ipv4Addr,
    /// The network namespace the instance runs in, if any.
    netns: Option<String>,
}

impl Host {
    /// `program` to be run on this host (through `ip netns exec`, which execs it in place, so
    /// the child's pid is the program's).
    pub fn command(&self, program: &Path) -> Command {
        match &self.netns {
            Some(ns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", ns]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// A port that was free a moment ago on this host: in a namespace of its own every port
    /// is, so the probe is only needed on loopback.
    pub fn free_port(&self) -> u16 {
        let probe = match self.netns {
            Some(_) => Ipv4Addr::LOCALHOST,
            None => self.ip,
        };
        let listener = TcpListener::bind((probe, 0)).expect("bind a probe port");
        listener.local_addr().expect("local_addr").port()
    }

    /// `tcp://IP:PORT` on this host, for a ZeroMQ spec.
    pub fn zmq_spec(&self, port: u16) -> String {
        format!("tcp://{}:{port}", self.ip)
    }

    /// `peer_ip` as an `IpAddr`, for `Backend::start_at`.
    pub fn origin_ip(&self) -> IpAddr {
        IpAddr::V4(self.peer_ip)
    }
}

/// A set of hosts; dropping it deletes what it created.
pub struct Hosts {
    pub mode: HostsMode,
    hosts: Vec<Host>,
    /// Namespaces created so far, deleted on drop (with them go their veth pairs).
    namespaces: Vec<String>,
}

impl Hosts {
    /// `count` hosts, in namespaces when this process may make them, else on loopback.
    pub fn new(count: usize) -> Hosts {
        let set = NEXT_SET.fetch_add(1, Ordering::SeqCst);
        let mut hosts = Hosts {
            mode: HostsMode::Namespaces,
            hosts: Vec::new(),
            namespaces: Vec::new(),
        };
        match namespaces_unavailable() {
            None => match hosts.make_namespaces(set, count) {
                Ok(()) => return hosts,
                Err(why) => {
                    println!("network namespaces failed ({why}); using loopback addresses");
                    hosts.delete_namespaces();
                    hosts.hosts.clear();
                }
            },
            Some(why) => println!("no network namespaces ({why}); using loopback addresses"),
        }
        hosts.mode = HostsMode::Loopback;
        hosts.hosts = (0..count)
            .map(|i| {
                // 127.0.0.0/8 is all loopback; 127.1.x.y keeps clear of 127.0.0.x, which
                // other tests use as client source addresses.
                let ip = Ipv4Addr::new(127, 1, (set % 250) as u8, 10 + i as u8);
                Host {
                    ip,
                    peer_ip: ip,
                    netns: None,
                }
            })
            .collect();
        hosts
    }

    pub fn get(&self, index: usize) -> &Host {
        &self.hosts[index]
    }

    pub fn all(&self) -> &[Host] {
        &self.hosts
    }

    /// A line for the test's output: which mode ran, and where.
    pub fn describe(&self) -> String {
        let ips: Vec<String> = self.hosts.iter().map(|h| h.ip.to_string()).collect();
        match self.mode {
            HostsMode::Namespaces => format!(
                "{} ringpin hosts in network namespaces joined by veth pairs: {}",
                ips.len(),
                ips.join(", ")
            ),
            HostsMode::Loopback => format!(
                "{} ringpin hosts on loopback addresses: {}",
                ips.len(),
                ips.join(", ")
            ),
        }
    }

    fn make_namespaces(&mut self, set: u32, count: usize) -> Result<(), String> {
        let _one = CONFIGURE.lock().unwrap_or_else(|p| p.into_inner());
        delete_stale_namespaces();
        let subnet = free_subnet()?;
        let pid = std::process::id();
        for i in 0..count {
            let k = set as usize * 8 + i;
            let ns = format!("rpz{pid}n{k}");
            let (outer, inner) = (format!("rpz{pid}h{k}"), format!("rpz{pid}n{k}"));
            let base = 4 * i as u8;
            let peer_ip = Ipv4Addr::new(10, subnet.0, subnet.1, base + 1);
            let ip = Ipv4Addr::new(10, subnet.0, subnet.1, base + 2);
            ip_command(&["netns", "add", &ns])?;
            self.namespaces.push(ns.clone());
            ip_command(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            // Deleting the namespace deletes `inner`, and with it `outer`.
            ip_command(&["link", "set", &inner, "netns", &ns])?;
            ip_command(&["addr", "add", &format!("{peer_ip}/30"), "dev", &outer])?;
            ip_command(&["link", "set", &outer, "up"])?;
            let addr = format!("{ip}/30");
            ip_command(&["-n", &ns, "addr", "add", &addr, "dev", &inner])?;
            ip_command(&["-n", &ns, "link", "set", &inner, "up"])?;
            ip_command(&["-n", &ns, "link", "set", "lo", "up"])?;
            self.hosts.push(Host {
                ip,
                peer_ip,
                netns: Some(ns),
            });
        }
        Ok(())
    }

    fn delete_namespaces(&mut self) {
        for ns in self.namespaces.drain(..) {
            if let Err(why) = ip_command(&["netns", "delete", &ns]) {
                eprintln!("could not delete network namespace {ns}: {why}");
            }
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        self.delete_namespaces();
    }
}

/// Why namespaces cannot be made here, or `None` if they may be.
fn namespaces_unavailable() -> Option<String> {
    if std::env::var("RINGPIN_E2E_NETNS").is_ok_and(|v| v == "0") {
        return Some("RINGPIN_E2E_NETNS=0".to_string());
    }
    // SAFETY: geteuid(2) takes no arguments and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".to_string());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!("`ip -V` exited with {}", out.status)),
        Err(e) => Some(format!("no `ip` command: {e}")),
    }
}

/// Runs `ip ARGS`; its stderr is the error.
fn ip_command(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Deletes `rpz<pid>n<k>` namespaces whose process is gone (a run killed before its drops).
fn delete_stale_namespaces() {
    let Ok(list) = ip_command(&["netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(pid) = name
            .strip_prefix("rpz")
            .and_then(|rest| rest.split('n').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip_command(&["netns", "delete", name]);
        }
    }
}

/// The second and third octets of a 10.x.y.0/24 that no route overlaps, searched from a
/// start that differs between processes.
fn free_subnet() -> Result<(u8, u8), String> {
    let routes = ip_command(&["-4", "-o", "route", "show", "table", "all"])?;
    let prefixes: Vec<(u32, u32)> = routes.lines().filter_map(route_prefix).collect();
    let start = std::process::id() % 60_000;
    for offset in 0..60_000 {
        let n = (start + offset) % 60_000;
        let (x, y) = ((n / 250 + 1) as u8, (n % 250 + 1) as u8);
        let net = u32::from(Ipv4Addr::new(10, x, y, 0));
        let taken = prefixes.iter().any(|&(addr, len)| {
            let common = len.min(24);
            let mask = if common == 0 {
                0
            } else {
                u32::MAX << (32 - common)
            };
            addr & mask == net & mask
        });
        if !taken {
            return Ok((x, y));
        }
    }
    Err("no free 10.x.y.0/24".to_string())
}

/// The destination of one `ip -o route` line as (address, prefix length); `None` for the
/// default route and for lines without an IPv4 destination.
fn route_prefix(line: &str) -> Option<(u32, u32)> {
    const TYPES: [&str; 9] = [
        "unicast",
        "local",
        "broadcast",
        "multicast",
        "anycast",
        "blackhole",
        "unreachable",
        "prohibit",
        "throw",
    ];
    let mut words = line.split_whitespace();
    let mut dest = words.next()?;
    if TYPES.contains(&dest) {
        dest = words.next()?;
    }
    let (addr, len) = dest.split_once('/').unwrap_or((dest, "32"));
    let addr: Ipv4Addr = addr.parse().ok()?;
    Some((u32::from(addr), len.parse().ok()?))
}
