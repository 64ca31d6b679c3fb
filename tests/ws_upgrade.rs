//! `netlab ws-upgrade`: the loopback WebSocket demo, its printout and its pcap (checked
//! with tshark and `netlab dissect`).

use std::process::Command;

use crate::common::netlab;

const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn run(args: &[&str]) -> String {
    let out = netlab()
        .args(["ws-upgrade", "--color", "never"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn rfc_key_demo_shows_every_step() {
    let out = run(&["--key", RFC_KEY]);
    for want in [
        &format!("Sec-WebSocket-Key: {RFC_KEY}\\r\\n") as &str,
        "HTTP/1.1 101 Switching Protocols\\r\\n",
        &format!("Sec-WebSocket-Accept: {RFC_ACCEPT}\\r\\n"),
        // The derivation, step by step.
        &format!("{RFC_KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
        "b37a4f2cc0624f1690f64606cf385945b2bec4ea",
        &format!("{RFC_KEY} → {RFC_ACCEPT} (✓ equal"),
        // The three length forms.
        ".000 0101                payload length = 5",
        "16-bit extended length = 01 2c = 300",
        "64-bit extended length = 00 00 00 00 00 01 11 70 = 70000",
        "§ 10.3",
        "cache poisoning",
        // Ping/pong, fragments, close.
        "opcode = 0x9 (Ping)",
        "opcode = 0xa (Pong)",
        "reassembled 3 frames into one message: text \"Hello, fragmented world!\"",
        "status code = 03 e8 = 1000 (Normal Closure)",
        "close 1000 (Normal Closure) — the closing handshake is complete",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!out.contains('\x1b'), "colour with --color never");
    // The fragments: FIN=0 text, FIN=0 continuation, FIN=1 continuation.
    let frag = out.find("5. A fragmented message").unwrap();
    let tail = &out[frag..];
    let a = tail.find("FIN=0 RSV=000 opcode=0x1 (Text)").unwrap();
    let b = tail
        .find("FIN=0 RSV=000 opcode=0x0 (Continuation)")
        .unwrap();
    let c = tail
        .find("FIN=1 RSV=000 opcode=0x0 (Continuation)")
        .unwrap();
    assert!(a < b && b < c);
}

#[test]
fn random_key_and_bad_key() {
    let out = run(&[]);
    assert!(out.contains("101 Switching Protocols"));
    assert!(out.contains("✓ equal"));
    assert!(!out.contains("✗"));
    let bad = netlab()
        .args(["ws-upgrade", "--key", "AQIDBAUGBwgJCgsMDQ4P"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("exactly 16 bytes"));
}

#[test]
fn colours_when_asked() {
    let out = netlab()
        .args(["ws-upgrade", "--color", "always"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\x1b["));
}

#[test]
fn pcap_reads_in_tshark_and_dissect() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ws.pcap");
    let out = run(&["--key", RFC_KEY, "-w", file.to_str().unwrap()]);
    assert!(out.contains("Saved "), "{out}");
    // The server's port, from the first line.
    let port: u16 = out
        .split("listens on 127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|p| p.parse().ok())
        .expect("the server's port in the first line");

    let tshark = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args(["-d", &format!("tcp.port=={port},http"), "-Y", "websocket"])
        .args([
            "-T",
            "fields",
            "-e",
            "websocket.opcode",
            "-e",
            "websocket.fin",
        ])
        .args([
            "-e",
            "websocket.mask",
            "-e",
            "websocket.payload_length_ext_16",
        ])
        .args(["-e", "websocket.payload_length_ext_64"])
        .output()
        .expect("tshark installed");
    assert!(tshark.status.success(), "{tshark:?}");
    let text = String::from_utf8(tshark.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let ops: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    // Text, echo; 300 bytes, echo; 70000 bytes, echo; ping, pong; 3 fragments, echo;
    // close, close.
    assert_eq!(
        ops,
        [
            "1", "1", "2", "2", "2", "2", "9", "10", "1", "0", "0", "1", "8", "8"
        ],
        "{text}"
    );
    // Client frames masked, server frames not.
    let masks: Vec<&str> = rows.iter().map(|r| r[2]).collect();
    assert_eq!(
        masks,
        [
            "1", "0", "1", "0", "1", "0", "1", "0", "1", "1", "1", "0", "1", "0"
        ],
        "{text}"
    );
    let fins: Vec<&str> = rows[8..11].iter().map(|r| r[1]).collect();
    assert_eq!(fins, ["0", "0", "1"], "{text}");
    assert_eq!(rows[2][3], "300", "{text}");
    assert_eq!(rows[4][4], "70000", "{text}");

    // No TCP trouble in the synthetic segments (bad checksums, unseen segments…).
    let warn = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args(["-Y", "_ws.expert.severity >= warning || tcp.analysis.flags"])
        .output()
        .unwrap();
    assert!(warn.status.success(), "{warn:?}");
    let warn = String::from_utf8_lossy(&warn.stdout);
    assert!(warn.trim().is_empty(), "tshark complains:\n{warn}");

    let dissect = netlab().arg("dissect").arg(&file).output().unwrap();
    assert!(dissect.status.success(), "{dissect:?}");
    let text = String::from_utf8_lossy(&dissect.stdout);
    assert!(text.lines().count() > 20, "{text}");
}
