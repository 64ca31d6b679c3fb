//! Frames -> the layered model. Walks a frame from its link header up through the
//! `wire` codecs, recording every field with its byte range and meaning, marking what is
//! truncated or malformed, tracking TCP streams and reassembling IP fragments.
//!
//! Imports: `wire` (codecs and field knowledge). Never prints.

mod analysis;
pub mod app;
pub mod filter;
pub mod follow;
pub mod fuzz;
mod ip;
mod link;
pub mod model;
pub mod reassembly;
pub mod stats;
pub mod streams;
mod transport;

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use crate::wire::FieldDef;
pub use model::{Field, Layer, Packet, Problem, Proto, Value};

/// An IP address as the transport layers need it (pseudo-header, stream key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl Addr {
    fn bytes(&self) -> &[u8] {
        match self {
            Addr::V4(a) => a,
            Addr::V6(a) => a,
        }
    }
    /// IPv4 addresses are mapped into 16 bytes for keys.
    fn key(&self) -> [u8; 16] {
        match self {
            Addr::V4(a) => std::net::Ipv4Addr::from(*a).to_ipv6_mapped().octets(),
            Addr::V6(a) => *a,
        }
    }
}

/// Records a formatted note on the last field, only when the tree will show it: the
/// summary and JSON renderers never read notes, and formatting them dominates the cost
/// of a summary-only run.
macro_rules! note {
    ($out:expr, $($arg:tt)*) => {
        if $out.detail {
            $out.note(format!($($arg)*))
        }
    };
}
pub(crate) use note;

/// Writes the layer's headline, only when the tree will show it.
macro_rules! headline {
    ($out:expr, $($arg:tt)*) => {
        if $out.detail {
            let _ = std::fmt::Write::write_fmt($out.headline(), format_args!($($arg)*));
        }
    };
}
pub(crate) use headline;

/// What the layer just dissected says comes next.
pub(crate) enum Next {
    /// An EtherType-announced payload at this offset.
    Ether(u16, usize),
    /// An IP packet (version from the first nibble) at this offset.
    Ip(usize),
    /// A transport header: protocol number, offset, end, addresses.
    Transport {
        proto: u8,
        at: usize,
        end: usize,
        src: Addr,
        dst: Addr,
    },
    /// A completed reassembly: the payload to append and dissect as `proto`.
    Reassembled {
        proto: u8,
        payload: Vec<u8>,
        src: Addr,
        dst: Addr,
    },
    /// Application bytes.
    Payload(usize, usize),
    Stop,
}

/// Where layers write their fields.
pub(crate) struct Out<'p> {
    pub pkt: &'p mut Packet,
    /// Index of the layer being filled.
    layer: usize,
    /// Bytes available (frame bytes, plus reassembled bytes once appended).
    avail: usize,
    /// Nesting: inside an ICMP error's quoted datagram, nothing is tracked.
    pub quoted: bool,
    /// Build notes and headlines (only the tree shows them).
    pub detail: bool,
    /// Record fields at all. The plain packet list needs only the columns; fields
    /// cost most of the time of a summary-only run.
    pub record: bool,
    /// Where a field goes when `record` is off, so `last()` always has a target.
    spare: Field,
    /// The outer IP header's TTL / hop limit, for the ICMP echo summary.
    pub ttl: Option<u8>,
    /// Where the packet list's Info text of the transport's analysis ends: an
    /// application's summary replaces what follows, not the marks before.
    pub info_fence: usize,
    /// The TCP layer's index, for fields added after it closed (reassembly notes).
    pub tcp_layer: Option<usize>,
    /// `-2`: links a second pass shows (see [`Links`]).
    pub links: Option<&'p mut Links>,
}

/// `-2` (`--two-pass`, as tshark's): links forward in time, which one pass cannot know
/// when it shows a frame. The first pass (fields off) learns them, the second shows
/// them. Only frame numbers are kept: one entry per HTTP request answered.
#[derive(Debug, Default)]
pub struct Links {
    /// HTTP: a request's frame → the frame of its response (`http.response_in`), the
    /// inverse of the links that give `http.request_in`.
    pub response_in: HashMap<u64, u64>,
    /// The first pass: links are recorded, not shown.
    pub learning: bool,
}

