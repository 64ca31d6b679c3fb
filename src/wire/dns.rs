//! DNS, the Domain Name System (RFC 1035): how a name such as `netlab.test` becomes an
//! address. A client asks a question; a server answers with resource records. The same
//! message format serves both directions, over UDP (one message per datagram) and over
//! TCP (each message preceded by a two-byte length, RFC 1035 § 4.2.2 / RFC 7766).
//!
//! ```text
//!  0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                      ID                       |
//! |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
//! |                    QDCOUNT                    |
//! |                    ANCOUNT                    |
//! |                    NSCOUNT                    |
//! |                    ARCOUNT                    |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! | Question | Answer | Authority | Additional    |
//! ```
//!
//! Names are sequences of length-prefixed labels ending in a zero byte, or in a
//! *compression pointer* (two bytes `11xxxxxx xxxxxxxx`: "the rest of this name is at
//! offset x", RFC 1035 § 4.1.4). A pointer may lead to another pointer, so a hostile
//! message can make a loop: [`read_name`] counts its jumps and refuses more than
//! [`MAX_POINTERS`], and a name longer than 255 bytes, so it always ends.
//!
//! Two levels, as the other codecs: [`Message::parse`] reads a message best-effort into
//! values that carry their byte ranges (what the dissector shows and colours), stopping
//! at the first thing that is wrong and saying what; [`Repr`] is an owned message the live
//! commands build and [`Repr::emit`] writes, compressing repeated names.
//!
//! Records covered: A, NS, CNAME, SOA, PTR, MX, TXT, AAAA (RFC 3596), SRV (RFC 2782) and
//! OPT (EDNS, RFC 6891); any other type is kept as its raw data.

use core::fmt;
use core::ops::Range;

use super::{be16, be32};

pub mod field {
    use crate::wire::Field;
    pub const ID: Field = 0..2;
    pub const FLAGS: Field = 2..4;
    pub const QDCOUNT: Field = 4..6;
    pub const ANCOUNT: Field = 6..8;
    pub const NSCOUNT: Field = 8..10;
    pub const ARCOUNT: Field = 10..12;
    pub const QUESTIONS: usize = 12;
}

/// The fixed header's length. RFC 1035 § 4.1.1.
pub const HEADER_LEN: usize = field::QUESTIONS;
/// DNS's well-known port, over UDP and TCP.
pub const PORT: u16 = 53;
/// Most compression pointers followed while reading one name before it is called a loop.
/// A real name has at most 127 labels, each reached by at most one pointer.
pub const MAX_POINTERS: usize = 127;
/// Longest name on the wire, in bytes (labels, their length bytes and the final zero).
/// RFC 1035 § 2.3.4.
pub const MAX_NAME_LEN: usize = 255;

/// The flag bits of the second header word. RFC 1035 § 4.1.1, RFC 4035 § 3.2 (AD, CD).
pub mod flags {
    pub const QR: u16 = 0x8000;
    pub const OPCODE: u16 = 0x7800;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RA: u16 = 0x0080;
    pub const Z: u16 = 0x0040;
    pub const AD: u16 = 0x0020;
    pub const CD: u16 = 0x0010;
    pub const RCODE: u16 = 0x000f;
}

