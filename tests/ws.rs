//! `netlab ws serve` and `netlab ws connect` over real sockets on 127.0.0.1: netlab
//! against itself, against raw bytes that break the rules, and against Python's
//! `websockets` (installed from tests/requirements.txt by scripts/test.sh).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::Duration;

use netlab::wire::http;
use netlab::wire::websocket::{self as ws, Frame, OpCode};

use crate::common::{Listening, netlab, python_websockets, refused_port, require};

const TIMEOUT: Duration = Duration::from_secs(5);

/// `netlab ws serve --addr 127.0.0.1:0 ARGS..`, listening on the port it printed.
fn serve(args: &[&str]) -> (Listening, String) {
    let mut cmd = netlab();
    cmd.args(["ws", "serve", "--addr", "127.0.0.1:0"])
        .args(args);
    let server = Listening::start(cmd);
    let addr = server.addr.clone();
    (server, addr)
}

fn connect(addr: &str, args: &[&str]) -> Output {
    netlab()
        .args(["ws", "connect", &format!("ws://{addr}/")])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A raw client: the opening handshake with netlab's codec, then frames by hand.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn open(addr: &str) -> Raw {
        Raw::open_with(addr, &[])
    }

    fn open_with(addr: &str, protocols: &[&str]) -> Raw {
        Raw::handshake(TcpStream::connect(addr).unwrap(), addr, protocols)
    }

    /// The opening handshake on a connected `stream`.
    fn handshake(mut stream: TcpStream, addr: &str, protocols: &[&str]) -> Raw {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let key = ws::client_key(*b"0123456789abcdef");
        let req = ws::client_request(addr, "/", &key, protocols);
        stream.write_all(&req.to_bytes()).unwrap();
        let mut buf = Vec::new();
        let (resp, n) = loop {
            if !buf.is_empty()
                && let Some(r) = http::parse_response(&buf).unwrap()
            {
                break r;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).unwrap();
            assert!(n > 0, "EOF during the handshake");
            buf.extend_from_slice(&chunk[..n]);
        };
        ws::validate_server_response(&resp, &key, protocols, &[]).unwrap();
        buf.drain(..n);
        Raw { stream, buf }
    }

    /// A connection whose upgrade request went out; its 101 is skipped.
    fn handshake_done(stream: TcpStream) -> Raw {
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
        };
        loop {
            if let Some(end) = raw.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                raw.buf.drain(..end + 4);
                return raw;
            }
            let mut chunk = [0u8; 4096];
            let n = raw.stream.read(&mut chunk).unwrap();
            assert!(n > 0, "EOF during the handshake");
            raw.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn send(&mut self, frame: Frame) {
        self.send_raw(&frame.with_mask([0x37, 0xfa, 0x21, 0x3d]).encode());
    }

    /// The next frame, and its encoded bytes.
    fn frame(&mut self) -> (Frame, Vec<u8>) {
        loop {
            if let Some((f, n)) = Frame::decode(&self.buf).unwrap() {
                let bytes: Vec<u8> = self.buf.drain(..n).collect();
                return (f, bytes);
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("a frame in time");
            assert!(n > 0, "EOF while waiting for a frame");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// A close frame with `code`, then the end of the connection.
    fn expect_close(&mut self, code: u16) {
        let (f, _) = self.frame();
        assert_eq!(f.opcode, OpCode::Close, "{f:?}");
        let got = ws::parse_close(&f.payload).unwrap().map(|(c, _)| c);
        assert_eq!(got, Some(code));
        let mut rest = [0u8; 64];
        match self.stream.read(&mut rest) {
            Ok(0) => {}
            Ok(n) => panic!("{n} bytes after the close frame"),
            Err(e) => panic!("no clean EOF after the close frame: {e}"),
        }
    }
}

/// A fresh client still gets its echo: the server survived what came before.
fn assert_still_up(addr: &str) {
    let mut c = Raw::open(addr);
    c.send(Frame::text("still up"));
    let (f, _) = c.frame();
    assert_eq!(
        (f.opcode, f.payload.as_slice()),
        (OpCode::Text, &b"still up"[..])
    );
    c.send(Frame::close(Some(1000), ""));
    c.expect_close(1000);
}

/// Sends raw bytes as an HTTP client and returns the whole answer.
fn raw_http(addr: &str, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .expect("the server answers and closes");
    String::from_utf8_lossy(&out).into_owned()
}

fn upgrade_request(addr: &str, extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{extra}\r\n"
    )
}

#[test]
fn netlab_client_and_server_echo_text_binary_and_64_bit_lengths() {
    let (_server, addr) = serve(&["--echo"]);
    let o = connect(&addr, &["--send", "hello", "--send", "two words"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    for line in [
        "→ text \"hello\"",
        "← text \"hello\"",
        "← text \"two words\"",
        "← close 1000",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.bin");
    std::fs::write(&file, (0..300u32).map(|i| i as u8).collect::<Vec<_>>()).unwrap();
    let o = connect(&addr, &["--binary-file", file.to_str().unwrap(), "--trace"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("← binary 300 bytes"), "{out}");
    assert!(out.contains("MASK=1 len=300 (7+16-bit) key="), "{out}");

    // 70 KiB needs the 64-bit length form (more than 65535 bytes).
    let big = "a".repeat(70 * 1024);
    let o = connect(&addr, &["--send", &big, "--trace"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("← text \"aaaa"), "{out}");
    assert!(out.contains("(71680 bytes)"), "{out}");
    assert!(out.contains("len=71680 (7+64-bit)"), "{out}");

    let mut raw = Raw::open(&addr);
    raw.send(Frame::binary(vec![7u8; 70 * 1024]));
    let (f, bytes) = raw.frame();
    assert_eq!(bytes[1] & 0x7f, ws::LEN_64_MARKER);
    assert_eq!(f.payload, vec![7u8; 70 * 1024]);
    // Ping → pong with the same bytes (RFC 6455 § 5.5.2).
    raw.send(Frame::ping(b"are you there".to_vec()));
    let (f, _) = raw.frame();
    assert_eq!(
        (f.opcode, f.payload.as_slice()),
        (OpCode::Pong, &b"are you there"[..])
    );
}

#[test]
fn chat_broadcasts_to_every_client() {
    let (_server, addr) = serve(&["--chat"]);
    let mut other = Raw::open(&addr);
    let o = connect(&addr, &["--send", "hi all"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("← text \"hi all\""), "{out}");
    let (f, _) = other.frame();
    assert_eq!(
        (f.opcode, f.payload.as_slice()),
        (OpCode::Text, &b"hi all"[..])
    );
    // And the other way round.
    other.send(Frame::text("back"));
    let (f, _) = other.frame();
    assert_eq!(f.payload, b"back");
}

#[test]
fn subprotocol_origin_and_client_errors() {
    let (_server, addr) = serve(&["--protocol", "chat", "--origin", "http://good.example"]);
    // No Origin from netlab's client: refused with 403, one line, exit 1.
    let o = connect(&addr, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("403"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let resp = raw_http(&addr, upgrade_request(&addr, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n").as_bytes());
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");

    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let req = upgrade_request(
        &addr,
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://good.example\r\nSec-WebSocket-Protocol: other, chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
    );
    s.write_all(&req.as_bytes()[..req.len() - 2]).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{head}"
    );
    assert!(head.contains("Sec-WebSocket-Protocol: chat"), "{head}");
    assert!(
        !head.contains("deflate"),
        "permessage-deflate must be declined: {head}"
    );

    let o = netlab()
        .args(["ws", "connect", "wss://127.0.0.1:1/"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("TLS is not supported"));

    let (_held, port) = refused_port();
    let o = netlab()
        .args(["ws", "connect", &format!("ws://127.0.0.1:{port}/")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn bad_inputs_get_the_right_answer_and_the_server_stays_up() {
    let (_server, addr) = serve(&["--echo", "--max-message", "1000"]);
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    // Plain HTTP: the page, or 404.
    let page = raw_http(
        &addr,
        format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
    );
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("new WebSocket("), "{page}");
    let nope = raw_http(
        &addr,
        format!("GET /nope HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
    );
    assert!(nope.starts_with("HTTP/1.1 404"), "{nope}");
    assert_still_up(&addr);

    // Handshake errors.
    let resp = raw_http(
        &addr,
        upgrade_request(&addr, "Sec-WebSocket-Version: 13\r\n").as_bytes(),
    );
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    let resp = raw_http(
        &addr,
        upgrade_request(&addr, &format!("{key}Sec-WebSocket-Version: 8\r\n")).as_bytes(),
    );
    assert!(resp.starts_with("HTTP/1.1 426"), "{resp}");
    assert!(resp.contains("Sec-WebSocket-Version: 13"), "{resp}");
    let mut huge = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n");
    for i in 0..100 {
        huge.push_str(&format!("X-Filler-{i}: {}\r\n", "x".repeat(100)));
    }
    huge.push_str("\r\n");
    assert!(huge.len() > 10 * 1024);
    let resp = raw_http(&addr, huge.as_bytes());
    assert!(resp.starts_with("HTTP/1.1 431"), "{resp}");
    assert_still_up(&addr);

    // Frame errors: each gets its close code, then the connection ends.
    let mut c = Raw::open(&addr);
    c.send_raw(&Frame::text("unmasked").encode());
    c.expect_close(1002);
    assert_still_up(&addr);

    let mut c = Raw::open(&addr);
    c.send_raw(&[0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    c.expect_close(1002);
    assert_still_up(&addr);

    let mut c = Raw::open(&addr);
    c.send(Frame::new(OpCode::Text, vec![b'o', b'k', 0xff, 0xfe]));
    c.expect_close(1007);
    assert_still_up(&addr);

    let mut c = Raw::open(&addr);
    c.send(Frame::binary(vec![0u8; 1001]));
    c.expect_close(1009);
    assert_still_up(&addr);

    let mut c = Raw::open(&addr);
    c.send(Frame {
        rsv: 0b100,
        ..Frame::text("rsv1")
    });
    c.expect_close(1002);
    let mut c = Raw::open(&addr);
    c.send(Frame::new(OpCode::from(0xb), vec![]));
    c.expect_close(1002);
    assert_still_up(&addr);

    // Garbage right after the upgrade, in the same packet as the handshake.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut req =
        upgrade_request(&addr, &format!("{key}Sec-WebSocket-Version: 13\r\n")).into_bytes();
    req.extend_from_slice(b"\r\nGARBAGE GARBAGE GARBAGE");
    s.write_all(&req).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(all.starts_with(b"HTTP/1.1 101"));
    let (f, _) = Frame::decode(&all[end..]).unwrap().unwrap();
    assert_eq!(f.opcode, OpCode::Close);
    assert_eq!(ws::parse_close(&f.payload).unwrap().unwrap().0, 1002);
    assert_still_up(&addr);
}

/// `python3` (with the `websockets` module: [`python_websockets`]).
fn python() -> Command {
    Command::new("python3")
}

#[test]
fn python_websockets_client_talks_to_netlab_server() {
    require!(python_websockets());
    let (_server, addr) = serve(&["--echo", "--protocol", "chat"]);
    let script = r#"
import sys
from websockets.sync.client import connect
with connect("ws://" + sys.argv[1] + "/", subprotocols=["chat"]) as ws:
    assert ws.subprotocol == "chat", ws.subprotocol
    ws.send("hello from python")
    print("text", ws.recv(timeout=5))
    ws.send(bytes(range(200)) * 400)
    data = ws.recv(timeout=5)
    print("binary", len(data), data == bytes(range(200)) * 400)
    ws.ping(b"p").wait(5)
    print("pong ok")
print("closed", ws.close_code)
"#;
    let o = python().args(["-c", script, &addr]).output().unwrap();
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        out,
        "text hello from python\nbinary 80000 True\npong ok\nclosed 1000\n"
    );
}

#[test]
fn netlab_client_talks_to_python_websockets_server() {
    require!(python_websockets());
    // Port 0: the server reports the port the kernel gave it.
    let script = r#"
from websockets.sync.server import serve
def echo(ws):
    for msg in ws:
        ws.send(msg)
with serve(echo, "127.0.0.1", 0) as server:
    print("listening on ws://127.0.0.1:%d/" % server.socket.getsockname()[1], flush=True)
    server.serve_forever()
"#;
    let mut cmd = python();
    cmd.args(["-c", script]);
    let server = Listening::start(cmd);
    let addr = server.addr.clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.bin");
    std::fs::write(&file, vec![1u8; 70 * 1024]).unwrap();
    let o = connect(
        &addr,
        &[
            "--send",
            "hello python",
            "--binary-file",
            file.to_str().unwrap(),
        ],
    );
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("← text \"hello python\""), "{out}");
    assert!(out.contains("← binary 71680 bytes"), "{out}");
    assert!(out.contains("← close 1000"), "{out}");
}

#[test]
fn a_full_server_answers_503_and_recovers() {
    let (_server, addr) = serve(&["--echo", "--max-connections", "1"]);
    let mut first = Raw::open(&addr);
    let answer = raw_http(&addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{answer}"
    );
    first.send(Frame::close(Some(1000), ""));
    first.expect_close(1000);
    drop(first);
    std::thread::sleep(Duration::from_millis(300));
    assert_still_up(&addr);
}

/// Many connections at once, beyond the cap: each extra one is answered 503 before
/// any upgrade, the server says so, and the clients it serves keep being served.
#[test]
fn a_connection_flood_past_the_cap_gets_503s_and_the_served_keep_their_echoes() {
    let (server, addr) = serve(&["--echo", "--quiet", "--max-connections", "4"]);
    let mut served: Vec<Raw> = (0..4).map(|_| Raw::open(&addr)).collect();
    let flood: Vec<_> = (0..40)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || raw_http(&addr, upgrade_request(&addr, "").as_bytes()))
        })
        .collect();
    for (i, c) in served.iter_mut().enumerate() {
        let text = format!("served {i}");
        c.send(Frame::text(&text));
        assert_eq!(c.frame().0.payload, text.as_bytes());
    }
    for t in flood {
        let answer = t.join().unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 503 Service Unavailable"),
            "{answer}"
        );
    }
    // Still served, after the flood.
    for (i, c) in served.iter_mut().enumerate() {
        let text = format!("still served {i}");
        c.send(Frame::text(&text));
        assert_eq!(c.frame().0.payload, text.as_bytes());
    }
    assert!(
        server.wait_for("turned away", TIMEOUT),
        "no line about the refused connections"
    );
    for c in &mut served {
        c.send(Frame::close(Some(1000), ""));
        c.expect_close(1000);
    }
    drop(served);
    std::thread::sleep(Duration::from_millis(300));
    assert_still_up(&addr);
    let out = server.output();
    // Refusals are summed at most once a second per loop: a line may count one
    // connection or many, depending on how the flood fell across seconds and loops.
    let tail =
        "turned away: the server is full (--max-connections): answered 503 (at most 4 at once)";
    let turned_away: u64 = out
        .lines()
        .filter(|l| l.contains(tail))
        .filter_map(|l| {
            l.split("netlab ws serve: ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    // (A last sum may still be waiting for its second when the output is read.)
    assert!((1..=40).contains(&turned_away), "{out}");
}

/// Chat: a member that never reads is cut off with close 1008 once its unsent output
/// passes --max-backlog, while a member that reads gets every message, in order.
#[test]
fn a_slow_chat_reader_gets_1008_and_the_others_keep_receiving() {
    let (server, addr) = serve(&["--chat", "--quiet", "--max-backlog", "65536"]);
    // A small receive window, so that the kernel's buffers hold little of what the
    // server sends it.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let to: std::net::SocketAddr = addr.parse().unwrap();
    sock.connect(&to.into()).unwrap();
    let mut slow = Raw::handshake(sock.into(), &addr, &[]);
    let mut fast = Raw::open(&addr);
    let payload = vec![b'x'; 16 * 1024];
    let mut slowest = Duration::ZERO;
    for i in 0..300u32 {
        let mut msg = i.to_be_bytes().to_vec();
        msg.extend_from_slice(&payload);
        let started = std::time::Instant::now();
        fast.send(Frame::binary(msg.clone()));
        let (f, _) = fast.frame();
        slowest = slowest.max(started.elapsed());
        assert_eq!(
            (f.opcode, &f.payload[..4]),
            (OpCode::Binary, &msg[..4]),
            "message {i}"
        );
        assert_eq!(f.payload.len(), msg.len());
    }
    assert!(
        server.wait_for("slow reader", TIMEOUT),
        "the slow reader was not cut off"
    );
    // The slow reader, reading at last: messages in order, then the close.
    let mut next = 0u32;
    loop {
        let (f, _) = slow.frame();
        if f.opcode == OpCode::Close {
            let (code, reason) = ws::parse_close(&f.payload).unwrap().unwrap();
            assert_eq!(code, 1008, "{reason}");
            assert!(reason.contains("slow reader"), "{reason}");
            break;
        }
        assert_eq!(f.payload[..4], next.to_be_bytes());
        next += 1;
    }
    assert!(
        next < 300,
        "the slow reader got everything: it was never cut off"
    );
    let out = server.output();
    assert!(
        out.contains("slow reader:") && out.contains("close 1008"),
        "{out}"
    );
    // Generous on this shared machine; a blocked loop would show as seconds.
    assert!(
        slowest < Duration::from_secs(2),
        "slowest round trip {slowest:?}"
    );
}

/// Thousands of idle connections are held by a few threads, each still answering.
#[test]
fn two_thousand_idle_connections_are_held_and_answer() {
    const N: usize = 2000;
    // This process holds N sockets too.
    // SAFETY: getrlimit/setrlimit on valid rlimit structs.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    let (server, addr) = serve(&["--echo", "--quiet"]);
    let mut held: Vec<Raw> = (0..N).map(|_| Raw::open(&addr)).collect();
    std::thread::sleep(Duration::from_millis(500));
    for i in (0..N).step_by(N / 50).chain([N - 1]) {
        let text = format!("idle {i}");
        held[i].send(Frame::text(&text));
        assert_eq!(held[i].frame().0.payload, text.as_bytes(), "connection {i}");
    }
    drop(held);
    assert_still_up(&addr);
    let out = server.output();
    assert!(out.contains("event loop"), "{out}");
    assert!(!out.contains("turned away"), "{out}");
}

/// Out of file descriptors (a low open-file limit, --max-connections above it): the
/// connection that does not fit is answered 503 and the server says why on standard
/// error; it keeps serving the others, and takes new ones once some have gone.
#[test]
fn out_of_descriptors_refuses_one_connection_and_the_server_goes_on() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = netlab();
    cmd.args(["ws", "serve", "--echo", "--quiet", "--addr", "127.0.0.1:0"])
        .args(["--max-connections", "1000"])
        .stdout(Stdio::piped())
        .stderr(err.reopen().unwrap());
    // SAFETY: setrlimit is async-signal-safe; the struct is valid.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 40,
                rlim_max: 40,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let addr = loop {
        let mut line = String::new();
        assert!(lines.read_line(&mut line).unwrap() > 0, "{printed}");
        printed.push_str(&line);
        if let Some(rest) = line.split("ws://").nth(1) {
            break rest[..rest.find('/').unwrap()].to_string();
        }
    };
    let _ = lines.read_line(&mut printed);
    assert!(printed.contains("open-file limit 40"), "{printed}");
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let mut served = Vec::new();
    let refused = loop {
        assert!(
            served.len() < 60,
            "never refused: the limit was not reached"
        );
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.write_all(
            upgrade_request(
                &addr,
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            )
            .as_bytes(),
        )
        .unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        if head.starts_with(b"HTTP/1.1 503") {
            break s;
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{:?}",
            String::from_utf8_lossy(&head)
        );
        served.push(s);
    };
    drop(refused);
    // The served still echo (their 101s are read as part of the first frame wait).
    let n = served.len();
    let mut first = Raw::handshake_done(served.remove(0));
    first.send(Frame::text("still here"));
    assert_eq!(first.frame().0.payload, b"still here");
    drop(first);
    drop(served);
    std::thread::sleep(Duration::from_millis(500));
    assert_still_up(&addr);
    // The refusals are reported at most once a second.
    std::thread::sleep(Duration::from_millis(1200));
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(err.path()).unwrap();
    assert!(
        log.contains("turned away: out of file descriptors"),
        "after {n} connections: {log}"
    );
}
