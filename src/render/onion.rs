//! The onion as text. The lower half: under a traced unit (a WebSocket frame, an HTTP
//! message), the TCP segment(s) that carried it, their IP header and their link header,
//! each with what that layer adds and how many bytes it costs; or, when the packets
//! cannot be seen, what the socket knows and why the rest is hidden. The upper half:
//! the layers of one Socket.IO message (call → Socket.IO → Engine.IO → WebSocket or
//! HTTP), each with its overhead.
//!
//! Pure: the trace's model (`trace::model`, whose segments are dissected [`Packet`]s
//! of the shared layered model) in, text out. `trace::onion` gathers the segments and
//! the kernel's figures; a capture's packet can be drawn the same way.
//!
//! Imports: the dissection model, the trace's model.

use std::fmt::Write;
use std::net::SocketAddr;

use super::{Paint, Style, layer_color};
use crate::dissect::model::{Packet, Proto, Value};
use crate::trace::model::{SegmentView, SocketFacts, Unit};
use crate::trace::{ConnAddrs, Direction, Layer};

/// Prefix for the lines under a trace line.
const PAD: &str = "    ";

fn num(pkt: &Packet, key: &str) -> Option<u64> {
    match &pkt.field(key)?.value {
        Value::Uint(n) | Value::Hex(n, _) => Some(*n),
        Value::Bool(b) => Some(u64::from(*b)),
        _ => None,
    }
}

fn text(pkt: &Packet, key: &str, out: &mut String) {
    match pkt.field(key) {
        Some(f) => super::write_value(out, &f.value, &pkt.data),
        None => out.push('?'),
    }
}

/// TCP flag names in the order Wireshark prints them (`PSH, ACK`).
fn flag_names(flags: u64) -> String {
    const NAMES: [(u64, &str); 9] = [
        (0x001, "FIN"),
        (0x002, "SYN"),
        (0x004, "RST"),
        (0x008, "PSH"),
        (0x010, "ACK"),
        (0x020, "URG"),
        (0x040, "ECE"),
        (0x080, "CWR"),
        (0x100, "AE"),
    ];
    let v: Vec<&str> = NAMES
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| *n)
        .collect();
    v.join(", ")
}

/// The TCP options in a segment, by name (one entry per option).
fn tcp_options(pkt: &Packet) -> Vec<&'static str> {
    let Some(l) = pkt.layers.iter().find(|l| l.proto == Proto::Tcp) else {
        return Vec::new();
    };
    pkt.layer_fields(l)
        .iter()
        .filter(|f| f.depth == 2 && f.def.key.starts_with("tcp.option"))
        .filter_map(|f| match f.def.key {
            "tcp.options.timestamp.tsecr" => None,
            "tcp.options.timestamp.tsval" => Some("timestamps"),
            "tcp.option_kind" if f.def.name.starts_with("No-Operation") => Some("NOP"),
            "tcp.option_kind" if f.def.name.starts_with("End of") => Some("EOL"),
            "tcp.options.mss_val" => Some("MSS"),
            "tcp.options.wscale.shift" => Some("window scale"),
            "tcp.options.sack_perm" => Some("SACK permitted"),
            "tcp.options.sack" => Some("SACK"),
            _ => Some(f.def.name),
        })
        .collect()
}

fn layer_len(pkt: &Packet, protos: &[Proto]) -> Option<(Proto, usize)> {
    pkt.layers
        .iter()
        .find(|l| protos.contains(&l.proto))
        .map(|l| (l.proto, l.range.len()))
}

fn bytes(n: u64) -> String {
    format!("{n} B")
}

fn percent(part: u64, whole: u64) -> u64 {
    (part * 100 + whole / 2).checked_div(whole).unwrap_or(0)
}

