//! The layered model a dissection produces: a packet is a stack of layers (the onion),
//! each layer a list of annotated fields `{definition, value, byte range, note}`.
//!
//! Renderers (`src/render/`) read this model and nothing else. To keep dissection of a
//! million packets cheap, values are small copyable enums (no string is allocated for a
//! number or an address) and the vectors are reused from one packet to the next.

use std::borrow::Cow;
use std::ops::Range;

use crate::wire::FieldDef;

/// A protocol layer netlab knows. `short` is Wireshark's protocol name as it appears in
/// `frame.protocols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Eth,
    Vlan,
    /// 802.1ad service tag (QinQ's outer tag).
    QinQ,
    Sll,
    Sll2,
    Null,
    Raw,
    Arp,
    Ip,
    Ipv6,
    Icmp,
    Icmpv6,
    Tcp,
    Udp,
    /// HTTP/1.x message heads (only on TCP).
    Http,
    /// WebSocket frames, in a TCP stream upgraded by an HTTP handshake.
    WebSocket,
    /// An HTTP body or WebSocket text read as lines of text (Wireshark's
    /// "Line-based text data", `data-text-lines`).
    TextLines,
    /// An HTTP body of type application/json (Wireshark's `json`).
    Json,
    /// An HTTP body of a media type with no dissector of its own (Wireshark's `media`).
    Media,
    /// An HTML form's fields (`application/x-www-form-urlencoded`).
    UrlEncodedForm,
    /// Engine.IO packets (in WebSocket frames or HTTP long-polling bodies).
    EngineIo,
    /// Socket.IO packets, inside Engine.IO messages.
    SocketIo,
    /// DNS over UDP or TCP.
    Dns,
    /// TLS records.
    Tls,
    /// FTP's control connection.
    Ftp,
    /// An FTP data connection (announced by PASV/EPSV/PORT on the control connection).
    FtpData,
    /// SMTP commands and replies.
    Smtp,
    /// An Internet message (RFC 5322 headers and body), e.g. SMTP's DATA.
    Imf,
    /// SSH: version banners and the binary packet layer.
    Ssh,
    Data,
}

impl Proto {
    /// Every protocol, in the order of the enum (the display filter's protocol names come
    /// from here).
    pub const ALL: [Proto; 30] = [
        Proto::Eth,
        Proto::Vlan,
        Proto::QinQ,
        Proto::Sll,
        Proto::Sll2,
        Proto::Null,
        Proto::Raw,
        Proto::Arp,
        Proto::Ip,
        Proto::Ipv6,
        Proto::Icmp,
        Proto::Icmpv6,
        Proto::Tcp,
        Proto::Udp,
        Proto::Http,
        Proto::WebSocket,
        Proto::TextLines,
        Proto::Json,
        Proto::Media,
        Proto::UrlEncodedForm,
        Proto::EngineIo,
        Proto::SocketIo,
        Proto::Dns,
        Proto::Tls,
        Proto::Ftp,
        Proto::FtpData,
        Proto::Smtp,
        Proto::Imf,
        Proto::Ssh,
        Proto::Data,
    ];

    /// Its place in [`Proto::ALL`]. The match has no wildcard, so a new protocol cannot
    /// compile without a place, and the test `all_lists_every_protocol` then checks that
    /// `ALL` holds it there.
    pub const fn index(self) -> usize {
        match self {
            Proto::Eth => 0,
            Proto::Vlan => 1,
            Proto::QinQ => 2,
            Proto::Sll => 3,
            Proto::Sll2 => 4,
            Proto::Null => 5,
            Proto::Raw => 6,
            Proto::Arp => 7,
            Proto::Ip => 8,
            Proto::Ipv6 => 9,
            Proto::Icmp => 10,
            Proto::Icmpv6 => 11,
            Proto::Tcp => 12,
            Proto::Udp => 13,
            Proto::Http => 14,
            Proto::WebSocket => 15,
            Proto::TextLines => 16,
            Proto::Json => 17,
            Proto::Media => 18,
            Proto::UrlEncodedForm => 19,
            Proto::EngineIo => 20,
            Proto::SocketIo => 21,
            Proto::Dns => 22,
            Proto::Tls => 23,
            Proto::Ftp => 24,
            Proto::FtpData => 25,
            Proto::Smtp => 26,
            Proto::Imf => 27,
            Proto::Ssh => 28,
            Proto::Data => 29,
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Proto::Eth => "eth",
            Proto::Vlan => "vlan",
            Proto::QinQ => "ieee8021ad",
            Proto::Sll => "sll",
            Proto::Sll2 => "sll",
            Proto::Null => "null",
            Proto::Raw => "raw",
            Proto::Arp => "arp",
            Proto::Ip => "ip",
            Proto::Ipv6 => "ipv6",
            Proto::Icmp => "icmp",
            Proto::Icmpv6 => "icmpv6",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Http => "http",
            Proto::WebSocket => "websocket",
            Proto::TextLines => "data-text-lines",
            Proto::Json => "json",
            Proto::Media => "media",
            Proto::UrlEncodedForm => "urlencoded-form",
            // Wireshark has no Engine.IO or Socket.IO dissector: netlab's own names.
            Proto::EngineIo => "engineio",
            Proto::SocketIo => "socketio",
            Proto::Dns => "dns",
            Proto::Tls => "tls",
            Proto::Ftp => "ftp",
            Proto::FtpData => "ftp-data",
            Proto::Smtp => "smtp",
            Proto::Imf => "imf",
            Proto::Ssh => "ssh",
            Proto::Data => "data",
        }
    }

