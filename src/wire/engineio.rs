//! Engine.IO protocol version 4: the transport layer under Socket.IO.
//!
//! Engine.IO gives Socket.IO one bidirectional, message-oriented channel whatever the
//! network allows: it starts with plain HTTP requests ("long-polling") that cross every
//! proxy, and upgrades to a WebSocket when one can be opened. It adds a session id, a
//! heartbeat (the server pings, the client pongs) and a one-character packet type.
//! Specification: <https://github.com/socketio/engine.io-protocol> (v4), § "Packet
//! encoding", § "Handshake", § "Heartbeat", § "Upgrade", § "HTTP long-polling".
//!
//! A packet is its type digit followed by its data:
//!
//! ```text
//!   4hello        message "hello"        (type 4 = message, data "hello")
//!   2             ping                    (the server's heartbeat)
//!   3probe        pong "probe"            (the client's answer during an upgrade)
//!   0{"sid":…}    open + handshake JSON   (the first packet of a session)
//! ```
//!
//! Binary data: over a WebSocket a binary message is one binary frame carrying the raw
//! bytes, with no type prefix (v4 § "Packet encoding"); over HTTP long-polling, where the
//! payload is text, it is `b` followed by the base64 of the bytes. Several packets in one
//! HTTP body are joined by the record separator `\x1e` (v4 § "HTTP long-polling").
//!
//! Pure: nothing here does I/O. May import `std`, `base64`, `serde_json`.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use serde_json::Value;

/// The protocol revision this module speaks: the `EIO=4` query parameter.
pub const PROTOCOL: u8 = 4;

/// The record separator between packets of one long-polling body (v4: "the packets
/// are separated by the record separator character: `\x1e`", ASCII 30).
pub const RECORD_SEPARATOR: char = '\x1e';

/// The prefix of a binary message inside a long-polling payload: `b` + base64.
pub const BINARY_PREFIX: char = 'b';

/// The official server's default interval between two pings, in milliseconds.
pub const DEFAULT_PING_INTERVAL: u64 = 25_000;
/// The official server's default wait for a pong before closing, in milliseconds.
pub const DEFAULT_PING_TIMEOUT: u64 = 20_000;
/// The official server's default `maxPayload` (its `maxHttpBufferSize`): 1 MB.
pub const DEFAULT_MAX_PAYLOAD: usize = 1_000_000;

fields! {
    /// The type digit at the start of every packet.
    TYPE: Num(
        "Engine.IO packet type",
        "engineio.packet_type",
        "one digit naming what the packet is: 0 open, 1 close, 2 ping, 3 pong, 4 message, 5 upgrade, 6 noop",
    );
    /// Everything after the type digit.
    DATA: Text(
        "Engine.IO data",
        "engineio.data",
        "the packet's content: the handshake JSON for open, \"probe\" in an upgrade ping/pong, the upper layer's message for message",
    );
    SID: Text(
        "Session id",
        "engineio.sid",
        "the session's name, chosen by the server: every later request of the session carries it (`&sid=`)",
    );
    UPGRADES: Text(
        "Upgrades",
        "engineio.upgrades",
        "the transports the client may move to (websocket, from long-polling)",
    );
    PING_INTERVAL: Num(
        "Ping interval (ms)",
        "engineio.pingInterval",
        "how often the server pings to check the other side is still there",
    );
    PING_TIMEOUT: Num(
        "Ping timeout (ms)",
        "engineio.pingTimeout",
        "how long the server waits for the pong before it gives the session up",
    );
    MAX_PAYLOAD: Num(
        "Max payload (bytes)",
        "engineio.maxPayload",
        "the largest body or message the server accepts",
    );
    BINARY_PREFIX_FIELD: Text(
        "Binary marker",
        "",
        "`b`: in a long-polling body, a binary message travels as base64 after this letter",
    );
    BINARY_LENGTH: Num(
        "Binary message length",
        "engineio.binary_length",
        "a binary message: raw bytes with no type digit (over a WebSocket, a binary frame)",
    );
}

