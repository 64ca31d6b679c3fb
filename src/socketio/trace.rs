//! The onion for one message, without printing: what each layer made of it and how many
//! bytes it added, as the trace's [`Layer`]s. `render::onion::carried` lays them out
//! nested under the call; the layers below the carrier (TCP, IP, link) come from the
//! trace's hook (`trace::LowerLayers`).
//!
//! ```text
//! emit('chat', "hi")
//!   Socket.IO  2["chat","hi"]                 EVENT to "/"         +1 B  = 12 B
//!   Engine.IO  42["chat","hi"]                message              +1 B  = 13 B
//!   WebSocket  FIN=1 opcode=0x1 (Text) MASK=0 len=13 (7-bit)       +2 B  = 15 B
//! ```

use crate::trace::Layer;
use crate::wire::engineio::{self as eio, Data, PacketType as EioType};
use crate::wire::socketio::{self as sio, PacketType as SioType};
use crate::wire::websocket::FrameHeader;

/// A short, quoted preview of a string (at most `max` characters).
pub fn preview(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max).collect();
        format!("{head}… ({} bytes)", s.len())
    }
}

/// The application's view: `emit('chat', "hi")`, `ack 12 ← ["ok"]`, `heartbeat ping`.
pub fn call(packet: &eio::Packet) -> String {
    match (&packet.ptype, &packet.data) {
        (EioType::Message, Data::Binary(b)) => {
            format!("binary attachment ({} bytes) of the packet before", b.len())
        }
        (EioType::Message, Data::Text(t)) => match sio::Packet::decode(t) {
            Ok(p) => sio_call(&p),
            Err(e) => format!("(not Socket.IO: {e})"),
        },
        (EioType::Ping, Data::Text(t)) if t == "probe" => "upgrade probe ping".to_string(),
        (EioType::Pong, Data::Text(t)) if t == "probe" => "upgrade probe pong".to_string(),
        (EioType::Ping, _) => "heartbeat: ping".to_string(),
        (EioType::Pong, _) => "heartbeat: pong".to_string(),
        (EioType::Open, _) => "Engine.IO handshake (open)".to_string(),
        (t, _) => format!("Engine.IO {}", t.name()),
    }
}

fn quote_nsp(nsp: &str) -> String {
    if nsp == "/" {
        String::new()
    } else {
        format!(" on {nsp}")
    }
}

/// An argument as a call shows it: JSON, or `<binary>` for a placeholder.
fn show_arg(a: &serde_json::Value) -> String {
    if sio::placeholder_num(a).is_some() {
        "<binary>".to_string()
    } else {
        a.to_string()
    }
}

/// The call a Socket.IO packet stands for.
pub fn sio_call(p: &sio::Packet) -> String {
    let data =
        |v: &Option<serde_json::Value>| v.as_ref().map_or(String::new(), |d| format!(" {d}"));
    match p.ptype {
        SioType::Connect => format!("connect to {}{}", p.nsp, data(&p.data)),
        SioType::Disconnect => format!("disconnect from {}", p.nsp),
        SioType::ConnectError => format!("connect_error on {}{}", p.nsp, data(&p.data)),
        SioType::Event | SioType::BinaryEvent => {
            let (name, args) = p.event_parts().unwrap_or_default();
            let mut parts = vec![serde_json::Value::String(name).to_string()];
            parts.extend(args.iter().map(show_arg));
            if p.id.is_some() {
                parts.push("ack => {…}".to_string());
            }
            format!("emit({}){}", parts.join(", "), quote_nsp(&p.nsp))
        }
        SioType::Ack | SioType::BinaryAck => format!(
            "ack #{} ({}){}",
            p.id.unwrap_or_default(),
            p.ack_args()
                .iter()
                .map(show_arg)
                .collect::<Vec<_>>()
                .join(", "),
            quote_nsp(&p.nsp)
        ),
    }
}

