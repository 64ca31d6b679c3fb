//! `--trace` shows the lower half of the onion: under each WebSocket frame, the TCP
//! segment, IP header and link header that carried it, seen with a packet socket on lo
//! (root: CI runs as root; elsewhere these tests say they are skipped); and, as user
//! `nobody` (no CAP_NET_RAW), what the socket knows from TCP_INFO and why the rest is
//! hidden.

use std::time::Duration;

use crate::common::{Listening, Need, ipv6_loopback, netlab, require};

/// What the tests that need root need it for.
const ROOT: &str = "CAP_NET_RAW for a packet socket, and setpriv to drop to nobody";

/// `netlab ws serve --trace` on port 0 of `host`, listening where it says.
fn ws_server(host: &str) -> Listening {
    let addr = if host.contains(':') {
        format!("[{host}]:0")
    } else {
        format!("{host}:0")
    };
    let mut cmd = netlab();
    cmd.args(["ws", "serve", "--trace", "--addr", &addr]);
    Listening::start(cmd)
}

/// Stops a server, after letting it print the close of the last connection, and
/// returns what it printed.
fn printed(server: Listening) -> String {
    std::thread::sleep(Duration::from_millis(300));
    server.output()
}

/// The numbers of one segment block under a frame's trace line.
#[derive(Debug, PartialEq)]
struct Seg {
    src_port: u16,
    dst_port: u16,
    flags: String,
    seq: u64,
    seq_raw: u64,
    len: u64,
    tcp_header: u64,
    ip_total: u64,
    link_header: u64,
    wire: u64,
}

fn after<'a>(line: &'a str, key: &str) -> &'a str {
    let i = line
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} not in {line:?}"));
    &line[i + key.len()..]
}

fn number(s: &str) -> u64 {
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number at {s:?}"))
}

/// The segment blocks that follow the frame trace line starting with `frame_prefix`
/// (e.g. `→ frame` or `[peer] ← frame`), in order. Lines may carry a `[peer] ` prefix.
fn segments_under(out: &str, frame_marker: &str) -> Vec<(String, Seg)> {
    blocks_under(out, frame_marker, |l| l.contains(" frame FIN="))
        .into_iter()
        .map(|(l, _, s)| (l, s))
        .collect()
}

/// Like [`segments_under`], for any trace: a block ends where `end` says; also returns
/// the block's lines.
fn blocks_under(
    out: &str,
    frame_marker: &str,
    end: impl Fn(&str) -> bool,
) -> Vec<(String, Vec<String>, Seg)> {
    let lines: Vec<&str> = out.lines().collect();
    let mut found = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if !l.contains(frame_marker) {
            continue;
        }
        let block: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| !end(l))
            .copied()
            .collect();
        let Some(tcp) = block.iter().find(|l| l.contains("└─ TCP segment #")) else {
            continue;
        };
        let ports = after(tcp, " segment #");
        let ports = &ports[ports.find(' ').unwrap() + 1..];
        let src_port = number(ports) as u16;
        let dst_port = number(after(ports, " → ")) as u16;
        let flags = after(tcp, "[").split(']').next().unwrap().to_string();
        let get = |key: &str| -> &str {
            block
                .iter()
                .find(|l| l.contains(key))
                .unwrap_or_else(|| panic!("no {key:?} under {l:?}:\n{}", block.join("\n")))
        };
        let seg = Seg {
            src_port,
            dst_port,
            flags,
            seq: number(after(tcp, "] seq ")),
            seq_raw: number(after(tcp, "(raw ")),
            len: number(after(tcp, " len ")),
            tcp_header: number(after(get("TCP adds "), "TCP adds ")),
            ip_total: number(after(get("total length "), "total length ")),
            link_header: number(after(get("the link adds "), "the link adds ")),
            wire: number(after(get(" on the wire = "), "= ")),
        };
        let block = block.iter().map(|l| l.to_string()).collect();
        found.push((l.to_string(), block, seg));
    }
    found
}

/// Every block's numbers add up: wire = link + IP total; IP total = 20 + TCP header +
/// data; and the data length is the frame's length from its own header.
fn check_arithmetic(seg: &Seg, frame_len: u64) {
    assert_eq!(seg.len, frame_len, "{seg:?}");
    assert!(
        seg.tcp_header >= 20 && seg.tcp_header.is_multiple_of(4),
        "{seg:?}"
    );
    assert_eq!(seg.ip_total, 20 + seg.tcp_header + seg.len, "{seg:?}");
    assert_eq!(seg.link_header, 14, "Ethernet II header on lo: {seg:?}");
    assert_eq!(seg.wire, seg.link_header + seg.ip_total, "{seg:?}");
    assert!(seg.flags.contains("ACK"), "{seg:?}");
}

