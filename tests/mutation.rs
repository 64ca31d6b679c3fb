//! Mutation tests, in process: damaged captures and damaged frames must never panic,
//! never hang, and never produce a model or an output that lies about its bytes.
//!
//! - Every capture in `captures/` is corrupted as a whole file (bit flips, bytes set to
//!   0x00/0xff/random, truncation, duplicated and deleted ranges, absurd values in the
//!   pcap record and pcapng block length fields, …) and read back through
//!   `capture::Reader`, every record dissected.
//! - Every real frame is mutated (header bits, truncation, extreme IPv4/IPv6/TCP/UDP/
//!   ICMP/VLAN/link header values, long VLAN tag chains, and by well-known port the
//!   application headers: DNS counts and name pointers, TLS record and handshake
//!   lengths, SSH packet lengths up to 2^32 − 1, FTP/SMTP line bytes) and dissected under its own
//!   link type and under each of the link types netlab knows (plus an unknown one).
//! - Every capture's DNS, TLS, FTP, SMTP and SSH conversations are replayed whole with
//!   their application payloads damaged in place (protocol header fields set to
//!   extremes, bytes, payloads cut, shortened or lengthened, segments dropped, repeated
//!   or swapped); and each direction of each of those connections, mutated, goes through
//!   `netlab::dissect::app::fuzz::check` — the codecs, the DNS round trip, the
//!   dissector with the stream cut into segments — as the cargo-fuzz targets do. Each
//!   case must finish within seconds.
//!
//! Every packet is rendered by every renderer (packet list, tree, hex dump, JSON — the
//! JSON line must parse), matched against display filters and counted by `Stats`. It
//! must hold that every layer and field range lies inside `pkt.data`, and the reader
//! must stop (never more records than the file has bytes).
//!
//! Deterministic: a fixed seed, printed; `NETLAB_MUTATION_SEED=<n>` explores another,
//! `NETLAB_MUTATION_SCALE=<x>` runs x times as many cases. A failure names the capture,
//! the case and its mutations, shrinks the input, hex-dumps it (with the panic's
//! backtrace) and saves it under `target/tmp/mutation-failures/`.

use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::io::{self, Read};
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use netlab::capture::{ReadError, Reader};
use netlab::dissect::app::fuzz::{self as app_fuzz, Protocol as AppProtocol};
use netlab::dissect::filter::Filter;
use netlab::dissect::stats::Stats;
use netlab::dissect::{Dissector, Meta, Packet, Proto, Value};
use netlab::render::json::JsonWriter;
use netlab::render::{self, Style, hex, summary, tree};

use crate::common::{captures, name};

/// "netlab!!" — the default seed.
const SEED: u64 = 0x6e65_746c_6162_2121;

/// Link types every frame is also dissected as: NULL, Ethernet, raw IP, SLL, SLL2, raw
/// IPv4, raw IPv6, and one netlab does not know.
const LINK_TYPES: [u32; 8] = [0, 1, 101, 113, 276, 228, 229, 9999];

/// Display filters evaluated on every packet (those the filter module accepts).
const FILTERS: [&str; 6] = [
    "tcp",
    "ip.src == 10.0.0.1 || udp.port == 53",
    "frame.len > 100 && !arp",
    "tcp.flags.syn == 1 and tcp.port == 80",
    "ipv6 or icmp or vlan",
    "eth.type == 0x0800 && ip.ttl < 64",
];

/// Stop collecting after this many failures per test.
const MAX_FAILURES: usize = 16;

/// Largest record or block the reader accepts (`wire::pcap::MAX_RECORD`).
const MAX_RECORD: u64 = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

struct Budget {
    /// Mutated files per capture (fewer for big captures, see `file_cases`).
    file_cases: usize,
    /// Bytes of mutated files to read per capture.
    file_bytes: usize,
    /// Longest file prefix mutated (cut at a record boundary).
    prefix: usize,
    /// Frames taken from each capture.
    frames: usize,
    /// Mutations of each frame (each dissected under 8-9 link types).
    frame_cases: usize,
    /// Mutated sequences of each capture's frames (fragment fields first).
    trains: usize,
    /// Mutated application conversations per capture, and mutations of each
    /// application stream through `dissect::app::fuzz`'s checks.
    app_trains: usize,
    app_streams: usize,
}

fn budget() -> Budget {
    let scale: f64 = std::env::var("NETLAB_MUTATION_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|x: &f64| *x > 0.0)
        .unwrap_or(1.0);
    let s = |n: usize| ((n as f64 * scale).ceil() as usize).max(1);
    if cfg!(debug_assertions) {
        Budget {
            file_cases: s(40),
            file_bytes: s(200_000),
            prefix: 16 * 1024,
            frames: s(8),
            frame_cases: s(20),
            trains: s(10),
            app_trains: s(25),
            app_streams: s(15),
        }
    } else {
        Budget {
            file_cases: s(100),
            file_bytes: s(1_500_000),
            prefix: 64 * 1024,
            frames: s(24),
            frame_cases: s(40),
            trains: s(40),
            app_trains: s(200),
            app_streams: s(120),
        }
    }
}

fn seed() -> u64 {
    let Ok(s) = std::env::var("NETLAB_MUTATION_SEED") else {
        return SEED;
    };
    let s = s.trim();
    let parsed = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("NETLAB_MUTATION_SEED={s:?} is not a number"))
}

// ---------------------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------------------

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of one case: every case can be replayed alone from these numbers.
fn case_seed(seed: u64, parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(splitmix(seed), |acc, &p| splitmix(acc ^ p))
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(splitmix(seed) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// 0..n (0 when n is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
    /// A random range inside 0..len, at most `max` long.
    fn span(&mut self, len: usize, max: usize) -> Range<usize> {
        if len == 0 || max == 0 {
            return 0..0;
        }
        let start = self.below(len);
        let n = 1 + self.below(max.min(len - start));
        start..start + n
    }
}

// ---------------------------------------------------------------------------------------
// Panics: caught per case, reported with their message and backtrace
// ---------------------------------------------------------------------------------------

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static BACKTRACE: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that, on a thread running a guarded case, records the
/// panic instead of printing it; other threads (other tests) keep the usual hook.
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CATCHING.with(Cell::get) {
                return previous(info);
            }
            let at = info.location().map_or_else(
                || "?".to_string(),
                |l| format!("{}:{}:{}", l.file(), l.line(), l.column()),
            );
            let mut text = info.to_string();
            if BACKTRACE.with(Cell::get) {
                let _ = write!(text, "\nbacktrace:\n{}", Backtrace::force_capture());
            }
            CAUGHT.with(|c| *c.borrow_mut() = Some((at, text)));
        }));
    });
}

/// What went wrong in one case. `class` identifies the failure when shrinking.
#[derive(Debug)]
struct Bad {
    class: String,
    detail: String,
}

fn bad(class: &str, detail: impl Into<String>) -> Bad {
    Bad {
        class: class.to_string(),
        detail: detail.into(),
    }
}

impl Bad {
    fn context(mut self, ctx: impl std::fmt::Display) -> Bad {
        self.detail = format!("{ctx}: {}", self.detail);
        self
    }
}