fields! {
    LENGTH: Num(
        "Length",
        "dns.length",
        "over TCP, each DNS message is preceded by its length in two bytes, since TCP is a byte stream with no message boundaries",
    );
    ID: Num(
        "Transaction ID",
        "dns.id",
        "a number the client picks and the server copies into its answer, so the client can match answers to questions",
    );
    FLAGS: Num(
        "Flags",
        "dns.flags",
        "what kind of message this is and how it should be handled",
    );
    FLAG_RESPONSE: Bool(
        "Response",
        "dns.flags.response",
        "QR: 0 for a question, 1 for an answer",
    );
    FLAG_OPCODE: Num(
        "Opcode",
        "dns.flags.opcode",
        "the kind of query: 0 a standard query (almost always)",
    );
    FLAG_AUTHORITATIVE: Bool(
        "Authoritative",
        "dns.flags.authoritative",
        "AA: the answer comes from a server responsible for the name, not from a cache",
    );
    FLAG_TRUNCATED: Bool(
        "Truncated",
        "dns.flags.truncated",
        "TC: the answer did not fit in the datagram; the client should ask again over TCP",
    );
    FLAG_RECDESIRED: Bool(
        "Recursion desired",
        "dns.flags.recdesired",
        "RD: the client asks the server to find the answer for it, asking other servers if needed",
    );
    FLAG_RECAVAIL: Bool(
        "Recursion available",
        "dns.flags.recavail",
        "RA: the server offers to ask other servers on the client's behalf",
    );
    FLAG_Z: Bool(
        "Z",
        "dns.flags.z",
        "reserved, must be 0",
    );
    FLAG_AUTHENTICATED: Bool(
        "Answer authenticated",
        "dns.flags.authenticated",
        "AD: the server checked the answer's DNSSEC signatures (in a query: the client understands this bit)",
    );
    FLAG_CHECKDISABLE: Bool(
        "Non-authenticated data",
        "dns.flags.checkdisable",
        "CD: the client asks the server not to check DNSSEC signatures",
    );
    FLAG_RCODE: Num(
        "Reply code",
        "dns.flags.rcode",
        "how the question went: 0 no error, 3 no such name, 5 refused…",
    );
    COUNT_QUERIES: Num(
        "Questions",
        "dns.count.queries",
        "how many questions follow (almost always 1)",
    );
    COUNT_ANSWERS: Num(
        "Answer RRs",
        "dns.count.answers",
        "how many resource records answer the question",
    );
    COUNT_AUTH_RR: Num(
        "Authority RRs",
        "dns.count.auth_rr",
        "how many records name the servers responsible for the zone (or its SOA when the name does not exist)",
    );
    COUNT_ADD_RR: Num(
        "Additional RRs",
        "dns.count.add_rr",
        "how many extra records follow that may help (addresses of named servers, EDNS's OPT)",
    );
    QUERIES: Group(
        "Queries",
        "",
        "the questions: a name, a record type and a class",
    );
    QRY_NAME: Text(
        "Name",
        "dns.qry.name",
        "the domain name asked about",
    );
    QRY_NAME_LEN: Num(
        "Name Length",
        "dns.qry.name.len",
        "the name's length in characters",
    );
    COUNT_LABELS: Num(
        "Label Count",
        "dns.count.labels",
        "how many labels (dot-separated parts) the name has",
    );
    QRY_TYPE: Num(
        "Type",
        "dns.qry.type",
        "which kind of record is wanted: 1 A (IPv4 address), 28 AAAA (IPv6), 15 MX (mail server)…",
    );
    QRY_CLASS: Num(
        "Class",
        "dns.qry.class",
        "the network the name belongs to: 1 IN, the Internet (others are historical)",
    );
    ANSWERS: Group(
        "Answers",
        "",
        "records that answer the question",
    );
    AUTHORITIES: Group(
        "Authoritative nameservers",
        "",
        "records about the servers responsible for the zone",
    );
    ADDITIONALS: Group(
        "Additional records",
        "",
        "records that may help the client (and EDNS's OPT pseudo-record)",
    );
    RESP_NAME: Text(
        "Name",
        "dns.resp.name",
        "the name this record is about (often a 2-byte pointer to where the name was written before)",
    );
    RESP_TYPE: Num(
        "Type",
        "dns.resp.type",
        "what kind of data the record holds",
    );
    RESP_CLASS: Num(
        "Class",
        "dns.resp.class",
        "the record's class: 1 IN, the Internet",
    );
    RESP_TTL: Num(
        "Time to live",
        "dns.resp.ttl",
        "seconds the record may be kept in a cache before it must be asked for again",
    );
    RESP_LEN: Num(
        "Data length",
        "dns.resp.len",
        "length of the record's data (RDATA) in bytes",
    );
    A: Ipv4(
        "Address",
        "dns.a",
        "an IPv4 address of the name",
    );
    AAAA: Ipv6(
        "AAAA Address",
        "dns.aaaa",
        "an IPv6 address of the name (RFC 3596)",
    );
    NS: Text(
        "Name Server",
        "dns.ns",
        "a server responsible for (authoritative for) the zone",
    );
    CNAME: Text(
        "CNAME",
        "dns.cname",
        "the name is an alias; this is its canonical (real) name, which the resolver looks up instead",
    );
    PTR: Text(
        "Domain Name",
        "dns.ptr.domain_name",
        "the name a reverse lookup (an address written under in-addr.arpa) points to",
    );
    MX_PREFERENCE: Num(
        "Preference",
        "dns.mx.preference",
        "mail servers with lower numbers are tried first",
    );
    MX_MAIL_EXCHANGE: Text(
        "Mail Exchange",
        "dns.mx.mail_exchange",
        "a server that accepts mail for the name",
    );
    TXT_LENGTH: Num(
        "TXT Length",
        "dns.txt.length",
        "the length of one text string (each is at most 255 bytes)",
    );
    TXT: Text(
        "TXT",
        "dns.txt",
        "free text attached to the name (SPF mail policies, site verification…)",
    );
    SOA_MNAME: Text(
        "Primary name server",
        "dns.soa.mname",
        "the zone's primary server, where its data is edited",
    );
    SOA_RNAME: Text(
        "Responsible authority's mailbox",
        "dns.soa.rname",
        "the administrator's mail address, with the @ written as the first dot",
    );
    SOA_SERIAL: Num(
        "Serial Number",
        "dns.soa.serial_number",
        "the zone's version; secondary servers copy the zone again when it grows",
    );
    SOA_REFRESH: Num(
        "Refresh Interval",
        "dns.soa.refresh_interval",
        "seconds between a secondary server's checks of the serial number",
    );
    SOA_RETRY: Num(
        "Retry Interval",
        "dns.soa.retry_interval",
        "seconds before a secondary retries a failed check",
    );
    SOA_EXPIRE: Num(
        "Expire limit",
        "dns.soa.expire_limit",
        "seconds after which a secondary that cannot reach the primary stops answering for the zone",
    );
    SOA_MINIMUM: Num(
        "Minimum TTL",
        "dns.soa.minimum_ttl",
        "how long resolvers may remember that a name does not exist (negative caching, RFC 2308)",
    );
    SRV_SERVICE: Text(
        "Service",
        "dns.srv.service",
        "the service the record is about (first label of the owner name, e.g. _http)",
    );
    SRV_PROTO: Text(
        "Protocol",
        "dns.srv.proto",
        "the transport the service uses (second label, _tcp or _udp)",
    );
    SRV_NAME: Text(
        "Name",
        "dns.srv.name",
        "the domain the service belongs to",
    );
    SRV_PRIORITY: Num(
        "Priority",
        "dns.srv.priority",
        "servers with lower numbers are tried first (RFC 2782)",
    );
    SRV_WEIGHT: Num(
        "Weight",
        "dns.srv.weight",
        "among servers of equal priority, the share of clients each should get",
    );
    SRV_PORT: Num(
        "Port",
        "dns.srv.port",
        "the port the service listens on",
    );
    SRV_TARGET: Text(
        "Target",
        "dns.srv.target",
        "the host that offers the service",
    );
    UDP_PAYLOAD_SIZE: Num(
        "UDP payload size",
        "dns.rr.udp_payload_size",
        "EDNS (RFC 6891): the largest UDP answer the sender can receive; the OPT record borrows the class field for it",
    );
    EXT_RCODE: Num(
        "Higher bits in extended RCODE",
        "dns.resp.ext_rcode",
        "EDNS: the upper 8 bits of a 12-bit reply code (the TTL field is borrowed)",
    );
    EDNS0_VERSION: Num(
        "EDNS0 version",
        "dns.resp.edns0_version",
        "the EDNS version the sender speaks (0)",
    );
    EDNS_Z: Num(
        "Z",
        "dns.resp.z",
        "EDNS flags",
    );
    EDNS_Z_DO: Bool(
        "DO bit",
        "dns.resp.z.do",
        "DNSSEC OK: the sender wants DNSSEC signatures in the answer",
    );
    EDNS_Z_RESERVED: Num(
        "Reserved",
        "dns.resp.z.reserved",
        "unused EDNS flag bits, 0",
    );
    OPT: Group(
        "Option",
        "dns.opt",
        "one EDNS option: a code, a length and data",
    );
    OPT_CODE: Num(
        "Option Code",
        "dns.opt.code",
        "which option: 10 COOKIE, 12 padding, 15 extended error…",
    );
    OPT_LEN: Num(
        "Option Length",
        "dns.opt.len",
        "the option's data length in bytes",
    );
    OPT_DATA: Bytes(
        "Option Data",
        "dns.opt.data",
        "the option's data",
    );
    OPT_COOKIE_CLIENT: Bytes(
        "Client Cookie",
        "dns.opt.cookie.client",
        "8 random bytes the client sends so it can recognise genuine answers (RFC 7873)",
    );
    OPT_COOKIE_SERVER: Bytes(
        "Server Cookie",
        "dns.opt.cookie.server",
        "the server's part of the cookie, which the client sends back next time",
    );
    OPT_EXT_ERROR_CODE: Num(
        "Info Code",
        "dns.opt.ext_error.info_code",
        "an extended error code saying more about the answer (RFC 8914)",
    );
    OPT_EXT_ERROR_TEXT: Text(
        "Extra Text",
        "dns.opt.ext_error.extra_text",
        "the extended error's explanation for people",
    );
    OPT_PADDING: Bytes(
        "Padding",
        "dns.opt.padding",
        "zero bytes that hide the message's true length from an observer of encrypted DNS (RFC 7830)",
    );
    DATA: Bytes(
        "Data",
        "dns.data",
        "the record's data, of a type netlab does not decode",
    );
}

/// The kind of query (RFC 1035 § 4.1.1; RFC 1996 NOTIFY, RFC 2136 UPDATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Query,
    IQuery,
    Status,
    Notify,
    Update,
    Dso,
    Unknown(u8),
}

impl From<u8> for Opcode {
    fn from(v: u8) -> Self {
        match v {
            0 => Opcode::Query,
            1 => Opcode::IQuery,
            2 => Opcode::Status,
            4 => Opcode::Notify,
            5 => Opcode::Update,
            6 => Opcode::Dso,
            n => Opcode::Unknown(n),
        }
    }
}

impl Opcode {
    /// Wireshark's words, which also start the packet list's Info.
    pub fn name(self) -> &'static str {
        match self {
            Opcode::Query => "Standard query",
            Opcode::IQuery => "Inverse query",
            Opcode::Status => "Server status request",
            Opcode::Notify => "Zone change notification",
            Opcode::Update => "Dynamic update",
            Opcode::Dso => "DNS Stateful operations (DSO)",
            Opcode::Unknown(_) => "Unknown operation",
        }
    }
}

/// The reply code (RFC 1035 § 4.1.1, RFC 2136, RFC 6891's extension).
pub fn rcode_name(rcode: u16) -> &'static str {
    match rcode {
        0 => "No error",
        1 => "Format error",
        2 => "Server failure",
        3 => "No such name",
        4 => "Not implemented",
        5 => "Refused",
        6 => "Name exists",
        7 => "RRset exists",
        8 => "RRset does not exist",
        9 => "Not authoritative",
        10 => "Name out of zone",
        16 => "Bad OPT Version OR Bad Signature",
        _ => "Unassigned",
    }
}