#[test]
fn trace_shows_tcp_ip_and_link_under_each_frame_with_consistent_numbers() {
    require!(Need::Root(ROOT));
    let server = ws_server("127.0.0.1");
    let port: u16 = server.addr.rsplit(':').next().unwrap().parse().unwrap();
    let out = netlab()
        .args(["ws", "connect", &format!("ws://{}/", server.addr)])
        .args(["--send", "hi", "--trace"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let client = String::from_utf8_lossy(&out.stdout).into_owned();
    let server_out = printed(server);
    assert!(
        client.starts_with("trace: TCP/IP/link layers from a packet socket on lo"),
        "{client}"
    );

    // Client side: the masked text frame it sent: "hi" = 2 + 4 (mask key) + 2 bytes;
    // then, after the echo came back, its close frame (2 + 4 + 2 for the status code).
    let sent = segments_under(&client, "→ frame");
    assert_eq!(sent.len(), 2, "{client}");
    let lens = [8, 8];
    for ((line, seg), len) in sent.iter().zip(lens) {
        check_arithmetic(seg, len);
        assert_eq!(seg.dst_port, port, "{line}");
        assert!(line.contains("MASK=1"), "{line}");
    }
    // The stream positions follow on from each other: no gap, no overlap.
    assert_eq!(sent[1].1.seq, sent[0].1.seq + 8, "{client}");
    assert_eq!(sent[1].1.seq_raw, sent[0].1.seq_raw + 8, "{client}");
    // Relative sequence numbers count from the SYN: the first frame follows the HTTP
    // request, which is longer than 100 bytes.
    assert!(sent[0].1.seq > 100, "{client}");

    // The echo it received: unmasked, 2 + 2 bytes, then the server's close (2 + 2).
    let got = segments_under(&client, "← frame");
    assert_eq!(got.len(), 2, "{client}");
    for ((line, seg), len) in got.iter().zip([4, 4]) {
        check_arithmetic(seg, len);
        assert_eq!(seg.src_port, port, "{line}");
    }
    let client_port = sent[0].1.src_port;
    assert!(got.iter().all(|(_, s)| s.dst_port == client_port));
    assert_eq!(got[1].1.seq, got[0].1.seq + 4, "{client}");

    // The server watched the same segments with its own packet socket: the same raw
    // sequence numbers and lengths, seen from the other side.
    let server_got = segments_under(&server_out, "← frame");
    let server_sent = segments_under(&server_out, "→ frame");
    let raw = |v: &[(String, Seg)]| -> Vec<(u64, u64)> {
        v.iter().map(|(_, s)| (s.seq_raw, s.len)).collect()
    };
    assert_eq!(raw(&server_got), raw(&sent), "{server_out}");
    assert_eq!(raw(&server_sent), raw(&got), "{server_out}");
    assert!(
        server_out.contains(&format!("[127.0.0.1:{client_port}]     └─ TCP segment #")),
        "{server_out}"
    );
}

#[test]
fn trace_over_ipv6_shows_the_ipv6_header() {
    require!(Need::Root(ROOT));
    require!(ipv6_loopback());
    let server = ws_server("::1");
    let out = netlab()
        .args(["ws", "connect", &format!("ws://{}/", server.addr)])
        .args(["--send", "hi", "--trace"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let client = String::from_utf8_lossy(&out.stdout);
    let line = client
        .lines()
        .find(|l| l.contains("└─ IPv6 ::1 → ::1"))
        .unwrap_or_else(|| panic!("{client}"));
    // IPv6 payload length = TCP header + 8 bytes of frame; the header is 40 bytes.
    let tcp_header = number(after(
        client.lines().find(|l| l.contains("TCP adds ")).unwrap(),
        "TCP adds ",
    ));
    assert_eq!(
        number(after(line, "payload length ")),
        tcp_header + 8,
        "{client}"
    );
    assert!(client.contains("IPv6 adds 40 B"), "{client}");
    assert!(
        client.contains(&format!("= {} B on the wire", 14 + 40 + tcp_header + 8)),
        "{client}"
    );
}

#[test]
fn without_cap_net_raw_the_trace_shows_tcp_info_and_says_what_it_cannot_see() {
    require!(Need::Root(ROOT));
    let server = ws_server("127.0.0.1");
    let out = crate::common::netlab_unprivileged()
        .args(["ws", "connect", &format!("ws://{}/", server.addr)])
        .args(["--send", "hi", "--trace"])
        .output()
        .expect("setpriv (util-linux)");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.starts_with("trace: TCP/IP/link layers hidden, showing what the socket knows (TCP_INFO): no CAP_NET_RAW"),
        "{text}"
    );
    assert!(!text.contains("TCP segment #"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with("→ frame") && l.contains("\"hi\""))
        .unwrap_or_else(|| panic!("{text}"));
    // "└─ TCP 127.0.0.1:PORT → 127.0.0.1:PORT: stream bytes A–B (8 B of WebSocket frame)"
    let head = lines[i + 1];
    assert!(
        head.contains(&format!("→ {}: stream bytes ", server.addr)),
        "{head}"
    );
    assert!(head.ends_with("(8 B of WebSocket frame)"), "{head}");
    let last_byte = number(after(head, "–"));
    let first_byte = number(after(head, "stream bytes "));
    assert_eq!(last_byte - first_byte + 1, 8, "{head}");
    // The kernel's count of data bytes sent is the socket's whole stream so far: the
    // HTTP request plus this frame, ending at byte `last_byte`.
    let kernel = lines[i + 2];
    assert!(
        kernel.contains("the kernel (TCP_INFO): ESTABLISHED"),
        "{kernel}"
    );
    assert!(
        kernel.contains(&format!("data bytes sent: {} (+8)", last_byte + 1)),
        "{kernel}"
    );
    assert!(
        kernel.contains("segments sent: ") && kernel.contains("MSS "),
        "{kernel}"
    );
    assert!(
        lines[i + 3].contains("cannot see: the segments' sequence/ack numbers")
            && lines[i + 3].contains("Why: no CAP_NET_RAW"),
        "{}",
        lines[i + 3]
    );
    // The echo, received: 4 bytes.
    assert!(text.contains("(4 B of WebSocket frame)"), "{text}");
    assert!(text.contains("data bytes received: "), "{text}");
}

/// `netlab socketio serve --trace` on port 0 of 127.0.0.1, listening where it says.
fn sio_server() -> (Listening, String) {
    let mut cmd = netlab();
    cmd.args(["socketio", "serve", "--trace", "--addr", "127.0.0.1:0"]);
    let server = Listening::start(cmd);
    let addr = server.addr.clone();
    (server, addr)
}

/// The total of the WebSocket layer line in a socketio trace block: `(+6 B, 22 B in all)`.
fn ws_total(block: &[String]) -> u64 {
    let l = block
        .iter()
        .find(|l| l.trim_start().starts_with("WebSocket "))
        .unwrap_or_else(|| panic!("no WebSocket layer in {block:?}"));
    let at = l.rfind(", ").unwrap();
    number(&l[at + 2..])
}

#[test]
fn socketio_trace_goes_from_the_emit_down_to_the_link() {
    require!(Need::Root(ROOT));
    let (server, addr) = sio_server();
    let out = netlab()
        .args(["socketio", "connect", &format!("http://{addr}")])
        .args(["--emit", "chat", "\"hi\"", "--ack", "--trace"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let client = String::from_utf8_lossy(&out.stdout).into_owned();
    let server_out = printed(server);
    let top = |l: &str| !l.starts_with(' ');
    // The emit: Socket.IO `20["chat","hi"]` (15 B) → Engine.IO `420[…]` (16 B) → a masked
    // WebSocket text frame (22 B) → one TCP segment carrying exactly those 22 bytes.
    let emits = blocks_under(&client, "→ emit(\"chat\", \"hi\"", top);
    assert_eq!(emits.len(), 1, "{client}");
    let (_, block, seg) = &emits[0];
    assert!(
        block
            .iter()
            .any(|l| l.contains("Socket.IO  20[\"chat\",\"hi\"]")),
        "{block:?}"
    );
    assert!(
        block
            .iter()
            .any(|l| l.contains("Engine.IO  420[\"chat\",\"hi\"]")),
        "{block:?}"
    );
    let total = ws_total(block);
    assert_eq!(total, 2 + 4 + 16, "{block:?}");
    check_arithmetic(seg, total);
    assert_eq!(
        seg.dst_port,
        number(addr.rsplit(':').next().unwrap()) as u16
    );
    // The server's packet socket saw the same segment arrive.
    let got = blocks_under(&server_out, "← emit(\"chat\", \"hi\"", top);
    assert_eq!(got.len(), 1, "{server_out}");
    assert_eq!((got[0].2.seq_raw, got[0].2.len), (seg.seq_raw, seg.len));
    // The acknowledgement back: `30["hi"]` in `430["hi"]`, an unmasked 11-byte frame.
    let acks = blocks_under(&client, "← ack #0", top);
    assert_eq!(acks.len(), 1, "{client}");
    assert_eq!(ws_total(&acks[0].1), 2 + 9);
    check_arithmetic(&acks[0].2, 11);
}

#[test]
fn socketio_trace_without_cap_net_raw_shows_tcp_info() {
    require!(Need::Root(ROOT));
    let (_server, addr) = sio_server();
    let out = crate::common::netlab_unprivileged()
        .args(["socketio", "connect", &format!("http://{addr}")])
        .args(["--emit", "chat", "\"hi\"", "--ack", "--trace"])
        .output()
        .expect("setpriv (util-linux)");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("no CAP_NET_RAW"), "{text}");
    assert!(!text.contains("TCP segment #"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains("→ emit(\"chat\", \"hi\""))
        .unwrap_or_else(|| panic!("{text}"));
    let block: Vec<&str> = lines[i + 1..]
        .iter()
        .take_while(|l| l.starts_with(' '))
        .copied()
        .collect();
    let tcp = block.iter().find(|l| l.contains("└─ TCP ")).unwrap();
    assert!(
        tcp.contains(&format!("→ {addr}: ")) && tcp.contains("(22 B of "),
        "{tcp}"
    );
    let kernel = block
        .iter()
        .find(|l| l.contains("the kernel (TCP_INFO): ESTABLISHED"))
        .unwrap_or_else(|| panic!("{block:?}"));
    assert!(
        kernel.contains("(+22)"),
        "the kernel counted the frame's 22 bytes: {kernel}"
    );
}

/// The trace's model and renderer serve a captured packet too (what a later
/// `netlab dissect --onion N` draws): frame 8 of captures/websocket.pcap, a masked text
/// frame from the client (`netlab ws connect` to port 8080, see captures/README.md),
/// as one unit over its one TCP segment.
#[test]
fn a_captured_packet_draws_with_the_trace_model_and_renderer() {
    use netlab::dissect::{Dissector, Meta, Packet, Proto};
    use netlab::render::{Style, onion};
    use netlab::trace::Direction;
    use netlab::trace::model::{SegmentView, Unit};

    let bytes = std::fs::read(crate::common::root().join("captures/websocket.pcap")).unwrap();
    // One dissector for frames 1 to 8: it follows the stream to the upgrade.
    let mut r = netlab::capture::Reader::new(&bytes[..]).unwrap();
    let mut dissector = Dissector::new();
    let mut pkt = Packet::default();
    for number in 1..=8 {
        let rec = r.next_record().unwrap().expect("frame 8");
        let meta = Meta {
            number,
            ts_sec: rec.ts_sec,
            ts_nsec: rec.ts_nsec,
            len: rec.len,
            interface: rec.interface,
            linktype: rec.linktype,
        };
        dissector.dissect(meta, rec.data, &mut pkt);
    }
    let ws = pkt
        .layers
        .iter()
        .find(|l| l.proto == Proto::WebSocket)
        .expect("a WebSocket layer");
    let frame = &pkt.data[ws.range.start..];
    let (header, header_len) = netlab::wire::websocket::parse_header(frame)
        .unwrap()
        .unwrap();
    let len = header_len as u64 + header.payload_len;
    assert_eq!(len, 11, "77 B on the wire less 66 B of headers");
    // Relative sequence number 154: the stream's bytes 153.. (0 = the first after the SYN).
    let seq = match pkt.field("tcp.seq").map(|f| &f.value) {
        Some(netlab::dissect::Value::Uint(s)) => *s,
        other => panic!("tcp.seq: {other:?}"),
    };
    let stream = seq - 1..seq - 1 + len;
    let unit = Unit {
        dir: Direction::Sent,
        stream: stream.clone(),
        header_len,
        name: "WebSocket frame",
        explain: false,
        position_known: true,
    };
    let seg = SegmentView {
        pkt: &pkt,
        number: 8,
        stream,
        retransmission: false,
        rel_us: None,
    };
    let text = onion::segments(&unit, &[seg], Style::PLAIN);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("    └─ TCP segment #8 53862 → 8080 [PSH, ACK] seq 154 (raw "),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "       its data: all 11 bytes are the WebSocket frame"
    );
    assert!(
        text.contains("└─ IPv4 127.0.0.1 → 127.0.0.1 TTL 64"),
        "{text}"
    );
    assert!(
        text.contains("= 77 B on the wire = 11 B of TCP data + 66 B of TCP/IP/link headers"),
        "{text}"
    );
    assert!(
        text.contains("the WebSocket frame itself: 11 B = 6 B of header + 5 B of payload"),
        "{text}"
    );
}
