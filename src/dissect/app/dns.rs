//! DNS over UDP (one message per datagram) and TCP (each message after a 2-byte length,
//! RFC 1035 § 4.2.2), read with `wire::dns`.
//!
//! Every header field and flag, each question, and each record of the answer, authority
//! and additional sections is shown with its bytes; names are shown whole even where the
//! message only points to an earlier copy (the name's own bytes are then the 2-byte
//! pointer, as in Wireshark). A response is linked to its query by transaction ID within
//! the conversation (`dns.response_to`, `dns.time`); a response to no query seen is
//! `dns.unsolicited`. (`dns.response_in`, the link forward, needs a second pass over the
//! capture, like `tshark -2`: netlab reads once.)
//!
//! What is wrong — a pointer loop, a pointer past the end, counts the message cannot
//! hold, record data of the wrong size — is marked `[malformed: …]`, after everything
//! that could be read.

use std::collections::VecDeque;
use std::fmt::Write;

use super::{AppDef, Cx, Dir, Need, Session, Start, Transport};
use crate::dissect::model::{Proto, Value};
use crate::dissect::{headline, note};
use crate::wire::dns::{self, Message, Name, Rdata, Record, Section, flags, rtype};

pub const APP: AppDef = AppDef {
    name: "dns",
    aliases: &[],
    proto: Proto::Dns,
    tcp_ports: &[dns::PORT],
    udp_ports: &[dns::PORT],
    heuristic: None,
    new: |start| Box::new(Dns::new(start)),
};

/// Transactions remembered per conversation (the oldest is forgotten first).
const MAX_TRANSACTIONS: usize = 64;
/// A query repeated within this time, before any answer, is a retransmission
/// (Wireshark's `dns.retransmission_timer` default).
const RETRANSMISSION_NSEC: i64 = 5_000_000_000;

/// A query and, once seen, its response.
#[derive(Debug, Clone, Copy)]
struct Transaction {
    id: u16,
    query_frame: u64,
    query_time: i64,
    response_frame: Option<u64>,
}

pub(crate) struct Dns {
    /// The latest transaction of each ID seen, oldest first.
    transactions: VecDeque<Transaction>,
}

impl Dns {
    pub fn new(_start: &Start) -> Dns {
        Dns {
            transactions: VecDeque::new(),
        }
    }

    /// Links a query to its response by transaction ID, as Wireshark does: a query
    /// repeated before an answer (within 5 s) is a retransmission of the first, a
    /// response is linked to the first query, and a response repeated is a
    /// retransmission of the first response.
    fn link(&mut self, cx: &mut Cx, m: &Message) {
        let now = cx.rel_nsec();
        let found = self.transactions.iter().rposition(|t| t.id == m.id);
        if !m.is_response() {
            if let Some(i) = found {
                let t = self.transactions[i];
                if t.response_frame.is_none()
                    && now.saturating_sub(t.query_time) < RETRANSMISSION_NSEC
                {
                    if cx.record {
                        cx.push_generated(0, &RETRANSMISSION, Value::Bool(true));
                        note!(cx, "(the client asked again: no answer came in time)");
                        cx.push_generated(0, &RETRANSMIT_REQUEST_IN, Value::Uint(t.query_frame));
                    }
                    return;
                }
                self.transactions.remove(i);
            }
            if self.transactions.len() >= MAX_TRANSACTIONS {
                self.transactions.pop_front();
            }
            self.transactions.push_back(Transaction {
                id: m.id,
                query_frame: cx.frame,
                query_time: now,
                response_frame: None,
            });
            return;
        }
        let Some(i) = found else {
            if cx.record {
                cx.push_generated(0, &UNSOLICITED, Value::Bool(true));
                note!(cx, "(no query with this ID was seen in this conversation)");
            }
            return;
        };
        let t = &mut self.transactions[i];
        match t.response_frame {
            None => {
                t.response_frame = Some(cx.frame);
                let (frame, dt) = (t.query_frame, now.saturating_sub(t.query_time));
                if cx.record {
                    cx.push_generated(0, &RESPONSE_TO, Value::Uint(frame));
                    cx.push_generated(0, &TIME, Value::Time(dt));
                }
            }
            Some(first) => {
                if cx.record {
                    cx.push_generated(0, &RETRANSMISSION, Value::Bool(true));
                    note!(cx, "(the same answer again)");
                    cx.push_generated(0, &RETRANSMIT_RESPONSE_IN, Value::Uint(first));
                }
            }
        }
    }
}