/// An Engine.IO packet type (v4 § "Packet types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// 0: the server's first packet; carries the handshake JSON.
    Open,
    /// 1: the transport may be closed.
    Close,
    /// 2: heartbeat from the server (or `2probe` from a client testing a new transport).
    Ping,
    /// 3: the answer to a ping, with the same data.
    Pong,
    /// 4: a message for the upper layer (Socket.IO).
    Message,
    /// 5: the client switches to the new transport (end of the upgrade).
    Upgrade,
    /// 6: does nothing; the server answers a pending poll with it during an upgrade.
    Noop,
}

impl PacketType {
    pub const ALL: [PacketType; 7] = [
        PacketType::Open,
        PacketType::Close,
        PacketType::Ping,
        PacketType::Pong,
        PacketType::Message,
        PacketType::Upgrade,
        PacketType::Noop,
    ];

    /// The ASCII digit that starts the packet.
    pub fn digit(self) -> char {
        (b'0' + self as u8) as char
    }

    /// The packet type for a digit, or None for anything else.
    pub fn from_digit(c: u8) -> Option<PacketType> {
        c.checked_sub(b'0')
            .and_then(|n| PacketType::ALL.get(usize::from(n)).copied())
    }

    pub fn name(self) -> &'static str {
        match self {
            PacketType::Open => "open",
            PacketType::Close => "close",
            PacketType::Ping => "ping",
            PacketType::Pong => "pong",
            PacketType::Message => "message",
            PacketType::Upgrade => "upgrade",
            PacketType::Noop => "noop",
        }
    }

    /// What the packet does, for a learner.
    pub fn meaning(self) -> &'static str {
        match self {
            PacketType::Open => "the session is open; the JSON says its id and timers",
            PacketType::Close => "the session ends",
            PacketType::Ping => "are you still there? (heartbeat, or a transport probe)",
            PacketType::Pong => "yes, still here (answer to a ping)",
            PacketType::Message => "a message for the layer above",
            PacketType::Upgrade => "from now on, use the new transport",
            PacketType::Noop => "nothing: ends a pending poll during an upgrade",
        }
    }
}

/// A packet's data: text, or raw bytes (only a message may carry bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Text(String),
    Binary(Vec<u8>),
}

impl Data {
    pub fn len(&self) -> usize {
        match self {
            Data::Text(t) => t.len(),
            Data::Binary(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub ptype: PacketType,
    pub data: Data,
}

/// Why bytes are not an Engine.IO packet or payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EioError {
    /// A text packet must hold at least its type digit.
    Empty,
    /// The first character is not one of the digits 0–6.
    UnknownType(char),
    /// A `b…` record whose base64 does not decode.
    BadBase64 { record: usize },
    /// A long-polling payload with an empty record (two separators in a row, say).
    EmptyRecord { record: usize },
    /// A record of a long-polling payload that is not a packet.
    BadRecord { record: usize, why: Box<EioError> },
    /// The handshake JSON is not what the open packet must carry.
    BadHandshake(String),
    /// The bytes are not UTF-8 where text is required.
    NotUtf8,
}

impl fmt::Display for EioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EioError::Empty => f.write_str("empty Engine.IO packet (no type digit)"),
            EioError::UnknownType(c) => write!(
                f,
                "unknown Engine.IO packet type {c:?} (expected a digit 0 to 6)"
            ),
            EioError::BadBase64 { record } => {
                write!(f, "record {record}: `b` followed by invalid base64")
            }
            EioError::EmptyRecord { record } => {
                write!(f, "record {record} of the payload is empty")
            }
            EioError::BadRecord { record, why } => write!(f, "record {record}: {why}"),
            EioError::BadHandshake(why) => write!(f, "bad handshake JSON: {why}"),
            EioError::NotUtf8 => f.write_str("an Engine.IO text packet is not valid UTF-8"),
        }
    }
}

impl std::error::Error for EioError {}

impl Packet {
    pub fn new(ptype: PacketType, data: impl Into<String>) -> Packet {
        Packet {
            ptype,
            data: Data::Text(data.into()),
        }
    }

