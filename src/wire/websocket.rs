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
//! Imports: `std`, [`super::http`] for the handshake's messages, `sha1` and `base64` for
//! the accept key.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

use super::http::{self, Request, Response};
use super::{Field, need};

/// Byte ranges of the frame header's fields. The fixed part is two bytes; where the
/// masking key sits depends on which length form the frame uses.
pub mod field {
    use crate::wire::Field;
    /// FIN, RSV1–3 and the opcode share the first byte.
    pub const FIN_RSV_OPCODE: Field = 0..1;
    /// MASK and the 7-bit payload length share the second byte.
    pub const MASK_LEN: Field = 1..2;
    /// The 16-bit extended length, when the 7-bit length is 126.
    pub const EXT_LEN_16: Field = 2..4;
    /// The 64-bit extended length, when the 7-bit length is 127.
    pub const EXT_LEN_64: Field = 2..10;
    /// The masking key after a 7-bit length.
    pub const MASKING_KEY_SHORT: Field = 2..6;
    /// The masking key after a 16-bit extended length.
    pub const MASKING_KEY_EXT_16: Field = 4..8;
    /// The masking key after a 64-bit extended length.
    pub const MASKING_KEY_EXT_64: Field = 10..14;
    /// In a Close frame's payload: the status code (RFC 6455 § 5.5.1)…
    pub const CLOSE_CODE: Field = 0..2;
    /// …and the UTF-8 reason after it.
    pub const CLOSE_REASON: usize = 2;
}

/// Bit masks within the first two header bytes.
pub mod bits {
    pub const FIN: u8 = 0x80;
    pub const RSV1: u8 = 0x40;
    pub const RSV2: u8 = 0x20;
    pub const RSV3: u8 = 0x10;
    pub const RSV: u8 = 0x70;
    pub const OPCODE: u8 = 0x0f;
    pub const MASK: u8 = 0x80;
    pub const LEN: u8 = 0x7f;
}

/// The 7-bit length value that announces a 16-bit extended length.
pub const LEN_16_MARKER: u8 = 126;
/// The 7-bit length value that announces a 64-bit extended length.
pub const LEN_64_MARKER: u8 = 127;
/// The shortest header: an unmasked frame of at most 125 bytes.
pub const MIN_HEADER_LEN: usize = 2;
/// The longest header: 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 14;
/// "All control frames MUST have a payload length of 125 bytes or less" (RFC 6455 § 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// How many bytes of a frame's payload a trace line shows (the session keeps as many
/// of each received frame for it).
pub const PREVIEW_LEN: usize = 32;
/// The GUID the server appends to the client's key before hashing (RFC 6455 § 1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The protocol version of RFC 6455, sent in `Sec-WebSocket-Version`.
pub const VERSION: &str = "13";

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

// ---------------------------------------------------------------------------------------
// The opening handshake. RFC 6455 § 4.
// ---------------------------------------------------------------------------------------

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: base64 of the SHA-1 of the
/// key (as sent, not decoded) followed by [`GUID`]. RFC 6455 § 4.2.2 step 5.4.
pub fn accept_key(key_b64: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key_b64.as_bytes());
    sha.update(GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// A client's `Sec-WebSocket-Key` from 16 random bytes the caller draws (this module
/// has no randomness of its own). RFC 6455 § 4.1: "a randomly selected 16-byte value
/// that has been base64-encoded".
pub fn client_key(nonce: [u8; 16]) -> String {
    BASE64.encode(nonce)
}

/// The client's opening handshake for `ws://{host}{target}`. RFC 6455 § 4.1.
pub fn client_request(host: &str, target: &str, key: &str, protocols: &[&str]) -> Request {
    let mut req = Request::new("GET", target)
        .with_header(http::name::HOST, host)
        .with_header(http::name::UPGRADE, "websocket")
        .with_header(http::name::CONNECTION, "Upgrade")
        .with_header(http::name::SEC_WEBSOCKET_KEY, key)
        .with_header(http::name::SEC_WEBSOCKET_VERSION, VERSION);
    if !protocols.is_empty() {
        req.headers
            .push(http::name::SEC_WEBSOCKET_PROTOCOL, protocols.join(", "));
    }
    req
}

/// What was wrong with a client's opening handshake, and so which status the server
/// answers ([`ClientHandshakeError::status`], [`ClientHandshakeError::response`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHandshakeError {
    /// The method was not GET (RFC 6455 § 4.1: "The method of the request MUST be GET").
    NotGet { method: String },
    /// HTTP/1.0 or older: the handshake needs HTTP/1.1 or higher.
    OldHttp { version: http::Version },
    /// No `Host` field.
    NoHost,
    /// No `Upgrade` field listing `websocket` — often a plain HTTP request.
    NoUpgrade,
    /// No `Connection` field listing `Upgrade`.
    NoConnectionUpgrade,
    /// No `Sec-WebSocket-Key`.
    NoKey,
    /// `Sec-WebSocket-Key` more than once (§ 11.3.1 forbids it).
    DuplicateKey,
    /// A key that is not base64 of exactly 16 bytes.
    BadKey { why: &'static str },
    /// No `Sec-WebSocket-Version`.
    NoVersion,
    /// A version other than 13: answered with 426 and `Sec-WebSocket-Version: 13`
    /// (RFC 6455 § 4.4).
    UnsupportedVersion { got: String },
    /// A malformed `Sec-WebSocket-Protocol` list.
    BadProtocols { why: &'static str },
    /// A malformed `Sec-WebSocket-Extensions` offer.
    BadExtensions { why: &'static str },
}

impl ClientHandshakeError {
    /// The status to answer with: 426 Upgrade Required for an unsupported version,
    /// 400 Bad Request for everything else (RFC 6455 § 4.2.1: "an appropriate error code
    /// (such as 400 Bad Request)").
    pub fn status(&self) -> u16 {
        match self {
            ClientHandshakeError::UnsupportedVersion { .. } => 426,
            _ => 400,
        }
    }

    /// The whole response head to send: the status, `Connection: close`, an empty body,
    /// and for 426 the `Upgrade` field RFC 9110 § 15.5.22 requires and the versions this
    /// server speaks (RFC 6455 § 4.4).
    pub fn response(&self) -> Response {
        let mut resp = Response::new(self.status());
        if self.status() == 426 {
            resp.headers.push(http::name::UPGRADE, "websocket");
            resp.headers
                .push(http::name::SEC_WEBSOCKET_VERSION, VERSION);
        }
        resp.headers.push(http::name::CONNECTION, "close");
        resp.headers.push(http::name::CONTENT_LENGTH, "0");
        resp
    }
}

impl fmt::Display for ClientHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ClientHandshakeError::*;
        match self {
            NotGet { method } => write!(
                f,
                "a WebSocket handshake must use GET, not {method} (RFC 6455 § 4.1)"
            ),
            OldHttp { version } => write!(
                f,
                "a WebSocket handshake needs HTTP/1.1 or later, not {version} (RFC 6455 § 4.1)"
            ),
            NoHost => f.write_str("the request has no Host header field (RFC 6455 § 4.1)"),
            NoUpgrade => f.write_str(
                "no \"Upgrade: websocket\" header field: this is a plain HTTP request, not a \
                 WebSocket handshake",
            ),
            NoConnectionUpgrade => f.write_str(
                "the Connection header field does not list \"Upgrade\" (RFC 6455 § 4.1)",
            ),
            NoKey => f.write_str("no Sec-WebSocket-Key header field (RFC 6455 § 4.1)"),
            DuplicateKey => {
                f.write_str("Sec-WebSocket-Key appears more than once (RFC 6455 § 11.3.1)")
            }
            BadKey { why } => write!(f, "bad Sec-WebSocket-Key: {why}"),
            NoVersion => f.write_str("no Sec-WebSocket-Version header field (RFC 6455 § 4.1)"),
            UnsupportedVersion { got } => write!(
                f,
                "Sec-WebSocket-Version {got:?} is not supported; this server speaks 13 \
                 (RFC 6455 § 4.4)"
            ),
            BadProtocols { why } => write!(f, "bad Sec-WebSocket-Protocol: {why}"),
            BadExtensions { why } => write!(f, "bad Sec-WebSocket-Extensions: {why}"),
        }
    }
}

impl std::error::Error for ClientHandshakeError {}

/// One extension in a `Sec-WebSocket-Extensions` field, with its parameters.
/// RFC 6455 § 9.1: `extension = extension-token *( ";" extension-param )`,
/// `extension-param = token [ "=" (token | quoted-string) ]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub name: String,
    pub params: Vec<(String, Option<String>)>,
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (name, value) in &self.params {
            match value {
                Some(v) => write!(f, "; {name}={v}")?,
                None => write!(f, "; {name}")?,
            }
        }
        Ok(())
    }
}

/// Reads a `Sec-WebSocket-Extensions` value: a comma-separated list of extensions, each
/// with `;`-separated parameters. A quoted parameter value is unquoted, and must then be
/// a token (RFC 6455 § 9.1).
pub fn parse_extensions(value: &str) -> Result<Vec<Extension>, &'static str> {
    let b = value.as_bytes();
    let mut i = 0;
    let ows = |i: &mut usize| {
        while matches!(b.get(*i), Some(b' ' | b'\t')) {
            *i += 1;
        }
    };
    let token = |i: &mut usize| -> Option<String> {
        let start = *i;
        while b.get(*i).is_some_and(|&c| http::is_tchar(c)) {
            *i += 1;
        }
        (*i > start).then(|| value[start..*i].to_string())
    };
    let mut out = Vec::new();
    loop {
        // Empty list elements (", ,") are allowed and skipped (RFC 9110 § 5.6.1).
        while matches!(b.get(i), Some(b' ' | b'\t' | b',')) {
            i += 1;
        }
        if i >= b.len() {
            return Ok(out);
        }
        let name = token(&mut i).ok_or("an extension name must be a token")?;
        let mut params = Vec::new();
        ows(&mut i);
        while b.get(i) == Some(&b';') {
            i += 1;
            ows(&mut i);
            let pname = token(&mut i).ok_or("a parameter name must be a token")?;
            ows(&mut i);
            let mut pvalue = None;
            if b.get(i) == Some(&b'=') {
                i += 1;
                ows(&mut i);
                let v = if b.get(i) == Some(&b'"') {
                    i += 1;
                    let mut v = String::new();
                    loop {
                        match b.get(i) {
                            None => return Err("a quoted parameter value is not closed"),
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            Some(b'\\') if i + 1 < b.len() => {
                                v.push(char::from(b[i + 1]));
                                i += 2;
                            }
                            Some(&c) => {
                                v.push(char::from(c));
                                i += 1;
                            }
                        }
                    }
                    if !http::is_token(&v) {
                        return Err("a quoted parameter value must be a token once unquoted");
                    }
                    v
                } else {
                    token(&mut i).ok_or("a parameter value must be a token or quoted")?
                };
                pvalue = Some(v);
                ows(&mut i);
            }
            params.push((pname, pvalue));
        }
        match b.get(i) {
            None | Some(b',') => out.push(Extension { name, params }),
            Some(_) => return Err("expected \",\" or \";\" after an extension"),
        }
    }
}

/// The subprotocol a server picks: the first of `supported` (in the server's order of
/// preference) that the client offered. Names match exactly, case included.
/// RFC 6455 § 4.2.2: the server selects "one or none of the acceptable protocols".
pub fn select_subprotocol<'a>(offered: &[String], supported: &[&'a str]) -> Option<&'a str> {
    supported
        .iter()
        .copied()
        .find(|s| offered.iter().any(|o| o == s))
}

/// A valid client handshake, read by [`validate_client_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHandshake {
    /// The request-target: the WebSocket's path and query.
    pub target: String,
    pub host: String,
    /// Set by browsers: the page's origin, which a server may check.
    pub origin: Option<String>,
    pub key: String,
    /// [`accept_key`] of `key`, for the 101 response.
    pub accept: String,
    /// Subprotocols offered, in the client's order.
    pub protocols: Vec<String>,
    /// Extensions offered, in the client's order.
    pub extensions: Vec<Extension>,
}

impl ClientHandshake {
    /// Whether the client offered the extension `name` (e.g. `permessage-deflate`).
    pub fn offers_extension(&self, name: &str) -> bool {
        self.extensions
            .iter()
            .any(|e| e.name.eq_ignore_ascii_case(name))
    }

    /// The server's 101 Switching Protocols with `protocol` chosen (see
    /// [`select_subprotocol`]). Offered extensions are declined by not echoing them
    /// (RFC 6455 § 9.1): after this response no extension is in use.
    pub fn accept_response(&self, protocol: Option<&str>) -> Response {
        let mut resp = Response::new(101)
            .with_header(http::name::UPGRADE, "websocket")
            .with_header(http::name::CONNECTION, "Upgrade")
            .with_header(http::name::SEC_WEBSOCKET_ACCEPT, self.accept.clone());
        if let Some(p) = protocol {
            resp.headers.push(http::name::SEC_WEBSOCKET_PROTOCOL, p);
        }
        resp
    }
}

