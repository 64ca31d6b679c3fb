//! Display filters: a useful subset of Wireshark's display-filter language, evaluated
//! over the dissection model ([`Packet`]).
//!
//! A display filter is a small boolean expression that is asked of every dissected packet:
//! "do you match?". netlab understands the same spelling as Wireshark and `tshark -Y`, so
//! what you learn here works there too (the reverse is not always true: see the end).
//!
//! # Tests
//!
//! * **A protocol name** — `tcp`, `udp`, `ip`, `ipv6`, `icmp`, `icmpv6`, `arp`, `eth`,
//!   `vlan`, `ieee8021ad`, `sll`, `null`, `raw`, `data`, `frame` — is true when the
//!   packet has that layer.
//!   (`frame` is always true: every packet is a frame.)
//! * **A field name** alone — `tcp.flags.syn`, `ip.flags.df`, `tcp.options.sack_perm` —
//!   is true when the field is *present* in the packet, whatever its value. This is the
//!   classic surprise: every TCP segment has a SYN bit, so `tcp.flags.syn` matches every
//!   TCP packet; to ask whether the bit is set write `tcp.flags.syn == 1`.
//! * **A comparison** `field OP value`, with `==` `!=` `>` `<` `>=` `<=` or their word
//!   forms `eq` `ne` `gt` `lt` `ge` `le`: `ip.ttl < 10`, `tcp.port == 443`.
//!   Two fields can be compared with each other: `udp.srcport == udp.dstport`.
//! * **`contains`** searches a byte string: `udp contains "HELLO"`, `data.data contains
//!   de:ad:be:ef`. On a protocol name it searches that layer's header *and everything
//!   after it* (its payload): `tcp contains "GET "`, `frame contains 00:50:56`.
//! * **`in`** tests membership in a set: `tcp.port in {80, 443, 8000..8080}` (`lo..hi`
//!   is an inclusive range; netlab also accepts the items without commas, as older
//!   Wireshark releases did).
//!
//! Tests combine with `not`/`!`, `and`/`&&`, `or`/`||` and parentheses. `not` binds
//! tightest, then `and`, then `or`: `a or b and not c` reads `a or (b and (not c))`.
//!
//! # Values
//!
//! | field type | write it as |
//! |---|---|
//! | number | `53`, `0x0800` (a leading `0` such as `010` is refused: Wireshark reads it as octal) |
//! | boolean (a flag bit) | `1`, `0`, `true`, `false` |
//! | IPv4 address | `192.0.2.1`, or a network in CIDR form `10.0.0.0/8` |
//! | IPv6 address | `::1`, `2001:db8::/32` |
//! | MAC address | `02:00:5e:10:00:01`, `02-00-5e-10-00-01` or `0200.5e10.0001` |
//! | bytes | `aa:bb:cc` (also `aa-bb-cc`, `aa.bb.cc`, `aabbcc`) or a quoted string `"GET"` |
//!
//! Strings are in double quotes and know the escapes `\"` `\\` `\n` `\r` `\t` `\0` and
//! `\xHH` (one byte). Comparing a field with a value of the wrong type (`ip.src == 80`) is
//! an error when the filter is read, not a silent "no match".
//!
//! # Pseudo-fields
//!
//! `ip.addr`, `ipv6.addr`, `eth.addr` stand for the source *or* the destination address;
//! `tcp.port` and `udp.port` for the source or the destination port. `frame.len` is the
//! length on the wire, `frame.cap_len` the number of bytes captured, `frame.number` the
//! packet's number in the capture.
//!
//! # Fields that occur several times
//!
//! A packet may hold a field more than once: `ip.addr` is two fields (source and
//! destination), an ICMP error quotes a second IP header, a SACK option has several
//! edges. Like Wireshark 4:
//!
//! * `==`, `>`, `<`, `>=`, `<=`, `contains`, `in` are true when **any** occurrence matches
//!   (`ip.addr == 10.0.0.1`: source or destination is 10.0.0.1);
//! * `!=` is true when the field is present and **no** occurrence equals the value
//!   (`ip.addr != 10.0.0.1`: neither address is 10.0.0.1). So `a != b` is `!(a == b)`
//!   for every packet that has the field; for a packet that has no such field at all
//!   (an ARP packet and `ip.addr`) every comparison, `!=` included, is false — exactly
//!   what `tshark -Y 'ip.addr != 1.2.3.4'` does. Write `!(ip.addr == 10.0.0.1)` to also
//!   keep the packets without IP;
//! * the rarer `===` ("all equal") and `~=` or `!==` ("any differs") are accepted too.
//!
//! # Not supported
//!
//! Slices (`tcp[0:2]`), `matches` (regular expressions), arithmetic and bitwise `&`,
//! functions (`len()`, `upper()`), value names (`ip.proto == tcp`), host names, and every
//! field netlab does not dissect. Each gives an error that points at the offending spot.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::dissect::model::{Field, Packet, Proto, Value};
use crate::wire::FieldDef;

/// Parentheses and `not`s may nest this deep; deeper is refused rather than risk the stack.
const MAX_DEPTH: usize = 256;

// ---------------------------------------------------------------------------------------
// What the filter may name
// ---------------------------------------------------------------------------------------

/// The type of a field's value, known when the filter is read so that literals can be
/// checked then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Num,
    Bool,
    Mac,
    Ipv4,
    Ipv6,
    /// Raw bytes (or text).
    Bytes,
    /// A heading that groups sub-fields: it can only be tested for presence.
    Group,
    /// A time span, written in seconds (`tcp.analysis.ack_rtt > 0.1`).
    Time,
    /// A protocol: presence, or `contains` over its bytes.
    Proto,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Num => "a number",
            Kind::Bool => "a boolean (a flag)",
            Kind::Mac => "a MAC address",
            Kind::Ipv4 => "an IPv4 address",
            Kind::Ipv6 => "an IPv6 address",
            Kind::Bytes => "a byte string",
            Kind::Group => "a heading without a value of its own",
            Kind::Time => "a time in seconds",
            Kind::Proto => "a protocol",
        }
    }

    /// Kinds whose values can be compared with each other.
    fn class(self) -> Option<u8> {
        match self {
            Kind::Num | Kind::Bool => Some(0),
            Kind::Mac => Some(1),
            Kind::Ipv4 => Some(2),
            Kind::Ipv6 => Some(3),
            Kind::Bytes => Some(4),
            Kind::Time => Some(5),
            Kind::Group | Kind::Proto => None,
        }
    }
}

/// Protocols a bare name can test for: every [`Proto::short`] name, and `frame` (always
/// true).
fn protocols() -> impl Iterator<Item = &'static str> {
    std::iter::once("frame").chain(Proto::ALL.iter().map(|p| p.short()))
}

/// Every field the dissectors record, from their own definitions (`wire::fields!`): the
/// name and type a filter may use come from the same place as the field itself.
fn dissected_fields() -> impl Iterator<Item = &'static FieldDef> {
    crate::wire::ALL
        .iter()
        .chain(super::DISSECT_FIELDS)
        .flat_map(|list| list.iter().copied())
        .filter(|def| !def.key.is_empty())
}

impl From<crate::wire::Kind> for Kind {
    fn from(k: crate::wire::Kind) -> Kind {
        use crate::wire::Kind as W;
        match k {
            W::Num => Kind::Num,
            W::Bool => Kind::Bool,
            W::Mac => Kind::Mac,
            W::Ipv4 => Kind::Ipv4,
            W::Ipv6 => Kind::Ipv6,
            W::Bytes | W::Text => Kind::Bytes,
            W::Group => Kind::Group,
            W::Time => Kind::Time,
        }
    }
}

/// Names that stand for "either of these fields".
static EITHER: &[(&str, Kind, &[&str])] = &[
    ("ip.addr", Kind::Ipv4, &["ip.src", "ip.dst"]),
    ("ipv6.addr", Kind::Ipv6, &["ipv6.src", "ipv6.dst"]),
    ("eth.addr", Kind::Mac, &["eth.src", "eth.dst"]),
    ("tcp.port", Kind::Num, &["tcp.srcport", "tcp.dstport"]),
    ("udp.port", Kind::Num, &["udp.srcport", "udp.dstport"]),
];

/// Fields computed from the capture record rather than dissected.
static FRAME_FIELDS: &[(&str, Source)] = &[
    ("frame.len", Source::FrameLen),
    ("frame.cap_len", Source::FrameCapLen),
    ("frame.number", Source::FrameNumber),
];

