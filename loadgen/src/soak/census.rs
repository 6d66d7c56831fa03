//! Census: what ringpin's open descriptors are — client connections, origin connections,
//! other sockets, and everything else — read from `/proc`.
//!
//! Owns: matching `/proc/PID/fd` socket inodes against `/proc/PID/net/tcp`.
//! Must not: run every second: `/proc/net/tcp` lists every TCP socket of the namespace
//! (tens of thousands in a full soak), so the soak takes a census twice, before the first
//! fault and at the end.
//! Invariants: a socket counts as a client connection when its local port is ringpin's
//! client port (the listener itself included), as an origin connection when its remote port
//! is the backend's; IPv4 only, as ringpin listens on 127.0.0.1 here.

use std::collections::HashSet;

use serde::Serialize;

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
    let mut census = Census::default();
    let mut inodes = HashSet::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let Ok(target) = std::fs::read_link(entry?.path()) else {
            continue;
        };
        match socket_inode(&target.to_string_lossy()) {
            Some(inode) => {
                inodes.insert(inode);
            }
            None => census.not_sockets += 1,
        }
    }
    let tcp = std::fs::read_to_string(format!("/proc/{pid}/net/tcp"))?;
    let mut tcp_sockets = 0;
    for (local, remote, inode) in tcp.lines().skip(1).filter_map(parse_tcp_line) {
        if !inodes.contains(&inode) {
            continue;
        }
        tcp_sockets += 1;
        if local == client_port {
            census.client_sockets += 1;
        } else if remote == backend_port {
            census.origin_sockets += 1;
        } else {
            census.other_sockets += 1;
        }
    }
    census.other_sockets += inodes.len() as u64 - tcp_sockets;
    Ok(census)
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
    let fields: Vec<&str> = line.split_whitespace().collect();
    let port = |addr: &str| u16::from_str_radix(addr.rsplit_once(':')?.1, 16).ok();
    Some((
        port(fields.get(1)?)?,
        port(fields.get(2)?)?,
        fields.get(9)?.parse().ok()?,
    ))
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
    fn this_process_has_its_listener_counted_as_a_client_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let c = take(std::process::id(), port, 1).expect("own /proc");
        assert!(c.client_sockets >= 1, "{c:?}");
        assert!(c.not_sockets >= 1, "{c:?}");
    }
}
