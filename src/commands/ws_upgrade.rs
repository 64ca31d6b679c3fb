//! `netlab ws-upgrade`: a WebSocket connection from the first byte to the last, on
//! loopback, for a learner. netlab's server (a thread listening on 127.0.0.1:0) and
//! netlab's client (the main thread) talk over a real TCP connection; the client prints
//! the HTTP/1.1 Upgrade handshake, the `Sec-WebSocket-Accept` derivation, frames decoded
//! bit by bit in both directions, a ping/pong, a fragmented message and the closing
//! handshake.
//!
//! Only the main thread prints: the server thread sends what it saw as short notes over
//! a channel, so the output is in a fixed order whatever the scheduler does.
//!
//! With `-w FILE.pcap`, every byte written to the connection is logged (direction, time,
//! one entry per write) and afterwards turned into synthetic TCP/IP packets with
//! [`build_packet`]: a three-way handshake, one segment per write (split at
//! [`MAX_SEGMENT`]) with its ACK, and a FIN teardown. The segments are reconstructed
//! from the socket's byte stream, not captured: the kernel may have cut the stream
//! differently, and its sequence numbers, options and windows are not these.

use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

use crate::capture::Writer;
use crate::cli::WsUpgradeArgs;
use crate::random::{self, Rng};
use crate::render::websocket::{describe_close, describe_message, trace_line};
use crate::render::{Output, Paint};
use crate::tcp::packet::build_packet;
use crate::wire::http::{self, Request, Response};
use crate::wire::tcp::{self, flags};
use crate::wire::websocket::{self as wsw, Frame, FrameView, LengthForm, OpCode, Role, bits};
use crate::ws::{Action, Session};

/// How long either side waits for the other before giving up.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The resource the client asks for.
const TARGET: &str = "/chat";
/// Largest message the demo's sessions accept.
const MAX_MESSAGE: usize = 1 << 20;
/// The sample key and accept value of RFC 6455 § 1.3.
const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// A message long enough for the 16-bit length form (126–65535 bytes)…
const MEDIUM_LEN: usize = 300;
/// …and one long enough for the 64-bit form (65536 bytes and up).
const LARGE_LEN: usize = 70_000;
/// How many payload bytes a frame decode shows in hex.
const SHOW_BYTES: usize = 16;
/// Largest TCP payload per synthetic segment: 65535 (the IPv4 total length limit) less
/// 20 bytes of IPv4 and 20 of TCP header.
const MAX_SEGMENT: usize = 65_535 - 40;
/// What the Origin header means; `http::header_def` has no entry for it.
const ORIGIN_MEANING: &str = "the page that opened the connection (browsers always send it): \
     a server checks it to refuse scripts from other sites (RFC 6455 § 10.2)";

/// The printout's colours (the client tells the story: what it sends, what the server
/// sends and says).
mod color {
    use crate::render::Paint;
    pub const HEADING: Paint = Paint::HEADING;
    pub const CLIENT: Paint = Paint::SENT;
    pub const SERVER: Paint = Paint::PEER;
    pub const FIELD: Paint = Paint::ACTOR;
    pub const OK: Paint = Paint::OK;
}

/// Which way bytes crossed the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ToServer,
    ToClient,
}

impl Dir {
    fn arrow(self) -> &'static str {
        match self {
            Dir::ToServer => "→",
            Dir::ToClient => "←",
        }
    }
    fn who(self) -> &'static str {
        match self {
            Dir::ToServer => "client → server",
            Dir::ToClient => "server → client",
        }
    }
    fn color(self) -> Paint {
        match self {
            Dir::ToServer => color::CLIENT,
            Dir::ToClient => color::SERVER,
        }
    }
}

/// What happened on the connection, as the pcap writer needs it.
#[derive(Debug)]
enum Event {
    /// The client's `connect` returned: the three-way handshake is done.
    Open,
    /// One `write` of these bytes.
    Data(Vec<u8>),
    /// `shutdown(Write)`: a FIN.
    Fin,
}

#[derive(Debug)]
struct Record {
    at: SystemTime,
    dir: Dir,
    event: Event,
}

/// The ordered log of both sides' writes, shared by the two threads.
#[derive(Debug, Clone, Default)]
struct Log(Arc<Mutex<Vec<Record>>>);

