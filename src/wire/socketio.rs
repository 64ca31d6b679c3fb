//! Socket.IO protocol version 5: events, acknowledgements and namespaces over Engine.IO.
//!
//! Socket.IO rides in Engine.IO *message* packets. Each Socket.IO packet is text:
//!
//! ```text
//!   <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
//!
//!   0                          CONNECT to the main namespace "/"
//!   0/admin,{"token":"123"}    CONNECT to "/admin" with an auth payload
//!   2["hello",1]               EVENT "hello" with one argument, 1
//!   212["bar"]                 EVENT "bar" asking for an acknowledgement, ack id 12
//!   312["ok"]                  ACK for id 12, with the argument "ok"
//!   51-["hello",{"_placeholder":true,"num":0}]   BINARY_EVENT: 1 attachment follows
//! ```
//!
//! Binary arguments cannot live in JSON: they are replaced by placeholders
//! `{"_placeholder":true,"num":N}`, the packet announces how many attachments follow
//! (`51-`), and each attachment travels as its own Engine.IO binary message right after.
//! Specification: <https://github.com/socketio/socket.io-protocol> (v5), § "Packet
//! format", § "Exchange protocol"; the reference decoder is `socket.io-parser`, whose
//! rules (payload validity per type, "Illegal attachments", reserved event names) this
//! module follows.
//!
//! Pure: nothing here does I/O. May import `std` and `serde_json`.

use core::fmt;

use serde_json::Value;

/// The protocol revision: Socket.IO v5 (socket.io 3 and 4).
pub const PROTOCOL: u8 = 5;

/// `socket.io-parser`'s default limit on attachments per packet.
pub const MAX_ATTACHMENTS: usize = 10;

/// Event names an application may not emit (socket.io-parser's `RESERVED_EVENTS`):
/// they mean something to the library itself.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

fields! {
    TYPE: Num(
        "Socket.IO packet type",
        "socketio.packet_type",
        "one digit: 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT, 6 BINARY_ACK",
    );
    ATTACHMENTS: Num(
        "attachments",
        "socketio.attachments",
        "how many binary messages follow this packet (binary packets only), ended by `-`",
    );
    NAMESPACE: Text(
        "namespace",
        "socketio.namespace",
        "which namespace (a channel multiplexed on one connection) the packet is for, ended by `,`; absent means \"/\"",
    );
    ACK_ID: Num(
        "ack id",
        "socketio.ack_id",
        "a number the sender wants echoed in an ACK packet: it asked for an acknowledgement",
    );
    DATA: Text(
        "data",
        "socketio.data",
        "JSON: the auth object (CONNECT), [event name, arguments…] (EVENT), [arguments…] (ACK), the error (CONNECT_ERROR)",
    );
    EVENT: Text(
        "event",
        "socketio.event",
        "the event's name: the first element of an EVENT's array, what `socket.on(name, …)` listens for",
    );
    ARGS: Text(
        "arguments",
        "socketio.args",
        "what the event (or the acknowledgement) hands the listener, as JSON; binary attachments shown as buffers",
    );
}

/// A Socket.IO packet type (v5 § "Packet format").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// 0: join a namespace (client → server, with an optional auth object); the
    /// server answers with the same type and `{"sid":…}`.
    Connect,
    /// 1: leave a namespace.
    Disconnect,
    /// 2: an event: `["name", args…]`.
    Event,
    /// 3: the acknowledgement of an event, with its ack id.
    Ack,
    /// 4: the server refuses a namespace connection: `{"message":…}`.
    ConnectError,
    /// 5: an event with binary arguments sent as attachments.
    BinaryEvent,
    /// 6: an acknowledgement with binary arguments.
    BinaryAck,
}

impl PacketType {
    pub const ALL: [PacketType; 7] = [
        PacketType::Connect,
        PacketType::Disconnect,
        PacketType::Event,
        PacketType::Ack,
        PacketType::ConnectError,
        PacketType::BinaryEvent,
        PacketType::BinaryAck,
    ];

