//! `netlab dissect --onion N`: one captured packet drawn as the onion — nested boxes
//! from the link outside to the application's message inside, each ring headed by its
//! course name (Link, Network, Transport, Application), the protocol, its header bytes
//! and its unit's size, with what it shows and what it adds; then the bill: what each
//! layer cost and how much of the frame is the message ("this 13-byte message crossed
//! the wire in an 88-byte frame").
//!
//! The model is the trace's: each ring is a [`trace::Layer`](crate::trace::Layer) (what
//! it shows, what it means, the bytes it adds, its unit's bytes in all), the same
//! layer model `netlab socketio demo`'s onion prints with [`super::onion::layer_line`];
//! the rings are read from a dissected [`Packet`] of the shared model, and drawn in the
//! layer colours of [`super::layer_color`]. Fits in 80 columns; colour is optional.
//!
//! Which layers are rings: the packet's layers in order up to the first protocol seen
//! twice (the second of several WebSocket frames in a segment, the datagram an ICMP
//! error quotes); views of a payload (line-based text, JSON, a form) are not rings of
//! their own — the last one, if any, is the message. When the innermost protocol names
//! its payload (Socket.IO's data, Engine.IO's), that payload is the message; otherwise
//! the innermost application layer (a DNS query, an HTTP request without a body, an ARP
//! request) is itself the message. A frame with no data at all (a bare ACK) has none.

use std::fmt::Write;
use std::ops::Range;

use super::{Paint, Style, layer_color};
use crate::dissect::model::{Layer as PktLayer, Packet, Proto, Value};
use crate::trace::Layer;

/// Columns the drawing takes.
pub const WIDTH: usize = 80;

/// One ring: its course name and the layer as the trace's model has it.
#[derive(Debug, Clone)]
pub struct Ring {
    /// `Link`, `Network`, `Transport`, `Application`, or `Message` for the core.
    pub course: &'static str,
    pub proto: Option<Proto>,
    /// `name`: the protocol; `shown`: what its header says; `meaning`: what it adds;
    /// `overhead`: its header's bytes; `total`: its unit's bytes (header and inside).
    pub layer: Layer,
    /// Where the layer's own bytes are in the packet's data (the message's, for the core).
    pub range: Range<usize>,
    /// Bytes of a body that follows the layer's own bytes (an HTTP body, read as a view
    /// of its own: line-based text, JSON, a form).
    pub body: usize,
}

/// A captured packet as the onion.
#[derive(Debug, Clone)]
pub struct Onion {
    pub number: u64,
    /// Bytes on the wire.
    pub wire: u64,
    /// Outermost first.
    pub rings: Vec<Ring>,
    /// The message at the centre, if the frame carries one (`overhead` 0).
    pub core: Option<Ring>,
    /// The message was put back together from these frames (this one last).
    pub reassembled_from: Vec<u64>,
    /// Other application messages in the same segment, after the one drawn.
    pub more_messages: usize,
    /// This frame's data starts (or continues) a message completed in a later frame.
    pub partial: bool,
    /// The transport's datagram was put back together from IP fragments: its bytes.
    pub defragmented: Option<usize>,
}

/// The course name of a layer, or `None` for a view of a payload.
fn course(p: Proto) -> Option<&'static str> {
    Some(match p {
        Proto::Eth
        | Proto::Vlan
        | Proto::QinQ
        | Proto::Sll
        | Proto::Sll2
        | Proto::Null
        | Proto::Raw
        | Proto::Arp => "Link",
        Proto::Ip | Proto::Ipv6 | Proto::Icmp | Proto::Icmpv6 => "Network",
        Proto::Tcp | Proto::Udp => "Transport",
        Proto::TextLines
        | Proto::Json
        | Proto::Media
        | Proto::UrlEncodedForm
        | Proto::Imf
        | Proto::Data => return None,
        _ => "Application",
    })
}

