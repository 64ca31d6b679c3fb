//! WebSocket frames (RFC 6455 § 5) after an HTTP Upgrade, in both directions, read with
//! the codec `netlab ws` uses (`wire::websocket`).
//!
//! A frame is one PDU: its header says how long it is (§ 5.2), so a frame split over
//! segments is dissected once, on the segment that completes it, and several frames in
//! one segment are each dissected. A client's payload is masked (§ 5.3): it is shown as
//! sent and, unmasked, as its own source ("Unmasked WebSocket payload"), where the text,
//! the close code and reason, and an Engine.IO packet are read. A fragmented message
//! (§ 5.4) is collected (up to [`MAX_MESSAGE`] bytes) so Engine.IO sees it whole.
//!
//! A 64-bit length with its top bit set cannot be a length (§ 5.2): the frame is marked
//! malformed and the rest of the direction is shown as data. A length that is merely
//! enormous is a PDU larger than netlab holds: its start is dissected, the rest skipped.

use std::fmt::Write;

use super::{AppDef, Cx, Dir, Need, engineio, text_lines, websocket_session};
use crate::dissect::model::{Proto, Value};
use crate::dissect::{headline, note};
use crate::wire::websocket::{self as ws, FrameError, LengthForm, OpCode};

/// `--decode-as tcp.port==N,websocket`: a capture that starts after the handshake.
pub const APP: AppDef = AppDef {
    name: "websocket",
    aliases: &["ws"],
    proto: Proto::WebSocket,
    tcp_ports: &[],
    udp_ports: &[],
    heuristic: None,
    new: websocket_session,
};

/// The largest fragmented message collected for Engine.IO.
pub const MAX_MESSAGE: usize = 1 << 20;

/// The WebSocket state of an upgraded connection.
pub(crate) struct Ws {
    /// Messages are Engine.IO packets (the upgrade asked for `/socket.io/`), or look so.
    socketio: bool,
    eio: engineio::Eio,
    /// Per direction: a fragmented message being collected (its opcode and bytes).
    message: [Option<(OpCode, Vec<u8>)>; 2],
    /// Per direction: a frame header was impossible; nothing more is read as frames.
    broken: [bool; 2],
}

impl Ws {
    pub fn new(socketio: bool) -> Ws {
        Ws {
            socketio,
            eio: engineio::Eio::default(),
            message: [None, None],
            broken: [false, false],
        }
    }

    pub fn pdu_len(&mut self, dir: Dir, buf: &[u8]) -> Need {
        if self.broken[dir.index()] {
            return Need::NotMine;
        }
        match ws::parse_header(buf) {
            Ok(Some((h, hl))) => Need::Pdu(
                (hl as u64)
                    .saturating_add(h.payload_len)
                    .try_into()
                    .unwrap_or(usize::MAX),
            ),
            Ok(None) => {
                // The header's length is known from its second byte.
                let Some(&b1) = buf.get(1) else {
                    return Need::More(Some(2));
                };
                let ext = match b1 & 0x7f {
                    126 => 2,
                    127 => 8,
                    _ => 0,
                };
                let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
                Need::More(Some(2 + ext + mask))
            }
            Err(_) => Need::Pdu(buf.len().min(10)),
        }
    }

    pub fn lost(&mut self, dir: Dir) {
        self.message[dir.index()] = None;
    }