/// The Socket.IO and Engine.IO layers of one Engine.IO packet, top down.
pub fn upper_layers(packet: &eio::Packet, polling: bool) -> Vec<Layer> {
    let mut v = Vec::new();
    let eio_len = match &packet.data {
        Data::Text(t) => 1 + t.len(),
        Data::Binary(b) if polling => 1 + b.len().div_ceil(3) * 4,
        Data::Binary(b) => b.len(),
    };
    if let (EioType::Message, Data::Text(t)) = (&packet.ptype, &packet.data)
        && let Ok(p) = sio::Packet::decode(t)
    {
        let json = p.data.as_ref().map_or(0, |d| d.to_string().len());
        let mut meaning = format!("{} to \"{}\"", p.ptype.name(), p.nsp);
        if let Some(id) = p.id {
            meaning.push_str(&format!(", ack id {id}"));
        }
        if p.attachments > 0 {
            meaning.push_str(&format!(", {} attachment(s) follow", p.attachments));
        }
        v.push(Layer {
            name: "Socket.IO",
            shown: preview(t, 60),
            meaning,
            overhead: t.len() - json,
            total: t.len(),
        });
    }
    let shown = match &packet.data {
        Data::Text(t) => preview(&format!("{}{t}", packet.ptype.digit()), 60),
        Data::Binary(b) if polling => format!("b<base64 of {} bytes>", b.len()),
        Data::Binary(b) => format!("<{} raw bytes>", b.len()),
    };
    let meaning = match (&packet.data, polling) {
        (Data::Binary(_), false) => "binary message: a binary frame, no type digit".to_string(),
        (Data::Binary(_), true) => "binary message: `b` + base64 in the text body".to_string(),
        _ => format!("{} ({})", packet.ptype.name(), packet.ptype.meaning()),
    };
    v.push(Layer {
        name: "Engine.IO",
        shown,
        meaning,
        overhead: packet.overhead(polling),
        total: eio_len,
    });
    v
}

/// The WebSocket frame that carried `payload_len` bytes of Engine.IO.
pub fn ws_layer(h: &FrameHeader) -> Layer {
    Layer {
        name: "WebSocket",
        shown: h.summary(),
        meaning: if h.masked() {
            "frame from the client, masked (RFC 6455 § 5.3)".to_string()
        } else {
            "frame from the server, unmasked".to_string()
        },
        overhead: h.header_len(),
        total: h.header_len() + h.payload_len as usize,
    }
}

/// The HTTP message that carried a long-polling body of `body_len` bytes holding
/// `packets` Engine.IO packets.
pub fn http_layer(start_line: &str, head_len: usize, body_len: usize, packets: usize) -> Layer {
    Layer {
        name: "HTTP",
        shown: start_line.to_string(),
        meaning: format!(
            "long-polling: {packets} packet(s) in a {body_len}-byte body, separated by \\x1e"
        ),
        overhead: head_len,
        total: head_len + body_len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::websocket::Frame;

    #[test]
    fn the_onion_of_a_chat_message() {
        let p = eio::Packet::message("2[\"chat\",\"hi\"]");
        assert_eq!(call(&p), "emit(\"chat\", \"hi\")");
        let layers = upper_layers(&p, false);
        assert_eq!(layers[0].name, "Socket.IO");
        assert_eq!(layers[0].overhead, 1);
        assert_eq!(layers[0].total, 14);
        assert_eq!(layers[1].shown, "42[\"chat\",\"hi\"]");
        assert_eq!((layers[1].overhead, layers[1].total), (1, 15));
        let f = Frame::text("42[\"chat\",\"hi\"]");
        let ws = ws_layer(&f.header());
        assert_eq!((ws.overhead, ws.total), (2, 17));
    }

    #[test]
    fn acks_binaries_and_heartbeats() {
        let p = eio::Packet::message("31[\"ok\"]");
        assert_eq!(call(&p), "ack #1 (\"ok\")");
        assert_eq!(call(&eio::Packet::ping()), "heartbeat: ping");
        let b = eio::Packet::binary([1u8, 2, 3]);
        let l = upper_layers(&b, true);
        assert_eq!((l[0].overhead, l[0].total), (2, 5));
        assert_eq!(upper_layers(&b, false)[0].overhead, 0);
    }
}
