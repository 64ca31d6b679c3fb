//! Real invocations of the binary: conventions, bad inputs, exit codes.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::common::{Listening, captures, netlab, root};

fn capture(n: &str) -> std::path::PathBuf {
    let p = root().join("captures").join(n);
    assert!(p.exists(), "{} missing", p.display());
    p
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = netlab().args(args).output().expect("run netlab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tshark_count(file: &std::path::Path, filter: Option<&str>) -> Vec<u64> {
    let mut c = Command::new("tshark");
    c.args(["-n", "-r"])
        .arg(file)
        .args(["-T", "fields", "-e", "frame.number"]);
    if let Some(f) = filter {
        c.args(["-Y", f]);
    }
    let out = c.output().expect("tshark installed (./scripts/test.sh)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn packet_list_has_one_line_per_packet() {
    for file in captures() {
        let (code, out, err) = run(&["dissect", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {err}", file.display());
        assert_eq!(
            out.lines().count(),
            tshark_count(&file, None).len(),
            "{}",
            file.display()
        );
    }
}

#[test]
fn empty_file_is_not_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.pcap");
    std::fs::write(&p, b"").unwrap();
    let (code, out, err) = run(&["dissect", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(
        err.trim(),
        format!(
            "netlab: error: {} is not a pcap or pcapng file (it is empty)",
            p.display()
        )
    );
}

#[test]
fn text_file_names_its_first_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let (code, _, err) = run(&["dissect", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("is not a pcap or pcapng file (it starts with 0x47455420)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn missing_file_is_one_line_error() {
    let (code, _, err) = run(&["dissect", "/nonexistent/x.pcap"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("netlab: error: cannot open /nonexistent/x.pcap"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn usage_error_exits_2() {
    let (code, _, err) = run(&["dissect", "--no-such-flag", "x"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run(&["dissect", "--color", "sometimes", "x"]);
    assert_eq!(code, 2);
}

#[test]
fn cut_file_shows_complete_packets_then_warns() {
    let src = capture("http.pcap");
    let bytes = std::fs::read(&src).unwrap();
    let total = tshark_count(&src, None).len();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.pcap");
    let cut_at = bytes.len() - 7;
    std::fs::write(&p, &bytes[..cut_at]).unwrap();
    let (code, out, err) = run(&["dissect", p.to_str().unwrap()]);
    assert_eq!(code, 1, "documented: a cut capture exits 1");
    assert_eq!(out.lines().count(), total - 1);
    assert!(err.starts_with("netlab: warning: "), "{err}");
    assert!(
        err.contains(&format!("cut short at byte {cut_at}")),
        "{err}"
    );
    // Cut inside a record header.
    let mut at = 24;
    for _ in 0..2 {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
    }
    std::fs::write(&p, &bytes[..at + 5]).unwrap();
    let (code, out, err) = run(&["dissect", p.to_str().unwrap()]);
    assert_eq!((code, out.lines().count()), (1, 2), "{err}");
    assert!(err.contains("16-byte record header, found only 5"), "{err}");
}

#[test]
fn stdin_reads_the_same_as_a_file() {
    let file = capture("dns.pcap");
    let (_, want, _) = run(&["dissect", file.to_str().unwrap()]);
    let mut child = netlab()
        .args(["dissect", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&file).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
}

#[test]
fn count_limits_packets() {
    let (code, out, _) = run(&["dissect", "-c", "2", capture("http.pcap").to_str().unwrap()]);
    assert_eq!((code, out.lines().count()), (0, 2));
}

#[test]
fn colour_conventions() {
    let f = capture("http.pcap");
    let f = f.to_str().unwrap();
    let (_, out, _) = run(&["dissect", "--color", "always", f]);
    assert!(out.contains("\x1b["), "always: ANSI colours");
    // Not a terminal: auto means no colours.
    let (_, out, _) = run(&["dissect", f]);
    assert!(!out.contains('\x1b'));
    let (_, out, _) = run(&["dissect", "--color", "never", "-v", "-x", f]);
    assert!(!out.contains('\x1b'));
    // NO_COLOR turns colours off in auto mode (no-color.org).
    let out = netlab()
        .env("NO_COLOR", "1")
        .args(["dissect", "-v", f])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
}

/// `--color` and `NO_COLOR` hold for the WebSocket and Socket.IO commands too (and
/// every command: one `Output` carries the style), not only for `dissect`.
#[test]
fn ws_and_socketio_honour_color() {
    let mut cmd = netlab();
    cmd.args(["ws", "serve", "--echo", "--addr", "127.0.0.1:0"]);
    let ws = Listening::start(cmd);
    let mut cmd = netlab();
    cmd.args(["socketio", "serve", "--addr", "127.0.0.1:0"]);
    let sio = Listening::start(cmd);
    let ws_url = format!("ws://{}/", ws.addr);
    let sio_url = format!("http://{}", sio.addr);
    let cases: [&[&str]; 4] = [
        &["ws", "connect", &ws_url, "--send", "hi", "--trace"],
        &[
            "socketio", "connect", &sio_url, "--emit", "chat", "\"hi\"", "--ack",
        ],
        &["socketio", "demo"],
        &["tcp", "connect", "--own-server", "--send", "hi"],
    ];
    for args in cases {
        let (code, out, err) = run(&[args, &["--color", "always"]].concat());
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            out.contains("\x1b["),
            "{args:?} --color always: no colours in\n{out}"
        );
        let (code, out, err) = run(&[args, &["--color", "never"]].concat());
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(!out.contains('\x1b'), "{args:?} --color never:\n{out}");
        // NO_COLOR wins over auto (here not a terminal anyway) but not over `always`.
        let out = netlab().env("NO_COLOR", "1").args(args).output().unwrap();
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains('\x1b'),
            "{args:?}"
        );
    }
}

#[test]
fn json_is_ndjson_with_the_documented_keys() {
    let (code, out, _) = run(&["dissect", "--json", capture("http.pcap").to_str().unwrap()]);
    assert_eq!(code, 0);
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for k in [
            "number", "time", "len", "caplen", "layers", "fields", "summary", "warnings",
        ] {
            assert!(v.get(k).is_some(), "missing {k} in {line}");
        }
        assert!(v["time"].as_f64().unwrap() > 1.0e9);
        assert_eq!(v["layers"][0], "eth");
    }
}

#[test]
fn snaplen_cut_packets_are_marked_not_dropped() {
    let f = capture("truncated-snaplen.pcap");
    let (code, out, _) = run(&["dissect", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), tshark_count(&f, None).len());
    assert!(
        out.contains("[Packet size limited during capture]"),
        "{out}"
    );
    let (_, json, _) = run(&["dissect", "--json", f.to_str().unwrap()]);
    assert!(json.lines().any(|l| l.contains("[truncated: ")), "{json}");
}

#[test]
fn filters_select_the_same_packets_as_tshark() {
    let cases = [
        ("http.pcap", "tcp"),
        ("http.pcap", "tcp.flags.syn == 1 && tcp.flags.ack == 0"),
        ("http.pcap", "tcp.flags.syn == 1 && !(tcp.flags.ack == 1)"),
        (
            "ip-fragments.pcap",
            "ip.flags.mf == 1 || ip.frag_offset > 0",
        ),
        ("vlan.pcap", "vlan.id == 100 && ip.addr == 10.99.100.0/24"),
        ("ip6-fragments.pcap", "ipv6.fraghdr.more == 1"),
        ("icmp-errors.pcap", "icmp.type == 3 and udp.dstport == 9"),
        ("tcp6.pcap", "ipv6.addr == fd00:99::2 and tcp.len >= 1000"),
        ("http.pcap", "tcp.port == 80 and frame.len > 100"),
        ("http.pcap", "tcp.len > 0 || tcp.flags.fin == 1"),
        ("dns.pcap", "udp.port == 53"),
        ("ping4.pcap", "icmp.type == 8"),
        ("ping6.pcap", "icmpv6 && !(icmpv6.type == 128)"),
        ("arp.pcap", "arp.opcode == 2"),
        ("tcp-rst.pcap", "tcp.flags.reset == 1"),
    ];
    for (file, filter) in cases {
        let f = capture(file);
        let (code, out, err) = run(&["dissect", "--json", "--filter", filter, f.to_str().unwrap()]);
        assert_eq!(code, 0, "{filter}: {err}");
        let ours: Vec<u64> = out
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["number"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        let theirs = tshark_count(&f, Some(filter));
        assert!(
            !theirs.is_empty(),
            "{file} {filter}: tshark matched nothing; a useless case"
        );
        assert_eq!(ours, theirs, "{file}: {filter}");
    }
    // A bare field tests presence, as in Wireshark: every TCP segment has an ACK flag
    // field (0 or 1), so `!tcp.flags.ack` matches nothing, in tshark and in netlab.
    let f = capture("http.pcap");
    let filter = "tcp.flags.syn == 1 && !tcp.flags.ack";
    let (_, out, _) = run(&["dissect", "--filter", filter, f.to_str().unwrap()]);
    assert_eq!(out.lines().count(), tshark_count(&f, Some(filter)).len());
    assert_eq!(out.lines().count(), 0);
}

#[test]
fn bad_filter_points_at_the_token() {
    let (code, _, err) = run(&[
        "dissect",
        "--filter",
        "tcp.prot == 80",
        capture("http.pcap").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.starts_with("netlab: error: "), "{err}");
    assert!(err.contains("tcp.prot"), "{err}");
}

#[test]
fn stats_lists_protocols_and_conversations() {
    let (code, out, _) = run(&["dissect", "--stats", capture("http.pcap").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("TCP conversations (1):"), "{out}");
    assert!(out.contains("tcp"), "{out}");
    let n = tshark_count(&capture("http.pcap"), None).len();
    assert!(out.starts_with(&format!("Packets: {n} ")), "{out}");
}

#[test]
fn closed_pipe_exits_quietly() {
    // A big capture made with netlab's own writer: 200,000 copies of a real frame.
    let src = std::fs::read(capture("ping4.pcap")).unwrap();
    let mut r = netlab::capture::Reader::new(&src[..]).unwrap();
    let frame = r.next_record().unwrap().unwrap().data.to_vec();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.pcap");
    let mut w = netlab::capture::Writer::new(std::fs::File::create(&p).unwrap(), 1).unwrap();
    for i in 0..200_000u32 {
        w.write_packet(1_700_000_000 + i / 1000, i % 1000, &frame)
            .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let mut child = netlab()
        .args(["dissect", p.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // stdout is dropped here: the reader side of the pipe closes, like `| head -1`.
    let out = child.wait_with_output().unwrap();
    assert!(first.contains("ICMP"), "{first}");
    assert!(out.status.success(), "{:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn completions_and_help_examples() {
    let (code, out, _) = run(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("netlab"));
    let (code, out, _) = run(&["dissect", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Examples:") && out.contains("netlab dissect captures/http.pcap"));
}

/// tshark's `-z follow,PROTO,raw,N`: each node's bytes, in order.
fn tshark_follow(file: &std::path::Path, proto: &str, n: u32) -> [Vec<u8>; 2] {
    let out = Command::new("tshark")
        .args(["-n", "-q", "-r"])
        .arg(file)
        .args(["-z", &format!("follow,{proto},raw,{n}")])
        .output()
        .expect("tshark");
    let mut sides = [Vec::new(), Vec::new()];
    let text = String::from_utf8_lossy(&out.stdout);
    let body = text.split("Node 1: ").nth(1).unwrap_or("");
    for line in body.lines().skip(1) {
        if line.starts_with('=') || line.is_empty() {
            continue;
        }
        let (node, hex) = match line.strip_prefix('\t') {
            Some(h) => (1, h),
            None => (0, line),
        };
        for i in (0..hex.len()).step_by(2) {
            if let Ok(b) = u8::from_str_radix(&hex[i..i + 2], 16) {
                sides[node].push(b);
            }
        }
    }
    sides
}

#[test]
fn follow_gives_each_sides_bytes_as_tshark_does() {
    for (file, proto, n) in [
        ("http.pcap", "tcp", 0),
        ("tcp6.pcap", "tcp", 0),
        ("websocket.pcap", "tcp", 0),
        ("handshake-reorder.pcap", "tcp", 0),
        ("dns.pcap", "udp", 2),
    ] {
        let path = capture(file);
        let theirs = tshark_follow(&path, proto, n);
        for (side, node) in [("client", 0), ("server", 1)] {
            let out = netlab()
                .args(["dissect", "--follow", &format!("{proto}.stream=={n}")])
                .args(["--follow-format", "raw", "--follow-side", side])
                .arg(&path)
                .output()
                .expect("netlab");
            assert!(
                out.status.success(),
                "{file}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout, theirs[node], "{file} {side}");
            let counts = String::from_utf8_lossy(&out.stderr);
            assert!(
                counts.contains(&format!("{} bytes", theirs[node].len())),
                "{counts}"
            );
        }
    }
    // The text form names both sides and shows the request.
    let (code, out, _) = run(&[
        "dissect",
        "--color",
        "never",
        "--follow",
        "0",
        capture("http.pcap").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Node 0: 10.99.0.1:57950 (client: sent first)"),
        "{out}"
    );
    assert!(out.contains("GET /hello.txt HTTP/1.1\n"), "{out}");
    assert!(out.contains("\tHTTP/1.1 200 OK\n"), "{out}");
    assert!(
        out.contains("10.99.0.2:80 → 10.99.0.1:57950: 341 bytes in 4 packets"),
        "{out}"
    );
    // A stream that is not there is an error.
    let (code, _, err) = run(&[
        "dissect",
        "--follow",
        "udp.stream==9",
        capture("http.pcap").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no UDP stream 9"), "{err}");
}