/// Runs one case, turning a panic into a `Bad` whose class is the panic's location.
fn guarded(backtrace: bool, f: impl FnOnce() -> Result<(), Bad>) -> Result<(), Bad> {
    install_hook();
    CATCHING.with(|c| c.set(true));
    BACKTRACE.with(|c| c.set(backtrace));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(false));
    match r {
        Ok(r) => r,
        Err(_) => {
            let (at, text) = CAUGHT
                .with(|c| c.borrow_mut().take())
                .unwrap_or_else(|| ("?".into(), "panic (no message)".into()));
            Err(Bad {
                class: format!("panic at {at}"),
                detail: text,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rendering every packet and checking the model
// ---------------------------------------------------------------------------------------

struct Sink {
    pkt: Packet,
    json: JsonWriter,
    out: String,
    filters: Vec<Filter>,
    color: bool,
}

impl Sink {
    fn new() -> Sink {
        Sink {
            pkt: Packet::default(),
            json: JsonWriter::default(),
            out: String::new(),
            filters: FILTERS
                .iter()
                .filter_map(|f| Filter::parse(f).ok())
                .collect(),
            color: false,
        }
    }

    /// Checks the packet just dissected from `input_len` bytes, renders it every way and
    /// feeds it to the filters and `stats`.
    /// `full`: also the tree and the hex dump (the costly renderers).
    fn check(&mut self, input_len: usize, stats: &mut Stats, full: bool) -> Result<(), Bad> {
        let pkt = &self.pkt;
        invariants(pkt, input_len)?;
        let style = Style { color: self.color };
        let out = &mut self.out;

        out.clear();
        summary::write(out, pkt, style);
        match out.strip_suffix('\n') {
            Some(line) if !line.contains('\n') => {}
            _ => return Err(bad("summary", format!("not exactly one line: {out:?}"))),
        }

        if full {
            out.clear();
            tree::write(out, pkt, style);
            out.clear();
            hex::write(out, pkt, style);
        }

        out.clear();
        self.json.write(out, pkt);
        check_json(out, pkt)?;

        for f in &self.filters {
            let _ = f.matches(pkt);
        }
        stats.add(pkt);
        Ok(())
    }
}

fn within(r: &Range<usize>, n: usize) -> bool {
    r.start <= r.end && r.end <= n
}

/// Every layer and field points inside the packet's bytes.
fn invariants(pkt: &Packet, input_len: usize) -> Result<(), Bad> {
    let n = pkt.data.len();
    if pkt.caplen as usize != input_len {
        return Err(bad(
            "caplen",
            format!("caplen {} for a frame of {input_len} bytes", pkt.caplen),
        ));
    }
    // After the frame's bytes come the sources (reassembled datagram or PDU, de-chunked
    // body…), back to back, up to the end of the data.
    let mut at = input_len;
    for src in &pkt.sources {
        if src.range.start != at || src.range.end < at {
            return Err(bad(
                "source range",
                format!(
                    "source {:?} at {:?}, expected to start at {at}",
                    src.label, src.range
                ),
            ));
        }
        at = src.range.end;
    }
    if at != n {
        return Err(bad(
            "data",
            format!("pkt.data holds {n} bytes; the frame and its sources end at {at}"),
        ));
    }
    for (i, l) in pkt.layers.iter().enumerate() {
        if !within(&l.range, n) {
            return Err(bad(
                "layer range",
                format!(
                    "layer {i} ({}) covers {:?}, data has {n} bytes",
                    l.proto.short(),
                    l.range
                ),
            ));
        }
        if !within(&l.fields, pkt.fields.len()) {
            return Err(bad(
                "layer fields",
                format!(
                    "layer {i} ({}) owns fields {:?} of {}",
                    l.proto.short(),
                    l.fields,
                    pkt.fields.len()
                ),
            ));
        }
    }
    for f in &pkt.fields {
        if !within(&f.range, n) {
            return Err(bad(
                "field range",
                format!(
                    "field {:?} ({}) covers {:?}, data has {n} bytes",
                    f.def.key, f.def.name, f.range
                ),
            ));
        }
        if let Value::Bytes(r) = &f.value
            && !within(r, n)
        {
            return Err(bad(
                "field bytes",
                format!(
                    "field {:?} holds bytes {r:?}, data has {n} bytes",
                    f.def.key
                ),
            ));
        }
    }
    Ok(())
}

fn check_json(out: &str, pkt: &Packet) -> Result<(), Bad> {
    let Some(line) = out.strip_suffix('\n') else {
        return Err(bad("json", format!("no final newline: {out}")));
    };
    if line.contains('\n') {
        return Err(bad("json", format!("more than one line: {out}")));
    }
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| bad("json", format!("invalid JSON ({e}): {line}")))?;
    let layers = v.get("layers").and_then(|l| l.as_array());
    if layers.map(Vec::len) != Some(pkt.layers.len()) {
        return Err(bad(
            "json",
            format!(
                "\"layers\" does not list the {} layers: {line}",
                pkt.layers.len()
            ),
        ));
    }
    if !v.get("fields").is_some_and(serde_json::Value::is_object) {
        return Err(bad("json", format!("no \"fields\" object: {line}")));
    }
    Ok(())
}

fn dissector(fast: bool) -> Dissector {
    let mut d = Dissector::new();
    if fast {
        // What the plain packet list uses: no fields, no prose.
        d.record = false;
        d.detail = false;
    }
    d
}

// ---------------------------------------------------------------------------------------
// Reading a (mutated) file
// ---------------------------------------------------------------------------------------

/// A source that hands out a few bytes at a time and is sometimes interrupted, as a pipe
/// can be.
struct Trickle<'a> {
    data: &'a [u8],
    rng: Rng,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rng.one_in(5) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = (1 + self.rng.below(7)).min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What reading a file produced, to compare two ways of reading it.
#[derive(Debug, PartialEq)]
struct ReadOutcome {
    records: u64,
    digest: u64,
    end: String,
}

/// Reads every record of `src` (which yields exactly `file_len` bytes), dissecting,
/// rendering and checking each one.
fn read_all<R: Read>(
    src: R,
    file_len: usize,
    sink: &mut Sink,
    fast: bool,
) -> Result<ReadOutcome, Bad> {
    let mut d = dissector(fast);
    let mut stats = Stats::default();
    let mut reader = match Reader::new(src) {
        Ok(r) => r,
        Err(e) => {
            return Ok(ReadOutcome {
                records: 0,
                digest: 0,
                end: e.to_string(),
            });
        }
    };
    let mut records = 0u64;
    let mut digest = 0u64;
    let end = loop {
        if reader.offset() > file_len as u64 {
            return Err(bad(
                "reader offset",
                format!("offset {} beyond the {file_len}-byte file", reader.offset()),
            ));
        }
        let rec = match reader.next_record() {
            Ok(Some(rec)) => rec,
            Ok(None) => break "end of file".to_string(),
            Err(e) => break e.to_string(),
        };
        records += 1;
        if records > file_len as u64 {
            return Err(bad(
                "reader does not stop",
                format!("{records} records from a {file_len}-byte file"),
            ));
        }
        if rec.data.len() > file_len {
            return Err(bad(
                "record size",
                format!(
                    "a record of {} bytes from a {file_len}-byte file",
                    rec.data.len()
                ),
            ));
        }
        let meta = Meta {
            number: records,
            ts_sec: rec.ts_sec,
            ts_nsec: rec.ts_nsec,
            len: rec.len,
            interface: rec.interface,
            linktype: rec.linktype,
        };
        digest = splitmix(digest ^ fnv(rec.data))
            ^ splitmix(rec.ts_sec as u64 ^ ((rec.ts_nsec as u64) << 32))
            ^ splitmix(((rec.len as u64) << 32) | rec.linktype as u64)
            ^ rec.interface as u64;
        let n = rec.data.len();
        d.dissect(meta, rec.data, &mut sink.pkt);
        sink.check(n, &mut stats, true).map_err(|b| {
            b.context(format_args!(
                "record {records} (link type {})",
                meta.linktype
            ))
        })?;
    };
    // A caller may ask again after the end or an error: no panic, and no endless records.
    for _ in 0..3 {
        if let Ok(Some(_)) = reader.next_record() {
            records += 1;
        }
        if records > file_len as u64 {
            return Err(bad(
                "reader does not stop",
                "records keep coming after an error",
            ));
        }
    }
    let mut text = String::new();
    render::stats::write(&mut text, &stats);
    Ok(ReadOutcome {
        records,
        digest,
        end,
    })
}

/// One file case: read from a slice, and (when `trickle` is set) again through a source
/// that returns a few bytes per read, which must give the same records and error.
fn file_case(input: &[u8], trickle: Option<u64>, fast: bool, sink: &mut Sink) -> Result<(), Bad> {
    let whole = read_all(input, input.len(), sink, fast)?;
    if let Some(s) = trickle {
        let src = Trickle {
            data: input,
            rng: Rng::new(s),
        };
        let bits = read_all(src, input.len(), sink, fast)
            .map_err(|b| b.context("read in small pieces"))?;
        if bits != whole {
            return Err(bad(
                "streaming differs",
                format!("read whole: {whole:?}; read in small pieces: {bits:?}"),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The layout of a capture file: where its length fields are
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Width {
    U8,
    U16,
    U32,
}

impl Width {
    fn bytes(self) -> usize {
        match self {
            Width::U8 => 1,
            Width::U16 => 2,
            Width::U32 => 4,
        }
    }
    fn mask(self) -> u64 {
        (1u64 << (8 * self.bytes())) - 1
    }
}

/// A header field of the file format.
#[derive(Debug, Clone, Copy)]
struct Slot {
    at: usize,
    width: Width,
    big: bool,
    what: &'static str,
}

impl Slot {
    fn get(&self, b: &[u8]) -> u64 {
        let s = &b[self.at..self.at + self.width.bytes()];
        if self.big {
            s.iter().fold(0, |v, &x| (v << 8) | x as u64)
        } else {
            s.iter().rev().fold(0, |v, &x| (v << 8) | x as u64)
        }
    }
    fn set(&self, b: &mut [u8], v: u64) {
        let n = self.width.bytes();
        for i in 0..n {
            let shift = if self.big { 8 * (n - 1 - i) } else { 8 * i };
            b[self.at + i] = (v >> shift) as u8;
        }
    }
}

struct Layout {
    slots: Vec<Slot>,
    /// Byte spans of the records (pcap, with their header) or blocks (pcapng).
    records: Vec<Range<usize>>,
    /// The frames in the records, with their link types.
    frames: Vec<(Range<usize>, u32)>,
}

fn u32_at(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    })
}

/// Finds the header fields of a pcap or pcapng file, as far as it is well formed.
fn layout(b: &[u8]) -> Layout {
    let mut l = Layout {
        slots: Vec::new(),
        records: Vec::new(),
        frames: Vec::new(),
    };
    let slot = |at, width, big, what| Slot {
        at,
        width,
        big,
        what,
    };
    let Some(magic) = b.get(..4) else {
        return l;
    };
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1]
        | [0x4d, 0x3c, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0xc3, 0xd4]
        | [0xa1, 0xb2, 0x3c, 0x4d] => {
            let big = magic[0] == 0xa1;
            if b.len() < 24 {
                return l;
            }
            l.slots.push(slot(16, Width::U32, big, "pcap snaplen"));
            l.slots.push(slot(20, Width::U32, big, "pcap link type"));
            l.slots.push(slot(4, Width::U16, big, "pcap major version"));
            let linktype = u32_at(b, 20, big).unwrap_or(0) & 0x03ff_ffff;
            let mut at = 24;
            while at + 16 <= b.len() {
                let caplen = u32_at(b, at + 8, big).unwrap_or(0) as usize;
                l.slots
                    .push(slot(at + 8, Width::U32, big, "pcap record caplen"));
                l.slots
                    .push(slot(at + 12, Width::U32, big, "pcap record len"));
                l.slots
                    .push(slot(at + 4, Width::U32, big, "pcap record ts fraction"));
                let end = (at + 16).saturating_add(caplen);
                if end > b.len() {
                    break;
                }
                l.records.push(at..end);
                l.frames.push((at + 16..end, linktype));
                at = end;
            }
        }
        [0x0a, 0x0d, 0x0d, 0x0a] => {
            let mut big = false;
            let mut at = 0;
            let mut interfaces: Vec<u32> = Vec::new();
            while at + 12 <= b.len() {
                let Some(btype) = u32_at(b, at, big) else {
                    break;
                };
                if btype == 0x0a0d_0d0a {
                    match b.get(at + 8..at + 12) {
                        Some([0x1a, 0x2b, 0x3c, 0x4d]) => big = true,
                        Some([0x4d, 0x3c, 0x2b, 0x1a]) => big = false,
                        _ => break,
                    }
                    interfaces.clear();
                    l.slots
                        .push(slot(at + 8, Width::U32, big, "pcapng byte-order magic"));
                }
                let Some(len) = u32_at(b, at + 4, big).map(|n| n as usize) else {
                    break;
                };
                l.slots
                    .push(slot(at + 4, Width::U32, big, "pcapng block length"));
                if len < 12 || len % 4 != 0 || at + len > b.len() {
                    break;
                }
                l.slots.push(slot(
                    at + len - 4,
                    Width::U32,
                    big,
                    "pcapng trailing block length",
                ));
                match btype {
                    1 => {
                        interfaces.push(slot(at + 8, Width::U16, big, "").get(b) as u32);
                        l.slots.push(slot(at + 8, Width::U16, big, "IDB link type"));
                        l.slots.push(slot(at + 12, Width::U32, big, "IDB snaplen"));
                        // Options: code, length, value padded to 4.
                        let mut o = at + 16;
                        while o + 4 <= at + len - 4 {
                            l.slots
                                .push(slot(o + 2, Width::U16, big, "IDB option length"));
                            let code = u32_at(b, o, big)
                                .map_or(0, |v| if big { v >> 16 } else { v & 0xffff });
                            let olen = u32_at(b, o, big)
                                .map_or(0, |v| if big { v & 0xffff } else { v >> 16 });
                            if code == 9 && o + 4 < b.len() {
                                l.slots.push(slot(o + 4, Width::U8, big, "IDB if_tsresol"));
                            }
                            if code == 0 {
                                break;
                            }
                            o += 4 + (olen as usize).div_ceil(4) * 4;
                        }
                    }
                    6 => {
                        l.slots
                            .push(slot(at + 8, Width::U32, big, "EPB interface id"));
                        l.slots
                            .push(slot(at + 12, Width::U32, big, "EPB timestamp (high)"));
                        l.slots.push(slot(at + 20, Width::U32, big, "EPB caplen"));
                        l.slots.push(slot(at + 24, Width::U32, big, "EPB len"));
                        let iface = u32_at(b, at + 8, big).unwrap_or(u32::MAX) as usize;
                        let caplen = u32_at(b, at + 20, big).unwrap_or(0) as usize;
                        let end = (at + 28).saturating_add(caplen).min(at + len - 4);
                        if let Some(&lt) = interfaces.get(iface)
                            && at + 28 <= end
                        {
                            l.frames.push((at + 28..end, lt));
                        }
                    }
                    3 => l.slots.push(slot(at + 8, Width::U32, big, "SPB len")),
                    2 => {
                        l.slots
                            .push(slot(at + 8, Width::U16, big, "OPB interface id"));
                        l.slots.push(slot(at + 20, Width::U32, big, "OPB caplen"));
                    }
                    _ => {}
                }
                l.records.push(at..at + len);
                at += len;
            }
        }
        _ => {}
    }
    l.slots.retain(|s| s.at + s.width.bytes() <= b.len());
    l
}

/// A value for a length-like field: boundaries, huge values, near the current one.
fn extreme(rng: &mut Rng, cur: u64, width: Width) -> u64 {
    const INTERESTING: [u64; 27] = [
        0,
        1,
        2,
        3,
        4,
        7,
        8,
        12,
        16,
        20,
        24,
        28,
        32,
        0x7f,
        0x80,
        0xff,
        0x100,
        0xfff,
        0xffff,
        0x1_0000,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fff0,
        0xffff_fffc,
        0xffff_ffff,
        // Just past the limit. (At the limit, the reader allocates and zeroes 64 MiB
        // before finding the file too short: correct, but too slow to do often here;
        // `absurd_lengths_are_errors_not_allocations` covers it.)
        MAX_RECORD + 1,
        MAX_RECORD + 4,
    ];
    let v = match rng.below(8) {
        0..=3 => rng.pick(&INTERESTING),
        4 => cur.wrapping_add(1 + rng.below(8) as u64),
        5 => cur.wrapping_sub(1 + rng.below(8) as u64),
        6 => cur.wrapping_add(4 * (1 + rng.below(4) as u64)),
        _ => rng.next(),
    };
    v & width.mask()
}

/// The longest prefix of `b` no longer than `max` that ends at a record boundary (at
/// least the first record).
fn prefix(b: &[u8], max: usize) -> &[u8] {
    if b.len() <= max {
        return b;
    }
    let l = layout(b);
    let end = l
        .records
        .iter()
        .map(|r| r.end)
        .take_while(|&e| e <= max)
        .last()
        .or_else(|| l.records.first().map(|r| r.end))
        .unwrap_or(max);
    &b[..end]
}

/// Applies one to three mutations to a whole file, logging each.
fn mutate_file(orig: &[u8], rng: &mut Rng, log: &mut Vec<String>) -> Vec<u8> {
    let mut b = orig.to_vec();
    for _ in 0..1 + rng.below(3) {
        if b.is_empty() {
            b.extend_from_slice(&orig[..orig.len().min(32)]);
        }
        if b.is_empty() {
            // An empty capture: start from a few random bytes.
            b.extend((0..1 + rng.below(32)).map(|_| rng.byte()));
            log.push(format!("{} random bytes", b.len()));
            continue;
        }
        let l = layout(&b);
        let len = b.len();
        match rng.below(20) {
            0..=2 => {
                let n = 1 + rng.below(8);
                for _ in 0..n {
                    let i = rng.below(len);
                    let bit = rng.below(8);
                    b[i] ^= 1 << bit;
                    log.push(format!("flip bit {bit} of byte {i:#x}"));
                }
            }
            3 | 4 => {
                let r = rng.span(len, 8);
                let v = match rng.below(3) {
                    0 => 0x00,
                    1 => 0xff,
                    _ => rng.byte(),
                };
                b[r.clone()].fill(v);
                log.push(format!("set bytes {r:#x?} to {v:#04x}"));
            }
            5 => {
                let at = rng.below(len);
                b.truncate(at);
                log.push(format!("truncate to {at} bytes"));
            }
            6 => {
                // Duplicate a range (a whole record half the time) at a random place.
                let r = match l.records.len() {
                    0 => rng.span(len, 256),
                    n if rng.one_in(2) => l.records[rng.below(n)].clone(),
                    _ => rng.span(len, 256),
                };
                let at = rng.below(len + 1);
                let copy = b[r.clone()].to_vec();
                b.splice(at..at, copy);
                log.push(format!("copy bytes {r:#x?} to {at:#x}"));
            }
            7 => {
                let r = match l.records.len() {
                    0 => rng.span(len, 256),
                    n if rng.one_in(2) => l.records[rng.below(n)].clone(),
                    _ => rng.span(len, 256),
                };
                b.drain(r.clone());
                log.push(format!("delete bytes {r:#x?}"));
            }
            8..=13 if !l.slots.is_empty() => {
                let s = l.slots[rng.below(l.slots.len())];
                let cur = s.get(&b);
                let v = extreme(rng, cur, s.width);
                s.set(&mut b, v);
                log.push(format!(
                    "set {} at {:#x} from {cur:#x} to {v:#x}",
                    s.what, s.at
                ));
            }
            14 => {
                let n = 1 + rng.below(64);
                let zeros = rng.one_in(2);
                b.extend((0..n).map(|_| if zeros { 0 } else { rng.byte() }));
                log.push(format!(
                    "append {n} {} bytes",
                    if zeros { "zero" } else { "random" }
                ));
            }
            16..=19 if !l.frames.is_empty() => {
                // Inside one record, in place (the file stays well formed): a header
                // field of the frame, so that damaged frames meet the TCP streams and
                // fragments the other records left.
                let (r, lt) = l.frames[rng.below(l.frames.len())].clone();
                let frame = &mut b[r.clone()];
                let s: Vec<Spot> = spots(lt, frame)
                    .into_iter()
                    .filter(|s| s.fits(frame))
                    .collect();
                if !s.is_empty() && !rng.one_in(4) {
                    let s = s[rng.below(s.len())];
                    let cur = s.get(frame);
                    let v = spot_value(rng, &s, cur);
                    s.set(frame, v);
                    log.push(format!(
                        "in the frame at {:#x} (link type {lt}): set {} at {} from {cur:#x} to {v:#x}",
                        r.start, s.what, s.at
                    ));
                } else if !frame.is_empty() {
                    let i = rng.below(frame.len().min(80));
                    let bit = rng.below(8);
                    frame[i] ^= 1 << bit;
                    log.push(format!(
                        "in the frame at {:#x}: flip bit {bit} of byte {i}",
                        r.start
                    ));
                }
            }
            _ => {
                // Swap the byte order of the magic / a field, as a foreign writer would.
                let r = rng.span(len, 4);
                b[r.clone()].reverse();
                log.push(format!("reverse bytes {r:#x?}"));
            }
        }
    }
    b
}

// ---------------------------------------------------------------------------------------
// Frames: where their headers are, and how to damage them
// ---------------------------------------------------------------------------------------

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// How a frame field is stored.
#[derive(Debug, Clone, Copy)]
enum Bits {
    Byte,
    Be16,
    Le32,
    Be32,
    /// The high nibble of a byte (IP version, TCP data offset).
    Hi4,
    /// The low nibble (IPv4 IHL).
    Lo4,
}

#[derive(Debug, Clone, Copy)]
struct Spot {
    at: usize,
    bits: Bits,
    what: &'static str,
    values: &'static [u64],
}

impl Spot {
    fn fits(&self, b: &[u8]) -> bool {
        let n = match self.bits {
            Bits::Byte | Bits::Hi4 | Bits::Lo4 => 1,
            Bits::Be16 => 2,
            Bits::Le32 | Bits::Be32 => 4,
        };
        self.at + n <= b.len()
    }
    fn get(&self, b: &[u8]) -> u64 {
        let a = self.at;
        match self.bits {
            Bits::Byte => b[a] as u64,
            Bits::Be16 => u16::from_be_bytes([b[a], b[a + 1]]) as u64,
            Bits::Le32 => u32::from_le_bytes([b[a], b[a + 1], b[a + 2], b[a + 3]]) as u64,
            Bits::Be32 => u32::from_be_bytes([b[a], b[a + 1], b[a + 2], b[a + 3]]) as u64,
            Bits::Hi4 => (b[a] >> 4) as u64,
            Bits::Lo4 => (b[a] & 15) as u64,
        }
    }
    fn set(&self, b: &mut [u8], v: u64) {
        let a = self.at;
        match self.bits {
            Bits::Byte => b[a] = v as u8,
            Bits::Be16 => b[a..a + 2].copy_from_slice(&(v as u16).to_be_bytes()),
            Bits::Le32 => b[a..a + 4].copy_from_slice(&(v as u32).to_le_bytes()),
            Bits::Be32 => b[a..a + 4].copy_from_slice(&(v as u32).to_be_bytes()),
            Bits::Hi4 => b[a] = (b[a] & 0x0f) | ((v as u8 & 15) << 4),
            Bits::Lo4 => b[a] = (b[a] & 0xf0) | (v as u8 & 15),
        }
    }
    fn mask(&self) -> u64 {
        match self.bits {
            Bits::Byte => 0xff,
            Bits::Be16 => 0xffff,
            Bits::Le32 | Bits::Be32 => 0xffff_ffff,
            Bits::Hi4 | Bits::Lo4 => 15,
        }
    }
}

const ETHERTYPES: &[u64] = &[
    0x0000, 0x0001, 0x00ff, 0x05dc, 0x0600, 0x0800, 0x0806, 0x8100, 0x86dd, 0x88a8, 0x9100, 0xffff,
];
const LEN16: &[u64] = &[
    0, 1, 2, 7, 8, 9, 19, 20, 21, 39, 40, 41, 0x7f, 0xff, 0x100, 0x5dc, 0x7fff, 0xfffe, 0xffff,
];
const NIBBLE: &[u64] = &[0, 1, 2, 4, 5, 6, 7, 8, 15];
const VERSION: &[u64] = &[0, 1, 4, 6, 15];
const FRAG: &[u64] = &[
    0x0000, 0x0001, 0x1fff, 0x2000, 0x2001, 0x2fff, 0x3fff, 0x4000, 0x8000, 0xffff,
];
const IP_PROTOS: &[u64] = &[0, 1, 4, 6, 17, 41, 43, 44, 50, 58, 59, 60, 255];
const ICMP_TYPES: &[u64] = &[
    0, 3, 4, 5, 8, 11, 12, 13, 14, 128, 129, 133, 134, 135, 136, 255,
];
const BYTE: &[u64] = &[0, 1, 2, 3, 4, 5, 8, 0x7f, 0x80, 0xfe, 0xff];
const TCP_OPT: &[u64] = &[0, 1, 2, 3, 4, 5, 8, 30, 0xfe, 0xff];
const TCP_FLAGS: &[u64] = &[0x00, 0x01, 0x02, 0x04, 0x10, 0x11, 0x12, 0x3f, 0xff];
const U16S: &[u64] = &[0, 1, 0x7fff, 0x8000, 0xffff];
const U32S: &[u64] = &[0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];
const FRAG6: &[u64] = &[
    0x0000, 0x0001, 0x0008, 0x0009, 0x05a8, 0x05a9, 0xfff8, 0xfff9,
];
const HALEN: &[u64] = &[0, 1, 6, 8, 9, 0x10, 0xff, 0xffff];
const NULL_FAMILY: &[u64] = &[
    0,
    2,
    10,
    24,
    28,
    30,
    0xff,
    0x0200_0000,
    0x1800_0000,
    0xffff_ffff,
];

/// Where the EtherType announcing the network layer sits, for the link types that
/// have one.
fn ethertype_at(lt: u32, f: &[u8]) -> Option<usize> {
    match lt {
        1 => Some(12),
        113 => Some(14),
        276 => Some(0),
        _ => None,
    }
    .filter(|&at| at + 2 <= f.len())
}

/// The header fields of a frame as its own link type reads it, for targeted damage.
fn spots(lt: u32, f: &[u8]) -> Vec<Spot> {
    let mut v = Vec::new();
    let mut spot = |at, bits, what, values| {
        v.push(Spot {
            at,
            bits,
            what,
            values,
        })
    };
    // The network layer's offset and EtherType (None: straight to IP).
    let mut net: Option<(usize, Option<u16>)> = None;
    match lt {
        1 => {
            let mut at = 12;
            let mut tags = 0;
            while let Some(t) = be16(f, at) {
                spot(at, Bits::Be16, "EtherType", ETHERTYPES);
                if !(t == 0x8100 || t == 0x88a8) || tags > 40 {
                    net = Some((at + 2, Some(t)));
                    break;
                }
                spot(at + 2, Bits::Be16, "VLAN TCI", U16S);
                tags += 1;
                at += 4;
            }
        }
        113 => {
            spot(0, Bits::Be16, "SLL packet type", U16S);
            spot(2, Bits::Be16, "SLL ARPHRD type", U16S);
            spot(4, Bits::Be16, "SLL address length", HALEN);
            spot(14, Bits::Be16, "SLL protocol", ETHERTYPES);
            net = Some((16, be16(f, 14)));
        }
        276 => {
            spot(0, Bits::Be16, "SLL2 protocol", ETHERTYPES);
            spot(10, Bits::Byte, "SLL2 packet type", BYTE);
            spot(11, Bits::Byte, "SLL2 address length", HALEN);
            net = Some((20, be16(f, 0)));
        }
        0 => {
            spot(0, Bits::Le32, "NULL family (little-endian)", NULL_FAMILY);
            spot(0, Bits::Be32, "NULL family (big-endian)", NULL_FAMILY);
            net = Some((4, None));
        }
        101 | 228 | 229 => net = Some((0, None)),
        _ => {}
    }
    let Some((at, etype)) = net else {
        return v;
    };
    if etype == Some(0x0806) {
        spot(at, Bits::Be16, "ARP hardware type", U16S);
        spot(at + 2, Bits::Be16, "ARP protocol type", ETHERTYPES);
        spot(at + 4, Bits::Byte, "ARP hardware length", BYTE);
        spot(at + 5, Bits::Byte, "ARP protocol length", BYTE);
        spot(at + 6, Bits::Be16, "ARP operation", U16S);
        return v;
    }
    let Some(&first) = f.get(at) else {
        return v;
    };
    spot(at, Bits::Hi4, "IP version", VERSION);
    let (l4, proto) = match first >> 4 {
        4 => {
            let ihl = (first & 15) as usize * 4;
            spot(at, Bits::Lo4, "IPv4 IHL", NIBBLE);
            spot(at + 2, Bits::Be16, "IPv4 total length", LEN16);
            spot(at + 4, Bits::Be16, "IPv4 fragment identification", U16S);
            spot(at + 6, Bits::Be16, "IPv4 flags and fragment offset", FRAG);
            spot(at + 9, Bits::Byte, "IPv4 protocol", IP_PROTOS);
            if ihl > 20 {
                spot(at + 20, Bits::Byte, "IPv4 option kind", BYTE);
                spot(at + 21, Bits::Byte, "IPv4 option length", BYTE);
            }
            (at + ihl.max(20), f.get(at + 9).copied())
        }
        6 => {
            spot(at + 4, Bits::Be16, "IPv6 payload length", LEN16);
            spot(at + 6, Bits::Byte, "IPv6 next header", IP_PROTOS);
            spot(at + 40, Bits::Byte, "IPv6 extension next header", IP_PROTOS);
            spot(at + 41, Bits::Byte, "IPv6 extension length", BYTE);
            if f.get(at + 6) == Some(&44) {
                spot(
                    at + 42,
                    Bits::Be16,
                    "IPv6 fragment offset and M flag",
                    FRAG6,
                );
                spot(at + 44, Bits::Be32, "IPv6 fragment identification", U32S);
            }
            (at + 40, f.get(at + 6).copied())
        }
        _ => return v,
    };
    match proto {
        Some(6) => {
            spot(l4, Bits::Be16, "TCP source port", U16S);
            spot(l4 + 12, Bits::Hi4, "TCP data offset", NIBBLE);
            spot(l4 + 13, Bits::Byte, "TCP flags", TCP_FLAGS);
            spot(l4 + 20, Bits::Byte, "TCP option kind", TCP_OPT);
            spot(l4 + 21, Bits::Byte, "TCP option length", TCP_OPT);
            spot(l4 + 22, Bits::Byte, "TCP option value", BYTE);
            if let (Some(sp), Some(dp), Some(&off)) = (be16(f, l4), be16(f, l4 + 2), f.get(l4 + 12))
            {
                app_spots(&mut spot, l4 + (off >> 4) as usize * 4, sp, dp, true);
            }
        }
        Some(17) => {
            spot(l4 + 4, Bits::Be16, "UDP length", LEN16);
            spot(l4 + 6, Bits::Be16, "UDP checksum", U16S);
            if let (Some(sp), Some(dp)) = (be16(f, l4), be16(f, l4 + 2)) {
                app_spots(&mut spot, l4 + 8, sp, dp, false);
            }
        }
        Some(1 | 58) => {
            spot(l4, Bits::Byte, "ICMP type", ICMP_TYPES);
            spot(l4 + 1, Bits::Byte, "ICMP code", BYTE);
        }
        _ => {}
    }
    v
}

const DNS_COUNTS: &[u64] = &[0, 1, 2, 0x7f, 0xff, 0x100, 0xfffe, 0xffff];
/// A name's first byte: label lengths, the reserved types, compression pointers.
const DNS_LABEL: &[u64] = &[0, 1, 0x3f, 0x40, 0x80, 0xbf, 0xc0, 0xc1, 0xff];
/// A pointer's second byte: to the header, to the question's name, past the end.
const DNS_POINTER: &[u64] = &[0, 11, 12, 13, 0xff];
const TLS_CONTENT: &[u64] = &[0, 19, 20, 21, 22, 23, 24, 25, 0xff];
const TLS_HANDSHAKE: &[u64] = &[0, 1, 2, 4, 8, 11, 12, 14, 16, 20, 0xff];
const SSH_LEN: &[u64] = &[
    0,
    1,
    4,
    5,
    12,
    0x3_ffff,
    0x4_0000,
    0x4_0001,
    0x7fff_ffff,
    0xffff_ffff,
];
/// Bytes that matter in a line protocol's first bytes: digits, the separators, the line
/// end, and bytes no line has.
const LINE_BYTES: &[u64] = &[
    b'0' as u64,
    b'2' as u64,
    b'9' as u64,
    b' ' as u64,
    b'-' as u64,
    b'.' as u64,
    b'\r' as u64,
    b'\n' as u64,
    0,
    0xff,
];

/// The application headers of a TCP or UDP payload at `at`, by well-known port: DNS's
/// counts and first name byte (over TCP after its length prefix), TLS's record and
/// handshake lengths, SSH's packet length, FTP's and SMTP's first bytes and line end.
fn app_spots(
    spot: &mut impl FnMut(usize, Bits, &'static str, &'static [u64]),
    at: usize,
    sport: u16,
    dport: u16,
    tcp: bool,
) {
    let port = [53, 443, 22, 21, 25]
        .into_iter()
        .find(|p| *p == sport || *p == dport);
    match port {
        Some(53) => {
            let m = if tcp {
                spot(at, Bits::Be16, "DNS TCP length prefix", LEN16);
                at + 2
            } else {
                at
            };
            spot(m + 2, Bits::Be16, "DNS flags", U16S);
            spot(
                m + 4,
                Bits::Be16,
                "DNS question count (length of the section)",
                DNS_COUNTS,
            );
            spot(
                m + 6,
                Bits::Be16,
                "DNS answer count (length of the section)",
                DNS_COUNTS,
            );
            spot(
                m + 10,
                Bits::Be16,
                "DNS additional count (length of the section)",
                DNS_COUNTS,
            );
            spot(
                m + 12,
                Bits::Byte,
                "DNS first name byte (label length or pointer)",
                DNS_LABEL,
            );
            spot(m + 13, Bits::Byte, "DNS pointer target", DNS_POINTER);
            spot(
                m + 29,
                Bits::Byte,
                "DNS answer name byte (label length or pointer)",
                DNS_LABEL,
            );
        }
        Some(443) => {
            spot(at, Bits::Byte, "TLS content type", TLS_CONTENT);
            spot(at + 3, Bits::Be16, "TLS record length", LEN16);
            spot(at + 5, Bits::Byte, "TLS handshake type", TLS_HANDSHAKE);
            spot(at + 6, Bits::Byte, "TLS handshake length (top byte)", BYTE);
            spot(
                at + 7,
                Bits::Be16,
                "TLS handshake length (low bytes)",
                LEN16,
            );
            spot(at + 43, Bits::Byte, "TLS session id length", BYTE);
        }
        Some(22) => {
            spot(at, Bits::Be32, "SSH packet length", SSH_LEN);
            spot(at + 4, Bits::Byte, "SSH padding length", BYTE);
            spot(at + 5, Bits::Byte, "SSH message code", BYTE);
            spot(at + 22, Bits::Be32, "SSH name-list length", SSH_LEN);
        }
        Some(21 | 25) => {
            spot(at, Bits::Byte, "line's first byte", LINE_BYTES);
            spot(
                at + 3,
                Bits::Byte,
                "line's fourth byte (reply separator)",
                LINE_BYTES,
            );
            spot(at + 4, Bits::Byte, "line's fifth byte", LINE_BYTES);
        }
        _ => {}
    }
}

/// A new value for a frame field: one of its interesting values, or near the current one,
/// or random.
fn spot_value(rng: &mut Rng, s: &Spot, cur: u64) -> u64 {
    (match rng.below(7) {
        0 => cur.wrapping_add(1),
        1 => cur.wrapping_sub(1),
        2 => rng.next(),
        3 => cur ^ (1 << rng.below(s.mask().count_ones() as usize)),
        _ => rng.pick(s.values),
    }) & s.mask()
}

/// Inserts a chain of VLAN tags before the frame's EtherType (or fills the header with
/// `81 00` repeated).
fn vlan_chain(lt: u32, b: &mut Vec<u8>, rng: &mut Rng, log: &mut Vec<String>) {
    let Some(at) = ethertype_at(lt, b) else {
        return;
    };
    let n = match rng.below(3) {
        0 => 1 + rng.below(3),
        1 => 7 + rng.below(3),
        _ => 1 + rng.below(40),
    };
    if rng.one_in(4) {
        // 81 00 81 00 …: every TCI is 0x8100 too.
        let end = (at + 4 * n).min(b.len());
        for (i, x) in b[at..end].iter_mut().enumerate() {
            *x = if i % 2 == 0 { 0x81 } else { 0x00 };
        }
        log.push(format!("fill {at}..{end} with 81 00"));
        return;
    }
    let tpid: u16 = if rng.one_in(3) { 0x88a8 } else { 0x8100 };
    let mut tags = Vec::with_capacity(4 * n);
    if lt == 276 {
        // SLL2: the protocol field comes first, the tags after the 20-byte header.
        let proto = [b[0], b[1]];
        b[..2].copy_from_slice(&tpid.to_be_bytes());
        for i in 0..n {
            tags.extend_from_slice(&(rng.next() as u16).to_be_bytes());
            tags.extend_from_slice(&if i + 1 == n {
                proto
            } else {
                tpid.to_be_bytes()
            });
        }
        let at = 20.min(b.len());
        b.splice(at..at, tags);
    } else {
        for _ in 0..n {
            tags.extend_from_slice(&tpid.to_be_bytes());
            tags.extend_from_slice(&(rng.next() as u16).to_be_bytes());
        }
        b.splice(at..at, tags);
    }
    log.push(format!("insert {n} VLAN tags (TPID {tpid:#06x})"));
}

/// Applies one to three mutations to a frame (of link type `lt`), logging each.
fn mutate_frame(orig: &[u8], lt: u32, rng: &mut Rng, log: &mut Vec<String>) -> Vec<u8> {
    let mut b = orig.to_vec();
    for _ in 0..1 + rng.below(3) {
        let len = b.len();
        let head = len.min(80);
        match rng.below(12) {
            0 | 1 if head > 0 => {
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(head);
                    let bit = rng.below(8);
                    b[i] ^= 1 << bit;
                    log.push(format!("flip bit {bit} of byte {i}"));
                }
            }
            2 if head > 0 => {
                for _ in 0..1 + rng.below(3) {
                    let i = rng.below(head);
                    let v = match rng.below(3) {
                        0 => 0x00,
                        1 => 0xff,
                        _ => rng.byte(),
                    };
                    b[i] = v;
                    log.push(format!("set byte {i} to {v:#04x}"));
                }
            }
            3 => {
                let at = if rng.one_in(2) {
                    rng.below(head + 1)
                } else {
                    rng.below(len + 1)
                };
                b.truncate(at);
                log.push(format!("truncate to {at} bytes"));
            }
            4..=7 => {
                let s = spots(lt, &b);
                let s: Vec<Spot> = s.into_iter().filter(|s| s.fits(&b)).collect();
                if s.is_empty() {
                    continue;
                }
                let s = s[rng.below(s.len())];
                let cur = s.get(&b);
                let v = spot_value(rng, &s, cur);
                s.set(&mut b, v);
                log.push(format!(
                    "set {} at {} from {cur:#x} to {v:#x}",
                    s.what, s.at
                ));
            }
            8 => vlan_chain(lt, &mut b, rng, log),
            9 => {
                let n = if rng.one_in(300) {
                    66_000
                } else {
                    1 + rng.below(64)
                };
                let zeros = rng.one_in(2);
                b.extend((0..n).map(|_| if zeros { 0 } else { rng.byte() }));
                log.push(format!(
                    "append {n} {} bytes",
                    if zeros { "zero" } else { "random" }
                ));
            }
            10 if len > 0 => {
                let r = rng.span(len, 40);
                let at = rng.below(len + 1);
                let copy = b[r.clone()].to_vec();
                b.splice(at..at, copy);
                log.push(format!("copy bytes {r:?} to {at}"));
            }
            11 if len > 0 => {
                let r = rng.span(len, 40);
                b.drain(r.clone());
                log.push(format!("delete bytes {r:?}"));
            }
            _ => {}
        }
    }
    b
}

/// One frame case: dissected twice (the second pass meets the TCP stream and fragment
/// state the first left), every packet rendered and checked.
fn frame_case(frame: &[u8], meta: Meta, fast: bool, sink: &mut Sink) -> Result<(), Bad> {
    let mut d = dissector(fast);
    let mut stats = Stats::default();
    for pass in 1..=2 {
        d.dissect(
            Meta {
                number: pass,
                ..meta
            },
            frame,
            &mut sink.pkt,
        );
        sink.check(frame.len(), &mut stats, pass == 1)
            .map_err(|b| b.context(format_args!("pass {pass}")))?;
    }
    sink.out.clear();
    render::stats::write(&mut sink.out, &stats);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Failure reports
// ---------------------------------------------------------------------------------------

fn hexdump(b: &[u8], max: usize) -> String {
    let mut s = String::new();
    for (row, chunk) in b[..b.len().min(max)].chunks(16).enumerate() {
        let _ = write!(s, "  {:06x} ", row * 16);
        for x in chunk {
            let _ = write!(s, " {x:02x}");
        }
        s.push('\n');
    }
    if b.len() > max {
        let _ = writeln!(s, "  … {} more bytes", b.len() - max);
    }
    s
}

/// Deletes pieces of `input` while `fails` still holds: first the `units` it suggests
/// (whole records of a file), then ever smaller chunks. A smaller reproducer.
fn shrink(
    input: &[u8],
    units: &dyn Fn(&[u8]) -> Vec<Range<usize>>,
    fails: &mut dyn FnMut(&[u8]) -> bool,
) -> Vec<u8> {
    let mut cur = input.to_vec();
    // At most 4000 tries, and a few seconds.
    let mut tries = 4000;
    let deadline =
        Instant::now() + Duration::from_secs(if cfg!(debug_assertions) { 15 } else { 5 });
    let without = |b: &[u8], r: &Range<usize>| {
        let mut c = b[..r.start].to_vec();
        c.extend_from_slice(&b[r.end..]);
        c
    };
    // Whole units, last first (so earlier ranges stay valid).
    let mut progress = true;
    while progress && tries > 0 {
        progress = false;
        for r in units(&cur).iter().rev() {
            if tries == 0 {
                break;
            }
            tries = if Instant::now() > deadline {
                0
            } else {
                tries - 1
            };
            let cand = without(&cur, r);
            if fails(&cand) {
                cur = cand;
                progress = true;
                break;
            }
        }
    }
    let mut chunk = (cur.len() / 2).max(1);
    loop {
        let mut i = 0;
        let mut progress = false;
        while i < cur.len() && tries > 0 {
            tries = if Instant::now() > deadline {
                0
            } else {
                tries - 1
            };
            let cand = without(&cur, &(i..(i + chunk).min(cur.len())));
            if fails(&cand) {
                cur = cand;
                progress = true;
            } else {
                i += chunk;
            }
        }
        if tries == 0 || (chunk == 1 && !progress) {
            return cur;
        }
        if !progress {
            chunk /= 2;
        }
    }
}

fn failure_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mutation-failures");
    let _ = std::fs::create_dir_all(&d);
    d
}

/// The failures of one test, one report per distinct failure (a panic's location, or
/// the invariant broken), with how many cases hit each.
#[derive(Default)]
struct Failures {
    seen: Vec<(String, usize, String)>,
}

impl Failures {
    /// Counts a failure; true when it is the first of its class (and should be written
    /// up with `add`).
    fn count(&mut self, class: &str) -> bool {
        match self.seen.iter_mut().find(|(c, ..)| c == class) {
            Some((_, n, _)) => {
                *n += 1;
                false
            }
            None => true,
        }
    }

    fn add(&mut self, class: String, report: String) {
        self.seen.push((class, 1, report));
    }

    fn full(&self) -> bool {
        self.seen.len() >= MAX_FAILURES
    }

    fn finish(&self, what: &str) {
        if self.seen.is_empty() {
            return;
        }
        let mut s = String::new();
        for (class, n, report) in &self.seen {
            let _ = writeln!(s, "{report}({n} case(s) failed this way: {class})\n");
        }
        panic!(
            "{} distinct {what} failure(s) (seed {:#x}; the first case of each shrunk and shown):\n\n{s}",
            self.seen.len(),
            seed()
        );
    }
}

/// Writes up a failure: what was done, the error with its backtrace, the shrunk input.
fn report(
    what: &str,
    tag: &str,
    input: &[u8],
    log: &[String],
    first: &Bad,
    units: &dyn Fn(&[u8]) -> Vec<Range<usize>>,
    rerun: &mut dyn FnMut(&[u8]) -> Result<(), Bad>,
) -> String {
    let mut same = |b: &[u8]| matches!(rerun(b), Err(e) if e.class == first.class);
    let small = shrink(input, units, &mut same);
    let dir = failure_dir();
    let tag: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let full_path = dir.join(format!("{tag}.bin"));
    let small_path = dir.join(format!("{tag}.min.bin"));
    let _ = std::fs::write(&full_path, input);
    let _ = std::fs::write(&small_path, &small);
    let mut s = String::new();
    let _ = writeln!(s, "=== {what}");
    let _ = writeln!(
        s,
        "mutations: {}",
        if log.is_empty() {
            "none".into()
        } else {
            log.join("; ")
        }
    );
    let _ = writeln!(s, "failure: {}\n{}", first.class, first.detail);
    let _ = writeln!(
        s,
        "input: {} bytes, saved to {}",
        input.len(),
        full_path.display()
    );
    let _ = writeln!(
        s,
        "shrunk to {} bytes (saved to {}; the same failure):\n{}",
        small.len(),
        small_path.display(),
        hexdump(&small, 4096)
    );
    s
}

/// Runs a case on some input, with (true) or without a backtrace on panic.
type Runner<'a> = dyn FnMut(&[u8], bool) -> Result<(), Bad> + 'a;

/// Runs a case; on a failure not seen before, runs it again to capture the backtrace
/// and writes it up.
#[allow(clippy::too_many_arguments)]
fn run_case(
    failures: &mut Failures,
    what: &dyn Fn() -> String,
    tag: &str,
    input: &[u8],
    log: &[String],
    units: &dyn Fn(&[u8]) -> Vec<Range<usize>>,
    run: &mut Runner,
) -> bool {
    let Err(e) = run(input, false) else {
        return true;
    };
    if failures.count(&e.class) {
        let e = match run(input, true) {
            Err(b) if b.class == e.class => b,
            _ => e,
        };
        let r = report(&what(), tag, input, log, &e, units, &mut |b| run(b, false));
        failures.add(e.class, r);
    }
    false
}

fn fail_if_any(what: &str, failures: &[String]) {
    if !failures.is_empty() {
        panic!(
            "{} {what} failure(s):\n\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

fn no_units(_: &[u8]) -> Vec<Range<usize>> {
    Vec::new()
}

fn records(b: &[u8]) -> Vec<Range<usize>> {
    layout(b).records
}

// ---------------------------------------------------------------------------------------
// Sequences of frames: fragments and streams meeting damaged neighbours
// ---------------------------------------------------------------------------------------

/// A capture's frames as read (a capture the reader rejects has none: other tests
/// report it).
fn frames_of(bytes: &[u8]) -> Vec<(Vec<u8>, Meta)> {
    let mut frames = Vec::new();
    let mut reader = Reader::new(bytes).ok();
    while let Some(Ok(Some(rec))) = reader.as_mut().map(|r| r.next_record()) {
        frames.push((
            rec.data.to_vec(),
            Meta {
                number: 1,
                ts_sec: rec.ts_sec,
                ts_nsec: rec.ts_nsec,
                len: rec.len,
                interface: rec.interface,
                linktype: rec.linktype,
            },
        ));
    }
    frames
}

fn is_fragment(lt: u32, f: &[u8]) -> bool {
    spots(lt, f).iter().any(|s| {
        s.fits(f)
            && match s.what {
                "IPv4 flags and fragment offset" => s.get(f) & 0x3fff != 0,
                "IPv6 fragment offset and M flag" => true,
                _ => false,
            }
    })
}

/// The capture's frames with one or two header fields changed — of a fragment, and a
/// fragment field, more often than not — sometimes two frames swapped or one repeated.
fn mutate_train(
    frames: &[(Vec<u8>, Meta)],
    rng: &mut Rng,
    log: &mut Vec<String>,
) -> Vec<(Vec<u8>, u32)> {
    let mut v: Vec<(Vec<u8>, u32)> = frames
        .iter()
        .map(|(f, m)| (f.clone(), m.linktype))
        .collect();
    let frags: Vec<usize> = (0..v.len())
        .filter(|&i| is_fragment(v[i].1, &v[i].0))
        .collect();
    for _ in 0..1 + rng.below(2) {
        let k = if !frags.is_empty() && !rng.one_in(4) {
            rng.pick(&frags)
        } else {
            rng.below(v.len())
        };
        let (f, lt) = &mut v[k];
        let all: Vec<Spot> = spots(*lt, f).into_iter().filter(|s| s.fits(f)).collect();
        let fragment_fields: Vec<Spot> = all
            .iter()
            .filter(|s| s.what.contains("fragment") || s.what.contains("length"))
            .copied()
            .collect();
        let pool = if !fragment_fields.is_empty() && !rng.one_in(3) {
            fragment_fields
        } else {
            all
        };
        if pool.is_empty() {
            continue;
        }
        let s = pool[rng.below(pool.len())];
        let cur = s.get(f);
        let val = spot_value(rng, &s, cur);
        s.set(f, val);
        log.push(format!(
            "frame {}: set {} at {} from {cur:#x} to {val:#x}",
            k + 1,
            s.what,
            s.at
        ));
    }
    if v.len() > 1 && rng.one_in(4) {
        let (a, c) = (rng.below(v.len()), rng.below(v.len()));
        v.swap(a, c);
        log.push(format!("swap frames {} and {}", a + 1, c + 1));
    }
    if rng.one_in(6) {
        let a = rng.below(v.len());
        let at = rng.below(v.len() + 1);
        let dup = v[a].clone();
        v.insert(at, dup);
        log.push(format!("repeat frame {} at {}", a + 1, at + 1));
    }
    v
}

/// A pcapng file of these frames: one interface per link type.
fn train_file(frames: &[(Vec<u8>, u32)]) -> Vec<u8> {
    let mut links: Vec<u32> = Vec::new();
    let mut file = shb();
    for (_, lt) in frames {
        if !links.contains(lt) {
            links.push(*lt);
            file.extend(idb_with(*lt as u16, &[]));
        }
    }
    for (f, lt) in frames {
        let iface = links.iter().position(|l| l == lt).unwrap_or(0) as u32;
        file.extend(epb_on(iface, f.len() as u32, f, None));
    }
    file
}

/// The reassembler alone, fed short random sequences of fragments of two datagrams whose
/// offsets and lengths overlap, contradict and overrun each other.
#[test]
fn reassembler_survives_any_fragment_sequence() {
    use netlab::dissect::reassembly::{Outcome, Reassembler};
    let seed = seed();
    let rounds = if cfg!(debug_assertions) {
        3_000
    } else {
        30_000
    };
    let mut failures: Vec<String> = Vec::new();
    let mut classes: Vec<String> = Vec::new();
    for round in 0..rounds {
        let mut rng = Rng::new(case_seed(seed, &[4, round]));
        let mut steps: Vec<String> = Vec::new();
        let r = guarded(false, || {
            let mut r = Reassembler::new();
            for _ in 0..1 + rng.below(8) {
                let id = rng.below(2) as u32;
                let offset = 8 * if rng.one_in(8) {
                    rng.below(8192)
                } else {
                    rng.below(16)
                };
                let len = match rng.below(4) {
                    0 => 8 * rng.below(8),
                    1 => rng.below(64),
                    2 => 0,
                    _ => 8 * (1 + rng.below(4)),
                };
                let more = !rng.one_in(3);
                steps.push(format!(
                    "add(id {id}, offset {offset}, {len} bytes, more={more})"
                ));
                let data: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
                let out = r.add(([1; 16], [2; 16], 17, id), offset, more, &data);
                if let Outcome::Complete { payload, .. } = &out {
                    if payload.len() > 65_535 {
                        return Err(bad(
                            "reassembly",
                            format!("a datagram of {} bytes", payload.len()),
                        ));
                    }
                    if !more && payload.len() != offset + len {
                        return Err(bad(
                            "reassembly",
                            format!(
                                "the last fragment ends at {}, the datagram has {} bytes",
                                offset + len,
                                payload.len()
                            ),
                        ));
                    }
                }
            }
            Ok(())
        });
        let Err(e) = r else { continue };
        if classes.contains(&e.class) {
            continue;
        }
        classes.push(e.class.clone());
        failures.push(format!(
            "round {round}: {}\n{}\nsteps: {}\n",
            e.class,
            e.detail,
            steps.join("; ")
        ));
    }
    fail_if_any("reassembly", &failures);
}

// ---------------------------------------------------------------------------------------
// Application conversations: real DNS, TLS, FTP, SMTP and SSH bytes, damaged in place
// ---------------------------------------------------------------------------------------

/// The well-known ports of the application protocols, as `app_spots` knows them.
const APP_PORTS: [(u16, AppProtocol); 5] = [
    (53, AppProtocol::Dns),
    (443, AppProtocol::Tls),
    (21, AppProtocol::Ftp),
    (25, AppProtocol::Smtp),
    (22, AppProtocol::Ssh),
];

/// Bytes that matter to the application codecs: line ends, separators, digits, TLS
/// content types, DNS pointer and label bytes.
const APP_BYTES: &[u8] =
    b"\x00\x01\x03\x0a\x0d\x14\x15\x16\x17\x20\x2c\x2d\x2e\x30\x32\x35\x39\x3a\x3c\x3e\x3f\x40\x7f\x80\xc0\xff";

/// Where a frame carries an application protocol's bytes.
#[derive(Debug, Clone)]
struct AppPayload {
    /// The IP header's offset (its length field follows a resized payload).
    ip: usize,
    /// The TCP or UDP header's offset.
    l4: usize,
    tcp: bool,
    /// The payload (an Ethernet frame's padding left out).
    range: Range<usize>,
    protocol: AppProtocol,
}

/// The application payload of a frame on a well-known port (`None`: none, or empty).
fn app_payload(lt: u32, f: &[u8]) -> Option<AppPayload> {
    let s = spots(lt, f);
    let ip = s.iter().find(|s| s.what == "IP version")?.at;
    let (l4, tcp) = s.iter().find_map(|s| match s.what {
        "TCP data offset" => Some((s.at - 12, true)),
        "UDP length" => Some((s.at - 4, false)),
        _ => None,
    })?;
    let (sp, dp) = (be16(f, l4)?, be16(f, l4 + 2)?);
    let &(_, protocol) = APP_PORTS.iter().find(|(p, _)| *p == sp || *p == dp)?;
    let start = if tcp {
        l4 + usize::from(f.get(l4 + 12)? >> 4) * 4
    } else {
        l4 + 8
    };
    let end = match f[ip] >> 4 {
        4 => ip + usize::from(be16(f, ip + 2)?),
        _ => ip + 40 + usize::from(be16(f, ip + 4)?),
    }
    .min(f.len());
    (start < end).then_some(AppPayload {
        ip,
        l4,
        tcp,
        range: start..end,
        protocol,
    })
}

/// Replaces the payload `p` of frame `f` with `new`; with `fix`, the IP (and UDP) length
/// fields then tell the new length, else they keep the old one (a capture cut short, or
/// bytes the headers do not announce).
fn set_payload(f: &mut Vec<u8>, p: &AppPayload, new: &[u8], fix: bool) {
    let room = 65_535usize.saturating_sub(p.range.start - p.ip);
    let new = &new[..new.len().min(room)];
    f.splice(p.range.clone(), new.iter().copied());
    if !fix {
        return;
    }
    let end = p.range.start + new.len();
    let set = |f: &mut Vec<u8>, at: usize, v: usize| {
        f[at..at + 2].copy_from_slice(&(v.min(0xffff) as u16).to_be_bytes())
    };
    if f[p.ip] >> 4 == 4 {
        set(f, p.ip + 2, end - p.ip);
    } else {
        set(f, p.ip + 4, end - p.ip - 40);
    }
    if !p.tcp {
        set(f, p.l4 + 4, end - p.l4);
    }
}

/// A capture's frames with one to three of its application payloads damaged — a header
/// field of the protocol set to an extreme, bytes set to ones that matter, the payload
/// cut (as a snaplen cuts it, or shorter in its headers too), bytes deleted or inserted
/// (a segment's sequence numbers then leave holes and overlaps), a payload replaced by
/// another's — and sometimes a segment dropped, repeated, or two swapped.
fn mutate_app_train(
    frames: &[(Vec<u8>, Meta)],
    apps: &[usize],
    rng: &mut Rng,
    log: &mut Vec<String>,
) -> Vec<(Vec<u8>, u32)> {
    let mut v: Vec<(Vec<u8>, u32)> = frames
        .iter()
        .map(|(f, m)| (f.clone(), m.linktype))
        .collect();
    for _ in 0..1 + rng.below(3) {
        let k = rng.pick(apps);
        let other = rng.pick(apps);
        let other_payload = app_payload(v[other].1, &v[other].0)
            .map(|p| v[other].0[p.range].to_vec())
            .unwrap_or_default();
        let (f, lt) = &mut v[k];
        // An earlier mutation of this frame may have taken its payload away.
        let Some(p) = app_payload(*lt, f) else {
            continue;
        };
        let what = format!("frame {} ({:?} payload {:?})", k + 1, p.protocol, p.range);
        let mut payload = f[p.range.clone()].to_vec();
        let len = payload.len();
        match rng.below(9) {
            0..=2 => {
                let s: Vec<Spot> = spots(*lt, f)
                    .into_iter()
                    .filter(|s| s.at >= p.range.start && s.fits(f))
                    .collect();
                if s.is_empty() {
                    continue;
                }
                let s = rng.pick(&s);
                let cur = s.get(f);
                let val = spot_value(rng, &s, cur);
                s.set(f, val);
                log.push(format!("{what}: set {} from {cur:#x} to {val:#x}", s.what));
                continue;
            }
            3 => {
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(len);
                    let b = if rng.one_in(4) {
                        rng.byte()
                    } else {
                        rng.pick(APP_BYTES)
                    };
                    payload[i] = b;
                    log.push(format!("{what}: set payload byte {i} to {b:#04x}"));
                }
                set_payload(f, &p, &payload, true);
            }
            4 => {
                let at = rng.below(len);
                let fix = !rng.one_in(3);
                payload.truncate(at);
                log.push(format!(
                    "{what}: cut the payload to {at} bytes ({})",
                    if fix {
                        "IP length too"
                    } else {
                        "as a snaplen cuts it"
                    }
                ));
                set_payload(f, &p, &payload, fix);
            }
            5 => {
                let r = rng.span(len, 64);
                payload.drain(r.clone());
                log.push(format!("{what}: delete payload bytes {r:?}"));
                set_payload(f, &p, &payload, true);
            }
            6 | 7 => {
                let at = rng.below(len + 1);
                let bytes: Vec<u8> = match rng.below(3) {
                    0 => payload[rng.span(len, 64)].to_vec(),
                    1 => {
                        let n = if rng.one_in(8) {
                            2000 + rng.below(8000)
                        } else {
                            1 + rng.below(16)
                        };
                        let b = rng.pick(APP_BYTES);
                        vec![b; n]
                    }
                    _ => (0..1 + rng.below(32)).map(|_| rng.byte()).collect(),
                };
                log.push(format!(
                    "{what}: insert {} bytes at {at} ({:02x?}…)",
                    bytes.len(),
                    &bytes[..bytes.len().min(8)]
                ));
                payload.splice(at..at, bytes);
                set_payload(f, &p, &payload, !rng.one_in(5));
            }
            _ => {
                log.push(format!(
                    "{what}: replace the payload with frame {}'s ({} bytes)",
                    other + 1,
                    other_payload.len()
                ));
                set_payload(f, &p, &other_payload, true);
            }
        }
    }
    if v.len() > 1 && rng.one_in(5) {
        let (a, c) = (rng.pick(apps), rng.pick(apps));
        v.swap(a, c);
        log.push(format!("swap frames {} and {}", a + 1, c + 1));
    }
    if rng.one_in(6) {
        let a = rng.pick(apps);
        let at = rng.below(v.len() + 1);
        let dup = v[a].clone();
        v.insert(at, dup);
        log.push(format!("repeat frame {} at {}", a + 1, at + 1));
    } else if v.len() > 1 && rng.one_in(6) {
        let a = rng.pick(apps);
        v.remove(a);
        log.push(format!("drop frame {}", a + 1));
    }
    v
}

/// Dissects the frames in order and counts the packets with an application layer
/// (DNS, TLS, FTP and its data, SMTP, IMF, SSH).
fn app_layers(frames: &[(Vec<u8>, Meta)]) -> usize {
    let mut d = Dissector::new();
    let mut pkt = Packet::default();
    let mut n = 0;
    for (i, (f, m)) in frames.iter().enumerate() {
        let m = Meta {
            number: i as u64 + 1,
            ..*m
        };
        d.dissect(m, f, &mut pkt);
        n += usize::from(pkt.layers.iter().any(|l| {
            matches!(
                l.proto,
                Proto::Dns
                    | Proto::Tls
                    | Proto::Ftp
                    | Proto::FtpData
                    | Proto::Smtp
                    | Proto::Imf
                    | Proto::Ssh
            )
        }));
    }
    n
}

/// Each direction of each application connection in the frames (the payloads in
/// sequence order, retransmissions left out, at most `max` bytes), and each DNS
/// datagram.
fn app_streams(frames: &[(Vec<u8>, Meta)], max: usize) -> Vec<(AppProtocol, Vec<u8>)> {
    let mut out: Vec<(AppProtocol, Vec<u8>)> = Vec::new();
    // Per direction of a connection (addresses and ports): its entry in `out` and the
    // next sequence number.
    let mut open: Vec<(Vec<u8>, usize, u32)> = Vec::new();
    for (f, m) in frames {
        let Some(p) = app_payload(m.linktype, f) else {
            continue;
        };
        let data = &f[p.range.clone()];
        if !p.tcp {
            out.push((p.protocol, data.to_vec()));
            continue;
        }
        let addrs = if f[p.ip] >> 4 == 4 {
            p.ip + 12..p.ip + 20
        } else {
            p.ip + 8..p.ip + 40
        };
        let mut key = f[addrs].to_vec();
        key.extend_from_slice(&f[p.l4..p.l4 + 4]);
        let Some(seq) = f
            .get(p.l4 + 4..p.l4 + 8)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
        else {
            continue;
        };
        let next = seq.wrapping_add(data.len() as u32);
        match open.iter_mut().find(|(k, ..)| *k == key) {
            None => {
                open.push((key, out.len(), next));
                out.push((p.protocol, data.to_vec()));
            }
            Some((_, i, expect)) if *expect == seq => {
                *expect = next;
                let s = &mut out[*i].1;
                s.extend_from_slice(&data[..data.len().min(max.saturating_sub(s.len()))]);
            }
            // A retransmission, or after a hole.
            Some(_) => {}
        }
    }
    for (_, s) in &mut out {
        s.truncate(max);
    }
    out
}

/// Changes one to four places of an application stream: a byte set to one that
/// matters or flipped, bytes inserted, deleted or repeated, the stream cut short.
fn mutate_app_bytes(b: &mut Vec<u8>, rng: &mut Rng, log: &mut Vec<String>) {
    for _ in 0..1 + rng.below(4) {
        let len = b.len();
        let at = rng.below(len + 1);
        match rng.below(6) {
            0 if at < len => {
                let v = rng.pick(APP_BYTES);
                b[at] = v;
                log.push(format!("set byte {at} to {v:#04x}"));
            }
            1 if at < len => {
                let bit = rng.below(8);
                b[at] ^= 1 << bit;
                log.push(format!("flip bit {bit} of byte {at}"));
            }
            2 => {
                let v = rng.pick(APP_BYTES);
                let n = 1 + rng.below(4);
                b.splice(at..at, std::iter::repeat_n(v, n));
                log.push(format!("insert {n} × {v:#04x} at {at}"));
            }
            3 if len > 0 => {
                let r = rng.span(len, 32);
                b.drain(r.clone());
                log.push(format!("delete bytes {r:?}"));
            }
            4 if len > 0 => {
                let r = rng.span(len, 64);
                let copy = b[r.clone()].to_vec();
                b.splice(at..at, copy);
                log.push(format!("copy bytes {r:?} to {at}"));
            }
            _ => {
                b.truncate(at);
                log.push(format!("cut to {at} bytes"));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

#[test]
fn mutated_captures_never_panic_or_hang() {
    let seed = seed();
    let b = budget();
    println!("mutation seed {seed:#x} (set NETLAB_MUTATION_SEED to change it)");
    let t0 = Instant::now();
    let mut sink = Sink::new();
    let mut failures = Failures::default();
    let (mut cases, mut failed) = (0usize, 0usize);
    for (ci, path) in captures().iter().enumerate() {
        let cap = name(path);
        let bytes = std::fs::read(path).expect("read capture");
        let base = prefix(&bytes, b.prefix);
        let n = (b.file_bytes / base.len().max(1)).clamp(b.file_cases / 8 + 1, b.file_cases);
        // The first 64 frames, for the frame-sequence cases.
        let mut frames = frames_of(&bytes);
        frames.truncate(64);
        let trains = if frames.is_empty() { 0 } else { b.trains };
        for i in 0..=n + trains {
            // Cases 1..=n: the file mutated. Then: its frames, some mutated, in a
            // new file. Case 0 is the capture itself.
            let (kind, k) = if i <= n { (1, i) } else { (3, i - n) };
            let cs = case_seed(seed, &[fnv(cap.as_bytes()), kind, k as u64]);
            let mut rng = Rng::new(cs);
            let mut log = Vec::new();
            let input = match (kind, k) {
                (1, 0) => bytes.clone(),
                (1, _) => mutate_file(base, &mut rng, &mut log),
                _ => train_file(&mutate_train(&frames, &mut rng, &mut log)),
            };
            let trickle = rng.one_in(6).then(|| rng.next());
            let fast = rng.one_in(4);
            let color = rng.one_in(2);
            cases += 1;
            let what = || {
                format!(
                    "capture {cap} (#{ci}), {} case {k} (case seed {cs:#x}, record={}, colour={color}, {})",
                    if kind == 1 {
                        "file"
                    } else {
                        "frame-sequence (as pcapng)"
                    },
                    !fast,
                    if trickle.is_some() {
                        "also read in small pieces"
                    } else {
                        "read from a slice"
                    }
                )
            };
            let mut run = |input: &[u8], backtrace: bool| {
                sink.color = color;
                let r = guarded(backtrace, || file_case(input, trickle, fast, &mut sink));
                if r.is_err() {
                    // A panic may have left it half-written.
                    sink = Sink::new();
                }
                r
            };
            let tag = format!("{cap}-{}-{k}", if kind == 1 { "file" } else { "sequence" });
            if !run_case(&mut failures, &what, &tag, &input, &log, &records, &mut run) {
                failed += 1;
            }
        }
        if failures.full() {
            break;
        }
    }
    println!(
        "{cases} capture files ({failed} failed) read in {:.1?}",
        t0.elapsed()
    );
    failures.finish("mutated-capture");
}

#[test]
fn mutated_frames_never_panic_under_any_link_type() {
    let seed = seed();
    let b = budget();
    println!("mutation seed {seed:#x} (set NETLAB_MUTATION_SEED to change it)");
    let t0 = Instant::now();
    let mut sink = Sink::new();
    println!(
        "display filters: {} of {} parse",
        sink.filters.len(),
        FILTERS.len()
    );
    let mut failures = Failures::default();
    let (mut cases, mut failed) = (0usize, 0usize);
    for path in captures() {
        let cap = name(&path);
        let bytes = std::fs::read(&path).expect("read capture");
        let frames = frames_of(&bytes);
        // Evenly spread over the capture.
        let step = frames.len().div_ceil(b.frames).max(1);
        for (fi, (frame, meta)) in frames.iter().enumerate().step_by(step) {
            let mut linktypes = vec![meta.linktype];
            linktypes.extend(LINK_TYPES.iter().filter(|&&l| l != meta.linktype));
            for i in 0..=b.frame_cases {
                let cs = case_seed(seed, &[fnv(cap.as_bytes()), 2, fi as u64, i as u64]);
                let mut rng = Rng::new(cs);
                let mut log = Vec::new();
                // Case 0 is the frame itself.
                let input = if i == 0 {
                    frame.clone()
                } else {
                    mutate_frame(frame, meta.linktype, &mut rng, &mut log)
                };
                let len = match rng.below(12) {
                    0 => input.len() as u32,
                    1 => 0,
                    2 => u32::MAX,
                    3 => rng.next() as u32,
                    _ => meta.len.max(input.len() as u32),
                };
                let fast = rng.one_in(4);
                let color = rng.one_in(2);
                for &lt in &linktypes {
                    let m = Meta {
                        linktype: lt,
                        len,
                        ..*meta
                    };
                    cases += 1;
                    let what = || {
                        format!(
                            "capture {cap}, frame {} (link type {}), case {i} (case seed {cs:#x}), \
                             dissected as link type {lt} with meta.len {len} (record={}, colour={color})",
                            fi + 1,
                            meta.linktype,
                            !fast
                        )
                    };
                    let full = input.len();
                    let mut run = |input: &[u8], backtrace: bool| {
                        sink.color = color;
                        // While shrinking, keep what the capture lacks (len - caplen).
                        let m = match (m.len as usize).checked_sub(full - input.len()) {
                            Some(l) if m.len as usize >= full => Meta { len: l as u32, ..m },
                            _ => m,
                        };
                        let r = guarded(backtrace, || frame_case(input, m, fast, &mut sink));
                        if r.is_err() {
                            sink = Sink::new();
                        }
                        r
                    };
                    let tag = format!("{cap}-frame-{}-{i}-lt{lt}", fi + 1);
                    if !run_case(
                        &mut failures,
                        &what,
                        &tag,
                        &input,
                        &log,
                        &no_units,
                        &mut run,
                    ) {
                        failed += 1;
                    }
                }
            }
            if failures.full() {
                break;
            }
        }
    }
    println!(
        "{cases} frame dissections ({failed} failed) in {:.1?}",
        t0.elapsed()
    );
    failures.finish("mutated-frame");
}

/// Longest one application case may take (a whole conversation dissected and rendered
/// every way, or one stream through the fuzz checks: milliseconds when all is well).
fn app_case_limit() -> Duration {
    Duration::from_secs(if cfg!(debug_assertions) { 30 } else { 5 })
}

/// Fails a case that returned in time but took longer than `limit`.
fn in_time(r: Result<(), Bad>, took: Duration, limit: Duration) -> Result<(), Bad> {
    r?;
    if took > limit {
        return Err(bad(
            "slow",
            format!("took {took:.1?}, more than {limit:.1?}"),
        ));
    }
    Ok(())
}

/// The captures' DNS, TLS, FTP, SMTP and SSH conversations, their application payloads
/// damaged in place (header fields, bytes, lengths, segments cut, dropped, repeated),
/// each conversation read whole by one dissector: no panic, every range inside its
/// packet, every output well-formed, and in bounded time.
#[test]
fn mutated_application_conversations_never_panic_or_hang() {
    let seed = seed();
    let b = budget();
    let limit = app_case_limit();
    println!("mutation seed {seed:#x} (set NETLAB_MUTATION_SEED to change it)");
    let t0 = Instant::now();
    let mut sink = Sink::new();
    let mut failures = Failures::default();
    let (mut cases, mut failed, mut slowest) = (0usize, 0usize, Duration::ZERO);
    let mut seen: Vec<AppProtocol> = Vec::new();
    for path in captures() {
        let cap = name(&path);
        let bytes = std::fs::read(&path).expect("read capture");
        let mut frames = frames_of(&bytes);
        frames.truncate(400);
        let apps: Vec<usize> = (0..frames.len())
            .filter(|&i| app_payload(frames[i].1.linktype, &frames[i].0).is_some())
            .collect();
        if apps.is_empty() {
            continue;
        }
        for &i in &apps {
            let p = app_payload(frames[i].1.linktype, &frames[i].0).unwrap();
            if !seen.contains(&p.protocol) {
                seen.push(p.protocol);
            }
        }
        // Not vacuous: the capture as it is decodes its application layer.
        assert!(
            app_layers(&frames) > 0,
            "{cap}: {} frames on application ports, no application layer",
            apps.len()
        );
        for k in 0..b.app_trains {
            let cs = case_seed(seed, &[fnv(cap.as_bytes()), 5, k as u64]);
            let mut rng = Rng::new(cs);
            let mut log = Vec::new();
            let input = train_file(&mutate_app_train(&frames, &apps, &mut rng, &mut log));
            let fast = rng.one_in(4);
            let color = rng.one_in(2);
            cases += 1;
            let what = || {
                format!(
                    "capture {cap}, application case {k} (case seed {cs:#x}, record={}, colour={color}), its frames as pcapng",
                    !fast
                )
            };
            let mut run = |input: &[u8], backtrace: bool| {
                sink.color = color;
                let t = Instant::now();
                let r = guarded(backtrace, || file_case(input, None, fast, &mut sink));
                let took = t.elapsed();
                slowest = slowest.max(took);
                if r.is_err() {
                    sink = Sink::new();
                }
                in_time(r, took, limit)
            };
            let tag = format!("{cap}-app-{k}");
            if !run_case(&mut failures, &what, &tag, &input, &log, &records, &mut run) {
                failed += 1;
            }
        }
        if failures.full() {
            break;
        }
    }
    for p in AppProtocol::ALL {
        assert!(seen.contains(&p), "no capture has {p:?} on its port");
    }
    println!(
        "{cases} application conversations ({failed} failed) in {:.1?}, the slowest {slowest:.1?}",
        t0.elapsed()
    );
    failures.finish("mutated-application");
}

/// Each direction of each application connection in the captures (and each DNS
/// datagram), mutated, through `netlab::dissect::app::fuzz::check` — the checks the
/// cargo-fuzz targets `dns`, `tls`, `ftp`, `smtp` and `ssh` run: the codecs (`wire::dns`,
/// `tls`, `ftp`, `smtp`, `imf`, `ssh`) on the bytes, a DNS message that decodes encodes
/// back to itself, and the dissector on the bytes sent by either side in one segment and
/// cut into pieces (the fields of length-framed messages must not depend on the cuts);
/// in bounded time.
#[test]
fn mutated_application_streams_pass_the_fuzz_checks() {
    let seed = seed();
    let b = budget();
    let limit = app_case_limit();
    println!("mutation seed {seed:#x} (set NETLAB_MUTATION_SEED to change it)");
    let t0 = Instant::now();
    let mut failures = Failures::default();
    let (mut cases, mut failed, mut slowest) = (0usize, 0usize, Duration::ZERO);
    let mut seen: Vec<AppProtocol> = Vec::new();
    for path in captures() {
        let cap = name(&path);
        let bytes = std::fs::read(&path).expect("read capture");
        let streams = app_streams(&frames_of(&bytes), 16 * 1024);
        // Many DNS datagrams are alike: a few cases each.
        let per = if streams.len() > 8 {
            (b.app_streams / 4).max(1)
        } else {
            b.app_streams
        };
        for (si, (p, stream)) in streams.iter().enumerate() {
            if !seen.contains(p) {
                seen.push(*p);
            }
            for k in 0..=per {
                let cs = case_seed(seed, &[fnv(cap.as_bytes()), 6, si as u64, k as u64]);
                let mut rng = Rng::new(cs);
                let mut log = Vec::new();
                // Case 0 is the stream itself.
                let mut input = stream.clone();
                if k > 0 {
                    mutate_app_bytes(&mut input, &mut rng, &mut log);
                }
                cases += 1;
                let what = || {
                    format!(
                        "capture {cap}, {p:?} stream {si} ({} bytes), case {k} (case seed {cs:#x})",
                        stream.len()
                    )
                };
                let mut run = |input: &[u8], backtrace: bool| {
                    let t = Instant::now();
                    let r = guarded(backtrace, || {
                        app_fuzz::check(*p, input);
                        Ok(())
                    });
                    let took = t.elapsed();
                    slowest = slowest.max(took);
                    in_time(r, took, limit)
                };
                let tag = format!("{cap}-{p:?}-stream-{si}-{k}");
                if !run_case(
                    &mut failures,
                    &what,
                    &tag,
                    &input,
                    &log,
                    &no_units,
                    &mut run,
                ) {
                    failed += 1;
                }
            }
            if failures.full() {
                break;
            }
        }
    }
    for p in AppProtocol::ALL {
        assert!(seen.contains(&p), "no capture has a {p:?} stream");
    }
    println!(
        "{cases} application streams ({failed} failed) through the fuzz checks in {:.1?}, the slowest {slowest:.1?}",
        t0.elapsed()
    );
    failures.finish("mutated-application-stream");
}

/// Timestamps at the ends of their range (a damaged pcapng `if_tsoffset` or timestamp
/// yields any i64 of seconds) must not overflow the relative time — which must stay
/// within a second of the true difference, saturated — nor the conversation durations.
#[test]
fn extreme_timestamps_do_not_overflow() {
    let tcp = frame_tcp();
    // Ethernet only: a first packet that opens no conversation.
    let eth = &tcp[..14];
    let stamps = [
        (0, 0),
        (i64::MIN, 0),
        (i64::MAX, 999_999_999),
        (-1, 999_999_999),
        (i64::MIN, 999_999_999),
        (i64::MAX, 0),
    ];
    let mut failures: Vec<String> = Vec::new();
    let mut classes: Vec<String> = Vec::new();
    for &first in &stamps {
        for &a in &stamps {
            for &b in &stamps {
                let r = guarded(false, || {
                    let mut sink = Sink::new();
                    let mut d = Dissector::new();
                    let mut stats = Stats::default();
                    for (n, ((s, ns), frame)) in
                        [(first, eth), (a, &tcp), (b, &tcp)].into_iter().enumerate()
                    {
                        let meta = Meta {
                            number: n as u64 + 1,
                            ts_sec: s,
                            ts_nsec: ns,
                            len: frame.len() as u32,
                            interface: 0,
                            linktype: 1,
                        };
                        d.dissect(meta, frame, &mut sink.pkt);
                        sink.check(frame.len(), &mut stats, true)?;
                        let exact = (s as i128 - first.0 as i128) * 1_000_000_000
                            + (ns as i128 - first.1 as i128);
                        let want = exact.clamp(i64::MIN as i128, i64::MAX as i128);
                        let got = sink.pkt.rel_nsec;
                        if (got as i128 - want).abs() > 1_000_000_000 {
                            return Err(bad(
                                "relative time",
                                format!(
                                    "packet {}: rel_nsec {got}, the difference is {exact} ns",
                                    n + 1
                                ),
                            ));
                        }
                    }
                    render::stats::write(&mut sink.out, &stats);
                    Ok(())
                });
                let Err(e) = r else { continue };
                if classes.contains(&e.class) {
                    continue;
                }
                classes.push(e.class.clone());
                failures.push(format!(
                    "timestamps {}.{:09}, {}.{:09}, {}.{:09}: {}\n{}\n",
                    first.0, first.1, a.0, a.1, b.0, b.1, e.class, e.detail
                ));
            }
        }
    }
    // The same through the reader: interfaces whose if_tsoffset (option 14) are 0,
    // i64::MIN and i64::MAX seconds; an Ethernet-only frame on the first (it fixes the
    // time origin), then the TCP frame on the others (one conversation, from the
    // earliest to the latest time there is).
    let mut file = shb();
    for offset in [0, i64::MIN, i64::MAX] {
        file.extend(idb_with(1, &[(14, &offset.to_le_bytes())]));
    }
    file.extend(epb_on(0, eth.len() as u32, eth, None));
    for iface in [1, 2] {
        file.extend(epb_on(iface, tcp.len() as u32, &tcp, None));
    }
    let r = guarded(false, || file_case(&file, None, false, &mut Sink::new()));
    if let Err(e) = r {
        failures.push(format!(
            "pcapng with if_tsoffset 0, i64::MIN and i64::MAX: {}\n{}\n{}",
            e.class,
            e.detail,
            hexdump(&file, 4096)
        ));
    }
    fail_if_any("timestamp", &failures);
}

/// A TCP SYN over IPv4 over Ethernet.
fn frame_tcp() -> Vec<u8> {
    let mut f = vec![
        0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, // Ethernet
        0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
        0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0, // TCP
    ];
    f.resize(60, 0);
    f
}

// ---------------------------------------------------------------------------------------
// Absurd lengths: an error at once, not gigabytes allocated
// ---------------------------------------------------------------------------------------

fn pcap_header(big: bool) -> Vec<u8> {
    let w32 = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut h = Vec::new();
    h.extend_from_slice(&w32(0xa1b2_c3d4));
    h.extend_from_slice(&w16(2));
    h.extend_from_slice(&w16(4));
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&w32(262_144));
    h.extend_from_slice(&w32(1));
    h
}

fn pcap_record(big: bool, caplen: u32, len: u32, data: &[u8]) -> Vec<u8> {
    let w32 = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut r = Vec::new();
    for v in [1, 0, caplen, len] {
        r.extend_from_slice(&w32(v));
    }
    r.extend_from_slice(data);
    r
}

/// A pcapng block: type, total length (`claimed`, or the real one), body, trailing length.
fn block(btype: u32, body: &[u8], claimed: Option<u32>) -> Vec<u8> {
    let total = 12 + body.len().div_ceil(4) * 4;
    let len = claimed.unwrap_or(total as u32);
    let mut b = Vec::new();
    b.extend_from_slice(&btype.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.resize(total - 4, 0);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

fn shb() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&u64::MAX.to_le_bytes());
    block(0x0a0d_0d0a, &body, None)
}

fn idb() -> Vec<u8> {
    idb_with(1, &[])
}

/// An IDB of this link type with these options (code, value), then opt_endofopt.
fn idb_with(linktype: u16, options: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&linktype.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    if !options.is_empty() {
        for (code, value) in options {
            body.extend_from_slice(&code.to_le_bytes());
            body.extend_from_slice(&(value.len() as u16).to_le_bytes());
            body.extend_from_slice(value);
            body.resize(body.len().div_ceil(4) * 4, 0);
        }
        body.extend_from_slice(&[0; 4]);
    }
    block(1, &body, None)
}

fn epb(caplen: u32, data: &[u8], claimed: Option<u32>) -> Vec<u8> {
    epb_on(0, caplen, data, claimed)
}

fn epb_on(interface: u32, caplen: u32, data: &[u8], claimed: Option<u32>) -> Vec<u8> {
    let mut body = Vec::new();
    for v in [interface, 0, 1, caplen, data.len() as u32] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    body.extend_from_slice(data);
    block(6, &body, claimed)
}

/// How reading a crafted file ended: the error (if any) after `records` records.
fn read_crafted(file: &[u8]) -> (usize, Option<ReadError>, Duration) {
    let t = Instant::now();
    let mut records = 0;
    let mut reader = match Reader::new(file) {
        Ok(r) => r,
        Err(e) => return (0, Some(e), t.elapsed()),
    };
    loop {
        match reader.next_record() {
            Ok(Some(_)) => records += 1,
            Ok(None) => return (records, None, t.elapsed()),
            Err(e) => return (records, Some(e), t.elapsed()),
        }
        assert!(records <= file.len(), "reader does not stop");
    }
}

#[test]
fn absurd_lengths_are_errors_not_allocations() {
    let frame = frame_tcp();
    let mut cases: Vec<(String, Vec<u8>, usize)> = Vec::new();
    for big in [false, true] {
        for caplen in [0xffff_ffff, 0xffff_fff0, 0x8000_0000, MAX_RECORD as u32 + 1] {
            let mut f = pcap_header(big);
            f.extend(pcap_record(
                big,
                frame.len() as u32,
                frame.len() as u32,
                &frame,
            ));
            f.extend(pcap_record(big, caplen, 60, &frame));
            cases.push((
                format!(
                    "pcap ({}) record caplen {caplen:#x}",
                    if big { "big-endian" } else { "little-endian" }
                ),
                f,
                1,
            ));
        }
    }
    // The same inside a record that ends the file too early for any length.
    let mut f = pcap_header(false);
    f.extend(pcap_record(false, MAX_RECORD as u32, 60, &frame));
    cases.push(("pcap record caplen 64 MiB, file of 100 bytes".into(), f, 0));

    for claimed in [
        0xffff_fff0u32,
        0xffff_fffc,
        0xffff_ffff,
        0x8000_0000,
        MAX_RECORD as u32 + 4,
    ] {
        // The section header itself.
        let mut s = shb();
        s[4..8].copy_from_slice(&claimed.to_le_bytes());
        cases.push((format!("pcapng SHB length {claimed:#x}"), s, 0));
        // An enhanced packet block after a good one.
        let mut f = shb();
        f.extend(idb());
        f.extend(epb(frame.len() as u32, &frame, None));
        f.extend(epb(frame.len() as u32, &frame, Some(claimed)));
        cases.push((format!("pcapng EPB block length {claimed:#x}"), f, 1));
        // An interface description block.
        let mut f = shb();
        let mut i = idb();
        i[4..8].copy_from_slice(&claimed.to_le_bytes());
        f.extend(i);
        cases.push((format!("pcapng IDB block length {claimed:#x}"), f, 0));
    }
    // A packet claiming more captured bytes than its block holds.
    for caplen in [0xffff_ffffu32, 0xffff_fff0, 61] {
        let mut f = shb();
        f.extend(idb());
        f.extend(epb(caplen, &frame, None));
        cases.push((
            format!("pcapng EPB caplen {caplen:#x} in a 92-byte block"),
            f,
            0,
        ));
    }

    let mut failures = Vec::new();
    for (what, file, want_records) in &cases {
        let r = guarded(true, || {
            let (records, err, took) = read_crafted(file);
            if records != *want_records {
                return Err(bad(
                    "records",
                    format!("{records} records, expected {want_records}"),
                ));
            }
            match err {
                Some(ReadError::Malformed { .. } | ReadError::Truncated { .. }) => {}
                other => {
                    return Err(bad(
                        "no error",
                        format!("expected a malformed/truncated error, got {other:?}"),
                    ));
                }
            }
            if took > Duration::from_secs(2) {
                return Err(bad(
                    "slow",
                    format!("took {took:?}: something huge was allocated"),
                ));
            }
            Ok(())
        });
        if let Err(e) = r {
            failures.push(format!(
                "{what}: {}: {}\n{}",
                e.class,
                e.detail,
                hexdump(file, 256)
            ));
        }
    }
    fail_if_any("absurd-length", &failures);
}