impl Log {
    fn push(&self, dir: Dir, event: Event) {
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        list.push(Record {
            at: SystemTime::now(),
            dir,
            event,
        });
    }

    fn take(&self) -> Vec<Record> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// One end's socket; every write is logged before it is made, so a reply can never be
/// logged ahead of the bytes it answers.
struct Conn {
    stream: TcpStream,
    dir: Dir,
    log: Log,
}

impl Conn {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.log.push(self.dir, Event::Data(bytes.to_vec()));
        self.stream.write_all(bytes)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.log.push(self.dir, Event::Fin);
        self.stream.shutdown(Shutdown::Write)
    }

    /// Reads more bytes into `buf`; an error at end of stream.
    fn read_more(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => bail!("the connection closed unexpectedly"),
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("reading from the connection"),
            }
        }
    }
}

pub fn run(args: &WsUpgradeArgs, output: &Output) -> Result<()> {
    let key = match &args.key {
        Some(k) => {
            check_key(k)?;
            k.clone()
        }
        None => wsw::client_key(Rng::os().nonce()),
    };
    // Create the file first: a bad path fails before anything is printed.
    let pcap = match &args.write {
        Some(p) => Some((
            p.as_path(),
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => None,
    };
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
    let server_addr = listener.local_addr()?;
    let log = Log::default();
    let (note_tx, notes) = mpsc::channel();
    let server = {
        let log = log.clone();
        thread::spawn(move || {
            let r = serve(&listener, log, &note_tx);
            if let Err(e) = &r {
                let _ = note_tx.send(format!("error: {e:#}"));
            }
            r
        })
    };
    let mut out = Printer { out: output };
    // On a client error the server thread may still wait in accept(): return without
    // joining it; the process ends.
    let client_addr = demo(&mut out, server_addr, &key, &log, &notes)?;
    match server.join() {
        Ok(r) => r.context("the server side failed")?,
        Err(_) => bail!("the server thread panicked"),
    }
    if let Some((path, file)) = pcap {
        let n = write_pcap(file, client_addr, server_addr, &log.take())?;
        out.blank()?;
        out.heading(&format!("Saved {n} packets to {}", path.display()))?;
        out.line(
            "  The TCP/IP packets are reconstructed from the bytes each side wrote to its \
             socket, not captured:",
        )?;
        out.line(
            "  a SYN/SYN-ACK/ACK handshake, one segment per write (split above 65495 bytes) \
             and its ACK, FIN teardown.",
        )?;
        out.line(&format!(
            "  Wireshark decodes the WebSocket frames after the Upgrade when told the port \
             speaks HTTP:\n    tshark -r {} -d tcp.port=={},http -Y websocket",
            path.display(),
            server_addr.port()
        ))?;
    }
    Ok(())
}

/// A `--key` must be what a client may send: base64 of exactly 16 bytes (RFC 6455 § 4.1).
fn check_key(key: &str) -> Result<()> {
    match BASE64.decode(key) {
        Ok(b) if b.len() == 16 => Ok(()),
        Ok(b) => bail!(
            "--key {key:?} decodes to {} bytes; a Sec-WebSocket-Key is base64 of exactly 16 \
             bytes (RFC 6455 § 4.1), e.g. {RFC_KEY}",
            b.len()
        ),
        Err(e) => bail!("--key {key:?} is not base64 ({e}); try {RFC_KEY}"),
    }
}

// ---------------------------------------------------------------------------------------
// The server thread.
// ---------------------------------------------------------------------------------------

/// Accepts one connection, answers the handshake and echoes messages with a
/// [`Session`] until the closing handshake is over; reports to the client's printer
/// through `notes`.
fn serve(listener: &TcpListener, log: Log, notes: &Sender<String>) -> Result<()> {
    let (stream, _) = listener.accept().context("accept failed")?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        dir: Dir::ToClient,
        log,
    };
    let mut buf = Vec::new();
    let (req, head_len) = loop {
        if let Some(parsed) = http::parse_request(&buf).context("a bad request head")? {
            break parsed;
        }
        conn.read_more(&mut buf)?;
    };
    let hs = match wsw::validate_client_request(&req) {
        Ok(hs) => hs,
        Err(e) => {
            conn.send(&e.response().to_bytes())?;
            conn.finish()?;
            bail!("the server refused the handshake: {e}");
        }
    };
    conn.send(&hs.accept_response(None).to_bytes())?;
    let _ = notes.send(format!(
        "checked GET, Upgrade, Connection, the key and version 13; answered 101 with \
         Sec-WebSocket-Accept {}",
        hs.accept
    ));
    let mut session = Session::new(Role::Server, MAX_MESSAGE, Rng::os());
    let mut actions = session.receive(&buf[head_len..]);
    let mut chunk = vec![0u8; 64 * 1024];
    // Data frames seen since the last complete message.
    let mut frames = 0;
    loop {
        let mut over = false;
        for a in actions {
            match a {
                Action::Send(f) => conn.send(&f.encode())?,
                Action::Received { header, .. } => frames += usize::from(!header.is_control()),
                Action::Message(m) => {
                    let how = if frames > 1 {
                        format!("reassembled {frames} frames into one message")
                    } else {
                        "received one frame, one message".to_string()
                    };
                    frames = 0;
                    let _ = notes.send(format!(
                        "{how}: {}; echoing it unmasked",
                        describe_message(&m)
                    ));
                    if let Some(f) = session.send(m.to_frame()) {
                        conn.send(&f.encode())?;
                    }
                }
                Action::Ping(d) => {
                    let _ = notes.send(format!(
                        "got a ping and answered with a pong carrying the same {} bytes \
                         (RFC 6455 § 5.5.2)",
                        d.len()
                    ));
                }
                Action::Pong(_) => {}
                Action::Closed { code, reason, .. } => {
                    let _ = notes.send(format!(
                        "got {}; echoed the status code in its own close frame, then \
                         closes the TCP connection first (RFC 6455 § 7.1.1)",
                        describe_close(code, &reason)
                    ));
                    over = true;
                }
                Action::Failed { close_code, why } => {
                    let _ = notes.send(format!("protocol error: {why} → close {close_code}"));
                    over = true;
                }
            }
        }
        if over {
            conn.finish()?;
            // Read until the client's FIN, so unread bytes never turn into a RST.
            let mut sink = Vec::new();
            while conn.read_more(&mut sink).is_ok() {
                sink.clear();
            }
            return Ok(());
        }
        let n = loop {
            match conn.stream.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break r.context("the server's read failed")?,
            }
        };
        if n == 0 {
            bail!("the client closed the TCP connection without a close frame");
        }
        actions = session.receive(&chunk[..n]);
    }
}