    /// An application protocol (as opposed to what it carries: text, JSON, data).
    pub fn is_application(self) -> bool {
        matches!(
            self,
            Proto::Http
                | Proto::WebSocket
                | Proto::EngineIo
                | Proto::SocketIo
                | Proto::Dns
                | Proto::Tls
                | Proto::Ftp
                | Proto::FtpData
                | Proto::Smtp
                | Proto::Ssh
        )
    }

    /// Name shown to people: in summaries, trees and legends.
    pub fn title(self) -> &'static str {
        match self {
            Proto::Eth => "Ethernet II",
            Proto::Vlan => "802.1Q VLAN tag",
            Proto::QinQ => "802.1ad service tag (QinQ)",
            Proto::Sll => "Linux cooked capture (SLL)",
            Proto::Sll2 => "Linux cooked capture v2 (SLL2)",
            Proto::Null => "BSD loopback (NULL)",
            Proto::Raw => "Raw IP (no link header)",
            Proto::Arp => "ARP",
            Proto::Ip => "IPv4",
            Proto::Ipv6 => "IPv6",
            Proto::Icmp => "ICMP",
            Proto::Icmpv6 => "ICMPv6",
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Http => "HTTP",
            Proto::WebSocket => "WebSocket",
            Proto::TextLines => "Line-based text data",
            Proto::Json => "JSON",
            Proto::Media => "Media type",
            Proto::UrlEncodedForm => "HTML Form URL Encoded",
            Proto::EngineIo => "Engine.IO",
            Proto::SocketIo => "Socket.IO",
            Proto::Dns => "DNS",
            Proto::Tls => "TLS",
            Proto::Ftp => "FTP",
            Proto::FtpData => "FTP data",
            Proto::Smtp => "SMTP",
            Proto::Imf => "Internet Message Format",
            Proto::Ssh => "SSH",
            Proto::Data => "Payload",
        }
    }

    /// The column "Protocol" of the packet list.
    pub fn column(self) -> &'static str {
        match self {
            Proto::Ip => "IPv4",
            Proto::Ipv6 => "IPv6",
            Proto::Icmp => "ICMP",
            Proto::Icmpv6 => "ICMPv6",
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Http => "HTTP",
            Proto::WebSocket => "WebSocket",
            Proto::TextLines | Proto::Json | Proto::Media | Proto::UrlEncodedForm => "HTTP",
            Proto::EngineIo => "Engine.IO",
            Proto::SocketIo => "Socket.IO",
            Proto::Dns => "DNS",
            Proto::Tls => "TLS",
            Proto::Ftp => "FTP",
            Proto::FtpData => "FTP-DATA",
            Proto::Smtp => "SMTP",
            Proto::Imf => "IMF",
            Proto::Ssh => "SSH",
            Proto::Arp => "ARP",
            Proto::Vlan | Proto::QinQ => "VLAN",
            Proto::Data => "DATA",
            Proto::Eth | Proto::Sll | Proto::Sll2 | Proto::Null | Proto::Raw => "LINK",
        }
    }
}

/// A field's value. Integers stay integers (JSON numbers), flags booleans, addresses
/// their bytes; the renderer formats them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Shown in decimal.
    Uint(u64),
    /// Shown in hexadecimal with `digits` digits (`0x0800`), still a number in JSON.
    Hex(u64, u8),
    /// A single bit or yes/no.
    Bool(bool),
    Mac([u8; 6]),
    Ipv4([u8; 4]),
    Ipv6([u8; 16]),
    /// Free text (already formatted).
    Text(Cow<'static, str>),
    /// Raw bytes: shown as hex, the range is absolute in the frame.
    Bytes(Range<usize>),
    /// A heading that groups the fields below it (e.g. "Options").
    Group,
    /// A time span in nanoseconds, shown in seconds (`0.000123000`).
    Time(i64),
}