/// Checks a client's opening handshake as a server must (RFC 6455 § 4.2.1): GET,
/// HTTP/1.1 or later, `Host`, `Upgrade: websocket` and `Connection: Upgrade` (tokens,
/// any case), a `Sec-WebSocket-Key` that is base64 of 16 bytes, and
/// `Sec-WebSocket-Version: 13`.
pub fn validate_client_request(req: &Request) -> Result<ClientHandshake, ClientHandshakeError> {
    use ClientHandshakeError::*;
    use http::name;
    let h = &req.headers;
    if req.method != "GET" {
        return Err(NotGet {
            method: req.method.clone(),
        });
    }
    if req.version < http::Version::HTTP_1_1 {
        return Err(OldHttp {
            version: req.version,
        });
    }
    let host = h.get(name::HOST).ok_or(NoHost)?.to_string();
    if !h.has_token(name::UPGRADE, "websocket") {
        return Err(NoUpgrade);
    }
    if !h.has_token(name::CONNECTION, "Upgrade") {
        return Err(NoConnectionUpgrade);
    }
    let key = match h.count(name::SEC_WEBSOCKET_KEY) {
        0 => return Err(NoKey),
        1 => h.get(name::SEC_WEBSOCKET_KEY).unwrap_or_default(),
        _ => return Err(DuplicateKey),
    };
    match BASE64.decode(key) {
        Ok(nonce) if nonce.len() == 16 => {}
        Ok(_) => {
            return Err(BadKey {
                why: "it must be base64 of exactly 16 bytes (24 characters ending in ==)",
            });
        }
        Err(_) => {
            return Err(BadKey {
                why: "it is not valid base64",
            });
        }
    }
    let versions: Vec<&str> = h.get_all(name::SEC_WEBSOCKET_VERSION).collect();
    match versions.as_slice() {
        [] => return Err(NoVersion),
        [v] if *v == VERSION => {}
        _ => {
            return Err(UnsupportedVersion {
                got: versions.join(", "),
            });
        }
    }
    let mut protocols: Vec<String> = Vec::new();
    for p in h.list(name::SEC_WEBSOCKET_PROTOCOL) {
        if !http::is_token(p) {
            return Err(BadProtocols {
                why: "each subprotocol must be a token (no spaces, quotes or separators)",
            });
        }
        if protocols.iter().any(|q| q == p) {
            return Err(BadProtocols {
                why: "a subprotocol is listed twice (RFC 6455 § 4.1: they MUST be unique)",
            });
        }
        protocols.push(p.to_string());
    }
    let mut extensions = Vec::new();
    for v in h.get_all(name::SEC_WEBSOCKET_EXTENSIONS) {
        extensions.extend(parse_extensions(v).map_err(|why| BadExtensions { why })?);
    }
    Ok(ClientHandshake {
        target: req.target.clone(),
        host,
        origin: h.get(name::ORIGIN).map(str::to_string),
        key: key.to_string(),
        accept: accept_key(key),
        protocols,
        extensions,
    })
}

/// What was wrong with a server's answer to the client's handshake. Every case means the
/// client must fail the connection (RFC 6455 § 4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerHandshakeError {
    /// The status was not 101: e.g. 400 or 426 (the server refused), 401 (needs
    /// authentication), 3xx (redirect), 200 (not a WebSocket server at all).
    NotSwitching {
        status: u16,
        reason: String,
    },
    NoUpgrade,
    NoConnectionUpgrade,
    NoAccept,
    /// `Sec-WebSocket-Accept` is not the hash of the key this client sent.
    WrongAccept {
        expected: String,
        got: String,
    },
    /// A subprotocol the client did not offer (or several).
    UnrequestedProtocol {
        protocol: String,
    },
    /// An extension the client did not offer.
    UnrequestedExtension {
        name: String,
    },
    BadExtensions {
        why: &'static str,
    },
}

impl fmt::Display for ServerHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ServerHandshakeError::*;
        match self {
            NotSwitching { status, reason } => write!(
                f,
                "the server answered {status} {reason}, not 101 Switching Protocols"
            ),
            NoUpgrade => f.write_str("the 101 response has no \"Upgrade: websocket\""),
            NoConnectionUpgrade => f.write_str("the 101 response has no \"Connection: Upgrade\""),
            NoAccept => f.write_str("the 101 response has no Sec-WebSocket-Accept"),
            WrongAccept { expected, got } => write!(
                f,
                "Sec-WebSocket-Accept is {got:?}, but the key sent hashes to {expected:?} \
                 (RFC 6455 § 4.1)"
            ),
            UnrequestedProtocol { protocol } => write!(
                f,
                "the server chose subprotocol {protocol:?}, which the client did not offer"
            ),
            UnrequestedExtension { name } => write!(
                f,
                "the server uses extension {name:?}, which the client did not offer"
            ),
            BadExtensions { why } => write!(f, "bad Sec-WebSocket-Extensions: {why}"),
        }
    }
}

impl std::error::Error for ServerHandshakeError {}

/// What the server agreed to, read by [`validate_server_response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHandshake {
    pub protocol: Option<String>,
    pub extensions: Vec<Extension>,
}

/// Checks the server's answer as a client must (RFC 6455 § 4.1): status 101,
/// `Upgrade: websocket`, `Connection: Upgrade`, the accept value matching `key` (the key
/// this client sent), and no subprotocol or extension the client did not offer.
pub fn validate_server_response(
    resp: &Response,
    key: &str,
    offered_protocols: &[&str],
    offered_extensions: &[&str],
) -> Result<ServerHandshake, ServerHandshakeError> {
    use ServerHandshakeError::*;
    use http::name;
    let h = &resp.headers;
    if resp.status != 101 {
        return Err(NotSwitching {
            status: resp.status,
            reason: resp.reason.clone(),
        });
    }
    if !h.has_token(name::UPGRADE, "websocket") {
        return Err(NoUpgrade);
    }
    if !h.has_token(name::CONNECTION, "Upgrade") {
        return Err(NoConnectionUpgrade);
    }
    let got = h.get(name::SEC_WEBSOCKET_ACCEPT).ok_or(NoAccept)?;
    let expected = accept_key(key);
    if got != expected {
        return Err(WrongAccept {
            expected,
            got: got.to_string(),
        });
    }
    let chosen: Vec<&str> = h.list(name::SEC_WEBSOCKET_PROTOCOL).collect();
    let protocol = match chosen.as_slice() {
        [] => None,
        [p] if offered_protocols.contains(p) => Some(p.to_string()),
        _ => {
            return Err(UnrequestedProtocol {
                protocol: chosen.join(", "),
            });
        }
    };
    let mut extensions = Vec::new();
    for v in h.get_all(name::SEC_WEBSOCKET_EXTENSIONS) {
        for e in parse_extensions(v).map_err(|why| BadExtensions { why })? {
            if !offered_extensions
                .iter()
                .any(|o| o.eq_ignore_ascii_case(&e.name))
            {
                return Err(UnrequestedExtension { name: e.name });
            }
            extensions.push(e);
        }
    }
    Ok(ServerHandshake {
        protocol,
        extensions,
    })
}

// ---------------------------------------------------------------------------------------
// Frames. RFC 6455 § 5.
// ---------------------------------------------------------------------------------------

/// Which end of the connection: the rules for masking and close codes depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Client,
    Server,
}

impl Role {
    /// The other end.
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

/// A frame's opcode (RFC 6455 § 5.2, § 11.8). 3–7 are reserved for further data frames,
/// 0xB–0xF for further control frames: an unknown one is kept, not an error, so it can be
/// shown; [`FrameHeader::problems`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    Reserved(u8),
}

impl From<u8> for OpCode {
    /// The low four bits of `v`.
    fn from(v: u8) -> Self {
        match v & bits::OPCODE {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            n => OpCode::Reserved(n),
        }
    }
}

impl From<OpCode> for u8 {
    fn from(op: OpCode) -> u8 {
        match op {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
            OpCode::Reserved(n) => n & bits::OPCODE,
        }
    }
}

impl OpCode {
    /// Control frames (close, ping, pong and the reserved 0xB–0xF) have the opcode's top
    /// bit set (RFC 6455 § 5.5).
    pub fn is_control(self) -> bool {
        u8::from(self) & 0x8 != 0
    }
    pub fn is_reserved(self) -> bool {
        matches!(self, OpCode::Reserved(_))
    }
    pub fn name(self) -> &'static str {
        match self {
            OpCode::Continuation => "Continuation",
            OpCode::Text => "Text",
            OpCode::Binary => "Binary",
            OpCode::Close => "Connection Close",
            OpCode::Ping => "Ping",
            OpCode::Pong => "Pong",
            OpCode::Reserved(n) if n & 0x8 != 0 => "Reserved (control)",
            OpCode::Reserved(_) => "Reserved (data)",
        }
    }
}

/// Which of the three encodings of the payload length a header uses (RFC 6455 § 5.2):
/// the length in the 7-bit field (0–125), 126 and a 16-bit length, or 127 and a 64-bit
/// length. "The minimal number of bytes MUST be used to encode the length."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LengthForm {
    Short,
    Ext16,
    Ext64,
}

impl LengthForm {
    /// The form a sender must use for `len`.
    pub const fn minimal(len: u64) -> LengthForm {
        if len <= 125 {
            LengthForm::Short
        } else if len <= 0xffff {
            LengthForm::Ext16
        } else {
            LengthForm::Ext64
        }
    }
    /// Bytes of extended length after the first two header bytes.
    pub const fn ext_len(self) -> usize {
        match self {
            LengthForm::Short => 0,
            LengthForm::Ext16 => 2,
            LengthForm::Ext64 => 8,
        }
    }
    /// Where the extended length sits, if there is one.
    pub fn ext_field(self) -> Option<Field> {
        match self {
            LengthForm::Short => None,
            LengthForm::Ext16 => Some(field::EXT_LEN_16),
            LengthForm::Ext64 => Some(field::EXT_LEN_64),
        }
    }
    /// Where the masking key sits when the frame is masked.
    pub fn masking_key_field(self) -> Field {
        match self {
            LengthForm::Short => field::MASKING_KEY_SHORT,
            LengthForm::Ext16 => field::MASKING_KEY_EXT_16,
            LengthForm::Ext64 => field::MASKING_KEY_EXT_64,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            LengthForm::Short => "7-bit",
            LengthForm::Ext16 => "7+16-bit",
            LengthForm::Ext64 => "7+64-bit",
        }
    }
}

/// A frame header, parsed or to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Last frame of its message.
    pub fin: bool,
    /// RSV1–RSV3 as a 3-bit number: RSV1 is 0b100, RSV3 0b001 (Wireshark's
    /// `websocket.rsv`).
    pub rsv: u8,
    pub opcode: OpCode,
    /// Present exactly when the MASK bit is set.
    pub masking_key: Option<[u8; 4]>,
    pub payload_len: u64,
    /// How the length was written in a parsed header. [`emit_header`] always writes the
    /// minimal form and ignores this.
    pub length_form: LengthForm,
}

impl FrameHeader {
    /// The header's fields in one line, as a trace shows them:
    /// `FIN=1 RSV=000 opcode=0x1 (Text) MASK=1 len=5 (7-bit) key=37fa213d`.
    pub fn summary(&self) -> String {
        let key = match self.masking_key {
            Some(k) => format!(" key={:02x}{:02x}{:02x}{:02x}", k[0], k[1], k[2], k[3]),
            None => String::new(),
        };
        format!(
            "FIN={} RSV={:03b} opcode={:#x} ({}) MASK={} len={} ({}){key}",
            u8::from(self.fin),
            self.rsv,
            u8::from(self.opcode),
            self.opcode.name(),
            u8::from(self.masked()),
            self.payload_len,
            self.length_form.name(),
        )
    }
}

