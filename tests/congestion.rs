//! `netlab congestion` and `netlab nagle`: the kernel's TCP through netlab's wire, in two
//! private namespaces. Need root (or a user namespace; CI runs as root), except the
//! argument checks.

use serde_json::Value;

use crate::common::{self, Need, netlab, require};

const ROOT: &str = "CAP_NET_ADMIN for two network namespaces and TUN devices";

fn ndjson(args: &[&str]) -> Vec<Value> {
    common::ndjson(&netlab().args(args).output().expect("run netlab"))
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` missing in {v}"))
}

#[test]
fn through_the_bottleneck_goodput_stays_within_the_rate_cwnd_is_cut_and_the_queue_adds_delay() {
    require!(Need::Root(ROOT));
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("cc.svg");
    let pcap = dir.path().join("cc.pcap");
    let ev = ndjson(&[
        "congestion",
        "--json",
        "--rate",
        "10mbit",
        "--queue",
        "40",
        "--delay",
        "20ms",
        "--bytes",
        "3MB",
        "--cc",
        "reno",
        "--plot",
        svg.to_str().unwrap(),
        "-w",
        pcap.to_str().unwrap(),
    ]);
    let summary = ev.last().unwrap();
    assert_eq!(summary["event"], "summary", "{summary}");
    assert_eq!(summary["cc"], "reno");
    assert_eq!(summary["complete"], true, "{summary}");
    // The link carries at most its rate: what the receiver read, per second, stays below.
    let goodput = f(summary, "goodput_bps");
    assert!(goodput <= 10_000_000.0, "{summary}");
    assert!(goodput > 5_000_000.0, "the link was kept busy: {summary}");
    // The queue overflowed, and the kernel's congestion control cut its window.
    assert!(f(summary, "queue_drops") >= 1.0, "{summary}");
    assert!(f(summary, "cwnd_reductions") >= 1.0, "{summary}");
    let samples: Vec<&Value> = ev.iter().filter(|e| e["event"] == "sample").collect();
    assert!(samples.len() > 50, "{} samples", samples.len());
    let cwnds: Vec<f64> = samples.iter().map(|s| f(s, "cwnd")).collect();
    let peak = cwnds.iter().cloned().fold(0.0, f64::max);
    let peak_at = cwnds.iter().position(|c| *c == peak).unwrap();
    assert!(
        cwnds[peak_at..].iter().any(|c| *c <= peak * 0.75),
        "cwnd falls back after its peak {peak}: {cwnds:?}"
    );
    // Base RTT 2 × 20 ms; a filling queue of 40 packets adds up to 48 ms.
    let base = f(summary, "base_rtt_ms");
    assert!((39.0..50.0).contains(&base), "{summary}");
    assert!(f(summary, "max_rtt_ms") > base + 15.0, "{summary}");
    for s in &samples {
        for k in ["t_ms", "cwnd", "rtt_ms", "in_flight", "retransmits"] {
            assert!(s[k].is_number(), "{k} in {s}");
        }
        assert!(s["ssthresh"].is_number() || s["ssthresh"].is_null());
    }
    assert!(
        ev.iter()
            .any(|e| e["event"] == "drop" && e["cause"] == "queue")
    );
    // The SVG is a well-formed document with both charts.
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    assert!(text.contains("congestion window of reno") && text.contains("smoothed RTT"));
    assert_eq!(text.matches("<svg").count(), text.matches("</svg>").count());
    // The pcap dissects: TCP segments between the two namespaces.
    let out = netlab()
        .args(["dissect", "--json", "-c", "5"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("10.0.0.1"));
}

#[test]
fn the_human_output_charts_and_explains_in_80_columns() {
    require!(Need::Root(ROOT));
    let out = netlab()
        .env("LANG", "C")
        .args([
            "congestion",
            "--bytes",
            "1MB",
            "--queue",
            "20",
            "--cc",
            "reno",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.chars().any(|c| ('\u{2800}'..='\u{28ff}').contains(&c)),
        "LANG=C: the charts in ASCII\n{text}"
    );
    for l in text.lines() {
        assert!(l.chars().count() <= 80, "{l:?}");
    }
    for needle in [
        "slow start",
        "goodput",
        "the link's 10 Mbit/s",
        "RTT",
        "|",
        "^",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
}

#[test]
fn an_unknown_algorithm_lists_what_the_kernel_offers() {
    require!(Need::Root(ROOT));
    let out = netlab()
        .args(["congestion", "--cc", "no-such-cc", "--bytes", "10kB"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no congestion control `no-such-cc`"), "{err}");
    assert!(err.contains("reno"), "{err}");
}

#[test]
fn bad_settings_are_usage_errors() {
    for args in [
        &["congestion", "--rate", "fast"][..],
        &["congestion", "--queue", "0"],
        &["congestion", "--bytes", "lots"],
        &["congestion", "--loss", "120%"],
        &["nagle", "--rounds", "0"],
        &["nagle", "--delay", "1h"],
    ] {
        let out = netlab().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    for cmd in ["congestion", "nagle"] {
        let out = netlab().args([cmd, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Examples:") && help.contains(&format!("netlab {cmd}")));
    }
}

/// The `-w` file is made before any namespace (net::relay::PcapFile, shared by race,
/// congestion and nagle): a bad path is one error line, exit 1, and nothing runs.
#[test]
fn a_pcap_path_that_cannot_be_made_is_an_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("missing").join("x.pcap");
    for cmd in ["race", "congestion", "nagle"] {
        let out = netlab()
            .args([cmd, "-w", bad.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {err}");
        assert!(
            err.starts_with("netlab: error: cannot create ") && err.lines().count() == 1,
            "{cmd}: {err}"
        );
        assert!(out.stdout.is_empty(), "{cmd}");
    }
}

#[test]
fn nagle_and_the_delayed_ack_cost_at_least_a_round_trip() {
    require!(Need::Root(ROOT));
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("nagle.svg");
    let ev = ndjson(&[
        "nagle",
        "--json",
        "--delay",
        "10ms",
        "--rounds",
        "15",
        "--quickack",
        "--cork",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(ev.len(), 1, "one JSON object");
    let v = &ev[0];
    let rtt = f(v, "rtt_ms");
    assert_eq!(rtt, 20.0);
    let nagle = f(&v["nagle"], "median_ms");
    let nodelay = f(&v["nodelay"], "median_ms");
    assert!(
        nagle >= nodelay + rtt,
        "Nagle {nagle} ms vs TCP_NODELAY {nodelay} ms: {v}"
    );
    // TCP_NODELAY and TCP_CORK take one round trip; quick ACKs still leave Nagle's one.
    assert!((rtt..rtt + 15.0).contains(&nodelay), "{v}");
    assert!(f(&v["cork"], "median_ms") < rtt + 15.0, "{v}");
    assert!(f(&v["quickack"], "median_ms") >= 2.0 * rtt, "{v}");
    assert_eq!(v["nagle"]["rounds_ms"].as_array().unwrap().len(), 15);
    for k in ["min_ms", "median_ms", "p99_ms"] {
        assert!(v["nodelay"][k].is_number(), "{k}");
    }
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    assert!(text.contains("TCP_NODELAY"));
}

#[test]
fn nagle_explains_a_round_segment_by_segment() {
    require!(Need::Root(ROOT));
    let out = netlab().args(["nagle", "--rounds", "10"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "TCP_NODELAY",
        "the first write leaves at once",
        "delayed ACK",
        "Nagle's algorithm held it back",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
}
