//! The packet list: one line per packet, like tcpdump or Wireshark's top pane:
//! `No. Time Source → Destination Protocol Length Info`.

use std::fmt::Write;

use super::{Paint, Style, layer_color, write_rel_time};
use crate::dissect::model::{Packet, Problem};

pub fn write(out: &mut String, pkt: &Packet, style: Style) {
    let _ = write!(out, "{:>5} ", pkt.number);
    let t0 = out.len();
    write_rel_time(out, pkt);
    let w = out.len() - t0;
    for _ in w..10 {
        out.push(' ');
    }
    out.push(' ');
    let proto_layer = pkt
        .layers
        .iter()
        .rev()
        .find(|l| l.proto.column() == pkt.protocol);
    let code = proto_layer.map_or(Paint::PLAIN, |l| layer_color(l.proto));
    pkt.src.write(out);
    out.push_str(" → ");
    pkt.dst.write(out);
    out.push(' ');
    style.paint(out, code, pkt.protocol);
    let _ = write!(out, " {} ", pkt.len);
    out.push_str(&pkt.info);
    // The first problem says it; later layers' problems follow from it.
    if let Some(p) = pkt.problems().next() {
        out.push(' ');
        let s = match p {
            Problem::Truncated(_) => "[Packet size limited during capture]".to_string(),
            Problem::Malformed(w) => format!("[Malformed Packet: {w}]"),
            Problem::Incomplete(w) => format!("[Incomplete: {w}]"),
        };
        style.paint(out, Paint::WARNING, &s);
    }
    out.push('\n');
}