    pub fn digit(self) -> char {
        (b'0' + self as u8) as char
    }

    pub fn from_digit(c: u8) -> Option<PacketType> {
        c.checked_sub(b'0')
            .and_then(|n| PacketType::ALL.get(usize::from(n)).copied())
    }

    pub fn name(self) -> &'static str {
        match self {
            PacketType::Connect => "CONNECT",
            PacketType::Disconnect => "DISCONNECT",
            PacketType::Event => "EVENT",
            PacketType::Ack => "ACK",
            PacketType::ConnectError => "CONNECT_ERROR",
            PacketType::BinaryEvent => "BINARY_EVENT",
            PacketType::BinaryAck => "BINARY_ACK",
        }
    }

    pub fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }
}

/// One Socket.IO packet, without its attachments.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub ptype: PacketType,
    /// The namespace; `/` when the packet does not name one.
    pub nsp: String,
    /// The ack id: the sender asks for an acknowledgement (EVENT), or this is one (ACK).
    pub id: Option<u64>,
    /// The JSON data, with binary arguments replaced by placeholders.
    pub data: Option<Value>,
    /// How many binary attachments follow (binary types only; 0 otherwise).
    pub attachments: usize,
}

/// Why a string is not a Socket.IO packet (the reference decoder's reasons, with where).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SioError {
    Empty,
    UnknownType(char),
    /// `5`/`6` not followed by a positive count and `-`.
    IllegalAttachments,
    TooManyAttachments(usize),
    /// An ack id too large for 64 bits.
    BadAckId,
    /// The data is not JSON.
    NotJson(String),
    /// JSON of the wrong shape for the packet type.
    InvalidPayload(&'static str),
    /// A binary message arrived when no binary packet awaited attachments.
    UnexpectedBinary,
    /// A text packet arrived while a binary packet still awaited attachments.
    UnexpectedText {
        missing: usize,
    },
    /// A placeholder names an attachment that does not exist.
    BadPlaceholder {
        num: u64,
        attachments: usize,
    },
}

impl fmt::Display for SioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SioError::Empty => f.write_str("empty Socket.IO packet"),
            SioError::UnknownType(c) => write!(
                f,
                "unknown Socket.IO packet type {c:?} (expected a digit 0 to 6)"
            ),
            SioError::IllegalAttachments => f.write_str(
                "illegal attachments: a binary packet needs a count of at least 1 and `-`",
            ),
            SioError::TooManyAttachments(n) => {
                write!(f, "too many attachments: {n} (at most {MAX_ATTACHMENTS})")
            }
            SioError::BadAckId => f.write_str("the ack id does not fit in 64 bits"),
            SioError::NotJson(e) => write!(f, "the data is not JSON: {e}"),
            SioError::InvalidPayload(why) => write!(f, "invalid payload: {why}"),
            SioError::UnexpectedBinary => {
                f.write_str("a binary message arrived but no packet awaited an attachment")
            }
            SioError::UnexpectedText { missing } => write!(
                f,
                "a text packet arrived while {missing} attachment(s) were still awaited"
            ),
            SioError::BadPlaceholder { num, attachments } => write!(
                f,
                "placeholder {num} names a missing attachment (the packet has {attachments})"
            ),
        }
    }
}

impl std::error::Error for SioError {}

/// `{"_placeholder":true,"num":N}`: where attachment N goes.
pub fn placeholder(num: usize) -> Value {
    serde_json::json!({"_placeholder": true, "num": num})
}

/// The attachment number if `v` is a placeholder.
pub fn placeholder_num(v: &Value) -> Option<u64> {
    let o = v.as_object()?;
    (o.get("_placeholder")? == &Value::Bool(true))
        .then(|| o.get("num")?.as_u64())
        .flatten()
}

