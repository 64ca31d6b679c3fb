//! This machine's sockets and who holds them, read from `/proc` (what `ss -tulpn`
//! does): the tables `/proc/net/{tcp,tcp6,udp,udp6}` (parsed by `wire::procnet`) and
//! each process's open descriptors `/proc/PID/fd/*`, whose links read `socket:[INODE]`.
//!
//! Only the network namespace netlab runs in is seen; other users' processes are seen
//! only with privileges (root, or CAP_SYS_PTRACE), as with `ss -p`.

use std::collections::HashMap;
use std::fs;
use std::io;

use crate::wire::procnet::{self, SocketLine, Transport};

/// A process holding a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    /// `/proc/PID/comm`: the program's name (at most 15 characters).
    pub name: String,
}

/// A socket of the kernel's tables with the processes that hold it (several after a
/// `fork()`, none for a connection not yet accepted or a process we may not look into).
#[derive(Debug, Clone)]
pub struct Socket {
    pub line: SocketLine,
    pub owners: Vec<Owner>,
}

const TABLES: [(&str, Transport); 4] = [
    ("/proc/net/tcp", Transport::Tcp),
    ("/proc/net/tcp6", Transport::Tcp),
    ("/proc/net/udp", Transport::Udp),
    ("/proc/net/udp6", Transport::Udp),
];

/// `net.ipv4.ip_local_port_range`: where the kernel picks ephemeral ports (it serves
/// IPv6 too). `None` if unreadable.
pub fn ephemeral_range() -> Option<(u16, u16)> {
    let text = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    procnet::parse_port_range(&text)
}

/// `net.ipv4.ip_unprivileged_port_start`: ports below it need CAP_NET_BIND_SERVICE
/// (Linux 4.11+; 1024 by default). `None` if unreadable.
pub fn unprivileged_port_start() -> Option<u16> {
    fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Socket inode → the processes holding it, from every `/proc/PID/fd` we may read.
pub fn socket_owners() -> HashMap<u64, Vec<Owner>> {
    let mut map: HashMap<u64, Vec<Owner>> = HashMap::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return map;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        // A process may exit while we look, or be another user's: skip it quietly.
        let Ok(fds) = fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let mut name = None;
        for fd in fds.flatten() {
            let Ok(link) = fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = link.to_str().and_then(procnet::socket_inode) else {
                continue;
            };
            let name = name
                .get_or_insert_with(|| {
                    fs::read_to_string(p.path().join("comm"))
                        .map(|s| s.trim_end().to_string())
                        .unwrap_or_default()
                })
                .clone();
            let owners = map.entry(inode).or_default();
            if !owners.iter().any(|o| o.pid == pid) {
                owners.push(Owner { pid, name });
            }
        }
    }
    map
}

/// Every TCP and UDP socket (IPv4 and IPv6) with its owners.
pub fn sockets() -> io::Result<Vec<Socket>> {
    let mut lines = Vec::new();
    for (path, transport) in TABLES {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            // A kernel without IPv6 has no tcp6/udp6.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("reading {path}: {e}"))),
        };
        let parsed = procnet::parse_table(transport, &text)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{path}: {e}")))?;
        lines.extend(parsed);
    }
    let owners = socket_owners();
    Ok(lines
        .into_iter()
        .map(|line| Socket {
            owners: owners.get(&line.inode).cloned().unwrap_or_default(),
            line,
        })
        .collect())
}

/// The processes holding a `transport` socket bound to `port` (any address): who is in
/// the way when `bind()` fails with "address already in use".
pub fn holders(transport: Transport, port: u16) -> Vec<Owner> {
    let Ok(all) = sockets() else {
        return Vec::new();
    };
    let mut out: Vec<Owner> = Vec::new();
    for s in all {
        let l = &s.line;
        let holds = l.transport == transport
            && l.local.port() == port
            && (transport == Transport::Udp || l.state == procnet::TCP_LISTEN || l.inode != 0);
        if holds {
            for o in s.owners {
                if !out.contains(&o) {
                    out.push(o);
                }
            }
        }
    }
    out
}
