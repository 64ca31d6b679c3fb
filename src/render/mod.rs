//! Model -> text. Renderers for the packet list (summary), the layer tree (`-v`), the
//! coloured hex dump (`-x`) and NDJSON (`--json`), plus `--stats`; the packet pipeline
//! `dissect` and `capture` share ([`printer`]); the system-call lines of `tcp` and
//! `udp` ([`syscall`]).
//!
//! Imports: `dissect` (its model, and the dissector the printer drives), `wire`; `course` (the
//! lesson model) for `course` and `markdown`, lessons on the terminal. A renderer never sees a socket or a file.

pub mod chart;
pub mod course;
pub mod follow;
pub mod hex;
pub mod json;
pub mod markdown;
pub mod onion;
pub mod output;
pub mod packet_onion;
pub mod printer;
pub mod stats;
pub mod style;
pub mod summary;
pub mod syscall;
pub mod tree;
pub mod websocket;

use std::fmt::Write;

use crate::dissect::model::{Packet, Proto, Value};

pub use output::Output;
pub use style::{Paint, Style};

/// Each layer's colour, chosen so neighbouring layers differ.
pub fn layer_color(proto: Proto) -> Paint {
    match proto {
        Proto::Eth | Proto::Sll | Proto::Sll2 | Proto::Null | Proto::Raw => Paint::CYAN,
        Proto::Vlan | Proto::QinQ => Paint::BRIGHT_CYAN,
        Proto::Arp => Paint::BRIGHT_YELLOW,
        Proto::Ip | Proto::Ipv6 => Paint::GREEN,
        Proto::Icmp | Proto::Icmpv6 => Paint::BRIGHT_MAGENTA,
        Proto::Tcp | Proto::Udp => Paint::YELLOW,
        // Application protocols: bright red; what they carry in other colours, so
        // that neighbouring layers differ.
        Proto::Http
        | Proto::Dns
        | Proto::Tls
        | Proto::Ftp
        | Proto::FtpData
        | Proto::Smtp
        | Proto::Ssh => Paint::BRIGHT_RED,
        Proto::WebSocket => Paint::BRIGHT_BLUE,
        Proto::EngineIo => Paint::BRIGHT_GREEN,
        Proto::SocketIo => Paint::BRIGHT_MAGENTA,
        Proto::TextLines | Proto::Json | Proto::Media | Proto::UrlEncodedForm | Proto::Imf => {
            Paint::MAGENTA
        }
        Proto::Data => Paint::BLUE,
    }
}

/// Formats a value as Wireshark shows it in `-T fields` (hex integers as `0x…`).
pub fn write_value(out: &mut String, v: &Value, data: &[u8]) {
    match v {
        Value::Uint(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Hex(n, digits) => {
            let _ = write!(out, "0x{:0width$x}", n, width = *digits as usize);
        }
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Mac(m) => crate::wire::ethernet::fmt_mac(m, out),
        Value::Ipv4(a) => {
            let _ = write!(out, "{}", std::net::Ipv4Addr::from(*a));
        }
        Value::Ipv6(a) => crate::wire::ipv6::fmt_addr(a, out),
        Value::Text(t) => write_text(out, t),
        Value::Bytes(r) => write_hex(out, data.get(r.clone()).unwrap_or(&[]), 32),
        Value::Group => {}
        Value::Time(ns) => write_seconds(out, *ns),
    }
}

/// Nanoseconds as seconds with nine decimals, as Wireshark writes a relative time.
pub fn write_seconds(out: &mut String, ns: i64) {
    let sign = if ns < 0 { "-" } else { "" };
    let n = ns.unsigned_abs();
    let _ = write!(out, "{sign}{}.{:09}", n / 1_000_000_000, n % 1_000_000_000);
}

/// Text with its control characters written as escapes (`\r\n`), as tshark prints
/// them: a header line keeps its CRLF without breaking the output's lines.
pub fn write_text(out: &mut String, t: &str) {
    if !t.bytes().any(|b| b < 0x20 || b == 0x7f) {
        out.push_str(t);
        return;
    }
    for c in t.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Hex without separators, cut to `max` bytes with an ellipsis.
pub fn write_hex(out: &mut String, b: &[u8], max: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &x in b.iter().take(max) {
        out.push(HEX[(x >> 4) as usize] as char);
        out.push(HEX[(x & 15) as usize] as char);
    }
    if b.len() > max {
        out.push('…');
    }
}

/// Relative time in seconds with microsecond digits, like Wireshark's default column.
pub fn write_rel_time(out: &mut String, pkt: &Packet) {
    let ns = pkt.rel_nsec;
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    let _ = write!(
        out,
        "{sign}{}.{:06}",
        ns / 1_000_000_000,
        (ns % 1_000_000_000) / 1000
    );
}
