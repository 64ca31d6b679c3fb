//! What the fuzz targets share: render a dissected packet every way netlab can, and
//! check the model's invariants (a broken invariant is a crash, as a panic is).

use netlab::dissect::app::fuzz::{self as app_fuzz, Protocol};
use netlab::dissect::filter::Filter;
use netlab::dissect::stats::Stats;
use netlab::dissect::{Dissector, Meta, Packet, Value};
use netlab::render::json::JsonWriter;
use netlab::render::{self, Style, hex, summary, tree};

/// The link types a frame is dissected as: NULL, Ethernet, raw IP (101, and its old
/// numbers 12 and 14), SLL, SLL2, raw IPv4, raw IPv6, and one netlab does not know.
pub const LINK_TYPES: [u32; 10] = [0, 1, 101, 113, 276, 228, 229, 12, 14, 9999];

/// Display filters evaluated on every packet (those the filter module accepts).
pub const FILTERS: [&str; 4] = [
    "tcp",
    "ip.src == 10.0.0.1 || udp.port == 53",
    "frame.len > 100 && !arp",
    "tcp.flags.syn == 1 and tcp.port == 80",
];

/// Reused state: one per fuzz process.
pub struct Sink {
    pub pkt: Packet,
    json: JsonWriter,
    out: String,
    filters: Vec<Filter>,
}

impl Default for Sink {
    fn default() -> Self {
        Sink {
            pkt: Packet::default(),
            json: JsonWriter::default(),
            out: String::new(),
            filters: FILTERS
                .iter()
                .filter_map(|f| Filter::parse(f).ok())
                .collect(),
        }
    }
}

fn within(r: &std::ops::Range<usize>, n: usize) -> bool {
    r.start <= r.end && r.end <= n
}

/// Panics when the packet (dissected from `input_len` bytes) points outside its bytes.
pub fn check_model(pkt: &Packet, input_len: usize) {
    let n = pkt.data.len();
    assert_eq!(pkt.caplen as usize, input_len, "caplen");
    // After the frame come its sources (a reassembled datagram or PDU, a de-chunked
    // body…), back to back, up to the end of the data.
    let mut at = input_len;
    for s in &pkt.sources {
        assert_eq!(s.range.start, at, "source {:?} at {:?}", s.label, s.range);
        at = s.range.end;
    }
    assert_eq!(at, n, "data length: frame and sources end at {at}, data has {n}");
    for l in &pkt.layers {
        assert!(
            within(&l.range, n),
            "layer {:?} covers {:?} of {n} bytes",
            l.proto,
            l.range
        );
        assert!(
            within(&l.fields, pkt.fields.len()),
            "layer {:?} fields {:?}",
            l.proto,
            l.fields
        );
    }
    for f in &pkt.fields {
        assert!(
            within(&f.range, n),
            "field {} covers {:?} of {n} bytes",
            f.def.key,
            f.range
        );
        if let Value::Bytes(r) = &f.value {
            assert!(within(r, n), "field {} holds bytes {r:?} of {n}", f.def.key);
        }
    }
}

impl Sink {
    /// Checks the packet just dissected, renders it every way, filters and counts it.
    pub fn render(&mut self, input_len: usize, color: bool, stats: &mut Stats) {
        let pkt = &self.pkt;
        check_model(pkt, input_len);
        let style = Style { color };
        let out = &mut self.out;
        out.clear();
        summary::write(out, pkt, style);
        let line = out.strip_suffix('\n').expect("summary ends with a newline");
        assert!(!line.contains('\n'), "summary is one line: {out:?}");
        out.clear();
        tree::write(out, pkt, style);
        out.clear();
        hex::write(out, pkt, style);
        out.clear();
        self.json.write(out, pkt);
        let line = out.strip_suffix('\n').expect("JSON ends with a newline");
        assert!(!line.contains('\n'), "JSON is one line: {out:?}");
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("invalid JSON ({e}): {line}"));
        assert_eq!(
            v.get("layers").and_then(|l| l.as_array()).map(Vec::len),
            Some(pkt.layers.len()),
            "JSON layers: {line}"
        );
        for f in &self.filters {
            let _ = f.matches(pkt);
        }
        stats.add(pkt);
    }

    /// Renders the statistics gathered.
    pub fn stats(&mut self, stats: &Stats) {
        self.out.clear();
        render::stats::write(&mut self.out, stats);
    }
}

/// A dissector in the full mode (fields and prose, as `-v` and `--json`) or the fast
/// one the plain packet list uses.
pub fn dissector(fast: bool) -> Dissector {
    let mut d = Dissector::new();
    if fast {
        d.record = false;
        d.detail = false;
    }
    d
}

pub fn meta(linktype: u32, len: u32) -> Meta {
    Meta {
        number: 1,
        ts_sec: 1_700_000_000,
        ts_nsec: 0,
        len,
        interface: 0,
        linktype,
    }
}

/// An application protocol's bytes (see `netlab::dissect::app::fuzz`): the library's
/// checks (codecs, model invariants, the same fields however TCP cut the stream), then
/// every frame that carries the bytes rendered every way, in both dissector modes.
pub fn app(p: Protocol, data: &[u8]) {
    app_fuzz::check(p, data);
    let mut sink = Sink::default();
    let mut stats = Stats::default();
    for fast in [false, true] {
        let mut d = dissector(fast);
        for (i, f) in app_fuzz::frames(p, data, 3).iter().enumerate() {
            let m = Meta {
                number: i as u64 + 1,
                ..meta(101, f.len() as u32)
            };
            d.dissect(m, f, &mut sink.pkt);
            sink.render(f.len(), fast, &mut stats);
        }
    }
    sink.stats(&stats);
}