/// Record types (RFC 1035 § 3.2.2 and later RFCs).
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const HINFO: u16 = 13;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    pub const OPT: u16 = 41;
}

/// A type's mnemonic and Wireshark's description of it: `("A", "Host Address")`.
pub fn type_name(t: u16) -> (&'static str, &'static str) {
    match t {
        1 => ("A", "Host Address"),
        2 => ("NS", "authoritative Name Server"),
        5 => ("CNAME", "Canonical NAME for an alias"),
        6 => ("SOA", "Start Of a zone of Authority"),
        12 => ("PTR", "domain name PoinTeR"),
        13 => ("HINFO", "host information"),
        15 => ("MX", "Mail eXchange"),
        16 => ("TXT", "Text strings"),
        28 => ("AAAA", "IPv6 Address"),
        29 => ("LOC", "Location Information"),
        33 => ("SRV", "Server Selection"),
        35 => ("NAPTR", "Naming Authority PoinTeR"),
        39 => ("DNAME", ""),
        41 => ("OPT", ""),
        43 => ("DS", "Delegation Signer"),
        44 => ("SSHFP", "SSH Key Fingerprint"),
        46 => ("RRSIG", "Resource Record Signature"),
        47 => ("NSEC", "Next Secure"),
        48 => ("DNSKEY", "DNS Public Key"),
        50 => ("NSEC3", "Next Secure v3"),
        52 => ("TLSA", "TLSA"),
        64 => ("SVCB", "General Purpose Service Endpoints"),
        65 => ("HTTPS", "HTTPS Specific Service Endpoints"),
        99 => ("SPF", "Sender Policy Framework"),
        251 => ("IXFR", "incremental transfer"),
        252 => ("AXFR", "transfer of an entire zone"),
        255 => (
            "ANY",
            "A request for all records the server/cache has available",
        ),
        257 => ("CAA", "Certification Authority Restriction"),
        _ => ("Unknown", ""),
    }
}

/// A class's mnemonic (RFC 1035 § 3.2.4).
pub fn class_name(c: u16) -> &'static str {
    match c {
        1 => "IN",
        3 => "CH",
        4 => "HS",
        254 => "NONE",
        255 => "ANY",
        _ => "Unknown",
    }
}

/// An EDNS option's name (IANA's "DNS EDNS0 Option Codes").
pub fn option_name(code: u16) -> &'static str {
    match code {
        3 => "NSID",
        5 => "DAU",
        6 => "DHU",
        7 => "N3U",
        8 => "CSUBNET - Client subnet",
        9 => "EDNS EXPIRE",
        10 => "COOKIE",
        11 => "EDNS TCP Keepalive",
        12 => "PADDING",
        13 => "CHAIN",
        14 => "EDNS Key Tag",
        15 => "Extended DNS Error",
        _ => "Unknown",
    }
}

/// Why a message (or one name in it) could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// The message ends before a part that must be there.
    Truncated {
        what: &'static str,
        at: usize,
        needed: usize,
        had: usize,
    },
    /// A compression pointer leads past the end of the message.
    PointerPastEnd { at: usize, to: usize, len: usize },
    /// Pointers lead round in a circle (or through more than [`MAX_POINTERS`]).
    PointerLoop { at: usize },
    /// The name is longer than 255 bytes.
    NameTooLong { at: usize },
    /// A label length byte with the reserved top bits `01` or `10` (RFC 6891 § 5).
    LabelType { at: usize, byte: u8 },
    /// The header counts more records than the message holds.
    CountPastEnd {
        section: &'static str,
        announced: u16,
        found: usize,
    },
    /// A record's data does not fit its type, or runs past its announced length.
    BadRdata { at: usize, why: String },
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Truncated {
                what,
                at,
                needed,
                had,
            } => write!(
                f,
                "{what} at offset {at} needs {needed} bytes, the message has {had}"
            ),
            DnsError::PointerPastEnd { at, to, len } => write!(
                f,
                "the compression pointer at offset {at} points to offset {to}, past the message's end ({len} bytes)"
            ),
            DnsError::PointerLoop { at } => write!(
                f,
                "the name at offset {at} follows compression pointers in a loop"
            ),
            DnsError::NameTooLong { at } => write!(
                f,
                "the name at offset {at} is longer than {MAX_NAME_LEN} bytes"
            ),
            DnsError::LabelType { at, byte } => write!(
                f,
                "label type 0x{:02x} at offset {at} is reserved (a label length must be below 64, a pointer starts with 11)",
                byte & 0xc0
            ),
            DnsError::CountPastEnd {
                section,
                announced,
                found,
            } => write!(
                f,
                "the header announces {announced} {section}, the message ends after {found}"
            ),
            DnsError::BadRdata { at, why } => write!(f, "record data at offset {at}: {why}"),
        }
    }
}

impl std::error::Error for DnsError {}

/// A name as read from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// Dotted, as Wireshark writes it: `netlab.test`, `<Root>` for the root. A label byte
    /// that is not printable ASCII, or a dot inside a label, is escaped as RFC 4343's
    /// `\DDD` / `\.`.
    pub text: String,
    /// Where the name is written at this place: its labels up to and including the zero
    /// byte, or up to and including the first compression pointer.
    pub span: Range<usize>,
    /// How many labels the whole name has (pointers followed).
    pub labels: u16,
    /// Compression pointers followed to read it.
    pub pointers: u16,
}

impl Name {
    pub fn is_root(&self) -> bool {
        self.labels == 0
    }
    /// The name's length in characters as Wireshark counts it (0 for the root).
    pub fn text_len(&self) -> usize {
        if self.is_root() { 0 } else { self.text.len() }
    }
}

fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x21..=0x7e => out.push(b as char),
            _ => {
                use fmt::Write;
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}

/// Reads the name at `at` in the message `msg`, following compression pointers.
/// RFC 1035 § 3.1 (labels) and § 4.1.4 (pointers).
pub fn read_name(msg: &[u8], at: usize) -> Result<Name, DnsError> {
    let mut text = String::new();
    let mut pos = at;
    // Where the name's bytes at this place end (set at the first pointer).
    let mut span_end = None;
    let mut wire_len = 0usize;
    let mut labels = 0u16;
    let mut pointers = 0u16;
    loop {
        let Some(&len) = msg.get(pos) else {
            return Err(DnsError::Truncated {
                what: "a name",
                at: pos,
                needed: pos + 1,
                had: msg.len(),
            });
        };
        match len & 0xc0 {
            0x00 if len == 0 => {
                let end = span_end.unwrap_or(pos + 1);
                if labels == 0 {
                    text.push_str("<Root>");
                }
                return Ok(Name {
                    text,
                    span: at..end,
                    labels,
                    pointers,
                });
            }
            0x00 => {
                let label = pos + 1..pos + 1 + len as usize;
                let Some(bytes) = msg.get(label.clone()) else {
                    return Err(DnsError::Truncated {
                        what: "a label",
                        at: pos,
                        needed: label.end,
                        had: msg.len(),
                    });
                };
                wire_len += 1 + bytes.len();
                if wire_len + 1 > MAX_NAME_LEN {
                    return Err(DnsError::NameTooLong { at });
                }
                if labels > 0 {
                    text.push('.');
                }
                push_label(&mut text, bytes);
                labels += 1;
                pos = label.end;
            }
            0xc0 => {
                let Some(&low) = msg.get(pos + 1) else {
                    return Err(DnsError::Truncated {
                        what: "a compression pointer",
                        at: pos,
                        needed: pos + 2,
                        had: msg.len(),
                    });
                };
                span_end.get_or_insert(pos + 2);
                pointers += 1;
                if pointers as usize > MAX_POINTERS {
                    return Err(DnsError::PointerLoop { at });
                }
                let to = (((len & 0x3f) as usize) << 8) | low as usize;
                if to >= msg.len() {
                    return Err(DnsError::PointerPastEnd {
                        at: pos,
                        to,
                        len: msg.len(),
                    });
                }
                pos = to;
            }
            _ => return Err(DnsError::LabelType { at: pos, byte: len }),
        }
    }
}

