//! The system-call printer `netlab tcp` and `netlab udp` share: one line, or one
//! NDJSON object, per call or event, and TCP_INFO laid out for a learner.
//!
//! It prints what the command did and the kernel answered; the calls themselves are
//! made by the command (through `net`). Imports: `std`, `serde_json`, `wire::procnet`.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;

use serde_json::{Map, Value, json};

use crate::render::{Output, Paint};
use crate::wire::procnet::{TcpInfo, tcp_state_meaning};

/// Prints what one side (`client`, `server`, `conn 2`) does. Cloneable so each
/// connection's thread has its own, with its own label.
/// Every method returns the output's error (a closed pipe ends the command).
#[derive(Debug, Clone)]
pub struct Trace {
    json: bool,
    out: Output,
    who: String,
}

impl Trace {
    pub fn new(json: bool, out: &Output, who: &str) -> Trace {
        Trace {
            json,
            out: out.clone(),
            who: who.to_string(),
        }
    }

    /// Where the lines go (to check it from a loop: [`Output::check`]).
    pub fn output(&self) -> &Output {
        &self.out
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

    fn emit_json(&self, event: &str, fields: Value) -> io::Result<()> {
        let mut m = Map::new();
        m.insert("event".into(), event.into());
        m.insert("who".into(), self.who.clone().into());
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        // One write per line: lines of concurrent connections never interleave.
        self.out.line(Value::Object(m))
    }

    fn emit_text(&self, line: &str) -> io::Result<()> {
        let who = self.out.paint(Paint::ACTOR, &format!("{:>8}", self.who));
        self.out.line(format_args!("{who}  {line}"))
    }

    /// A system call: `name(args) = result  — note`. `fields` go into the JSON object
    /// (with `call`, `args`, `result`).
    pub fn call(
        &self,
        name: &str,
        args: &str,
        result: &str,
        note: &str,
        fields: Value,
    ) -> io::Result<()> {
        if self.json {
            let mut f = json!({"args": args, "result": result});
            if let (Value::Object(m), Value::Object(extra)) = (&mut f, fields) {
                m.extend(extra);
            }
            return self.emit_json(name, f);
        }
        let style = self.out.style;
        let mut line = String::new();
        style.paint(&mut line, Paint::CALL, name);
        let _ = write!(line, "({args}) = ");
        style.paint(&mut line, Paint::HEADING, result);
        if !note.is_empty() {
            line.push_str("   ");
            style.paint(&mut line, Paint::NOTE, &format!("— {note}"));
        }
        self.emit_text(&line)
    }

    /// An event that is not a system call (the 4-tuple, a summary): `text` for people,
    /// `fields` for `--json`.
    pub fn event(&self, event: &str, text: &str, fields: Value) -> io::Result<()> {
        if self.json {
            self.emit_json(event, fields)
        } else {
            self.emit_text(text)
        }
    }

    /// `close(fd)` and the kernel's answer (`net::sockio::close`; `Drop` would ignore it).
    pub fn close(&self, fd: i32, result: io::Result<()>, note: &str) -> io::Result<()> {
        match result {
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

    /// `ioctl(fd, FIONREAD)` and its answer: what waits in the receive buffer (`note`
    /// says what the number means for this transport; `{n}` stands for it). Nothing is
    /// printed when the call failed.
    pub fn queued(&self, fd: i32, result: io::Result<usize>, note: &str) -> io::Result<()> {
        match result {
            Ok(n) => self.call(
                "ioctl",
                &format!("{fd}, FIONREAD"),
                &n.to_string(),
                &note.replace("{n}", &n.to_string()),
                json!({"fd": fd, "request": "FIONREAD", "queued": n}),
            ),
            Err(_) => Ok(()),
        }
    }

    /// `getsockopt(fd, IPPROTO_TCP, TCP_INFO)` and its answer, printed as the kernel's
    /// view of the connection: state, RTT, congestion window, MSS, retransmissions, bytes.
    pub fn tcp_info(&self, fd: i32, result: io::Result<TcpInfo>, when: &str) -> io::Result<()> {
        let info = match result {
            Ok(i) => i,
            Err(e) => {
                return self.call(
                    "getsockopt",
                    &format!("{fd}, IPPROTO_TCP, TCP_INFO"),
                    &format!("-1 {e}"),
                    "",
                    json!({"error": e.to_string()}),
                );
            }
        };
        if self.json {
            return self.emit_json(
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
        )?;
        let lines = [
            format!("state {} — {}", info.state, tcp_state_meaning(info.state)),
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
            self.emit_text(&format!("    {l}"))?;
        }
        Ok(())
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

/// The ephemeral port range (`net::ports::ephemeral_range`) as a phrase, e.g. "the kernel
/// picked ephemeral port 35294 from 32768–60999 (…ip_local_port_range)", and for JSON.
pub fn ephemeral_note(port: u16, range: Option<(u16, u16)>) -> (String, Value) {
    match range {
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