impl Out<'_> {
    /// Opens a layer at `start`.
    pub fn begin(&mut self, proto: Proto, start: usize) {
        // A layer announced past the end of the capture starts (empty) at its end.
        let start = start.min(self.avail);
        let n = self.pkt.fields.len();
        self.pkt.layers.push(Layer {
            proto,
            range: start..start,
            fields: n..n,
            headline: String::new(),
            problem: None,
        });
        self.layer = self.pkt.layers.len() - 1;
    }

    /// Closes the current layer's byte range at `end` (clamped to what was captured).
    pub fn end(&mut self, end: usize) {
        let end = end.min(self.avail);
        let n = self.pkt.fields.len();
        let l = &mut self.pkt.layers[self.layer];
        l.range.end = end.max(l.range.start);
        l.fields.end = n;
    }

    /// The current layer's headline (callers check `detail` first: see `headline!`).
    pub fn headline(&mut self) -> &mut String {
        &mut self.pkt.layers[self.layer].headline
    }

    /// Records a field if its bytes were captured; otherwise marks the layer truncated
    /// and returns false.
    pub fn push(
        &mut self,
        depth: u8,
        def: &'static FieldDef,
        range: Range<usize>,
        value: Value,
    ) -> bool {
        if range.end > self.avail {
            self.truncated(format!(
                "{} needs bytes {}..{}, the capture ends at {}",
                def.name, range.start, range.end, self.avail
            ));
            return false;
        }
        // The plain packet list keeps no fields: nothing to build (`last()` then
        // answers with a spare field nobody reads).
        if !self.record {
            return true;
        }
        let field = Field {
            def,
            value,
            range,
            depth,
            note: None,
            bits: None,
            generated: false,
            hidden: false,
        };
        self.pkt.fields.push(field);
        let n = self.pkt.fields.len();
        self.pkt.layers[self.layer].fields.end = n;
        true
    }

    /// A sub-byte field (flag bit, nibble): `mask` selects its bits in the bytes.
    pub fn push_bits(
        &mut self,
        depth: u8,
        def: &'static FieldDef,
        range: Range<usize>,
        mask: u32,
        value: Value,
    ) -> bool {
        let ok = self.push(depth, def, range, value);
        if ok {
            self.last().bits = Some(mask);
        }
        ok
    }

    /// A value netlab computed (Wireshark's bracketed fields): no bytes of its own.
    pub fn push_generated(&mut self, depth: u8, def: &'static FieldDef, value: Value) {
        let at = self.pkt.layers[self.layer].range.start;
        self.push(depth, def, at..at, value);
        self.last().generated = true;
    }

    /// The field pushed last (to add a note, bits, or mark it generated).
    pub fn last(&mut self) -> &mut Field {
        if !self.record {
            return &mut self.spare;
        }
        match self.pkt.fields.last_mut() {
            Some(f) => f,
            None => &mut self.spare,
        }
    }

    pub fn note(&mut self, note: impl Into<Cow<'static, str>>) {
        self.last().note = Some(note.into());
    }

    pub fn truncated(&mut self, why: String) {
        let l = &mut self.pkt.layers[self.layer];
        if l.problem.is_none() {
            l.problem = Some(Problem::Truncated(why));
        }
    }

    pub fn malformed(&mut self, why: impl Into<String>) {
        let l = &mut self.pkt.layers[self.layer];
        if !matches!(l.problem, Some(Problem::Malformed(_))) {
            l.problem = Some(Problem::Malformed(why.into()));
        }
    }

    /// Marks the layer: an application message netlab could not hold whole.
    pub fn incomplete(&mut self, why: impl Into<String>) {
        let l = &mut self.pkt.layers[self.layer];
        if l.problem.is_none() {
            l.problem = Some(Problem::Incomplete(why.into()));
        }
    }

    pub fn is_truncated(&self) -> bool {
        self.pkt.layers[self.layer].problem.is_some()
    }

    pub fn warn(&mut self, w: String) {
        self.pkt.warnings.push(w);
    }

    pub fn avail(&self) -> usize {
        self.avail
    }

    /// During the application stage every field is within reach: the PDUs are whole,
    /// and reassembled bytes are appended after the frame once the stage is done.
    pub fn set_avail(&mut self, n: usize) {
        self.avail = n;
    }

    /// Adds `fields` at the end of the TCP layer, after later layers began (shifting
    /// their field ranges): what reassembly found out about this segment.
    pub fn insert_tcp_fields(&mut self, fields: Vec<Field>) {
        if !self.record || fields.is_empty() {
            return;
        }
        let Some(l) = self.tcp_layer else { return };
        let at = self.pkt.layers[l].fields.end;
        let n = fields.len();
        self.pkt.fields.splice(at..at, fields);
        for (i, layer) in self.pkt.layers.iter_mut().enumerate() {
            if i == l {
                layer.fields.end += n;
            } else if i > l {
                layer.fields.start += n;
                layer.fields.end += n;
            }
        }
    }

    /// A note about this segment's bytes in the TCP layer (`-v` only): retransmitted,
    /// held out of order, missing from the capture…
    pub fn note_tcp(&mut self, note: impl Into<Cow<'static, str>>) {
        if !self.detail {
            return;
        }
        let field = Field {
            def: &transport::SEGMENT_NOTE,
            value: Value::Text(note.into()),
            range: 0..0,
            depth: 0,
            note: None,
            bits: None,
            generated: true,
            hidden: false,
        };
        self.insert_tcp_fields(vec![field]);
    }
}