/// What a layer adds, for a learner.
fn adds(p: Proto) -> &'static str {
    match p {
        Proto::Eth => {
            "MAC addresses: which network card on this link takes the frame, and the type of what it carries"
        }
        Proto::Vlan | Proto::QinQ => {
            "a tag that puts the frame in a virtual LAN, so one cable can carry several separate networks"
        }
        Proto::Sll | Proto::Sll2 => {
            "Linux's stand-in for the link header of a capture on any interface: the direction and the type of what it carries"
        }
        Proto::Null => {
            "the address family of what it carries (a loopback capture has no real link)"
        }
        Proto::Raw => "nothing: the capture starts at the IP header",
        Proto::Arp => "a question (or answer) on the link: which MAC address has this IP address",
        Proto::Ip => {
            "IP addresses that take the packet from host to host across networks, a time to live, and fragmentation"
        }
        Proto::Ipv6 => {
            "128-bit addresses that take the packet from host to host across networks, and a hop limit"
        }
        Proto::Icmp | Proto::Icmpv6 => {
            "a control message of the network itself: an echo (ping) or a report that something failed"
        }
        Proto::Tcp => {
            "ports that pick the sockets; sequence and acknowledgment numbers that make the byte stream reliable and ordered; a window that paces the sender"
        }
        Proto::Udp => {
            "ports that pick the sockets, a length and a checksum: no order, no retries, no connection"
        }
        Proto::Http => {
            "a request or status line and headers: what is asked for or answered, and how long the body is"
        }
        Proto::WebSocket => {
            "a frame header: the message type, its length and (from a client) a masking key"
        }
        Proto::EngineIo => {
            "a one-digit packet type (4 = message) that keeps the session alive over WebSocket or HTTP polling"
        }
        Proto::SocketIo => {
            "a packet type, the namespace and an ack id: which event, on which channel, and whether an answer is wanted"
        }
        Proto::Dns => "a header (id, flags, counts) around the questions and answers",
        Proto::Tls => {
            "a record header (content type, version, length); after the handshake the content is encrypted"
        }
        Proto::Ftp | Proto::Smtp => "commands and numbered replies, as lines of text",
        Proto::FtpData => "nothing: a file or a listing sent as it is, on its own connection",
        Proto::Ssh => {
            "binary packets with a length and padding; encrypted once the keys are exchanged"
        }
        Proto::TextLines
        | Proto::Json
        | Proto::Media
        | Proto::UrlEncodedForm
        | Proto::Imf
        | Proto::Data => "",
    }
}

fn num(pkt: &Packet, l: &PktLayer, key: &str) -> Option<u64> {
    pkt.layer_fields(l)
        .iter()
        .find(|f| f.def.key == key)
        .and_then(|f| match f.value {
            Value::Uint(n) | Value::Hex(n, _) => Some(n),
            _ => None,
        })
}

/// The bytes of a layer's unit: header and everything inside it.
fn unit_len(pkt: &Packet, l: &PktLayer, first: bool) -> u64 {
    let header = l.range.len() as u64;
    if first {
        return u64::from(pkt.len);
    }
    match l.proto {
        Proto::Ip => num(pkt, l, "ip.len").unwrap_or(header),
        Proto::Ipv6 => num(pkt, l, "ipv6.plen").map_or(header, |n| n + 40),
        Proto::Tcp => header + num(pkt, l, "tcp.len").unwrap_or(0),
        Proto::Udp => num(pkt, l, "udp.length").unwrap_or(header),
        _ => header,
    }
}