impl FrameHeader {
    /// A header for `payload_len` bytes, in the minimal length form, RSV bits clear.
    pub fn new(
        fin: bool,
        opcode: OpCode,
        payload_len: u64,
        masking_key: Option<[u8; 4]>,
    ) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            masking_key,
            payload_len,
            length_form: LengthForm::minimal(payload_len),
        }
    }
    /// Header bytes in [`Self::length_form`].
    pub fn header_len(&self) -> usize {
        MIN_HEADER_LEN + self.length_form.ext_len() + if self.masked() { 4 } else { 0 }
    }
    pub fn masked(&self) -> bool {
        self.masking_key.is_some()
    }
    pub fn is_control(&self) -> bool {
        self.opcode.is_control()
    }
    /// Header and payload bytes, if that fits in a `usize`.
    pub fn frame_len(&self) -> Option<usize> {
        usize::try_from(self.payload_len)
            .ok()?
            .checked_add(self.header_len())
    }
    /// Where the masking key sits, if the frame is masked.
    pub fn masking_key_field(&self) -> Option<Field> {
        self.masked().then(|| self.length_form.masking_key_field())
    }
    /// The minimal length form when the header used a longer one. RFC 6455 § 5.2 makes
    /// the minimal form a sender's duty; receivers commonly accept the longer ones, and
    /// so does netlab — but shows it.
    pub fn non_minimal_length(&self) -> Option<LengthForm> {
        let minimal = LengthForm::minimal(self.payload_len);
        (minimal != self.length_form).then_some(minimal)
    }

    /// Every rule of RFC 6455 § 5 this header breaks, for a frame sent under `rules`.
    /// A dissector shows them all; an endpoint fails the connection on the first
    /// ([`Self::validate`]) with [`FrameError::close_code`].
    pub fn problems(&self, rules: &Rules) -> impl Iterator<Item = FrameError> + use<> {
        let unexpected_rsv = self.rsv & 0b111 & !rules.allowed_rsv;
        let control = self.is_control();
        let found = [
            (unexpected_rsv != 0).then_some(FrameError::ReservedBits {
                rsv: unexpected_rsv,
            }),
            match self.opcode {
                OpCode::Reserved(opcode) => Some(FrameError::ReservedOpcode { opcode }),
                _ => None,
            },
            (control && !self.fin).then_some(FrameError::ControlFragmented),
            (control && self.payload_len > MAX_CONTROL_PAYLOAD as u64).then_some(
                FrameError::ControlTooLong {
                    len: self.payload_len,
                },
            ),
            (self.payload_len >> 63 != 0).then_some(FrameError::LengthMsbSet),
            match (rules.sender, self.masked()) {
                (Role::Client, false) => Some(FrameError::UnmaskedFromClient),
                (Role::Server, true) => Some(FrameError::MaskedFromServer),
                _ => None,
            },
        ];
        found.into_iter().flatten()
    }

    /// The first of [`Self::problems`], if any.
    pub fn validate(&self, rules: &Rules) -> Result<(), FrameError> {
        match self.problems(rules).next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What the frames of one direction must obey: who sends them (clients mask, servers do
/// not) and which RSV bits an agreed extension has given a meaning (none without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub sender: Role,
    /// RSV bits allowed, as in [`FrameHeader::rsv`] (0b100 = RSV1).
    pub allowed_rsv: u8,
}

impl Rules {
    /// Frames a server receives.
    pub const fn from_client() -> Rules {
        Rules {
            sender: Role::Client,
            allowed_rsv: 0,
        }
    }
    /// Frames a client receives.
    pub const fn from_server() -> Rules {
        Rules {
            sender: Role::Server,
            allowed_rsv: 0,
        }
    }
}

/// A breach of RFC 6455 in a frame or message: each one fails the connection with the
/// close code [`FrameError::close_code`] gives (§ 7.1.7, § 7.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameError {
    /// RSV bits set that no agreed extension defines (§ 5.2).
    ReservedBits { rsv: u8 },
    /// An opcode reserved for the future (§ 5.2).
    ReservedOpcode { opcode: u8 },
    /// A control frame without FIN (§ 5.5: "Control frames ... MUST NOT be fragmented").
    ControlFragmented,
    /// A control frame with more than 125 bytes of payload (§ 5.5).
    ControlTooLong { len: u64 },
    /// A 64-bit length with its top bit set (§ 5.2: "the most significant bit MUST be 0").
    LengthMsbSet,
    /// A client frame without a mask (§ 5.1: the server MUST close the connection).
    UnmaskedFromClient,
    /// A server frame with a mask (§ 5.1: the client MUST close the connection).
    MaskedFromServer,
    /// A continuation frame with no message begun (§ 5.4).
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished (§ 5.4).
    ExpectedContinuation,
    /// The message would exceed the receiver's limit (1009, § 7.4.1).
    MessageTooBig { len: u64, max: u64 },
    /// A text message that is not UTF-8; `at` counts bytes from the message's start
    /// (1007, § 8.1).
    InvalidUtf8 { at: u64 },
    /// A close payload of one byte: a code needs two (§ 5.5.1).
    CloseTooShort,
    /// A close code that may not be sent (§ 7.4).
    InvalidCloseCode { code: u16 },
    /// A close reason that is not UTF-8 (1007, § 5.5.1).
    InvalidCloseReason,
    /// Not the peer's fault: a new frame was fed to the [`Assembler`] before the
    /// previous frame's payload was complete, which the wire cannot do (1011).
    PayloadIncomplete { missing: u64 },
}

impl FrameError {
    /// The status code of the Close frame to send (RFC 6455 § 7.4.1): 1009 for a message
    /// too big, 1007 for text that is not UTF-8, 1011 for an internal error, else 1002
    /// (protocol error).
    pub fn close_code(&self) -> u16 {
        match self {
            FrameError::MessageTooBig { .. } => close_code::MESSAGE_TOO_BIG,
            FrameError::InvalidUtf8 { .. } | FrameError::InvalidCloseReason => {
                close_code::INVALID_PAYLOAD
            }
            FrameError::PayloadIncomplete { .. } => close_code::INTERNAL_ERROR,
            _ => close_code::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FrameError::*;
        match self {
            ReservedBits { rsv } => write!(
                f,
                "reserved bits set (RSV {rsv:03b}) without an extension that defines them \
                 (RFC 6455 § 5.2)"
            ),
            ReservedOpcode { opcode } => {
                write!(f, "opcode {opcode:#x} is reserved (RFC 6455 § 5.2)")
            }
            ControlFragmented => f.write_str(
                "a control frame (close, ping, pong) without FIN: control frames must not \
                 be fragmented (RFC 6455 § 5.5)",
            ),
            ControlTooLong { len } => write!(
                f,
                "a control frame with {len} bytes of payload: at most 125 are allowed \
                 (RFC 6455 § 5.5)"
            ),
            LengthMsbSet => f.write_str(
                "the 64-bit payload length has its most significant bit set, which must be 0 \
                 (RFC 6455 § 5.2)",
            ),
            UnmaskedFromClient => f.write_str(
                "a frame from the client is not masked: clients must mask every frame \
                 (RFC 6455 § 5.1)",
            ),
            MaskedFromServer => f.write_str(
                "a frame from the server is masked: servers must not mask (RFC 6455 § 5.1)",
            ),
            UnexpectedContinuation => f.write_str(
                "a continuation frame, but no fragmented message has begun (RFC 6455 § 5.4)",
            ),
            ExpectedContinuation => f.write_str(
                "a new text or binary frame before the fragmented message before it ended: \
                 a continuation frame was expected (RFC 6455 § 5.4)",
            ),
            MessageTooBig { len, max } => write!(
                f,
                "a message of at least {len} bytes, more than the {max} this endpoint accepts"
            ),
            InvalidUtf8 { at } => write!(
                f,
                "a text message that is not valid UTF-8 (at byte {at} of the message; \
                 RFC 6455 § 8.1)"
            ),
            CloseTooShort => f.write_str(
                "a close frame with a 1-byte payload: the status code needs 2 bytes \
                 (RFC 6455 § 5.5.1)",
            ),
            InvalidCloseCode { code } => write!(
                f,
                "close code {code} may not be sent on the wire (RFC 6455 § 7.4)"
            ),
            InvalidCloseReason => {
                f.write_str("the close reason is not valid UTF-8 (RFC 6455 § 5.5.1)")
            }
            PayloadIncomplete { missing } => write!(
                f,
                "a new frame began while {missing} payload bytes of the previous frame were \
                 missing (a bug in the caller)"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// Reads every header field from `buf` without judging any: `None` if the header is not
/// complete yet.
fn read_header(buf: &[u8]) -> Option<FrameHeader> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let len7 = b1 & bits::LEN;
    let (length_form, payload_len) = match len7 {
        LEN_16_MARKER => {
            let b = buf.get(field::EXT_LEN_16)?;
            (
                LengthForm::Ext16,
                u64::from(u16::from_be_bytes([b[0], b[1]])),
            )
        }
        LEN_64_MARKER => {
            let mut b = [0u8; 8];
            b.copy_from_slice(buf.get(field::EXT_LEN_64)?);
            (LengthForm::Ext64, u64::from_be_bytes(b))
        }
        n => (LengthForm::Short, u64::from(n)),
    };
    let masking_key = if b1 & bits::MASK != 0 {
        let mut k = [0u8; 4];
        k.copy_from_slice(buf.get(length_form.masking_key_field())?);
        Some(k)
    } else {
        None
    };
    Some(FrameHeader {
        fin: b0 & bits::FIN != 0,
        rsv: (b0 & bits::RSV) >> 4,
        opcode: OpCode::from(b0),
        masking_key,
        payload_len,
        length_form,
    })
}

/// Reads a frame header from the front of `buf`: `Ok(None)` while it is incomplete,
/// else the header and its length (the payload starts there). The one thing refused
/// here is a 64-bit length with its top bit set (RFC 6455 § 5.2), which cannot be a real
/// length; all other rules depend on context and are [`FrameHeader::problems`].
pub fn parse_header(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
    // Fail as soon as the 64-bit length is in, before the masking key.
    if buf.get(1).is_some_and(|b| b & bits::LEN == LEN_64_MARKER)
        && buf
            .get(field::EXT_LEN_64.start)
            .is_some_and(|b| b & 0x80 != 0)
    {
        return Err(FrameError::LengthMsbSet);
    }
    Ok(read_header(buf).map(|h| {
        let n = h.header_len();
        (h, n)
    }))
}

/// Writes `h` to the front of `buf` in the minimal length form and returns the bytes
/// written (2 to 14); an error, with nothing written, if `buf` is shorter.
pub fn emit_header(h: &FrameHeader, buf: &mut [u8]) -> super::Result<usize> {
    let form = LengthForm::minimal(h.payload_len);
    let n = MIN_HEADER_LEN + form.ext_len() + if h.masked() { 4 } else { 0 };
    need(buf, n)?;
    buf[0] = if h.fin { bits::FIN } else { 0 }
        | ((h.rsv & 0b111) << 4)
        | (u8::from(h.opcode) & bits::OPCODE);
    let mask = if h.masked() { bits::MASK } else { 0 };
    match form {
        LengthForm::Short => buf[1] = mask | h.payload_len as u8,
        LengthForm::Ext16 => {
            buf[1] = mask | LEN_16_MARKER;
            buf[field::EXT_LEN_16].copy_from_slice(&(h.payload_len as u16).to_be_bytes());
        }
        LengthForm::Ext64 => {
            buf[1] = mask | LEN_64_MARKER;
            buf[field::EXT_LEN_64].copy_from_slice(&h.payload_len.to_be_bytes());
        }
    }
    if let Some(key) = h.masking_key {
        buf[form.masking_key_field()].copy_from_slice(&key);
    }
    Ok(n)
}

/// XORs `data` with the masking key, as the sender masks and the receiver unmasks
/// (RFC 6455 § 5.3: byte i of the payload with `key[i % 4]`). `offset` is the position
/// of `data[0]` in the payload, so a payload can be unmasked piece by piece as it
/// arrives. Eight bytes at a time.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    let mut k = key;
    k.rotate_left(offset % 4);
    let wide = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    let (chunks, rest) = data.as_chunks_mut::<8>();
    for c in chunks {
        *c = (u64::from_ne_bytes(*c) ^ wide).to_ne_bytes();
    }
    // `rest` starts at a multiple of 8, so the key lines up again at k[0].
    for (b, m) in rest.iter_mut().zip(k.iter().cycle()) {
        *b ^= m;
    }
}

/// A view of one frame at the start of a buffer, for showing any frame as sent — also a
/// bad one. After [`FrameView::check_len`] (the header is complete) no accessor panics;
/// the payload accessors give what the buffer holds of the payload (see
/// [`FrameView::is_complete`]).
#[derive(Debug, Clone)]
pub struct FrameView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> FrameView<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        FrameView { buffer }
    }
    pub fn new_checked(buffer: T) -> super::Result<Self> {
        let v = Self::new_unchecked(buffer);
        v.check_len()?;
        Ok(v)
    }
    /// Checks that the buffer holds the whole header.
    pub fn check_len(&self) -> super::Result<()> {
        let b = self.buffer.as_ref();
        need(b, MIN_HEADER_LEN)?;
        need(b, self.header_len())
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn fin(&self) -> bool {
        self.b()[0] & bits::FIN != 0
    }
    /// RSV1–RSV3 as a 3-bit number (RSV1 = 0b100).
    pub fn rsv(&self) -> u8 {
        (self.b()[0] & bits::RSV) >> 4
    }
    pub fn opcode(&self) -> OpCode {
        OpCode::from(self.b()[0])
    }
    pub fn masked(&self) -> bool {
        self.b()[1] & bits::MASK != 0
    }
    /// The 7-bit length field as sent (126 and 127 announce an extended length).
    pub fn len7(&self) -> u8 {
        self.b()[1] & bits::LEN
    }
    pub fn length_form(&self) -> LengthForm {
        match self.len7() {
            LEN_16_MARKER => LengthForm::Ext16,
            LEN_64_MARKER => LengthForm::Ext64,
            _ => LengthForm::Short,
        }
    }
    pub fn header_len(&self) -> usize {
        let b = self.b();
        let Some(&b1) = b.get(1) else {
            return MIN_HEADER_LEN;
        };
        let form = match b1 & bits::LEN {
            LEN_16_MARKER => LengthForm::Ext16,
            LEN_64_MARKER => LengthForm::Ext64,
            _ => LengthForm::Short,
        };
        MIN_HEADER_LEN + form.ext_len() + if b1 & bits::MASK != 0 { 4 } else { 0 }
    }
    pub fn payload_len(&self) -> u64 {
        self.header().payload_len
    }
    pub fn masking_key(&self) -> Option<[u8; 4]> {
        self.header().masking_key
    }
    /// The header as a [`FrameHeader`], whatever rule it breaks.
    pub fn header(&self) -> FrameHeader {
        read_header(self.b()).unwrap_or(FrameHeader::new(false, OpCode::Continuation, 0, None))
    }
    /// Whether the buffer holds the whole payload.
    pub fn is_complete(&self) -> bool {
        self.header()
            .frame_len()
            .is_some_and(|n| n <= self.b().len())
    }
    /// The payload's place in the buffer, cut at the buffer's end.
    pub fn payload_range(&self) -> Field {
        let b = self.b();
        let start = self.header_len().min(b.len());
        let len = usize::try_from(self.payload_len()).unwrap_or(usize::MAX);
        start..start.saturating_add(len).min(b.len())
    }
    /// The payload as sent (still masked if the frame is masked), as far as the buffer
    /// holds it.
    pub fn raw_payload(&self) -> &[u8] {
        &self.b()[self.payload_range()]
    }
    /// The payload unmasked, as far as the buffer holds it.
    pub fn payload(&self) -> Vec<u8> {
        let mut p = self.raw_payload().to_vec();
        if let Some(key) = self.masking_key() {
            apply_mask(&mut p, key, 0);
        }
        p
    }
}

/// A whole frame with its payload unmasked: the easy way to build and read frames when
/// copying the payload does not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    /// RSV bits, as in [`FrameHeader::rsv`].
    pub rsv: u8,
    pub opcode: OpCode,
    /// Unmasked: [`Frame::encode`] masks a copy when `masking_key` is set.
    pub payload: Vec<u8>,
    pub masking_key: Option<[u8; 4]>,
}

impl Frame {
    /// A final, unmasked frame.
    pub fn new(opcode: OpCode, payload: impl Into<Vec<u8>>) -> Frame {
        Frame {
            fin: true,
            rsv: 0,
            opcode,
            payload: payload.into(),
            masking_key: None,
        }
    }
    pub fn text(text: &str) -> Frame {
        Frame::new(OpCode::Text, text.as_bytes())
    }
    pub fn binary(data: impl Into<Vec<u8>>) -> Frame {
        Frame::new(OpCode::Binary, data)
    }
    pub fn ping(data: impl Into<Vec<u8>>) -> Frame {
        Frame::new(OpCode::Ping, data)
    }
    pub fn pong(data: impl Into<Vec<u8>>) -> Frame {
        Frame::new(OpCode::Pong, data)
    }
    /// A close frame: empty without a code, else the code and as much of `reason` as
    /// fits (see [`close_payload`]).
    pub fn close(code: Option<u16>, reason: &str) -> Frame {
        let payload = code.map(|c| close_payload(c, reason)).unwrap_or_default();
        Frame::new(OpCode::Close, payload)
    }
    /// The same frame with FIN set or clear (clear: more fragments follow).
    pub fn with_fin(self, fin: bool) -> Frame {
        Frame { fin, ..self }
    }
    /// The same frame masked with `key`, as a client sends it (RFC 6455 § 5.3: the key
    /// must be fresh and unpredictable for every frame; the caller draws it).
    pub fn with_mask(self, key: [u8; 4]) -> Frame {
        Frame {
            masking_key: Some(key),
            ..self
        }
    }
    pub fn header(&self) -> FrameHeader {
        FrameHeader {
            rsv: self.rsv,
            ..FrameHeader::new(
                self.fin,
                self.opcode,
                self.payload.len() as u64,
                self.masking_key,
            )
        }
    }
    /// Bytes [`Frame::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        self.header().header_len() + self.payload.len()
    }
    /// Appends the frame as sent to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut head = [0u8; MAX_HEADER_LEN];
        // A 14-byte buffer holds every header, so this cannot fail.
        let n = emit_header(&self.header(), &mut head).unwrap_or(0);
        out.extend_from_slice(&head[..n]);
        let start = out.len();
        out.extend_from_slice(&self.payload);
        if let Some(key) = self.masking_key {
            apply_mask(&mut out[start..], key, 0);
        }
    }
    /// The frame as sent.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }
    /// Reads one whole frame from the front of `buf`, unmasking its payload: `Ok(None)`
    /// until the whole frame is there, else the frame and its length on the wire. Only
    /// [`parse_header`]'s check is made; see [`FrameHeader::problems`] for the others.
    pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        let Some((h, hl)) = parse_header(buf)? else {
            return Ok(None);
        };
        let Some(total) = h.frame_len() else {
            return Ok(None);
        };
        let Some(raw) = buf.get(hl..total) else {
            return Ok(None);
        };
        let mut payload = raw.to_vec();
        if let Some(key) = h.masking_key {
            apply_mask(&mut payload, key, 0);
        }
        let frame = Frame {
            fin: h.fin,
            rsv: h.rsv,
            opcode: h.opcode,
            payload,
            masking_key: h.masking_key,
        };
        Ok(Some((frame, total)))
    }
}

