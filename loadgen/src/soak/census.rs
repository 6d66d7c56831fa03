//! Census: what ringpin's open descriptors are — client connections, origin connections,
//! other sockets, and everything else — read from `/proc`.
//!
//! Owns: matching `/proc/PID/fd` socket inodes against `/proc/PID/net/tcp`.
//! Must not: run every second: `/proc/net/tcp` lists every TCP socket of the namespace
//! (tens of thousands in a full soak), so the soak takes a census twice, before the first
//! fault and at the end.
//! Invariants: each descriptor is counted once; a socket counts as a client connection when its local port is ringpin's
//! client port (the listener itself included), as an origin connection when its remote port
//! is the backend's; IPv4 only, as ringpin listens on 127.0.0.1 here.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use serde::Serialize;

/// Reads of `/proc/PID/net/tcp` per census, and the buffer each starts with (a line is
/// 150 bytes; a full soak lists some 40,000 sockets).
const TCP_READS: usize = 2;
const TCP_READ_BYTES: usize = 8 << 20;

/// ringpin's descriptors by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Census {
    pub(crate) client_sockets: u64,
    pub(crate) origin_sockets: u64,
    pub(crate) other_sockets: u64,
    pub(crate) not_sockets: u64,
}

/// Takes the census of `pid`'s descriptors.
pub(crate) fn take(pid: u32, client_port: u16, backend_port: u16) -> std::io::Result<Census> {
    let mut not_sockets = 0;
    let mut inodes = HashSet::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let Ok(target) = std::fs::read_link(entry?.path()) else {
            continue;
        };
        match socket_inode(&target.to_string_lossy()) {
            Some(inode) => {
                inodes.insert(inode);
            }
            None => not_sockets += 1,
        }
    }
    // The kernel writes /proc/net/tcp in pieces while sockets come and go, so one read may
    // list a socket twice or miss it: count each inode once, over two reads.
    let mut reads = Vec::new();
    for _ in 0..TCP_READS {
        // Large reads: the kernel walks its socket table again for every read(2).
        let mut text = String::with_capacity(TCP_READ_BYTES);
        std::fs::File::open(format!("/proc/{pid}/net/tcp"))?.read_to_string(&mut text)?;
        reads.push(text);
    }
    let mut census = classify(&inodes, &reads, client_port, backend_port);
    census.not_sockets = not_sockets;
    Ok(census)
}

/// Classifies the socket `inodes` by the `/proc/net/tcp` texts in `reads`, each inode once.
fn classify(
    inodes: &HashSet<u64>,
    reads: &[String],
    client_port: u16,
    backend_port: u16,
) -> Census {
    let mut ports: HashMap<u64, (u16, u16)> = HashMap::new();
    for tcp in reads {
        for (local, remote, inode) in tcp.lines().skip(1).filter_map(parse_tcp_line) {
            if inodes.contains(&inode) {
                ports.insert(inode, (local, remote));
            }
        }
    }
    let mut census = Census::default();
    for &(local, remote) in ports.values() {
        if local == client_port {
            census.client_sockets += 1;
        } else if remote == backend_port {
            census.origin_sockets += 1;
        } else {
            census.other_sockets += 1;
        }
    }
    // Sockets that are not TCP over IPv4 (Unix, netlink, …).
    census.other_sockets += (inodes.len() - ports.len()) as u64;
    census
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// (local port, remote port, inode) of one `/proc/net/tcp` line.
fn parse_tcp_line(line: &str) -> Option<(u16, u16, u64)> {
    let port = |addr: &str| u16::from_str_radix(addr.rsplit_once(':')?.1, 16).ok();
    let mut fields = line.split_whitespace();
    let local = port(fields.nth(1)?)?;
    let remote = port(fields.next()?)?;
    // Fields 3 to 8 (state, queues, timers, retransmits, uid, timeout), then the inode.
    let inode = fields.nth(6)?.parse().ok()?;
    Some((local, remote, inode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_lines_and_links_parse() {
        let line = "   0: 0100007F:15B8 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 18445499 1 0 100 0 0 10 0";
        assert_eq!(parse_tcp_line(line), Some((0x15b8, 0x1f90, 18_445_499)));
        assert_eq!(parse_tcp_line("garbage"), None);
        assert_eq!(socket_inode("socket:[42]"), Some(42));
        assert_eq!(socket_inode("pipe:[42]"), None);
    }

    #[test]
    fn a_socket_listed_twice_or_missed_by_one_read_counts_once() {
        let line = |local: u16, remote: u16, inode: u64| {
            format!("0: 0100007F:{local:04X} 0100007F:{remote:04X} 01 0:0 0:0 0 0 0 {inode} 1\n")
        };
        let header = "sl local rem st\n".to_string();
        let first = header.clone() + &line(80, 5000, 1) + &line(80, 5001, 1) + &line(6000, 90, 2);
        let second = header + &line(80, 5000, 1) + &line(80, 5002, 3);
        let inodes: HashSet<u64> = [1, 2, 3, 4].into();
        let c = classify(&inodes, &[first, second], 80, 90);
        assert_eq!(
            (c.client_sockets, c.origin_sockets, c.other_sockets),
            (2, 1, 1)
        );
    }

    #[test]
    fn this_process_has_its_listener_counted_as_a_client_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let c = take(std::process::id(), port, 1).expect("own /proc");
        assert!(c.client_sockets >= 1, "{c:?}");
        assert!(c.not_sockets >= 1, "{c:?}");
    }
}