/// How a layer's dissection ended when it did not end well (Wireshark's expert info).
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The capture holds fewer bytes than the header (snaplen, or a length that lies).
    Truncated(String),
    /// The bytes contradict the protocol (a length too small, an option past its end…).
    Malformed(String),
    /// An application message netlab could not hold whole (its reassembly limits): the
    /// capture has it, netlab shows its start.
    Incomplete(String),
}

impl Problem {
    pub fn text(&self) -> String {
        match self {
            Problem::Truncated(s) => format!("[truncated: {s}]"),
            Problem::Malformed(s) => format!("[malformed: {s}]"),
            Problem::Incomplete(s) => format!("[incomplete: {s}]"),
        }
    }
}

/// One annotated field.
#[derive(Debug, Clone)]
pub struct Field {
    pub def: &'static FieldDef,
    pub value: Value,
    /// Absolute byte range in the frame (may be empty for computed fields such as the
    /// relative sequence number).
    pub range: Range<usize>,
    /// 0 for a field of the layer, 1 for a sub-field (a flag bit, an option's part), …
    pub depth: u8,
    /// What this value means here: `(IPv4)`, `[correct]`, `[incorrect, should be 0x1c46]`.
    pub note: Option<Cow<'static, str>>,
    /// Bit mask inside the bytes for sub-byte fields (flags, header length nibble).
    pub bits: Option<u32>,
    /// Computed by netlab rather than read from the bytes (Wireshark shows these in
    /// brackets): relative sequence numbers, stream index.
    pub generated: bool,
    /// Not shown in the tree, but there for filters and JSON (Wireshark's hidden
    /// fields: every HTTP header line is also `http.request.line`).
    pub hidden: bool,
}

/// One layer of the onion.
#[derive(Debug, Clone)]
pub struct Layer {
    pub proto: Proto,
    /// Absolute byte range of this layer's header (its payload is the next layer).
    pub range: Range<usize>,
    /// Index range into [`Packet::fields`].
    pub fields: Range<usize>,
    /// A one-line description shown at the head of the layer's block.
    pub headline: String,
    pub problem: Option<Problem>,
}

/// An address for the Source / Destination columns, formatted only when printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Host {
    #[default]
    None,
    Mac([u8; 6]),
    Broadcast,
    Ipv4([u8; 4]),
    Ipv6([u8; 16]),
}

impl Host {
    pub fn write(&self, out: &mut String) {
        match self {
            Host::None => out.push('?'),
            Host::Mac(m) => crate::wire::ethernet::fmt_mac(m, out),
            Host::Broadcast => out.push_str("Broadcast"),
            Host::Ipv4(a) => crate::wire::ipv4::fmt_addr(a, out),
            Host::Ipv6(a) => crate::wire::ipv6::fmt_addr(a, out),
        }
    }
}

/// Bytes a layer was read from that are not the frame's own: Wireshark's extra "data
/// sources" (the tabs under its hex pane). `range` is where they sit in [`Packet::data`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// What the bytes are: "Reassembled TCP", "De-chunked entity body"…
    pub label: &'static str,
    pub range: Range<usize>,
}

/// One dissected frame. Reused across packets: call [`Packet::clear`] between frames.
#[derive(Debug, Default)]
pub struct Packet {
    pub number: u64,
    pub ts_sec: i64,
    pub ts_nsec: u32,
    /// Relative time from the first packet, in nanoseconds.
    pub rel_nsec: i64,
    /// Length on the wire.
    pub len: u32,
    /// Bytes captured (may be less than `len`: snaplen).
    pub caplen: u32,
    pub interface: u32,
    pub linktype: u32,
    /// The captured bytes (`..caplen`), followed by the bytes of every [`Source`] a layer
    /// was read from instead: a reassembled IP datagram, a PDU reassembled from several
    /// TCP segments, a de-chunked HTTP body, an unmasked WebSocket payload.
    pub data: Vec<u8>,
    /// The byte buffers appended after the frame's own bytes, in order.
    pub sources: Vec<Source>,
    pub layers: Vec<Layer>,
    pub fields: Vec<Field>,
    pub warnings: Vec<String>,
    /// Packet-list columns: source and destination of the highest addressed layer.
    pub src: Host,
    pub dst: Host,
    pub protocol: &'static str,
    pub info: String,
    /// Where layers write a headline nobody will read (see `Dissector::detail`).
    pub scratch: String,
}