/// A payload shown in one line: text quoted (escapes for line ends), or hex.
fn preview(bytes: &[u8]) -> String {
    const MAX: usize = 150;
    let text = std::str::from_utf8(bytes).ok().filter(|s| {
        s.chars()
            .all(|c| !c.is_control() || matches!(c, '\r' | '\n' | '\t'))
    });
    let mut out = String::new();
    match text {
        Some(s) => {
            out.push('"');
            for c in s.chars() {
                if out.chars().count() >= MAX {
                    out.push('…');
                    break;
                }
                match c {
                    '\r' => out.push_str("\\r"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '"' => out.push_str("\\\""),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        None => {
            for (i, b) in bytes.iter().take(24).enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{b:02x}");
            }
            if bytes.len() > 24 {
                out.push_str(" …");
            }
            out.push_str(" (binary)");
        }
    }
    out
}

fn headline(l: &PktLayer) -> String {
    l.headline.clone()
}

fn ring(pkt: &Packet, l: &PktLayer, first: bool) -> Ring {
    // A body read as a view right after the layer's own bytes belongs to its unit.
    let body = pkt
        .layers
        .iter()
        .find(|v| {
            v.range.start == l.range.end
                && !v.range.is_empty()
                && pkt.locate(&v.range).0 == pkt.locate(&l.range).0
        })
        .filter(|v| l.proto.is_application() && course(v.proto).is_none())
        .map_or(0, |v| v.range.len());
    let mut shown = headline(l);
    if l.proto == Proto::Tcp
        && let Some(note) = pkt
            .layer_fields(l)
            .iter()
            .find(|f| f.def.key == "tcp.flags")
            .and_then(|f| f.note.as_deref())
    {
        let _ = write!(
            shown,
            ", flags {}",
            note.trim_matches(|c| c == '(' || c == ')')
        );
    }
    Ring {
        course: course(l.proto).unwrap_or("Message"),
        proto: Some(l.proto),
        layer: Layer {
            name: l.proto.title(),
            shown,
            meaning: adds(l.proto).to_string(),
            overhead: l.range.len(),
            total: unit_len(pkt, l, first) as usize + body,
        },
        range: l.range.clone(),
        body,
    }
}

/// The field naming a protocol's payload, when it is the innermost layer.
fn payload_key(p: Proto) -> Option<&'static str> {
    match p {
        Proto::SocketIo => Some("socketio.data"),
        Proto::EngineIo => Some("engineio.data"),
        _ => None,
    }
}

/// Reads the onion out of a dissected packet (see the module doc for the rules).
pub fn model(pkt: &Packet) -> Onion {
    let mut onion = Onion {
        number: pkt.number,
        wire: u64::from(pkt.len),
        rings: Vec::new(),
        core: None,
        reassembled_from: Vec::new(),
        defragmented: None,
        more_messages: 0,
        partial: pkt.field("tcp.segment_data").is_some(),
    };
    let mut chain: Vec<&PktLayer> = Vec::new();
    let mut rest: &[PktLayer] = &[];
    for (i, l) in pkt.layers.iter().enumerate() {
        if chain.iter().any(|c| c.proto == l.proto) {
            rest = &pkt.layers[i..];
            break;
        }
        chain.push(l);
        if matches!(l.proto, Proto::Icmp | Proto::Icmpv6) {
            rest = &pkt.layers[i + 1..];
            break;
        }
    }
    // Views of a payload are no rings; the last one, if last, is the message.
    let last_view = chain.last().filter(|l| course(l.proto).is_none()).copied();
    chain.retain(|l| course(l.proto).is_some());
    for (i, l) in chain.iter().enumerate() {
        onion.rings.push(ring(pkt, l, i == 0));
    }
    // A transport read from reassembled IP fragments rather than from the frame.
    if let Some(t) = chain
        .iter()
        .find(|l| matches!(l.proto, Proto::Tcp | Proto::Udp))
        .filter(|t| pkt.locate(&t.range).0.is_some())
    {
        onion.defragmented = Some(unit_len(pkt, t, false) as usize);
    }
    if chain.iter().any(|l| l.proto.is_application()) {
        // The rest repeats a protocol of the chain: more messages in the same frame.
        if let Some(again) = rest
            .first()
            .filter(|r| chain.iter().any(|c| c.proto == r.proto))
        {
            onion.more_messages = rest.iter().filter(|l| l.proto == again.proto).count();
        }
        if let Some(tcp) = pkt.layers.iter().find(|l| l.proto == Proto::Tcp) {
            onion.reassembled_from = pkt
                .layer_fields(tcp)
                .iter()
                .filter(|f| f.def.key == "tcp.segment")
                .filter_map(|f| match f.value {
                    Value::Uint(n) => Some(n),
                    _ => None,
                })
                .collect();
        }
    }
    // The message.
    let message = |range: Range<usize>, name: &'static str| {
        let bytes = pkt.data.get(range.clone()).unwrap_or(&[]);
        Ring {
            course: "Message",
            proto: None,
            layer: Layer {
                name,
                shown: preview(bytes),
                meaning: String::new(),
                overhead: 0,
                total: bytes.len(),
            },
            range,
            body: 0,
        }
    };
    let innermost = chain.last().copied();
    if let Some(v) = last_view {
        let mut m = message(v.range.clone(), "the application's bytes");
        m.proto = Some(v.proto);
        if v.proto != Proto::Data {
            m.layer.name = v.proto.title();
        }
        onion.core = Some(m);
    } else if let Some(l) = innermost {
        match l.proto {
            Proto::Icmp | Proto::Icmpv6 => {
                let r = onion.rings.last().expect("ICMP's ring");
                let len = onion
                    .rings
                    .iter()
                    .rev()
                    .nth(1)
                    .map_or(0, |ip| ip.layer.total.saturating_sub(ip.layer.overhead))
                    .saturating_sub(r.layer.overhead);
                let onion_rings_len = onion.rings.len();
                let r = &mut onion.rings[onion_rings_len - 1];
                r.layer.total = r.layer.overhead + len;
                if len > 0 {
                    let quoted = rest.iter().any(|l| l.proto != Proto::Data);
                    let start = rest.first().map_or(l.range.end, |q| q.range.start);
                    let mut m = message(start..start + len, "ICMP data");
                    if quoted {
                        m.layer.name = "the datagram it reports on";
                        m.layer.shown = rest
                            .iter()
                            .map(|q| format!("{} {}", q.proto.title(), headline(q)))
                            .collect::<Vec<_>>()
                            .join("; ");
                    }
                    onion.core = Some(m);
                }
            }
            Proto::Tcp | Proto::Udp | Proto::Ip | Proto::Ipv6 => {}
            p => {
                let key = payload_key(p);
                let field = key.and_then(|k| {
                    pkt.layer_fields(l)
                        .iter()
                        .find(|f| f.def.key == k && !f.range.is_empty())
                });
                match field {
                    Some(f) => {
                        let name = match p {
                            Proto::SocketIo => "Socket.IO data",
                            _ => "Engine.IO data",
                        };
                        onion.core = Some(message(f.range.clone(), name));
                    }
                    None => {
                        // The layer is itself the message.
                        let mut r = onion.rings.pop().expect("the innermost ring");
                        r.layer.overhead = 0;
                        onion.core = Some(r);
                    }
                }
            }
        }
    }
    // An application ring whose unit holds the next ring in (a WebSocket frame, an
    // Engine.IO packet) adds what is around it; one whose own bytes end where its body
    // begins (an HTTP head) adds its own bytes.
    let n = onion.rings.len();
    for i in 0..n {
        if course(onion.rings[i].proto.unwrap_or(Proto::Data)) != Some("Application") {
            continue;
        }
        let Some(inner) = onion.rings.get(i + 1).or(onion.core.as_ref()) else {
            continue;
        };
        let inner_total = inner.layer.total;
        let after = inner.range.start >= onion.rings[i].range.end
            && pkt.locate(&inner.range).0 == pkt.locate(&onion.rings[i].range).0;
        let r = &mut onion.rings[i];
        if after {
            r.layer.overhead = r.range.len();
        } else {
            r.layer.overhead = r.layer.total.saturating_sub(inner_total);
        }
    }
    onion
}

/// Word-wraps `text` to `width` columns (a word longer than a line is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split(' ') {
        let mut w: Vec<char> = word.chars().collect();
        if len > 0 && len + 1 + w.len() > width {
            lines.push(std::mem::take(&mut line));
            len = 0;
        }
        while len == 0 && w.len() > width {
            lines.push(w[..width].iter().collect());
            w.drain(..width);
        }
        if w.is_empty() {
            continue;
        }
        if len > 0 {
            line.push(' ');
            len += 1;
        }
        line.extend(&w);
        len += w.len();
    }
    if len > 0 {
        lines.push(line);
    }
    lines
}

