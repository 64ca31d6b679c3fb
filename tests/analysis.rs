//! TCP analysis against tshark on generated conversations: every rule of Wireshark's
//! sequence analysis meets many sequences it was not written for.
//!
//! Each conversation is a handshake (window scaling or not, the SYN sometimes
//! retransmitted or missing) followed by random segments in both directions: new data,
//! old data again, data after a hole, pure ACKs that acknowledge what was sent, less, or
//! more (with SACK blocks now and then), keep-alives, one-byte probes, window changes
//! down to zero, FINs — a few milliseconds or a few hundred apart, so the out-of-order
//! and fast-retransmission timers are crossed both ways. The analysis is a function of
//! the packets alone, so any sequence is a fair test: tshark and netlab must put the
//! same marks, with the same numbers, on every frame. (The real lossy capture is
//! checked field by field in `oracle.rs` too.)

use std::collections::BTreeMap;
use std::process::Command;

use crate::common::{self, netlab};

/// The fields compared (and the Info column's marks).
const FIELDS: &[&str] = &[
    "tcp.stream",
    "tcp.seq",
    "tcp.ack",
    "tcp.analysis",
    "tcp.analysis.flags",
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order",
    "tcp.analysis.lost_segment",
    "tcp.analysis.ack_lost_segment",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.duplicate_ack_num",
    "tcp.analysis.duplicate_ack_frame",
    "tcp.analysis.zero_window",
    "tcp.analysis.zero_window_probe",
    "tcp.analysis.zero_window_probe_ack",
    "tcp.analysis.window_full",
    "tcp.analysis.window_update",
    "tcp.analysis.keep_alive",
    "tcp.analysis.keep_alive_ack",
    "tcp.analysis.acks_frame",
    "tcp.analysis.ack_rtt",
    "tcp.analysis.initial_rtt",
    "tcp.analysis.bytes_in_flight",
    "tcp.analysis.push_bytes_sent",
    "tcp.analysis.rto",
    "tcp.analysis.rto_frame",
];

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