/// Every placeholder number in `v`, depth first.
fn placeholders(v: &Value, out: &mut Vec<u64>) {
    if let Some(n) = placeholder_num(v) {
        out.push(n);
        return;
    }
    match v {
        Value::Array(a) => a.iter().for_each(|x| placeholders(x, out)),
        Value::Object(o) => o.values().for_each(|x| placeholders(x, out)),
        _ => {}
    }
}

impl Packet {
    fn new(ptype: PacketType, nsp: &str, id: Option<u64>, data: Option<Value>) -> Packet {
        Packet {
            ptype,
            nsp: nsp.to_string(),
            id,
            data,
            attachments: 0,
        }
    }

    /// CONNECT (client: optional auth object; server: `{"sid":…}`).
    pub fn connect(nsp: &str, data: Option<Value>) -> Packet {
        Packet::new(PacketType::Connect, nsp, None, data)
    }

    pub fn disconnect(nsp: &str) -> Packet {
        Packet::new(PacketType::Disconnect, nsp, None, None)
    }

    /// CONNECT_ERROR with `{"message":…}` (what the official server sends).
    pub fn connect_error(nsp: &str, message: &str) -> Packet {
        Packet::new(
            PacketType::ConnectError,
            nsp,
            None,
            Some(serde_json::json!({ "message": message })),
        )
    }

    /// An event: `args` may hold placeholders for `attachments` binary arguments; then
    /// the packet is a BINARY_EVENT.
    pub fn event(nsp: &str, name: &str, args: Vec<Value>, id: Option<u64>) -> Packet {
        let mut data = Vec::with_capacity(args.len() + 1);
        data.push(Value::String(name.to_string()));
        data.extend(args);
        Packet::new(PacketType::Event, nsp, id, Some(Value::Array(data))).binary_if_needed()
    }

    /// An acknowledgement of ack id `id` carrying `args`.
    pub fn ack(nsp: &str, id: u64, args: Vec<Value>) -> Packet {
        Packet::new(PacketType::Ack, nsp, Some(id), Some(Value::Array(args))).binary_if_needed()
    }

    /// Counts the placeholders in the data and turns EVENT/ACK into BINARY_EVENT /
    /// BINARY_ACK when there are any (and back).
    pub fn binary_if_needed(mut self) -> Packet {
        let mut nums = Vec::new();
        if let Some(d) = &self.data {
            placeholders(d, &mut nums);
        }
        self.attachments = nums.len();
        self.ptype = match (self.ptype, nums.is_empty()) {
            (PacketType::Event | PacketType::BinaryEvent, false) => PacketType::BinaryEvent,
            (PacketType::Event | PacketType::BinaryEvent, true) => PacketType::Event,
            (PacketType::Ack | PacketType::BinaryAck, false) => PacketType::BinaryAck,
            (PacketType::Ack | PacketType::BinaryAck, true) => PacketType::Ack,
            (t, _) => t,
        };
        self
    }

    /// For an EVENT: its name and arguments.
    pub fn event_parts(&self) -> Option<(String, &[Value])> {
        let a = self.data.as_ref()?.as_array()?;
        let name = match a.first()? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some((name, &a[1..]))
    }

    /// The arguments of an ACK.
    pub fn ack_args(&self) -> &[Value] {
        self.data
            .as_ref()
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// The text form: `2/chat,12["hi"]`.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        s.push(self.ptype.digit());
        if self.ptype.is_binary() {
            s.push_str(&self.attachments.to_string());
            s.push('-');
        }
        if self.nsp != "/" && !self.nsp.is_empty() {
            s.push_str(&self.nsp);
            s.push(',');
        }
        if let Some(id) = self.id {
            s.push_str(&id.to_string());
        }
        if let Some(d) = &self.data {
            s.push_str(&d.to_string());
        }
        s
    }