fn cols(s: &str) -> usize {
    s.chars().count()
}

/// `a`/`an` before a number written in digits (`an 86-byte`, `an 11-byte`, `a 90-byte`).
fn article(n: u64) -> &'static str {
    let s = n.to_string();
    let eleven_or_eighteen = (s.starts_with("11") || s.starts_with("18")) && s.len() % 3 == 2;
    if s.starts_with('8') || eleven_or_eighteen {
        "an"
    } else {
        "a"
    }
}

/// One ring and everything inside it, `width` columns wide.
fn draw(items: &[&Ring], width: usize, style: Style, out: &mut Vec<String>) {
    let Some((r, inner)) = items.split_first() else {
        return;
    };
    let width = width.max(30);
    let title = if r.course == "Message" {
        format!("{}: {}", r.course, r.layer.name)
    } else {
        format!("{} · {}", r.course, r.layer.name)
    };
    let size = if r.course == "Message" || r.layer.overhead == 0 && inner.is_empty() {
        format!("{} B", r.layer.total)
    } else {
        format!("header {} B of {} B", r.layer.overhead, r.layer.total)
    };
    // ┌─ Title ───── size ─┐
    let fill = width.saturating_sub(cols(&title) + cols(&size) + 8);
    let paint = r.proto.map_or(Paint::HEADING, layer_color);
    let mut top = String::from("┌─ ");
    style.paint(&mut top, paint, &title);
    if fill >= 1 {
        let _ = write!(top, " {} {size} ─┐", "─".repeat(fill));
        out.push(top);
    } else {
        let _ = write!(
            top,
            " {}┐",
            "─".repeat(width.saturating_sub(cols(&title) + 5))
        );
        out.push(top);
        out.push(format!("│ {size:>w$} │", w = width - 4));
    }
    let text = width - 4;
    let mut body = Vec::new();
    if !r.layer.shown.is_empty() {
        body.extend(wrap(&r.layer.shown, text));
    }
    if !r.layer.meaning.is_empty() {
        body.extend(wrap(&format!("adds {}", r.layer.meaning), text));
    }
    for l in body {
        out.push(format!("│ {l}{} │", " ".repeat(text - cols(&l))));
    }
    let mut nested = Vec::new();
    draw(inner, width - 4, style, &mut nested);
    for l in nested {
        out.push(format!("│ {l} │"));
    }
    out.push(format!("└{}┘", "─".repeat(width - 2)));
}

