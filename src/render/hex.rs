//! `-x`: the frame's bytes as hex + ASCII, each layer's header in its own colour, with a
//! legend naming the colours. Without colour, a marker line under each row shows which
//! layer each byte belongs to (by the layer's initial).

use std::fmt::Write;

use super::{Style, layer_color};
use crate::dissect::model::{Packet, Proto};

/// Which layer owns byte `i`: the innermost layer whose range holds it.
fn owner(pkt: &Packet, i: usize) -> Option<Proto> {
    pkt.layers
        .iter()
        .rev()
        .find(|l| l.range.contains(&i))
        .map(|l| l.proto)
}

fn initial(p: Proto) -> char {
    match p {
        Proto::Eth => 'E',
        Proto::Vlan | Proto::QinQ => 'V',
        Proto::Sll | Proto::Sll2 => 'L',
        Proto::Null => 'N',
        Proto::Raw => ' ',
        Proto::Arp => 'A',
        Proto::Ip => '4',
        Proto::Ipv6 => '6',
        Proto::Icmp | Proto::Icmpv6 => 'I',
        Proto::Tcp => 'T',
        Proto::Udp => 'U',
        Proto::Http => 'H',
        Proto::WebSocket => 'W',
        Proto::TextLines => 'L',
        Proto::Json => 'J',
        Proto::Media => 'M',
        Proto::UrlEncodedForm => 'F',
        Proto::EngineIo => 'e',
        Proto::SocketIo => 's',
        Proto::Dns => 'd',
        Proto::Tls => 't',
        Proto::Ftp => 'f',
        Proto::FtpData => 'g',
        Proto::Smtp => 'm',
        Proto::Imf => 'i',
        Proto::Ssh => 'h',
        Proto::Data => 'D',
    }
}

fn dump(out: &mut String, pkt: &Packet, range: std::ops::Range<usize>, style: Style) {
    let data = &pkt.data;
    let mut row = range.start;
    while row < range.end {
        let end = (row + 16).min(range.end);
        let _ = write!(out, "{:04x}  ", row - range.start);
        let mut marks = String::new();
        for i in row..row + 16 {
            if let Some(&byte) = data.get(i).filter(|_| i < end) {
                let o = owner(pkt, i);
                match o {
                    Some(p) => style.paint(out, layer_color(p), &format!("{byte:02x}")),
                    None => {
                        let _ = write!(out, "{byte:02x}");
                    }
                }
                marks.push(o.map_or(' ', initial));
                marks.push(o.map_or(' ', initial));
            } else {
                out.push_str("  ");
                marks.push_str("  ");
            }
            out.push(' ');
            marks.push(' ');
            if i - row == 7 {
                out.push(' ');
                marks.push(' ');
            }
        }
        out.push(' ');
        for (i, &b) in data.iter().enumerate().take(end).skip(row) {
            let c = if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            };
            match owner(pkt, i) {
                Some(p) if style.color => style.paint(out, layer_color(p), &c.to_string()),
                _ => out.push(c),
            }
        }
        out.push('\n');
        if !style.color {
            let _ = writeln!(out, "      {}", marks.trim_end());
        }
        row = end;
    }
}

pub fn write(out: &mut String, pkt: &Packet, style: Style) {
    // Legend: each layer once, in its colour (or with its marker letter).
    out.push_str("Legend:");
    let mut seen: Vec<Proto> = Vec::new();
    for l in &pkt.layers {
        if seen.contains(&l.proto) || l.range.is_empty() {
            continue;
        }
        seen.push(l.proto);
        out.push(' ');
        let label = if style.color {
            l.proto.title().to_string()
        } else {
            format!("{}={}", initial(l.proto), l.proto.title())
        };
        style.paint(out, layer_color(l.proto), &label);
    }
    out.push('\n');
    let frame_end = pkt.caplen as usize;
    dump(out, pkt, 0..frame_end.min(pkt.data.len()), style);
    for src in &pkt.sources {
        let r = src.range.start.min(pkt.data.len())..src.range.end.min(pkt.data.len());
        let _ = writeln!(out, "{} ({} bytes):", src.label, r.len());
        dump(out, pkt, r, style);
    }
    out.push('\n');
}
