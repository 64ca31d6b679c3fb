//! The dissector's truth is tshark: every capture in `captures/` goes through
//! `netlab dissect --json` and `tshark -T fields -E occurrence=a`, and every listed field
//! must agree, packet by packet, occurrence by occurrence.
//!
//! Both reassemble TCP the same way: a message that spans segments is dissected on the
//! segment that completes it (tshark runs with its default preferences, in its default
//! single pass, so neither fills in fields that point forward, such as
//! `tcp.reassembled_in` or `http.response_in`).
//!
//! Normalisations, each a difference of notation, not of value:
//! - tshark prints some integers in hex (`0x0800`, `0x0012`); netlab's JSON has numbers;
//! - tshark prints booleans as 1/0; netlab has true/false;
//! - tshark prints a string's CR, LF and tab as `\r`, `\n`, `\t`;
//! - an empty bytes field is `<MISSING>` in tshark, `""` in netlab;
//! - `frame.protocols`: the ASN.1 dissectors tshark runs on a TLS certificate (`x509sat`,
//!   `x509ce`, `pkcs-1`, …) are left out, since netlab does not take certificates apart;
//! - `tcp.options.sack_perm` is a bytes field in tshark (`0402`), a flag in netlab:
//!   present on both sides or absent on both (netlab's `false` is an absence), and
//!   tshark's bytes must be the option's;
//! - `frame.protocols`: `engineio` and `socketio` are netlab's own (tshark has no such
//!   dissector) and are left out; where netlab ends with `data` (bytes it does not
//!   decode), tshark may name a protocol netlab has no dissector for (UDP `echo`), so
//!   only what is below must be equal. Both must name the protocols of every frame: a
//!   missing string is a mismatch.

use std::collections::BTreeMap;
use std::process::Command;

use crate::common::{self, captures, name, netlab};

/// The fields compared: the issue's list, and more that netlab decodes.
const FIELDS: &[&str] = &[
    "frame.protocols",
    "frame.len",
    "frame.cap_len",
    "eth.src",
    "eth.dst",
    "eth.type",
    "vlan.id",
    "vlan.priority",
    "vlan.etype",
    "sll.pkttype",
    "sll.hatype",
    "sll.etype",
    "arp.opcode",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.hw_mac",
    "arp.dst.proto_ipv4",
    "ip.version",
    "ip.hdr_len",
    "ip.dsfield.dscp",
    "ip.len",
    "ip.id",
    "ip.flags.df",
    "ip.flags.mf",
    "ip.frag_offset",
    "ip.ttl",
    "ip.proto",
    "ip.checksum",
    "ip.src",
    "ip.dst",
    "ipv6.plen",
    "ipv6.nxt",
    "ipv6.hlim",
    "ipv6.flow",
    "ipv6.src",
    "ipv6.dst",
    "icmp.type",
    "icmp.code",
    "icmp.checksum",
    "icmp.ident",
    "icmp.seq",
    "icmpv6.type",
    "icmpv6.code",
    "icmpv6.checksum",
    "icmpv6.echo.identifier",
    "icmpv6.echo.sequence_number",
    "icmpv6.nd.ns.target_address",
    "icmpv6.nd.na.target_address",
    "icmpv6.opt.linkaddr",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.stream",
    "tcp.seq",
    "tcp.seq_raw",
    "tcp.ack",
    "tcp.ack_raw",
    "tcp.hdr_len",
    "tcp.flags",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.flags.fin",
    "tcp.flags.reset",
    "tcp.flags.push",
    "tcp.flags.urg",
    "tcp.window_size_value",
    "tcp.len",
    "tcp.checksum",
    "tcp.urgent_pointer",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.options.sack_perm",
    "tcp.options.timestamp.tsval",
    "tcp.options.timestamp.tsecr",
    "tcp.options.sack_le",
    "tcp.options.sack_re",
    "tcp.nxtseq",
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
    "tcp.analysis.bytes_in_flight",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "udp.checksum",
    "tcp.segment",
    "tcp.segment.count",
    "udp.stream",
    "http.request.method",
    "http.request.uri",
    "http.request.full_uri",
    "http.request.line",
    "http.response.line",
    "http.request_in",
    "http.response_for.uri",
    "http.user_agent",
    "http.server",
    "http.content_type",
    "http.content_length_header",
    "http.content_length",
    "http.transfer_encoding",
    "http.chunk_size",
    "urlencoded-form.key",
    "urlencoded-form.value",
    "http.request.version",
    "http.response.version",
    "http.response.code",
    "http.response.phrase",
    "http.host",
    "http.connection",
    "http.upgrade",
    "http.sec_websocket_key",
    "http.sec_websocket_accept",
    "http.sec_websocket_version",
    "websocket.fin",
    "websocket.rsv",
    "websocket.opcode",
    "websocket.mask",
    "websocket.payload_length",
    "websocket.payload_length_ext_16",
    "websocket.payload_length_ext_64",
    "websocket.masking_key",
    "websocket.payload.close.status_code",
    "media.type",
];