    /// A message with text data: `4` + text.
    pub fn message(text: impl Into<String>) -> Packet {
        Packet::new(PacketType::Message, text)
    }

    /// A message with binary data (a WebSocket binary frame, or `b<base64>` in polling).
    pub fn binary(bytes: impl Into<Vec<u8>>) -> Packet {
        Packet {
            ptype: PacketType::Message,
            data: Data::Binary(bytes.into()),
        }
    }

    pub fn ping() -> Packet {
        Packet::new(PacketType::Ping, "")
    }

    pub fn pong() -> Packet {
        Packet::new(PacketType::Pong, "")
    }

    pub fn is_binary(&self) -> bool {
        matches!(self.data, Data::Binary(_))
    }

    /// Parses a text packet: a WebSocket text frame's payload, or one record of a
    /// long-polling body that does not start with `b`.
    pub fn decode_text(text: &str) -> Result<Packet, EioError> {
        let first = *text.as_bytes().first().ok_or(EioError::Empty)?;
        let ptype = PacketType::from_digit(first)
            .ok_or_else(|| EioError::UnknownType(text.chars().next().unwrap_or('\0')))?;
        Ok(Packet::new(ptype, &text[1..]))
    }

    /// A WebSocket binary frame's payload: a binary message (v4: no type prefix).
    pub fn decode_binary(bytes: &[u8]) -> Packet {
        Packet::binary(bytes)
    }

    /// The text form of a text packet (`4hello`); None for a binary message, which a
    /// WebSocket sends as a binary frame and long-polling as `b<base64>`.
    pub fn encode_text(&self) -> Option<String> {
        match &self.data {
            Data::Text(t) => {
                let mut s = String::with_capacity(1 + t.len());
                s.push(self.ptype.digit());
                s.push_str(t);
                Some(s)
            }
            Data::Binary(_) => None,
        }
    }

    /// How the packet travels in a long-polling body: `4hello`, or `b` + base64.
    pub fn encode_polling(&self, out: &mut String) {
        match &self.data {
            Data::Text(t) => {
                out.push(self.ptype.digit());
                out.push_str(t);
            }
            Data::Binary(b) => {
                out.push(BINARY_PREFIX);
                BASE64.encode_string(b, out);
            }
        }
    }

    /// Bytes Engine.IO adds around its data on the given transport: 1 for the type
    /// digit on a WebSocket text frame, 0 for a binary frame; in polling 1, or for
    /// binary the `b` plus base64's growth (4 bytes per 3).
    pub fn overhead(&self, polling: bool) -> usize {
        match (&self.data, polling) {
            (Data::Text(_), _) => 1,
            (Data::Binary(_), false) => 0,
            (Data::Binary(b), true) => 1 + b.len().div_ceil(3) * 4 - b.len(),
        }
    }
}

impl fmt::Display for Packet {
    /// `42["chat","hi"]`, `ping`, or `<binary 5 bytes>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.data {
            Data::Text(t) => write!(f, "{}{t}", self.ptype.digit()),
            Data::Binary(b) => write!(f, "<binary message, {} bytes>", b.len()),
        }
    }
}

/// Joins packets into one long-polling body (v4 § "HTTP long-polling"):
/// `4hello\x1e2\x1ebAQID`.
pub fn encode_payload(packets: &[Packet]) -> String {
    let mut out = String::new();
    for (i, p) in packets.iter().enumerate() {
        if i > 0 {
            out.push(RECORD_SEPARATOR);
        }
        p.encode_polling(&mut out);
    }
    out
}