/// One question. RFC 1035 § 4.1.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
    /// The whole question: name, type and class.
    pub span: Range<usize>,
}

impl Question {
    /// The type's bytes.
    pub fn type_range(&self) -> Range<usize> {
        self.name.span.end..self.name.span.end + 2
    }
    pub fn class_range(&self) -> Range<usize> {
        self.name.span.end + 2..self.name.span.end + 4
    }
}

/// An EDNS option inside an OPT record. RFC 6891 § 6.1.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdnsOption {
    pub code: u16,
    /// The whole option (code, length, data).
    pub span: Range<usize>,
    /// Its data.
    pub data: Range<usize>,
}

/// A record's data, decoded by type. Ranges are message offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdata {
    A([u8; 4]),
    Aaaa([u8; 16]),
    /// NS, CNAME, PTR: one name.
    Name(Name),
    Mx {
        preference: u16,
        exchange: Name,
    },
    /// Each string's range (after its length byte).
    Txt(Vec<Range<usize>>),
    Soa {
        mname: Name,
        rname: Name,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Name,
    },
    Opt(Vec<EdnsOption>),
    /// Another type: kept as bytes.
    Other,
}

/// One resource record. RFC 1035 § 4.1.3; the OPT pseudo-record RFC 6891 § 6.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub rtype: u16,
    /// The class; for OPT, the UDP payload size.
    pub class: u16,
    /// The TTL; for OPT, extended RCODE (8 bits), version (8) and flags (16).
    pub ttl: u32,
    /// The RDATA's bytes (RDLENGTH of them).
    pub rdata: Range<usize>,
    pub data: Rdata,
    /// The whole record.
    pub span: Range<usize>,
}

impl Record {
    /// The fixed fields after the name: type, class, TTL, RDLENGTH.
    pub fn type_range(&self) -> Range<usize> {
        self.name.span.end..self.name.span.end + 2
    }
    pub fn class_range(&self) -> Range<usize> {
        self.name.span.end + 2..self.name.span.end + 4
    }
    pub fn ttl_range(&self) -> Range<usize> {
        self.name.span.end + 4..self.name.span.end + 8
    }
    pub fn len_range(&self) -> Range<usize> {
        self.name.span.end + 8..self.name.span.end + 10
    }
}

/// Which of the three record sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// A message read best-effort: everything up to the first problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: u16,
    pub flags: u16,
    /// The four counts as the header gives them: questions, answers, authority,
    /// additional.
    pub counts: [u16; 4],
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    /// What stopped the reading, if anything.
    pub problem: Option<DnsError>,
    /// Where the reading stopped (the message's end when all went well).
    pub end: usize,
}

impl Message {
    pub fn is_response(&self) -> bool {
        self.flags & flags::QR != 0
    }
    pub fn opcode(&self) -> Opcode {
        Opcode::from(((self.flags & flags::OPCODE) >> 11) as u8)
    }
    pub fn rcode(&self) -> u16 {
        self.flags & flags::RCODE
    }
    pub fn section(&self, s: Section) -> &[Record] {
        match s {
            Section::Answer => &self.answers,
            Section::Authority => &self.authorities,
            Section::Additional => &self.additionals,
        }
    }

    /// Reads a message. Fails only when the 12-byte header is not there; anything wrong
    /// later is in `problem`, with everything read before it kept.
    pub fn parse(msg: &[u8]) -> Result<Message, DnsError> {
        if msg.len() < HEADER_LEN {
            return Err(DnsError::Truncated {
                what: "the DNS header",
                at: 0,
                needed: HEADER_LEN,
                had: msg.len(),
            });
        }
        let counts = [
            be16(msg, field::QDCOUNT.start),
            be16(msg, field::ANCOUNT.start),
            be16(msg, field::NSCOUNT.start),
            be16(msg, field::ARCOUNT.start),
        ];
        let mut m = Message {
            id: be16(msg, field::ID.start),
            flags: be16(msg, field::FLAGS.start),
            counts,
            questions: Vec::new(),
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            problem: None,
            end: HEADER_LEN,
        };
        let mut at = HEADER_LEN;
        // A question takes at least 5 bytes and a record 11, so no count can make
        // these vectors larger than the message allows.
        for i in 0..counts[0] {
            if at >= msg.len() {
                m.problem = Some(DnsError::CountPastEnd {
                    section: "questions",
                    announced: counts[0],
                    found: i as usize,
                });
                m.end = at;
                return Ok(m);
            }
            match read_question(msg, at) {
                Ok(q) => {
                    at = q.span.end;
                    m.questions.push(q);
                }
                Err(e) => {
                    m.problem = Some(e);
                    m.end = at;
                    return Ok(m);
                }
            }
        }
        for (s, name, count) in [
            (Section::Answer, "answers", counts[1]),
            (Section::Authority, "authority records", counts[2]),
            (Section::Additional, "additional records", counts[3]),
        ] {
            for i in 0..count {
                if at >= msg.len() {
                    m.problem = Some(DnsError::CountPastEnd {
                        section: name,
                        announced: count,
                        found: i as usize,
                    });
                    m.end = at;
                    return Ok(m);
                }
                let (r, problem) = read_record(msg, at);
                let Some(r) = r else {
                    m.problem = problem;
                    m.end = at;
                    return Ok(m);
                };
                at = r.span.end;
                match s {
                    Section::Answer => m.answers.push(r),
                    Section::Authority => m.authorities.push(r),
                    Section::Additional => m.additionals.push(r),
                }
                if problem.is_some() {
                    m.problem = problem;
                    m.end = at;
                    return Ok(m);
                }
            }
        }
        m.end = at;
        Ok(m)
    }
}

fn need(msg: &[u8], what: &'static str, at: usize, n: usize) -> Result<(), DnsError> {
    if at + n > msg.len() {
        Err(DnsError::Truncated {
            what,
            at,
            needed: at + n,
            had: msg.len(),
        })
    } else {
        Ok(())
    }
}

fn read_question(msg: &[u8], at: usize) -> Result<Question, DnsError> {
    let name = read_name(msg, at)?;
    let p = name.span.end;
    need(msg, "a question's type and class", p, 4)?;
    Ok(Question {
        qtype: be16(msg, p),
        qclass: be16(msg, p + 2),
        span: at..p + 4,
        name,
    })
}

/// Reads a record: `(Some(record), Some(problem))` when the record's frame is sound but
/// its data is not (the data is then `Rdata::Other`), `(None, Some(problem))` when not
/// even the record's frame could be read.
fn read_record(msg: &[u8], at: usize) -> (Option<Record>, Option<DnsError>) {
    let name = match read_name(msg, at) {
        Ok(n) => n,
        Err(e) => return (None, Some(e)),
    };
    let p = name.span.end;
    if let Err(e) = need(msg, "a record's type, class, TTL and length", p, 10) {
        return (None, Some(e));
    }
    let rtype = be16(msg, p);
    let class = be16(msg, p + 2);
    let ttl = be32(msg, p + 4);
    let rdlen = be16(msg, p + 8) as usize;
    let rdata = p + 10..p + 10 + rdlen;
    if rdata.end > msg.len() {
        return (
            None,
            Some(DnsError::Truncated {
                what: "a record's data",
                at: rdata.start,
                needed: rdata.end,
                had: msg.len(),
            }),
        );
    }
    let (data, problem) = match read_rdata(msg, rtype, rdata.clone()) {
        Ok(d) => (d, None),
        Err(e) => (Rdata::Other, Some(e)),
    };
    (
        Some(Record {
            name,
            rtype,
            class,
            ttl,
            span: at..rdata.end,
            rdata,
            data,
        }),
        problem,
    )
}

