//! The stream framework against hand-made TCP conversations: PDUs split over segments,
//! several per segment, out of order, retransmitted, lost, too large; HTTP and WebSocket
//! on top.

use super::*;
use crate::dissect::model::{Packet, Problem};
use crate::dissect::{Dissector, Meta};
use crate::wire::tcp::flags::{ACK, FIN, PSH, SYN};
use crate::wire::websocket::{Frame, OpCode};

/// A TCP connection between 10.0.0.1:40000 (client) and 10.0.0.2:`port`, as raw-IP frames.
pub(crate) struct Conn {
    pub d: Dissector,
    port: u16,
    seq: [u32; 2],
    n: u64,
    t: i64,
}

impl Conn {
    pub fn new(port: u16) -> Conn {
        Conn::with(Dissector::new(), port)
    }

    pub fn with(d: Dissector, port: u16) -> Conn {
        Conn {
            d,
            port,
            seq: [1000, 5000],
            n: 0,
            t: 0,
        }
    }

    /// A segment from the client (`c`) or the server, at `seq` (None: the next byte).
    pub fn raw(&mut self, c: bool, seq: Option<u32>, flags: u16, payload: &[u8]) -> Packet {
        let i = usize::from(!c);
        let seq = seq.unwrap_or(self.seq[i]);
        let ack = self.seq[1 - i];
        let (sp, dp) = if c {
            (40000, self.port)
        } else {
            (self.port, 40000)
        };
        let (sa, da) = if c {
            ([10, 0, 0, 1], [10, 0, 0, 2])
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1])
        };
        let mut f = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0];
        f.extend_from_slice(&sa);
        f.extend_from_slice(&da);
        let total = (40 + payload.len()) as u16;
        f[2..4].copy_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&sp.to_be_bytes());
        f.extend_from_slice(&dp.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags as u8, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        self.frame(&f)
    }

    pub fn frame(&mut self, f: &[u8]) -> Packet {
        self.n += 1;
        self.t += 1_000_000;
        let meta = Meta {
            number: self.n,
            ts_sec: self.t / 1_000_000_000,
            ts_nsec: (self.t % 1_000_000_000) as u32,
            len: f.len() as u32,
            interface: 0,
            linktype: 101,
        };
        let mut p = Packet::default();
        self.d.dissect(meta, f, &mut p);
        p
    }

    /// Data that advances the sender's sequence number.
    pub fn send(&mut self, c: bool, payload: &[u8]) -> Packet {
        let p = self.raw(c, None, PSH | ACK, payload);
        self.seq[usize::from(!c)] += payload.len() as u32;
        p
    }

    pub fn handshake(&mut self) {
        self.raw(true, None, SYN, b"");
        self.seq[0] += 1;
        self.raw(false, None, SYN | ACK, b"");
        self.seq[1] += 1;
        self.raw(true, None, ACK, b"");
    }

    pub fn fin(&mut self, c: bool) -> Packet {
        let p = self.raw(c, None, FIN | ACK, b"");
        self.seq[usize::from(!c)] += 1;
        p
    }

    pub fn next_seq(&self, c: bool) -> u32 {
        self.seq[usize::from(!c)]
    }

    pub fn skip(&mut self, c: bool, n: u32) {
        self.seq[usize::from(!c)] += n;
    }
}

fn layers(p: &Packet, proto: Proto) -> usize {
    p.layers.iter().filter(|l| l.proto == proto).count()
}

fn text(p: &Packet, key: &str) -> Option<String> {
    p.field(key).map(|f| match &f.value {
        Value::Text(t) => t.to_string(),
        Value::Uint(n) => n.to_string(),
        v => format!("{v:?}"),
    })
}

const REQ: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";