/// The onion of one packet as text: the drawing, the bill, and the sentence.
pub fn render(o: &Onion, style: Style) -> String {
    let mut out = String::new();
    let heading = format!(
        "Frame {}: {} bytes on the wire, drawn as an onion — each layer wraps the one inside it, outermost first",
        o.number, o.wire
    );
    for l in wrap(&heading, WIDTH) {
        let _ = writeln!(out, "{l}");
    }
    out.push('\n');
    let items: Vec<&Ring> = o.rings.iter().chain(o.core.as_ref()).collect();
    let mut lines = Vec::new();
    draw(&items, WIDTH, style, &mut lines);
    for l in lines {
        let _ = writeln!(out, "{l}");
    }

    // The bill.
    out.push('\n');
    let _ = writeln!(out, "What each layer costs, in bytes:");
    let name_w = o
        .rings
        .iter()
        .chain(o.core.as_ref())
        .map(|r| cols(r.layer.name))
        .max()
        .unwrap_or(0)
        .min(30);
    let mut headers = 0u64;
    for r in &o.rings {
        headers += r.layer.overhead as u64;
        let _ = writeln!(
            out,
            "  {:<12} {:<name_w$} {:>6} B",
            r.course, r.layer.name, r.layer.overhead
        );
    }
    let message = o.core.as_ref().map_or(0, |c| c.layer.total as u64);
    if let Some(c) = &o.core {
        let _ = writeln!(
            out,
            "  {:<12} {:<name_w$} {:>6} B",
            c.course, c.layer.name, message
        );
    }
    let percent = |part: u64, whole: u64| (part * 100 + whole / 2).checked_div(whole).unwrap_or(0);
    // The headers this frame itself carries: link, network and transport.
    let below: u64 = o
        .rings
        .iter()
        .filter(|r| matches!(r.course, "Link" | "Network" | "Transport"))
        .map(|r| r.layer.overhead as u64)
        .sum();
    let mut sentence = String::new();
    if let Some(datagram) = o.defragmented {
        let outer: u64 = o
            .rings
            .iter()
            .take_while(|r| matches!(r.course, "Link" | "Network"))
            .map(|r| r.layer.overhead as u64)
            .sum();
        let carried = o
            .rings
            .iter()
            .rev()
            .find(|r| matches!(r.proto, Some(Proto::Ip | Proto::Ipv6)))
            .map_or(0, |ip| ip.layer.total.saturating_sub(ip.layer.overhead));
        let what = if o.core.is_some() {
            format!("This {message}-byte message travelled in a {datagram}-byte datagram that")
        } else {
            format!("This {datagram}-byte datagram")
        };
        let _ = write!(
            sentence,
            "{what} IP cut into fragments, each sent in a frame of its own with its own \
             link and IP headers; this {}-byte frame, the last of them, carries {carried} \
             bytes of it behind {outer} bytes of headers ({}% of the frame). netlab shows \
             the whole datagram here, put back together, as Wireshark does.",
            o.wire,
            percent(outer, o.wire)
        );
    } else if !o.reassembled_from.is_empty() {
        let frames: Vec<String> = o.reassembled_from.iter().map(u64::to_string).collect();
        let (unit, size) = match o.rings.iter().find(|r| r.course == "Application") {
            Some(a) => (format!("{} message", a.layer.name), a.layer.total as u64),
            None => ("message".to_string(), message),
        };
        let data = o
            .rings
            .iter()
            .find(|r| r.proto == Some(Proto::Tcp))
            .map_or(0, |t| t.layer.total.saturating_sub(t.layer.overhead) as u64);
        let _ = write!(
            sentence,
            "This {size}-byte {unit} crossed the wire in {} TCP segments (frames {}), each \
             with its own link, IP and TCP headers; this {}-byte frame, the last of them, \
             carries {data} bytes of it behind {below} bytes of headers ({}% of the frame). \
             netlab shows the whole message here, put back together, as Wireshark does.",
            o.reassembled_from.len(),
            frames.join(", "),
            o.wire,
            percent(below, o.wire)
        );
    } else if o.core.is_some() {
        let _ = write!(
            sentence,
            "This {message}-byte message crossed the wire in {} {}-byte frame: \
             {headers} bytes of it ({}%) are the headers of the layers around the message",
            article(o.wire),
            o.wire,
            percent(headers, o.wire)
        );
        if headers + message < o.wire {
            let extra = o.wire - headers - message;
            if o.more_messages > 0 {
                let _ = write!(
                    sentence,
                    ", and {} more message{} in the same frame ({extra} bytes)",
                    o.more_messages,
                    if o.more_messages == 1 { "" } else { "s" }
                );
            } else {
                let _ = write!(
                    sentence,
                    ", and {extra} bytes the link added (padding to its minimum frame size) or that no layer claims"
                );
            }
        }
        sentence.push('.');
    } else {
        let _ = write!(
            sentence,
            "This {}-byte frame carries no application data: it is all headers, the layers talking among themselves",
            o.wire
        );
        if o.rings.iter().any(|r| r.proto == Some(Proto::Tcp)) {
            sentence.push_str(" (TCP opening, acknowledging or closing the connection)");
        }
        sentence.push('.');
    }
    if o.partial {
        sentence.push_str(
            " Its data also begins a message that a later frame completes (netlab shows that message there).",
        );
    }
    out.push('\n');
    for l in wrap(&sentence, WIDTH) {
        let _ = writeln!(out, "{l}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_within_the_width() {
        let text = "a few words and averyveryveryverylongwordthatdoesnotfit at all";
        for w in [10, 20, 30] {
            let lines = wrap(text, w);
            assert!(lines.iter().all(|l| cols(l) <= w), "{w}: {lines:?}");
            assert_eq!(
                lines.join(" ").replace(' ', ""),
                text.replace(' ', ""),
                "{lines:?}"
            );
        }
    }

    #[test]
    fn articles() {
        for (n, a) in [
            (8, "an"),
            (11, "an"),
            (18, "an"),
            (86, "an"),
            (90, "a"),
            (110, "a"),
            (800, "an"),
            (1514, "a"),
            (11000, "an"),
            (180, "a"),
        ] {
            assert_eq!(article(n), a, "{n}");
        }
    }
}