// ---------------------------------------------------------------------------------------
// Close frames. RFC 6455 § 5.5.1, § 7.4.
// ---------------------------------------------------------------------------------------

/// Close status codes: RFC 6455 § 7.4.1 and the IANA "WebSocket Close Code Number
/// Registry" (1012–1014 were registered after the RFC).
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Reserved; never sent.
    pub const RESERVED: u16 = 1004;
    /// "No status received": what an API reports for a close frame without a code;
    /// never sent.
    pub const NO_STATUS: u16 = 1005;
    /// "Abnormal closure": what an API reports when the connection dropped without a
    /// close frame; never sent.
    pub const ABNORMAL: u16 = 1006;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const MANDATORY_EXTENSION: u16 = 1010;
    pub const INTERNAL_ERROR: u16 = 1011;
    pub const SERVICE_RESTART: u16 = 1012;
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const BAD_GATEWAY: u16 = 1014;
    /// "TLS handshake failed": what an API reports; never sent.
    pub const TLS_HANDSHAKE: u16 = 1015;
}

/// Whether a close frame may carry `code` (RFC 6455 § 7.4): the defined codes 1000–1003
/// and 1007–1011, the IANA-registered 1012–1014, and 3000–4999 (libraries, frameworks
/// and applications). 1004 is reserved, and 1005, 1006 and 1015 only ever name a
/// closure inside an API: they "MUST NOT be set as a status code in a Close control
/// frame". Everything below 1000, the unassigned rest of 1000–2999, and 5000 and up are
/// invalid. A receiver fails the connection with 1002 on an invalid code.
pub fn close_code_is_valid_to_receive(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Whether an endpoint in `sender`'s role may send `code`: any valid code, except that
/// 1010 ("the server did not agree to an extension I need") is a client's alone
/// (RFC 6455 § 7.4.1: "this status code is not used by the server, because it can fail
/// the WebSocket handshake instead").
pub fn close_code_may_send(code: u16, sender: Role) -> bool {
    close_code_is_valid_to_receive(code)
        && !(code == close_code::MANDATORY_EXTENSION && sender == Role::Server)
}

/// A close code's name, for showing.
pub fn close_code_name(code: u16) -> &'static str {
    match code {
        1000 => "Normal Closure",
        1001 => "Going Away",
        1002 => "Protocol error",
        1003 => "Unsupported Data",
        1004 => "Reserved",
        1005 => "No Status Rcvd",
        1006 => "Abnormal Closure",
        1007 => "Invalid frame payload data",
        1008 => "Policy Violation",
        1009 => "Message Too Big",
        1010 => "Mandatory Ext.",
        1011 => "Internal Error",
        1012 => "Service Restart",
        1013 => "Try Again Later",
        1014 => "Bad Gateway",
        1015 => "TLS handshake",
        1016..=2999 => "Unassigned (reserved for this protocol)",
        3000..=3999 => "Registered for libraries and frameworks",
        4000..=4999 => "Private use",
        _ => "Invalid",
    }
}

/// Reads a close frame's payload (RFC 6455 § 5.5.1): `None` when it is empty (no code:
/// an API reports 1005), else the code and the reason. A one-byte payload and an invalid
/// code are errors (1002), a reason that is not UTF-8 too (1007).
pub fn parse_close(payload: &[u8]) -> Result<Option<(u16, &str)>, FrameError> {
    match payload {
        [] => Ok(None),
        [_] => Err(FrameError::CloseTooShort),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !close_code_is_valid_to_receive(code) {
                return Err(FrameError::InvalidCloseCode { code });
            }
            let reason =
                core::str::from_utf8(reason).map_err(|_| FrameError::InvalidCloseReason)?;
            Ok(Some((code, reason)))
        }
    }
}

/// A close frame's payload: the code, then `reason` cut at a character boundary so the
/// whole fits the 125 bytes of a control frame.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = Vec::with_capacity(2 + end);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&reason.as_bytes()[..end]);
    out
}

// ---------------------------------------------------------------------------------------
// UTF-8, checked as it arrives. RFC 6455 § 8.1, RFC 3629 § 4.
// ---------------------------------------------------------------------------------------

/// Why text is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf8Error {
    /// The byte at `at` in the chunk just fed cannot occur there in any UTF-8 text.
    InvalidByte { at: usize },
    /// The text ended inside a multi-byte sequence.
    Truncated,
}

/// Checks UTF-8 that arrives in pieces — a text message's fragments, or a frame's
/// payload as TCP delivers it — and fails on the first byte that no valid text could
/// continue with (RFC 6455 § 8.1: an endpoint "MUST _Fail the WebSocket Connection_" on
/// invalid UTF-8, and may do so as soon as it is seen). A sequence split between two
/// pieces is fine; call [`Utf8Validator::finish`] at the end of the message.
///
/// The rules are RFC 3629's table of well-formed sequences: no overlong forms (C0, C1,
/// E0 80–9F, F0 80–8F), no UTF-16 surrogates (ED A0–BF), nothing above U+10FFFF
/// (F4 90–BF, F5–FF).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    /// Continuation bytes still expected in the current sequence.
    need: u8,
    /// The range the next byte must fall in while `need > 0`.
    lo: u8,
    hi: u8,
    failed: bool,
}

impl Utf8Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece. After an error every later call fails too.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        if self.failed {
            return Err(Utf8Error::InvalidByte { at: 0 });
        }
        let mut i = 0;
        // Finish a sequence split across pieces byte by byte…
        while self.need > 0 {
            let Some(&b) = bytes.get(i) else {
                return Ok(());
            };
            self.step(b, i)?;
            i += 1;
        }
        // …then let the standard library check the rest at full speed, and go byte by
        // byte only from where it stopped.
        match core::str::from_utf8(&bytes[i..]) {
            Ok(_) => Ok(()),
            Err(e) => {
                let from = i + e.valid_up_to();
                for (j, &b) in bytes[from..].iter().enumerate() {
                    self.step(b, from + j)?;
                }
                Ok(())
            }
        }
    }

    fn step(&mut self, b: u8, at: usize) -> Result<(), Utf8Error> {
        if self.need > 0 {
            if (self.lo..=self.hi).contains(&b) {
                self.need -= 1;
                (self.lo, self.hi) = (0x80, 0xbf);
                return Ok(());
            }
        } else {
            let (need, lo, hi) = match b {
                0x00..=0x7f => return Ok(()),
                0xc2..=0xdf => (1, 0x80, 0xbf),
                0xe0 => (2, 0xa0, 0xbf),
                0xed => (2, 0x80, 0x9f),
                0xe1..=0xef => (2, 0x80, 0xbf),
                0xf0 => (3, 0x90, 0xbf),
                0xf1..=0xf3 => (3, 0x80, 0xbf),
                0xf4 => (3, 0x80, 0x8f),
                // 80–BF without a lead byte, C0/C1 (overlong), F5–FF (too large).
                _ => {
                    self.failed = true;
                    return Err(Utf8Error::InvalidByte { at });
                }
            };
            (self.need, self.lo, self.hi) = (need, lo, hi);
            return Ok(());
        }
        self.failed = true;
        Err(Utf8Error::InvalidByte { at })
    }

    /// Whether the text so far ends on a character boundary.
    pub fn is_boundary(&self) -> bool {
        self.need == 0 && !self.failed
    }

    /// Checks that the text ended on a character boundary.
    pub fn finish(&self) -> Result<(), Utf8Error> {
        match (self.failed, self.need) {
            (true, _) => Err(Utf8Error::InvalidByte { at: 0 }),
            (false, 0) => Ok(()),
            _ => Err(Utf8Error::Truncated),
        }
    }

    /// Starts over, for the next message.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