/// Splits a long-polling body into its packets. Every record must be a packet: one bad
/// record refuses the whole body (the official server closes the session then).
pub fn decode_payload(body: &str) -> Result<Vec<Packet>, EioError> {
    let mut packets = Vec::new();
    for (record, text) in body.split(RECORD_SEPARATOR).enumerate() {
        if text.is_empty() {
            return Err(EioError::EmptyRecord { record });
        }
        if let Some(b64) = text.strip_prefix(BINARY_PREFIX) {
            let bytes = BASE64
                .decode(b64)
                .map_err(|_| EioError::BadBase64 { record })?;
            packets.push(Packet::binary(bytes));
        } else {
            let p = Packet::decode_text(text).map_err(|why| EioError::BadRecord {
                record,
                why: Box::new(why),
            })?;
            packets.push(p);
        }
    }
    Ok(packets)
}

/// The open packet's JSON (v4 § "Handshake"), in the official server's field order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The session id: every later request names it (`&sid=`).
    pub sid: String,
    /// Transports the client may upgrade to: `["websocket"]` from polling, `[]` once
    /// on a WebSocket.
    pub upgrades: Vec<String>,
    /// Milliseconds between two pings from the server.
    pub ping_interval: u64,
    /// Milliseconds the server waits for the pong before it closes the session.
    pub ping_timeout: u64,
    /// The largest body (or message) either side accepts, in bytes.
    pub max_payload: usize,
}

impl Handshake {
    /// The JSON exactly as the official server writes it:
    /// `{"sid":"…","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`.
    pub fn to_json(&self) -> String {
        // Written by hand: serde_json's maps sort their keys, and learners compare
        // this line with the official server's.
        format!(
            r#"{{"sid":{},"upgrades":{},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
            Value::String(self.sid.clone()),
            Value::from(self.upgrades.clone()),
            self.ping_interval,
            self.ping_timeout,
            self.max_payload
        )
    }

    /// The open packet carrying this handshake.
    pub fn packet(&self) -> Packet {
        Packet::new(PacketType::Open, self.to_json())
    }

    /// Reads the open packet's JSON (as a client does).
    pub fn parse(json: &str) -> Result<Handshake, EioError> {
        let v: Value =
            serde_json::from_str(json).map_err(|e| EioError::BadHandshake(e.to_string()))?;
        let field = |name: &str| {
            v.get(name)
                .ok_or_else(|| EioError::BadHandshake(format!("no {name:?}")))
        };
        let sid = field("sid")?
            .as_str()
            .ok_or_else(|| EioError::BadHandshake("\"sid\" is not a string".into()))?
            .to_string();
        let upgrades = match v.get("upgrades") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let number = |name: &str| {
            field(name)?
                .as_u64()
                .ok_or_else(|| EioError::BadHandshake(format!("{name:?} is not a number")))
        };
        Ok(Handshake {
            sid,
            upgrades,
            ping_interval: number("pingInterval")?,
            ping_timeout: number("pingTimeout")?,
            max_payload: usize::try_from(number("maxPayload").unwrap_or(1_000_000))
                .unwrap_or(usize::MAX),
        })
    }
}

/// The error codes of the official server's HTTP error answers
/// (`engine.io/lib/server.ts`, `Server.errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    UnknownTransport = 0,
    UnknownSid = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    Forbidden = 4,
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    /// The message the official server puts next to the code.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status: 403 for Forbidden, 400 for the rest.
    pub fn status(self) -> u16 {
        if self == ErrorCode::Forbidden {
            403
        } else {
            400
        }
    }

    /// The body: `{"code":1,"message":"Session ID unknown"}`.
    pub fn json(self) -> String {
        format!(
            r#"{{"code":{},"message":"{}"}}"#,
            self as u8,
            self.message()
        )
    }
}

/// The query parameters of an Engine.IO request (`/socket.io/?EIO=4&transport=polling&sid=…`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `EIO`: the protocol revision.
    pub eio: Option<String>,
    /// `transport`: `polling` or `websocket`.
    pub transport: Option<String>,
    /// `sid`: absent on the first request, which opens the session.
    pub sid: Option<String>,
}

impl Query {
    /// Parses the query part of a request target (after `?`); unknown keys (the
    /// client's cache-busting `t=`) are ignored.
    pub fn parse(target: &str) -> Query {
        let mut q = Query::default();
        let Some((_, query)) = target.split_once('?') else {
            return q;
        };
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            match k {
                "EIO" => q.eio = Some(v),
                "transport" => q.transport = Some(v),
                "sid" => q.sid = Some(v),
                _ => {}
            }
        }
        q
    }
}