/// The ASN.1 dissectors tshark names in `frame.protocols` when it decodes an X.509
/// certificate inside TLS (one per attribute type, extension and key kind it meets).
const CERTIFICATE_ASN1: &[&str] = &[
    "x509af",
    "x509ce",
    "x509if",
    "x509sat",
    "pkcs-1",
    "pkix1explicit",
    "pkix1implicit",
    "pkixproxy",
    "pkixqualified",
    "pkixac",
    "cms",
    "ocsp",
    "ber",
];

/// What separates the occurrences of a field in tshark's output (a byte no value has).
pub(crate) const AGG: char = '\u{1f}';

/// Runs tshark on a capture; one map per packet. Every occurrence of a field is listed
/// (`-E occurrence=a`), as netlab's JSON lists them. tshark runs with its default
/// preferences: it reassembles TCP as netlab does.
fn tshark(file: &std::path::Path) -> Vec<BTreeMap<&'static str, String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(file);
    cmd.args(["-T", "fields", "-E", "occurrence=a", "-E", "separator=/t"]);
    cmd.args(["-E", &format!("aggregator={AGG}")]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("tshark is needed for this test ({e}); ./scripts/test.sh installs it")
    });
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            FIELDS
                .iter()
                .zip(line.split('\t'))
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (*k, v.to_string()))
                .collect()
        })
        .collect()
}