/// A name inside RDATA: it may point anywhere in the message, but its own bytes must lie
/// within the RDATA.
fn rdata_name(msg: &[u8], at: usize, end: usize) -> Result<Name, DnsError> {
    let n = read_name(msg, at)?;
    if n.span.end > end {
        return Err(DnsError::BadRdata {
            at,
            why: format!(
                "the name {} runs {} bytes past the record's data",
                n.text,
                n.span.end - end
            ),
        });
    }
    Ok(n)
}

fn read_rdata(msg: &[u8], rtype: u16, r: Range<usize>) -> Result<Rdata, DnsError> {
    let exact = |n: usize, what: &str| -> Result<(), DnsError> {
        if r.len() != n {
            Err(DnsError::BadRdata {
                at: r.start,
                why: format!("{what} needs {n} bytes of data, the record has {}", r.len()),
            })
        } else {
            Ok(())
        }
    };
    let at_least = |n: usize, what: &str| -> Result<(), DnsError> {
        if r.len() < n {
            Err(DnsError::BadRdata {
                at: r.start,
                why: format!(
                    "{what} needs at least {n} bytes of data, the record has {}",
                    r.len()
                ),
            })
        } else {
            Ok(())
        }
    };
    let fits = |n: &Name, what: &str| -> Result<(), DnsError> {
        if n.span.end != r.end {
            Err(DnsError::BadRdata {
                at: n.span.end,
                why: format!(
                    "{} bytes after the {what} in the record's data",
                    r.end - n.span.end
                ),
            })
        } else {
            Ok(())
        }
    };
    Ok(match rtype {
        rtype::A => {
            exact(4, "an A record (an IPv4 address)")?;
            Rdata::A(msg[r.clone()].try_into().expect("4 bytes"))
        }
        rtype::AAAA => {
            exact(16, "an AAAA record (an IPv6 address)")?;
            Rdata::Aaaa(msg[r.clone()].try_into().expect("16 bytes"))
        }
        rtype::NS | rtype::CNAME | rtype::PTR => {
            at_least(1, "a name")?;
            let n = rdata_name(msg, r.start, r.end)?;
            fits(&n, "name")?;
            Rdata::Name(n)
        }
        rtype::MX => {
            at_least(3, "an MX record")?;
            let exchange = rdata_name(msg, r.start + 2, r.end)?;
            fits(&exchange, "mail exchange")?;
            Rdata::Mx {
                preference: be16(msg, r.start),
                exchange,
            }
        }
        rtype::TXT => {
            let mut strings = Vec::new();
            let mut p = r.start;
            while p < r.end {
                let n = msg[p] as usize;
                if p + 1 + n > r.end {
                    return Err(DnsError::BadRdata {
                        at: p,
                        why: format!(
                            "a TXT string of {n} bytes runs past the record's data ({} left)",
                            r.end - p - 1
                        ),
                    });
                }
                strings.push(p + 1..p + 1 + n);
                p += 1 + n;
            }
            Rdata::Txt(strings)
        }
        rtype::SOA => {
            at_least(22, "an SOA record")?;
            let mname = rdata_name(msg, r.start, r.end)?;
            let rname = rdata_name(msg, mname.span.end, r.end)?;
            let p = rname.span.end;
            if p + 20 != r.end {
                return Err(DnsError::BadRdata {
                    at: p,
                    why: format!(
                        "an SOA record has five 4-byte numbers after its names: 20 bytes, not {}",
                        r.end.saturating_sub(p)
                    ),
                });
            }
            Rdata::Soa {
                mname,
                rname,
                serial: be32(msg, p),
                refresh: be32(msg, p + 4),
                retry: be32(msg, p + 8),
                expire: be32(msg, p + 12),
                minimum: be32(msg, p + 16),
            }
        }
        rtype::SRV => {
            at_least(7, "an SRV record")?;
            let target = rdata_name(msg, r.start + 6, r.end)?;
            fits(&target, "target")?;
            Rdata::Srv {
                priority: be16(msg, r.start),
                weight: be16(msg, r.start + 2),
                port: be16(msg, r.start + 4),
                target,
            }
        }
        rtype::OPT => {
            let mut options = Vec::new();
            let mut p = r.start;
            while p < r.end {
                if p + 4 > r.end {
                    return Err(DnsError::BadRdata {
                        at: p,
                        why: format!(
                            "an EDNS option needs 4 bytes of code and length, {} are left",
                            r.end - p
                        ),
                    });
                }
                let code = be16(msg, p);
                let len = be16(msg, p + 2) as usize;
                if p + 4 + len > r.end {
                    return Err(DnsError::BadRdata {
                        at: p,
                        why: format!(
                            "EDNS option {code} announces {len} bytes, {} are left in the record",
                            r.end - p - 4
                        ),
                    });
                }
                options.push(EdnsOption {
                    code,
                    span: p..p + 4 + len,
                    data: p + 4..p + 4 + len,
                });
                p += 4 + len;
            }
            Rdata::Opt(options)
        }
        _ => Rdata::Other,
    })
}

// ---------------------------------------------------------------------------------------
// Building messages
// ---------------------------------------------------------------------------------------

/// A question to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionRepr {
    /// Dotted; `""` or `"."` for the root.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// A record's data to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdataRepr {
    A([u8; 4]),
    Aaaa([u8; 16]),
    Ns(String),
    Cname(String),
    Ptr(String),
    Mx {
        preference: u16,
        exchange: String,
    },
    Txt(Vec<Vec<u8>>),
    Soa {
        mname: String,
        rname: String,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    /// EDNS options: (code, data).
    Opt(Vec<(u16, Vec<u8>)>),
    Other {
        rtype: u16,
        data: Vec<u8>,
    },
}

impl RdataRepr {
    pub fn rtype(&self) -> u16 {
        match self {
            RdataRepr::A(_) => rtype::A,
            RdataRepr::Aaaa(_) => rtype::AAAA,
            RdataRepr::Ns(_) => rtype::NS,
            RdataRepr::Cname(_) => rtype::CNAME,
            RdataRepr::Ptr(_) => rtype::PTR,
            RdataRepr::Mx { .. } => rtype::MX,
            RdataRepr::Txt(_) => rtype::TXT,
            RdataRepr::Soa { .. } => rtype::SOA,
            RdataRepr::Srv { .. } => rtype::SRV,
            RdataRepr::Opt(_) => rtype::OPT,
            RdataRepr::Other { rtype, .. } => *rtype,
        }
    }
}

/// A record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRepr {
    pub name: String,
    /// For OPT: the UDP payload size.
    pub class: u16,
    /// For OPT: extended RCODE, version and flags.
    pub ttl: u32,
    pub data: RdataRepr,
}

/// A whole message, owned: what the live commands build and send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Repr {
    pub id: u16,
    pub flags: u16,
    pub questions: Vec<QuestionRepr>,
    pub answers: Vec<RecordRepr>,
    pub authorities: Vec<RecordRepr>,
    pub additionals: Vec<RecordRepr>,
}

