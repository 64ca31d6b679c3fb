//! The errors a learner meets on a socket call — address in use, connection refused,
//! permission denied, unreachable — explained on one line, with what this machine says
//! about them (who holds the port, where the privileged ports end), read from `/proc`.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use super::ports;
use crate::wire::procnet::Transport;

/// A failed system call (`bind`, `connect`, `send`…) on `addr`, and why, in words.
#[derive(Debug)]
pub struct CallError {
    pub call: &'static str,
    pub addr: SocketAddr,
    /// The explanation (the kernel's own message when there is nothing to add).
    pub why: String,
    pub error: io::Error,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prep = if self.call == "bind" { "on" } else { "to" };
        write!(f, "{}() {prep} {}: {}", self.call, self.addr, self.why)
    }
}

impl std::error::Error for CallError {}

/// An address as a shell argument: IPv6 in quotes (`'[::1]:7000'`), so brackets are
/// not taken as a glob.
pub fn shell_addr(addr: SocketAddr) -> String {
    if addr.is_ipv6() {
        format!("'{addr}'")
    } else {
        addr.to_string()
    }
}

/// Who holds `transport` port `port`, as "pid 42 (python3)", for an error message.
fn holders_text(transport: Transport, port: u16) -> String {
    let owners = ports::holders(transport, port);
    if owners.is_empty() {
        return "another socket (its process is not visible to this user; try `sudo netlab ports`)"
            .to_string();
    }
    owners
        .iter()
        .map(|o| format!("pid {} ({})", o.pid, o.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error of a failed system call, explained.
pub fn explain(
    call: &'static str,
    addr: SocketAddr,
    transport: Transport,
    e: io::Error,
) -> CallError {
    let proto = transport.name().to_uppercase();
    let port = addr.port();
    let ip = addr.ip();
    let why = match e.raw_os_error() {
        Some(libc::EADDRINUSE) => format!(
            "address already in use: {} already holds {proto} port {port} (see `netlab ports --port {port}`); stop it, or choose another port with --addr",
            holders_text(transport, port)
        ),
        Some(libc::EACCES) if call == "bind" => {
            let start = ports::unprivileged_port_start().unwrap_or(1024);
            format!(
                "permission denied: ports below {start} (net.ipv4.ip_unprivileged_port_start) are privileged and need CAP_NET_BIND_SERVICE; use a port from {start} up (e.g. --addr 127.0.0.1:7000), run it with sudo, or once: sudo setcap cap_net_bind_service+ep \"$(command -v netlab)\""
            )
        }
        Some(libc::ECONNREFUSED) if transport == Transport::Tcp => format!(
            "connection refused: nobody listens on TCP port {port} at {ip}, so its kernel answered our SYN with RST (start a server first: netlab tcp serve --addr {})",
            shell_addr(addr)
        ),
        Some(libc::ECONNREFUSED) => format!(
            "connection refused: nobody listens on UDP port {port} at {ip}; its kernel answered a datagram with ICMP \"port unreachable\" (start one: netlab udp serve --addr {})",
            shell_addr(addr)
        ),
        Some(libc::ENETUNREACH) => format!(
            "network is unreachable: no route leads to {ip} (no interface for it is up; `ip route get {ip}` shows the kernel's choice — in an empty network namespace even lo is down)"
        ),
        Some(libc::EHOSTUNREACH) => format!(
            "no route to host: {ip} did not answer (ARP/neighbour discovery failed, or an ICMP \"host unreachable\" came back)"
        ),
        Some(libc::EADDRNOTAVAIL) => format!(
            "cannot assign requested address: no interface of this machine has an address to reach {ip} from, or {ip} is not one of its own (is the interface down?)"
        ),
        Some(libc::ETIMEDOUT) => {
            format!("timed out: {ip} never answered our SYN (its retransmissions ran out)")
        }
        _ => e.to_string(),
    };
    CallError {
        call,
        addr,
        why,
        error: e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_names_the_remedy() {
        let addr: SocketAddr = "[::1]:7000".parse().unwrap();
        let e = explain(
            "connect",
            addr,
            Transport::Tcp,
            io::Error::from_raw_os_error(libc::ECONNREFUSED),
        );
        let text = e.to_string();
        assert!(
            text.starts_with("connect() to [::1]:7000: connection refused"),
            "{text}"
        );
        assert!(
            text.ends_with("netlab tcp serve --addr '[::1]:7000')"),
            "{text}"
        );
    }

    #[test]
    fn other_errors_keep_the_kernels_words() {
        let addr: SocketAddr = "127.0.0.1:7".parse().unwrap();
        let e = explain("bind", addr, Transport::Udp, io::Error::other("odd"));
        assert_eq!(e.to_string(), "bind() on 127.0.0.1:7: odd");
    }
}