#[test]
fn a_request_in_two_segments_is_dissected_once_on_the_second() {
    let mut c = Conn::new(80);
    c.handshake();
    let p = c.send(true, &REQ[..10]);
    assert_eq!(p.protocol, "TCP");
    assert!(
        p.info.ends_with("[TCP segment of a reassembled PDU]"),
        "{}",
        p.info
    );
    assert!(!p.has(Proto::Http));
    let p = c.send(true, &REQ[10..]);
    assert_eq!(p.protocol, "HTTP");
    assert_eq!(p.info, "GET /a HTTP/1.1 ");
    assert_eq!(text(&p, "http.request.uri").as_deref(), Some("/a"));
    assert_eq!(text(&p, "http.host").as_deref(), Some("x"));
    // The frames it came from, and its bytes as a source after the frame.
    let segs: Vec<_> = p
        .fields_named("tcp.segment")
        .map(|f| f.value.clone())
        .collect();
    assert_eq!(segs, vec![Value::Uint(4), Value::Uint(5)]);
    assert_eq!(
        text(&p, "tcp.reassembled.length"),
        Some(REQ.len().to_string())
    );
    assert_eq!(p.sources.len(), 1);
    assert_eq!(&p.data[p.sources[0].range.clone()], REQ);
    let host = p.field("http.host").unwrap();
    assert_eq!(&p.data[host.range.clone()], b"x");
    assert_eq!(p.protocols(), "raw:ip:tcp:http");
}

#[test]
fn several_messages_in_one_segment_are_each_dissected() {
    let mut c = Conn::new(80);
    c.handshake();
    let two = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n";
    let p = c.send(true, two);
    assert_eq!(layers(&p, Proto::Http), 2);
    assert_eq!(p.info, "GET /b HTTP/1.1 GET /c HTTP/1.1 ");
    assert!(p.sources.is_empty(), "read in place");
    let body = b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    let p = c.send(false, body);
    assert_eq!(layers(&p, Proto::Http), 2);
    assert_eq!(p.protocols(), "raw:ip:tcp:http:data");
    let links: Vec<_> = p
        .fields_named("http.request_in")
        .map(|f| f.value.clone())
        .collect();
    assert_eq!(links, vec![Value::Uint(4), Value::Uint(4)]);
    let uris: Vec<_> = p
        .fields_named("http.response_for.uri")
        .map(|f| f.value.clone())
        .collect();
    assert_eq!(
        uris,
        vec![
            Value::Text("http://x/b".into()),
            Value::Text("http://x/c".into())
        ]
    );
}

#[test]
fn a_chunked_body_is_measured_and_shown_dechunked() {
    let mut c = Conn::new(80);
    c.handshake();
    c.send(true, REQ);
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
    let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
    let p = c.send(false, head);
    assert!(!p.has(Proto::Http));
    let p = c.send(false, &body[..12]);
    assert!(!p.has(Proto::Http));
    let p = c.send(false, &body[12..]);
    assert_eq!(p.info, "HTTP/1.1 200 OK  (text/plain)");
    assert_eq!(p.protocols(), "raw:ip:tcp:http:data-text-lines");
    let sizes: Vec<_> = p
        .fields_named("http.chunk_size")
        .map(|f| f.value.clone())
        .collect();
    assert_eq!(sizes, vec![Value::Uint(5), Value::Uint(7), Value::Uint(0)]);
    let src = p
        .sources
        .iter()
        .find(|s| s.label == "De-chunked entity body")
        .unwrap();
    assert_eq!(&p.data[src.range.clone()], b"hello, world");
    // No Content-Length header: no http.content_length (as tshark).
    assert_eq!(text(&p, "http.content_length"), None);
}

#[test]
fn a_bad_chunk_size_is_malformed_and_the_stream_goes_on() {
    let mut c = Conn::new(80);
    c.handshake();
    c.send(true, REQ);
    let p = c.send(
        false,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    );
    assert!(
        p.problems()
            .any(|pr| matches!(pr, Problem::Malformed(w) if w.contains("hexadecimal"))),
        "{:?}",
        p.layers
    );
    // The next message is read again.
    let p = c.send(true, REQ);
    assert_eq!(p.info, "GET /a HTTP/1.1 ");
}