fn checksum(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in data.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An Ethernet/IPv4/TCP frame with correct checksums.
#[allow(clippy::too_many_arguments)]
fn frame(
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    mut opts: Vec<u8>,
    payload: &[u8],
) -> Vec<u8> {
    while !opts.len().is_multiple_of(4) {
        opts.push(1);
    }
    let hl = 20 + opts.len();
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&ports.0.to_be_bytes());
    tcp.extend_from_slice(&ports.1.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.extend_from_slice(&[((hl / 4) << 4) as u8, flags]);
    tcp.extend_from_slice(&window.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend_from_slice(&opts);
    tcp.extend_from_slice(payload);
    let mut ps = Vec::new();
    ps.extend_from_slice(&src);
    ps.extend_from_slice(&dst);
    ps.extend_from_slice(&[0, 6]);
    ps.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    ps.extend_from_slice(&tcp);
    let c = checksum(&ps);
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0];
    ip[2..4].copy_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
    f.extend_from_slice(&ip);
    f.extend_from_slice(&tcp);
    f
}

const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// A capture of three random conversations (see the module documentation).
fn generate(seed: u64) -> Vec<u8> {
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&[2, 0, 4, 0]);
    pcap.extend_from_slice(&[0; 8]);
    pcap.extend_from_slice(&65535u32.to_le_bytes());
    pcap.extend_from_slice(&1u32.to_le_bytes());
    let mut t: u64 = 1_000_000;
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    for conn in 0..3u16 {
        let ports = (40000 + conn, 8000 + (seed % 50) as u16);
        let isn = [r.next() as u32, r.next() as u32];
        let ws = [
            r.pick(&[None, Some(0u8), Some(2), Some(7)]),
            r.pick(&[None, Some(0u8), Some(3), Some(7)]),
        ];
        let mut hi = [isn[0].wrapping_add(1), isn[1].wrapping_add(1)];
        let mut send = |pcap: &mut Vec<u8>,
                        r: &mut Rng,
                        d: usize,
                        seq: u32,
                        ack: u32,
                        flags: u8,
                        win: u16,
                        opts: Vec<u8>,
                        payload: &[u8]| {
            t += r.pick(&[
                50u64, 100, 500, 1000, 2000, 2500, 4000, 10000, 30000, 300000,
            ]);
            let (s, dd, p) = if d == 0 {
                (a, b, ports)
            } else {
                (b, a, (ports.1, ports.0))
            };
            let f = frame(s, dd, p, seq, ack, flags, win, opts, payload);
            pcap.extend_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
            pcap.extend_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
            pcap.extend_from_slice(&(f.len() as u32).to_le_bytes());
            pcap.extend_from_slice(&(f.len() as u32).to_le_bytes());
            pcap.extend_from_slice(&f);
        };
        let syn_opts = |w: Option<u8>| {
            let mut o = vec![2, 4, 5, 0xb4];
            if let Some(w) = w {
                o.extend_from_slice(&[1, 3, 3, w]);
            }
            o.extend_from_slice(&[4, 2]);
            o
        };
        if r.chance(0.9) {
            send(
                &mut pcap,
                &mut r,
                0,
                isn[0],
                0,
                SYN,
                65535,
                syn_opts(ws[0]),
                b"",
            );
            if r.chance(0.2) {
                send(
                    &mut pcap,
                    &mut r,
                    0,
                    isn[0],
                    0,
                    SYN,
                    65535,
                    syn_opts(ws[0]),
                    b"",
                );
            }
        }
        send(
            &mut pcap,
            &mut r,
            1,
            isn[1],
            hi[0],
            SYN | ACK,
            65535,
            syn_opts(ws[1]),
            b"",
        );
        send(&mut pcap, &mut r, 0, hi[0], hi[1], ACK, 65535, vec![], b"");
        for _ in 0..(40 + r.below(160)) {
            let d = r.below(2) as usize;
            let o = 1 - d;
            let ack = match r.below(8) {
                0 => hi[o].wrapping_sub(1 + r.below(3000) as u32),
                1 => hi[o].wrapping_add(1 + r.below(2000) as u32),
                _ => hi[o],
            };
            let win = r.pick(&[65535u16, 65535, 8192, 4096, 0, 1024]);
            let k = r.below(100);
            if k < 35 {
                let n = r.pick(&[1usize, 1, 10, 100, 536, 1460, 1460, 1460]);
                send(
                    &mut pcap,
                    &mut r,
                    d,
                    hi[d],
                    ack,
                    PSH | ACK,
                    win,
                    vec![],
                    &vec![0; n],
                );
                hi[d] = hi[d].wrapping_add(n as u32);
            } else if k < 45 {
                let back = 1 + r.below(4000) as u32;
                let n = r.pick(&[1usize, 100, 1460]);
                send(
                    &mut pcap,
                    &mut r,
                    d,
                    hi[d].wrapping_sub(back),
                    ack,
                    PSH | ACK,
                    win,
                    vec![],
                    &vec![0; n],
                );
            } else if k < 52 {
                hi[d] = hi[d].wrapping_add(1 + r.below(3000) as u32);
                let n = r.pick(&[100usize, 1460]);
                send(
                    &mut pcap,
                    &mut r,
                    d,
                    hi[d],
                    ack,
                    PSH | ACK,
                    win,
                    vec![],
                    &vec![0; n],
                );
                hi[d] = hi[d].wrapping_add(n as u32);
            } else if k < 80 {
                let mut opts = vec![];
                if r.chance(0.3) {
                    let l = hi[o].wrapping_add(1 + r.below(2000) as u32);
                    opts.extend_from_slice(&[1, 1, 5, 10]);
                    opts.extend_from_slice(&l.to_be_bytes());
                    opts.extend_from_slice(&l.wrapping_add(1 + r.below(3000) as u32).to_be_bytes());
                }
                send(&mut pcap, &mut r, d, hi[d], ack, ACK, win, opts, b"");
            } else if k < 86 {
                let n = r.pick(&[0usize, 1]);
                send(
                    &mut pcap,
                    &mut r,
                    d,
                    hi[d].wrapping_sub(1),
                    ack,
                    ACK,
                    win,
                    vec![],
                    &vec![0; n],
                );
            } else if k < 92 {
                send(
                    &mut pcap,
                    &mut r,
                    d,
                    hi[d],
                    ack,
                    PSH | ACK,
                    win,
                    vec![],
                    &[0],
                );
            } else if k < 96 {
                let w = r.pick(&[0u16, 65535, 1]);
                send(&mut pcap, &mut r, d, hi[d], ack, ACK, w, vec![], b"");
            } else {
                send(
                    &mut pcap,
                    &mut r,
                    d,
                    hi[d],
                    ack,
                    FIN | ACK,
                    win,
                    vec![],
                    b"",
                );
                hi[d] = hi[d].wrapping_add(1);
            }
        }
    }
    pcap
}

const AGG: char = '\u{1f}';