fn netlab_json(file: &std::path::Path) -> Vec<serde_json::Value> {
    let out = netlab()
        .args(["dissect", "--json"])
        .arg(file)
        .output()
        .expect("run netlab");
    assert!(
        out.status.success(),
        "netlab failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    common::json_lines(std::str::from_utf8(&out.stdout).expect("utf-8"))
}

/// Parses a tshark integer in decimal or `0x` hex.
fn int(s: &str) -> Option<i128> {
    match s.strip_prefix("0x") {
        Some(h) => i128::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Compares one field; `None` when they agree, else why not.
pub(crate) fn compare(
    field: &str,
    ours: Option<&serde_json::Value>,
    theirs: Option<&String>,
) -> Option<String> {
    use serde_json::Value as J;
    if field == "frame.protocols" {
        // tshark names the protocols of every frame, and so must netlab: a missing
        // string on either side is a disagreement, not a pass.
        let (o, t) = match (ours.and_then(|v| v.as_str()), theirs) {
            (Some(o), Some(t)) => (o, t),
            (o, t) => return Some(format!("netlab {o:?} vs tshark {t:?}: both must name them")),
        };
        let ol: Vec<&str> = o
            .split(':')
            .filter(|p| !matches!(*p, "engineio" | "socketio"))
            .collect();
        // The ASN.1 dissectors tshark calls on a TLS certificate are left out (netlab
        // does not take certificates apart); TLS's name, which they split, joins again.
        let mut tl: Vec<&str> = t
            .split(':')
            .filter(|p| !CERTIFICATE_ASN1.contains(p))
            .collect();
        tl.dedup();
        let ok = match ol.split_last() {
            // Above the transport netlab says "data"; tshark may name the application,
            // or name nothing when it keeps the bytes for reassembling a later PDU.
            Some((&"data", below)) => tl.len() >= below.len() && tl[..below.len()] == *below,
            _ => ol == tl,
        };
        return (!ok).then(|| format!("netlab {o:?} vs tshark {t:?}"));
    }
    if field == "tcp.options.sack_perm" {
        // A flag in netlab (absent or false: no such option), the option's bytes in
        // tshark (`0402`: kind 4, length 2): the same presence, both ways.
        let o = match ours {
            None | Some(J::Bool(false)) => false,
            Some(J::Bool(true)) => true,
            Some(o) => return Some(format!("netlab has {o}, not a flag")),
        };
        let t = match theirs.map(String::as_str) {
            None => false,
            Some("0402") => true,
            Some(t) => return Some(format!("tshark has {t:?}, not the option's bytes 0402")),
        };
        return (o != t).then(|| format!("netlab says {o}, tshark says {t}"));
    }
    match (ours, theirs) {
        (None, None) => None,
        (Some(o), None) => Some(format!("netlab has {o}, tshark has nothing")),
        (None, Some(t)) => Some(format!("netlab has nothing, tshark has {t:?}")),
        // Every occurrence, in order.
        (Some(o), Some(t)) => {
            let ours: Vec<&J> = match o {
                J::Array(a) => a.iter().collect(),
                o => vec![o],
            };
            let theirs: Vec<&str> = t.split(AGG).collect();
            if ours.len() != theirs.len() {
                return Some(format!(
                    "netlab has {} occurrence(s) {o}, tshark {} {:?}",
                    ours.len(),
                    theirs.len(),
                    t.replace(AGG, ",")
                ));
            }
            let differ = ours.iter().zip(&theirs).any(|(o, t)| !same(o, t));
            differ.then(|| format!("netlab {o} vs tshark {:?}", t.replace(AGG, ",")))
        }
    }
}

/// One occurrence's value, up to notation.
fn same(o: &serde_json::Value, t: &str) -> bool {
    use serde_json::Value as J;
    match o {
        J::Bool(b) => matches!((b, t), (true, "1" | "True") | (false, "0" | "False")),
        // A time in seconds (dns.time): equal to the nanosecond.
        J::Number(n) if n.is_f64() => t
            .parse::<f64>()
            .ok()
            .zip(n.as_f64())
            .is_some_and(|(a, b)| (a - b).abs() < 5e-10),
        J::Number(n) => n.as_i64().map(|n| n as i128) == int(t),
        // tshark writes a string's CR, LF and tab as escapes.
        // An empty bytes field: tshark writes `<MISSING>` (a DNS cookie with no server
        // part).
        J::String(s) if s.is_empty() => t == "<MISSING>",
        J::String(s) => {
            s == t
                || s.replace('\r', "\\r")
                    .replace('\n', "\\n")
                    .replace('\t', "\\t")
                    == t
        }
        _ => false,
    }
}

#[test]
fn every_capture_agrees_with_tshark_field_by_field() {
    let mut compared = 0usize;
    let mut present = 0usize;
    let mut mismatches = Vec::new();
    let mut per_field: BTreeMap<&str, usize> = BTreeMap::new();
    for file in captures() {
        let ours = netlab_json(&file);
        let theirs = tshark(&file);
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{}: netlab shows {} packets, tshark {}",
            name(&file),
            ours.len(),
            theirs.len()
        );
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            let fields = &o["fields"];
            for f in FIELDS {
                compared += 1;
                let ov = fields.get(*f);
                let tv = t.get(f);
                if tv.is_some() {
                    present += 1;
                    *per_field.entry(f).or_default() += 1;
                }
                if let Some(why) = compare(f, ov, tv) {
                    mismatches.push(format!("{} packet {}: {f}: {why}", name(&file), i + 1));
                }
            }
        }
    }
    println!(
        "tshark oracle: {compared} field comparisons over {} captures, {present} values present in tshark, {} mismatches",
        captures().len(),
        mismatches.len()
    );
    for (f, n) in &per_field {
        println!("  {f:<32} {n:>6} values compared");
    }
    let mut by_field: BTreeMap<String, usize> = BTreeMap::new();
    for m in &mismatches {
        let f = m.split(": ").nth(1).unwrap_or("?").to_string();
        *by_field.entry(f).or_default() += 1;
    }
    for (f, n) in &by_field {
        println!("  MISMATCH {f}: {n}");
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches with tshark, first ones:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The comparison itself cannot pass by default: a value on one side only is a
/// mismatch, both ways, for every field and the two special ones.
#[test]
fn the_comparison_holds_both_ways() {
    use serde_json::json;
    let t = |s: &str| Some(s.to_string());
    let protocols = json!("eth:ethertype:ip:tcp");
    assert!(
        compare(
            "frame.protocols",
            Some(&protocols),
            t("eth:ethertype:ip:tcp").as_ref()
        )
        .is_none()
    );
    assert!(compare("frame.protocols", None, t("eth:ethertype:ip:tcp").as_ref()).is_some());
    assert!(compare("frame.protocols", Some(&protocols), None).is_some());
    assert!(compare("frame.protocols", None, None).is_some());
    let data = json!("eth:ethertype:ip:tcp:data");
    assert!(
        compare(
            "frame.protocols",
            Some(&data),
            t("eth:ethertype:ip:tcp:http").as_ref()
        )
        .is_none()
    );
    assert!(
        compare(
            "frame.protocols",
            Some(&data),
            t("eth:ethertype:ip:udp:dns").as_ref()
        )
        .is_some()
    );

    let (yes, no) = (json!(true), json!(false));
    let f = "tcp.options.sack_perm";
    assert!(compare(f, Some(&yes), t("0402").as_ref()).is_none());
    assert!(compare(f, None, None).is_none());
    assert!(compare(f, Some(&no), None).is_none());
    assert!(
        compare(f, Some(&yes), None).is_some(),
        "netlab sees an option tshark does not"
    );
    assert!(compare(f, None, t("0402").as_ref()).is_some());
    assert!(compare(f, Some(&no), t("0402").as_ref()).is_some());
    assert!(compare(f, Some(&yes), t("0403").as_ref()).is_some());

    let ttl = json!(64);
    assert!(compare("ip.ttl", Some(&ttl), t("64").as_ref()).is_none());
    assert!(compare("ip.ttl", Some(&ttl), None).is_some());
    assert!(compare("ip.ttl", None, t("64").as_ref()).is_some());
    assert!(compare("ip.flags.df", Some(&yes), t("0").as_ref()).is_some());
}