/// Copies up to `N` bytes from `data[at..]` into a zero-padded array, so a codec view over
/// it can read every fixed field without panicking; [`Out::push`] then keeps only the
/// fields whose bytes were really captured.
pub(crate) fn padded<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
    let mut b = [0u8; N];
    if at < data.len() {
        let n = (data.len() - at).min(N);
        b[..n].copy_from_slice(&data[at..at + n]);
    }
    b
}

/// The fields the dissector computes itself (next to the protocols' own lists in
/// `wire::ALL`), for the display filter.
pub(crate) const DISSECT_FIELDS: &[&[&FieldDef]] = &[
    analysis::FIELDS,
    app::FIELDS,
    app::http::FIELDS,
    app::dns::FIELDS,
    app::ftp::FIELDS,
    app::engineio::FIELDS,
    transport::FIELDS,
];

static SPARE: FieldDef = FieldDef::new(crate::wire::Kind::Group, "", "", "");

/// Per-capture state: TCP streams, fragments in flight, the first timestamp.
#[derive(Default)]
pub struct Dissector {
    pub streams: streams::TcpStreams,
    /// UDP conversations (`udp.stream`).
    pub udp: streams::UdpStreams,
    frags: reassembly::Reassembler,
    /// Application protocols: `--decode-as` rules, announced connections, UDP sessions
    /// and the reassembly budget (a TCP stream's own state lives in `streams`).
    pub(crate) apps: app::Apps,
    /// Bytes the application stage makes (reassembled PDUs…), appended to the packet.
    extra: Vec<u8>,
    /// `--follow`: the stream whose bytes are collected.
    pub follow: Option<follow::Follow>,
    first_ts: Option<(i64, u32)>,
    /// Build the notes and headlines the tree (`-v`) shows.
    pub detail: bool,
    /// Record the fields (JSON, tree, filters, stats and the hex dump need them; the
    /// packet list alone does not). Checksums are verified only when recording, since
    /// only the tree and JSON report them.
    pub record: bool,
    /// `-2`: the links the first pass learns and the second shows.
    pub links: Option<Links>,
}

/// One frame's capture metadata.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    pub number: u64,
    pub ts_sec: i64,
    pub ts_nsec: u32,
    pub len: u32,
    pub interface: u32,
    pub linktype: u32,
}

impl Dissector {
    pub fn new() -> Self {
        Dissector {
            detail: true,
            record: true,
            ..Default::default()
        }
    }

