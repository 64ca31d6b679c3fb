//! Shared by `netlab tcp` and `netlab udp`: the system-call tracer (one line, or one
//! NDJSON object, per call or event), TCP_INFO printed for a learner, and the errors a
//! learner meets (address in use, refused, permission denied, unreachable) explained.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, IntoRawFd};

use serde_json::{Map, Value, json};

use crate::net::{ports, sockio, tcp_info};
use crate::render::Style;
use crate::wire::procnet::Transport;

/// Prints what one side (`client`, `server`, `conn 2`) does. Cloneable so each
/// connection's thread has its own, with its own label.
#[derive(Debug, Clone)]
pub struct Trace {
    json: bool,
    style: Style,
    who: String,
}

impl Trace {
    pub fn new(json: bool, style: Style, who: &str) -> Trace {
        Trace {
            json,
            style,
            who: who.to_string(),
        }
    }

    /// The same printer for another actor.
    pub fn with_who(&self, who: impl Into<String>) -> Trace {
        Trace {
            who: who.into(),
            ..self.clone()
        }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    fn emit_json(&self, event: &str, fields: Value) {
        let mut m = Map::new();
        m.insert("event".into(), event.into());
        m.insert("who".into(), self.who.clone().into());
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        // One write per line: lines of concurrent connections never interleave.
        let _ = writeln!(io::stdout().lock(), "{}", Value::Object(m));
    }

    fn emit_text(&self, line: &str) {
        let mut out = String::new();
        self.style
            .paint(&mut out, "36", &format!("{:>8}", self.who));
        out.push_str("  ");
        out.push_str(line);
        let _ = writeln!(io::stdout().lock(), "{out}");
    }

    /// A system call: `name(args) = result  — note`. `fields` go into the JSON object
    /// (with `call`, `args`, `result`).
    pub fn call(&self, name: &str, args: &str, result: &str, note: &str, fields: Value) {
        if self.json {
            let mut f = json!({"args": args, "result": result});
            if let (Value::Object(m), Value::Object(extra)) = (&mut f, fields) {
                m.extend(extra);
            }
            self.emit_json(name, f);
            return;
        }
        let mut line = String::new();
        self.style.paint(&mut line, "1;33", name);
        let _ = write!(line, "({args}) = ");
        self.style.paint(&mut line, "1", result);
        if !note.is_empty() {
            line.push_str("   ");
            self.style.paint(&mut line, "2", &format!("— {note}"));
        }
        self.emit_text(&line);
    }

    /// An event that is not a system call (the 4-tuple, a summary): `text` for people,
    /// `fields` for `--json`.
    pub fn event(&self, event: &str, text: &str, fields: Value) {
        if self.json {
            self.emit_json(event, fields);
        } else {
            self.emit_text(text);
        }
    }

    /// `close()`, printed with the kernel's answer (`Drop` would ignore it).
    pub fn close(&self, sock: impl AsRawFd + IntoRawFd, note: &str) {
        let fd = sock.as_raw_fd();
        match sockio::close(sock) {
            Ok(()) => self.call("close", &fd.to_string(), "0", note, json!({"fd": fd})),
            Err(e) => self.call(
                "close",
                &fd.to_string(),
                &format!("-1 ({e})"),
                "",
                json!({"fd": fd, "error": e.to_string()}),
            ),
        }
    }

    /// `ioctl(FIONREAD)`, printed: what waits in the receive buffer (`note` says what
    /// the number means for this transport).
    pub fn queued(&self, sock: &impl AsRawFd, note: &str) {
        let fd = sock.as_raw_fd();
        if let Ok(n) = sockio::bytes_queued(sock) {
            self.call(
                "ioctl",
                &format!("{fd}, FIONREAD"),
                &n.to_string(),
                &note.replace("{n}", &n.to_string()),
                json!({"fd": fd, "request": "FIONREAD", "queued": n}),
            );
        }
    }

    /// `getsockopt(fd, IPPROTO_TCP, TCP_INFO)`, printed as the kernel's view of the
    /// connection: state, RTT, congestion window, MSS, retransmissions, bytes.
    pub fn tcp_info(&self, sock: &impl AsRawFd, when: &str) {
        let fd = sock.as_raw_fd();
        let info = match tcp_info::tcp_info(sock) {
            Ok(i) => i,
            Err(e) => {
                self.call(
                    "getsockopt",
                    &format!("{fd}, IPPROTO_TCP, TCP_INFO"),
                    &format!("-1 {e}"),
                    "",
                    json!({"error": e.to_string()}),
                );
                return;
            }
        };
        if self.json {
            self.emit_json(
                "tcp_info",
                json!({
                    "when": when,
                    "state": info.state,
                    "rtt_us": info.rtt_us,
                    "rttvar_us": info.rttvar_us,
                    "rto_us": info.rto_us,
                    "snd_cwnd": info.snd_cwnd,
                    "snd_ssthresh": info.snd_ssthresh,
                    "snd_mss": info.snd_mss,
                    "rcv_mss": info.rcv_mss,
                    "unacked": info.unacked,
                    "total_retrans": info.total_retrans,
                    "bytes_acked": info.bytes_acked,
                    "bytes_received": info.bytes_received,
                    "bytes_sent": info.bytes_sent,
                    "segs_out": info.segs_out,
                    "segs_in": info.segs_in,
                }),
            );
            return;
        }
        let opt = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
        let ssthresh = if info.snd_ssthresh >= 0x7fff_ffff {
            "∞ (slow start)".to_string()
        } else {
            info.snd_ssthresh.to_string()
        };
        self.call(
            "getsockopt",
            &format!("{fd}, IPPROTO_TCP, TCP_INFO"),
            "0",
            &format!("the kernel's view {when}:"),
            Value::Null,
        );
        let lines = [
            format!("state {} — {}", info.state, state_meaning(info.state)),
            format!(
                "RTT {:.3} ms ± {:.3} ms (smoothed round-trip time and its variation, RFC 6298); RTO {:.0} ms",
                f64::from(info.rtt_us) / 1000.0,
                f64::from(info.rttvar_us) / 1000.0,
                f64::from(info.rto_us) / 1000.0
            ),
            format!(
                "congestion window {} segments of MSS {} bytes (slow-start threshold {ssthresh}); largest segment seen from the peer {} bytes",
                info.snd_cwnd, info.snd_mss, info.rcv_mss
            ),
            format!(
                "retransmitted segments {}; unacknowledged {}; bytes sent {}, acked {}, received {} (acked and received count sequence space: a SYN or a FIN may add one)",
                info.total_retrans,
                info.unacked,
                opt(info.bytes_sent),
                opt(info.bytes_acked),
                opt(info.bytes_received)
            ),
            format!(
                "segments sent {}, received {} (the handshake and bare ACKs included)",
                opt(info.segs_out.map(u64::from)),
                opt(info.segs_in.map(u64::from))
            ),
        ];
        for l in lines {
            self.emit_text(&format!("    {l}"));
        }
    }
}

/// What a TCP state means for the socket that reports it.
fn state_meaning(state: &str) -> &'static str {
    match state {
        "ESTABLISHED" => "the handshake is done, data may flow both ways",
        "FIN-WAIT-1" => "we sent FIN, it is not acknowledged yet",
        "FIN-WAIT-2" => "our FIN is acknowledged; the peer may still send until its own FIN",
        "CLOSE-WAIT" => "the peer sent FIN; we may still send until we close",
        "LAST-ACK" => "both sides sent FIN; waiting for the ACK of ours",
        "TIME-WAIT" => "both FINs exchanged; the 4-tuple is held for 2×MSL",
        "CLOSED" => {
            "this socket is finished (had it sent the first FIN, a small TIME-WAIT record now holds the 4-tuple: netlab ports --tcp shows it)"
        }
        "LISTEN" => "waiting for SYNs",
        "SYN-SENT" | "SYN-RECEIVED" => "the handshake is under way",
        _ => "",
    }
}