impl Session for Dns {
    fn pdu_len(&mut self, _dir: Dir, buf: &[u8]) -> Need {
        match dns::tcp_message_len(buf) {
            Some(n) => Need::Pdu(n),
            None => Need::More(Some(2)),
        }
    }

    fn dissect(&mut self, cx: &mut Cx, pdu: &[u8]) {
        cx.begin(Proto::Dns, 0);
        cx.column("DNS");
        let tcp = cx.transport == Transport::Tcp;
        let at = if tcp { 2 } else { 0 };
        if tcp && cx.record && pdu.len() >= 2 {
            let n = u16::from_be_bytes([pdu[0], pdu[1]]);
            cx.push(0, &dns::LENGTH, 0..2, Value::Uint(n.into()));
        }
        let msg = pdu.get(at..).unwrap_or(&[]);
        cx.rebase(at, |cx| self.message(cx, msg));
        if cx.closed {
            cx.malformed(format!(
                "the length prefix announced {} bytes; the connection closed after {}",
                pdu.get(..2)
                    .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]) as usize),
                msg.len()
            ));
        } else if cx.cut {
            cx.incomplete(
                "the message is cut: the connection ended first, or netlab's buffer filled",
            );
        }
        cx.end(pdu.len());
    }
}

impl Dns {
    fn message(&mut self, cx: &mut Cx, msg: &[u8]) {
        let m = match Message::parse(msg) {
            Ok(m) => m,
            Err(e) => {
                cx.malformed(e.to_string());
                if cx.first {
                    cx.info().push_str("[Malformed Packet]");
                }
                return;
            }
        };
        let response = m.is_response();
        let opcode = m.opcode();
        let mut info = String::new();
        info.push_str(opcode.name());
        if let dns::Opcode::Unknown(n) = opcode {
            let _ = write!(info, " ({n})");
        }
        if response {
            info.push_str(" response");
        }
        let _ = write!(info, " 0x{:04x}", m.id);
        if response && m.rcode() != 0 {
            let _ = write!(info, " {}", dns::rcode_name(m.rcode()));
        }
        if cx.record {
            header(cx, &m);
        }
        // The questions.
        if !m.questions.is_empty() && cx.record {
            cx.push(
                0,
                &dns::QUERIES,
                span_of(&m.questions, |q| &q.span),
                Value::Group,
            );
        }
        for q in &m.questions {
            let (t, _) = dns::type_name(q.qtype);
            let _ = write!(info, " {} {}", type_word(q.qtype, t), q.name.text);
            if !cx.record {
                continue;
            }
            cx.push(1, &QUERY, q.span.clone(), Value::Group);
            note!(
                cx,
                "{}: type {}, class {}",
                q.name.text,
                type_word(q.qtype, t),
                dns::class_name(q.qclass)
            );
            cx.push(
                2,
                &dns::QRY_NAME,
                q.name.span.clone(),
                Value::Text(q.name.text.clone().into()),
            );
            name_note(cx, &q.name);
            cx.push_generated(2, &dns::QRY_NAME_LEN, Value::Uint(q.name.text_len() as u64));
            cx.push_generated(2, &dns::COUNT_LABELS, Value::Uint(q.name.labels.into()));
            cx.push(
                2,
                &dns::QRY_TYPE,
                q.type_range(),
                Value::Uint(q.qtype.into()),
            );
            type_note(cx, q.qtype);
            cx.push(
                2,
                &dns::QRY_CLASS,
                q.class_range(),
                Value::Hex(q.qclass.into(), 4),
            );
            note!(cx, "({})", dns::class_name(q.qclass));
        }
        // The three record sections.
        for (section, group) in [
            (Section::Answer, &dns::ANSWERS),
            (Section::Authority, &dns::AUTHORITIES),
            (Section::Additional, &dns::ADDITIONALS),
        ] {
            let records = m.section(section);
            if records.is_empty() {
                continue;
            }
            if cx.record {
                cx.push(0, group, span_of(records, |r| &r.span), Value::Group);
            }
            for r in records {
                info.push(' ');
                info.push_str(&summary(r));
                if cx.record {
                    record(cx, r, msg);
                }
            }
        }
        // The link between query and response.
        self.link(cx, &m);
        if let Some(p) = &m.problem {
            cx.malformed(p.to_string());
        } else if m.end < msg.len() {
            cx.malformed(format!(
                "{} bytes after the last record the header announces",
                msg.len() - m.end
            ));
        }
        headline!(cx, "{info}");
        let first = cx.first;
        let col = cx.info();
        if !first {
            col.push_str(", ");
        }
        col.push_str(&info);
    }
}