// ---------------------------------------------------------------------------------------
// Messages from frames. RFC 6455 § 5.4 (fragmentation), § 5.5 (control frames).
// ---------------------------------------------------------------------------------------

/// A whole data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
}

impl Message {
    /// The message as one unfragmented, unmasked frame (an echo, a broadcast).
    pub fn to_frame(&self) -> Frame {
        match self {
            Message::Text(t) => Frame::text(t),
            Message::Binary(b) => Frame::binary(b.clone()),
        }
    }
}

/// What the frames received so far amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete message, its fragments joined.
    Message(Message),
    /// A ping: answer with a pong carrying the same bytes (RFC 6455 § 5.5.2).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// A close frame. `code: None` when the frame had no body (an API reports 1005);
    /// the usual answer is a close frame with the same code (RFC 6455 § 5.5.1).
    Close { code: Option<u16>, reason: String },
    /// The peer broke the protocol: send a close frame with `close_code` and close the
    /// connection (RFC 6455 § 7.1.7). Every later input gives this event again.
    ProtocolError { close_code: u16, why: FrameError },
}

/// The frame whose payload is arriving.
#[derive(Debug)]
struct Current {
    opcode: OpCode,
    fin: bool,
    remaining: u64,
    /// A control frame's payload (at most 125 bytes); data goes to the message.
    control: Vec<u8>,
}

/// The data message being assembled.
#[derive(Debug)]
struct Partial {
    text: bool,
    data: Vec<u8>,
    utf8: Utf8Validator,
}

/// Turns one direction's frames into [`Event`]s, without I/O: the caller parses headers
/// ([`parse_header`]), unmasks payloads ([`apply_mask`]) and feeds them here, either a
/// frame at a time ([`Assembler::push_frame`]) or as the bytes arrive
/// ([`Assembler::begin_frame`], then [`Assembler::payload`] until the frame is done), so
/// that a bad text byte or an oversized message is refused before the rest arrives.
///
/// It checks every header ([`FrameHeader::validate`]), fragmentation (§ 5.4: a message is
/// a text or binary frame and continuation frames up to one with FIN; control frames may
/// come between the fragments), the size limit (1009), UTF-8 of text (1007) and close
/// payloads. Whether frames may still come after a close is the caller's business.
#[derive(Debug)]
pub struct Assembler {
    rules: Rules,
    max_message_len: u64,
    message: Option<Partial>,
    frame: Option<Current>,
    failed: Option<FrameError>,
}

impl Assembler {
    /// Frames obeying `rules` (e.g. [`Rules::from_client`] on a server), messages of at
    /// most `max_message_len` bytes.
    pub fn new(rules: Rules, max_message_len: usize) -> Self {
        Assembler {
            rules,
            max_message_len: max_message_len as u64,
            message: None,
            frame: None,
            failed: None,
        }
    }

    fn fail(&mut self, why: FrameError) -> Option<Event> {
        self.failed = Some(why);
        self.frame = None;
        self.message = None;
        Some(Event::ProtocolError {
            close_code: why.close_code(),
            why,
        })
    }

    /// The error that ended this assembler, if one did.
    pub fn failure(&self) -> Option<FrameError> {
        self.failed
    }

    /// Whether a fragmented message is unfinished.
    pub fn in_message(&self) -> bool {
        self.message.is_some()
    }

    /// Whether a frame's payload is still expected.
    pub fn in_frame(&self) -> bool {
        self.frame.is_some()
    }

    /// Bytes of the unfinished message held so far.
    pub fn buffered(&self) -> usize {
        self.message.as_ref().map_or(0, |m| m.data.len())
    }

    /// Starts a frame. Returns an event when the header is refused, or when the frame
    /// has no payload and so is already complete (an empty message, ping or close).
    pub fn begin_frame(&mut self, h: &FrameHeader) -> Option<Event> {
        if let Some(why) = self.failed {
            return self.fail(why);
        }
        if let Some(cur) = &self.frame {
            let missing = cur.remaining;
            return self.fail(FrameError::PayloadIncomplete { missing });
        }
        if let Err(why) = h.validate(&self.rules) {
            return self.fail(why);
        }
        match h.opcode {
            OpCode::Continuation if self.message.is_none() => {
                return self.fail(FrameError::UnexpectedContinuation);
            }
            OpCode::Text | OpCode::Binary if self.message.is_some() => {
                return self.fail(FrameError::ExpectedContinuation);
            }
            OpCode::Text | OpCode::Binary => {
                self.message = Some(Partial {
                    text: h.opcode == OpCode::Text,
                    data: Vec::new(),
                    utf8: Utf8Validator::new(),
                });
            }
            _ => {}
        }
        if !h.is_control() {
            let len = self.buffered() as u64 + h.payload_len;
            if len > self.max_message_len {
                return self.fail(FrameError::MessageTooBig {
                    len,
                    max: self.max_message_len,
                });
            }
            if let Some(m) = &mut self.message {
                // Within the limit just checked, but a generous limit must not let a
                // peer's header alone allocate it: reserve what a few packets bring.
                m.data.reserve(h.payload_len.min(1 << 16) as usize);
            }
        }
        self.frame = Some(Current {
            opcode: h.opcode,
            fin: h.fin,
            remaining: h.payload_len,
            control: Vec::new(),
        });
        if h.payload_len == 0 {
            return self.end_frame();
        }
        None
    }

    /// Takes the next (unmasked) payload bytes of the current frame. Returns how many
    /// bytes of `data` belong to this frame — the rest starts the next frame — and the
    /// event the frame completes, or the error found in these bytes. Without a frame
    /// begun, takes nothing.
    pub fn payload(&mut self, data: &[u8]) -> (usize, Option<Event>) {
        if let Some(why) = self.failed {
            return (0, self.fail(why));
        }
        let Some(cur) = &mut self.frame else {
            return (0, None);
        };
        let n = usize::try_from(cur.remaining).map_or(data.len(), |r| r.min(data.len()));
        let chunk = &data[..n];
        cur.remaining -= n as u64;
        let done = cur.remaining == 0;
        if cur.opcode.is_control() {
            cur.control.extend_from_slice(chunk);
        } else if let Some(m) = &mut self.message {
            if m.text
                && let Err(Utf8Error::InvalidByte { at }) = m.utf8.feed(chunk)
            {
                let at = (m.data.len() + at) as u64;
                return (n, self.fail(FrameError::InvalidUtf8 { at }));
            }
            m.data.extend_from_slice(chunk);
        }
        if done {
            return (n, self.end_frame());
        }
        (n, None)
    }

    /// A whole frame: [`Assembler::begin_frame`] and [`Assembler::payload`]. `payload`
    /// should be the frame's whole payload; if it is shorter, the frame stays open for
    /// more [`Assembler::payload`] calls, and bytes beyond the header's length are not
    /// taken.
    pub fn push_frame(&mut self, h: &FrameHeader, payload: &[u8]) -> Option<Event> {
        if let Some(ev) = self.begin_frame(h) {
            return Some(ev);
        }
        self.payload(payload).1
    }

    /// A whole [`Frame`].
    pub fn push(&mut self, frame: &Frame) -> Option<Event> {
        self.push_frame(&frame.header(), &frame.payload)
    }