    /// Dissects one frame into `pkt` (cleared first).
    pub fn dissect(&mut self, meta: Meta, bytes: &[u8], pkt: &mut Packet) {
        pkt.clear();
        pkt.number = meta.number;
        pkt.ts_sec = meta.ts_sec;
        pkt.ts_nsec = meta.ts_nsec;
        pkt.len = meta.len;
        pkt.caplen = bytes.len() as u32;
        pkt.interface = meta.interface;
        pkt.linktype = meta.linktype;
        let first = *self.first_ts.get_or_insert((meta.ts_sec, meta.ts_nsec));
        // i128: timestamps at the ends of the i64 range must not overflow.
        let rel = (meta.ts_sec as i128 - first.0 as i128) * 1_000_000_000
            + (meta.ts_nsec as i128 - first.1 as i128);
        pkt.rel_nsec = rel.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        let mut data = std::mem::take(&mut pkt.data);
        data.extend_from_slice(bytes);
        let mut links = self.links.take();
        let mut out = Out {
            links: links.as_mut(),
            avail: data.len(),
            pkt,
            layer: 0,
            quoted: false,
            detail: self.detail,
            record: self.record,
            ttl: None,
            info_fence: 0,
            tcp_layer: None,
            spare: Field {
                def: &SPARE,
                value: Value::Group,
                range: 0..0,
                depth: 0,
                note: None,
                bits: None,
                generated: false,
                hidden: false,
            },
        };
        let mut next = link::dissect_link(&mut out, &data, meta.linktype);
        let mut guard = 0;
        loop {
            guard += 1;
            if guard > 64 {
                out.malformed("more than 64 nested headers");
                break;
            }
            next = match next {
                Next::Stop => break,
                Next::Ether(t, at) => link::dissect_ethertype(&mut out, &data, t, at),
                Next::Ip(at) => ip::dissect_ip(&mut out, self, &data, at, data.len()),
                Next::Transport {
                    proto,
                    at,
                    end,
                    src,
                    dst,
                } => transport::dissect(&mut out, self, &data, proto, at, end, src, dst),
                Next::Reassembled {
                    proto,
                    payload,
                    src,
                    dst,
                } => {
                    let at = data.len();
                    data.extend_from_slice(&payload);
                    out.avail = data.len();
                    out.pkt.sources.push(model::Source {
                        label: "Reassembled IP payload",
                        range: at..data.len(),
                    });
                    let end = data.len();
                    Next::Transport {
                        proto,
                        at,
                        end,
                        src,
                        dst,
                    }
                }
                Next::Payload(at, end) => {
                    transport::dissect_payload(&mut out, &data, at, end);
                    Next::Stop
                }
            };
        }
        if !self.extra.is_empty() {
            data.extend_from_slice(&self.extra);
            self.extra.clear();
        }
        if out.pkt.protocol.is_empty() {
            out.pkt.protocol = out
                .pkt
                .layers
                .last()
                .map(|l| l.proto.column())
                .unwrap_or("?");
        }
        pkt.data = data;
        self.links = links;
    }

    /// Fragments dropped because reassembly reached its memory bound.
    pub fn evicted_fragments(&self) -> u64 {
        self.frags.evicted
    }

    /// PDUs cut or segments not kept because a reassembly buffer was full.
    pub fn reassembly_overflows(&self) -> u64 {
        self.apps.budget.overflows
    }

    /// Adds a `--decode-as` rule (`tcp.port==8765,http`).
    pub fn decode_as(&mut self, rule: &str) -> Result<(), String> {
        self.apps.decode_as.push(app::DecodeAs::parse(rule)?);
        Ok(())
    }
}

#[cfg(test)]
mod bad_input_tests {
    //! The dissector's answer to headers that lie: the layer is marked, what is there
    //! is still shown, and nothing above a broken layer is invented.
    use super::*;
    use crate::wire::{checksum, ipv4, tcp};