/// Where a name's values come from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// Every field of the packet whose key is one of these.
    Fields(&'static [&'static str]),
    FrameLen,
    FrameCapLen,
    FrameNumber,
    /// A protocol layer (its bytes, for `contains`).
    Proto(&'static str),
}

fn resolve(name: &str) -> Option<(Source, Kind)> {
    if let Some(p) = protocols().find(|p| *p == name) {
        return Some((Source::Proto(p), Kind::Proto));
    }
    if let Some(def) = dissected_fields().find(|d| d.key == name || d.alias == name) {
        let key = if def.key == name {
            &def.key
        } else {
            &def.alias
        };
        return Some((Source::Fields(std::slice::from_ref(key)), def.kind.into()));
    }
    if let Some((_, kind, keys)) = EITHER.iter().find(|(k, _, _)| *k == name) {
        return Some((Source::Fields(keys), *kind));
    }
    FRAME_FIELDS
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, s)| (s.clone(), Kind::Num))
}

/// Whether `f` goes by one of these names (its key, or its alias: IPv6's version is also
/// `ip.version`, as in Wireshark).
fn named(f: &Field, keys: &[&str]) -> bool {
    keys.contains(&f.def.key) || (!f.def.alias.is_empty() && keys.contains(&f.def.alias))
}

/// Every name the filter knows, for "did you mean" hints.
fn all_names() -> impl Iterator<Item = &'static str> {
    let mut names: Vec<&'static str> = protocols()
        .chain(dissected_fields().flat_map(|d| [d.key, d.alias]))
        .chain(EITHER.iter().map(|(k, _, _)| *k))
        .chain(FRAME_FIELDS.iter().map(|(k, _)| *k))
        .filter(|k| !k.is_empty())
        .collect();
    // Two defs may share a name (a field and the same field quoted in an ICMP error).
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(*n));
    names.into_iter()
}

// ---------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------

/// A parsed display filter, ready to be asked of many packets.
#[derive(Debug, Clone)]
pub struct Filter {
    root: Node,
}

/// Why a filter could not be read: what is wrong, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterError {
    pub message: String,
    /// Byte offset of the offending token in `source` (`source.len()` for "the end").
    pub position: usize,
    pub source: String,
}

impl FilterError {
    /// 1-based column (in characters) of the offending token.
    fn column(&self) -> usize {
        let pos = self.clamped_position();
        self.source[..pos].chars().count() + 1
    }

    fn clamped_position(&self) -> usize {
        let mut pos = self.position.min(self.source.len());
        while !self.source.is_char_boundary(pos) {
            pos -= 1;
        }
        pos
    }

    /// The token that starts at `position`, as written.
    fn token(&self) -> Option<&str> {
        let rest = &self.source[self.clamped_position()..];
        let first = rest.chars().next()?;
        let len = if first == '"' {
            // up to the closing quote, or the end when the string is unclosed
            let mut escaped = false;
            rest.char_indices()
                .skip(1)
                .find(|&(_, c)| {
                    let end = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    end
                })
                .map_or(rest.len(), |(i, _)| i + 1)
        } else if first.is_ascii() && is_word_byte(first as u8) {
            rest.find(|c: char| !c.is_ascii() || !is_word_byte(c as u8))
                .unwrap_or(rest.len())
        } else if "=!<>&|~".contains(first) {
            rest.find(|c: char| !"=!<>&|~".contains(c))
                .unwrap_or(rest.len())
                .min(3)
        } else {
            first.len_utf8()
        };
        Some(&rest[..len])
    }

    /// Two lines: the filter, and a `^` under the offending spot.
    #[must_use]
    pub fn caret(&self) -> String {
        let pos = self.clamped_position();
        let line: String = self
            .source
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        let pad: String = self.source[..pos]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{line}\n{pad}^")
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad filter `{}`: {} at column {} ",
            self.source,
            self.message,
            self.column()
        )?;
        match self.token() {
            Some(t) => write!(f, "(`{t}`)"),
            None => f.write_str("(end of filter)"),
        }
    }
}

impl std::error::Error for FilterError {}

impl Filter {
    /// Reads a filter. An empty (or all-blank) filter matches every packet, as in
    /// Wireshark.
    ///
    /// # Errors
    ///
    /// A [`FilterError`] naming the first problem met reading left to right (a
    /// misspelt name, a missing value, a value of the wrong type…) and where it is.
    pub fn parse(src: &str) -> Result<Filter, FilterError> {
        let mut p = Parser {
            src,
            toks: lex(src),
            i: 0,
            depth: 0,
        };
        if p.peek()?.tok == Tok::Eof {
            return Ok(Filter { root: Node::True });
        }
        let root = p.parse_or()?;
        let t = p.peek()?.clone();
        match t.tok {
            Tok::Eof => Ok(Filter { root }),
            Tok::RParen => Err(p.err(t.pos, "unmatched `)`")),
            _ => Err(p.err(
                t.pos,
                format!(
                    "expected `and`, `or` or the end of the filter, found {}",
                    found(&t)
                ),
            )),
        }
    }

    /// Does this packet pass the filter?
    #[must_use]
    pub fn matches(&self, pkt: &Packet) -> bool {
        self.root.eval(pkt)
    }
}

// ---------------------------------------------------------------------------------------
// The parsed expression and its evaluation
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    /// `==`: any occurrence equals.
    Eq,
    /// `!=`: present, and no occurrence equals.
    Ne,
    /// `===`: present, and every occurrence equals.
    AllEq,
    /// `~=`, `!==`: some occurrence differs.
    AnyNe,
    Gt,
    Lt,
    Ge,
    Le,
}

impl CmpOp {
    fn orders(self) -> bool {
        matches!(self, CmpOp::Gt | CmpOp::Lt | CmpOp::Ge | CmpOp::Le)
    }
}

/// A literal value, already converted to the field's type.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Num(u64),
    Mac([u8; 6]),
    /// Address and prefix length (32 for a plain address).
    V4(u32, u8),
    V6(u128, u8),
    Bytes(Vec<u8>),
}

