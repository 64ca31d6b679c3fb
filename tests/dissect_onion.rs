//! `netlab dissect --onion N`: a captured packet drawn as nested layers. The sizes it
//! gives each layer (its header, its unit, the message, the frames a message was put
//! back together from) are checked against tshark's fields for the same packet of the
//! real captures in captures/, and the drawing against the conventions (80 columns,
//! colour only when asked).

use std::path::Path;
use std::process::Command;

use crate::common::{netlab, root};

const SIO: &str = "tcp.port==8765,http";

fn onion_of(file: &Path, n: u64, extra: &[&str]) -> String {
    let out = netlab()
        .args(["dissect", "--color", "never", "--onion", &n.to_string()])
        .args(extra)
        .arg(file)
        .output()
        .expect("run netlab");
    assert!(
        out.status.success(),
        "--onion {n} {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn onion(capture: &str, n: u64, extra: &[&str]) -> String {
    onion_of(&root().join("captures").join(capture), n, extra)
}

/// tshark's values of `fields` for packet `n` (every occurrence, comma-separated).
fn tshark_of(file: &Path, n: u64, rules: &[&str], fields: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(file);
    for r in rules {
        cmd.args(["-d", r]);
    }
    cmd.args(["-Y", &format!("frame.number=={n}"), "-T", "fields"]);
    cmd.args(["-E", "occurrence=a", "-E", "aggregator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .expect("tshark is needed for this test; ./scripts/test.sh installs it");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().next().unwrap_or_default();
    line.split('\t').map(str::to_string).collect()
}

fn tshark(capture: &str, n: u64, rules: &[&str], fields: &[&str]) -> Vec<String> {
    tshark_of(&root().join("captures").join(capture), n, rules, fields)
}

fn int(s: &str) -> usize {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

/// The bill: `(course, layer, bytes)` per line of "What each layer costs".
fn bill(text: &str) -> Vec<(String, String, usize)> {
    let start = text
        .find("What each layer costs, in bytes:\n")
        .unwrap_or_else(|| panic!("no bill in:\n{text}"));
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(words.last(), Some(&"B"), "{l}");
            let n = words.len();
            (
                words[0].to_string(),
                words[1..n - 2].join(" "),
                int(words[n - 2]),
            )
        })
        .collect()
}

fn row<'a>(bill: &'a [(String, String, usize)], layer: &str) -> &'a (String, String, usize) {
    bill.iter()
        .find(|(_, l, _)| l == layer)
        .unwrap_or_else(|| panic!("no {layer} in {bill:?}"))
}

