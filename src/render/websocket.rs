//! WebSocket frames and messages as a trace shows them: one line per frame with its
//! header bits (`→ frame FIN=1 RSV=000 opcode=0x1 (Text) MASK=1 len=5 (7-bit) key=…
//! "hello"`), and a message, a close, a ping in a few words. Shared by `ws serve`,
//! `ws connect` and `ws-upgrade`.
//!
//! Imports: `wire::websocket` only.

use crate::wire::websocket::{self as wsw, Frame, FrameHeader, Message, OpCode, PREVIEW_LEN};

/// One line for a frame: `→` sent, `←` received.
pub fn trace_line(arrow: &str, h: &FrameHeader, preview: &[u8]) -> String {
    let shown = match h.opcode {
        OpCode::Text | OpCode::Continuation => {
            let s = String::from_utf8_lossy(preview);
            let more = if (preview.len() as u64) < h.payload_len {
                "…"
            } else {
                ""
            };
            format!(" {s:?}{more}")
        }
        OpCode::Close if !preview.is_empty() => format!(" [{}]", describe(h.opcode, preview)),
        _ if preview.is_empty() => String::new(),
        _ => {
            let hex: Vec<String> = preview
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect();
            let more = if (preview.len() as u64) > 16 || (preview.len() as u64) < h.payload_len {
                " …"
            } else {
                ""
            };
            format!(" {}{more}", hex.join(" "))
        }
    };
    format!("{arrow} frame {}{shown}", h.summary())
}

/// [`trace_line`] for a whole frame.
pub fn frame_line(arrow: &str, f: &Frame) -> String {
    let end = f.payload.len().min(PREVIEW_LEN);
    trace_line(arrow, &f.header(), &f.payload[..end])
}

/// A short, printable description of a message: `text "hello"` or `binary 5 bytes`.
pub fn describe(opcode: OpCode, payload: &[u8]) -> String {
    match opcode {
        OpCode::Text => {
            let text = String::from_utf8_lossy(payload);
            if text.chars().count() <= 200 {
                format!("text {text:?}")
            } else {
                let head: String = text.chars().take(60).collect();
                format!("text {head:?}… ({} bytes)", payload.len())
            }
        }
        OpCode::Binary => format!("binary {} bytes", payload.len()),
        OpCode::Ping => format!("ping {} bytes", payload.len()),
        OpCode::Pong => format!("pong {} bytes", payload.len()),
        OpCode::Close => match wsw::parse_close(payload) {
            Ok(Some((code, reason))) => format!(
                "close {code} ({}){}",
                wsw::close_code_name(code),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" {reason:?}")
                }
            ),
            _ => "close (no status)".to_string(),
        },
        other => format!("{} {} bytes", other.name(), payload.len()),
    }
}

/// A message as a line shows it: `text "hello"`, `binary 5 bytes`.
pub fn describe_message(m: &Message) -> String {
    match m {
        Message::Text(t) => describe(OpCode::Text, t.as_bytes()),
        Message::Binary(b) => describe(OpCode::Binary, b),
    }
}

/// A close as a line shows it: `close 1000 (Normal Closure)`.
pub fn describe_close(code: Option<u16>, reason: &str) -> String {
    match code {
        Some(c) if reason.is_empty() => format!("close {c} ({})", wsw::close_code_name(c)),
        Some(c) => format!("close {c} ({}) {reason:?}", wsw::close_code_name(c)),
        None => "close (no status code: 1005)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_messages() {
        assert_eq!(describe(OpCode::Text, b"hello"), "text \"hello\"");
        assert_eq!(describe(OpCode::Binary, &[0; 123]), "binary 123 bytes");
        assert_eq!(describe_message(&Message::Text("hi".into())), "text \"hi\"");
        assert_eq!(
            describe_close(Some(1000), ""),
            "close 1000 (Normal Closure)"
        );
        assert_eq!(describe_close(None, ""), "close (no status code: 1005)");
    }

    #[test]
    fn trace_line_shows_the_fields() {
        let f = Frame::text("hello").with_mask([1, 2, 3, 4]);
        assert_eq!(
            frame_line("→", &f),
            "→ frame FIN=1 RSV=000 opcode=0x1 (Text) MASK=1 len=5 (7-bit) key=01020304 \"hello\""
        );
    }
}
