//! Engine.IO (v4) and Socket.IO (v5) inside WebSocket messages and HTTP long-polling
//! bodies, read with the codecs the live `socketio` commands use (`wire::engineio`,
//! `wire::socketio`). Wireshark has no dissector for them; netlab's field names follow
//! Wireshark's shape:
//!
//! | field | what |
//! |---|---|
//! | `engineio.packet_type` | 0 open, 1 close, 2 ping, 3 pong, 4 message, 5 upgrade, 6 noop (named in `-v`) |
//! | `engineio.data` | the packet's text after the type digit |
//! | `engineio.sid`, `engineio.upgrades`, `engineio.pingInterval`, `engineio.pingTimeout`, `engineio.maxPayload` | the open packet's handshake |
//! | `engineio.binary_length` | a binary message's length (a Socket.IO attachment) |
//! | `socketio.packet_type` | 0 CONNECT … 6 BINARY_ACK (named in `-v`) |
//! | `socketio.namespace` | the namespace; `/` when the packet names none |
//! | `socketio.ack_id` | the acknowledgement id, when there is one |
//! | `socketio.event` | an EVENT's (or BINARY_EVENT's) name: the first element of its array |
//! | `socketio.args` | the event's arguments (or an ACK's), as a JSON array |
//! | `socketio.data` | the packet's JSON data as sent (placeholders included) |
//! | `socketio.attachments` | how many binary attachments a binary packet announces |
//!
//! When a frame or body carries several packets, each field occurs once per packet, in
//! order (an array in `--json`). Records of a long-polling body are split at `\x1e`; a
//! binary packet's attachments (binary WebSocket messages, or `b…` base64 records) are
//! joined to it: the frame of the last attachment shows the event with its buffers.
//!
//! What is not Engine.IO — text that is no packet, a body with an empty record, base64
//! that does not decode, JSON that is not JSON — is marked `[malformed: …]` with the
//! codec's reason, never a panic.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::Cx;
use crate::dissect::model::{Proto, Value};
use crate::dissect::{headline, note};
use crate::wire::engineio::{self as eio, Handshake, PacketType};
use crate::wire::socketio::{self as sio, Decoder};

/// Per conversation: each direction's Socket.IO decoder (a binary packet waiting for its
/// attachments) and the frame that announced it.
#[derive(Debug, Default)]
pub(crate) struct Eio {
    decoders: [Decoder; 2],
    announced: [u64; 2],
}

/// Whether a WebSocket text message looks like Engine.IO: an open packet with a session
/// id, a Socket.IO packet in a message (`40`, `42[…`), or the upgrade probe.
pub(crate) fn looks_like_packet(b: &[u8]) -> bool {
    b.starts_with(b"0{\"sid\":")
        || b == b"2probe"
        || b == b"3probe"
        || (b.len() >= 2
            && b[0] == b'4'
            && (b'0'..=b'6').contains(&b[1])
            && matches!(b.get(2), None | Some(b'[' | b'{' | b'/' | b'0'..=b'9')))
}

/// Whether an HTTP body looks like an Engine.IO long-polling payload.
pub(crate) fn looks_like_payload(b: &[u8]) -> bool {
    looks_like_packet(b.split(|&c| c == 0x1e).next().unwrap_or(b))
}

