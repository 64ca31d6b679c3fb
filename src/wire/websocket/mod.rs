//! WebSocket (RFC 6455): a message channel in both directions over one TCP connection,
//! opened by an HTTP/1.1 "Upgrade" handshake and then carried in small binary frames.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//! (RFC 6455 § 5.2.)
//!
//! What is here, all of it I/O-free and panic-free on any input:
//! - the opening handshake (§ 4): [`accept_key`], [`validate_client_request`] for a
//!   server, [`validate_server_response`] for a client, subprotocol and extension offers;
//! - frames (§ 5): [`FrameView`] (a zero-copy view that shows any frame, even a bad one),
//!   [`FrameHeader`] with [`parse_header`] / [`emit_header`], the protocol checks as
//!   [`FrameHeader::problems`] (each mapped to the close code to send), [`apply_mask`],
//!   and [`Frame`], an owned frame that encodes and decodes itself;
//! - close frames and codes (§ 5.5.1, § 7.4): [`parse_close`], [`close_payload`],
//!   [`close_code_is_valid_to_receive`];
//! - [`Utf8Validator`], an incremental UTF-8 check that fails on the first impossible
//!   byte, across fragment boundaries (§ 8.1);
//! - [`Assembler`], which turns a peer's frames into messages, pings, pongs and closes,
//!   or the protocol error to close the connection with (§ 5.4, § 7.1.7).
//!
//! The code is split as tungstenite splits its protocol: [`handshake`], [`frame`],
//! [`close`] (codes and UTF-8) and [`message`] (the assembler); every item is also here,
//! at `wire::websocket::…`.
//!
//! Imports (each file says which): `core`, `crate::wire` (field helpers, `http`),
//! `sha1`, `base64`.

pub mod close;
pub mod frame;
pub mod handshake;
pub mod message;

pub use close::{
    Utf8Error, Utf8Validator, close_code, close_code_is_valid_to_receive, close_code_name,
};
pub use frame::{
    Frame, FrameError, FrameHeader, FrameView, LEN_16_MARKER, LEN_64_MARKER, LengthForm,
    MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, MIN_HEADER_LEN, OpCode, PREVIEW_LEN, Role, Rules,
    apply_mask, bits, close_code_may_send, close_payload, emit_header, field, parse_close,
    parse_header,
};
pub use handshake::{
    ClientHandshake, ClientHandshakeError, Extension, GUID, ServerHandshake, ServerHandshakeError,
    VERSION, accept_key, client_key, client_request, parse_extensions, select_subprotocol,
    validate_client_request, validate_server_response,
};
pub use message::{Assembler, Event, Message};

fields! {
    FIN: Bool(
        "Fin",
        "websocket.fin",
        "set on the last frame of a message; a message may be split into several frames",
    );
    RSV: Num(
        "Reserved",
        "websocket.rsv",
        "RSV1–RSV3: must be 0 unless an extension gives them a meaning",
    );
    PMC: Bool(
        "Per-Message Compressed",
        "websocket.pmc",
        "RSV1 when permessage-deflate was agreed: this message's payload is compressed",
    );
    OPCODE: Num(
        "Opcode",
        "websocket.opcode",
        "what the payload is: 1 text, 2 binary, 0 a continuation; 8 close, 9 ping, 10 pong",
    );
    MASK: Bool(
        "Mask",
        "websocket.mask",
        "set when the payload is masked: every frame from a client is, none from a server",
    );
    PAYLOAD_LEN: Num(
        "Payload length",
        "websocket.payload_length",
        "7 bits: the length itself up to 125; 126 means a 16-bit length follows, 127 a 64-bit one",
    );
    PAYLOAD_LEN_EXT_16: Num(
        "Extended payload length (16 bits)",
        "websocket.payload_length_ext_16",
        "the payload length, for 126 to 65535 bytes",
    );
    PAYLOAD_LEN_EXT_64: Num(
        "Extended payload length (64 bits)",
        "websocket.payload_length_ext_64",
        "the payload length, from 65536 bytes up (its top bit must be 0)",
    );
    MASKING_KEY: Bytes(
        "Masking-Key",
        "websocket.masking_key",
        "4 random bytes XORed over the payload, so a client cannot make its bytes look like \
     another protocol to proxies on the way",
    );
    MASKED_PAYLOAD: Bytes(
        "Masked payload",
        "websocket.masked_payload",
        "the payload as sent: XORed with the masking key, byte i with key[i % 4]",
    );
    PAYLOAD: Group(
        "Payload",
        "websocket.payload",
        "the application's data (after unmasking)",
    );
    PAYLOAD_TEXT: Text(
        "Text",
        "",
        "a text message's payload: UTF-8, checked by the receiver",
    );
    PAYLOAD_CONTINUE: Bytes(
        "Continue",
        "websocket.payload.continue",
        "the next piece of a message begun by an earlier text or binary frame",
    );
    CLOSE_CODE: Num(
        "Status code",
        "websocket.payload.close.status_code",
        "why the connection closes: 1000 normal, 1001 going away, 1002 protocol error…",
    );
    CLOSE_REASON: Bytes(
        "Reason",
        "websocket.payload.close.reason",
        "words about the closure, UTF-8, for debugging; not for showing to users",
    );
    PING: Bytes(
        "Ping",
        "websocket.payload.ping",
        "a ping's payload: the peer must answer with a pong carrying the same bytes",
    );
    PONG: Bytes(
        "Pong",
        "websocket.payload.pong",
        "a pong's payload: the bytes of the ping it answers (or an unasked heartbeat)",
    );
    PAYLOAD_UNKNOWN: Bytes(
        "Unknown",
        "websocket.payload.unknown",
        "the payload of a reserved opcode, which no endpoint may send",
    );
}

#[cfg(test)]
mod tests {
    use super::close::tests::xorshift;
    use super::message::tests::decode_stream;
    use super::*;

    #[test]
    fn random_bytes_never_panic() {
        let mut s = 0x7765_6273_6f63_6b21;
        for round in 0..20_000 {
            let len = (xorshift(&mut s) % 40) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| xorshift(&mut s) as u8).collect();
            // Bias towards plausible headers.
            if round % 2 == 0 && buf.len() >= 2 {
                buf[0] &= 0x8f;
                buf[1] &= if round % 4 == 0 { 0x8f } else { 0xff };
            }
            let _ = parse_header(&buf);
            let _ = Frame::decode(&buf);
            if let Ok(v) = FrameView::new_checked(&buf[..]) {
                let h = v.header();
                let _ = (
                    v.payload(),
                    v.is_complete(),
                    v.payload_range(),
                    h.frame_len(),
                );
                let _ = h.problems(&Rules::from_client()).count();
                let _ = h.non_minimal_length();
            }
            for rules in [Rules::from_client(), Rules::from_server()] {
                let _ = decode_stream(&buf, rules, 16);
            }
            let _ = parse_close(&buf);
            let _ = parse_extensions(&String::from_utf8_lossy(&buf));
            let mut v = Utf8Validator::new();
            let _ = (v.feed(&buf), v.finish());
            let mut m = buf.clone();
            apply_mask(&mut m, [1, 2, 3, 4], round);
        }
    }
}
