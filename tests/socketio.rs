//! `netlab socketio` against the official JavaScript packages (tests/node: `socket.io@4`
//! and `socket.io-client@4`, installed by scripts/test.sh with `npm ci`), and against raw
//! HTTP/WebSocket bytes that break the rules. Every peer runs on 127.0.0.1 on a port the
//! kernel picked; every child process is killed when its test ends.
//!
//! - official client → `netlab socketio serve`: tests/node/client.js SCENARIO;
//! - `netlab socketio connect` → official server: tests/node/server.js.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netlab::wire::http;
use netlab::wire::websocket::{self as ws, Frame, OpCode};

use crate::common::{available, chromium, netlab, node, require, root};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A spawned process whose stdout lines are collected; killed when dropped.
struct Peer {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    fn spawn(mut cmd: Command) -> Peer {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let out = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Peer { child, lines }
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits until `n` lines contain `needle` (the reading thread may lag behind what
    /// the peer printed); returns how many do then.
    fn wait_for_count(&self, needle: &str, n: usize) -> usize {
        let start = Instant::now();
        loop {
            let count = self.text().matches(needle).count();
            if count >= n || start.elapsed() >= TIMEOUT {
                return count;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a line containing `needle`; returns it.
    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "no line with {needle:?} within {} s; output:\n{}",
                TIMEOUT.as_secs(),
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn node_dir() -> PathBuf {
    root().join("tests/node")
}

/// `netlab socketio serve` on a port the kernel picks; returns the peer and its address.
fn serve(args: &[&str]) -> (Peer, String) {
    let mut cmd = netlab();
    cmd.args(["socketio", "serve", "--addr", "127.0.0.1:0"])
        .args(args);
    let peer = Peer::spawn(cmd);
    let line = peer.wait_for("listening on http://");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    (peer, addr)
}

/// The official server (tests/node/server.js) on a free port; returns it and the port.
fn node_server(opts: &str) -> (Peer, String) {
    let mut cmd = Command::new("node");
    cmd.arg(node_dir().join("server.js")).arg(opts);
    let peer = Peer::spawn(cmd);
    let line = peer.wait_for("listening ");
    let port = line.split_whitespace().nth(1).unwrap().to_string();
    (peer, format!("127.0.0.1:{port}"))
}

/// The official client (tests/node/client.js) running `scenario` to its end.
fn node_client(addr: &str, scenario: &str, opts: &str) -> String {
    let out = Command::new("node")
        .arg(node_dir().join("client.js"))
        .args([&format!("http://{addr}"), scenario, opts])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "client.js {scenario} {opts} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn connect(addr: &str, args: &[&str]) -> Output {
    netlab()
        .args(["socketio", "connect", &format!("http://{addr}")])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const WS_ONLY: &str = r#"{"transports":["websocket"]}"#;
const POLLING_ONLY: &str = r#"{"transports":["polling"]}"#;

// ---------------------------------------------------------------------------------------
// The official client against netlab's server.
// ---------------------------------------------------------------------------------------

#[test]
fn official_client_emits_with_and_without_ack_over_each_transport() {
    require!(node());
    let (server, addr) = serve(&[]);
    for opts in [WS_ONLY, POLLING_ONLY] {
        let out = node_client(&addr, "emit", opts);
        let transport = if opts == WS_ONLY {
            "websocket"
        } else {
            "polling"
        };
        assert!(out.contains(&format!("connect {transport}")), "{out}");
        // The ack carries the event's own arguments back.
        assert!(out.contains(r#"ack ["world",{"n":1}]"#), "{out}");
    }
    // The event without an ack arrived too (the server logs it, without "ack #").
    server.wait_for(r#"/ ← "hello"("world", 42)"#);
    server.wait_for(r#"/ ← "hello"("world", {"n":1}) → ack #0"#);
}

#[test]
fn official_client_starts_with_polling_and_upgrades() {
    require!(node());
    let (server, addr) = serve(&[]);
    let out = node_client(&addr, "upgrade", "{}");
    assert!(out.contains("upgrade websocket"), "{out}");
    assert!(out.contains("ack [1] websocket"), "{out}");
    server.wait_for("over polling");
    server.wait_for("upgraded to websocket");
    // netlab's own client does the same dance with netlab's server.
    let out = connect(&addr, &["--transport", "auto", "--emit", "x", "1", "--ack"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("upgraded to websocket (2probe, 3probe, then 5)"));
    assert_eq!(server.wait_for_count("upgraded to websocket", 2), 2);
}

#[test]
fn official_client_binary_round_trip() {
    require!(node());
    let (_server, addr) = serve(&[]);
    for opts in [WS_ONLY, POLLING_ONLY] {
        let out = node_client(&addr, "binary", opts);
        assert!(
            out.contains("ack-binary file.bin 000102fafbfcfdfeff"),
            "{opts}: {out}"
        );
    }
}

#[test]
fn two_official_clients_chat() {
    require!(node());
    let (_server, addr) = serve(&[]);
    let mut listener = Command::new("node");
    listener.arg(node_dir().join("client.js")).args([
        &format!("http://{addr}"),
        "chat-listen",
        WS_ONLY,
    ]);
    let listener = Peer::spawn(listener);
    listener.wait_for("ready");
    node_client(&addr, "chat-send", r#"{"text":"hello from B"}"#);
    listener.wait_for(r#"chat ["hello from B"]"#);
}

#[test]
fn namespace_auth_accepted_and_refused() {
    require!(node());
    let (server, addr) = serve(&["--auth-token", "s3cret"]);
    let out = node_client(
        &addr,
        "emit",
        r#"{"namespace":"/admin","auth":{"token":"s3cret"},"transports":["websocket"]}"#,
    );
    assert!(out.contains("ack "), "{out}");
    let out = node_client(
        &addr,
        "refused",
        r#"{"namespace":"/admin","auth":{"token":"wrong"}}"#,
    );
    assert!(out.contains(r#"connect_error "invalid token""#), "{out}");
    server.wait_for("connect /admin refused: invalid token");
}

#[test]
fn disconnect_from_either_side() {
    require!(node());
    let (server, addr) = serve(&[]);
    let out = node_client(&addr, "server-disconnect", WS_ONLY);
    assert!(out.contains("disconnect io server disconnect"), "{out}");
    let out = node_client(&addr, "client-disconnect", "{}");
    assert!(out.contains("disconnect io client disconnect"), "{out}");
    server.wait_for("disconnect /");
}

#[test]
fn a_client_that_stops_answering_pings_times_out() {
    require!(node());
    let (server, addr) = serve(&["--ping-interval", "200", "--ping-timeout", "150"]);
    for opts in [WS_ONLY, POLLING_ONLY] {
        let out = node_client(&addr, "ping-timeout", opts);
        assert!(out.contains("disconnect transport close"), "{opts}: {out}");
    }
    server.wait_for("closed: ping timeout");
    // A well-behaved client survives several heartbeats meanwhile.
    let out = node_client(&addr, "emit", WS_ONLY);
    assert!(out.contains("ack "), "{out}");
}

// ---------------------------------------------------------------------------------------
// netlab's client against the official server.
// ---------------------------------------------------------------------------------------

#[test]
fn netlab_client_emits_acks_and_binary_with_the_official_server() {
    require!(node());
    let (server, addr) = node_server("{}");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), [0u8, 1, 2, 0xfe, 0xff]).unwrap();
    for transport in ["websocket", "polling", "auto"] {
        let out = connect(
            &addr,
            &[
                "--transport",
                transport,
                "--emit",
                "chat",
                "\"hi\"",
                "--emit-binary",
                "upload",
                file.path().to_str().unwrap(),
                "--ack",
            ],
        );
        let text = stdout(&out);
        assert!(out.status.success(), "{transport}: {text}");
        let over = if transport == "auto" {
            "polling"
        } else {
            transport
        };
        assert!(text.contains(&format!("over {over}")), "{text}");
        assert_eq!(
            text.contains("upgraded to websocket (2probe, 3probe, then 5)"),
            transport == "auto",
            "{text}"
        );
        assert!(text.contains(r#"← event "welcome"({"id":"#), "{text}");
        assert!(text.contains(r#"← ack #0 for "chat": ("hi")"#), "{text}");
        assert!(
            text.contains(r#"← ack #1 for "upload": (<Buffer 00 01 02 fe ff (5 bytes)>)"#),
            "{text}"
        );
    }
    server.wait_for("event / upload [\"<Buffer 000102feff>\"] ack");
    // After the upgrade, the client's DISCONNECT travels over the WebSocket.
    server.wait_for("disconnect / client namespace disconnect");
    // Without --ack: the event arrives, and the client still ends by itself.
    let out = connect(&addr, &["--emit", "note", "{\"x\":1}", "--wait", "300"]);
    assert!(out.status.success(), "{}", stdout(&out));
    server.wait_for("event / note [{\"x\":1}] noack");
}

#[test]
fn netlab_client_namespaces_auth_and_disconnects_with_the_official_server() {
    require!(node());
    let (server, addr) = node_server(r#"{"token":"tk","pingInterval":300,"pingTimeout":300}"#);
    let out = connect(
        &addr,
        &[
            "--namespace",
            "/chat",
            "--auth",
            r#"{"token":"tk"}"#,
            "--emit",
            "a",
            "1",
            "--ack",
        ],
    );
    assert!(out.status.success(), "{}", stdout(&out));
    server.wait_for(r#"connect /chat websocket {"token":"tk"}"#);
    // A wrong token: CONNECT_ERROR, exit 1 with the server's message.
    let out = connect(
        &addr,
        &["--namespace", "/chat", "--auth", r#"{"token":"no"}"#],
    );
    assert!(!out.status.success());
    assert!(stdout(&out).contains(r#"← connect_error {"message":"invalid token"}"#));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid token"));
    // The server disconnects us (`bye`), while the heartbeat runs every 300 ms.
    let out = connect(
        &addr,
        &[
            "--auth",
            r#"{"token":"tk"}"#,
            "--emit",
            "bye",
            "0",
            "--listen",
            "--transport",
            "polling",
        ],
    );
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("← disconnect: the server closed namespace /"));
    // A netlab client that stops answering pings: the official server gives up on it.
    let out = connect(
        &addr,
        &["--auth", r#"{"token":"tk"}"#, "--ignore-pings", "--listen"],
    );
    assert!(!out.status.success());
    server.wait_for("disconnect / ping timeout");
    // The client answers pings: a session held over many heartbeats ends by our choice.
    let out = connect(&addr, &["--auth", r#"{"token":"tk"}"#, "--wait", "1200"]);
    assert!(out.status.success(), "{}", stdout(&out));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        server.text().matches("ping timeout").count(),
        1,
        "{}",
        server.text()
    );
}

#[test]
fn netlab_clients_chat_through_the_official_server() {
    require!(node());
    let (_server, addr) = node_server("{}");
    let mut cmd = netlab();
    cmd.args(["socketio", "connect", &format!("http://{addr}"), "--listen"]);
    let listener = Peer::spawn(cmd);
    listener.wait_for("connected to");
    let out = connect(&addr, &["--emit", "chat", "\"from netlab\"", "--ack"]);
    assert!(out.status.success(), "{}", stdout(&out));
    listener.wait_for(r#"← event "chat"("from netlab")"#);
}

// ---------------------------------------------------------------------------------------
// Bad input against netlab's server.
// ---------------------------------------------------------------------------------------

/// One HTTP request (with `Connection: close`); the status and the body.
fn request(addr: &str, method: &str, target: &str, body: &[u8], extra: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let (resp, n) = http::parse_response(&out)
        .unwrap()
        .unwrap_or_else(|| panic!("no response: {:?}", String::from_utf8_lossy(&out)));
    (resp.status, String::from_utf8_lossy(&out[n..]).into_owned())
}

/// Opens a polling session by hand; returns its sid.
fn open_polling(addr: &str) -> String {
    let (status, body) = request(addr, "GET", "/socket.io/?EIO=4&transport=polling", b"", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("0{\"sid\":\""), "{body}");
    assert!(
        body.ends_with(
            r#","upgrades":["websocket"],"pingInterval":1000,"pingTimeout":800,"maxPayload":1000}"#
        ),
        "{body}"
    );
    body[9..].split('"').next().unwrap().to_string()
}

fn poll_target(sid: &str) -> String {
    format!("/socket.io/?EIO=4&transport=polling&sid={sid}")
}

const UNKNOWN_SID: &str = r#"{"code":1,"message":"Session ID unknown"}"#;

#[test]
fn bad_requests_get_the_official_answers_and_the_server_stays_up() {
    let (server, addr) = serve(&[
        "--ping-interval",
        "1000",
        "--ping-timeout",
        "800",
        "--max-payload",
        "1000",
    ]);
    // An official client connected through all of it must stay undisturbed.
    let bystander = available(node()).then(|| {
        let mut cmd = Command::new("node");
        cmd.arg(node_dir().join("client.js")).args([
            &format!("http://{addr}"),
            "chat-listen",
            r#"{"transports":["websocket"],"timeout":30000}"#,
        ]);
        let p = Peer::spawn(cmd);
        p.wait_for("ready");
        p
    });
    let io = "/socket.io/?EIO=4";
    assert_eq!(
        request(
            &addr,
            "GET",
            &format!("{io}&transport=polling&sid=nope"),
            b"",
            ""
        ),
        (400, UNKNOWN_SID.to_string())
    );
    assert_eq!(
        request(
            &addr,
            "GET",
            &format!("{io}&transport=carrier-pigeon"),
            b"",
            ""
        ),
        (
            400,
            r#"{"code":0,"message":"Transport unknown"}"#.to_string()
        )
    );
    assert_eq!(
        request(&addr, "POST", &format!("{io}&transport=polling"), b"40", ""),
        (
            400,
            r#"{"code":2,"message":"Bad handshake method"}"#.to_string()
        )
    );
    assert_eq!(
        request(&addr, "GET", "/socket.io/?EIO=3&transport=polling", b"", ""),
        (
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#.to_string()
        )
    );
    assert_eq!(
        request(&addr, "GET", &format!("{io}&transport=websocket"), b"", ""),
        (400, r#"{"code":3,"message":"Bad request"}"#.to_string())
    );

    // A session that works: CONNECT over POST, the answer over GET.
    let sid = open_polling(&addr);
    assert_eq!(
        request(&addr, "POST", &poll_target(&sid), b"40", ""),
        (200, "ok".to_string())
    );
    let (status, body) = request(&addr, "GET", &poll_target(&sid), b"", "");
    assert_eq!(status, 200);
    assert!(body.starts_with("40{\"sid\":\""), "{body}");

    // A POST larger than maxPayload: 413, and the session is gone.
    let big = vec![b'4'; 1001];
    assert_eq!(request(&addr, "POST", &poll_target(&sid), &big, "").0, 413);
    assert_eq!(
        request(&addr, "GET", &poll_target(&sid), b"", ""),
        (400, UNKNOWN_SID.to_string())
    );

    // A malformed Engine.IO payload, then a malformed Socket.IO packet: each closes
    // its own session.
    for bad in [&b"9oops"[..], b"42[\"unterminated\"", b"4\x1e\x1e4"] {
        let sid = open_polling(&addr);
        assert_eq!(request(&addr, "POST", &poll_target(&sid), bad, "").0, 200);
        assert_eq!(
            request(&addr, "GET", &poll_target(&sid), b"", ""),
            (400, UNKNOWN_SID.to_string()),
            "after {:?}",
            String::from_utf8_lossy(bad)
        );
    }
    server.wait_for("closed: parse error");

    // A client that never answers the server's ping: closed after pingTimeout.
    let sid = open_polling(&addr);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        request(&addr, "GET", &poll_target(&sid), b"", ""),
        (400, UNKNOWN_SID.to_string())
    );
    server.wait_for("closed: ping timeout");

    // Garbage on the WebSocket: a bad Engine.IO packet closes that WebSocket with a
    // close frame; a non-text/non-binary flood is WebSocket's business.
    let mut w = RawWs::open(&addr);
    let open = w.text();
    assert!(open.starts_with("0{\"sid\":"), "{open}");
    w.send(Frame::text("x-not-engine-io"));
    w.expect_close();

    // A WebSocket message over maxPayload: closed with 1009 (message too big).
    let mut w = RawWs::open(&addr);
    w.text();
    w.send(Frame::text(&format!("4{}", "x".repeat(1000))));
    let f = w.frame_after_pings();
    assert_eq!(f.opcode, OpCode::Close, "{f:?}");
    assert_eq!(
        ws::parse_close(&f.payload).unwrap().map(|(c, _)| c),
        Some(1009)
    );

    // Still up, and still speaking Socket.IO properly.
    let mut w = RawWs::open(&addr);
    let open = w.text();
    let sid = &open[9..29];
    // A second WebSocket for a session already on a WebSocket: 400.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let req = ws::client_request(
        &addr,
        &format!("/socket.io/?EIO=4&transport=websocket&sid={sid}"),
        &ws::client_key([7; 16]),
        &[],
    );
    s.write_all(&req.to_bytes()).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.ends_with("\r\n\r\nBad request"), "{answer}");
    w.send(Frame::text("40"));
    assert!(w.text().starts_with("40{\"sid\":\""));
    w.send(Frame::text("421[\"still\",\"up\"]"));
    assert_eq!(w.text(), "431[\"up\"]");
    w.send(Frame::text("2"));
    w.expect_close();

    if let Some(bystander) = bystander {
        node_client(&addr, "chat-send", r#"{"text":"after the storm"}"#);
        bystander.wait_for(r#"chat ["after the storm"]"#);
        // It left by its own choice only, after the chat.
        let line = bystander.wait_for("disconnect");
        assert_eq!(
            line,
            "disconnect io client disconnect",
            "{}",
            bystander.text()
        );
    }
}

#[test]
fn demo_traces_one_emit_through_every_layer() {
    for (args, carrier) in [
        (
            &[][..],
            "WebSocket  FIN=1 RSV=000 opcode=0x1 (Text) MASK=1 len=16",
        ),
        (
            &["--transport", "polling"][..],
            "HTTP       POST /socket.io/?EIO=4&transport=polling&sid=",
        ),
    ] {
        let out = netlab()
            .args(["socketio", "demo"])
            .args(args)
            .output()
            .unwrap();
        let t = stdout(&out);
        assert!(out.status.success(), "{t}");
        for needle in [
            r#"→ emit("chat", "hi", ack => {…})"#,
            r#"Socket.IO  20["chat","hi"]   EVENT to "/", ack id 0   (+2 B, 15 B in all)"#,
            r#"Engine.IO  420["chat","hi"]"#,
            carrier,
            r#"← ack #0 for "chat": ("hi")"#,
        ] {
            assert!(t.contains(needle), "no {needle:?} in:\n{t}");
        }
    }
}

/// A raw WebSocket to /socket.io/ built from netlab's own codec.
struct RawWs {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    fn open(addr: &str) -> RawWs {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let key = ws::client_key(*b"0123456789abcdef");
        let req = ws::client_request(addr, "/socket.io/?EIO=4&transport=websocket", &key, &[]);
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
        ws::validate_server_response(&resp, &key, &[], &[]).unwrap();
        buf.drain(..n);
        RawWs { stream, buf }
    }

    fn send(&mut self, frame: Frame) {
        self.stream
            .write_all(&frame.with_mask([1, 2, 3, 4]).encode())
            .unwrap();
    }

    fn frame(&mut self) -> Frame {
        loop {
            if let Some((f, n)) = Frame::decode(&self.buf).unwrap() {
                self.buf.drain(..n);
                return f;
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("a frame in time");
            assert!(n > 0, "EOF while waiting for a frame");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next text frame; the server's pings (`2`) are answered on the way.
    fn text(&mut self) -> String {
        let mut f = self.frame();
        while f.opcode == OpCode::Text && f.payload == b"2" {
            self.send(Frame::text("3"));
            f = self.frame();
        }
        assert_eq!(f.opcode, OpCode::Text, "{f:?}");
        String::from_utf8(f.payload).unwrap()
    }

    /// The next frame that is not one of the server's pings (`2`), which are answered
    /// on the way: a slow machine may let a ping interval pass before the frame comes,
    /// and an unanswered ping would end the session first.
    fn frame_after_pings(&mut self) -> Frame {
        let mut f = self.frame();
        while f.opcode == OpCode::Text && f.payload == b"2" {
            self.send(Frame::text("3"));
            f = self.frame();
        }
        f
    }

    fn expect_close(&mut self) {
        let f = self.frame_after_pings();
        assert_eq!(f.opcode, OpCode::Close, "{f:?}");
    }
}

#[test]
fn trace_shows_every_layer() {
    require!(node());
    let (server, addr) = serve(&["--trace"]);
    node_client(&addr, "emit", WS_ONLY);
    server.wait_for(r#"← emit("hello", "world", {"n":1}, ack => {…})"#);
    let text = server.text();
    for needle in [
        "Socket.IO  20[\"hello\",\"world\",{\"n\":1}]",
        "Engine.IO  420[\"hello\",\"world\",{\"n\":1}]",
        "WebSocket  FIN=1 RSV=000 opcode=0x1 (Text) MASK=1",
        "TCP ",
    ] {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }
    let out = connect(
        &addr,
        &[
            "--trace",
            "--transport",
            "polling",
            "--emit",
            "x",
            "1",
            "--ack",
        ],
    );
    let t = stdout(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("HTTP       POST /socket.io/?EIO=4&transport=polling&sid="),
        "{t}"
    );
    assert!(t.contains("Engine.IO  420[\"x\",1]"), "{t}");
}

/// Headless Chromium loads the served page (`/?selftest`): its hand-written Engine.IO
/// and Socket.IO client connects over the browser's WebSocket, emits with an ack and
/// writes the verdict into the DOM. Chromium is installed by scripts/test.sh.
#[test]
fn chromium_runs_the_served_chat_page() {
    const CHROMIUM: &str = "/usr/bin/chromium";
    require!(chromium());
    let (server, addr) = serve(&["--trace"]);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        &format!("--user-data-dir={}", dir.path().join("profile").display()),
        "--virtual-time-budget=10000",
        "--dump-dom",
        &format!("http://{addr}/?selftest"),
    ]);
    // Killed when the test ends, and never waited for more than a minute.
    let mut chromium = Peer::spawn(cmd);
    let start = Instant::now();
    while chromium.child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(60), "Chromium hangs");
        std::thread::sleep(Duration::from_millis(50));
    }
    chromium.wait_for("</html>");
    let dom = chromium.text();
    assert!(
        dom.contains(r#"<pre id="result">selftest: ack ok</pre>"#),
        "DOM:\n{dom}\nserver:\n{}",
        server.text()
    );
    server.wait_for(r#"/ ← "selftest"("hi") → ack #0"#);
    server.wait_for(r#"Engine.IO  420["selftest","hi"]"#);
}

/// Mistakes a user can make get one `netlab: error:` line and exit 1, never a hang.
#[test]
fn connect_errors_are_one_line() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for (args, says) in [
        (vec!["https://127.0.0.1:1"], "TLS is not supported"),
        (vec!["ftp://127.0.0.1:1"], "expected http://HOST:PORT"),
        (
            vec!["http://127.0.0.1:1", "--auth", "{nope"],
            "--auth is not JSON",
        ),
        (
            vec!["http://127.0.0.1:1", "--auth", "[1]"],
            "must be a JSON object",
        ),
        (
            vec!["http://127.0.0.1:1", "--namespace", "chat"],
            "must start with /",
        ),
        (
            vec![
                "http://127.0.0.1:1",
                "--emit-binary",
                "x",
                "/nonexistent/file",
            ],
            "cannot read /nonexistent/file",
        ),
        (
            vec![&format!("http://127.0.0.1:{closed}")],
            "cannot connect",
        ),
    ] {
        let out = netlab()
            .args(["socketio", "connect"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with("netlab: error: "), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
    // A reserved event name is refused before connecting.
    let (_server, addr) = serve(&[]);
    let out = connect(&addr, &["--emit", "disconnect", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reserved"));
}

#[test]
fn rooms_reach_only_their_members() {
    require!(node());
    let (_server, addr) = serve(&[]);
    let listen = |room: &str| {
        let mut cmd = Command::new("node");
        cmd.arg(node_dir().join("client.js")).args([
            &format!("http://{addr}"),
            "room-listen",
            &format!(r#"{{"room":"{room}","transports":["websocket"]}}"#),
        ]);
        let p = Peer::spawn(cmd);
        p.wait_for("ready");
        p
    };
    let tea = listen("tea");
    let coffee = listen("coffee");
    node_client(&addr, "room-say", r#"{"room":"tea","text":"brewing"}"#);
    tea.wait_for(r#"say ["tea","brewing"]"#);
    // A room member heard it; the other room, which would print it at once, did not.
    node_client(&addr, "room-say", r#"{"room":"coffee","text":"grinding"}"#);
    coffee.wait_for(r#"say ["coffee","grinding"]"#);
    assert!(!coffee.text().contains("brewing"), "{}", coffee.text());
}

#[test]
fn a_full_server_answers_503_and_recovers() {
    let (_server, addr) = serve(&["--max-connections", "1"]);
    // Holds the only slot: a connection whose request head never comes.
    let first = TcpStream::connect(&addr).unwrap();
    let polling = "/socket.io/?EIO=4&transport=polling";
    assert_eq!(request(&addr, "GET", polling, b"", "").0, 503);
    drop(first);
    // The slot is given back once the server sees that connection end.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (status, body) = request(&addr, "GET", polling, b"", "");
        if status == 200 {
            assert!(body.starts_with("0{\"sid\":\""), "{body}");
            break;
        }
        assert_eq!(status, 503);
        assert!(
            Instant::now() < deadline,
            "still full after the first connection closed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// tests/node/many.js: `n` official clients held at once, each CONNECT answered and one
/// ack back; returns its output (it fails the test unless every ack came).
fn many_clients(addr: &str, n: usize, opts: &str) -> String {
    let out = Command::new("node")
        .arg(node_dir().join("many.js"))
        .args([&format!("http://{addr}"), &n.to_string(), opts])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "many.js {n} {opts} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The issue's 10,000 clients in miniature: 2,000 official clients on WebSockets against
/// the default options, all connected at once; every CONNECT is answered and every ack
/// comes back, and the server serves on afterwards.
#[test]
fn two_thousand_official_clients_each_get_their_ack() {
    require!(node());
    let (server, addr) = serve(&["--quiet"]);
    let out = many_clients(&addr, 2000, r#"{"timeout":120000}"#);
    assert!(out.contains("acked 2000 of 2000"), "{out}");
    let out = node_client(&addr, "emit", WS_ONLY);
    assert!(out.contains(r#"ack ["world",{"n":1}]"#), "{out}");
    assert!(!server.text().contains("slow reader"), "{}", server.text());
}

/// Long-polling at scale, and the upgrade: 200 official clients with the default
/// transports open over polling, upgrade to WebSocket (probe, noop to the pending poll,
/// `5`), and each gets its ack over the WebSocket.
#[test]
fn two_hundred_polling_clients_upgrade_and_get_their_acks() {
    require!(node());
    let (server, addr) = serve(&["--quiet"]);
    let out = many_clients(
        &addr,
        200,
        r#"{"transports":["polling","websocket"],"upgrade":true,"inFlight":50,"timeout":120000}"#,
    );
    assert!(out.contains("acked 200 of 200, upgraded 200"), "{out}");
    assert_eq!(server.wait_for_count("upgraded to websocket", 200), 200);
}

/// A flood past `--max-connections`: every extra connection is answered 503 before any
/// upgrade, the clients already in keep being served, and once they leave new ones get
/// in.
#[test]
fn a_flood_past_the_cap_gets_503s_and_the_earlier_clients_are_still_served() {
    const CAP: usize = 30;
    let (_server, addr) = serve(&["--max-connections", &CAP.to_string()]);
    let mut held: Vec<RawWs> = (0..CAP)
        .map(|_| {
            let mut w = RawWs::open(&addr);
            assert!(w.text().starts_with("0{\"sid\":"));
            w.send(Frame::text("40"));
            assert!(w.text().starts_with("40{\"sid\":"));
            w
        })
        .collect();
    let polling = "/socket.io/?EIO=4&transport=polling";
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                (0..40)
                    .map(|_| request(&addr, "GET", polling, b"", "").0)
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    for t in flood {
        let statuses = t.join().unwrap();
        assert!(statuses.iter().all(|&s| s == 503), "{statuses:?}");
    }
    // A WebSocket upgrade past the cap: 503 too, never a 101.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let req = ws::client_request(
        &addr,
        "/socket.io/?EIO=4&transport=websocket",
        &ws::client_key([9; 16]),
        &[],
    );
    s.write_all(&req.to_bytes()).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    // Everyone inside is still served.
    for (k, w) in held.iter_mut().enumerate() {
        w.send(Frame::text(&format!("42{k}[\"still\",{k}]")));
        assert_eq!(w.text(), format!("43{k}[{k}]"));
    }
    held.clear();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (status, body) = request(&addr, "GET", polling, b"", "");
        if status == 200 {
            assert!(body.starts_with("0{\"sid\":\""), "{body}");
            break;
        }
        assert_eq!(status, 503);
        assert!(
            Instant::now() < deadline,
            "still full after the clients left"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A client that never reads while it is sent a lot: its queue passes the cap and it
/// is cut off (1008, "slow reader"), while the sender and another reader carry on.
#[test]
fn a_slow_reader_is_cut_off_and_the_others_keep_going() {
    let (server, addr) = serve(&["--quiet", "--max-payload", "300000"]);
    let join = || {
        let mut w = RawWs::open(&addr);
        w.text();
        w.send(Frame::text("40"));
        assert!(w.text().starts_with("40{\"sid\":"));
        w
    };
    let _slow = join();
    let mut reader = join();
    let mut sender = join();
    let text = "x".repeat(250_000);
    let chat = format!("42[\"chat\",\"{text}\"]");
    let mut k = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !server.text().contains("slow reader") {
        assert!(
            Instant::now() < deadline,
            "never cut off:\n{}",
            server.text()
        );
        // The sender's ack comes back and the reader gets every message at once.
        sender.send(Frame::text(&format!("42{k}[\"ack-me\",{k}]")));
        sender.send(Frame::text(&chat));
        assert_eq!(sender.text(), format!("43{k}[{k}]"));
        assert_eq!(reader.text(), chat);
        k += 1;
    }
    assert!(k > 4, "cut off after {k} messages: too early");
    // Still served after the cut.
    sender.send(Frame::text("421[\"after\",1]"));
    assert_eq!(sender.text(), "431[1]");
}