/// A long-polling body: records split at `\x1e`, each a packet (or `b` + base64: a
/// binary message).
pub(crate) fn payload(cx: &mut Cx, st: &mut Eio, body: &[u8]) -> Option<(&'static str, String)> {
    let mut summary: Option<(&'static str, String)> = None;
    let mut at = 0;
    for (i, record) in body.split(|&c| c == 0x1e).enumerate() {
        let start = at;
        at += record.len() + 1;
        let one = if record.is_empty() {
            cx.begin(Proto::EngineIo, start);
            cx.malformed(eio::EioError::EmptyRecord { record: i }.to_string());
            cx.end(start);
            None
        } else if let Some(b64) = record.strip_prefix(b"b") {
            match BASE64.decode(b64) {
                Ok(bytes) => {
                    cx.begin(Proto::EngineIo, start);
                    if cx.record {
                        cx.push(
                            0,
                            &eio::BINARY_PREFIX_FIELD,
                            start..start + 1,
                            Value::Text("b".into()),
                        );
                    }
                    cx.end(start + record.len());
                    cx.source("Engine.IO binary message (base64-decoded)", &bytes, |sub| {
                        binary(sub, st, &bytes, 0)
                    })
                }
                Err(_) => {
                    cx.begin(Proto::EngineIo, start);
                    cx.malformed(eio::EioError::BadBase64 { record: i }.to_string());
                    cx.end(start + record.len());
                    None
                }
            }
        } else {
            text(cx, st, record, start)
        };
        join(&mut summary, one);
    }
    summary
}

fn join(summary: &mut Option<(&'static str, String)>, one: Option<(&'static str, String)>) {
    let Some((col, text)) = one else { return };
    match summary {
        None => *summary = Some((col, text)),
        Some((c, s)) => {
            if col == "Socket.IO" {
                *c = col;
            }
            s.push_str(", ");
            s.push_str(&text);
        }
    }
}

/// One Engine.IO text packet at `at` (a WebSocket text message, or one record).
pub(crate) fn text(
    cx: &mut Cx,
    st: &mut Eio,
    b: &[u8],
    at: usize,
) -> Option<(&'static str, String)> {
    cx.begin(Proto::EngineIo, at);
    let end = at + b.len();
    let Ok(s) = std::str::from_utf8(b) else {
        cx.malformed(eio::EioError::NotUtf8.to_string());
        cx.end(end);
        return None;
    };
    let packet = match eio::Packet::decode_text(s) {
        Ok(p) => p,
        Err(e) => {
            cx.malformed(e.to_string());
            cx.end(end);
            return Some(("Engine.IO", "Engine.IO [malformed]".into()));
        }
    };
    let t = packet.ptype;
    if cx.record {
        cx.push(0, &eio::TYPE, at..at + 1, Value::Uint(t as u64));
        note!(cx, "({}: {})", t.name(), t.meaning());
    }
    let data = &s[1..];
    if cx.record && !data.is_empty() {
        cx.push(
            0,
            &eio::DATA,
            at + 1..end,
            Value::Text(data.to_string().into()),
        );
    }
    headline!(cx, "{}", t.name());
    let mut summary = format!("Engine.IO {}", t.name());
    match t {
        PacketType::Open => match Handshake::parse(data) {
            Ok(h) => {
                if cx.record {
                    cx.push_generated(1, &eio::SID, Value::Text(h.sid.clone().into()));
                    cx.push_generated(1, &eio::UPGRADES, Value::Text(h.upgrades.join(",").into()));
                    cx.push_generated(1, &eio::PING_INTERVAL, Value::Uint(h.ping_interval));
                    cx.push_generated(1, &eio::PING_TIMEOUT, Value::Uint(h.ping_timeout));
                    cx.push_generated(1, &eio::MAX_PAYLOAD, Value::Uint(h.max_payload as u64));
                }
                summary.push_str(&format!(" sid={}", h.sid));
            }
            Err(e) => cx.malformed(e.to_string()),
        },
        PacketType::Ping | PacketType::Pong if !data.is_empty() => {
            summary.push_str(&format!(" {data:?}"));
        }
        _ => {}
    }
    cx.end(end);
    if t != PacketType::Message {
        return Some(("Engine.IO", summary));
    }
    // A message carries a Socket.IO packet.
    socketio(cx, st, data, at + 1).or(Some(("Engine.IO", summary)))
}

/// A Socket.IO packet (text) at `at`.
fn socketio(cx: &mut Cx, st: &mut Eio, s: &str, at: usize) -> Option<(&'static str, String)> {
    let d = cx.dir.index();
    cx.begin(Proto::SocketIo, at);
    let end = at + s.len();
    let p = match sio::Packet::decode(s) {
        Ok(p) => p,
        Err(e) => {
            cx.malformed(e.to_string());
            cx.end(end);
            return Some(("Socket.IO", "Socket.IO [malformed]".into()));
        }
    };
    // The decoder joins binary packets to their attachments.
    let waiting_before = st.decoders[d].is_waiting();
    let r = st.decoders[d].text(s);
    if let Err(e @ sio::SioError::UnexpectedText { .. }) = &r {
        cx.malformed(e.to_string());
    }
    if waiting_before {
        // The decoder dropped the incomplete packet and read nothing of this one.
        let _ = st.decoders[d].text(s);
    }
    if p.ptype.is_binary() {
        st.announced[d] = cx.frame;
    }
    fields(cx, &p, s, at, &[]);
    let mut line = summary(&p, &[]);
    headline!(cx, "{}", line.trim_start_matches("Socket.IO "));
    cx.end(end);
    if p.ptype.is_binary() {
        line.push_str(&format!(
            " (waiting for {} attachment{})",
            p.attachments,
            if p.attachments == 1 { "" } else { "s" }
        ));
    }
    Some(("Socket.IO", line))
}

/// A binary Engine.IO message: a Socket.IO attachment.
pub(crate) fn binary(
    cx: &mut Cx,
    st: &mut Eio,
    b: &[u8],
    at: usize,
) -> Option<(&'static str, String)> {
    let d = cx.dir.index();
    cx.begin(Proto::EngineIo, at);
    if cx.record {
        cx.push_generated(0, &eio::BINARY_LENGTH, Value::Uint(b.len() as u64));
    }
    headline!(cx, "binary message, {} bytes", b.len());
    cx.end(at + b.len());
    match st.decoders[d].binary(b) {
        Ok(None) => Some((
            "Socket.IO",
            format!(
                "Socket.IO attachment ({} bytes) for frame {}",
                b.len(),
                st.announced[d]
            ),
        )),
        Ok(Some(msg)) => {
            // The last attachment: the packet is complete.
            cx.begin(Proto::SocketIo, at);
            let text = msg.packet.encode();
            if cx.record {
                cx.push_generated(0, &ANNOUNCED_IN, Value::Uint(st.announced[d]));
            }
            fields(cx, &msg.packet, &text, at, &msg.attachments);
            headline!(
                cx,
                "{} joined to its {} attachment(s)",
                msg.packet.ptype.name(),
                msg.attachments.len()
            );
            cx.end(at + b.len());
            Some(("Socket.IO", summary(&msg.packet, &msg.attachments)))
        }
        Err(e) => {
            cx.begin(Proto::SocketIo, at);
            cx.malformed(e.to_string());
            cx.end(at + b.len());
            Some(("Socket.IO", "Socket.IO [unexpected binary message]".into()))
        }
    }
}

/// The fields of a Socket.IO packet whose text `s` sits at `at` (generated when the
/// packet is shown joined to its attachments).
fn fields(cx: &mut Cx, p: &sio::Packet, s: &str, at: usize, attachments: &[Vec<u8>]) {
    if !cx.record {
        return;
    }
    let joined = !attachments.is_empty();
    let put = |cx: &mut Cx,
               depth: u8,
               def: &'static crate::wire::FieldDef,
               r: std::ops::Range<usize>,
               v: Value| {
        if joined {
            cx.push_generated(depth, def, v);
        } else {
            cx.push(depth, def, at + r.start..at + r.end, v);
        }
    };
    put(cx, 0, &sio::TYPE, 0..1, Value::Uint(p.ptype as u64));
    note!(cx, "({})", p.ptype.name());
    let b = s.as_bytes();
    let mut i = 1;
    if p.ptype.is_binary() {
        let dash = b.iter().position(|&c| c == b'-').unwrap_or(1);
        put(
            cx,
            0,
            &sio::ATTACHMENTS,
            1..dash,
            Value::Uint(p.attachments as u64),
        );
        i = dash + 1;
    }
    if b.get(i) == Some(&b'/') {
        let e = b[i..]
            .iter()
            .position(|&c| c == b',')
            .map_or(b.len(), |e| e + i);
        put(
            cx,
            0,
            &sio::NAMESPACE,
            i..e,
            Value::Text(p.nsp.clone().into()),
        );
        i = (e + 1).min(b.len());
    } else {
        cx.push_generated(0, &sio::NAMESPACE, Value::Text("/".into()));
        note!(cx, "(no namespace named: the main one)");
    }
    if let Some(id) = p.id {
        let n = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        put(cx, 0, &sio::ACK_ID, i..i + n, Value::Uint(id));
        i += n;
    }
    if let Some(data) = &p.data {
        put(
            cx,
            0,
            &sio::DATA,
            i..b.len(),
            Value::Text(data.to_string().into()),
        );
        if let Some((name, args)) = event(p) {
            cx.push_generated(1, &sio::EVENT, Value::Text(name.into()));
            cx.push_generated(
                1,
                &sio::ARGS,
                Value::Text(
                    sio::show_value(&serde_json::Value::Array(args.to_vec()), attachments).into(),
                ),
            );
        } else if matches!(p.ptype, sio::PacketType::Ack | sio::PacketType::BinaryAck) {
            cx.push_generated(
                1,
                &sio::ARGS,
                Value::Text(sio::show_value(data, attachments).into()),
            );
        }
    }
}

/// An EVENT's (or BINARY_EVENT's) name and arguments; nothing for other types (an
/// ACK's array is all arguments).
fn event(p: &sio::Packet) -> Option<(String, &[serde_json::Value])> {
    matches!(
        p.ptype,
        sio::PacketType::Event | sio::PacketType::BinaryEvent
    )
    .then(|| p.event_parts())
    .flatten()
}

/// `Socket.IO EVENT "chat" ["hi"] ack=0 /chat`.
fn summary(p: &sio::Packet, attachments: &[Vec<u8>]) -> String {
    let mut s = format!("Socket.IO {}", p.ptype.name());
    if let Some((name, args)) = event(p) {
        s.push_str(&format!(
            " {} {}",
            serde_json::Value::String(name),
            sio::show_value(&serde_json::Value::Array(args.to_vec()), attachments)
        ));
    } else if let Some(d) = &p.data {
        s.push(' ');
        s.push_str(&sio::show_value(d, attachments));
    }
    if let Some(id) = p.id {
        s.push_str(&format!(" ack={id}"));
    }
    s.push(' ');
    s.push_str(&p.nsp);
    s
}

crate::wire::fields! {
    ANNOUNCED_IN: Num(
        "Announced in frame",
        "socketio.announced_in",
        "the frame whose packet announced the attachments this one completes",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_read_like_a_call() {
        let p = sio::Packet::decode("2/chat,0[\"chat\",\"hi\"]").unwrap();
        assert_eq!(
            summary(&p, &[]),
            "Socket.IO EVENT \"chat\" [\"hi\"] ack=0 /chat"
        );
        let p = sio::Packet::decode("40").unwrap_or_else(|_| sio::Packet::decode("0").unwrap());
        assert!(summary(&p, &[]).starts_with("Socket.IO CONNECT"));
    }

    #[test]
    fn what_looks_like_engineio() {
        assert!(looks_like_packet(b"0{\"sid\":\"abc\",\"upgrades\":[]}"));
        assert!(looks_like_packet(b"42[\"chat\",\"hi\"]"));
        assert!(looks_like_packet(b"40"));
        assert!(looks_like_packet(b"2probe"));
        assert!(!looks_like_packet(b"hello"));
        assert!(!looks_like_packet(b"4x"));
        assert!(looks_like_payload(b"0{\"sid\":\"x\"}\x1e40"));
    }
}