impl Packet {
    pub fn clear(&mut self) {
        self.data.clear();
        self.sources.clear();
        self.layers.clear();
        self.fields.clear();
        self.warnings.clear();
        self.src = Host::None;
        self.dst = Host::None;
        self.protocol = "";
        self.info.clear();
    }

    /// The end of the buffer that holds byte `at`: the frame's bytes end at `caplen`,
    /// each [`Source`] at its own end.
    pub fn buffer_end(&self, at: usize) -> usize {
        let frame = (self.caplen as usize).min(self.data.len());
        if at < frame {
            return frame;
        }
        self.sources
            .iter()
            .find(|s| s.range.contains(&at))
            .map_or(self.data.len(), |s| s.range.end)
    }

    pub fn has(&self, proto: Proto) -> bool {
        self.layers.iter().any(|l| l.proto == proto)
    }

    /// Where `range` of [`Packet::data`] sits in its own buffer: `None` and the range
    /// itself for the frame's bytes, or the [`Source`] holding it and the range counted
    /// from that source's first byte (as Wireshark counts offsets in each data source).
    pub fn locate(&self, range: &Range<usize>) -> (Option<&Source>, Range<usize>) {
        let frame = (self.caplen as usize).min(self.data.len());
        if range.start < frame {
            return (None, range.clone());
        }
        match self.sources.iter().find(|s| s.range.contains(&range.start)) {
            Some(s) => (
                Some(s),
                range.start - s.range.start..range.end - s.range.start,
            ),
            None => (None, range.clone()),
        }
    }

    pub fn layer_fields(&self, layer: &Layer) -> &[Field] {
        &self.fields[layer.fields.clone()]
    }

    /// First field with this Wireshark name (like `tshark -E occurrence=f`).
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.def.key == key)
    }

    /// Every field with this Wireshark name (an ICMP error embeds a second IP header).
    pub fn fields_named<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Field> + 'a {
        self.fields.iter().filter(move |f| f.def.key == key)
    }

    /// Any problem in any layer.
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.layers.iter().filter_map(|l| l.problem.as_ref())
    }

    /// The Wireshark-style `frame.protocols` string (`eth:ethertype:ip:tcp`).
    pub fn protocols(&self) -> String {
        let mut s = String::new();
        for l in &self.layers {
            let token = l.proto.short();
            // Wireshark calls an application dissector once per segment, and it reads
            // every message there (several HTTP messages, WebSocket frames, TLS
            // records): its name appears once. What it hands the payloads to (text
            // lines, JSON, data) appears once per payload.
            if l.proto.is_application() && s.split(':').any(|t| t == token) {
                continue;
            }
            if !s.is_empty() {
                s.push(':');
            }
            // WebSocket is the continuation of the HTTP conversation that upgraded the
            // connection: `http` comes first even in a segment without HTTP.
            if l.proto == Proto::WebSocket && !s.split(':').any(|t| t == "http") {
                s.push_str("http:");
            }
            s.push_str(token);
            // IPv6 extension headers are protocols of their own in Wireshark.
            if l.proto == Proto::Ipv6 {
                for f in self.layer_fields(l) {
                    let token = match f.def.key {
                        "ipv6.hopopts" => "ipv6.hopopts",
                        "ipv6.routing" => "ipv6.routing",
                        "ipv6.fraghdr" => "ipv6.fraghdr",
                        "ipv6.dstopts" => "ipv6.dstopts",
                        _ => continue,
                    };
                    s.push(':');
                    s.push_str(token);
                }
            }
            // Wireshark inserts the pseudo-protocol "ethertype" after a layer that
            // announces its payload with an EtherType.
            if matches!(
                l.proto,
                Proto::Eth | Proto::Vlan | Proto::QinQ | Proto::Sll | Proto::Sll2
            ) && !self.ends_with_layer(l)
            {
                s.push_str(":ethertype");
            }
        }
        s
    }

    fn ends_with_layer(&self, l: &Layer) -> bool {
        core::ptr::eq(l, self.layers.last().unwrap_or(l))
    }
}

#[cfg(test)]
mod tests {
    use super::Proto;

    #[test]
    fn all_lists_every_protocol() {
        for (i, p) in Proto::ALL.iter().enumerate() {
            assert_eq!(p.index(), i, "{p:?} is not at its index in Proto::ALL");
        }
    }
}