    fn end_frame(&mut self) -> Option<Event> {
        let cur = self.frame.take()?;
        match cur.opcode {
            OpCode::Ping => Some(Event::Ping(cur.control)),
            OpCode::Pong => Some(Event::Pong(cur.control)),
            OpCode::Close => match parse_close(&cur.control) {
                Ok(None) => Some(Event::Close {
                    code: None,
                    reason: String::new(),
                }),
                Ok(Some((code, reason))) => Some(Event::Close {
                    code: Some(code),
                    reason: reason.to_string(),
                }),
                Err(why) => self.fail(why),
            },
            OpCode::Reserved(_) => None, // refused in begin_frame
            OpCode::Continuation | OpCode::Text | OpCode::Binary => {
                if !cur.fin {
                    return None;
                }
                let m = self.message.take()?;
                if !m.text {
                    return Some(Event::Message(Message::Binary(m.data)));
                }
                let at = m.data.len() as u64;
                if m.utf8.finish().is_err() {
                    return self.fail(FrameError::InvalidUtf8 { at });
                }
                match String::from_utf8(m.data) {
                    Ok(s) => Some(Event::Message(Message::Text(s))),
                    Err(_) => self.fail(FrameError::InvalidUtf8 { at }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // -- RFC 6455 § 5.7 examples, byte for byte -------------------------------------

    /// A single-frame unmasked text message "Hello".
    const HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    /// A single-frame masked text message "Hello" (key 37 fa 21 3d).
    const HELLO_MASKED: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    /// A fragmented unmasked text message: "Hel"…
    const HEL: [u8; 5] = [0x01, 0x03, 0x48, 0x65, 0x6c];
    /// …then "lo".
    const LO: [u8; 4] = [0x80, 0x02, 0x6c, 0x6f];
    /// An unmasked ping with body "Hello".
    const PING_HELLO: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    /// A masked pong with body "Hello", answering it.
    const PONG_HELLO_MASKED: [u8; 11] = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn frame(bytes: &[u8]) -> (FrameHeader, usize) {
        parse_header(bytes).unwrap().unwrap()
    }

    #[test]
    fn rfc_single_unmasked_hello() {
        let (h, n) = frame(&HELLO);
        assert_eq!(n, 2);
        assert!(h.fin);
        assert_eq!(h.rsv, 0);
        assert_eq!(h.opcode, OpCode::Text);
        assert_eq!(h.masking_key, None);
        assert_eq!(h.payload_len, 5);
        assert_eq!(h.length_form, LengthForm::Short);
        assert_eq!(&HELLO[n..], b"Hello");
        assert_eq!(Frame::text("Hello").encode(), HELLO);
        assert_eq!(h.validate(&Rules::from_server()), Ok(()));
        assert_eq!(
            h.validate(&Rules::from_client()),
            Err(FrameError::UnmaskedFromClient)
        );
    }

    #[test]
    fn rfc_single_masked_hello() {
        let (h, n) = frame(&HELLO_MASKED);
        assert_eq!(n, 6);
        assert_eq!(h.masking_key, Some(KEY));
        assert_eq!(h.masking_key_field(), Some(field::MASKING_KEY_SHORT));
        let mut p = HELLO_MASKED[n..].to_vec();
        apply_mask(&mut p, KEY, 0);
        assert_eq!(p, b"Hello");
        assert_eq!(Frame::text("Hello").with_mask(KEY).encode(), HELLO_MASKED);
        let (f, used) = Frame::decode(&HELLO_MASKED).unwrap().unwrap();
        assert_eq!(used, HELLO_MASKED.len());
        assert_eq!(f.payload, b"Hello");
        assert_eq!(h.validate(&Rules::from_client()), Ok(()));
        assert_eq!(
            h.validate(&Rules::from_server()),
            Err(FrameError::MaskedFromServer)
        );
    }

    #[test]
    fn rfc_fragmented_hello() {
        let (h1, _) = frame(&HEL);
        assert!(!h1.fin);
        assert_eq!(h1.opcode, OpCode::Text);
        let (h2, _) = frame(&LO);
        assert!(h2.fin);
        assert_eq!(h2.opcode, OpCode::Continuation);
        assert_eq!(Frame::text("Hel").with_fin(false).encode(), HEL);
        assert_eq!(Frame::new(OpCode::Continuation, &b"lo"[..]).encode(), LO);

        let mut a = Assembler::new(Rules::from_server(), 1 << 20);
        assert_eq!(a.push_frame(&h1, &HEL[2..]), None);
        assert!(a.in_message());
        assert_eq!(
            a.push_frame(&h2, &LO[2..]),
            Some(Event::Message(Message::Text("Hello".into())))
        );
        assert!(!a.in_message());
    }

    #[test]
    fn rfc_ping_pong() {
        let (h, n) = frame(&PING_HELLO);
        assert_eq!((h.opcode, h.payload_len), (OpCode::Ping, 5));
        assert!(h.is_control());
        assert_eq!(Frame::ping(&b"Hello"[..]).encode(), PING_HELLO);
        let mut client = Assembler::new(Rules::from_server(), 1 << 20);
        assert_eq!(
            client.push_frame(&h, &PING_HELLO[n..]),
            Some(Event::Ping(b"Hello".to_vec()))
        );
        assert_eq!(
            Frame::pong(&b"Hello"[..]).with_mask(KEY).encode(),
            PONG_HELLO_MASKED
        );
        let (pong, _) = Frame::decode(&PONG_HELLO_MASKED).unwrap().unwrap();
        let mut server = Assembler::new(Rules::from_client(), 1 << 20);
        assert_eq!(server.push(&pong), Some(Event::Pong(b"Hello".to_vec())));
    }

    #[test]
    fn rfc_256_bytes_16_bit_length() {
        let data: Vec<u8> = (0..=255).collect();
        let wire = Frame::binary(data.clone()).encode();
        assert_eq!(wire[..4], [0x82, 0x7e, 0x01, 0x00]);
        assert_eq!(wire.len(), 4 + 256);
        let (h, n) = frame(&wire);
        assert_eq!(n, 4);
        assert_eq!(h.length_form, LengthForm::Ext16);
        assert_eq!(h.payload_len, 256);
        let v = FrameView::new_checked(&wire[..]).unwrap();
        assert_eq!(v.len7(), 126);
        assert_eq!(v.length_form().ext_field(), Some(field::EXT_LEN_16));
        assert_eq!(v.payload(), data);
        assert!(v.is_complete());
    }

    #[test]
    fn rfc_64k_64_bit_length() {
        let data = vec![0xabu8; 65536];
        let wire = Frame::binary(data.clone()).encode();
        assert_eq!(
            wire[..10],
            [0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        );
        let (h, n) = frame(&wire);
        assert_eq!(n, 10);
        assert_eq!(h.length_form, LengthForm::Ext64);
        assert_eq!(h.payload_len, 65536);
        let (f, used) = Frame::decode(&wire).unwrap().unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(f.payload, data);
        let mut a = Assembler::new(Rules::from_server(), 65536);
        assert_eq!(a.push(&f), Some(Event::Message(Message::Binary(data))));
    }

    #[test]
    fn emit_header_round_trips_and_is_minimal() {
        for (len, form, hl) in [
            (0u64, LengthForm::Short, 2),
            (125, LengthForm::Short, 2),
            (126, LengthForm::Ext16, 4),
            (65535, LengthForm::Ext16, 4),
            (65536, LengthForm::Ext64, 10),
            (u64::MAX >> 1, LengthForm::Ext64, 10),
        ] {
            for key in [None, Some(KEY)] {
                let h = FrameHeader::new(true, OpCode::Binary, len, key);
                assert_eq!(h.length_form, form);
                let mut buf = [0u8; MAX_HEADER_LEN];
                let n = emit_header(&h, &mut buf).unwrap();
                assert_eq!(n, hl + if key.is_some() { 4 } else { 0 });
                assert_eq!(n, h.header_len());
                assert_eq!(parse_header(&buf[..n]), Ok(Some((h, n))));
                // Too small a buffer: an error, and no panic.
                assert!(emit_header(&h, &mut buf[..n - 1]).is_err());
            }
        }
        // rsv and every opcode survive.
        for op in 0..16u8 {
            let h = FrameHeader {
                rsv: 0b101,
                ..FrameHeader::new(false, OpCode::from(op), 3, None)
            };
            let mut buf = [0u8; 2];
            emit_header(&h, &mut buf).unwrap();
            assert_eq!(u8::from(frame(&buf).0.opcode), op);
            assert_eq!(frame(&buf).0.rsv, 0b101);
        }
    }

    #[test]
    fn too_short_buffers_need_more() {
        let w256 = Frame::binary(vec![0; 256]).with_mask(KEY).encode();
        let w64k = Frame::binary(vec![0; 65536]).with_mask(KEY).encode();
        for wire in [&HELLO[..], &HELLO_MASKED, &HEL, &w256, &w64k] {
            let (h, hl) = frame(wire);
            for n in 0..hl {
                assert_eq!(parse_header(&wire[..n]), Ok(None), "prefix {n}");
                assert!(matches!(
                    FrameView::new_checked(&wire[..n]),
                    Err(crate::wire::Error::Truncated { .. })
                ));
            }
            for n in 0..wire.len() {
                assert_eq!(Frame::decode(&wire[..n]), Ok(None), "prefix {n}");
            }
            // A view over a cut frame shows what is there.
            let v = FrameView::new_checked(&wire[..hl + 1]).unwrap();
            assert_eq!(v.header(), h);
            assert!(!v.is_complete());
            assert_eq!(v.raw_payload().len(), 1);
        }
    }

    #[test]
    fn length_msb_set() {
        // 2^63: the top bit of the 64-bit length.
        let wire = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse_header(&wire), Err(FrameError::LengthMsbSet));
        // Refused as soon as the first length byte is in.
        assert_eq!(parse_header(&wire[..3]), Err(FrameError::LengthMsbSet));
        assert_eq!(FrameError::LengthMsbSet.close_code(), 1002);
        // The view still shows it.
        let v = FrameView::new_checked(&wire[..]).unwrap();
        assert_eq!(v.payload_len(), 1 << 63);
        assert!(
            v.header()
                .problems(&Rules::from_server())
                .any(|e| e == FrameError::LengthMsbSet)
        );
        assert!(v.payload_range().is_empty());
        // 2^63 - 1 is a legal length, refused only by a receiver's size limit.
        let wire = [0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let (h, _) = frame(&wire);
        assert_eq!(h.payload_len, u64::MAX >> 1);
        let mut a = Assembler::new(Rules::from_server(), 1 << 20);
        assert_eq!(
            a.begin_frame(&h),
            Some(Event::ProtocolError {
                close_code: 1009,
                why: FrameError::MessageTooBig {
                    len: u64::MAX >> 1,
                    max: 1 << 20
                }
            })
        );
        assert_eq!(Frame::decode(&wire), Ok(None));
    }

    fn problems(wire: &[u8], rules: Rules) -> Vec<FrameError> {
        frame(wire).0.problems(&rules).collect()
    }

    #[test]
    fn header_problems() {
        let s = Rules::from_server();
        // RSV1 without an extension; allowed once one gives it a meaning.
        assert_eq!(
            problems(&[0xc1, 0x00], s),
            [FrameError::ReservedBits { rsv: 0b100 }]
        );
        assert_eq!(
            problems(
                &[0xc1, 0x00],
                Rules {
                    allowed_rsv: 0b100,
                    ..s
                }
            ),
            []
        );
        assert_eq!(
            problems(&[0xb1, 0x00], s),
            [FrameError::ReservedBits { rsv: 0b011 }]
        );
        // Every reserved opcode.
        for op in (3..=7).chain(0xb..=0xf) {
            assert_eq!(
                problems(&[0x80 | op, 0x00], s),
                [FrameError::ReservedOpcode { opcode: op }]
            );
        }
        // A ping of 126 bytes (16-bit length), a fragmented close.
        assert_eq!(
            problems(&[0x89, 0x7e, 0x00, 0x7e], s),
            [FrameError::ControlTooLong { len: 126 }]
        );
        assert_eq!(problems(&[0x89, 0x7d], s), []);
        assert_eq!(problems(&[0x08, 0x00], s), [FrameError::ControlFragmented]);
        // Several at once, all shown.
        assert_eq!(
            problems(&[0x7b, 0xfe, 0x01, 0x00, 1, 2, 3, 4], s),
            [
                FrameError::ReservedBits { rsv: 0b111 },
                FrameError::ReservedOpcode { opcode: 0xb },
                FrameError::ControlFragmented,
                FrameError::ControlTooLong { len: 256 },
                FrameError::MaskedFromServer,
            ]
        );
        for e in problems(&[0x7b, 0xfe, 0x01, 0x00, 1, 2, 3, 4], s) {
            assert_eq!(e.close_code(), 1002);
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn non_minimal_length_is_flagged_not_refused() {
        // "Hello" with a 16-bit length, then with a 64-bit one.
        let w16 = [0x81, 0x7e, 0x00, 0x05, b'H', b'e', b'l', b'l', b'o'];
        let (h, n) = frame(&w16);
        assert_eq!((h.length_form, n), (LengthForm::Ext16, 4));
        assert_eq!(h.non_minimal_length(), Some(LengthForm::Short));
        assert_eq!(h.validate(&Rules::from_server()), Ok(()));
        let mut a = Assembler::new(Rules::from_server(), 100);
        assert_eq!(
            a.push_frame(&h, &w16[n..]),
            Some(Event::Message(Message::Text("Hello".into())))
        );
        let mut w64 = vec![0x81, 0x7f, 0, 0, 0, 0, 0, 0, 0x01, 0x00];
        w64.extend(vec![b'a'; 256]);
        let (h, n) = frame(&w64);
        assert_eq!(n, 10);
        assert_eq!(h.non_minimal_length(), Some(LengthForm::Ext16));
        assert_eq!(frame(&HELLO).0.non_minimal_length(), None);
        // Re-emitting uses the minimal form.
        let (f, _) = Frame::decode(&w16).unwrap().unwrap();
        assert_eq!(f.encode(), HELLO);
    }

    // -- masking ------------------------------------------------------------------

    fn mask_naive(data: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in data.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn apply_mask_matches_the_definition() {
        let data: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..data.len() {
            for offset in 0..9 {
                let mut fast = data[..len].to_vec();
                let mut slow = fast.clone();
                apply_mask(&mut fast, KEY, offset);
                mask_naive(&mut slow, KEY, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
                apply_mask(&mut fast, KEY, offset);
                assert_eq!(fast, data[..len], "masking twice restores");
            }
        }
        // In pieces, with the offset carried along, the same as at once.
        let mut whole = data.clone();
        apply_mask(&mut whole, KEY, 0);
        let mut pieces = data.clone();
        let mut at = 0;
        for n in [3, 1, 8, 13, 75] {
            apply_mask(&mut pieces[at..at + n], KEY, at);
            at += n;
        }
        assert_eq!(pieces, whole);
    }

    // -- close frames ---------------------------------------------------------------

    #[test]
    fn close_payloads() {
        assert_eq!(parse_close(&[]), Ok(None));
        assert_eq!(parse_close(&[0x03]), Err(FrameError::CloseTooShort));
        assert_eq!(parse_close(&[0x03, 0xe8]), Ok(Some((1000, ""))));
        assert_eq!(parse_close(b"\x03\xe9bye"), Ok(Some((1001, "bye"))));
        assert_eq!(
            parse_close(&[0x03, 0xed]),
            Err(FrameError::InvalidCloseCode { code: 1005 })
        );
        let e = parse_close(b"\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")
            .unwrap_err();
        assert_eq!((e, e.close_code()), (FrameError::InvalidCloseReason, 1007));
        assert_eq!(close_payload(1000, "ok"), b"\x03\xe8ok");
        // Cut to 125 bytes, at a character boundary.
        let long = "é".repeat(100);
        let p = close_payload(4000, &long);
        assert_eq!(p.len(), 124);
        assert!(parse_close(&p).is_ok());
        let f = Frame::close(Some(1000), &long);
        assert!(f.header().validate(&Rules::from_server()).is_ok());
        assert_eq!(Frame::close(None, "ignored").payload, b"");
    }

    #[test]
    fn close_codes() {
        // Autobahn 7.7.x (valid) and 7.9.x (invalid), plus the rest of RFC 6455 § 7.4.
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            assert!(close_code_is_valid_to_receive(code), "{code}");
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!close_code_is_valid_to_receive(code), "{code}");
            assert_eq!(
                parse_close(&code.to_be_bytes()),
                Err(FrameError::InvalidCloseCode { code })
            );
        }
        assert!(close_code_may_send(1010, Role::Client));
        assert!(!close_code_may_send(1010, Role::Server));
        assert!(!close_code_may_send(1005, Role::Client));
        assert!(close_code_may_send(1011, Role::Server));
        assert_eq!(close_code_name(1009), "Message Too Big");
    }

    // -- UTF-8 ----------------------------------------------------------------------

    /// "κόσμε", Autobahn 6.x's sample text.
    const KOSME: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";

    /// Feeds `pieces` and returns the first error with the index of its piece.
    fn feed_all(pieces: &[&[u8]]) -> Result<(), (usize, Utf8Error)> {
        let mut v = Utf8Validator::new();
        for (i, p) in pieces.iter().enumerate() {
            v.feed(p).map_err(|e| (i, e))?;
        }
        v.finish().map_err(|e| (pieces.len(), e))
    }

    #[test]
    fn utf8_valid_split_anywhere() {
        let texts: [&[u8]; 5] = [
            KOSME,
            b"",
            b"plain ASCII",
            "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}".as_bytes(),
            "\u{d7ff}\u{e000}\u{fffd}".as_bytes(),
        ];
        for t in texts {
            for i in 0..=t.len() {
                for j in i..=t.len() {
                    assert_eq!(feed_all(&[&t[..i], &t[i..j], &t[j..]]), Ok(()));
                }
            }
            // One byte at a time.
            let bytes: Vec<&[u8]> = t.chunks(1).collect();
            assert_eq!(feed_all(&bytes), Ok(()));
        }
    }

    #[test]
    fn utf8_invalid_fails_on_the_first_bad_byte() {
        // (bytes, index of the first byte no valid text could continue with)
        let cases: [(&[u8], usize); 20] = [
            (b"\x80", 0), // continuation without a lead byte
            (b"\xbf", 0),
            (b"\xc0\x80", 0), // overlong NUL: C0 never appears
            (b"\xc1\xbf", 0),
            (b"\xe0\x80\x80", 1), // overlong 3-byte
            (b"\xe0\x9f\xbf", 1),
            (b"\xf0\x80\x80\x80", 1), // overlong 4-byte
            (b"\xf0\x8f\xbf\xbf", 1),
            (b"\xed\xa0\x80", 1),     // U+D800, a surrogate
            (b"\xed\xbf\xbf", 1),     // U+DFFF
            (b"\xf4\x90\x80\x80", 1), // U+110000, beyond Unicode
            (b"\xf5\x80\x80\x80", 0),
            (b"\xff", 0),
            (b"\xfe", 0),
            (b"\xc2\x41", 1), // lead byte, then ASCII
            (b"\xe1\x80\x41", 2),
            (b"a\xce\xba\x80", 3),
            (
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
                12,
            ),
            (b"\xf8\x88\x80\x80\x80", 0), // 5-byte forms are gone
            (b"\xfc\x84\x80\x80\x80\x80", 0),
        ];
        for (bytes, bad) in cases {
            let mut v = Utf8Validator::new();
            assert_eq!(
                v.feed(bytes),
                Err(Utf8Error::InvalidByte { at: bad }),
                "{bytes:x?}"
            );
            // Byte by byte: nothing before `bad` fails, `bad` does.
            let mut v = Utf8Validator::new();
            for (i, b) in bytes.iter().enumerate() {
                let r = v.feed(&[*b]);
                if i < bad {
                    assert_eq!(r, Ok(()), "{bytes:x?} byte {i}");
                } else {
                    assert_eq!(r, Err(Utf8Error::InvalidByte { at: 0 }), "{bytes:x?}");
                    break;
                }
            }
            // And it stays failed.
            assert!(v.feed(b"a").is_err());
            assert!(v.finish().is_err());
        }
    }

    #[test]
    fn utf8_truncated_at_the_end() {
        for t in [&b"\xce"[..], b"\xe1\xbd", b"\xf0\x90\x80", b"abc\xc2"] {
            assert_eq!(feed_all(&[KOSME, t]), Err((2, Utf8Error::Truncated)));
        }
        assert!(!{
            let mut v = Utf8Validator::new();
            v.feed(b"\xce").unwrap();
            v.is_boundary()
        });
    }

    #[test]
    fn utf8_autobahn_6_4_fail_fast_across_fragments() {
        // Autobahn 6.4.1: κόσμε | F4 90 80 80 | "edited" in three fragments; the error
        // is at the second fragment's second byte, before the third arrives.
        assert_eq!(
            feed_all(&[KOSME, b"\xf4\x90\x80\x80", b"edited"]),
            Err((1, Utf8Error::InvalidByte { at: 1 }))
        );
        // 6.4.2: the split falls inside the bad sequence.
        assert_eq!(
            feed_all(&[
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4",
                b"\x90\x80\x80edited"
            ]),
            Err((1, Utf8Error::InvalidByte { at: 0 }))
        );
    }

    fn xorshift(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    #[test]
    fn utf8_agrees_with_std_on_random_input() {
        let mut s = 0x7574_662d_3821_2121;
        let alphabet: &[u8] =
            b"a\x7f\x80\x8f\x90\x9f\xa0\xbf\xc0\xc1\xc2\xdf\xe0\xe1\xed\xef\xf0\xf3\xf4\xf5\xff";
        for _ in 0..50_000 {
            let len = (xorshift(&mut s) % 12) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(xorshift(&mut s) % alphabet.len() as u64) as usize])
                .collect();
            let split = (xorshift(&mut s) as usize) % (len + 1);
            let mut v = Utf8Validator::new();
            let got = v
                .feed(&bytes[..split])
                .map_err(|e| (0, e))
                .and_then(|()| v.feed(&bytes[split..]).map_err(|e| (split, e)))
                .and_then(|()| v.finish().map_err(|e| (len, e)));
            match core::str::from_utf8(&bytes) {
                Ok(_) => assert_eq!(got, Ok(()), "{bytes:x?}"),
                Err(e) => {
                    // Where no continuation could make the text valid: std's maximal
                    // invalid subpart ends there, or it is one impossible byte.
                    let bad = match e.error_len() {
                        None => None,
                        Some(n) => {
                            let first = bytes[e.valid_up_to()];
                            let impossible = matches!(first, 0x80..=0xc1 | 0xf5..=0xff);
                            Some(e.valid_up_to() + if impossible { 0 } else { n })
                        }
                    };
                    match (got, bad) {
                        (Err((_, Utf8Error::Truncated)), None) => {}
                        (Err((base, Utf8Error::InvalidByte { at })), Some(bad)) => {
                            assert_eq!(base + at, bad, "{bytes:x?} split {split}")
                        }
                        other => panic!("{bytes:x?} split {split}: {other:?}"),
                    }
                }
            }
        }
    }

    // -- the assembler ------------------------------------------------------------

    fn server() -> Assembler {
        Assembler::new(Rules::from_client(), 1000)
    }

    fn err(why: FrameError) -> Option<Event> {
        Some(Event::ProtocolError {
            close_code: why.close_code(),
            why,
        })
    }

    #[test]
    fn assembles_with_control_frames_between_fragments() {
        let mut a = server();
        assert_eq!(
            a.push(&Frame::text("Hel").with_fin(false).with_mask(KEY)),
            None
        );
        assert_eq!(
            a.push(&Frame::ping(&b"p"[..]).with_mask(KEY)),
            Some(Event::Ping(b"p".to_vec()))
        );
        assert_eq!(
            a.push(
                &Frame::new(OpCode::Continuation, &b""[..])
                    .with_fin(false)
                    .with_mask(KEY)
            ),
            None
        );
        assert_eq!(
            a.push(&Frame::pong(Vec::new()).with_mask(KEY)),
            Some(Event::Pong(vec![]))
        );
        assert_eq!(a.buffered(), 3);
        assert_eq!(
            a.push(&Frame::new(OpCode::Continuation, &b"lo"[..]).with_mask(KEY)),
            Some(Event::Message(Message::Text("Hello".into())))
        );
        assert_eq!(
            a.push(&Frame::binary(Vec::new()).with_mask(KEY)),
            Some(Event::Message(Message::Binary(vec![])))
        );
        assert_eq!(
            a.push(&Frame::close(Some(1000), "bye").with_mask(KEY)),
            Some(Event::Close {
                code: Some(1000),
                reason: "bye".into()
            })
        );
        assert_eq!(
            a.push(&Frame::close(None, "").with_mask(KEY)),
            Some(Event::Close {
                code: None,
                reason: String::new()
            })
        );
    }

    #[test]
    fn fragmentation_errors() {
        let mut a = server();
        assert_eq!(
            a.push(&Frame::new(OpCode::Continuation, &b"x"[..]).with_mask(KEY)),
            err(FrameError::UnexpectedContinuation)
        );
        let mut a = server();
        a.push(&Frame::text("a").with_fin(false).with_mask(KEY));
        assert_eq!(
            a.push(&Frame::binary(&b"b"[..]).with_mask(KEY)),
            err(FrameError::ExpectedContinuation)
        );
        // The failure sticks.
        assert_eq!(
            a.push(&Frame::text("c").with_mask(KEY)),
            err(FrameError::ExpectedContinuation)
        );
        assert_eq!(a.payload(b"zz").1, err(FrameError::ExpectedContinuation));
        assert_eq!(a.failure(), Some(FrameError::ExpectedContinuation));
    }

    #[test]
    fn header_errors_reach_the_assembler() {
        let mut a = server();
        assert_eq!(
            a.push(&Frame::text("unmasked")),
            err(FrameError::UnmaskedFromClient)
        );
        let mut a = Assembler::new(Rules::from_server(), 1000);
        assert_eq!(
            a.push(&Frame::text("masked").with_mask(KEY)),
            err(FrameError::MaskedFromServer)
        );
        let mut a = server();
        assert_eq!(
            a.push(&Frame::ping(vec![0; 126]).with_mask(KEY)),
            err(FrameError::ControlTooLong { len: 126 })
        );
        let mut a = server();
        assert_eq!(
            a.push(&Frame::ping(vec![]).with_fin(false).with_mask(KEY)),
            err(FrameError::ControlFragmented)
        );
        let mut a = server();
        let f = Frame {
            rsv: 0b010,
            ..Frame::text("x").with_mask(KEY)
        };
        assert_eq!(a.push(&f), err(FrameError::ReservedBits { rsv: 0b010 }));
        let mut a = server();
        assert_eq!(
            a.push(&Frame::new(OpCode::Reserved(3), vec![]).with_mask(KEY)),
            err(FrameError::ReservedOpcode { opcode: 3 })
        );
        let mut a = server();
        assert_eq!(
            a.push(&Frame::close(None, "").with_mask(KEY).with_fin(true)),
            Some(Event::Close {
                code: None,
                reason: String::new()
            })
        );
        let mut a = server();
        assert_eq!(
            a.push(&Frame::new(OpCode::Close, vec![3]).with_mask(KEY)),
            err(FrameError::CloseTooShort)
        );
        let mut a = server();
        assert_eq!(
            a.push(&Frame::new(OpCode::Close, vec![0x03, 0xee]).with_mask(KEY)),
            err(FrameError::InvalidCloseCode { code: 1006 })
        );
    }

    #[test]
    fn message_too_big_before_the_payload_arrives() {
        let mut a = server();
        assert_eq!(
            a.push(&Frame::binary(vec![0; 600]).with_fin(false).with_mask(KEY)),
            None
        );
        let h = FrameHeader::new(true, OpCode::Continuation, 401, Some(KEY));
        let ev = a.begin_frame(&h);
        assert_eq!(
            ev,
            err(FrameError::MessageTooBig {
                len: 1001,
                max: 1000
            })
        );
        assert_eq!(
            FrameError::MessageTooBig { len: 1, max: 0 }.close_code(),
            1009
        );
        // Exactly the limit is fine.
        let mut a = server();
        assert_eq!(
            a.push(&Frame::binary(vec![7; 1000]).with_mask(KEY)),
            Some(Event::Message(Message::Binary(vec![7; 1000])))
        );
    }

    #[test]
    fn invalid_utf8_in_text() {
        // Fails in the first fragment, before the final one.
        let mut a = server();
        assert_eq!(
            a.push(
                &Frame::new(OpCode::Text, KOSME.to_vec())
                    .with_fin(false)
                    .with_mask(KEY)
            ),
            None
        );
        assert_eq!(
            a.push(
                &Frame::new(OpCode::Continuation, &b"\xf4\x90\x80\x80"[..])
                    .with_fin(false)
                    .with_mask(KEY)
            ),
            err(FrameError::InvalidUtf8 { at: 12 })
        );
        assert_eq!(FrameError::InvalidUtf8 { at: 0 }.close_code(), 1007);
        // Truncated at the end of the message.
        let mut a = server();
        assert_eq!(
            a.push(&Frame::new(OpCode::Text, &b"ok\xce"[..]).with_mask(KEY)),
            err(FrameError::InvalidUtf8 { at: 3 })
        );
        // Binary messages are not checked.
        let mut a = server();
        assert_eq!(
            a.push(&Frame::binary(&b"\xff"[..]).with_mask(KEY)),
            Some(Event::Message(Message::Binary(vec![0xff])))
        );
    }

    #[test]
    fn streaming_payload_fails_fast() {
        // A 16-byte text frame whose 5th byte is bad: refused on the chunk holding it.
        let mut a = server();
        let h = FrameHeader::new(true, OpCode::Text, 16, Some(KEY));
        assert_eq!(a.begin_frame(&h), None);
        assert_eq!(a.payload(b"abcd"), (4, None));
        assert_eq!(
            a.payload(b"\xc0"),
            (1, err(FrameError::InvalidUtf8 { at: 4 }))
        );
        // Chunks beyond the frame's end are not taken.
        let mut a = server();
        let h = FrameHeader::new(true, OpCode::Binary, 3, Some(KEY));
        assert_eq!(a.begin_frame(&h), None);
        assert!(a.in_frame());
        assert_eq!(
            a.payload(b"abcdef"),
            (3, Some(Event::Message(Message::Binary(b"abc".to_vec()))))
        );
        assert_eq!(a.payload(b"def"), (0, None));
        // A new header before the payload ended is the caller's bug: 1011.
        let mut a = server();
        assert_eq!(a.begin_frame(&h), None);
        assert_eq!(a.payload(b"a"), (1, None));
        assert_eq!(
            a.begin_frame(&h),
            err(FrameError::PayloadIncomplete { missing: 2 })
        );
        assert_eq!(
            FrameError::PayloadIncomplete { missing: 2 }.close_code(),
            1011
        );
    }

    /// Reads frames out of `wire` the way a session engine would: header, unmask,
    /// assemble, in chunks of `chunk` bytes.
    fn decode_stream(wire: &[u8], rules: Rules, max: usize) -> Vec<Event> {
        let mut a = Assembler::new(rules, max);
        let mut events = Vec::new();
        let mut at = 0;
        while at < wire.len() {
            let h = match parse_header(&wire[at..]) {
                Ok(Some((h, n))) => {
                    at += n;
                    h
                }
                Ok(None) => break,
                Err(why) => {
                    events.push(Event::ProtocolError {
                        close_code: why.close_code(),
                        why,
                    });
                    break;
                }
            };
            if let Some(ev) = a.begin_frame(&h) {
                let stop = matches!(ev, Event::ProtocolError { .. });
                events.push(ev);
                if stop {
                    break;
                }
            }
            let mut offset = 0;
            while a.in_frame() && at < wire.len() {
                let end = (at + 5).min(wire.len());
                let mut chunk = wire[at..end].to_vec();
                if let Some(key) = h.masking_key {
                    apply_mask(&mut chunk, key, offset);
                }
                let (n, ev) = a.payload(&chunk);
                at += n;
                offset += n;
                if let Some(ev) = ev {
                    let stop = matches!(ev, Event::ProtocolError { .. });
                    events.push(ev);
                    if stop {
                        return events;
                    }
                }
            }
        }
        events
    }

    #[test]
    fn stream_of_rfc_frames() {
        let mut wire = HEL.to_vec();
        wire.extend_from_slice(&PING_HELLO);
        wire.extend_from_slice(&LO);
        wire.extend_from_slice(&HELLO);
        assert_eq!(
            decode_stream(&wire, Rules::from_server(), 100),
            [
                Event::Ping(b"Hello".to_vec()),
                Event::Message(Message::Text("Hello".into())),
                Event::Message(Message::Text("Hello".into())),
            ]
        );
        let mut wire = HELLO_MASKED.to_vec();
        wire.extend_from_slice(&PONG_HELLO_MASKED);
        assert_eq!(
            decode_stream(&wire, Rules::from_client(), 100),
            [
                Event::Message(Message::Text("Hello".into())),
                Event::Pong(b"Hello".to_vec()),
            ]
        );
    }

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

    // -- the handshake ------------------------------------------------------------

    const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    use crate::wire::http::examples::{
        RFC6455_REQUEST as RFC_REQUEST, RFC6455_RESPONSE as RFC_RESPONSE,
    };

    fn rfc_request() -> Request {
        http::parse_request(RFC_REQUEST).unwrap().unwrap().0
    }

    #[test]
    fn accept_key_rfc_example() {
        assert_eq!(accept_key(RFC_KEY), RFC_ACCEPT);
        // RFC 6455 § 4.1's nonce example: 0x01 0x02 … 0x10.
        let nonce: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
        assert_eq!(client_key(nonce), "AQIDBAUGBwgJCgsMDQ4PEA==");
    }

    #[test]
    fn rfc_handshake_both_sides() {
        let hs = validate_client_request(&rfc_request()).unwrap();
        assert_eq!(hs.target, "/chat");
        assert_eq!(hs.host, "server.netlab.test");
        assert_eq!(hs.origin.as_deref(), Some("http://netlab.test"));
        assert_eq!(hs.key, RFC_KEY);
        assert_eq!(hs.accept, RFC_ACCEPT);
        assert_eq!(hs.protocols, ["chat", "superchat"]);
        let chosen = select_subprotocol(&hs.protocols, &["superchat", "chat"]);
        assert_eq!(chosen, Some("superchat"));
        assert_eq!(select_subprotocol(&hs.protocols, &["Chat"]), None);
        let chosen = select_subprotocol(&hs.protocols, &["chat"]);
        let resp = hs.accept_response(chosen);
        assert_eq!(resp.to_bytes(), RFC_RESPONSE);

        let (resp, _) = http::parse_response(RFC_RESPONSE).unwrap().unwrap();
        let ok = validate_server_response(&resp, RFC_KEY, &["chat", "superchat"], &[]).unwrap();
        assert_eq!(ok.protocol.as_deref(), Some("chat"));
        assert!(ok.extensions.is_empty());

        // The client's own request, built here, is accepted by the server side.
        let req = client_request(
            "server.netlab.test",
            "/chat",
            RFC_KEY,
            &["chat", "superchat"],
        );
        let bytes = req.to_bytes();
        let (parsed, _) = http::parse_request(&bytes).unwrap().unwrap();
        assert_eq!(validate_client_request(&parsed).unwrap().accept, RFC_ACCEPT);
    }

    fn with(req: &Request, name: &str, value: Option<&str>) -> Request {
        let mut r = req.clone();
        r.headers.remove(name);
        if let Some(v) = value {
            r.headers.push(name, v);
        }
        r
    }

    #[test]
    fn client_request_errors() {
        use ClientHandshakeError::*;
        let ok = rfc_request();
        let check = |r: &Request| validate_client_request(r).unwrap_err();

        let e = check(&Request {
            method: "POST".into(),
            ..ok.clone()
        });
        assert_eq!(
            (e.clone(), e.status()),
            (
                NotGet {
                    method: "POST".into()
                },
                400
            )
        );
        let e = check(&Request {
            version: http::Version::HTTP_1_0,
            ..ok.clone()
        });
        assert_eq!(e.status(), 400);
        assert_eq!(check(&with(&ok, "Host", None)), NoHost);
        assert_eq!(check(&with(&ok, "Upgrade", None)), NoUpgrade);
        assert_eq!(check(&with(&ok, "Upgrade", Some("h2c"))), NoUpgrade);
        assert_eq!(
            check(&with(&ok, "Connection", Some("keep-alive"))),
            NoConnectionUpgrade
        );
        assert_eq!(check(&with(&ok, "Sec-WebSocket-Key", None)), NoKey);
        let mut two = ok.clone();
        two.headers.push("sec-websocket-key", RFC_KEY);
        assert_eq!(check(&two), DuplicateKey);
        assert!(matches!(
            check(&with(&ok, "Sec-WebSocket-Key", Some("not base64!"))),
            BadKey { .. }
        ));
        // 15 bytes.
        assert!(matches!(
            check(&with(
                &ok,
                "Sec-WebSocket-Key",
                Some("AQIDBAUGBwgJCgsMDQ4P")
            )),
            BadKey { .. }
        ));
        assert_eq!(check(&with(&ok, "Sec-WebSocket-Version", None)), NoVersion);
        let e = check(&with(&ok, "Sec-WebSocket-Version", Some("8")));
        assert_eq!(e, UnsupportedVersion { got: "8".into() });
        assert_eq!(e.status(), 426);
        let resp = e.response();
        assert_eq!(resp.status, 426);
        assert_eq!(resp.headers.get("Sec-WebSocket-Version"), Some("13"));
        assert_eq!(resp.headers.get("Upgrade"), Some("websocket"));
        assert!(
            resp.to_bytes()
                .starts_with(b"HTTP/1.1 426 Upgrade Required\r\n")
        );
        let resp = NoKey.response();
        assert_eq!(resp.status, 400);
        assert_eq!(resp.headers.get("Sec-WebSocket-Version"), None);
        assert!(matches!(
            check(&with(&ok, "Sec-WebSocket-Protocol", Some("chat, chat"))),
            BadProtocols { .. }
        ));
        assert!(matches!(
            check(&with(&ok, "Sec-WebSocket-Protocol", Some("a b"))),
            BadProtocols { .. }
        ));
        assert!(matches!(
            check(&with(
                &ok,
                "Sec-WebSocket-Extensions",
                Some("permessage-deflate; =")
            )),
            BadExtensions { .. }
        ));
        for e in [NoHost, NoUpgrade, DuplicateKey] {
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn tokens_match_any_case_and_lists() {
        // Firefox sends "Connection: keep-alive, Upgrade"; case does not matter.
        let r = with(&rfc_request(), "Connection", Some("keep-alive, UPGRADE"));
        let r = with(&r, "Upgrade", Some("WebSocket"));
        assert!(validate_client_request(&r).is_ok());
    }

    #[test]
    fn extension_offers() {
        // What Chrome and Firefox send.
        let exts = parse_extensions("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(
            exts,
            [Extension {
                name: "permessage-deflate".into(),
                params: vec![("client_max_window_bits".into(), None)],
            }]
        );
        let exts = parse_extensions(
            "permessage-deflate; server_max_window_bits=10 ; client_max_window_bits=\"12\", \
             , x-webkit-deflate-frame",
        )
        .unwrap();
        assert_eq!(exts.len(), 2);
        assert_eq!(
            exts[0].params,
            [
                ("server_max_window_bits".to_string(), Some("10".to_string())),
                ("client_max_window_bits".to_string(), Some("12".to_string())),
            ]
        );
        assert_eq!(
            exts[0].to_string(),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"
        );
        assert_eq!(parse_extensions(""), Ok(vec![]));
        for bad in [
            "permessage-deflate; a=\"unclosed",
            "permessage-deflate; a=\"not a token\"",
            "; a",
            "ext; =1",
            "ext; a=",
            "ext x",
            "ext; a=1 b",
        ] {
            assert!(parse_extensions(bad).is_err(), "{bad}");
        }

        // A server declines permessage-deflate by not echoing it.
        let r = with(
            &rfc_request(),
            "Sec-WebSocket-Extensions",
            Some("permessage-deflate; client_max_window_bits"),
        );
        let hs = validate_client_request(&r).unwrap();
        assert!(hs.offers_extension("permessage-deflate"));
        let resp = hs.accept_response(None);
        assert!(!resp.headers.contains("Sec-WebSocket-Extensions"));
        assert!(!resp.headers.contains("Sec-WebSocket-Protocol"));
    }

    #[test]
    fn server_response_errors() {
        use ServerHandshakeError::*;
        let (ok, _) = http::parse_response(RFC_RESPONSE).unwrap().unwrap();
        let check =
            |r: &Response| validate_server_response(r, RFC_KEY, &["chat"], &["permessage-deflate"]);
        assert!(check(&ok).is_ok());
        let mut r = ok.clone();
        r.status = 426;
        r.reason = "Upgrade Required".into();
        assert_eq!(
            check(&r),
            Err(NotSwitching {
                status: 426,
                reason: "Upgrade Required".into()
            })
        );
        let mut r = ok.clone();
        r.headers.remove("upgrade");
        assert_eq!(check(&r), Err(NoUpgrade));
        let mut r = ok.clone();
        r.headers.set("Connection", "close");
        assert_eq!(check(&r), Err(NoConnectionUpgrade));
        let mut r = ok.clone();
        r.headers.remove("Sec-WebSocket-Accept");
        assert_eq!(check(&r), Err(NoAccept));
        let e = validate_server_response(&ok, "AQIDBAUGBwgJCgsMDQ4PEA==", &["chat"], &[]);
        assert!(matches!(e, Err(WrongAccept { .. })));
        let mut r = ok.clone();
        r.headers.set("Sec-WebSocket-Protocol", "superchat");
        assert!(matches!(check(&r), Err(UnrequestedProtocol { .. })));
        r.headers.set("Sec-WebSocket-Protocol", "chat, chat");
        assert!(matches!(check(&r), Err(UnrequestedProtocol { .. })));
        let mut r = ok.clone();
        r.headers.push("Sec-WebSocket-Extensions", "x-custom");
        assert_eq!(
            check(&r),
            Err(UnrequestedExtension {
                name: "x-custom".into()
            })
        );
        let mut r = ok.clone();
        r.headers
            .push("Sec-WebSocket-Extensions", "permessage-deflate");
        assert_eq!(check(&r).unwrap().extensions.len(), 1);
    }

    #[test]
    fn opcodes() {
        for v in 0..16u8 {
            let op = OpCode::from(v);
            assert_eq!(u8::from(op), v);
            assert_eq!(op.is_control(), v >= 8);
            assert_eq!(op.is_reserved(), matches!(v, 3..=7 | 0xb..=0xf));
            assert!(!op.name().is_empty());
        }
        assert_eq!(OpCode::from(0x81), OpCode::Text);
        assert_eq!(Role::Client.peer(), Role::Server);
    }
}