    pub fn dissect(&mut self, cx: &mut Cx, pdu: &[u8]) {
        let d = cx.dir.index();
        cx.begin(Proto::WebSocket, 0);
        cx.column("WebSocket");
        let h = match ws::parse_header(pdu) {
            Ok(Some((h, _))) => h,
            Ok(None) => {
                cx.truncated("the frame header is incomplete");
                cx.end(pdu.len());
                return;
            }
            Err(e) => {
                if cx.record && pdu.len() >= 2 {
                    cx.push_bits(
                        0,
                        &ws::OPCODE,
                        0..1,
                        0x0f,
                        Value::Uint(u64::from(pdu[0] & 0x0f)),
                    );
                    cx.push_bits(
                        0,
                        &ws::PAYLOAD_LEN,
                        1..2,
                        0x7f,
                        Value::Uint(u64::from(pdu[1] & 0x7f)),
                    );
                }
                let why = match e {
                    FrameError::LengthMsbSet => {
                        "the 64-bit payload length has its top bit set, which RFC 6455 § 5.2 forbids: no frame can be found after it".to_string()
                    }
                    e => e.to_string(),
                };
                cx.malformed(why);
                self.broken[d] = true;
                if cx.first {
                    let info = cx.info();
                    info.push_str("WebSocket [malformed frame header]");
                }
                cx.end(pdu.len());
                return;
            }
        };
        let hl = h.header_len();
        if cx.record {
            cx.push_bits(0, &ws::FIN, 0..1, 0x80, Value::Bool(h.fin));
            cx.push_bits(0, &ws::RSV, 0..1, 0x70, Value::Uint(u64::from(h.rsv)));
            cx.push_bits(
                0,
                &ws::OPCODE,
                0..1,
                0x0f,
                Value::Uint(u64::from(u8::from(h.opcode))),
            );
            note!(cx, "({})", h.opcode.name());
            cx.push_bits(0, &ws::MASK, 1..2, 0x80, Value::Bool(h.masked()));
            cx.push_bits(
                0,
                &ws::PAYLOAD_LEN,
                1..2,
                0x7f,
                Value::Uint(u64::from(pdu[1] & 0x7f)),
            );
            match h.length_form {
                LengthForm::Short => {}
                LengthForm::Ext16 => {
                    cx.push(1, &ws::PAYLOAD_LEN_EXT_16, 2..4, Value::Uint(h.payload_len))
                }
                LengthForm::Ext64 => cx.push(
                    1,
                    &ws::PAYLOAD_LEN_EXT_64,
                    2..10,
                    Value::Uint(h.payload_len),
                ),
            }
            if let Some(nm) = h.non_minimal_length() {
                note!(cx, "(not minimal: the {} form was required)", nm.name());
            }
            if let Some(kf) = h.masking_key_field() {
                cx.push(0, &ws::MASKING_KEY, kf.clone(), Value::Bytes(kf));
            }
        }
        let payload = pdu.get(hl..).unwrap_or(&[]);
        let whole = payload.len() as u64 >= h.payload_len;
        if cx.record && h.payload_len > 0 {
            let r = hl..pdu.len();
            let def = if h.masked() {
                &ws::MASKED_PAYLOAD
            } else {
                &ws::PAYLOAD
            };
            cx.push(0, def, r.clone(), Value::Bytes(r));
        }
        headline!(
            cx,
            "{}{}{}, {} bytes of payload",
            h.opcode.name(),
            if h.fin { " [FIN]" } else { "" },
            if h.masked() { " [MASKED]" } else { "" },
            h.payload_len
        );
        if !whole {
            cx.incomplete(format!(
                "the frame announces {} bytes of payload; {} are shown",
                h.payload_len,
                payload.len()
            ));
        }
        cx.end(pdu.len());
        // Wireshark's Info column shows a segment's first frame.
        if cx.first {
            let info = cx.info();
            let _ = write!(info, "WebSocket {}", h.opcode.name());
            if h.fin {
                info.push_str(" [FIN] ");
            }
            if h.masked() {
                info.push_str("[MASKED]");
            }
        }
        // The payload as the application sent it.
        let unmasked;
        let (data, label): (&[u8], Option<&'static str>) = match h.masking_key {
            Some(key) => {
                let mut p = payload.to_vec();
                ws::apply_mask(&mut p, key, 0);
                unmasked = p;
                (&unmasked, Some("Unmasked WebSocket payload"))
            }
            None => (payload, None),
        };
        let sio = match label {
            Some(label) => cx.source(label, data, |sub| {
                self.payload(sub, h.opcode, h.fin, data, whole)
            }),
            None => cx.rebase(hl, |sub| self.payload(sub, h.opcode, h.fin, data, whole)),
        };
        // Engine.IO / Socket.IO inside: their summary is the packet's (the issue's
        // `Socket.IO EVENT "chat" ["hi"] ack=0 /chat`), replacing WebSocket's words.
        if let Some((column, text)) = sio {
            cx.column(column);
            let info = cx.info();
            match info.find("WebSocket ") {
                Some(at) => info.truncate(at),
                None if !info.is_empty() => info.push_str(", "),
                None => {}
            }
            info.push_str(&text);
        }
    }