/// Decodes `%XX` escapes (a sid may hold `-` and `_`, never escaped, but be lenient).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(n) = u8::from_str_radix(s.get(i + 1..i + 3).unwrap_or(""), 16)
        {
            out.push(n);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Examples from engine.io-protocol v4's README, § "Packet encoding".
    #[test]
    fn text_packets_of_the_spec() {
        let p = Packet::decode_text("4hello").unwrap();
        assert_eq!(p, Packet::message("hello"));
        assert_eq!(p.encode_text().unwrap(), "4hello");
        assert_eq!(
            Packet::decode_text("2probe").unwrap().ptype,
            PacketType::Ping
        );
        assert_eq!(
            Packet::decode_text("3probe").unwrap(),
            Packet::new(PacketType::Pong, "probe")
        );
        assert_eq!(Packet::decode_text("5").unwrap().ptype, PacketType::Upgrade);
        assert_eq!(Packet::decode_text("6").unwrap().ptype, PacketType::Noop);
        assert_eq!(Packet::decode_text("1").unwrap().ptype, PacketType::Close);
    }

    #[test]
    fn bad_text_packets() {
        assert_eq!(Packet::decode_text(""), Err(EioError::Empty));
        assert_eq!(Packet::decode_text("7x"), Err(EioError::UnknownType('7')));
        assert_eq!(Packet::decode_text("é"), Err(EioError::UnknownType('é')));
        assert!(
            EioError::UnknownType('x')
                .to_string()
                .contains("expected a digit 0 to 6")
        );
    }

    // The spec's long-polling example: "4hello\x1e4€\x1ebAQIDBA==".
    #[test]
    fn polling_payload_of_the_spec() {
        let body = "4hello\x1e4€\x1ebAQIDBA==";
        let packets = decode_payload(body).unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::message("hello"),
                Packet::message("€"),
                Packet::binary([1u8, 2, 3, 4]),
            ]
        );
        assert_eq!(encode_payload(&packets), body);
        assert_eq!(packets[2].overhead(true), 1 + 8 - 4);
        assert_eq!(packets[2].overhead(false), 0);
    }

    #[test]
    fn bad_payloads() {
        assert_eq!(
            decode_payload("4a\x1e\x1e4b"),
            Err(EioError::EmptyRecord { record: 1 })
        );
        assert_eq!(decode_payload(""), Err(EioError::EmptyRecord { record: 0 }));
        assert_eq!(
            decode_payload("4a\x1eb!!"),
            Err(EioError::BadBase64 { record: 1 })
        );
        let e = decode_payload("9").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("record 0: {}", EioError::UnknownType('9'))
        );
    }

    #[test]
    fn handshake_is_the_official_servers() {
        let h = Handshake {
            sid: "lv_VI97HAXpY6yYWAAAC".into(),
            upgrades: vec!["websocket".into()],
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_timeout: DEFAULT_PING_TIMEOUT,
            max_payload: DEFAULT_MAX_PAYLOAD,
        };
        let json = h.to_json();
        assert_eq!(
            json,
            r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        assert_eq!(Handshake::parse(&json).unwrap(), h);
        assert!(Handshake::parse("{}").is_err());
        assert!(Handshake::parse("not json").is_err());
        assert_eq!(h.packet().encode_text().unwrap(), format!("0{json}"));
    }

    #[test]
    fn error_json_is_the_official_servers() {
        assert_eq!(
            ErrorCode::UnknownSid.json(),
            r#"{"code":1,"message":"Session ID unknown"}"#
        );
        assert_eq!(ErrorCode::UnknownSid.status(), 400);
        assert_eq!(ErrorCode::Forbidden.status(), 403);
    }

    #[test]
    fn queries() {
        let q = Query::parse("/socket.io/?EIO=4&transport=polling&t=N8hyd6w&sid=ab%2Dc");
        assert_eq!(q.eio.as_deref(), Some("4"));
        assert_eq!(q.transport.as_deref(), Some("polling"));
        assert_eq!(q.sid.as_deref(), Some("ab-c"));
        assert_eq!(Query::parse("/socket.io/"), Query::default());
        // A truncated escape is kept as it is, never a panic.
        assert_eq!(Query::parse("/?sid=%4").sid.as_deref(), Some("%4"));
    }
}