/// The byte range from the first item's start to the last one's end.
fn span_of<T>(items: &[T], f: impl Fn(&T) -> &std::ops::Range<usize>) -> std::ops::Range<usize> {
    match (items.first(), items.last()) {
        (Some(a), Some(b)) => f(a).start..f(b).end,
        _ => 0..0,
    }
}

/// A type as the packet list writes it: its mnemonic, or `Unknown (N)`.
fn type_word(t: u16, name: &'static str) -> String {
    if name == "Unknown" {
        format!("Unknown ({t})")
    } else {
        name.to_string()
    }
}

fn type_note(cx: &mut Cx, t: u16) {
    let (name, what) = dns::type_name(t);
    if what.is_empty() {
        note!(cx, "({name})");
    } else {
        note!(cx, "({name}, {what})");
    }
}

fn name_note(cx: &mut Cx, n: &Name) {
    if n.pointers == 0 {
        return;
    }
    match n.span.len() {
        2 => note!(
            cx,
            "(a compression pointer to where the name was written before)"
        ),
        k => note!(
            cx,
            "(compressed: {} byte{} of labels here, then a pointer to the rest)",
            k - 2,
            if k == 3 { "" } else { "s" }
        ),
    }
}

/// The header: ID, flags and the four counts.
fn header(cx: &mut Cx, m: &Message) {
    use dns::field;
    let response = m.is_response();
    cx.push(0, &dns::ID, field::ID, Value::Hex(m.id.into(), 4));
    let f = m.flags;
    cx.push(0, &dns::FLAGS, field::FLAGS, Value::Hex(f.into(), 4));
    if response {
        note!(
            cx,
            "({} response, {})",
            m.opcode().name(),
            dns::rcode_name(m.rcode())
        );
    } else {
        note!(cx, "({})", m.opcode().name());
    }
    let bit = |cx: &mut Cx, def, mask: u16, yes: &str, no: &str| {
        let on = f & mask != 0;
        cx.push_bits(1, def, field::FLAGS, mask.into(), Value::Bool(on));
        note!(cx, "({})", if on { yes } else { no });
    };
    bit(cx, &dns::FLAG_RESPONSE, flags::QR, "a response", "a query");
    let op = (f & flags::OPCODE) >> 11;
    cx.push_bits(
        1,
        &dns::FLAG_OPCODE,
        field::FLAGS,
        flags::OPCODE.into(),
        Value::Uint(op.into()),
    );
    note!(cx, "({})", m.opcode().name());
    // Wireshark shows AA, RA and the reply code only in responses, where they mean
    // something.
    if response {
        bit(
            cx,
            &dns::FLAG_AUTHORITATIVE,
            flags::AA,
            "the server is an authority for the domain",
            "the server is not an authority for the domain",
        );
    }
    bit(
        cx,
        &dns::FLAG_TRUNCATED,
        flags::TC,
        "truncated",
        "not truncated",
    );
    bit(
        cx,
        &dns::FLAG_RECDESIRED,
        flags::RD,
        "do query recursively",
        "do not query recursively",
    );
    if response {
        bit(
            cx,
            &dns::FLAG_RECAVAIL,
            flags::RA,
            "the server can do recursive queries",
            "the server cannot do recursive queries",
        );
    }
    bit(
        cx,
        &dns::FLAG_Z,
        flags::Z,
        "reserved, but set",
        "reserved (0)",
    );
    // In a query, AD means "I understand the AD bit" (RFC 6840 § 5.7): Wireshark shows
    // it there only when set.
    if response || f & flags::AD != 0 {
        bit(
            cx,
            &dns::FLAG_AUTHENTICATED,
            flags::AD,
            "set",
            "not authenticated",
        );
    }
    bit(
        cx,
        &dns::FLAG_CHECKDISABLE,
        flags::CD,
        "the client accepts unchecked data",
        "unchecked data is unacceptable",
    );
    if response {
        cx.push_bits(
            1,
            &dns::FLAG_RCODE,
            field::FLAGS,
            flags::RCODE.into(),
            Value::Uint(m.rcode().into()),
        );
        note!(cx, "({})", dns::rcode_name(m.rcode()));
    }
    for (def, range, n) in [
        (&dns::COUNT_QUERIES, field::QDCOUNT, m.counts[0]),
        (&dns::COUNT_ANSWERS, field::ANCOUNT, m.counts[1]),
        (&dns::COUNT_AUTH_RR, field::NSCOUNT, m.counts[2]),
        (&dns::COUNT_ADD_RR, field::ARCOUNT, m.counts[3]),
    ] {
        cx.push(0, def, range, Value::Uint(n.into()));
    }
}