    /// Parses the text form, with the reference decoder's rules.
    pub fn decode(text: &str) -> Result<Packet, SioError> {
        let b = text.as_bytes();
        let first = *b.first().ok_or(SioError::Empty)?;
        let ptype = PacketType::from_digit(first)
            .ok_or_else(|| SioError::UnknownType(text.chars().next().unwrap_or('\0')))?;
        let mut i = 1;
        let mut attachments = 0;
        if ptype.is_binary() {
            let dash = b[1..]
                .iter()
                .position(|&c| c == b'-')
                .ok_or(SioError::IllegalAttachments)?
                + 1;
            let count = &text[1..dash];
            if count.is_empty() || !count.bytes().all(|c| c.is_ascii_digit()) {
                return Err(SioError::IllegalAttachments);
            }
            let n: usize = count.parse().unwrap_or(usize::MAX);
            if n < 1 {
                return Err(SioError::IllegalAttachments);
            }
            if n > MAX_ATTACHMENTS {
                return Err(SioError::TooManyAttachments(n));
            }
            attachments = n;
            i = dash + 1;
        }
        let mut nsp = "/".to_string();
        if b.get(i) == Some(&b'/') {
            let end = b[i..].iter().position(|&c| c == b',').map(|p| p + i);
            match end {
                Some(e) => {
                    nsp = text[i..e].to_string();
                    i = e + 1;
                }
                None => {
                    nsp = text[i..].to_string();
                    i = b.len();
                }
            }
        }
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let id = if digits > 0 {
            let id = text[i..i + digits]
                .parse::<u64>()
                .map_err(|_| SioError::BadAckId)?;
            i += digits;
            Some(id)
        } else {
            None
        };
        let data = if i < b.len() {
            let v: Value =
                serde_json::from_str(&text[i..]).map_err(|e| SioError::NotJson(e.to_string()))?;
            valid_payload(ptype, &v)?;
            Some(v)
        } else {
            None
        };
        if matches!(
            ptype,
            PacketType::Event | PacketType::BinaryEvent | PacketType::Ack | PacketType::BinaryAck
        ) && data.is_none()
        {
            // socket.io-parser accepts it but no handler can make sense of it.
            return Err(SioError::InvalidPayload(
                "an event or ack needs a JSON array",
            ));
        }
        Ok(Packet {
            ptype,
            nsp,
            id,
            data,
            attachments,
        })
    }

    /// Bytes Socket.IO adds around the JSON data: type, count, namespace, ack id.
    pub fn overhead(&self) -> usize {
        self.encode().len() - self.data.as_ref().map_or(0, |d| d.to_string().len())
    }
}

/// socket.io-parser's `isPayloadValid`.
fn valid_payload(ptype: PacketType, v: &Value) -> Result<(), SioError> {
    let ok = match ptype {
        PacketType::Connect => v.is_object(),
        PacketType::Disconnect => false,
        PacketType::ConnectError => v.is_string() || v.is_object(),
        PacketType::Event | PacketType::BinaryEvent => match v.as_array().and_then(|a| a.first()) {
            Some(Value::Number(_)) => true,
            Some(Value::String(s)) => !RESERVED_EVENTS.contains(&s.as_str()),
            _ => false,
        },
        PacketType::Ack | PacketType::BinaryAck => v.is_array(),
    };
    if ok {
        return Ok(());
    }
    Err(SioError::InvalidPayload(match ptype {
        PacketType::Connect => "CONNECT data must be an object",
        PacketType::Disconnect => "DISCONNECT carries no data",
        PacketType::ConnectError => "CONNECT_ERROR data must be a string or an object",
        PacketType::Event | PacketType::BinaryEvent => {
            "an EVENT must be an array starting with a (non-reserved) event name"
        }
        PacketType::Ack | PacketType::BinaryAck => "an ACK must be an array",
    }))
}

impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// A packet with its attachments, as the application sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub packet: Packet,
    pub attachments: Vec<Vec<u8>>,
}