// ---------------------------------------------------------------------------------------
// The client side, which prints.
// ---------------------------------------------------------------------------------------

struct Printer<'a> {
    out: &'a Output,
}

impl Printer<'_> {
    fn line(&mut self, s: &str) -> io::Result<()> {
        self.out.line(s)
    }
    fn blank(&mut self) -> io::Result<()> {
        self.line("")
    }
    fn paint(&self, paint: Paint, s: &str) -> String {
        self.out.paint(paint, s)
    }
    fn heading(&mut self, s: &str) -> io::Result<()> {
        let h = self.paint(color::HEADING, s);
        self.line(&h)
    }
    /// `  name   value` with the name coloured, then the meaning indented below.
    fn field(&mut self, name: &str, value: &str, meaning: &str) -> io::Result<()> {
        let n = self.paint(color::FIELD, &format!("{name:<24}"));
        self.line(&format!("    {n} {value}"))?;
        if !meaning.is_empty() {
            self.line(&format!("    {:<24} {meaning}", ""))?;
        }
        Ok(())
    }
    fn note(&mut self, notes: &Receiver<String>) -> Result<()> {
        let note = notes
            .recv_timeout(TIMEOUT)
            .context("no word from the server thread")?;
        let who = self.paint(color::SERVER, "  server:");
        self.line(&format!("{who} {note}"))?;
        Ok(())
    }
}

/// Bytes as hex, `max` of them at most, with `…` when there are more.
fn hex(bytes: &[u8], max: usize) -> String {
    let shown: Vec<String> = bytes.iter().take(max).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > max { " …" } else { "" };
    format!("{}{more}", shown.join(" "))
}

/// The bits of `byte` under `mask`, Wireshark style: `1... ....`.
fn bits_under(byte: u8, mask: u8) -> String {
    let mut s = String::new();
    for i in (0..8).rev() {
        if i == 3 {
            s.push(' ');
        }
        s.push(if mask >> i & 1 == 0 {
            '.'
        } else if byte >> i & 1 == 1 {
            '1'
        } else {
            '0'
        });
    }
    s
}