#[test]
fn a_content_length_that_lies_is_marked_when_the_connection_closes() {
    let mut c = Conn::new(80);
    c.handshake();
    c.send(true, REQ);
    let p = c.send(
        false,
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nshort",
    );
    assert!(!p.has(Proto::Http));
    let p = c.fin(false);
    assert!(p.has(Proto::Http), "{:?}", p.layers);
    assert!(
        p.problems()
            .any(|pr| matches!(pr, Problem::Malformed(w) if w.contains("1000")))
    );
}

#[test]
fn out_of_order_segments_wait_and_retransmissions_are_not_read_twice() {
    let mut c = Conn::new(80);
    c.handshake();
    let s0 = c.next_seq(true);
    // The second half arrives first.
    let p = c.raw(true, Some(s0 + 10), PSH | ACK, &REQ[10..]);
    assert!(!p.has(Proto::Http));
    let p = c.raw(true, Some(s0), PSH | ACK, &REQ[..10]);
    // The analysis' mark stays in front of the application's summary.
    assert_eq!(p.info, "[TCP Out-Of-Order] GET /a HTTP/1.1 ");
    c.skip(true, REQ.len() as u32);
    // The whole request again: nothing new.
    let p = c.raw(true, Some(s0), PSH | ACK, REQ);
    assert!(!p.has(Proto::Http));
    // Overlapping: 5 old bytes and a new request.
    let mut more = REQ[REQ.len() - 5..].to_vec();
    more.extend_from_slice(REQ);
    let p = c.raw(true, Some(s0 + REQ.len() as u32 - 5), PSH | ACK, &more);
    assert_eq!(layers(&p, Proto::Http), 1);
}

#[test]
fn a_hole_the_receiver_acknowledged_is_given_up() {
    let mut c = Conn::new(80);
    c.handshake();
    c.send(true, REQ);
    // A response whose second segment the capture missed.
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789abcdefghij";
    c.send(false, &resp[..30]);
    c.skip(false, (resp.len() - 30) as u32);
    // The client acknowledges all of it.
    c.raw(true, None, ACK, b"");
    // The next response is read from its first byte.
    c.send(true, REQ);
    let p = c.send(false, b"HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(
        p.info,
        "[TCP Previous segment not captured] HTTP/1.1 204 No Content "
    );
}

