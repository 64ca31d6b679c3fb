//! Dissector bugs other engineers reported (notes/for-dissect.md), each checked on
//! real captures: `ws-upgrade -w` pcaps with frames spanning segments, a Socket.IO ACK
//! given an event name, byte offsets past the end of the frame.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{captures, name, netlab, root};

const SIO: &str = "tcp.port==8765,http";

fn json(file: &Path, rules: &[&str]) -> Vec<Value> {
    let mut cmd = netlab();
    cmd.args(["dissect", "--json"]);
    for r in rules {
        cmd.args(["-d", r]);
    }
    let out = cmd.arg(file).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every occurrence of `key` in a packet's fields, as strings.
fn values(pkt: &Value, key: &str) -> Vec<String> {
    let show = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => u8::from(*b).to_string(),
        v => v.to_string(),
    };
    match pkt["fields"].get(key) {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(show).collect(),
        Some(v) => vec![show(v)],
    }
}

#[test]
fn ws_upgrade_pcap_frames_spanning_segments_read_as_tshark_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ws.pcap");
    let out = netlab()
        .args(["ws-upgrade", "--color", "never", "-w"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let port = String::from_utf8_lossy(&out.stdout)
        .split("listens on 127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|p| p.parse::<u16>().ok())
        .expect("the server's port");
    let list = netlab()
        .args(["dissect", "--color", "never", "-v"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(list.status.success());
    let text = String::from_utf8(list.stdout).unwrap();
    for bad in [
        "Packet size limited",
        "[malformed",
        "Reserved (data)",
        "[incomplete",
    ] {
        assert!(!text.contains(bad), "{bad:?} in:\n{text}");
    }

    // Frame by frame, the WebSocket fields tshark finds (it reassembles too).
    let rule = format!("tcp.port=={port},http");
    let fields = [
        "websocket.opcode",
        "websocket.fin",
        "websocket.mask",
        "websocket.payload_length",
        "websocket.payload_length_ext_16",
        "websocket.payload_length_ext_64",
        "tcp.segment",
    ];
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(&file).args(["-d", &rule]);
    cmd.args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]);
    cmd.args(["-e", "frame.number"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let t = cmd.output().expect("tshark installed");
    assert!(t.status.success(), "{t:?}");
    let want: HashMap<u64, Vec<String>> = String::from_utf8(t.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut cols = l.split('\t');
            let n = cols.next().unwrap().parse().unwrap();
            (n, cols.map(str::to_string).collect())
        })
        .collect();
    let pkts = json(&file, &[&rule]);
    assert_eq!(pkts.len(), want.len());
    let mut big = 0;
    for p in &pkts {
        let n = p["number"].as_u64().unwrap();
        let got: Vec<String> = fields.iter().map(|f| values(p, f).join(",")).collect();
        assert_eq!(got, want[&n], "frame {n}: {fields:?}");
        if values(p, "websocket.payload_length_ext_64") == ["70000"] {
            big += 1;
            assert_eq!(values(p, "tcp.segment").len(), 2, "frame {n}");
        }
    }
    assert_eq!(big, 2, "the 70,000-byte message and its echo");
}

#[test]
fn only_events_have_an_event_name() {
    for capture in ["socketio-ws.pcap", "socketio-polling.pcap"] {
        let pkts = json(&root().join("captures").join(capture), &[SIO]);
        let (mut acks, mut events) = (0, 0);
        for p in &pkts {
            let types = values(p, "socketio.packet_type");
            let names = values(p, "socketio.event");
            // Every EVENT (2) and BINARY_EVENT (5) has a name, in order; nothing else.
            let want = types
                .iter()
                .filter(|t| matches!(t.as_str(), "2" | "5"))
                .count();
            assert_eq!(
                names.len(),
                want,
                "{capture} frame {}: {types:?} {names:?}",
                p["number"]
            );
            acks += types
                .iter()
                .filter(|t| matches!(t.as_str(), "3" | "6"))
                .count();
            events += want;
        }
        assert!(
            acks > 0 && events > 0,
            "{capture}: {acks} acks, {events} events"
        );
    }
}

/// Checks that every `[bytes a-b …]` and `@offset+len` of a `-v -x` rendering lies in
/// its buffer: the frame's captured bytes, or the source it names (whose size `-x`
/// prints as `Label (N bytes):`).
fn offsets_in_their_buffers(text: &str, what: &str) -> usize {
    let mut checked = 0;
    for packet in text.split("\nFrame ") {
        let Some(caplen) = packet
            .split(" bytes captured")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        let mut size: HashMap<&str, usize> = HashMap::new();
        for l in packet.lines() {
            if let Some(head) = l.strip_suffix(" bytes):")
                && let Some((label, n)) = head.rsplit_once(" (")
            {
                size.insert(label, n.parse().unwrap());
            }
        }
        let mut layer_buf = caplen;
        for l in packet.lines() {
            if let Some(at) = l.find("  [bytes ") {
                let inner = &l[at + 9..l.rfind(" bytes]").unwrap()];
                let (span, _) = inner.split_once(", ").unwrap();
                let (span, buf) = match span.split_once(" of ") {
                    Some((s, label)) => (s, size[label]),
                    None => (span, caplen),
                };
                let end: usize = span.split('-').nth(1).unwrap().parse().unwrap();
                assert!(end < buf, "{what}: {l} (buffer of {buf} bytes)");
                layer_buf = buf;
                checked += 1;
            } else if let Some(at) = l.rfind("  @") {
                let rest = &l[at + 3..];
                let (pos, place) = match rest.split_once(" in ") {
                    Some((p, "the frame")) => (p, caplen),
                    Some((p, label)) => (p, size[label]),
                    None => (rest, layer_buf),
                };
                let Some((s, n)) = pos.split_once('+') else {
                    continue;
                };
                let (Ok(s), Ok(n)) = (s.parse::<usize>(), n.parse::<usize>()) else {
                    continue;
                };
                assert!(s + n <= place, "{what}: {l} (buffer of {place} bytes)");
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn byte_offsets_stay_inside_their_buffers() {
    let mut checked = 0;
    for file in captures() {
        let out = netlab()
            .args(["dissect", "--color", "never", "-v", "-x", "-d", SIO])
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        checked += offsets_in_their_buffers(&text, &name(&file));
    }
    assert!(checked > 10_000, "{checked} offsets checked");
    // The WebSocket payloads in particular: unmasked, in their own buffer.
    let out = netlab()
        .args(["dissect", "--color", "never", "-v", "-x", "-d", SIO])
        .arg(root().join("captures/socketio-ws.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(" of Unmasked WebSocket payload, "),
        "{}",
        &text[..2000]
    );
}