/// Real bytes: what the official `socket.io` v4 server and `socket.io-client` v4 sent
/// in `captures/socketio-ws.pcap` and `captures/socketio-polling.pcap` (see
/// captures/README.md; the peers' own logs are `socketio-*.log.json`).
#[cfg(test)]
mod real_bytes {
    use super::*;

    /// socketio-ws.pcap, frame 8: the open packet, the text of the server's first
    /// WebSocket frame (unmasked).
    const OPEN_WS: &str = r#"0{"sid":"jmq9ZU3F46oWltntAAAA","upgrades":[],"pingInterval":1000,"pingTimeout":2000,"maxPayload":1000000}"#;
    /// socketio-polling.pcap, frame 6: the body of the answer to the handshake GET.
    const OPEN_POLLING: &str = r#"0{"sid":"gJ_assx6WjsfdxYpAAAA","upgrades":["websocket"],"pingInterval":1000,"pingTimeout":2000,"maxPayload":1000000}"#;
    /// socketio-polling.pcap, frame 31: a GET answered with two packets in one body,
    /// separated by the record separator 0x1e.
    const TWO_IN_ONE: &str = "40{\"sid\":\"o5zN7zA3d-7deqAZAAAA\"}\u{1e}42[\"welcome\",{\"nsp\":\"/\",\"peer\":\"alice\"}]";
    /// socketio-ws.pcap, frame 37: a binary attachment, an Engine.IO binary message
    /// (the client's frame, unmasked).
    const ATTACHMENT: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ];

    #[test]
    fn the_official_servers_open_packets() {
        let p = Packet::decode_text(OPEN_WS).unwrap();
        assert_eq!(p.ptype, PacketType::Open);
        let Data::Text(json) = &p.data else {
            panic!("{p:?}")
        };
        let h = Handshake::parse(json).unwrap();
        assert_eq!(h.sid, "jmq9ZU3F46oWltntAAAA");
        assert!(h.upgrades.is_empty(), "already on a WebSocket");
        assert_eq!(
            (h.ping_interval, h.ping_timeout, h.max_payload),
            (1000, 2000, 1_000_000)
        );
        // netlab writes the same JSON, byte for byte, in the same field order.
        assert_eq!(h.packet().encode_text().unwrap(), OPEN_WS);
        let polled = decode_payload(OPEN_POLLING).unwrap();
        assert_eq!(polled.len(), 1);
        let Data::Text(json) = &polled[0].data else {
            panic!("{polled:?}")
        };
        assert_eq!(Handshake::parse(json).unwrap().upgrades, ["websocket"]);
    }

    #[test]
    fn a_polling_body_with_two_packets() {
        let packets = decode_payload(TWO_IN_ONE).unwrap();
        assert_eq!(packets.len(), 2);
        assert_eq!(
            (packets[0].ptype, packets[1].ptype),
            (PacketType::Message, PacketType::Message)
        );
        assert_eq!(
            packets[0].data,
            Data::Text(r#"0{"sid":"o5zN7zA3d-7deqAZAAAA"}"#.into())
        );
        assert_eq!(
            encode_payload(&packets),
            TWO_IN_ONE,
            "and back, byte for byte"
        );
    }

    #[test]
    fn a_binary_message_over_a_websocket() {
        let p = Packet::decode_binary(&ATTACHMENT);
        assert!(p.is_binary());
        assert_eq!(p.data, Data::Binary(ATTACHMENT.to_vec()));
        // Over a WebSocket a binary message has no type digit: the frame's opcode says it.
        assert_eq!(p.overhead(false), 0);
    }
}