/// Inclusive byte range as a learner reads it: `bytes 2–5`.
fn span(r: std::ops::Range<usize>) -> String {
    if r.len() == 1 {
        format!("byte {}", r.start)
    } else {
        format!("bytes {}–{}", r.start, r.end - 1)
    }
}

/// An HTTP head as sent, one line per line, with the CR LF shown.
fn show_head(out: &mut Printer, dir: Dir, bytes: &[u8]) -> io::Result<()> {
    let title = out.paint(
        dir.color(),
        &format!("  {} {}, {} bytes:", dir.arrow(), dir.who(), bytes.len()),
    );
    out.line(&title)?;
    for line in String::from_utf8_lossy(bytes).split_inclusive("\r\n") {
        out.line(&format!("    {}\\r\\n", line.trim_end_matches("\r\n")))?;
    }
    Ok(())
}

/// Runs the client's script against the server; returns the client's address.
fn demo(
    out: &mut Printer,
    server_addr: SocketAddr,
    key: &str,
    log: &Log,
    notes: &Receiver<String>,
) -> Result<SocketAddr> {
    let stream = TcpStream::connect(server_addr)
        .with_context(|| format!("cannot connect to {server_addr}"))?;
    log.push(Dir::ToServer, Event::Open);
    stream.set_read_timeout(Some(TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    let client_addr = stream.local_addr()?;
    let mut conn = Conn {
        stream,
        dir: Dir::ToServer,
        log: log.clone(),
    };
    out.heading(&format!(
        "netlab ws-upgrade: netlab's WebSocket server listens on {server_addr}; netlab's \
         client connects from {client_addr}"
    ))?;
    out.line("  Both run in this process (two threads) over a real TCP connection on loopback.")?;

    // 1. The opening handshake.
    out.blank()?;
    out.heading("1. The opening handshake: an HTTP/1.1 request that asks to switch protocols (RFC 6455 § 4)")?;
    let host = server_addr.to_string();
    let req = wsw::client_request(&host, TARGET, key, &[])
        .with_header(http::name::ORIGIN, format!("http://{host}"));
    let req_bytes = req.to_bytes();
    conn.send(&req_bytes)?;
    show_head(out, Dir::ToServer, &req_bytes)?;
    explain_request(out, &req)?;

    let mut buf = Vec::new();
    let (resp, head_len) = loop {
        if !buf.is_empty()
            && let Some(parsed) =
                http::parse_response(&buf).context("the server's answer is not HTTP")?
        {
            break parsed;
        }
        conn.read_more(&mut buf)?;
    };
    out.note(notes)?;
    out.blank()?;
    show_head(out, Dir::ToClient, &buf[..head_len])?;
    explain_response(out, &resp)?;
    buf.drain(..head_len);
    wsw::validate_server_response(&resp, key, &[], &[])
        .context("the client refused the server's handshake")?;
    let ok = out.paint(color::OK, "✓");
    out.line(&format!(
        "  {ok} the client checked the 101: Upgrade, Connection and Sec-WebSocket-Accept are \
         right. From here on the connection carries WebSocket frames, not HTTP."
    ))?;

    // 2. The accept value.
    out.blank()?;
    let got = resp
        .headers
        .get(http::name::SEC_WEBSOCKET_ACCEPT)
        .unwrap_or_default();
    explain_accept(out, key, got)?;

    let mut client = Client {
        conn,
        buf,
        session: Session::new(Role::Client, MAX_MESSAGE, Rng::os()),
    };

    // 3. Data frames in each length form.
    out.blank()?;
    out.heading("3. Frames, decoded bit by bit (RFC 6455 § 5.2)")?;
    out.line(
        "  Every frame the client sends is masked; no frame the server sends is (§ 5.1). \
         Why mask? § 10.3: a script in a browser",
    )?;
    out.line(
        "  chooses the payload, and some proxies misread WebSocket bytes as HTTP; bytes \
         that look like \"GET /evil.js\" could make such a",
    )?;
    out.line(
        "  proxy cache an attacker's answer for a real URL (cache poisoning). The browser \
         XORs every payload with a fresh, unpredictable",
    )?;
    out.line(
        "  4-byte key, so the script cannot choose the bytes that cross the wire. The \
         server unmasks: byte i XOR key[i % 4].",
    )?;
    out.blank()?;
    out.line("  A short text message (7-bit length: 0–125 bytes):")?;
    client.send(out, Frame::text("Hello"))?;
    out.note(notes)?;
    client.receive(out)?;

    out.blank()?;
    out.line(&format!(
        "  A {MEDIUM_LEN}-byte binary message (16-bit extended length: 126–65535 bytes):"
    ))?;
    let medium: Vec<u8> = (0..MEDIUM_LEN).map(|i| i as u8).collect();
    client.send(out, Frame::binary(medium))?;
    out.note(notes)?;
    client.receive(out)?;

    out.blank()?;
    out.line(&format!(
        "  A {LARGE_LEN}-byte binary message (64-bit extended length: 65536 bytes and up):"
    ))?;
    let large: Vec<u8> = (0..LARGE_LEN).map(|i| (i % 251) as u8).collect();
    client.send(out, Frame::binary(large))?;
    out.note(notes)?;
    client.receive(out)?;

    // 4. Control frames and fragments.
    out.blank()?;
    out.heading("4. Ping and pong (RFC 6455 § 5.5.2, § 5.5.3)")?;
    out.line(
        "  A ping asks \"are you there?\"; the peer must answer with a pong carrying the \
         same bytes. Control frames carry at most 125 bytes and are never fragmented.",
    )?;
    client.send(out, Frame::ping(&b"netlab"[..]))?;
    out.note(notes)?;
    client.receive(out)?;

    out.blank()?;
    out.heading("5. A fragmented message (RFC 6455 § 5.4)")?;
    out.line(
        "  One text message in three frames: the first has the opcode (1, text) and FIN=0; \
         the others are continuations (opcode 0);",
    )?;
    out.line("  the last has FIN=1. The receiver joins the payloads into one message.")?;
    for frame in [
        Frame::text("Hello, ").with_fin(false),
        Frame::new(OpCode::Continuation, &b"fragmented "[..]).with_fin(false),
        Frame::new(OpCode::Continuation, &b"world!"[..]),
    ] {
        client.send(out, frame)?;
    }
    out.note(notes)?;
    client.receive(out)?;

    out.blank()?;
    out.heading("6. The closing handshake (RFC 6455 § 5.5.1, § 7)")?;
    out.line(
        "  Each side sends a close frame (opcode 8) whose payload starts with a 2-byte \
         status code; 1000 means a normal closure.",
    )?;
    let close = client
        .session
        .close(wsw::close_code::NORMAL, "done")
        .context("the session was not open")?;
    client.write(out, &close)?;
    out.note(notes)?;
    client.receive(out)?;
    // The server closes TCP first (§ 7.1.1); the client sees its FIN, then sends its own.
    let mut rest = Vec::new();
    let eof = client.conn.read_more(&mut rest).is_err() && rest.is_empty();
    client.conn.finish()?;
    let ok = out.paint(color::OK, "✓");
    let server_fin = if eof {
        "the server closed the TCP connection first (FIN, § 7.1.1),"
    } else {
        "the server had not closed the TCP connection yet;"
    };
    out.line(&format!(
        "  {ok} both close frames crossed; {server_fin} then the client closed its side \
         (FIN): the TCP connection is over."
    ))?;
    Ok(client_addr)
}

fn explain_request(out: &mut Printer, req: &Request) -> io::Result<()> {
    out.line("  The request line and each header field:")?;
    out.field(
        "Request line",
        &format!("{} {} {}", req.method, req.target, req.version),
        "a WebSocket handshake must be GET, over HTTP/1.1 or later; the target names the \
         endpoint (ws://host:port/chat)",
    )?;
    for h in req.headers.iter() {
        let meaning = if h.name.eq_ignore_ascii_case(http::name::ORIGIN) {
            ORIGIN_MEANING
        } else {
            http::header_def(&h.name, true).meaning
        };
        out.field(&h.name, &h.value, meaning)?;
    }
    out.line("    (an empty line ends the head: no body follows)")
}

fn explain_response(out: &mut Printer, resp: &Response) -> io::Result<()> {
    out.line("  The status line and each header field:")?;
    out.field(
        "Status line",
        &format!("{} {} {}", resp.version, resp.status, resp.reason),
        "101 Switching Protocols: the server agrees; after this empty line both sides \
         speak WebSocket on the same TCP connection",
    )?;
    for h in resp.headers.iter() {
        let def = http::header_def(&h.name, false);
        let meaning = match def.name {
            "Upgrade" => "the protocol the connection switches to, confirmed: websocket",
            "Connection" => "Upgrade: the switch concerns this connection (this hop) only",
            _ => def.meaning,
        };
        out.field(&h.name, &h.value, meaning)?;
    }
    Ok(())
}

fn explain_accept(out: &mut Printer, key: &str, got: &str) -> io::Result<()> {
    out.heading("2. Sec-WebSocket-Accept, step by step (RFC 6455 § 4.2.2, § 1.3)")?;
    let joined = format!("{key}{}", wsw::GUID);
    let digest = Sha1::digest(joined.as_bytes());
    let digest_hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let accept = BASE64.encode(digest);
    out.field(
        "Sec-WebSocket-Key",
        key,
        "the client's 16 random bytes in base64, hashed as the 24 characters sent (not \
         decoded)",
    )?;
    out.field(
        "+ GUID",
        wsw::GUID,
        "a fixed string from RFC 6455 that no other protocol would use",
    )?;
    out.field("= concatenated", &joined, "")?;
    out.field("SHA-1 (20 bytes, hex)", &digest_hex, "")?;
    out.field("base64 of the SHA-1", &accept, "")?;
    let mark = |ok: bool| if ok { "✓ equal" } else { "✗ different!" };
    let same = out.paint(color::OK, mark(accept == got));
    out.field("server sent", got, &same)?;
    out.line(
        "    The client computes the same value: a 101 carrying it proves the server read \
         this very request and speaks WebSocket.",
    )?;
    let live = wsw::accept_key(RFC_KEY);
    let check = out.paint(color::OK, mark(live == RFC_ACCEPT));
    out.line(&format!(
        "    RFC 6455 § 1.3 example, computed now: {RFC_KEY} → {live} ({check} to the \
         RFC's {RFC_ACCEPT})"
    ))
}

struct Client {
    conn: Conn,
    /// Received bytes not yet decoded.
    buf: Vec<u8>,
    session: Session,
}

impl Client {
    /// Sends `frame` through the session (which masks it) and decodes what was written.
    fn send(&mut self, out: &mut Printer, frame: Frame) -> Result<()> {
        let f = self
            .session
            .send(frame)
            .context("the session no longer sends data")?;
        self.write(out, &f)
    }

    fn write(&mut self, out: &mut Printer, f: &Frame) -> Result<()> {
        let wire = f.encode();
        self.conn.send(&wire)?;
        explain_frame(out, Dir::ToServer, &wire)?;
        Ok(())
    }

    /// Reads one whole frame, decodes it, and hands it to the client's session.
    fn receive(&mut self, out: &mut Printer) -> Result<()> {
        let len = loop {
            if let Some((_, n)) =
                Frame::decode(&self.buf).context("the server sent a malformed frame")?
            {
                break n;
            }
            self.conn.read_more(&mut self.buf)?;
        };
        let raw: Vec<u8> = self.buf.drain(..len).collect();
        explain_frame(out, Dir::ToClient, &raw)?;
        for a in self.session.receive(&raw) {
            let line = match a {
                Action::Send(f) => {
                    self.conn.send(&f.encode())?;
                    continue;
                }
                Action::Received { .. } => continue,
                Action::Message(m) => {
                    format!("the client's session: message {}", describe_message(&m))
                }
                Action::Ping(_) => continue,
                Action::Pong(d) => format!(
                    "the client's session: pong {:?}, the bytes of its ping",
                    String::from_utf8_lossy(&d)
                ),
                Action::Closed { code, reason, .. } => format!(
                    "the client's session: {} — the closing handshake is complete",
                    describe_close(code, &reason)
                ),
                Action::Failed { close_code, why } => {
                    bail!("the server broke the protocol: {why} (close {close_code})")
                }
            };
            let who = out.paint(color::CLIENT, "  client:");
            out.line(&format!("{who} {line}"))?;
        }
        Ok(())
    }
}

/// Decodes one whole frame's bytes field by field, bit by bit.
fn explain_frame(out: &mut Printer, dir: Dir, raw: &[u8]) -> Result<()> {
    let v = FrameView::new_checked(raw).context("a frame too short to decode")?;
    let h = v.header();
    let payload = v.payload();
    let preview = &payload[..payload.len().min(wsw::PREVIEW_LEN)];
    let title = out.paint(dir.color(), &trace_line(dir.arrow(), &h, preview));
    out.line(&format!("  {title}"))?;
    let header_len = v.header_len();
    out.line(&format!(
        "    {} bytes on the wire: a {header_len}-byte header, then {} bytes of payload; \
         header = {}",
        raw.len(),
        payload.len(),
        hex(&raw[..header_len], wsw::MAX_HEADER_LEN)
    ))?;
    let b0 = raw[0];
    let b1 = raw[1];
    out.line(&format!(
        "    byte 0 = {b0:#04x} = {}",
        bits_under(b0, 0xff)
    ))?;
    let fin = if v.fin() {
        "the last frame of its message"
    } else {
        "more frames of this message follow"
    };
    out.field(
        &bits_under(b0, bits::FIN),
        &format!("FIN = {}", u8::from(v.fin())),
        fin,
    )?;
    out.field(
        &bits_under(b0, bits::RSV),
        &format!("RSV1–3 = {:03b}", v.rsv()),
        "reserved for extensions; 0 since none was agreed",
    )?;
    out.field(
        &bits_under(b0, bits::OPCODE),
        &format!(
            "opcode = {:#x} ({})",
            u8::from(v.opcode()),
            v.opcode().name()
        ),
        "",
    )?;
    out.line(&format!(
        "    byte 1 = {b1:#04x} = {}",
        bits_under(b1, 0xff)
    ))?;
    let mask = if v.masked() {
        "a 4-byte masking key follows the length: a client's frame"
    } else {
        "no masking key: a server's frame"
    };
    out.field(
        &bits_under(b1, bits::MASK),
        &format!("MASK = {}", u8::from(v.masked())),
        mask,
    )?;
    let len_meaning = match v.length_form() {
        LengthForm::Short => "the payload length itself (0–125)".to_string(),
        LengthForm::Ext16 => "126: the length is in the next 2 bytes (16-bit form)".to_string(),
        LengthForm::Ext64 => "127: the length is in the next 8 bytes (64-bit form)".to_string(),
    };
    out.field(
        &bits_under(b1, bits::LEN),
        &format!("payload length = {}", v.len7()),
        &len_meaning,
    )?;
    if let Some(r) = v.length_form().ext_field() {
        let (name, why) = match v.length_form() {
            LengthForm::Ext16 => (
                "16-bit extended length",
                "used for 126 to 65535 bytes (RFC 6455 § 5.2: the shortest form must be used)",
            ),
            _ => (
                "64-bit extended length",
                "used from 65536 bytes up; its top bit must be 0",
            ),
        };
        out.field(
            &span(r.clone()),
            &format!("{name} = {} = {}", hex(&raw[r], 8), v.payload_len()),
            why,
        )?;
    }
    let body = v.payload_range();
    if let Some(key) = v.masking_key() {
        out.field(
            &span(v.length_form().masking_key_field()),
            &format!("masking key = {}", hex(&key, 4)),
            "chosen at random for this frame",
        )?;
        out.field(
            &span(body.clone()),
            &format!("masked payload = {}", hex(v.raw_payload(), SHOW_BYTES)),
            "as it crossed the wire",
        )?;
        out.field(
            "",
            &format!("unmasked       = {}", hex(&payload, SHOW_BYTES)),
            "byte i XOR key[i % 4]",
        )?;
    } else if !payload.is_empty() {
        out.field(
            &span(body),
            &format!("payload = {}", hex(&payload, SHOW_BYTES)),
            "",
        )?;
    }
    match v.opcode() {
        OpCode::Text | OpCode::Continuation | OpCode::Ping | OpCode::Pong
            if !payload.is_empty() && payload.len() <= wsw::MAX_CONTROL_PAYLOAD =>
        {
            out.line(&format!(
                "    {:<24} as text: {:?}",
                "",
                String::from_utf8_lossy(&payload)
            ))?;
        }
        OpCode::Close => {
            if let Ok(Some((code, reason))) = wsw::parse_close(&payload) {
                out.line(&format!(
                    "    {:<24} status code = {} = {code} ({}), reason {reason:?}",
                    "",
                    hex(&payload[..2], 2),
                    wsw::close_code_name(code)
                ))?;
            }
        }
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The pcap.
// ---------------------------------------------------------------------------------------

fn timestamp(t: SystemTime) -> (u32, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs() as u32, d.subsec_micros())
}

/// Turns the log into TCP/IP packets (see the module docs) and writes them; returns how
/// many.
fn write_pcap(
    file: std::fs::File,
    client: SocketAddr,
    server: SocketAddr,
    records: &[Record],
) -> Result<usize> {
    let mut w = Writer::new(BufWriter::new(file), 101)?;
    // Initial sequence numbers as a real stack picks them: unpredictable.
    let isn = [random::os_u64() as u32, random::os_u64() as u32];
    let mut next = [isn[0].wrapping_add(1), isn[1].wrapping_add(1)];
    let side = |d: Dir| match d {
        Dir::ToServer => 0,
        Dir::ToClient => 1,
    };
    let addr = [client, server];
    let mut count = 0;
    let mut emit = |at: SystemTime, from: usize, seq: u32, ack: u32, f: u16, payload: &[u8]| {
        let repr = tcp::Repr {
            src_port: addr[from].port(),
            dst_port: addr[1 - from].port(),
            seq_number: seq,
            ack_number: ack,
            flags: f,
            window_len: 65_535,
            options: Vec::new(),
        };
        let packet = build_packet(addr[from], addr[1 - from], &repr, payload);
        let (s, us) = timestamp(at);
        count += 1;
        w.write_packet(s, us, &packet)
    };
    for r in records {
        let me = side(r.dir);
        let peer = 1 - me;
        match &r.event {
            Event::Open => {
                emit(r.at, 0, isn[0], 0, flags::SYN, &[])?;
                emit(r.at, 1, isn[1], next[0], flags::SYN | flags::ACK, &[])?;
                emit(r.at, 0, next[0], next[1], flags::ACK, &[])?;
            }
            Event::Data(bytes) => {
                for seg in bytes.chunks(MAX_SEGMENT) {
                    emit(r.at, me, next[me], next[peer], flags::PSH | flags::ACK, seg)?;
                    next[me] = next[me].wrapping_add(seg.len() as u32);
                    emit(r.at, peer, next[peer], next[me], flags::ACK, &[])?;
                }
            }
            Event::Fin => {
                emit(r.at, me, next[me], next[peer], flags::FIN | flags::ACK, &[])?;
                next[me] = next[me].wrapping_add(1);
                emit(r.at, peer, next[peer], next[me], flags::ACK, &[])?;
            }
        }
    }
    w.flush()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_shown_under_their_mask() {
        assert_eq!(bits_under(0x81, bits::FIN), "1... ....");
        assert_eq!(bits_under(0x81, bits::RSV), ".000 ....");
        assert_eq!(bits_under(0x81, bits::OPCODE), ".... 0001");
        assert_eq!(bits_under(0xfe, bits::LEN), ".111 1110");
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_key(RFC_KEY).is_ok());
        assert!(check_key("AQIDBAUGBwgJCgsMDQ4P").is_err());
        assert!(check_key("not base64!").is_err());
    }

    #[test]
    fn pcap_sequence_numbers_follow_the_bytes() {
        let t = SystemTime::now();
        let rec = |dir, event| Record { at: t, dir, event };
        let records = [
            rec(Dir::ToServer, Event::Open),
            rec(Dir::ToServer, Event::Data(vec![1; 10])),
            rec(Dir::ToClient, Event::Data(vec![2; MAX_SEGMENT + 5])),
            rec(Dir::ToClient, Event::Fin),
            rec(Dir::ToServer, Event::Fin),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pcap");
        let c: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let s: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let n = write_pcap(std::fs::File::create(&path).unwrap(), c, s, &records).unwrap();
        // 3 handshake + (1 data + 1 ack) + 2 × (data + ack) + 2 × (FIN + ack).
        assert_eq!(n, 3 + 2 + 4 + 4);
        let bytes = std::fs::read(&path).unwrap();
        let mut r = crate::capture::Reader::new(&bytes[..]).unwrap();
        let mut seen = 0;
        while let Some(p) = r.next_record().unwrap() {
            seen += 1;
            assert!(p.data.len() <= 65_535);
        }
        assert_eq!(seen, n);
    }
}