/// What the packet list says of a record: `A 10.99.0.2`, `MX 10 mail.netlab.test`.
fn summary(r: &Record) -> String {
    let (t, _) = dns::type_name(r.rtype);
    let t = type_word(r.rtype, t);
    match &r.data {
        Rdata::A(a) => format!("{t} {}", std::net::Ipv4Addr::from(*a)),
        Rdata::Aaaa(a) => {
            let mut s = format!("{t} ");
            crate::wire::ipv6::fmt_addr(a, &mut s);
            s
        }
        Rdata::Name(n) => format!("{t} {}", n.text),
        Rdata::Mx {
            preference,
            exchange,
        } => format!("{t} {preference} {}", exchange.text),
        Rdata::Soa { mname, .. } => format!("{t} {}", mname.text),
        Rdata::Srv {
            priority,
            weight,
            port,
            target,
        } => format!("{t} {priority} {weight} {port} {}", target.text),
        Rdata::Txt(_) | Rdata::Opt(_) | Rdata::Other => t,
    }
}

/// One record's fields.
fn record(cx: &mut Cx, r: &Record, msg: &[u8]) {
    let (t, _) = dns::type_name(r.rtype);
    let t = type_word(r.rtype, t);
    let opt = r.rtype == rtype::OPT;
    cx.push(1, &RECORD, r.span.clone(), Value::Group);
    if cx.detail {
        let mut s = format!("{}: type {t}", r.name.text);
        if !opt {
            let _ = write!(s, ", class {}", dns::class_name(r.class));
        }
        match &r.data {
            Rdata::A(a) => {
                let _ = write!(s, ", addr {}", std::net::Ipv4Addr::from(*a));
            }
            Rdata::Aaaa(a) => {
                s.push_str(", addr ");
                crate::wire::ipv6::fmt_addr(a, &mut s);
            }
            Rdata::Name(n) => match r.rtype {
                rtype::NS => {
                    let _ = write!(s, ", ns {}", n.text);
                }
                rtype::CNAME => {
                    let _ = write!(s, ", cname {}", n.text);
                }
                _ => {
                    let _ = write!(s, ", {}", n.text);
                }
            },
            Rdata::Mx {
                preference,
                exchange,
            } => {
                let _ = write!(s, ", preference {preference}, mx {}", exchange.text);
            }
            Rdata::Soa { mname, .. } => {
                let _ = write!(s, ", mname {}", mname.text);
            }
            Rdata::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                let _ = write!(
                    s,
                    ", priority {priority}, weight {weight}, port {port}, target {}",
                    target.text
                );
            }
            Rdata::Txt(_) | Rdata::Opt(_) | Rdata::Other => {}
        }
        cx.note(s);
    }
    // The owner name: an SRV record's is split into service, protocol and domain
    // (`_http._tcp.netlab.test`), as Wireshark does.
    let name = r.name.span.clone();
    if r.rtype == rtype::SRV && !r.name.is_root() {
        let mut parts = r.name.text.splitn(3, '.');
        for def in [&dns::SRV_SERVICE, &dns::SRV_PROTO, &dns::SRV_NAME] {
            let Some(p) = parts.next() else { break };
            cx.push(2, def, name.clone(), Value::Text(p.to_string().into()));
        }
    } else {
        cx.push(
            2,
            &dns::RESP_NAME,
            name,
            Value::Text(r.name.text.clone().into()),
        );
        name_note(cx, &r.name);
    }
    cx.push(
        2,
        &dns::RESP_TYPE,
        r.type_range(),
        Value::Uint(r.rtype.into()),
    );
    type_note(cx, r.rtype);
    if opt {
        // RFC 6891 § 6.1.2-3: the class is the UDP payload size, the TTL holds the
        // extended RCODE, the version and the flags.
        cx.push(
            2,
            &dns::UDP_PAYLOAD_SIZE,
            r.class_range(),
            Value::Uint(r.class.into()),
        );
        let ttl = r.ttl_range();
        let ext = (r.ttl >> 24) as u8;
        let version = (r.ttl >> 16) as u8;
        let z = r.ttl as u16;
        cx.push(
            2,
            &dns::EXT_RCODE,
            ttl.start..ttl.start + 1,
            Value::Hex(ext.into(), 2),
        );
        cx.push(
            2,
            &dns::EDNS0_VERSION,
            ttl.start + 1..ttl.start + 2,
            Value::Uint(version.into()),
        );
        let zr = ttl.start + 2..ttl.end;
        cx.push(2, &dns::EDNS_Z, zr.clone(), Value::Hex(z.into(), 4));
        cx.push_bits(
            3,
            &dns::EDNS_Z_DO,
            zr.clone(),
            0x8000,
            Value::Bool(z & 0x8000 != 0),
        );
        note!(
            cx,
            "({})",
            if z & 0x8000 != 0 {
                "accepts DNSSEC security records"
            } else {
                "cannot handle DNSSEC security records"
            }
        );
        cx.push_bits(
            3,
            &dns::EDNS_Z_RESERVED,
            zr,
            0x7fff,
            Value::Hex((z & 0x7fff).into(), 4),
        );
    } else {
        cx.push(
            2,
            &dns::RESP_CLASS,
            r.class_range(),
            Value::Hex(r.class.into(), 4),
        );
        note!(cx, "({})", dns::class_name(r.class));
        cx.push(2, &dns::RESP_TTL, r.ttl_range(), Value::Uint(r.ttl.into()));
        note!(cx, "({})", duration(r.ttl));
    }
    cx.push(
        2,
        &dns::RESP_LEN,
        r.len_range(),
        Value::Uint(r.rdata.len() as u64),
    );
    rdata(cx, r, msg);
}