    /// Ethernet + IPv4 + a TCP SYN with an MSS option, checksums correct.
    fn frame() -> Vec<u8> {
        let repr = tcp::Repr {
            src_port: 40000,
            dst_port: 80,
            seq_number: 1,
            ack_number: 0,
            flags: tcp::flags::SYN,
            window_len: 1000,
            options: vec![tcp::TcpOption::MaxSegmentSize(1460)],
        };
        let (src, dst) = ([192, 0, 2, 1], [192, 0, 2, 2]);
        let seg_len = repr.header_len();
        let mut f = vec![0u8; 14 + 20 + seg_len];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        ipv4::Repr {
            src_addr: src,
            dst_addr: dst,
            protocol: tcp::PROTOCOL,
            payload_len: seg_len,
            ttl: 64,
            ident: 1,
            dont_frag: true,
        }
        .emit(&mut f[14..]);
        let ps = checksum::pseudo_header(&src, &dst, tcp::PROTOCOL, seg_len as u32);
        repr.emit(&mut f[34..], &[], ps);
        f
    }

    fn dissect(bytes: &[u8]) -> Packet {
        let mut pkt = Packet::default();
        let meta = Meta {
            number: 1,
            ts_sec: 0,
            ts_nsec: 0,
            len: bytes.len() as u32,
            interface: 0,
            linktype: 1,
        };
        Dissector::new().dissect(meta, bytes, &mut pkt);
        pkt
    }

    fn problem(pkt: &Packet, proto: Proto) -> Option<&Problem> {
        pkt.layers
            .iter()
            .find(|l| l.proto == proto)?
            .problem
            .as_ref()
    }

    #[test]
    fn a_good_frame_has_no_problem() {
        let pkt = dissect(&frame());
        assert_eq!(pkt.problems().count(), 0, "{:?}", pkt.layers);
        assert!(pkt.warnings.is_empty(), "{:?}", pkt.warnings);
    }

    #[test]
    fn tcp_data_offset_below_five_is_malformed() {
        let mut f = frame();
        f[34 + 12] = 0x40; // data offset 4 = 16 bytes
        let pkt = dissect(&f);
        assert!(
            matches!(problem(&pkt, Proto::Tcp), Some(Problem::Malformed(w)) if w.contains("below 5"))
        );
    }

    #[test]
    fn an_option_running_past_the_header_is_malformed() {
        let mut f = frame();
        f[34 + 21] = 40; // MSS option claims 40 bytes
        let pkt = dissect(&f);
        assert!(matches!(
            problem(&pkt, Proto::Tcp),
            Some(Problem::Malformed(_))
        ));
        assert_eq!(
            pkt.field("tcp.srcport").map(|f| f.value.clone()),
            Some(Value::Uint(40000))
        );
    }

    #[test]
    fn ip_length_beyond_the_bytes_is_malformed_and_snaplen_cut_is_truncated() {
        let mut f = frame();
        f[16..18].copy_from_slice(&200u16.to_be_bytes());
        let pkt = dissect(&f);
        assert!(matches!(
            problem(&pkt, Proto::Ip),
            Some(Problem::Malformed(_))
        ));
        // Cut by the capture (len on the wire larger than the bytes): truncated.
        let f = frame();
        let mut pkt = Packet::default();
        let meta = Meta {
            number: 1,
            ts_sec: 0,
            ts_nsec: 0,
            len: f.len() as u32,
            interface: 0,
            linktype: 1,
        };
        Dissector::new().dissect(meta, &f[..40], &mut pkt);
        assert!(matches!(
            problem(&pkt, Proto::Tcp),
            Some(Problem::Truncated(_))
        ));
        assert_eq!(
            pkt.field("tcp.srcport").map(|f| f.value.clone()),
            Some(Value::Uint(40000))
        );
        assert!(
            pkt.field("tcp.window_size_value").is_none(),
            "no invented fields"
        );
    }

    #[test]
    fn an_endless_vlan_stack_is_malformed() {
        let mut f = vec![0u8; 12];
        for _ in 0..40 {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x01]);
        }
        f.extend_from_slice(&[0x81, 0x00]);
        let pkt = dissect(&f);
        let vlans = pkt.layers.iter().filter(|l| l.proto == Proto::Vlan).count();
        assert_eq!(vlans, 9, "8 tags decoded, the 9th marked");
        assert!(
            pkt.problems()
                .any(|p| matches!(p, Problem::Malformed(w) if w.contains("VLAN")))
        );
    }
}