/// Reassembles binary packets: a BINARY_EVENT/BINARY_ACK, then its attachments, each
/// arriving as an Engine.IO binary message.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Option<Message>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// True while a binary packet waits for attachments.
    pub fn is_waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// An Engine.IO text message: a packet, complete unless it announces attachments.
    pub fn text(&mut self, text: &str) -> Result<Option<Message>, SioError> {
        if let Some(p) = &self.pending {
            let missing = p.packet.attachments - p.attachments.len();
            self.pending = None;
            return Err(SioError::UnexpectedText { missing });
        }
        let packet = Packet::decode(text)?;
        let msg = Message {
            packet,
            attachments: Vec::new(),
        };
        if msg.packet.ptype.is_binary() {
            self.pending = Some(msg);
            return Ok(None);
        }
        Ok(Some(msg))
    }

    /// An Engine.IO binary message: the next attachment of the pending packet.
    pub fn binary(&mut self, bytes: &[u8]) -> Result<Option<Message>, SioError> {
        let Some(p) = &mut self.pending else {
            return Err(SioError::UnexpectedBinary);
        };
        p.attachments.push(bytes.to_vec());
        if p.attachments.len() < p.packet.attachments {
            return Ok(None);
        }
        let msg = self.pending.take().ok_or(SioError::UnexpectedBinary)?;
        let mut nums = Vec::new();
        if let Some(d) = &msg.packet.data {
            placeholders(d, &mut nums);
        }
        if let Some(&num) = nums.iter().find(|&&n| n >= msg.attachments.len() as u64) {
            return Err(SioError::BadPlaceholder {
                num,
                attachments: msg.attachments.len(),
            });
        }
        Ok(Some(msg))
    }
}