/// A record's data by type.
fn rdata(cx: &mut Cx, r: &Record, msg: &[u8]) {
    let name = |cx: &mut Cx, def, n: &Name| {
        cx.push(2, def, n.span.clone(), Value::Text(n.text.clone().into()));
        name_note(cx, n);
    };
    match &r.data {
        Rdata::A(a) => {
            cx.push(2, &dns::A, r.rdata.clone(), Value::Ipv4(*a));
        }
        Rdata::Aaaa(a) => {
            cx.push(2, &dns::AAAA, r.rdata.clone(), Value::Ipv6(*a));
        }
        Rdata::Name(n) => {
            let def = match r.rtype {
                rtype::NS => &dns::NS,
                rtype::CNAME => &dns::CNAME,
                _ => &dns::PTR,
            };
            name(cx, def, n);
        }
        Rdata::Mx {
            preference,
            exchange,
        } => {
            let p = r.rdata.start;
            cx.push(
                2,
                &dns::MX_PREFERENCE,
                p..p + 2,
                Value::Uint((*preference).into()),
            );
            name(cx, &dns::MX_MAIL_EXCHANGE, exchange);
        }
        Rdata::Txt(strings) => {
            for s in strings {
                cx.push(
                    2,
                    &dns::TXT_LENGTH,
                    s.start - 1..s.start,
                    Value::Uint(s.len() as u64),
                );
                cx.push_text(2, &dns::TXT, msg, s.clone());
            }
        }
        Rdata::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => {
            name(cx, &dns::SOA_MNAME, mname);
            name(cx, &dns::SOA_RNAME, rname);
            let p = rname.span.end;
            cx.push(2, &dns::SOA_SERIAL, p..p + 4, Value::Uint((*serial).into()));
            for (i, (def, v)) in [
                (&dns::SOA_REFRESH, refresh),
                (&dns::SOA_RETRY, retry),
                (&dns::SOA_EXPIRE, expire),
                (&dns::SOA_MINIMUM, minimum),
            ]
            .into_iter()
            .enumerate()
            {
                let at = p + 4 + 4 * i;
                cx.push(2, def, at..at + 4, Value::Uint((*v).into()));
                note!(cx, "({})", duration(*v));
            }
        }
        Rdata::Srv {
            priority,
            weight,
            port,
            target,
        } => {
            let p = r.rdata.start;
            cx.push(
                2,
                &dns::SRV_PRIORITY,
                p..p + 2,
                Value::Uint((*priority).into()),
            );
            cx.push(
                2,
                &dns::SRV_WEIGHT,
                p + 2..p + 4,
                Value::Uint((*weight).into()),
            );
            cx.push(2, &dns::SRV_PORT, p + 4..p + 6, Value::Uint((*port).into()));
            name(cx, &dns::SRV_TARGET, target);
        }
        Rdata::Opt(options) => {
            for o in options {
                cx.push(2, &dns::OPT, o.span.clone(), Value::Group);
                note!(cx, "{}", dns::option_name(o.code));
                let p = o.span.start;
                cx.push(3, &dns::OPT_CODE, p..p + 2, Value::Uint(o.code.into()));
                note!(cx, "({})", dns::option_name(o.code));
                cx.push(
                    3,
                    &dns::OPT_LEN,
                    p + 2..p + 4,
                    Value::Uint(o.data.len() as u64),
                );
                // Wireshark shows the data even when there is none (NSID's request).
                cx.push(
                    3,
                    &dns::OPT_DATA,
                    o.data.clone(),
                    Value::Bytes(o.data.clone()),
                );
                if o.data.is_empty() {
                    continue;
                }
                let d = o.data.clone();
                match o.code {
                    // RFC 7873 § 4: an 8-byte client cookie, then the server's (if any).
                    10 => {
                        let c = d.start..d.end.min(d.start + 8);
                        cx.push(3, &dns::OPT_COOKIE_CLIENT, c.clone(), Value::Bytes(c));
                        let s = d.end.min(d.start + 8)..d.end;
                        cx.push(3, &dns::OPT_COOKIE_SERVER, s.clone(), Value::Bytes(s));
                    }
                    12 => {
                        cx.push(3, &dns::OPT_PADDING, d.clone(), Value::Bytes(d));
                    }
                    // RFC 8914 § 2: a 2-byte info code, then UTF-8 text.
                    15 if d.len() >= 2 => {
                        let code = u16::from_be_bytes([msg[d.start], msg[d.start + 1]]);
                        cx.push(
                            3,
                            &dns::OPT_EXT_ERROR_CODE,
                            d.start..d.start + 2,
                            Value::Uint(code.into()),
                        );
                        note!(cx, "({})", ede_name(code));
                        if d.len() > 2 {
                            cx.push_text(3, &dns::OPT_EXT_ERROR_TEXT, msg, d.start + 2..d.end);
                        }
                    }
                    _ => {}
                }
            }
        }
        Rdata::Other => {
            if !r.rdata.is_empty() {
                cx.push(
                    2,
                    &dns::DATA,
                    r.rdata.clone(),
                    Value::Bytes(r.rdata.clone()),
                );
            }
        }
    }
}