/// The sentence after the bill, on one line.
fn sentence(text: &str) -> String {
    let tail = text.rsplit("\n\n").next().unwrap_or_default();
    tail.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The title line of a ring: `┌─ Course · Name ─── header H B of T B ─┐`.
fn ring_sizes(text: &str, title: &str) -> (usize, usize) {
    let line = text
        .lines()
        .find(|l| l.contains(&format!("┌─ {title} ")))
        .unwrap_or_else(|| panic!("no ring {title:?} in:\n{text}"));
    let at = line.find("header ").expect("a header size") + "header ".len();
    let words: Vec<&str> = line[at..].split_whitespace().collect();
    (int(words[0]), int(words[3]))
}

#[test]
fn a_socketio_event_over_websocket_agrees_with_tshark() {
    let text = onion("socketio-ws.pcap", 27, &["-d", SIO]);
    let t = tshark(
        "socketio-ws.pcap",
        27,
        &[SIO],
        &[
            "frame.len",
            "ip.hdr_len",
            "ip.len",
            "tcp.hdr_len",
            "tcp.len",
            "websocket.payload_length",
            "text",
        ],
    );
    let b = bill(&text);
    assert_eq!(row(&b, "Ethernet II").2, 14);
    assert_eq!(row(&b, "IPv4").2, int(&t[1]));
    assert_eq!(row(&b, "TCP").2, int(&t[3]));
    // The WebSocket frame is the TCP segment's data; its header what the payload is not.
    let (ws_header, ws_total) = ring_sizes(&text, "Application · WebSocket");
    assert_eq!(ws_total, int(&t[4]));
    assert_eq!(ws_header, int(&t[4]) - int(&t[5]));
    assert_eq!(
        ring_sizes(&text, "Network · IPv4"),
        (int(&t[1]), int(&t[2]))
    );
    // Engine.IO's "4" and Socket.IO's "2" around the event's JSON.
    let payload = t[6][t[6].find("42[").expect("the Engine.IO text")..].to_string();
    assert!(payload.starts_with("42["), "{payload}");
    assert_eq!(
        row(&b, "Engine.IO"),
        &("Application".into(), "Engine.IO".into(), 1)
    );
    assert_eq!(
        row(&b, "Socket.IO"),
        &("Application".into(), "Socket.IO".into(), 1)
    );
    let message = row(&b, "Socket.IO data");
    assert_eq!(message.0, "Message");
    assert_eq!(message.2, payload.len() - 2);
    assert!(
        text.contains(r#""[\"hello\",\"world\",{\"layer\":7}]""#),
        "{text}"
    );
    assert!(
        text.contains(r#"EVENT "hello" ["world",{"layer":7}] /"#),
        "{text}"
    );
    let sum: usize = b.iter().map(|r| r.2).sum();
    assert_eq!(sum, int(&t[0]), "{b:?}");
    assert_eq!(
        sentence(&text),
        format!(
            "This {}-byte message crossed the wire in a 103-byte frame: {} bytes of it (72%) are the headers of the layers around the message.",
            message.2,
            103 - message.2
        )
    );
    // Outermost first, each inside the one before.
    let order: Vec<usize> = [
        "Link · Ethernet II",
        "Network · IPv4",
        "Transport · TCP",
        "Application · WebSocket",
        "Application · Engine.IO",
        "Application · Socket.IO",
        "Message: Socket.IO data",
    ]
    .iter()
    .map(|t| text.find(&format!("┌─ {t} ")).expect(t))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn a_message_put_back_together_names_its_segments_as_tshark_does() {
    let text = onion("http.pcap", 8, &[]);
    let t = tshark(
        "http.pcap",
        8,
        &[],
        &[
            "tcp.segment",
            "tcp.reassembled.length",
            "http.content_length",
            "tcp.len",
            "frame.len",
        ],
    );
    let (segments, whole, body) = (&t[0], int(&t[1]), int(&t[2]));
    let b = bill(&text);
    assert_eq!(row(&b, "HTTP").2, whole - body, "the head: {b:?}");
    assert_eq!(row(&b, "Line-based text data").2, body);
    let s = sentence(&text);
    let frames = segments.replace(',', ", ");
    assert!(
        s.starts_with(&format!(
            "This {whole}-byte HTTP message crossed the wire in 2 TCP segments (frames {frames}),"
        )),
        "{s}"
    );
    let headers = int(&t[4]) - int(&t[3]);
    assert!(
        s.contains(&format!(
            "this {}-byte frame, the last of them, carries {} bytes of it behind {headers} bytes of headers",
            t[4], t[3]
        )),
        "{s}"
    );
}

#[test]
fn a_dns_query_is_itself_the_message() {
    let text = onion("dns.pcap", 1, &[]);
    let t = tshark(
        "dns.pcap",
        1,
        &[],
        &["udp.length", "frame.len", "dns.qry.name"],
    );
    let b = bill(&text);
    assert_eq!(row(&b, "UDP").2, 8);
    assert_eq!(row(&b, "DNS").2, int(&t[0]) - 8);
    assert!(text.contains("┌─ Application · DNS "), "{text}");
    assert!(text.contains(&t[2]), "the query's name: {text}");
    assert!(
        sentence(&text).starts_with(&format!(
            "This {}-byte message crossed the wire in a {}-byte frame",
            int(&t[0]) - 8,
            t[1]
        )),
        "{text}"
    );
}

#[test]
fn several_records_in_one_segment_are_counted() {
    let text = onion("tls13.pcap", 6, &[]);
    let t = tshark("tls13.pcap", 6, &[], &["tls.record.length"]);
    let records: Vec<usize> = t[0].split(',').map(int).collect();
    let b = bill(&text);
    assert_eq!(row(&b, "TLS").2, 5 + records[0]);
    let rest: usize = records[1..].iter().map(|r| 5 + r).sum();
    assert!(
        sentence(&text).ends_with(&format!(
            "and {} more messages in the same frame ({rest} bytes).",
            records.len() - 1
        )),
        "{text}"
    );
}

#[test]
fn application_layers_of_every_protocol_are_rings() {
    for (capture, n, rules, ring) in [
        ("ssh.pcap", 9, &[][..], "Application · SSH"),
        ("ftp.pcap", 6, &[], "Application · FTP"),
        ("smtp.pcap", 6, &[], "Application · SMTP"),
        ("tls12.pcap", 4, &[], "Application · TLS"),
        ("dns-records.pcap", 2, &[], "Application · DNS"),
        ("socketio-polling.pcap", 31, &[SIO], "Application · HTTP"),
        (
            "socketio-polling.pcap",
            31,
            &[SIO],
            "Application · Socket.IO",
        ),
    ] {
        let extra: Vec<&str> = rules.iter().flat_map(|r| ["-d", r]).collect();
        let text = onion(capture, n, &extra);
        assert!(
            text.contains(&format!("┌─ {ring} ")),
            "{capture} {n}: no {ring}:\n{text}"
        );
    }
    // An SSH packet put back together from two segments, as tshark has it.
    let text = onion("ssh.pcap", 9, &[]);
    let t = tshark(
        "ssh.pcap",
        9,
        &[],
        &["tcp.segment", "tcp.reassembled.length"],
    );
    assert!(
        sentence(&text).starts_with(&format!(
            "This {}-byte message crossed the wire in 2 TCP segments (frames {})",
            t[1],
            t[0].replace(',', ", ")
        )),
        "{text}"
    );
}

#[test]
fn a_bare_ack_and_an_icmp_error() {
    let text = onion("http.pcap", 3, &[]);
    assert!(
        sentence(&text).starts_with("This 66-byte frame carries no application data"),
        "{text}"
    );
    let text = onion("icmp-errors.pcap", 2, &[]);
    let t = tshark("icmp-errors.pcap", 2, &[], &["frame.len", "ip.hdr_len"]);
    let b = bill(&text);
    assert_eq!(row(&b, "ICMP").2, 8);
    let quoted = row(&b, "the datagram it reports on").2;
    assert_eq!(14 + 20 + 8 + quoted, int(&t[0]), "{b:?}");
    assert!(text.contains("UDP Src Port: 41490, Dst"), "{text}");
}

#[test]
fn websocket_frames_spanning_segments_of_ws_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ws.pcap");
    let out = netlab()
        .args(["ws-upgrade", "-w"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The 70,000-byte binary message from the client: its frame is the PDU tshark
    // reassembles from two segments.
    let list = netlab()
        .args(["dissect", "--color", "never"])
        .arg(&file)
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    let n: u64 = list
        .lines()
        .find(|l| l.contains("WebSocket Binary [FIN] [MASKED]") && l.contains(" 4559 "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no 70000-byte frame in:\n{list}"));
    let port = list
        .lines()
        .next()
        .and_then(|l| l.split(" → ").nth(2))
        .and_then(|p| p.split_whitespace().next())
        .expect("the server's port")
        .to_string();
    let rule = format!("tcp.port=={port},http");
    let t = tshark_of(
        &file,
        n,
        &[&rule],
        &[
            "tcp.segment",
            "tcp.reassembled.length",
            "websocket.payload_length_ext_64",
        ],
    );
    let text = onion_of(&file, n, &[]);
    assert_eq!(
        ring_sizes(&text, "Application · WebSocket"),
        (int(&t[1]) - int(&t[2]), int(&t[1]))
    );
    assert!(
        sentence(&text).starts_with(&format!(
            "This {}-byte WebSocket message crossed the wire in 2 TCP segments (frames {})",
            t[1],
            t[0].replace(',', ", ")
        )),
        "{text}"
    );
    let b = bill(&text);
    assert_eq!(row(&b, "Raw IP (no link header)").2, 0);
    assert_eq!(row(&b, "the application's bytes").2, int(&t[2]));
}

#[test]
fn fits_80_columns_and_colours_only_when_asked() {
    let file = root().join("captures/socketio-ws.pcap");
    let frames = netlab()
        .args(["dissect", "-d", SIO])
        .arg(&file)
        .output()
        .unwrap();
    let count = String::from_utf8_lossy(&frames.stdout).lines().count() as u64;
    assert!(count > 20);
    for n in 1..=count {
        let text = onion_of(&file, n, &["-d", SIO]);
        for l in text.lines() {
            assert!(l.chars().count() <= 80, "frame {n}: {l:?}");
        }
        assert!(!text.contains('\x1b'), "colour with --color never");
    }
    let coloured = netlab()
        .args(["dissect", "--color", "always", "--onion", "27", "-d", SIO])
        .arg(&file)
        .output()
        .unwrap();
    let coloured = String::from_utf8(coloured.stdout).unwrap();
    assert!(coloured.contains("\x1b["), "{coloured}");
    // Without the escapes, the same drawing.
    let stripped: String = {
        let mut s = String::new();
        let mut esc = false;
        for c in coloured.chars() {
            match (esc, c) {
                (false, '\x1b') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, c) => s.push(c),
            }
        }
        s
    };
    assert_eq!(stripped, onion_of(&file, 27, &["-d", SIO]));
}

#[test]
fn a_packet_that_is_not_there() {
    let file = root().join("captures/dns.pcap");
    let out = netlab()
        .args(["dissect", "--onion", "100000"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("netlab: error: ") && err.contains("there is no packet 100000"),
        "{err}"
    );
    let out = netlab()
        .args(["dissect", "--onion", "0"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap refuses 0");
    let out = netlab()
        .args(["dissect", "--onion", "1", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--onion with --json");
}

#[test]
fn a_datagram_put_back_together_from_ip_fragments() {
    let text = onion("ip-fragments.pcap", 3, &[]);
    let t = tshark(
        "ip-fragments.pcap",
        3,
        &[],
        &[
            "ip.reassembled.length",
            "ip.len",
            "ip.hdr_len",
            "frame.len",
            "udp.length",
        ],
    );
    let b = bill(&text);
    assert_eq!(row(&b, "UDP").2, 8);
    assert_eq!(row(&b, "the application's bytes").2, int(&t[4]) - 8);
    assert_eq!(
        sentence(&text),
        format!(
            "This {}-byte message travelled in a {}-byte datagram that IP cut into fragments, \
             each sent in a frame of its own with its own link and IP headers; this {}-byte \
             frame, the last of them, carries {} bytes of it behind {} bytes of headers (3% of \
             the frame). netlab shows the whole datagram here, put back together, as Wireshark does.",
            int(&t[4]) - 8,
            t[0],
            t[3],
            int(&t[1]) - int(&t[2]),
            14 + int(&t[2]),
        )
    );
}