/// The lines under a traced unit: for each segment, TCP → IP → link, nested, and the
/// bytes on the wire against the unit's own bytes.
pub fn segments(unit: &Unit, segs: &[SegmentView<'_>], style: Style) -> String {
    let mut out = String::new();
    let arrow = unit.dir.verb();
    if segs.is_empty() {
        let _ = writeln!(
            out,
            "{PAD}└─ no TCP segment carrying stream bytes {}–{} was seen on lo in time",
            unit.stream.start,
            unit.stream.end.saturating_sub(1)
        );
        return out;
    }
    if segs.len() > 1 {
        let _ = writeln!(
            out,
            "{PAD}└─ {} {} in {} TCP segments:",
            unit.name,
            arrow,
            segs.len()
        );
    }
    for s in segs {
        segment(&mut out, unit, s, style);
    }
    out
}

fn segment(out: &mut String, unit: &Unit, s: &SegmentView<'_>, style: Style) {
    let pkt = s.pkt;
    let seg_len = s.stream.end - s.stream.start;
    let mine = s.stream.end.min(unit.stream.end) - s.stream.start.max(unit.stream.start);
    let tcp = layer_len(pkt, &[Proto::Tcp]);
    let ip = layer_len(pkt, &[Proto::Ip, Proto::Ipv6]);
    let link = layer_len(
        pkt,
        &[Proto::Eth, Proto::Sll, Proto::Sll2, Proto::Null, Proto::Raw],
    );

    // TCP.
    let mut line = String::new();
    let _ = write!(line, "{PAD}└─ ");
    style.paint(&mut line, layer_color(Proto::Tcp), "TCP");
    let _ = write!(line, " segment #{} ", s.number);
    text(pkt, "tcp.srcport", &mut line);
    line.push_str(" → ");
    text(pkt, "tcp.dstport", &mut line);
    let _ = write!(
        line,
        " [{}] seq {} (raw ",
        flag_names(num(pkt, "tcp.flags").unwrap_or(0)),
        s.stream.start + 1
    );
    text(pkt, "tcp.seq_raw", &mut line);
    line.push_str(") ack (raw) ");
    text(pkt, "tcp.ack_raw", &mut line);
    line.push_str(" win ");
    text(pkt, "tcp.window_size_value", &mut line);
    let _ = write!(line, " len {seg_len}");
    if let Some(us) = s.rel_us {
        let _ = write!(line, " at +{}.{:03} ms", us / 1000, us % 1000);
    }
    if s.retransmission {
        line.push_str(" [retransmission]");
    }
    let _ = writeln!(out, "{line}");
    let (who_covers, more) = if seg_len == mine {
        ("all".to_string(), String::new())
    } else {
        (
            format!("{mine} of the"),
            format!(
                " (stream bytes {}–{}; the {} is bytes {}–{})",
                s.stream.start,
                s.stream.end - 1,
                unit.name,
                unit.stream.start,
                unit.stream.end - 1
            ),
        )
    };
    let _ = writeln!(
        out,
        "{PAD}   its data: {who_covers} {seg_len} bytes are the {}{more}",
        unit.name
    );
    if let Some((_, hl)) = tcp {
        let opts = tcp_options(pkt);
        let opt_len = hl.saturating_sub(20);
        let opt_text = if opt_len == 0 {
            String::new()
        } else {
            format!(" + {opt_len} B options ({})", opts.join(", "))
        };
        let why = if unit.explain {
            " — ports pick the sockets, the sequence number puts the bytes in order, \
             the ack confirms the peer's, the window paces the sender"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{PAD}   TCP adds {}: 20 B fixed header{opt_text}{why}",
            bytes(hl as u64)
        );
    }

    // IP.
    if let Some((proto, hl)) = ip {
        let mut line = String::new();
        let _ = write!(line, "{PAD}   └─ ");
        style.paint(&mut line, layer_color(proto), proto.title());
        line.push(' ');
        if proto == Proto::Ip {
            text(pkt, "ip.src", &mut line);
            line.push_str(" → ");
            text(pkt, "ip.dst", &mut line);
            line.push_str(" TTL ");
            text(pkt, "ip.ttl", &mut line);
            line.push_str(" ID ");
            text(pkt, "ip.id", &mut line);
            if num(pkt, "ip.flags.df") == Some(1) {
                line.push_str(" DF");
            }
            line.push_str(" total length ");
            text(pkt, "ip.len", &mut line);
        } else {
            text(pkt, "ipv6.src", &mut line);
            line.push_str(" → ");
            text(pkt, "ipv6.dst", &mut line);
            line.push_str(" hop limit ");
            text(pkt, "ipv6.hlim", &mut line);
            line.push_str(" payload length ");
            text(pkt, "ipv6.plen", &mut line);
        }
        let _ = writeln!(out, "{line}");
        let why = if unit.explain {
            ": addresses take the segment from host to host (here: loopback, never \
             leaving this machine)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{PAD}      {} adds {}{why}",
            proto.title(),
            bytes(hl as u64)
        );
    }

    // Link.
    if let Some((proto, hl)) = link {
        let mut line = String::new();
        let _ = write!(line, "{PAD}      └─ ");
        style.paint(&mut line, layer_color(proto), proto.title());
        line.push_str(" on lo ");
        if proto == Proto::Eth {
            text(pkt, "eth.src", &mut line);
            line.push_str(" → ");
            text(pkt, "eth.dst", &mut line);
            line.push_str(" type ");
            text(pkt, "eth.type", &mut line);
        }
        let _ = writeln!(out, "{line}");
        let why = if unit.explain {
            ": on a real network the next hop's MAC address; lo has none, so both are zero"
        } else {
            ""
        };
        let _ = writeln!(out, "{PAD}         the link adds {}{why}", bytes(hl as u64));
    }

    // The bill.
    let wire = u64::from(pkt.len);
    let below = tcp.map_or(0, |t| t.1) + ip.map_or(0, |t| t.1) + link.map_or(0, |t| t.1);
    let payload = unit.len().saturating_sub(unit.header_len as u64);
    let _ = writeln!(
        out,
        "{PAD}   = {} on the wire = {} of TCP data + {} of TCP/IP/link headers \
         ({}% of the frame on the wire is headers below the {})",
        bytes(wire),
        bytes(seg_len),
        bytes(below as u64),
        percent(below as u64, wire),
        unit.name
    );
    if seg_len == mine && seg_len == unit.len() {
        let _ = writeln!(
            out,
            "{PAD}     the {} itself: {} = {} of header + {} of payload; \
             all headers together: {} of {} ({}%)",
            unit.name,
            bytes(unit.len()),
            bytes(unit.header_len as u64),
            bytes(payload),
            bytes(wire - payload),
            bytes(wire),
            percent(wire - payload, wire)
        );
    }
}

/// The lines under a traced unit when the packets cannot be seen: what the socket
/// knows, and what it cannot see and why.
pub fn unseen(unit: &Unit, facts: &SocketFacts, why: &str) -> String {
    let mut out = String::new();
    let addr = |a: &Option<SocketAddr>| a.map_or_else(|| "?".to_string(), |a| a.to_string());
    let (from, to) = match unit.dir {
        Direction::Sent => (addr(&facts.local), addr(&facts.peer)),
        Direction::Received => (addr(&facts.peer), addr(&facts.local)),
    };
    let at = if unit.position_known {
        format!(
            "stream bytes {}–{} ",
            unit.stream.start,
            unit.stream.end.saturating_sub(1)
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{PAD}└─ TCP {from} → {to}: {at}({} of {})",
        bytes(unit.len()),
        unit.name
    );
    match &facts.info {
        Ok(k) => {
            let dir = unit.dir.verb();
            let mut line = format!(
                "{PAD}   the kernel (TCP_INFO): {}, RTT {}.{:03} ms, MSS {} out / {} in, \
                 congestion window {} segments, {} retransmitted",
                k.state,
                k.rtt_us / 1000,
                k.rtt_us % 1000,
                k.snd_mss,
                k.rcv_mss,
                k.snd_cwnd,
                k.total_retrans
            );
            if let Some((total, delta)) = k.segs {
                let _ = write!(
                    line,
                    "; segments {dir}: {total} (+{delta} since the previous trace line or the start)"
                );
            }
            if let Some((total, delta)) = k.bytes {
                let _ = write!(line, ", data bytes {dir}: {total} (+{delta})");
            }
            let _ = writeln!(out, "{line}");
        }
        Err(e) => {
            let _ = writeln!(out, "{PAD}   TCP_INFO unavailable: {e}");
        }
    }
    if !unit.explain {
        let _ = writeln!(
            out,
            "{PAD}   cannot see the segments, IP and link headers (see the first trace line)"
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{PAD}   cannot see: the segments' sequence/ack numbers, flags and options, the IP \
         header (TTL, ID, length) and the link header, nor how the kernel cut the stream \
         into segments — a socket gets only the byte stream. Why: {why}"
    );
    let _ = writeln!(
        out,
        "{PAD}   expected below the {}: TCP ≥ 20 B (32 B with the timestamps option Linux \
         uses) + IPv4 20 B (IPv6 40 B) + Ethernet header on lo 14 B per segment",
        unit.name
    );
    out
}

/// What a socket alone can say under a unit when nothing watches the layers below.
pub fn socket_only(conn: &ConnAddrs, dir: Direction, wire_len: usize) -> String {
    let (from, to) = dir.ends(conn);
    format!(
        "{PAD}TCP        {wire_len} bytes of the byte stream {from} → {to} (segments, IP and link not watched)\n"
    )
}

/// One layer of a Socket.IO trace: `Engine.IO  42["chat","hi"]   message (…)   (+1 B, 16 B in all)`.
pub fn layer_line(out: &mut String, l: &Layer, style: Style) {
    style.paint(out, Paint::HEADING, &format!("{:<10}", l.name));
    let _ = writeln!(
        out,
        " {}   {}   (+{} B, {} B in all)",
        l.shown, l.meaning, l.overhead, l.total
    );
}

/// `[PEER]`: the connection a trace line is about (`?` when unknown).
pub fn who(conn: Option<&ConnAddrs>, style: Style) -> String {
    let who = conn.map_or_else(|| "?".to_string(), |c| c.peer.to_string());
    style.painted(Paint::ACTOR, &format!("[{who}]"))
}

/// The arrow of `dir` in its colour.
pub fn arrow(dir: Direction, style: Style) -> String {
    let paint = match dir {
        Direction::Sent => Paint::SENT,
        Direction::Received => Paint::RECEIVED,
    };
    style.painted(paint, dir.arrow())
}

/// One Engine.IO packet inside a carrier, as a Socket.IO trace shows it: the call
/// (`emit("chat", "hi")`) and its layers, top down.
#[derive(Debug, Clone)]
pub struct Call {
    pub call: String,
    pub layers: Vec<Layer>,
}

/// A carrier (a WebSocket frame, an HTTP message holding a polling body) and the calls
/// inside it, nested: each call with its layers, then the carrier, then `below` (the
/// lower layers' text, indented as [`segments`] and [`unseen`] make it).
pub fn carried(
    conn: Option<&ConnAddrs>,
    dir: Direction,
    calls: &[Call],
    carrier: &Layer,
    below: &str,
    style: Style,
) -> String {
    let mut out = String::new();
    let (who, arrow) = (who(conn, style), arrow(dir, style));
    if calls.is_empty() {
        let _ = writeln!(out, "{who} {arrow} (no Engine.IO packet)");
    }
    for (i, c) in calls.iter().enumerate() {
        let _ = writeln!(out, "{who} {arrow} {}", c.call);
        for l in &c.layers {
            out.push_str(PAD);
            layer_line(&mut out, l, style);
        }
        if i + 1 < calls.len() {
            let _ = writeln!(out, "{PAD}(same HTTP body, after \\x1e)");
        }
    }
    out.push_str(PAD);
    layer_line(&mut out, carrier, style);
    out.push_str(below);
    out
}

/// The HTTP request that turned a connection into a WebSocket, and its 101.
pub fn upgraded(
    conn: Option<&ConnAddrs>,
    target: &str,
    request_len: usize,
    response_len: usize,
    style: Style,
) -> String {
    format!(
        "{} HTTP GET {target} (Upgrade: websocket, {request_len} B) → 101 Switching Protocols ({response_len} B): from here on, WebSocket frames\n",
        who(conn, style)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{Dissector, Meta};
    use crate::trace::model::KernelFigures;
    use std::ops::Range;

    /// A data segment as Linux sends it on lo: Ethernet (zero MACs), IPv4, TCP with the
    /// timestamps option (NOP NOP TS), 8 bytes of data (a masked WebSocket text frame
    /// "hi"). Written from a capture of `netlab ws connect --send hi` on lo.
    fn frame() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        // IPv4: total length 20 + 32 + 8 = 60, DF, TTL 64, protocol 6.
        f.extend_from_slice(&[
            0x45, 0x00, 0x00, 0x3c, 0x1c, 0x2d, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 127, 0, 0, 1,
            127, 0, 0, 1,
        ]);
        // TCP: 40000 → 9001, seq 1101, ack 5130, data offset 8 (32 bytes), PSH+ACK,
        // window 512, NOP NOP TS.
        f.extend_from_slice(&[
            0x9c, 0x40, 0x23, 0x29, 0, 0, 0x04, 0x4d, 0, 0, 0x14, 0x0a, 0x80, 0x18, 0x02, 0x00, 0,
            0, 0, 0, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,
        ]);
        f.extend_from_slice(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
        f
    }

    fn dissect(f: &[u8]) -> Packet {
        let mut pkt = Packet::default();
        let meta = Meta {
            number: 1,
            ts_sec: 0,
            ts_nsec: 0,
            len: f.len() as u32,
            interface: 0,
            linktype: 1,
        };
        Dissector::new().dissect(meta, f, &mut pkt);
        pkt
    }

    fn unit(range: Range<u64>) -> Unit {
        Unit {
            dir: Direction::Sent,
            stream: range,
            header_len: 6,
            name: "WebSocket frame",
            explain: true,
            position_known: true,
        }
    }

    #[test]
    fn one_segment_carrying_one_frame() {
        let pkt = dissect(&frame());
        let seg = SegmentView {
            pkt: &pkt,
            number: 6,
            stream: 100..108,
            retransmission: false,
            rel_us: None,
        };
        let text = segments(&unit(100..108), &[seg], Style::PLAIN);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "    └─ TCP segment #6 40000 → 9001 [PSH, ACK] seq 101 (raw 1101) ack (raw) 5130 win 512 len 8"
        );
        assert_eq!(
            lines[1],
            "       its data: all 8 bytes are the WebSocket frame"
        );
        assert!(
            lines[2].starts_with(
                "       TCP adds 32 B: 20 B fixed header + 12 B options (NOP, NOP, timestamps)"
            ),
            "{}",
            lines[2]
        );
        assert_eq!(
            lines[3],
            "       └─ IPv4 127.0.0.1 → 127.0.0.1 TTL 64 ID 0x1c2d DF total length 60"
        );
        assert!(lines[4].contains("IPv4 adds 20 B"), "{}", lines[4]);
        assert_eq!(
            lines[5],
            "          └─ Ethernet II on lo 00:00:00:00:00:00 → 00:00:00:00:00:00 type 0x0800"
        );
        assert!(lines[6].contains("the link adds 14 B"), "{}", lines[6]);
        assert_eq!(
            lines[7],
            "       = 74 B on the wire = 8 B of TCP data + 66 B of TCP/IP/link headers (89% of the frame on the wire is headers below the WebSocket frame)"
        );
        assert_eq!(
            lines[8],
            "         the WebSocket frame itself: 8 B = 6 B of header + 2 B of payload; all headers together: 72 B of 74 B (97%)"
        );
        assert_eq!(lines.len(), 9);
    }

    #[test]
    fn a_segment_shared_by_two_frames_says_which_part() {
        let pkt = dissect(&frame());
        let seg = SegmentView {
            pkt: &pkt,
            number: 6,
            stream: 100..108,
            retransmission: true,
            rel_us: Some(1500),
        };
        let text = segments(&unit(104..108), &[seg], Style::PLAIN);
        assert!(text.contains("at +1.500 ms [retransmission]"), "{text}");
        assert!(
            text.contains("its data: 4 of the 8 bytes are the WebSocket frame"),
            "{text}"
        );
        assert!(
            text.contains("(stream bytes 100–107; the WebSocket frame is bytes 104–107)"),
            "{text}"
        );
    }

    #[test]
    fn later_units_show_only_the_numbers() {
        let pkt = dissect(&frame());
        let seg = SegmentView {
            pkt: &pkt,
            number: 6,
            stream: 100..108,
            retransmission: false,
            rel_us: None,
        };
        let u = Unit {
            explain: false,
            ..unit(100..108)
        };
        let text = segments(&u, &[seg], Style::PLAIN);
        assert!(
            text.contains(
                "TCP adds 32 B: 20 B fixed header + 12 B options (NOP, NOP, timestamps)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("IPv4 adds 20 B\n") && text.contains("the link adds 14 B\n"),
            "{text}"
        );
    }

    #[test]
    fn nothing_seen_says_so() {
        let text = segments(&unit(0..8), &[], Style::PLAIN);
        assert!(
            text.contains("no TCP segment carrying stream bytes 0–7"),
            "{text}"
        );
    }

    #[test]
    fn unseen_shows_the_socket_view_and_why() {
        let facts = SocketFacts {
            local: Some("127.0.0.1:40000".parse().unwrap()),
            peer: Some("127.0.0.1:9001".parse().unwrap()),
            info: Ok(KernelFigures {
                state: "ESTABLISHED",
                rtt_us: 52,
                snd_mss: 32768,
                rcv_mss: 536,
                snd_cwnd: 10,
                total_retrans: 0,
                segs: Some((5, 1)),
                bytes: Some((208, 8)),
            }),
        };
        let text = unseen(&unit(200..208), &facts, "no CAP_NET_RAW");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "    └─ TCP 127.0.0.1:40000 → 127.0.0.1:9001: stream bytes 200–207 (8 B of WebSocket frame)"
        );
        assert_eq!(
            lines[1],
            "       the kernel (TCP_INFO): ESTABLISHED, RTT 0.052 ms, MSS 32768 out / 536 in, congestion window 10 segments, 0 retransmitted; segments sent: 5 (+1 since the previous trace line or the start), data bytes sent: 208 (+8)"
        );
        assert!(lines[2].contains("cannot see:") && lines[2].ends_with("Why: no CAP_NET_RAW"));
        assert!(lines[3].contains("Ethernet header on lo 14 B"));
    }
}