/// Why a [`Repr`] cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmitError {
    /// A label longer than 63 bytes, an empty label, or a name over 255 bytes.
    BadName(String),
    /// A TXT string over 255 bytes, data over 65535, or more than 65535 records.
    TooLong(&'static str),
    /// The buffer is smaller than [`Repr::buffer_len`].
    Buffer { needed: usize, had: usize },
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::BadName(n) => write!(
                f,
                "{n:?} is no domain name (labels of 1 to 63 bytes, 255 bytes in all)"
            ),
            EmitError::TooLong(what) => write!(f, "{what} is too long for a DNS message"),
            EmitError::Buffer { needed, had } => {
                write!(f, "the message needs {needed} bytes, the buffer has {had}")
            }
        }
    }
}

impl std::error::Error for EmitError {}

/// Splits a dotted name into its labels (the root: none).
fn labels(name: &str) -> Result<Vec<&[u8]>, EmitError> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let labels: Vec<&[u8]> = trimmed.split('.').map(str::as_bytes).collect();
    let wire: usize = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
    if labels.iter().any(|l| l.is_empty() || l.len() > 63) || wire > MAX_NAME_LEN {
        return Err(EmitError::BadName(name.to_string()));
    }
    Ok(labels)
}

/// Writes a message, or only measures it when `buf` is `None`: the one algorithm serves
/// `buffer_len` and `emit`, so they cannot disagree.
struct Writer<'a> {
    buf: Option<&'a mut [u8]>,
    pos: usize,
    /// Names (as suffixes, exactly as written) already written, and where: the
    /// compression table. Exactly: DNS compares names without case, but a pointer gives
    /// the reader the bytes it points to, and a name's case is kept (RFC 4343 § 4) — a
    /// `mail.netLab.test` compressed to an earlier `netlab.test` would read back changed.
    written: Vec<(String, u16)>,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        if let Some(buf) = self.buf.as_deref_mut() {
            buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        }
        self.pos += b.len();
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
    /// A name, compressed: the longest suffix already written becomes a pointer.
    fn name(&mut self, name: &str) -> Result<(), EmitError> {
        let labels = labels(name)?;
        for i in 0..labels.len() {
            let suffix = labels[i..]
                .iter()
                .map(|l| String::from_utf8_lossy(l))
                .collect::<Vec<_>>()
                .join(".");
            if let Some(&(_, off)) = self.written.iter().find(|(s, _)| *s == suffix) {
                self.u16(0xc000 | off);
                return Ok(());
            }
            // Only offsets a pointer can reach (14 bits) are remembered.
            if self.pos < 0x4000 {
                self.written.push((suffix, self.pos as u16));
            }
            self.bytes(&[labels[i].len() as u8]);
            self.bytes(labels[i]);
        }
        self.bytes(&[0]);
        Ok(())
    }
    fn record(&mut self, r: &RecordRepr) -> Result<(), EmitError> {
        self.name(&r.name)?;
        self.u16(r.data.rtype());
        self.u16(r.class);
        self.u32(r.ttl);
        let len_at = self.pos;
        self.u16(0);
        let start = self.pos;
        match &r.data {
            RdataRepr::A(a) => self.bytes(a),
            RdataRepr::Aaaa(a) => self.bytes(a),
            RdataRepr::Ns(n) | RdataRepr::Cname(n) | RdataRepr::Ptr(n) => self.name(n)?,
            RdataRepr::Mx {
                preference,
                exchange,
            } => {
                self.u16(*preference);
                self.name(exchange)?;
            }
            RdataRepr::Txt(strings) => {
                for s in strings {
                    let n =
                        u8::try_from(s.len()).map_err(|_| EmitError::TooLong("a TXT string"))?;
                    self.bytes(&[n]);
                    self.bytes(s);
                }
            }
            RdataRepr::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                self.name(mname)?;
                self.name(rname)?;
                for v in [serial, refresh, retry, expire, minimum] {
                    self.u32(*v);
                }
            }
            RdataRepr::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                self.u16(*priority);
                self.u16(*weight);
                self.u16(*port);
                // RFC 2782: the target name "MUST NOT" be compressed.
                let saved = std::mem::take(&mut self.written);
                let r = self.name(target);
                self.written = saved;
                r?;
            }
            RdataRepr::Opt(options) => {
                for (code, data) in options {
                    let n =
                        u16::try_from(data.len()).map_err(|_| EmitError::TooLong("an option"))?;
                    self.u16(*code);
                    self.u16(n);
                    self.bytes(data);
                }
            }
            RdataRepr::Other { data, .. } => self.bytes(data),
        }
        let rdlen =
            u16::try_from(self.pos - start).map_err(|_| EmitError::TooLong("a record's data"))?;
        if let Some(buf) = self.buf.as_deref_mut() {
            buf[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        }
        Ok(())
    }
}

impl Repr {
    /// A standard query for `name` of type `qtype` (class IN), recursion desired.
    pub fn query(id: u16, name: &str, qtype: u16) -> Repr {
        Repr {
            id,
            flags: flags::RD,
            questions: vec![QuestionRepr {
                name: name.to_string(),
                qtype,
                qclass: 1,
            }],
            ..Repr::default()
        }
    }

    /// Reads a message whole; fails on anything [`Message::parse`] marks.
    pub fn parse(msg: &[u8]) -> Result<Repr, DnsError> {
        let m = Message::parse(msg)?;
        if let Some(e) = m.problem {
            return Err(e);
        }
        let record = |r: &Record| RecordRepr {
            name: name_text(&r.name),
            class: r.class,
            ttl: r.ttl,
            data: match &r.data {
                Rdata::A(a) => RdataRepr::A(*a),
                Rdata::Aaaa(a) => RdataRepr::Aaaa(*a),
                Rdata::Name(n) => match r.rtype {
                    rtype::NS => RdataRepr::Ns(name_text(n)),
                    rtype::CNAME => RdataRepr::Cname(name_text(n)),
                    _ => RdataRepr::Ptr(name_text(n)),
                },
                Rdata::Mx {
                    preference,
                    exchange,
                } => RdataRepr::Mx {
                    preference: *preference,
                    exchange: name_text(exchange),
                },
                Rdata::Txt(strings) => {
                    RdataRepr::Txt(strings.iter().map(|s| msg[s.clone()].to_vec()).collect())
                }
                Rdata::Soa {
                    mname,
                    rname,
                    serial,
                    refresh,
                    retry,
                    expire,
                    minimum,
                } => RdataRepr::Soa {
                    mname: name_text(mname),
                    rname: name_text(rname),
                    serial: *serial,
                    refresh: *refresh,
                    retry: *retry,
                    expire: *expire,
                    minimum: *minimum,
                },
                Rdata::Srv {
                    priority,
                    weight,
                    port,
                    target,
                } => RdataRepr::Srv {
                    priority: *priority,
                    weight: *weight,
                    port: *port,
                    target: name_text(target),
                },
                Rdata::Opt(options) => RdataRepr::Opt(
                    options
                        .iter()
                        .map(|o| (o.code, msg[o.data.clone()].to_vec()))
                        .collect(),
                ),
                Rdata::Other => RdataRepr::Other {
                    rtype: r.rtype,
                    data: msg[r.rdata.clone()].to_vec(),
                },
            },
        };
        Ok(Repr {
            id: m.id,
            flags: m.flags,
            questions: m
                .questions
                .iter()
                .map(|q| QuestionRepr {
                    name: name_text(&q.name),
                    qtype: q.qtype,
                    qclass: q.qclass,
                })
                .collect(),
            answers: m.answers.iter().map(record).collect(),
            authorities: m.authorities.iter().map(record).collect(),
            additionals: m.additionals.iter().map(record).collect(),
        })
    }