fn tshark(file: &std::path::Path) -> Vec<BTreeMap<String, String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(file);
    cmd.args(["-T", "fields", "-E", "occurrence=a", "-E", "separator=/t"]);
    cmd.args(["-E", &format!("aggregator={AGG}")]);
    for f in FIELDS.iter().chain(&["_ws.col.Info"]) {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .expect("tshark is needed ( ./scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            FIELDS
                .iter()
                .chain(&["_ws.col.Info"])
                .zip(l.split('\t'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The `[TCP …] ` marks at the start of an Info text.
fn marks(info: &str) -> String {
    let mut s = String::new();
    let mut rest = info;
    while let Some(r) = rest.strip_prefix("[TCP ") {
        let Some(end) = r.find("] ") else { break };
        s.push_str(&rest[..end + 7]);
        rest = &r[end + 2..];
    }
    s
}

/// A netlab JSON value as tshark writes it.
fn text(v: &serde_json::Value) -> String {
    let one = |v: &serde_json::Value| match v {
        serde_json::Value::Bool(true) => "1".to_string(),
        serde_json::Value::Bool(false) => "0".to_string(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) if n.is_f64() => format!("{:.9}", n.as_f64().unwrap_or(0.0)),
        v => v.to_string(),
    };
    match v {
        serde_json::Value::Array(a) => a.iter().map(one).collect::<Vec<_>>().join(&AGG.to_string()),
        v => one(v),
    }
}

#[test]
fn tcp_analysis_agrees_with_tshark_on_generated_conversations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut frames = 0;
    let mut marked = 0;
    let mut mismatches = Vec::new();
    for seed in 1..=25u64 {
        let file = dir.path().join(format!("gen-{seed}.pcap"));
        std::fs::write(&file, generate(seed)).expect("write");
        let theirs = tshark(&file);
        let out = netlab()
            .args(["dissect", "--json"])
            .arg(&file)
            .output()
            .expect("netlab");
        assert!(out.status.success());
        let ours = common::json_lines(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(ours.len(), theirs.len(), "seed {seed}: frame counts");
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            frames += 1;
            let fields = &o["fields"];
            for f in FIELDS {
                let ov = fields.get(*f).map(text).unwrap_or_default();
                let tv = &t[*f];
                if ov != *tv {
                    mismatches.push(format!(
                        "seed {seed} frame {}: {f}: netlab {ov:?}, tshark {tv:?}",
                        i + 1
                    ));
                }
            }
            let summary = o["summary"].as_str().unwrap_or("");
            let info = summary.splitn(5, ' ').nth(4).unwrap_or("");
            let (om, tm) = (marks(info), marks(&t["_ws.col.Info"]));
            if !tm.is_empty() {
                marked += 1;
            }
            if om != tm {
                mismatches.push(format!(
                    "seed {seed} frame {}: Info marks: netlab {om:?}, tshark {tm:?}",
                    i + 1
                ));
            }
        }
    }
    println!(
        "{frames} generated frames, {marked} marked by tshark, {} mismatches",
        mismatches.len()
    );
    assert!(
        marked > 1000,
        "the generator should exercise the analysis ({marked} marks)"
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches with tshark:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn stats_count_the_marks_per_stream_as_tshark_finds_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("gen.pcap");
    std::fs::write(&file, generate(7)).expect("write");
    let out = netlab()
        .args(["dissect", "--stats"])
        .arg(&file)
        .output()
        .expect("netlab");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let section = text
        .split("TCP analysis marks")
        .nth(1)
        .unwrap_or_else(|| panic!("no expert summary in:\n{text}"));
    for mark in [
        "retransmission",
        "duplicate_ack",
        "zero_window",
        "keep_alive",
    ] {
        // tshark: frames of each stream with the mark.
        let t = Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&file)
            .args([
                "-Y",
                &format!("tcp.analysis.{mark}"),
                "-T",
                "fields",
                "-e",
                "tcp.stream",
            ])
            .output()
            .expect("tshark");
        let mut per_stream: BTreeMap<String, u64> = BTreeMap::new();
        for l in String::from_utf8_lossy(&t.stdout).lines() {
            *per_stream.entry(l.to_string()).or_default() += 1;
        }
        for (stream, n) in per_stream {
            let block = section
                .split(&format!("stream {stream} ("))
                .nth(1)
                .and_then(|b| b.split("  stream ").next())
                .unwrap_or_else(|| panic!("stream {stream} missing:\n{section}"));
            assert!(
                block.contains(&format!(" {n} {mark},"))
                    || block.contains(&format!(" {n} {mark}\n")),
                "stream {stream}: tshark marks {n} frames {mark}:\n{block}"
            );
        }
    }
}