/// `AF_INET` or `AF_INET6`, as the system call is written.
pub fn family(addr: &SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    }
}

/// Bytes shown as text for a learner: UTF-8 as a quoted string, else hex.
pub fn show_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => format!("{s:?}"),
        Err(_) => {
            let mut out = String::from("0x");
            crate::render::write_hex(&mut out, b, 64);
            out
        }
    }
}

/// "1 byte", "3 bytes".
pub fn bytes(n: usize) -> String {
    if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

/// An address as a shell argument: IPv6 in quotes (`'[::1]:7000'`), so brackets are
/// not taken as a glob.
pub fn shell_addr(addr: SocketAddr) -> String {
    if addr.is_ipv6() {
        format!("'{addr}'")
    } else {
        addr.to_string()
    }
}

/// The ephemeral port range as a phrase, e.g. "32768–60999 (net.ipv4.ip_local_port_range)".
pub fn ephemeral_note(port: u16) -> (String, Value) {
    match ports::ephemeral_range() {
        Some((lo, hi)) => (
            format!(
                "the kernel picked ephemeral port {port} from {lo}–{hi} (/proc/sys/net/ipv4/ip_local_port_range)"
            ),
            json!([lo, hi]),
        ),
        None => (
            format!("the kernel picked ephemeral port {port}"),
            Value::Null,
        ),
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

/// The error of a failed system call, explained on one line.
pub fn explain(call: &str, addr: SocketAddr, transport: Transport, e: io::Error) -> anyhow::Error {
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
    let prep = if call == "bind" { "on" } else { "to" };
    anyhow::anyhow!("{call}() {prep} {addr}: {why}")
}