    fn write(&self, w: &mut Writer) -> Result<(), EmitError> {
        let count = |n: usize| u16::try_from(n).map_err(|_| EmitError::TooLong("a section"));
        w.u16(self.id);
        w.u16(self.flags);
        w.u16(count(self.questions.len())?);
        w.u16(count(self.answers.len())?);
        w.u16(count(self.authorities.len())?);
        w.u16(count(self.additionals.len())?);
        for q in &self.questions {
            w.name(&q.name)?;
            w.u16(q.qtype);
            w.u16(q.qclass);
        }
        for r in self
            .answers
            .iter()
            .chain(&self.authorities)
            .chain(&self.additionals)
        {
            w.record(r)?;
        }
        Ok(())
    }

    /// The message's length on the wire (over UDP; TCP adds the 2-byte length).
    pub fn buffer_len(&self) -> Result<usize, EmitError> {
        let mut w = Writer {
            buf: None,
            pos: 0,
            written: Vec::new(),
        };
        self.write(&mut w)?;
        Ok(w.pos)
    }

    /// Writes the message into `buf` (at least [`Repr::buffer_len`] bytes); returns its
    /// length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let needed = self.buffer_len()?;
        if buf.len() < needed {
            return Err(EmitError::Buffer {
                needed,
                had: buf.len(),
            });
        }
        let mut w = Writer {
            buf: Some(buf),
            pos: 0,
            written: Vec::new(),
        };
        self.write(&mut w)?;
        Ok(w.pos)
    }

    /// The message as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EmitError> {
        let mut v = vec![0; self.buffer_len()?];
        self.emit(&mut v)?;
        Ok(v)
    }
}

/// A parsed name as a [`Repr`] name: the root is `""`.
fn name_text(n: &Name) -> String {
    if n.is_root() {
        String::new()
    } else {
        n.text.clone()
    }
}