    /// The (unmasked) payload: text, close code and reason, ping data, Engine.IO.
    fn payload(
        &mut self,
        cx: &mut Cx,
        op: OpCode,
        fin: bool,
        p: &[u8],
        whole: bool,
    ) -> Option<(&'static str, String)> {
        let d = cx.dir.index();
        match op {
            OpCode::Close => {
                if p.len() >= 2 && cx.record {
                    let code = u16::from_be_bytes([p[0], p[1]]);
                    cx.push(1, &ws::CLOSE_CODE, 0..2, Value::Uint(u64::from(code)));
                    note!(cx, "({})", close_meaning(code));
                    if p.len() > 2 {
                        cx.push(1, &ws::CLOSE_REASON, 2..p.len(), Value::Bytes(2..p.len()));
                        note!(cx, "({:?})", String::from_utf8_lossy(&p[2..]));
                    }
                }
                None
            }
            OpCode::Ping | OpCode::Pong => {
                if !p.is_empty() && cx.record {
                    let def = if op == OpCode::Ping {
                        &ws::PING
                    } else {
                        &ws::PONG
                    };
                    cx.push(1, def, 0..p.len(), Value::Bytes(0..p.len()));
                }
                None
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if p.is_empty() {
                    return None;
                }
                if op == OpCode::Text {
                    text_lines(cx, p);
                } else {
                    data(cx, p);
                }
                // A message in several frames is read by Engine.IO once complete.
                let message: Option<(OpCode, Vec<u8>)> = match (op, fin) {
                    (OpCode::Continuation, _) => {
                        let (first, mut bytes) = self.message[d].take()?;
                        if bytes.len() + p.len() > MAX_MESSAGE {
                            note!(
                                cx,
                                "(message larger than netlab collects: not read further)"
                            );
                            return None;
                        }
                        bytes.extend_from_slice(p);
                        if !fin {
                            self.message[d] = Some((first, bytes));
                            return None;
                        }
                        Some((first, bytes))
                    }
                    (_, false) => {
                        self.message[d] = Some((op, p.to_vec()));
                        return None;
                    }
                    (_, true) => None,
                };
                if !whole {
                    return None;
                }
                let (op, bytes): (OpCode, &[u8]) = match &message {
                    Some((op, b)) => (*op, b),
                    None => (op, p),
                };
                if !self.socketio && op == OpCode::Text && engineio::looks_like_packet(bytes) {
                    self.socketio = true;
                }
                if !self.socketio {
                    return None;
                }
                match (&message, op) {
                    (None, OpCode::Text) => engineio::text(cx, &mut self.eio, bytes, 0),
                    (None, _) => engineio::binary(cx, &mut self.eio, bytes, 0),
                    (Some(_), _) => cx.source("Reassembled WebSocket message", bytes, |sub| {
                        if op == OpCode::Text {
                            engineio::text(sub, &mut self.eio, bytes, 0)
                        } else {
                            engineio::binary(sub, &mut self.eio, bytes, 0)
                        }
                    }),
                }
            }
            OpCode::Reserved(_) => {
                if !p.is_empty() {
                    data(cx, p);
                }
                None
            }
        }
    }
}

/// A binary payload: Wireshark hands it to `data`.
fn data(cx: &mut Cx, p: &[u8]) {
    cx.begin(Proto::Data, 0);
    if cx.record {
        cx.push(
            0,
            &crate::dissect::transport::DATA,
            0..p.len(),
            Value::Bytes(0..p.len()),
        );
        cx.push_generated(
            0,
            &crate::dissect::transport::DATA_LEN,
            Value::Uint(p.len() as u64),
        );
    }
    cx.end(p.len());
}

/// What a close code means (RFC 6455 § 7.4.1).
fn close_meaning(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status received (must not be sent)",
        1006 => "abnormal closure (must not be sent)",
        1007 => "invalid payload data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "mandatory extension",
        1011 => "internal server error",
        1015 => "TLS handshake failure (must not be sent)",
        3000..=3999 => "registered for libraries and frameworks",
        4000..=4999 => "private use by applications",
        _ => "not a defined code",
    }
}