/// RFC 8914's extended error codes.
fn ede_name(code: u16) -> &'static str {
    match code {
        0 => "Other Error",
        1 => "Unsupported DNSKEY Algorithm",
        2 => "Unsupported DS Digest Type",
        3 => "Stale Answer",
        4 => "Forged Answer",
        5 => "DNSSEC Indeterminate",
        6 => "DNSSEC Bogus",
        7 => "Signature Expired",
        8 => "Signature Not Yet Valid",
        9 => "DNSKEY Missing",
        10 => "RRSIGs Missing",
        11 => "No Zone Key Bit Set",
        12 => "NSEC Missing",
        13 => "Cached Error",
        14 => "Not Ready",
        15 => "Blocked",
        16 => "Censored",
        17 => "Filtered",
        18 => "Prohibited",
        19 => "Stale NXDOMAIN Answer",
        20 => "Not Authoritative",
        21 => "Not Supported",
        22 => "No Reachable Authority",
        23 => "Network Error",
        24 => "Invalid Data",
        _ => "Unassigned",
    }
}

/// Seconds as Wireshark writes a duration: `10 minutes`, `1 day, 2 hours`.
pub(crate) fn duration(secs: u32) -> String {
    if secs == 0 {
        return "0 seconds".into();
    }
    let mut parts = Vec::new();
    let mut left = secs;
    for (unit, n) in [
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
        ("second", 1),
    ] {
        let q = left / n;
        left %= n;
        if q > 0 {
            parts.push(format!("{q} {unit}{}", if q == 1 { "" } else { "s" }));
        }
    }
    parts.join(", ")
}