/// Over TCP, the length of the message that starts `buf` with its 2-byte prefix, once
/// the prefix is there. RFC 1035 § 4.2.2.
pub fn tcp_message_len(buf: &[u8]) -> Option<usize> {
    (buf.len() >= 2).then(|| 2 + be16(buf, 0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// captures/dns.pcap, frame 1: the query `A netlab.test`, ID 0x1001 (the UDP payload).
    const QUERY: [u8; 29] = [
        0x10, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, b'n', b'e',
        b't', b'l', b'a', b'b', 0x04, b't', b'e', b's', b't', 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    /// captures/dns.pcap, frame 2: the answer, `netlab.test A 10.99.0.2` through the
    /// `0xc00c` pointer to the question's name.
    const ANSWER: [u8; 45] = [
        0x10, 0x01, 0x85, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x06, b'n', b'e',
        b't', b'l', b'a', b'b', 0x04, b't', b'e', b's', b't', 0x00, 0x00, 0x01, 0x00, 0x01, 0xc0,
        0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 0x0a, 0x63, 0x00, 0x02,
    ];

    /// captures/dns-records.pcap, frame 19: dig's query with EDNS (DO bit, NSID, a client COOKIE).
    const EDNS_QUERY: &str = concat!(
        "200a01200001000000000001066e65746c61620474657374000001000100002904d000008000001000030000000a0008",
        "0011223344556677",
    );
    /// captures/dns-records.pcap, frame 18: two SRV records, names compressed.
    const SRV_ANSWER: &str = concat!(
        "200985000001000200020000045f736970045f756470066e65746c616204746573740000210001c00c00210001000001",
        "2c0017000a003c13c403736970066e65746c6162047465737400c00c002100010000012c00170014002813ce03736970",
        "066e65746c6162047465737400066e65746c6162047465737400000200010000012c0011036e7331066e65746c616204",
        "7465737400c06d000200010000012c0011036e7332066e65746c6162047465737400",
    );

    #[test]
    fn an_edns_query_from_the_capture() {
        let b = crate::wire::unhex(EDNS_QUERY);
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.problem, None);
        let opt = &m.additionals[0];
        assert_eq!(opt.rtype, rtype::OPT);
        assert!(opt.name.is_root());
        assert_eq!(opt.class, 1232, "UDP payload size");
        assert_eq!(opt.ttl & 0x8000, 0x8000, "DO bit");
        let Rdata::Opt(options) = &opt.data else {
            panic!("{:?}", opt.data)
        };
        let codes: Vec<u16> = options.iter().map(|o| o.code).collect();
        assert_eq!(codes, [3, 10], "NSID, COOKIE");
        assert!(options[0].data.is_empty());
        assert_eq!(
            &b[options[1].data.clone()],
            &[0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]
        );
        assert_eq!(Repr::parse(&b).unwrap().to_bytes().unwrap(), b);
    }

    #[test]
    fn srv_records_from_the_capture() {
        let b = crate::wire::unhex(SRV_ANSWER);
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.problem, None);
        assert_eq!(m.questions[0].name.text, "_sip._udp.netlab.test");
        let targets: Vec<(u16, u16, u16, &str)> = m
            .answers
            .iter()
            .map(|r| match &r.data {
                Rdata::Srv {
                    priority,
                    weight,
                    port,
                    target,
                } => (*priority, *weight, *port, target.text.as_str()),
                d => panic!("{d:?}"),
            })
            .collect();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].2, 5060);
        assert!(targets.iter().all(|t| t.3.ends_with("netlab.test")));
        // The answers' owner is the 2-byte pointer to the question's name.
        assert_eq!(m.answers[0].name.span.len(), 2);
    }

    #[test]
    fn reads_a_query() {
        let m = Message::parse(&QUERY).unwrap();
        assert_eq!(m.id, 0x1001);
        assert!(!m.is_response());
        assert_eq!(m.opcode(), Opcode::Query);
        assert_eq!(m.flags & flags::RD, flags::RD);
        assert_eq!(m.counts, [1, 0, 0, 0]);
        let q = &m.questions[0];
        assert_eq!(q.name.text, "netlab.test");
        assert_eq!(q.name.span, 12..25);
        assert_eq!(q.name.labels, 2);
        assert_eq!((q.qtype, q.qclass), (rtype::A, 1));
        assert_eq!(m.problem, None);
        assert_eq!(m.end, QUERY.len());
    }

    #[test]
    fn reads_an_answer_through_a_pointer() {
        let m = Message::parse(&ANSWER).unwrap();
        assert!(m.is_response());
        assert_eq!(m.flags & flags::AA, flags::AA);
        assert_eq!(m.rcode(), 0);
        let a = &m.answers[0];
        assert_eq!(a.name.text, "netlab.test");
        // The owner name is the two pointer bytes.
        assert_eq!(a.name.span, 29..31);
        assert_eq!(a.name.pointers, 1);
        assert_eq!(a.ttl, 300);
        assert_eq!(a.data, Rdata::A([10, 99, 0, 2]));
        assert_eq!(a.rdata, 41..45);
        assert_eq!(m.problem, None);
    }

    #[test]
    fn every_too_short_buffer_is_an_error_or_a_marked_message() {
        for n in 0..ANSWER.len() {
            match Message::parse(&ANSWER[..n]) {
                Err(DnsError::Truncated { needed, .. }) => assert!(n < HEADER_LEN && needed == 12),
                Err(e) => panic!("{n}: {e}"),
                Ok(m) => assert!(m.problem.is_some(), "{n} bytes read as whole"),
            }
        }
        // Every prefix of a name is an error, never a panic.
        for n in 0..25 {
            assert!(read_name(&QUERY[..n], 12).is_err(), "{n}");
        }
    }

    #[test]
    fn a_pointer_loop_ends() {
        // The question's name is a pointer to itself.
        let mut m = QUERY[..12].to_vec();
        m.extend_from_slice(&[0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01]);
        let msg = Message::parse(&m).unwrap();
        assert_eq!(msg.problem, Some(DnsError::PointerLoop { at: 12 }));
        // Two pointers to each other.
        let mut m = QUERY[..12].to_vec();
        m.extend_from_slice(&[0xc0, 0x0e, 0xc0, 0x0c]);
        assert!(matches!(
            read_name(&m, 12),
            Err(DnsError::PointerLoop { .. })
        ));
        // A label then a pointer back to it: the name grows until it is too long.
        let mut m = QUERY[..12].to_vec();
        m.extend_from_slice(&[0x01, b'a', 0xc0, 0x0c]);
        assert_eq!(read_name(&m, 12), Err(DnsError::NameTooLong { at: 12 }));
    }

    #[test]
    fn pointer_past_the_end_and_reserved_label_types() {
        let mut m = QUERY[..12].to_vec();
        m.extend_from_slice(&[0xc0, 0xff]);
        assert_eq!(
            read_name(&m, 12),
            Err(DnsError::PointerPastEnd {
                at: 12,
                to: 255,
                len: 14
            })
        );
        let mut m = QUERY[..12].to_vec();
        m.extend_from_slice(&[0x41, 0x00]);
        assert!(matches!(
            read_name(&m, 12),
            Err(DnsError::LabelType { at: 12, byte: 0x41 })
        ));
    }

    #[test]
    fn counts_past_the_end_are_reported() {
        let mut m = ANSWER.to_vec();
        m[7] = 5; // five answers announced, one present
        let msg = Message::parse(&m).unwrap();
        assert_eq!(msg.answers.len(), 1);
        assert_eq!(
            msg.problem,
            Some(DnsError::CountPastEnd {
                section: "answers",
                announced: 5,
                found: 1
            })
        );
        // 65535 of everything in a 12-byte message.
        let mut m = [0xffu8; 12];
        m[0] = 0;
        let msg = Message::parse(&m).unwrap();
        assert!(msg.questions.is_empty() && msg.problem.is_some());
    }

    #[test]
    fn rdata_of_the_wrong_size_is_malformed_but_the_record_is_kept() {
        let mut m = ANSWER.to_vec();
        m[40] = 3; // RDLENGTH 3 for an A record
        m.pop();
        let msg = Message::parse(&m).unwrap();
        assert_eq!(msg.answers.len(), 1);
        assert_eq!(msg.answers[0].data, Rdata::Other);
        assert!(matches!(msg.problem, Some(DnsError::BadRdata { .. })));
    }

    #[test]
    fn repr_round_trips_and_compresses() {
        let r = Repr::parse(&ANSWER).unwrap();
        assert_eq!(r.answers[0].data, RdataRepr::A([10, 99, 0, 2]));
        // The answer's name is written as a pointer to the question's: same bytes.
        assert_eq!(r.to_bytes().unwrap(), ANSWER);
        assert_eq!(Repr::parse(&QUERY).unwrap().to_bytes().unwrap(), QUERY);
        assert_eq!(
            Repr::query(0x1001, "netlab.test", rtype::A),
            Repr::parse(&QUERY).unwrap()
        );
    }

    /// Found by the mutation test (a case bit flipped in dns-records.pcap's MX answer):
    /// names that differ only in case were compressed into one another, so
    /// `mail.netLab.test` read back as `mail.netlab.test`.
    #[test]
    fn compression_keeps_the_case_of_names() {
        let mut r = Repr::query(0x2006, "netlab.test", rtype::MX);
        r.flags |= flags::QR;
        r.answers.push(RecordRepr {
            name: "netlab.test".into(),
            class: 1,
            ttl: 300,
            data: RdataRepr::Mx {
                preference: 10,
                exchange: "mail.netLab.test".into(),
            },
        });
        let b = r.to_bytes().unwrap();
        assert_eq!(Repr::parse(&b).unwrap(), r);
        // The answer's owner is still a pointer to the question's name.
        assert!(b.windows(2).any(|w| w == [0xc0, 12]));
        assert!(b.windows(7).any(|w| w == b"\x06netLab"));
    }

    #[test]
    fn every_record_type_round_trips() {
        let rec = |name: &str, data| RecordRepr {
            name: name.into(),
            class: 1,
            ttl: 600,
            data,
        };
        let r = Repr {
            id: 7,
            flags: flags::QR | flags::AA,
            questions: vec![QuestionRepr {
                name: "netlab.test".into(),
                qtype: 255,
                qclass: 1,
            }],
            answers: vec![
                rec("netlab.test", RdataRepr::A([10, 0, 0, 1])),
                rec("netlab.test", RdataRepr::Aaaa([0xfd; 16])),
                rec("www.netlab.test", RdataRepr::Cname("netlab.test".into())),
                rec(
                    "netlab.test",
                    RdataRepr::Mx {
                        preference: 10,
                        exchange: "mail.netlab.test".into(),
                    },
                ),
                rec(
                    "netlab.test",
                    RdataRepr::Txt(vec![b"v=spf1 -all".to_vec(), Vec::new()]),
                ),
                rec(
                    "_http._tcp.netlab.test",
                    RdataRepr::Srv {
                        priority: 0,
                        weight: 5,
                        port: 80,
                        target: "netlab.test".into(),
                    },
                ),
                rec(
                    "2.0.0.10.in-addr.arpa",
                    RdataRepr::Ptr("netlab.test".into()),
                ),
                rec(
                    "x",
                    RdataRepr::Other {
                        rtype: 99,
                        data: vec![1, 2, 3],
                    },
                ),
            ],
            authorities: vec![
                rec("netlab.test", RdataRepr::Ns("ns.netlab.test".into())),
                rec(
                    "netlab.test",
                    RdataRepr::Soa {
                        mname: "ns.netlab.test".into(),
                        rname: "hostmaster.netlab.test".into(),
                        serial: 1,
                        refresh: 2,
                        retry: 3,
                        expire: 4,
                        minimum: 5,
                    },
                ),
            ],
            additionals: vec![RecordRepr {
                name: String::new(),
                class: 1232,
                ttl: 0x8000,
                data: RdataRepr::Opt(vec![(10, vec![1; 8]), (12, Vec::new())]),
            }],
        };
        let bytes = r.to_bytes().unwrap();
        assert_eq!(bytes.len(), r.buffer_len().unwrap());
        assert_eq!(Repr::parse(&bytes).unwrap(), r);
        let m = Message::parse(&bytes).unwrap();
        assert!(m.additionals[0].name.is_root());
        assert_eq!(m.additionals[0].name.text, "<Root>");
    }

    #[test]
    fn bad_names_are_refused_when_building() {
        let mut r = Repr::query(1, "a..b", rtype::A);
        assert!(matches!(r.to_bytes(), Err(EmitError::BadName(_))));
        r.questions[0].name = "x".repeat(64);
        assert!(r.to_bytes().is_err());
        r.questions[0].name = vec!["abcdefgh"; 30].join(".");
        assert!(r.to_bytes().is_err(), "270 bytes is over 255");
        assert!(matches!(
            Repr::query(1, "netlab.test", 1).emit(&mut [0; 10]),
            Err(EmitError::Buffer {
                needed: 29,
                had: 10
            })
        ));
    }

    #[test]
    fn odd_label_bytes_are_escaped() {
        let mut m = QUERY[..12].to_vec();
        m.extend_from_slice(&[0x03, b'a', b'.', 0x07, 0x00]);
        assert_eq!(read_name(&m, 12).unwrap().text, "a\\.\\007");
    }

    #[test]
    fn tcp_length_prefix() {
        assert_eq!(tcp_message_len(&[0x00]), None);
        assert_eq!(tcp_message_len(&[0x00, 0x1d, 0x10]), Some(31));
    }
}