impl Lit {
    fn scalar(&self) -> Scalar<'_> {
        match self {
            Lit::Num(n) => Scalar::Num(*n),
            Lit::Mac(m) => Scalar::Mac(*m),
            Lit::V4(a, _) => Scalar::V4(*a),
            Lit::V6(a, _) => Scalar::V6(*a),
            Lit::Bytes(b) => Scalar::Bytes(b),
        }
    }

    /// A network (CIDR with a short prefix) rather than one address.
    fn is_network(&self) -> bool {
        matches!(self, Lit::V4(_, p) if *p < 32) || matches!(self, Lit::V6(_, p) if *p < 128)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Rhs {
    Lit(Lit),
    Field(Source),
}

#[derive(Debug, Clone, PartialEq)]
enum SetItem {
    One(Lit),
    Range(Lit, Lit),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    True,
    Present(Source),
    Cmp { src: Source, op: CmpOp, rhs: Rhs },
    Contains { src: Source, needle: Vec<u8> },
    In { src: Source, set: Vec<SetItem> },
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

/// One occurrence's value, in the form comparisons work on.
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    Num(u64),
    Mac([u8; 6]),
    V4(u32),
    V6(u128),
    Bytes(&'a [u8]),
}

/// A field's value as a [`Scalar`]; a heading (`Value::Group`) stands for the bytes it
/// covers, as Wireshark's byte-typed headings such as `tcp.options` do.
fn scalar<'a>(field: &'a Field, data: &'a [u8]) -> Option<Scalar<'a>> {
    Some(match &field.value {
        Value::Uint(n) | Value::Hex(n, _) => Scalar::Num(*n),
        Value::Bool(b) => Scalar::Num(u64::from(*b)),
        Value::Mac(m) => Scalar::Mac(*m),
        Value::Ipv4(a) => Scalar::V4(u32::from_be_bytes(*a)),
        Value::Ipv6(a) => Scalar::V6(u128::from_be_bytes(*a)),
        Value::Text(t) => Scalar::Bytes(t.as_bytes()),
        Value::Bytes(r) => Scalar::Bytes(data.get(r.clone())?),
        Value::Group => Scalar::Bytes(data.get(field.range.clone())?),
        Value::Time(ns) => Scalar::Num((*ns).max(0) as u64),
    })
}

fn cmp_scalar(a: &Scalar<'_>, b: &Scalar<'_>) -> Option<Ordering> {
    match (a, b) {
        (Scalar::Num(x), Scalar::Num(y)) => Some(x.cmp(y)),
        (Scalar::Mac(x), Scalar::Mac(y)) => Some(x.cmp(y)),
        (Scalar::V4(x), Scalar::V4(y)) => Some(x.cmp(y)),
        (Scalar::V6(x), Scalar::V6(y)) => Some(x.cmp(y)),
        (Scalar::Bytes(x), Scalar::Bytes(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Compares a value with a literal; an address literal with a prefix compares only the
/// network bits (so `Equal` means "inside the network").
fn cmp_lit(v: &Scalar<'_>, lit: &Lit) -> Option<Ordering> {
    match (v, lit) {
        (Scalar::V4(a), Lit::V4(b, p)) => {
            let m = u32::MAX.checked_shl(32 - u32::from(*p)).unwrap_or(0);
            Some((a & m).cmp(&(b & m)))
        }
        (Scalar::V6(a), Lit::V6(b, p)) => {
            let m = u128::MAX.checked_shl(128 - u32::from(*p)).unwrap_or(0);
            Some((a & m).cmp(&(b & m)))
        }
        _ => cmp_scalar(v, &lit.scalar()),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

impl Source {
    /// Is there at least one occurrence (of any value, a heading included)?
    fn present(&self, pkt: &Packet) -> bool {
        match self {
            Source::Fields(keys) => pkt.fields.iter().any(|f| named(f, keys)),
            Source::FrameLen | Source::FrameCapLen | Source::FrameNumber => true,
            Source::Proto("frame") => true,
            Source::Proto(name) => pkt.layers.iter().any(|l| l.proto.short() == *name),
        }
    }

    /// Calls `f` on each occurrence's value until it returns true; returns whether it did.
    fn any(&self, pkt: &Packet, f: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool {
        match self {
            Source::Fields(keys) => pkt
                .fields
                .iter()
                .filter(|fl| named(fl, keys))
                .filter_map(|fl| scalar(fl, &pkt.data))
                .any(f),
            Source::FrameLen => f(Scalar::Num(u64::from(pkt.len))),
            Source::FrameCapLen => f(Scalar::Num(u64::from(pkt.caplen))),
            Source::FrameNumber => f(Scalar::Num(pkt.number)),
            Source::Proto(name) => {
                // A protocol's bytes run from its header to the end of the frame, or of
                // the reassembled bytes (a datagram, a PDU) it was read from.
                if *name == "frame" {
                    let frame_end = pkt.buffer_end(0).min(pkt.data.len());
                    return f(Scalar::Bytes(&pkt.data[..frame_end]));
                }
                pkt.layers
                    .iter()
                    .filter(|l| l.proto.short() == *name)
                    .any(|l| {
                        let start = l.range.start;
                        let end = pkt.buffer_end(start);
                        pkt.data
                            .get(start..end)
                            .is_some_and(|b| f(Scalar::Bytes(b)))
                    })
            }
        }
    }
}

/// Applies the quantifier of `op` (see the module documentation) given `any`, which
/// reports whether some occurrence's ordering against the other side satisfies a test.
fn relate(
    op: CmpOp,
    mut any: impl FnMut(&mut dyn FnMut(Option<Ordering>) -> bool) -> bool,
) -> bool {
    let eq = |o: Option<Ordering>| o == Some(Ordering::Equal);
    match op {
        CmpOp::Eq => any(&mut |o| eq(o)),
        CmpOp::Ne => any(&mut |_| true) && !any(&mut |o| eq(o)),
        CmpOp::AllEq => any(&mut |_| true) && !any(&mut |o| !eq(o)),
        CmpOp::AnyNe => any(&mut |o| !eq(o)),
        CmpOp::Gt => any(&mut |o| o == Some(Ordering::Greater)),
        CmpOp::Lt => any(&mut |o| o == Some(Ordering::Less)),
        CmpOp::Ge => any(&mut |o| matches!(o, Some(Ordering::Greater | Ordering::Equal))),
        CmpOp::Le => any(&mut |o| matches!(o, Some(Ordering::Less | Ordering::Equal))),
    }
}

impl Node {
    fn eval(&self, pkt: &Packet) -> bool {
        match self {
            Node::True => true,
            Node::Present(src) => src.present(pkt),
            Node::Cmp {
                src,
                op,
                rhs: Rhs::Lit(lit),
            } => relate(*op, |test| src.any(pkt, &mut |v| test(cmp_lit(&v, lit)))),
            Node::Cmp {
                src,
                op,
                rhs: Rhs::Field(other),
            } => relate(*op, |test| {
                src.any(pkt, &mut |a| {
                    other.any(pkt, &mut |b| test(cmp_scalar(&a, &b)))
                })
            }),
            Node::Contains { src, needle } => src.any(pkt, &mut |v| match v {
                Scalar::Bytes(b) => find(b, needle),
                Scalar::Mac(m) => find(&m, needle),
                _ => false,
            }),
            Node::In { src, set } => src.any(pkt, &mut |v| {
                set.iter().any(|item| match item {
                    SetItem::One(l) => cmp_lit(&v, l) == Some(Ordering::Equal),
                    SetItem::Range(lo, hi) => {
                        matches!(cmp_lit(&v, lo), Some(Ordering::Greater | Ordering::Equal))
                            && matches!(cmp_lit(&v, hi), Some(Ordering::Less | Ordering::Equal))
                    }
                })
            }),
            Node::Not(n) => !n.eval(pkt),
            Node::And(ns) => ns.iter().all(|n| n.eval(pkt)),
            Node::Or(ns) => ns.iter().any(|n| n.eval(pkt)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A name, number, address or keyword: a run of `[A-Za-z0-9_.:/-]` (never `..`).
    Word,
    /// A quoted string, escapes resolved.
    Str(Vec<u8>),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    DotDot,
    Cmp(CmpOp),
    And,
    Or,
    Not,
    /// The input cannot be read from here on; reported when the parser reaches it.
    Error(String),
    Eof,
}

#[derive(Debug, Clone)]
struct Token<'a> {
    tok: Tok,
    /// Byte offset in the source.
    pos: usize,
    /// The token as written.
    text: &'a str,
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'/' | b'-')
}

fn lex(src: &str) -> Vec<Token<'_>> {
    const SYMBOLS: &[(&str, Tok)] = &[
        ("===", Tok::Cmp(CmpOp::AllEq)),
        ("!==", Tok::Cmp(CmpOp::AnyNe)),
        ("==", Tok::Cmp(CmpOp::Eq)),
        ("!=", Tok::Cmp(CmpOp::Ne)),
        ("~=", Tok::Cmp(CmpOp::AnyNe)),
        (">=", Tok::Cmp(CmpOp::Ge)),
        ("<=", Tok::Cmp(CmpOp::Le)),
        ("&&", Tok::And),
        ("||", Tok::Or),
        ("..", Tok::DotDot),
        (">", Tok::Cmp(CmpOp::Gt)),
        ("<", Tok::Cmp(CmpOp::Lt)),
        ("!", Tok::Not),
        ("(", Tok::LParen),
        (")", Tok::RParen),
        ("{", Tok::LBrace),
        ("}", Tok::RBrace),
        (",", Tok::Comma),
    ];
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let rest = &src[i..];
        let (tok, len) = if let Some((s, t)) = SYMBOLS.iter().find(|(s, _)| rest.starts_with(s)) {
            (t.clone(), s.len())
        } else if b[i] == b'"' {
            match lex_string(src, i) {
                Ok((bytes, len)) => (Tok::Str(bytes), len),
                Err((pos, msg)) => {
                    out.push(Token {
                        tok: Tok::Error(msg),
                        pos,
                        text: "",
                    });
                    break;
                }
            }
        } else if is_word_byte(b[i]) {
            let mut j = i;
            while j < b.len()
                && is_word_byte(b[j])
                && !(b[j] == b'.' && b.get(j + 1) == Some(&b'.'))
            {
                j += 1;
            }
            (Tok::Word, j - i)
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            let msg = match c {
                '=' => "`=` is not an operator: write `==` to compare".to_string(),
                '&' => "unexpected `&`: write `&&` or `and` (bitwise `&` is not supported)".into(),
                '|' => "unexpected `|`: write `||` or `or`".into(),
                '~' => "`~` (matches) is not supported by netlab; try `contains`".into(),
                '[' => "slices such as `tcp[0:2]` are not supported by netlab".into(),
                '\'' => "write strings in double quotes: \"like this\"".into(),
                c => format!("unexpected character `{c}`"),
            };
            out.push(Token {
                tok: Tok::Error(msg),
                pos: i,
                text: "",
            });
            break;
        };
        out.push(Token {
            tok,
            pos: i,
            text: &src[i..i + len],
        });
        i += len;
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
        text: "",
    });
    out
}

/// Reads the string starting with the `"` at `start`: its bytes and its length in the
/// source, or the position and text of an error.
fn lex_string(src: &str, start: usize) -> Result<(Vec<u8>, usize), (usize, String)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = start + 1;
    loop {
        match b.get(i) {
            None => return Err((start, "this string is never closed (missing `\"`)".into())),
            Some(b'"') => return Ok((out, i + 1 - start)),
            Some(b'\\') => {
                let esc = src[i + 1..].chars().next();
                let (byte, len) = match esc {
                    Some('"') => (b'"', 2),
                    Some('\\') => (b'\\', 2),
                    Some('n') => (b'\n', 2),
                    Some('r') => (b'\r', 2),
                    Some('t') => (b'\t', 2),
                    Some('0') => (0, 2),
                    Some('x') => {
                        let hex = src
                            .get(i + 2..i + 4)
                            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
                        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                            Some(v) => (v, 4),
                            None => {
                                return Err((
                                    i,
                                    "`\\x` needs two hex digits, as in `\\x41`".into(),
                                ));
                            }
                        }
                    }
                    Some(c) => return Err((i, format!("unknown escape `\\{c}`"))),
                    None => {
                        return Err((start, "this string is never closed (missing `\"`)".into()));
                    }
                };
                out.push(byte);
                i += len;
            }
            Some(&c) => {
                out.push(c);
                i += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------

enum Keyword {
    And,
    Or,
    Not,
    Cmp(CmpOp),
    Contains,
    In,
    Matches,
}

fn keyword(w: &str) -> Option<Keyword> {
    Some(match w {
        "and" => Keyword::And,
        "or" => Keyword::Or,
        "not" => Keyword::Not,
        "eq" | "any_eq" => Keyword::Cmp(CmpOp::Eq),
        "ne" | "all_ne" => Keyword::Cmp(CmpOp::Ne),
        "all_eq" => Keyword::Cmp(CmpOp::AllEq),
        "any_ne" => Keyword::Cmp(CmpOp::AnyNe),
        "gt" => Keyword::Cmp(CmpOp::Gt),
        "lt" => Keyword::Cmp(CmpOp::Lt),
        "ge" => Keyword::Cmp(CmpOp::Ge),
        "le" => Keyword::Cmp(CmpOp::Le),
        "contains" => Keyword::Contains,
        "in" => Keyword::In,
        "matches" => Keyword::Matches,
        _ => return None,
    })
}

/// How a token is named in messages.
fn found(t: &Token<'_>) -> String {
    match t.tok {
        Tok::Eof => "the end of the filter".into(),
        _ => format!("`{}`", t.text),
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token<'a>>,
    i: usize,
    /// Parentheses and `not`s currently open.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, position: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            message: message.into(),
            position,
            source: self.src.to_string(),
        }
    }

    /// The next token (a lexing error surfaces here, in reading order).
    fn peek(&self) -> Result<&Token<'a>, FilterError> {
        let t = &self.toks[self.i.min(self.toks.len() - 1)];
        match &t.tok {
            Tok::Error(msg) => Err(self.err(t.pos, msg.clone())),
            _ => Ok(t),
        }
    }

    fn bump(&mut self) -> Result<Token<'a>, FilterError> {
        let t = self.peek()?.clone();
        if t.tok != Tok::Eof {
            self.i += 1;
        }
        Ok(t)
    }

    fn is_word(&self, kw: fn(&Keyword) -> bool) -> bool {
        self.peek()
            .is_ok_and(|t| t.tok == Tok::Word && keyword(t.text).as_ref().is_some_and(kw))
    }

    fn enter(&mut self, pos: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(pos, "filter nested too deeply"));
        }
        Ok(())
    }

    fn parse_or(&mut self) -> Result<Node, FilterError> {
        let mut items = vec![self.parse_and()?];
        while self.peek()?.tok == Tok::Or || self.is_word(|k| matches!(k, Keyword::Or)) {
            self.bump()?;
            items.push(self.parse_and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Node::True)
        } else {
            Node::Or(items)
        })
    }

    fn parse_and(&mut self) -> Result<Node, FilterError> {
        let mut items = vec![self.parse_not()?];
        while self.peek()?.tok == Tok::And || self.is_word(|k| matches!(k, Keyword::And)) {
            self.bump()?;
            items.push(self.parse_not()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Node::True)
        } else {
            Node::And(items)
        })
    }

    fn parse_not(&mut self) -> Result<Node, FilterError> {
        if self.peek()?.tok == Tok::Not || self.is_word(|k| matches!(k, Keyword::Not)) {
            let t = self.bump()?;
            self.enter(t.pos)?;
            let inner = self.parse_not()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.parse_primary()
    }

    fn parse_primary(&mut self) -> Result<Node, FilterError> {
        let t = self.bump()?;
        match t.tok {
            Tok::LParen => {
                self.enter(t.pos)?;
                let inner = self.parse_or()?;
                let close = self.peek()?;
                if close.tok != Tok::RParen {
                    let msg = if close.tok == Tok::Eof {
                        "this `(` is never closed".to_string()
                    } else {
                        return Err(self.err(
                            close.pos,
                            format!("expected `)`, `and` or `or`, found {}", found(close)),
                        ));
                    };
                    return Err(self.err(t.pos, msg));
                }
                self.bump()?;
                self.depth -= 1;
                Ok(inner)
            }
            Tok::Word if keyword(t.text).is_none() => self.parse_test(t),
            _ => Err(self.err(
                t.pos,
                format!("expected a field, a protocol or `(`, found {}", found(&t)),
            )),
        }
    }

    /// After a field or protocol name: a comparison, `contains`, `in`, or nothing
    /// (a presence test).
    fn parse_test(&mut self, name: Token<'a>) -> Result<Node, FilterError> {
        let Some((src, kind)) = resolve(name.text) else {
            return Err(self.err(name.pos, unknown_message(name.text)));
        };
        let op = self.peek()?.clone();
        let rel = match &op.tok {
            Tok::Cmp(c) => Some(Keyword::Cmp(*c)),
            Tok::Word => keyword(op.text),
            _ => None,
        };
        let rel = match rel {
            Some(Keyword::Matches) => {
                return Err(self.err(
                    op.pos,
                    "`matches` (regular expressions) is not supported by netlab; try `contains`",
                ));
            }
            Some(r @ (Keyword::Cmp(_) | Keyword::Contains | Keyword::In)) => r,
            _ => {
                if matches!(op.tok, Tok::Word | Tok::Str(_)) && keyword(op.text).is_none() {
                    let msg = if kind == Kind::Proto {
                        format!(
                            "expected `and` or `or` between `{}` and `{}`",
                            name.text, op.text
                        )
                    } else {
                        format!(
                            "expected an operator such as `==` between `{}` and `{}`",
                            name.text, op.text
                        )
                    };
                    return Err(self.err(op.pos, msg));
                }
                return Ok(Node::Present(src));
            }
        };
        self.bump()?;
        let field = name.text;
        match rel {
            Keyword::Contains => {
                if !matches!(kind, Kind::Bytes | Kind::Proto | Kind::Mac) {
                    return Err(self.err(
                        op.pos,
                        format!(
                            "`contains` searches bytes, but `{field}` is {}",
                            kind.describe()
                        ),
                    ));
                }
                let v = self.value_token(&op)?;
                let needle = match &v.tok {
                    Tok::Str(b) => b.clone(),
                    _ => parse_hex_bytes(v.text).ok_or_else(|| {
                        self.err(
                            v.pos,
                            format!(
                                "`{}` is neither a quoted string nor bytes like `aa:bb:cc`",
                                v.text
                            ),
                        )
                    })?,
                };
                if needle.is_empty() {
                    return Err(self.err(v.pos, "nothing to search for: the string is empty"));
                }
                Ok(Node::Contains { src, needle })
            }
            Keyword::In => {
                self.check_has_value(field, kind, &op)?;
                let set = self.parse_set(field, kind, &op)?;
                Ok(Node::In { src, set })
            }
            Keyword::Cmp(cmp) => {
                self.check_has_value(field, kind, &op)?;
                let v = self.value_token(&op)?;
                let rhs = match self.literal(field, kind, &v) {
                    Ok(lit) => {
                        if cmp.orders() && lit.is_network() {
                            return Err(self.err(
                                v.pos,
                                format!(
                                    "a network can only be compared with `==` or `!=`, not `{}`",
                                    op.text
                                ),
                            ));
                        }
                        Rhs::Lit(lit)
                    }
                    Err(e) => match (&v.tok, resolve(v.text)) {
                        (Tok::Word, Some((other, k2))) if k2 != Kind::Proto => {
                            if kind.class().is_none() || kind.class() != k2.class() {
                                return Err(self.err(
                                    v.pos,
                                    format!(
                                        "cannot compare `{field}` ({}) with `{}` ({})",
                                        kind.describe(),
                                        v.text,
                                        k2.describe()
                                    ),
                                ));
                            }
                            Rhs::Field(other)
                        }
                        _ => return Err(e),
                    },
                };
                Ok(Node::Cmp { src, op: cmp, rhs })
            }
            _ => Ok(Node::Present(src)),
        }
    }

    /// Refuses to compare a heading or a protocol with a value.
    fn check_has_value(&self, field: &str, kind: Kind, op: &Token<'_>) -> Result<(), FilterError> {
        let msg = match kind {
            Kind::Group => format!(
                "`{field}` has no value of its own: write just `{field}` to test that it is present"
            ),
            Kind::Proto => format!(
                "`{field}` is a protocol: test it alone (`{field}`) or search its bytes with `contains`"
            ),
            _ => return Ok(()),
        };
        Err(self.err(op.pos, msg))
    }

    /// The value after an operator.
    fn value_token(&mut self, op: &Token<'_>) -> Result<Token<'a>, FilterError> {
        let t = self.peek()?.clone();
        match t.tok {
            Tok::Word | Tok::Str(_) => {
                self.bump()?;
                Ok(t)
            }
            Tok::Eof => Err(self.err(t.pos, format!("expected a value after `{}`", op.text))),
            _ => Err(self.err(
                t.pos,
                format!("expected a value after `{}`, found {}", op.text, found(&t)),
            )),
        }
    }

    /// `{ v1, v2, lo..hi }` (commas optional).
    fn parse_set(
        &mut self,
        field: &str,
        kind: Kind,
        op: &Token<'_>,
    ) -> Result<Vec<SetItem>, FilterError> {
        let open = self.peek()?.clone();
        if open.tok != Tok::LBrace {
            return Err(self.err(
                open.pos,
                format!(
                    "expected `{{` after `{}`, as in `tcp.port in {{80, 443}}`",
                    op.text
                ),
            ));
        }
        self.bump()?;
        let mut set = Vec::new();
        loop {
            let t = self.peek()?.clone();
            match t.tok {
                Tok::RBrace => {
                    self.bump()?;
                    break;
                }
                Tok::Comma if !set.is_empty() => {
                    self.bump()?;
                }
                Tok::Word | Tok::Str(_) => {
                    self.bump()?;
                    let lo = self.literal(field, kind, &t)?;
                    if lo.is_network() {
                        return Err(self.err(t.pos, "a set cannot hold a network"));
                    }
                    if self.peek()?.tok != Tok::DotDot {
                        set.push(SetItem::One(lo));
                        continue;
                    }
                    let dots = self.bump()?;
                    if !matches!(kind, Kind::Num | Kind::Ipv4 | Kind::Ipv6 | Kind::Mac) {
                        return Err(self.err(
                            dots.pos,
                            format!(
                                "a range needs ordered values, but `{field}` is {}",
                                kind.describe()
                            ),
                        ));
                    }
                    let h = self.value_token(&dots)?;
                    let hi = self.literal(field, kind, &h)?;
                    if hi.is_network() {
                        return Err(self.err(h.pos, "a range cannot end with a network"));
                    }
                    set.push(SetItem::Range(lo, hi));
                }
                Tok::Eof => return Err(self.err(open.pos, "this `{` is never closed")),
                _ => {
                    return Err(self.err(
                        t.pos,
                        format!("expected a value or `}}` in the set, found {}", found(&t)),
                    ));
                }
            }
        }
        if set.is_empty() {
            return Err(self.err(open.pos, "the set is empty"));
        }
        Ok(set)
    }

    /// Converts a value token to the field's type.
    fn literal(&self, field: &str, kind: Kind, t: &Token<'_>) -> Result<Lit, FilterError> {
        let bad = |what: &str| self.err(t.pos, format!("`{field}` needs {what}, not `{}`", t.text));
        if let Tok::Str(bytes) = &t.tok {
            return match kind {
                Kind::Bytes => Ok(Lit::Bytes(bytes.clone())),
                _ => Err(self.err(
                    t.pos,
                    format!(
                        "`{field}` is {}: write the value without quotes",
                        kind.describe()
                    ),
                )),
            };
        }
        let w = t.text;
        match kind {
            Kind::Num => match parse_uint(w) {
                Ok(n) => Ok(Lit::Num(n)),
                Err(UintError::TooLarge) => Err(self.err(t.pos, format!("`{w}` is too large"))),
                Err(UintError::Octal) => Err(self.err(
                    t.pos,
                    format!(
                        "`{w}` starts with 0, which Wireshark reads as octal: write it without the 0, or in hex (0x…)"
                    ),
                )),
                Err(UintError::NotANumber) => Err(bad("a number (such as 80 or 0x50)")),
            },
            Kind::Bool => match w {
                "1" | "true" | "True" | "TRUE" => Ok(Lit::Num(1)),
                "0" | "false" | "False" | "FALSE" => Ok(Lit::Num(0)),
                _ => Err(self.err(
                    t.pos,
                    format!("`{field}` is a flag: compare it with 1, 0, true or false, not `{w}`"),
                )),
            },
            Kind::Mac => parse_mac(w)
                .map(Lit::Mac)
                .ok_or_else(|| bad("a MAC address (such as 02:00:5e:10:00:01)")),
            Kind::Ipv4 => {
                let (a, p) = split_prefix(w, 32)
                    .ok_or_else(|| self.err(t.pos, "the prefix length after `/` must be 0 to 32"))?;
                let a: Ipv4Addr = a
                    .parse()
                    .map_err(|_| bad("an IPv4 address (such as 192.0.2.1 or 10.0.0.0/8)"))?;
                Ok(Lit::V4(u32::from(a), p))
            }
            Kind::Ipv6 => {
                let (a, p) = split_prefix(w, 128).ok_or_else(|| {
                    self.err(t.pos, "the prefix length after `/` must be 0 to 128")
                })?;
                let a: Ipv6Addr = a
                    .parse()
                    .map_err(|_| bad("an IPv6 address (such as 2001:db8::1 or fe80::/10)"))?;
                Ok(Lit::V6(u128::from(a), p))
            }
            Kind::Bytes => parse_hex_bytes(w)
                .map(Lit::Bytes)
                .ok_or_else(|| bad("a byte string (such as aa:bb:cc or \"text\")")),
            Kind::Time => parse_seconds(w)
                .map(Lit::Num)
                .ok_or_else(|| bad("a time in seconds (such as 0.1 or 2)")),
            Kind::Group | Kind::Proto => Err(bad("a value")),
        }
    }
}

/// `0.25` seconds in nanoseconds.
fn parse_seconds(w: &str) -> Option<u64> {
    let (int, frac) = w.split_once('.').unwrap_or((w, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
    {
        return None;
    }
    let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..9 {
        f *= 10;
    }
    int.checked_mul(1_000_000_000)?.checked_add(f)
}

fn unknown_message(name: &str) -> String {
    let mut msg = format!("unknown field or protocol `{name}`");
    if matches!(
        name,
        "host" | "port" | "net" | "src" | "dst" | "ether" | "portrange"
    ) {
        msg.push_str(
            " (that is capture-filter syntax; display filters write `ip.addr == 10.0.0.1`, `tcp.port == 80`)",
        );
    } else if let Some(s) = suggest(name) {
        let _ = write!(msg, " (did you mean `{s}`?)");
    }
    msg
}

/// The known name closest to a misspelt one, if it is close enough.
fn suggest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    all_names()
        .map(|k| (edit_distance(&lower, k), k))
        .filter(|&(d, k)| d <= 2 && d < k.len().max(2) - 1)
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > 2 || a.len() > 64 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

enum UintError {
    NotANumber,
    TooLarge,
    Octal,
}

fn parse_uint(w: &str) -> Result<u64, UintError> {
    let (digits, radix) = match w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (w, 10),
    };
    if digits.is_empty() || !digits.bytes().all(|c| char::from(c).is_digit(radix)) {
        return Err(UintError::NotANumber);
    }
    if radix == 10 && digits.len() > 1 && digits.starts_with('0') {
        return Err(UintError::Octal);
    }
    u64::from_str_radix(digits, radix).map_err(|_| UintError::TooLarge)
}

/// `02:00:5e:10:00:01`, `02-00-5e-10-00-01` or `0200.5e10.0001`.
fn parse_mac(w: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    if w.contains('.') {
        let groups: Vec<&str> = w.split('.').collect();
        if groups.len() != 3 {
            return None;
        }
        for (i, g) in groups.iter().enumerate() {
            if g.len() != 4 || !g.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            let v = u16::from_str_radix(g, 16).ok()?;
            mac[2 * i..2 * i + 2].copy_from_slice(&v.to_be_bytes());
        }
        return Some(mac);
    }
    let sep = if w.contains(':') { ':' } else { '-' };
    let groups: Vec<&str> = w.split(sep).collect();
    if groups.len() != 6 {
        return None;
    }
    for (m, g) in mac.iter_mut().zip(&groups) {
        if g.is_empty() || g.len() > 2 || !g.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        *m = u8::from_str_radix(g, 16).ok()?;
    }
    Some(mac)
}

/// `aa:bb:cc`, `aa-bb-cc`, `aa.bb.cc` or `aabbcc`.
fn parse_hex_bytes(w: &str) -> Option<Vec<u8>> {
    let hex = |g: &str| {
        (g.len() == 2 && g.bytes().all(|c| c.is_ascii_hexdigit()))
            .then(|| u8::from_str_radix(g, 16).ok())
            .flatten()
    };
    match [':', '-', '.'].into_iter().find(|c| w.contains(*c)) {
        Some(sep) => w.split(sep).map(hex).collect(),
        None if !w.is_empty() && w.len().is_multiple_of(2) && w.is_ascii() => {
            (0..w.len()).step_by(2).map(|i| hex(&w[i..i + 2])).collect()
        }
        None => None,
    }
}

/// Splits `addr/prefix`; `None` when the prefix is not a number up to `max`.
fn split_prefix(w: &str, max: u8) -> Option<(&str, u8)> {
    match w.split_once('/') {
        None => Some((w, max)),
        Some((a, p)) => {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let n: u8 = p.parse().ok()?;
            (n <= max).then_some((a, n))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::model::{Layer, Proto};
    use crate::wire::FieldDef;

    static ETH_DST: FieldDef = FieldDef::new(crate::wire::Kind::Num, "Destination", "eth.dst", "");
    static ETH_SRC: FieldDef = FieldDef::new(crate::wire::Kind::Num, "Source", "eth.src", "");
    static IP_DF: FieldDef =
        FieldDef::new(crate::wire::Kind::Num, "Don't fragment", "ip.flags.df", "");
    static IP_TTL: FieldDef = FieldDef::new(crate::wire::Kind::Num, "Time to live", "ip.ttl", "");
    static IP_SRC: FieldDef = FieldDef::new(crate::wire::Kind::Num, "Source address", "ip.src", "");
    static IP_DST: FieldDef =
        FieldDef::new(crate::wire::Kind::Num, "Destination address", "ip.dst", "");
    static IP6_SRC: FieldDef =
        FieldDef::new(crate::wire::Kind::Num, "Source address", "ipv6.src", "");
    static IP6_DST: FieldDef = FieldDef::new(
        crate::wire::Kind::Num,
        "Destination address",
        "ipv6.dst",
        "",
    );
    static TCP_SRCPORT: FieldDef =
        FieldDef::new(crate::wire::Kind::Num, "Source port", "tcp.srcport", "");
    static TCP_DSTPORT: FieldDef = FieldDef::new(
        crate::wire::Kind::Num,
        "Destination port",
        "tcp.dstport",
        "",
    );
    static TCP_FLAGS: FieldDef = FieldDef::new(crate::wire::Kind::Num, "Flags", "tcp.flags", "");
    static TCP_SYN: FieldDef = FieldDef::new(crate::wire::Kind::Num, "Syn", "tcp.flags.syn", "");
    static TCP_ACK: FieldDef = FieldDef::new(
        crate::wire::Kind::Num,
        "Acknowledgment",
        "tcp.flags.ack",
        "",
    );
    static TCP_OPTIONS: FieldDef =
        FieldDef::new(crate::wire::Kind::Num, "Options", "tcp.options", "");
    static TCP_SACK_PERM: FieldDef = FieldDef::new(
        crate::wire::Kind::Num,
        "SACK permitted",
        "tcp.options.sack_perm",
        "",
    );
    static UDP_SRCPORT: FieldDef =
        FieldDef::new(crate::wire::Kind::Num, "Source port", "udp.srcport", "");
    static UDP_DSTPORT: FieldDef = FieldDef::new(
        crate::wire::Kind::Num,
        "Destination port",
        "udp.dstport",
        "",
    );
    static DATA: FieldDef = FieldDef::new(crate::wire::Kind::Num, "Data", "data.data", "");

    /// Builds a packet layer by layer; field ranges are irrelevant to filters.
    struct Builder(Packet);

    impl Builder {
        fn new(data: &[u8]) -> Self {
            let mut p = Packet {
                number: 7,
                len: data.len() as u32,
                caplen: data.len() as u32,
                ..Default::default()
            };
            p.data = data.to_vec();
            Builder(p)
        }

        fn layer(
            mut self,
            proto: Proto,
            start: usize,
            fields: Vec<(&'static FieldDef, Value)>,
        ) -> Self {
            let first = self.0.fields.len();
            for (def, value) in fields {
                self.0.fields.push(Field {
                    def,
                    value,
                    range: 0..0,
                    depth: 0,
                    note: None,
                    bits: None,
                    generated: false,
                    hidden: false,
                });
            }
            self.0.layers.push(Layer {
                proto,
                range: start..start,
                fields: first..self.0.fields.len(),
                headline: String::new(),
                problem: None,
            });
            self
        }
    }

    fn eth() -> Vec<(&'static FieldDef, Value)> {
        vec![
            (&ETH_DST, Value::Mac([0xff; 6])),
            (&ETH_SRC, Value::Mac([2, 0, 0, 0, 0, 1])),
        ]
    }

    fn ip(src: [u8; 4], dst: [u8; 4]) -> Vec<(&'static FieldDef, Value)> {
        vec![
            (&IP_DF, Value::Bool(true)),
            (&IP_TTL, Value::Uint(64)),
            (&IP_SRC, Value::Ipv4(src)),
            (&IP_DST, Value::Ipv4(dst)),
        ]
    }

    /// A 120-byte TCP SYN 192.0.2.1:40000 -> 198.51.100.7:443 with SACK permitted.
    fn tcp_syn() -> Packet {
        let mut data = vec![0u8; 120];
        data[100..105].copy_from_slice(b"HELLO");
        Builder::new(&data)
            .layer(Proto::Eth, 0, eth())
            .layer(Proto::Ip, 14, ip([192, 0, 2, 1], [198, 51, 100, 7]))
            .layer(
                Proto::Tcp,
                34,
                vec![
                    (&TCP_SRCPORT, Value::Uint(40000)),
                    (&TCP_DSTPORT, Value::Uint(443)),
                    (&TCP_FLAGS, Value::Hex(0x002, 3)),
                    (&TCP_ACK, Value::Bool(false)),
                    (&TCP_SYN, Value::Bool(true)),
                    (&TCP_OPTIONS, Value::Group),
                    (&TCP_SACK_PERM, Value::Bool(true)),
                ],
            )
            .0
    }

    /// A 74-byte DNS query 10.1.2.3:5353 -> 10.9.9.9:53 carrying "abc".
    fn udp_dns() -> Packet {
        let mut data = vec![0u8; 74];
        data[42..45].copy_from_slice(b"abc");
        let mut p = Builder::new(&data)
            .layer(Proto::Eth, 0, eth())
            .layer(Proto::Ip, 14, ip([10, 1, 2, 3], [10, 9, 9, 9]))
            .layer(
                Proto::Udp,
                34,
                vec![
                    (&UDP_SRCPORT, Value::Uint(5353)),
                    (&UDP_DSTPORT, Value::Uint(53)),
                ],
            )
            .layer(Proto::Data, 42, vec![(&DATA, Value::Bytes(42..45))])
            .0;
        p.number = 2;
        p
    }

    fn ipv6_udp() -> Packet {
        let lo = u128::from(Ipv6Addr::LOCALHOST).to_be_bytes();
        let other: Ipv6Addr = "2001:db8::5".parse().unwrap();
        Builder::new(&[0u8; 62])
            .layer(Proto::Eth, 0, eth())
            .layer(
                Proto::Ipv6,
                14,
                vec![
                    (&IP6_SRC, Value::Ipv6(other.octets())),
                    (&IP6_DST, Value::Ipv6(lo)),
                ],
            )
            .layer(
                Proto::Udp,
                54,
                vec![
                    (&UDP_SRCPORT, Value::Uint(53)),
                    (&UDP_DSTPORT, Value::Uint(53)),
                ],
            )
            .0
    }

    fn arp() -> Packet {
        Builder::new(&[0u8; 42])
            .layer(Proto::Eth, 0, eth())
            .layer(Proto::Arp, 14, vec![])
            .0
    }

    fn m(filter: &str, pkt: &Packet) -> bool {
        Filter::parse(filter)
            .unwrap_or_else(|e| panic!("{e}\n{}", e.caret()))
            .matches(pkt)
    }

    fn err(filter: &str) -> FilterError {
        match Filter::parse(filter) {
            Ok(f) => panic!("`{filter}` should not parse, got {f:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn protocols() {
        let (t, u, a) = (tcp_syn(), udp_dns(), arp());
        assert!(m("tcp", &t) && !m("tcp", &u) && !m("tcp", &a));
        assert!(m("udp", &u) && m("ip", &u) && m("eth", &u) && m("data", &u));
        assert!(m("arp", &a) && !m("ip", &a));
        assert!(m("frame", &a));
        assert!(m("", &a) && m("   ", &t));
    }

    #[test]
    fn ports_and_addresses() {
        let (t, u) = (tcp_syn(), udp_dns());
        assert!(m("udp.port == 53", &u));
        assert!(m("udp.port == 5353", &u));
        assert!(!m("udp.port == 53", &t));
        assert!(m("tcp.port eq 443", &t));
        assert!(m("tcp.dstport == 0x1bb", &t));
        assert!(m("ip.addr == 192.0.2.1", &t));
        assert!(m("ip.addr == 198.51.100.7", &t));
        assert!(!m("ip.addr == 192.0.2.2", &t));
        assert!(m("ip.src == 192.0.2.1 && ip.dst != 192.0.2.1", &t));
    }

    #[test]
    fn flags_are_present_even_when_clear() {
        let t = tcp_syn();
        // `!tcp.flags.ack` asks "is there no ACK field?": a SYN has one (set to 0).
        assert!(!m("tcp.flags.syn == 1 && !tcp.flags.ack", &t));
        assert!(m("tcp.flags.syn == 1 && tcp.flags.ack == 0", &t));
        assert!(m("tcp.flags.syn == 1 && !(tcp.flags.ack == 1)", &t));
        assert!(m("tcp.flags.syn == true and tcp.flags.ack == false", &t));
        assert!(m("tcp.flags.ack", &t), "a clear flag is still present");
        assert!(m("tcp.flags == 0x002", &t));
        assert!(m("ip.flags.df", &t) && m("ip.flags.df == 1", &t));
        assert!(m("tcp.options.sack_perm", &t) && m("tcp.options", &t));
        assert!(!m("tcp.options.sack_perm", &udp_dns()));
    }

    #[test]
    fn frame_fields() {
        let (t, u) = (tcp_syn(), udp_dns());
        assert!(m("frame.len > 100", &t) && !m("frame.len > 100", &u));
        assert!(m("frame.len gt 100", &t) && m("frame.len <= 74", &u));
        assert!(m("frame.cap_len == 120", &t));
        assert!(m("frame.number == 2", &u) && m("frame.number ge 7", &t));
    }

    #[test]
    fn logic_and_precedence() {
        let (t, u, a) = (tcp_syn(), udp_dns(), arp());
        assert!(m("not (tcp or udp)", &a));
        assert!(!m("not (tcp or udp)", &t) && !m("not (tcp or udp)", &u));
        assert!(m("!tcp", &u) && m("not not udp", &u));
        // not > and > or
        assert!(m("arp or tcp and udp", &a));
        assert!(!m("(arp or tcp) and udp", &a));
        assert!(m("not tcp and not udp", &a));
        assert!(m("udp || tcp && frame.len > 1000", &u));
        assert!(
            m("!udp.port == 80", &u),
            "`!` applies to the whole comparison"
        );
    }

    #[test]
    fn cidr_and_ranges() {
        let (t, u) = (tcp_syn(), udp_dns());
        assert!(m("ip.addr == 10.0.0.0/8", &u) && !m("ip.addr == 10.0.0.0/8", &t));
        assert!(m("ip.src == 192.0.2.0/24", &t));
        assert!(m("ip.src == 10.1.2.3/8", &u), "host bits are ignored");
        assert!(m("ip.addr == 0.0.0.0/0", &t));
        assert!(m("ip.src == 192.0.2.1/32", &t));
        assert!(m("ip.src > 192.0.2.0 and ip.src < 192.0.2.2", &t));
        assert!(m("tcp.port in {80, 443}", &t) && m("tcp.port in {80 443}", &t));
        assert!(m("udp.port in {50..60}", &u) && !m("udp.port in {54..60, 80}", &u));
        assert!(m("ip.ttl in {1..64}", &t));
        let v6 = ipv6_udp();
        assert!(m("ipv6.addr == ::1", &v6) && m("ipv6", &v6));
        assert!(m("ipv6.src == 2001:db8::/32", &v6) && !m("ipv6.src == 2001:db9::/32", &v6));
        assert!(m("ipv6.addr == ::1/128", &v6) && !m("ip", &v6));
    }

    #[test]
    fn mac_addresses() {
        let t = tcp_syn();
        assert!(m("eth.src == 02:00:00:00:00:01", &t));
        assert!(m("eth.src == 02-00-00-00-00-01", &t));
        assert!(m("eth.src == 0200.0000.0001", &t));
        assert!(m("eth.src == 2:0:0:0:0:1", &t));
        assert!(m("eth.addr == ff:ff:ff:ff:ff:ff", &t));
        assert!(!m("eth.src == ff:ff:ff:ff:ff:ff", &t));
        assert!(m("eth.src contains 00:01", &t));
    }

    #[test]
    fn contains_and_bytes() {
        let (t, u) = (tcp_syn(), udp_dns());
        assert!(m("data.data contains \"ab\"", &u));
        assert!(m("data.data contains 62:63", &u) && m("data.data contains 6263", &u));
        assert!(!m("data.data contains \"abd\"", &u));
        assert!(m("data.data == 61:62:63", &u) && m("data.data == \"abc\"", &u));
        assert!(
            m("udp contains \"abc\"", &u),
            "a protocol covers its payload"
        );
        assert!(m("frame contains \"a\\x62c\"", &u));
        assert!(m("tcp contains \"HELLO\"", &t) && !m("ip contains \"abc\"", &t));
        assert!(!m("udp contains \"abc\"", &t));
        // a heading stands for the bytes it covers
        let mut t = t;
        let opts = t.fields.iter_mut().find(|f| f.def.key == "tcp.options");
        opts.unwrap().range = 100..103;
        assert!(m("tcp.options contains \"HEL\"", &t) && m("tcp.options == 48:45:4c", &t));
        assert!(!m("tcp.options contains \"HELLO\"", &t));
    }

    #[test]
    fn several_occurrences() {
        let t = tcp_syn();
        // != means "present, and none equals" (Wireshark 4); absent fields never match.
        assert!(!m("ip.addr != 192.0.2.1", &t));
        assert!(m("ip.addr != 10.0.0.1", &t));
        assert!(!m("ip.addr != 10.0.0.1", &arp()));
        assert!(m("!(ip.addr == 10.0.0.1)", &arp()));
        assert!(m("ip.addr ~= 192.0.2.1", &t) && m("ip.addr !== 192.0.2.1", &t));
        assert!(!m("ip.addr === 192.0.2.1", &t));
        let v6 = ipv6_udp();
        assert!(m("udp.port === 53", &v6) && m("udp.srcport == udp.dstport", &v6));
        assert!(m("udp.srcport > udp.dstport", &udp_dns()));
        assert!(!m("ip.src == ip.dst", &t));
    }

    #[test]
    fn error_positions() {
        let e = err("tcp.port == ");
        assert_eq!(e.position, 12, "{e}");
        assert!(e.message.contains("expected a value after `==`"), "{e}");

        let e = err("tcp.prot == 1");
        assert_eq!(e.position, 0);
        assert!(
            e.message
                .starts_with("unknown field or protocol `tcp.prot`"),
            "{e}"
        );
        assert!(e.message.contains("did you mean `tcp.port`"), "{e}");

        let e = err("(tcp");
        assert_eq!(e.position, 0);
        assert!(e.message.contains("never closed"), "{e}");

        let e = err("tcp &&& udp");
        assert_eq!(e.position, 6, "{e}");

        let e = err("tcp)");
        assert_eq!((e.position, e.message.as_str()), (3, "unmatched `)`"));

        assert_eq!(err("ip.src == 80").position, 10);
        assert_eq!(err("ip.src == 10.0.0.0/33").position, 10);
        assert_eq!(err("tcp.flags.syn == 2").position, 17);
        assert_eq!(err("tcp.port == 99999999999999999999").position, 12);
        assert_eq!(err("tcp.port == 010").position, 12);
        assert_eq!(err("tcp.port == \"80\"").position, 12);
        assert_eq!(err("ip.src > 10.0.0.0/8").position, 9);
        assert_eq!(err("tcp.options.sack == 1").position, 17);
        assert_eq!(err("tcp.options == 1").position, 15);
        assert_eq!(err("tcp == 1").position, 4);
        assert_eq!(err("tcp.port contains 50").position, 9);
        assert_eq!(err("ip.src == tcp.port").position, 10);
        assert_eq!(err("tcp udp").position, 4);
        assert_eq!(err("tcp.port 80").position, 9);
        assert_eq!(err("tcp and").position, 7);
        assert_eq!(err("and tcp").position, 0);
        assert_eq!(err("ip.addr = 1.2.3.4").position, 8);
        assert_eq!(err("tcp.payload contains \"abc").position, 21);
        assert_eq!(err("data.data contains \"a\\qb\"").position, 21);
        assert_eq!(err("tcp.port in {80, 443").position, 12);
        assert_eq!(err("tcp.port in 80").position, 12);
        assert_eq!(err("tcp.port in {}").position, 12);
        assert_eq!(err("tcp[0:2] == 1").position, 3);
        assert_eq!(err("sip.method matches \"x\"").position, 0);
        assert_eq!(err("tcp matches \"x\"").position, 4);
        assert_eq!(err("tcp.port == 80 é").position, 15);
        assert!(err("port 80").message.contains("capture-filter"));
        assert!(err("TCP").message.contains("did you mean `tcp`"));
    }

    #[test]
    fn error_display() {
        let e = err("tcp.prot == 1");
        let shown = e.to_string();
        assert!(
            shown.starts_with("bad filter `tcp.prot == 1`: unknown field or protocol `tcp.prot`"),
            "{shown}"
        );
        assert!(shown.ends_with("at column 1 (`tcp.prot`)"), "{shown}");
        assert_eq!(e.caret(), "tcp.prot == 1\n^");

        let e = err("tcp &&& udp");
        assert!(e.to_string().ends_with("at column 7 (`&`)"), "{e}");
        assert_eq!(e.caret(), "tcp &&& udp\n      ^");

        let e = err("tcp.port == ");
        assert!(
            e.to_string().ends_with("at column 13 (end of filter)"),
            "{e}"
        );

        let e = err("ip.src == \"x");
        assert!(e.to_string().ends_with("(`\"x`)"), "{e}");

        // columns count characters, not bytes
        let e = err("data.data contains \"é\" and é");
        assert!(e.to_string().contains("at column 28"), "{e}");
        assert_eq!(e.caret().lines().nth(1).unwrap().len(), 28);
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}tcp{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(err(&deep).message, "filter nested too deeply");
        assert_eq!(
            err(&"!".repeat(100_000)).message,
            "filter nested too deeply"
        );
        assert_eq!(err(&"not ".repeat(300)).message, "filter nested too deeply");
        let ok = format!("{}tcp{}", "(".repeat(200), ")".repeat(200));
        assert!(m(&ok, &tcp_syn()));
        // long flat chains are not nesting, and evaluate without recursion
        let chain = vec!["udp"; 50_000].join(" or ") + " or tcp";
        assert!(m(&chain, &tcp_syn()));
        let chain = vec!["tcp"; 50_000].join(" && ");
        assert!(m(&chain, &tcp_syn()));
    }

    #[test]
    fn every_known_name_parses() {
        let mut seen = std::collections::HashSet::new();
        for name in all_names() {
            assert!(seen.insert(name), "`{name}` listed twice");
            Filter::parse(name).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// Names are unique per meaning: two definitions may share a key only when they
    /// are the same kind of value (so a literal is checked the same way for both).
    #[test]
    fn shared_keys_agree_on_their_kind() {
        let mut kinds = std::collections::HashMap::new();
        for def in dissected_fields() {
            for key in [def.key, def.alias].into_iter().filter(|k| !k.is_empty()) {
                let kind = Kind::from(def.kind);
                let prev = *kinds.entry(key).or_insert(kind);
                assert_eq!(prev, kind, "`{key}` is defined with two kinds");
            }
        }
        assert!(kinds.len() > 150, "only {} field names", kinds.len());
    }

    /// Random input never panics: parse returns Ok or Err, errors point inside the
    /// source, and whatever parses can be evaluated.
    #[test]
    fn fuzz_never_panics() {
        const PIECES: &[&str] = &[
            "tcp",
            "udp",
            "ip",
            "ipv6",
            "frame",
            "data",
            "arp",
            "eth.src",
            "ip.addr",
            "tcp.port",
            "udp.port",
            "tcp.flags.syn",
            "tcp.options",
            "data.data",
            "frame.len",
            "ipv6.addr",
            "==",
            "!=",
            "===",
            "!==",
            "~=",
            ">",
            "<",
            ">=",
            "<=",
            "eq",
            "ne",
            "contains",
            "in",
            "matches",
            "and",
            "or",
            "not",
            "&&",
            "||",
            "!",
            "(",
            ")",
            "{",
            "}",
            ",",
            "..",
            "\"",
            "\\",
            "\\x4",
            "\\x41",
            "10.0.0.0/8",
            "192.0.2.1",
            "::1",
            "2001:db8::/32",
            "0x",
            "0x1bb",
            "53",
            "010",
            "99999999999999999999",
            "02:00:00:00:00:01",
            "0200.0000.0001",
            "aa:bb",
            "true",
            "false",
            " ",
            " ",
            " ",
            "é",
            "\t",
            "\n",
            "&",
            "|",
            "=",
            "~",
            "[",
            "'",
            ":",
            "/",
            "-",
            ".",
            "/33",
            "x",
            "1",
            "0",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pkts = [tcp_syn(), udp_dns(), ipv6_udp(), arp()];
        let mut ok = 0;
        for _ in 0..30_000 {
            let n = (rand() % 12) as usize;
            let mut s = String::new();
            for _ in 0..n {
                let r = rand();
                if r % 7 == 0 {
                    s.push(char::from_u32((r >> 8) as u32 % 0x3000).unwrap_or('?'));
                } else {
                    s.push_str(PIECES[(r >> 8) as usize % PIECES.len()]);
                }
                if r % 3 == 0 {
                    s.push(' ');
                }
            }
            match Filter::parse(&s) {
                Ok(f) => {
                    ok += 1;
                    for p in &pkts {
                        let _ = f.matches(p);
                    }
                }
                Err(e) => {
                    assert!(e.position <= s.len(), "{s:?}: {e:?}");
                    assert!(s.is_char_boundary(e.position), "{s:?}: {e:?}");
                    assert!(!e.to_string().is_empty() && e.caret().contains('^'));
                }
            }
        }
        assert!(ok > 100, "only {ok} random filters parsed");
    }

    #[test]
    fn bytes_out_of_range_do_not_panic() {
        let mut p = udp_dns();
        p.fields.push(Field {
            def: &DATA,
            value: Value::Bytes(70..500),
            range: 0..0,
            depth: 0,
            note: None,
            bits: None,
            generated: false,
            hidden: false,
        });
        p.layers.push(Layer {
            proto: Proto::Tcp,
            range: 900..900,
            fields: 0..0,
            headline: String::new(),
            problem: None,
        });
        p.sources.push(crate::dissect::model::Source {
            label: "Reassembled IP payload",
            range: 1000..2000,
        });
        assert!(m("data.data contains \"abc\"", &p));
        assert!(!m("tcp contains \"abc\"", &p));
        assert!(m("frame contains \"abc\"", &p));
    }
}