#[test]
fn websocket_frames_span_segments_and_share_them() {
    let mut c = Conn::new(8080);
    c.handshake();
    c.send(
        true,
        b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
    let p = c.send(
        false,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    );
    assert_eq!(p.info, "HTTP/1.1 101 Switching Protocols ");
    let key = [1, 2, 3, 4];
    let mut three = Frame::new(OpCode::Text, "hello").with_mask(key).encode();
    three.extend(
        Frame::new(OpCode::Binary, vec![7u8; 3])
            .with_mask(key)
            .encode(),
    );
    let big = Frame::new(OpCode::Text, "x".repeat(300))
        .with_mask(key)
        .encode();
    three.extend_from_slice(&big[..50]);
    let p = c.send(true, &three);
    assert_eq!(layers(&p, Proto::WebSocket), 2);
    assert_eq!(p.info, "WebSocket Text [FIN] [MASKED]");
    assert_eq!(
        p.protocols(),
        "raw:ip:tcp:http:websocket:data-text-lines:data"
    );
    let src = p
        .sources
        .iter()
        .find(|s| s.label == "Unmasked WebSocket payload")
        .unwrap();
    assert_eq!(&p.data[src.range.clone()], b"hello");
    let p = c.send(true, &big[50..]);
    assert_eq!(layers(&p, Proto::WebSocket), 1);
    assert!(p.problems().next().is_none(), "{:?}", p.layers);
    let segs: Vec<_> = p
        .fields_named("tcp.segment")
        .map(|f| f.value.clone())
        .collect();
    assert_eq!(segs, vec![Value::Uint(6), Value::Uint(7)]);
    // Close code and reason from the server (not masked).
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    let p = c.send(false, &Frame::new(OpCode::Close, close).encode());
    assert_eq!(
        text(&p, "websocket.payload.close.status_code").as_deref(),
        Some("1000")
    );
}

#[test]
fn a_websocket_length_of_two_to_the_63_is_malformed_not_a_hang() {
    let mut c = Conn::with(Dissector::new(), 8080);
    c.d.decode_as("tcp.port==8080,websocket").unwrap();
    c.handshake();
    let mut f = vec![0x82, 127];
    f.extend_from_slice(&(1u64 << 63).to_be_bytes());
    f.extend_from_slice(b"data");
    let p = c.send(false, &f);
    assert!(
        p.problems()
            .any(|pr| matches!(pr, Problem::Malformed(w) if w.contains("top bit"))),
        "{:?}",
        p.layers
    );
    // 2^62 is only enormous: its start is dissected, the rest skipped.
    let mut f = vec![0x82, 127];
    f.extend_from_slice(&(1u64 << 62).to_be_bytes());
    f.extend_from_slice(&[0u8; 100]);
    let p = c.send(true, &f);
    assert!(p.has(Proto::WebSocket));
    let p = c.send(true, &[0u8; 1000]);
    assert!(p.info.contains("oversized"), "{}", p.info);
}

#[test]
fn a_pdu_larger_than_the_buffer_is_cut_and_skipped() {
    let mut c = Conn::new(80);
    c.handshake();
    c.send(true, REQ);
    let n = flow::MAX_PDU + 10_000;
    let head =
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {n}\r\n\r\n");
    // The length is known at once to be too large: the head is dissected right away.
    let first = c.send(false, head.as_bytes());
    let chunk = vec![b'a'; 60_000];
    let mut sent = 0;
    let cut = first.has(Proto::Http).then_some(first);
    while sent < n {
        let k = chunk.len().min(n - sent);
        let p = c.send(false, &chunk[..k]);
        sent += k;
        assert!(!p.has(Proto::Http), "the body is skipped, not read");
    }
    let p = cut.expect("the head was dissected when the buffer filled");
    assert!(
        p.problems().any(|pr| matches!(pr, Problem::Incomplete(_))),
        "{:?}",
        p.layers
    );
    assert_eq!(c.d.reassembly_overflows(), 1);
    assert_eq!(c.d.apps.budget.used, 0, "nothing held after the skip");
    // The next response is read normally.
    c.send(true, REQ);
    let p = c.send(false, b"HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(p.info, "HTTP/1.1 204 No Content ");
}

#[test]
fn the_plain_packet_list_needs_no_fields() {
    let mut d = Dissector::new();
    d.record = false;
    d.detail = false;
    let mut c = Conn::with(d, 80);
    c.handshake();
    c.send(true, &REQ[..10]);
    let p = c.send(true, &REQ[10..]);
    assert_eq!(p.protocol, "HTTP");
    assert_eq!(p.info, "GET /a HTTP/1.1 ");
    assert!(p.fields.is_empty());
}

#[test]
fn content_decides_when_the_port_does_not() {
    let mut c = Conn::new(3000);
    c.handshake();
    let p = c.send(true, REQ);
    assert_eq!(p.protocol, "HTTP");
    // Not HTTP on an unknown port: data.
    let mut c = Conn::new(9000);
    c.handshake();
    let p = c.send(true, b"\x00\x01binary");
    assert!(p.has(Proto::Data));
    // --decode-as data turns a port's dissector off.
    let mut c = Conn::with(Dissector::new(), 80);
    c.d.decode_as("tcp.port==80,data").unwrap();
    c.handshake();
    let p = c.send(true, REQ);
    assert!(p.has(Proto::Data) && !p.has(Proto::Http));
}

#[test]
fn decode_as_reads_wiresharks_syntax() {
    let r = DecodeAs::parse("tcp.port==8765,http").unwrap();
    assert_eq!(
        (r.transport, r.ports.clone()),
        (Transport::Tcp, 8765..=8765)
    );
    assert_eq!(r.app.map(|a| a.name), Some("http"));
    let r = DecodeAs::parse("udp.port==5000-5010,data").unwrap();
    assert_eq!(
        (r.transport, r.ports, r.app.is_none()),
        (Transport::Udp, 5000..=5010, true)
    );
    let r = DecodeAs::parse("tcp.port==8000:3,ws").unwrap();
    assert_eq!(r.ports, 8000..=8002);
    for bad in [
        "tcp.port==80",
        "tcp.port=80,http",
        "ip.addr==1.2.3.4,http",
        "tcp.port==x,http",
        "tcp.port==80,gopher",
        "tcp.port==9-8,http",
    ] {
        assert!(DecodeAs::parse(bad).is_err(), "{bad}");
    }
    assert!(
        DecodeAs::parse("tcp.port==80,gopher")
            .unwrap_err()
            .contains("http")
    );
}

#[test]
fn socketio_over_websocket_and_polling() {
    let mut c = Conn::new(3000);
    c.handshake();
    c.send(
        true,
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let body = br#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut resp = head.into_bytes();
    resp.extend_from_slice(body);
    let p = c.send(false, &resp);
    assert_eq!(text(&p, "engineio.sid").as_deref(), Some("abc"));
    assert_eq!(text(&p, "engineio.pingInterval").as_deref(), Some("25000"));
    assert!(
        p.protocols().ends_with("http:data-text-lines:engineio"),
        "{}",
        p.protocols()
    );
    // Two packets in one polling body: every field once per packet.
    let post = "40\u{1e}42/chat,7[\"chat\",\"hi\"]";
    let req = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{post}",
        post.len()
    );
    let p = c.send(true, req.as_bytes());
    let types: Vec<_> = p
        .fields_named("socketio.packet_type")
        .map(|f| f.value.clone())
        .collect();
    assert_eq!(types, vec![Value::Uint(0), Value::Uint(2)]);
    let nsps: Vec<_> = p
        .fields_named("socketio.namespace")
        .map(|f| f.value.clone())
        .collect();
    assert_eq!(
        nsps,
        vec![Value::Text("/".into()), Value::Text("/chat".into())]
    );
    assert_eq!(text(&p, "socketio.event").as_deref(), Some("chat"));
    assert_eq!(text(&p, "socketio.ack_id").as_deref(), Some("7"));
    assert!(
        p.info
            .contains("Socket.IO EVENT \"chat\" [\"hi\"] ack=7 /chat"),
        "{}",
        p.info
    );
    assert_eq!(p.protocol, "Socket.IO");
}

#[test]
fn socketio_binary_attachments_join_their_event() {
    let mut c = Conn::new(3000);
    c.handshake();
    c.send(
        true,
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
    c.send(
        false,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    );
    let ev = r#"451-["upload",{"_placeholder":true,"num":0}]"#;
    let p = c.send(false, &Frame::new(OpCode::Text, ev).encode());
    assert!(p.info.contains("waiting for 1 attachment"), "{}", p.info);
    let p = c.send(false, &Frame::new(OpCode::Binary, vec![1u8, 2, 3]).encode());
    assert!(
        p.info
            .contains("Socket.IO BINARY_EVENT \"upload\" [<Buffer 01 02 03 (3 bytes)>]"),
        "{}",
        p.info
    );
    assert_eq!(text(&p, "socketio.announced_in").as_deref(), Some("6"));
    // Garbage Engine.IO is marked, not fatal.
    let p = c.send(false, &Frame::new(OpCode::Text, "9nonsense").encode());
    assert!(p.problems().any(|pr| matches!(pr, Problem::Malformed(_))));
}