/// A JSON value for reading: placeholders shown as `<Buffer 01 02 03 … (N bytes)>`.
pub fn show_value(v: &Value, attachments: &[Vec<u8>]) -> String {
    if let Some(n) = placeholder_num(v) {
        return match usize::try_from(n).ok().and_then(|n| attachments.get(n)) {
            Some(b) => {
                let hex: Vec<String> = b.iter().take(8).map(|x| format!("{x:02x}")).collect();
                let more = if b.len() > 8 { " …" } else { "" };
                format!("<Buffer {}{more} ({} bytes)>", hex.join(" "), b.len())
            }
            None => format!("<attachment {n}>"),
        };
    }
    match v {
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|x| show_value(x, attachments)).collect();
            format!("[{}]", items.join(","))
        }
        Value::Object(o) => {
            let items: Vec<String> = o
                .iter()
                .map(|(k, x)| {
                    format!(
                        "{}:{}",
                        Value::String(k.clone()),
                        show_value(x, attachments)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
        other => other.to_string(),
    }
}

/// The arguments as a call shows them: `'chat', 'hi'` style, JSON for the rest.
pub fn show_args(args: &[Value], attachments: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| show_value(a, attachments))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The examples of socket.io-protocol v5's README, § "Packet format" / "Sample session".
    #[test]
    fn spec_examples() {
        let p = Packet::decode("0").unwrap();
        assert_eq!(p, Packet::connect("/", None));

        let p = Packet::decode("0/admin,{\"token\":\"123\"}").unwrap();
        assert_eq!(p.nsp, "/admin");
        assert_eq!(p.data, Some(json!({"token": "123"})));
        assert_eq!(p.encode(), "0/admin,{\"token\":\"123\"}");

        let p = Packet::decode("0{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}").unwrap();
        assert_eq!(p.data.unwrap()["sid"], "oSO0OpakMV_3jnilAAAA");

        let p = Packet::decode("4{\"message\":\"Not authorized\"}").unwrap();
        assert_eq!(p, Packet::connect_error("/", "Not authorized"));

        let p = Packet::decode("2[\"foo\"]").unwrap();
        assert_eq!(p.event_parts().unwrap().0, "foo");
        assert_eq!(p, Packet::event("/", "foo", vec![], None));

        let p = Packet::decode("2/admin,456[\"project:delete\",123]").unwrap();
        assert_eq!(p.nsp, "/admin");
        assert_eq!(p.id, Some(456));
        let (name, args) = p.event_parts().unwrap();
        assert_eq!((name.as_str(), args), ("project:delete", &[json!(123)][..]));
        assert_eq!(p.encode(), "2/admin,456[\"project:delete\",123]");

        let p = Packet::decode("3/admin,456[]").unwrap();
        assert_eq!(p, Packet::ack("/admin", 456, vec![]));

        let p = Packet::decode("1/admin,").unwrap();
        assert_eq!(p, Packet::disconnect("/admin"));
        assert_eq!(p.encode(), "1/admin,");
    }

    #[test]
    fn binary_event_of_the_spec() {
        // `socket.emit("hello", Buffer.from([1, 2, 3]))`, then one binary message.
        let text = "51-[\"hello\",{\"_placeholder\":true,\"num\":0}]";
        let p = Packet::event("/", "hello", vec![placeholder(0)], None);
        assert_eq!(p.ptype, PacketType::BinaryEvent);
        assert_eq!(p.encode(), text);

        let mut d = Decoder::new();
        assert_eq!(d.text(text).unwrap(), None);
        assert!(d.is_waiting());
        let m = d.binary(&[1, 2, 3]).unwrap().unwrap();
        assert_eq!(m.packet, p);
        assert_eq!(m.attachments, vec![vec![1, 2, 3]]);
        assert_eq!(
            show_args(m.packet.event_parts().unwrap().1, &m.attachments),
            "<Buffer 01 02 03 (3 bytes)>"
        );

        // BINARY_ACK with a namespace and an ack id.
        let text = "61-/admin,456[{\"_placeholder\":true,\"num\":0}]";
        let p = Packet::decode(text).unwrap();
        assert_eq!(p, Packet::ack("/admin", 456, vec![placeholder(0)]));
        assert_eq!(p.encode(), text);
    }

    #[test]
    fn reassembly_errors() {
        let mut d = Decoder::new();
        assert_eq!(d.binary(b"x"), Err(SioError::UnexpectedBinary));
        d.text("52-[\"a\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]")
            .unwrap();
        assert_eq!(d.binary(b"x"), Ok(None));
        assert_eq!(
            d.text("2[\"a\"]"),
            Err(SioError::UnexpectedText { missing: 1 })
        );
        // A placeholder beyond the attachments is refused once they are all in.
        d.text("51-[\"a\",{\"_placeholder\":true,\"num\":3}]")
            .unwrap();
        assert_eq!(
            d.binary(b"x"),
            Err(SioError::BadPlaceholder {
                num: 3,
                attachments: 1
            })
        );
    }

    #[test]
    fn malformed_packets() {
        assert_eq!(Packet::decode(""), Err(SioError::Empty));
        assert_eq!(Packet::decode("9"), Err(SioError::UnknownType('9')));
        assert_eq!(
            Packet::decode("5[\"a\"]"),
            Err(SioError::IllegalAttachments)
        );
        assert_eq!(
            Packet::decode("50-[\"a\"]"),
            Err(SioError::IllegalAttachments)
        );
        assert_eq!(
            Packet::decode("5x-[\"a\"]"),
            Err(SioError::IllegalAttachments)
        );
        assert_eq!(
            Packet::decode("511-[\"a\"]"),
            Err(SioError::TooManyAttachments(11))
        );
        assert!(matches!(
            Packet::decode("2[\"a\""),
            Err(SioError::NotJson(_))
        ));
        assert!(matches!(
            Packet::decode("2{\"a\":1}"),
            Err(SioError::InvalidPayload(_))
        ));
        assert!(matches!(
            Packet::decode("2[\"disconnect\"]"),
            Err(SioError::InvalidPayload(_))
        ));
        assert!(matches!(
            Packet::decode("0[1]"),
            Err(SioError::InvalidPayload(_))
        ));
        assert!(matches!(
            Packet::decode("1{}"),
            Err(SioError::InvalidPayload(_))
        ));
        assert!(matches!(
            Packet::decode("2"),
            Err(SioError::InvalidPayload(_))
        ));
        assert_eq!(
            Packet::decode("299999999999999999999999[\"a\"]"),
            Err(SioError::BadAckId)
        );
        // A namespace with no comma and nothing after: socket.io-parser takes it all.
        assert_eq!(Packet::decode("0/chat").unwrap().nsp, "/chat");
    }

    #[test]
    fn overhead_counts_the_header() {
        let p = Packet::event("/chat", "chat", vec![json!("hi")], Some(7));
        assert_eq!(p.encode(), "2/chat,7[\"chat\",\"hi\"]");
        assert_eq!(p.overhead(), "2/chat,7".len());
    }
}

/// Real bytes: Socket.IO packets the official `socket.io` v4 server and
/// `socket.io-client` v4 exchanged in `captures/socketio-ws.pcap` (see
/// captures/README.md; their own log is `socketio-ws.log.json`), each the text of a
/// WebSocket frame (client frames unmasked) after its Engine.IO type digit `4`.
#[cfg(test)]
mod real_bytes {
    use super::*;
    use serde_json::json;

    /// Frame 10: the client's CONNECT to `/` with auth data.
    const CONNECT: &str = r#"0{"name":"alice"}"#;
    /// Frame 11: the server's answer, the socket's id.
    const CONNECTED: &str = r#"0{"sid":"wPYZKAW3f2T_SGpKAAAA"}"#;
    /// Frame 28: an EVENT asking for an acknowledgement (id 0).
    const SUM: &str = r#"20["sum",1,2]"#;
    /// Frame 31: its ACK.
    const SUM_ACK: &str = "30[3]";
    /// Frame 36: a BINARY_EVENT announcing one attachment (frame 37 carries it).
    const UPLOAD: &str =
        r#"51-1["upload",{"name":"bytes.bin","data":{"_placeholder":true,"num":0}}]"#;

    #[test]
    fn connect_and_its_answer() {
        let p = Packet::decode(CONNECT).unwrap();
        assert_eq!(
            (p.ptype, p.nsp.as_str(), p.id),
            (PacketType::Connect, "/", None)
        );
        assert_eq!(p.data, Some(json!({"name": "alice"})));
        assert_eq!(p.encode(), CONNECT, "netlab writes the same text");
        let p = Packet::decode(CONNECTED).unwrap();
        assert_eq!(p.data, Some(json!({"sid": "wPYZKAW3f2T_SGpKAAAA"})));
    }

    #[test]
    fn an_event_with_an_ack_and_the_ack() {
        let p = Packet::decode(SUM).unwrap();
        assert_eq!((p.ptype, p.id), (PacketType::Event, Some(0)));
        let (name, args) = p.event_parts().unwrap();
        assert_eq!((name.as_str(), args), ("sum", &[json!(1), json!(2)][..]));
        assert_eq!(p.encode(), SUM);
        let a = Packet::decode(SUM_ACK).unwrap();
        assert_eq!(
            (a.ptype, a.id, a.ack_args()),
            (PacketType::Ack, Some(0), &[json!(3)][..])
        );
        assert_eq!(a.encode(), SUM_ACK);
    }

    #[test]
    fn a_binary_event_and_its_attachment() {
        let mut d = Decoder::new();
        assert_eq!(d.text(UPLOAD).unwrap(), None, "it waits for its attachment");
        assert!(d.is_waiting());
        let bytes = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ];
        let m = d
            .binary(&bytes)
            .unwrap()
            .expect("complete with one attachment");
        assert_eq!(
            (m.packet.ptype, m.packet.attachments),
            (PacketType::BinaryEvent, 1)
        );
        assert_eq!(m.attachments, [bytes.to_vec()]);
        let (name, args) = m.packet.event_parts().unwrap();
        assert_eq!(name, "upload");
        assert_eq!(placeholder_num(&args[0]["data"]), Some(0));
        // Written back, the same packet (serde_json orders an object's keys, so the
        // text may differ from the peer's where it has objects).
        assert_eq!(Packet::decode(&m.packet.encode()).unwrap(), m.packet);
    }
}
