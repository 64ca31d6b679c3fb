//! `--follow`: a conversation as each side sent it — Wireshark's "Follow Stream".
//!
//! `ascii` shows the bytes as text (what is not printable as `.`), each run headed by
//! who sent it; the client's runs in red and the server's in blue when colours are on,
//! and the server's indented by a tab either way (as `tshark -z follow` does), so the
//! sides stay apart without colour. `hex` shows a hex dump per run, with each side's
//! running offset. A hole the capture does not fill is named where it is. The summary
//! counts each side's bytes.

use std::fmt::Write;

use super::{Paint, Style};
use crate::dissect::follow::{Event, Follow, Target};
use crate::dissect::streams::Endpoint;

/// How the bytes are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ascii,
    Hex,
}

const COLORS: [Paint; 2] = [Paint::RED, Paint::BLUE];

pub fn endpoint(out: &mut String, e: &Endpoint) {
    let ip = std::net::Ipv6Addr::from(e.0);
    match ip.to_ipv4_mapped() {
        Some(v4) => {
            let _ = write!(out, "{v4}:{}", e.1);
        }
        None => {
            let _ = write!(out, "[{ip}]:{}", e.1);
        }
    }
}

fn arrow(out: &mut String, f: &Follow, node: usize) {
    if let Some(n) = &f.nodes {
        endpoint(out, &n[node]);
        out.push_str(" → ");
        endpoint(out, &n[1 - node]);
    }
}

/// The heading, once the stream's endpoints are known.
pub fn header(out: &mut String, f: &Follow, format: Format, style: Style) {
    let (kind, n) = match f.target {
        Target::Tcp(n) => ("tcp", n),
        Target::Udp(n) => ("udp", n),
    };
    let _ = writeln!(
        out,
        "Follow {kind}.stream=={n} ({})",
        match format {
            Format::Ascii => "ascii",
            Format::Hex => "hex",
        }
    );
    if let Some(nodes) = &f.nodes {
        for (i, e) in nodes.iter().enumerate() {
            let mut s = format!("Node {i}: ");
            endpoint(&mut s, e);
            s.push_str(if i == 0 {
                " (client: sent first)"
            } else {
                " (server)"
            });
            style.paint(out, COLORS[i], &s);
            out.push('\n');
        }
    }
}

/// One event: a run of bytes or a hole.
pub fn event(
    out: &mut String,
    f: &Follow,
    e: &Event,
    format: Format,
    offsets: &mut [u64; 2],
    style: Style,
) {
    match e {
        Event::Missing { node, bytes } => {
            let mut s = format!("[{bytes} bytes missing in capture: ");
            arrow(&mut s, f, *node);
            s.push(']');
            style.paint(out, Paint::WARNING.bold(), &s);
            out.push('\n');
        }
        Event::Data { node, frame, bytes } => {
            let node = *node;
            let indent = if node == 1 { "\t" } else { "" };
            let mut head = format!("{indent}── ");
            arrow(&mut head, f, node);
            let _ = write!(head, ", {} bytes (frame {frame})", bytes.len());
            style.paint(out, COLORS[node].bold(), &head);
            out.push('\n');
            style.start(out, COLORS[node]);
            match format {
                Format::Ascii => {
                    // Printable bytes as they are, CRLF as a line end, the rest as `.`.
                    let mut text = String::with_capacity(bytes.len());
                    for (i, &b) in bytes.iter().enumerate() {
                        match b {
                            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {}
                            b'\n' | b'\t' | 0x20..=0x7e => text.push(b as char),
                            _ => text.push('.'),
                        }
                    }
                    for line in text.trim_end_matches('\n').split('\n') {
                        out.push_str(indent);
                        out.push_str(line);
                        out.push('\n');
                    }
                }
                Format::Hex => {
                    for chunk in bytes.chunks(16) {
                        let _ = write!(out, "{indent}{:08x}  ", offsets[node]);
                        for i in 0..16 {
                            match chunk.get(i) {
                                Some(b) => {
                                    let _ = write!(out, "{b:02x} ");
                                }
                                None => out.push_str("   "),
                            }
                            if i == 7 {
                                out.push(' ');
                            }
                        }
                        out.push(' ');
                        for &b in chunk {
                            out.push(if (0x20..0x7f).contains(&b) {
                                b as char
                            } else {
                                '.'
                            });
                        }
                        out.push('\n');
                        offsets[node] += chunk.len() as u64;
                    }
                }
            }
            style.reset(out);
        }
    }
}

/// Each side's bytes: the conversation's size, as each application saw it.
pub fn summary(out: &mut String, f: &Follow) {
    out.push_str("══\n");
    for node in 0..2 {
        let mut s = String::new();
        arrow(&mut s, f, node);
        if s.is_empty() {
            continue;
        }
        let (bytes, runs) = f.totals[node];
        let _ = write!(
            out,
            "{s}: {bytes} bytes in {runs} packet{}",
            if runs == 1 { "" } else { "s" }
        );
        if f.missing[node] > 0 {
            let _ = write!(out, ", {} bytes missing in capture", f.missing[node]);
        }
        out.push('\n');
    }
}