// Tree headings (no Wireshark name) and the fields only the dissector computes.
crate::wire::fields! {
    QUERY: Group(
        "Query",
        "",
        "one question: a name, the type of record wanted and a class",
    );
    RECORD: Group(
        "Record",
        "",
        "one resource record: the name it is about, its type, class, time to live and data",
    );
    RESPONSE_TO: Num(
        "Request In",
        "dns.response_to",
        "the frame of the query this response answers (same transaction ID, same conversation)",
    );
    TIME: Time(
        "Time",
        "dns.time",
        "seconds from the query to this response: how long the server took, plus the network's round trip",
    );
    RETRANSMISSION: Bool(
        "Retransmission",
        "dns.retransmission",
        "this message repeats an earlier one with the same transaction ID",
    );
    RETRANSMIT_REQUEST_IN: Num(
        "Retransmitted request. Original request in",
        "dns.retransmit_request_in",
        "the frame of the first copy of this query",
    );
    RETRANSMIT_RESPONSE_IN: Num(
        "Retransmitted response. Original response in",
        "dns.retransmit_response_in",
        "the frame of the first copy of this response",
    );
    UNSOLICITED: Bool(
        "Unsolicited",
        "dns.unsolicited",
        "a response to a query this capture does not hold",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::app::tests::Conn;
    use crate::dissect::model::{Packet, Problem};
    use crate::dissect::{Dissector, Meta};
    use crate::wire::dns::{RdataRepr, RecordRepr, Repr};

    /// A raw-IP UDP datagram 10.0.0.1:40000 → 10.0.0.2:53 (or back), checksum 0.
    fn udp(d: &mut Dissector, n: u64, to_server: bool, payload: &[u8]) -> Packet {
        let (sa, da, sp, dp) = if to_server {
            ([10, 0, 0, 1], [10, 0, 0, 2], 40000u16, 53u16)
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1], 53, 40000)
        };
        let mut f = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
        f[2..4].copy_from_slice(&((28 + payload.len()) as u16).to_be_bytes());
        f.extend_from_slice(&sa);
        f.extend_from_slice(&da);
        f.extend_from_slice(&sp.to_be_bytes());
        f.extend_from_slice(&dp.to_be_bytes());
        f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        let meta = Meta {
            number: n,
            ts_sec: 0,
            ts_nsec: n as u32 * 1000,
            len: f.len() as u32,
            interface: 0,
            linktype: 101,
        };
        let mut p = Packet::default();
        d.dissect(meta, &f, &mut p);
        p
    }

    fn query() -> Vec<u8> {
        Repr::query(0x1001, "netlab.test", rtype::A)
            .to_bytes()
            .unwrap()
    }

    fn answer() -> Vec<u8> {
        let mut r = Repr::query(0x1001, "netlab.test", rtype::A);
        r.flags |= flags::QR | flags::AA;
        r.answers.push(RecordRepr {
            name: "netlab.test".into(),
            class: 1,
            ttl: 300,
            data: RdataRepr::A([10, 99, 0, 2]),
        });
        r.to_bytes().unwrap()
    }

    #[test]
    fn a_query_and_its_answer_over_udp() {
        let mut d = Dissector::new();
        let q = udp(&mut d, 1, true, &query());
        assert_eq!(q.protocol, "DNS");
        assert_eq!(q.info, "Standard query 0x1001 A netlab.test");
        assert_eq!(q.protocols(), "raw:ip:udp:dns");
        let a = udp(&mut d, 2, false, &answer());
        assert_eq!(
            a.info,
            "Standard query response 0x1001 A netlab.test A 10.99.0.2"
        );
        assert_eq!(a.field("dns.a").unwrap().value, Value::Ipv4([10, 99, 0, 2]));
        assert_eq!(a.field("dns.response_to").unwrap().value, Value::Uint(1));
        assert_eq!(a.problems().count(), 0);
        // The same answer again: a retransmission, not a second link.
        let again = udp(&mut d, 3, false, &answer());
        assert!(again.field("dns.response_to").is_none());
        assert_eq!(
            again.field("dns.retransmit_response_in").unwrap().value,
            Value::Uint(2)
        );
    }

    #[test]
    fn a_pointer_loop_is_marked_not_followed() {
        let mut m = query();
        // The question's name becomes a pointer to itself.
        m.truncate(12);
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        let p = udp(&mut Dissector::new(), 1, true, &m);
        assert!(
            p.problems()
                .any(|x| matches!(x, Problem::Malformed(w) if w.contains("loop"))),
            "{:?}",
            p.layers
        );
        assert_eq!(p.field("dns.id").unwrap().value, Value::Hex(0x1001, 4));
    }

    #[test]
    fn counts_past_the_end_are_marked() {
        let mut m = answer();
        m[7] = 200; // 200 answers announced
        let p = udp(&mut Dissector::new(), 1, false, &m);
        assert_eq!(p.fields_named("dns.a").count(), 1);
        assert!(
            p.problems()
                .any(|x| matches!(x, Problem::Malformed(w) if w.contains("announces 200 answers")))
        );
    }

    #[test]
    fn over_tcp_the_length_prefix_frames_messages() {
        let mut c = Conn::new(53);
        c.handshake();
        let q = query();
        let mut wire = (q.len() as u16).to_be_bytes().to_vec();
        wire.extend_from_slice(&q);
        // The length prefix alone, then the message: dissected once, on the second.
        let p = c.send(true, &wire[..2]);
        assert!(!p.has(Proto::Dns));
        let p = c.send(true, &wire[2..]);
        assert_eq!(p.info, "Standard query 0x1001 A netlab.test");
        assert_eq!(
            p.field("dns.length").unwrap().value,
            Value::Uint(q.len() as u64)
        );
        // Two answers in one segment: two DNS layers.
        let a = answer();
        let mut two = (a.len() as u16).to_be_bytes().to_vec();
        two.extend_from_slice(&a);
        two.extend_from_within(..);
        let p = c.send(false, &two);
        assert_eq!(p.layers.iter().filter(|l| l.proto == Proto::Dns).count(), 2);
        assert_eq!(p.fields_named("dns.response_to").count(), 1);
        assert_eq!(p.fields_named("dns.retransmission").count(), 1);
    }

    #[test]
    fn durations_read_like_wiresharks() {
        assert_eq!(duration(600), "10 minutes");
        assert_eq!(duration(604_800), "7 days");
        assert_eq!(duration(93_784), "1 day, 2 hours, 3 minutes, 4 seconds");
        assert_eq!(duration(1), "1 second");
        assert_eq!(duration(0), "0 seconds");
    }
}
