//! `netlab socketio serve` and `netlab socketio connect`: HTTP long-polling, the
//! WebSocket and threads around the engines in [`crate::socketio`].
//!
//! Server: one thread per TCP connection (HTTP keep-alive: a connection may carry many
//! polling requests, or turn into a WebSocket), one writer thread per WebSocket, and a
//! ticker thread for the heartbeat. All Engine.IO/Socket.IO state is one
//! [`Hub`] behind one mutex; after each change the sessions it names dirty are woken:
//! a WebSocket's writer through its channel, a waiting polling GET through its condvar.
//!
//! `--trace` goes through [`Tracer`]; see its docs for where the TCP/IP/link layers plug in.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::cli::{SioConnectArgs, SioDemoArgs, SioServeArgs, SioTransport, SocketioCommand};
use crate::net::http::{
    ConnLimit, HEAD_TIMEOUT, Head, linger_close, read_body, read_head, read_response, refuse_busy,
    spawn_small, text_response, websocket_upgrade, write_response,
};
use crate::net::sandbox::{self, Identity};
use crate::socketio::client::{Client, ClientEvent, State as ClientState};
use crate::socketio::trace::{self, Layer};
use crate::socketio::{Config, Hub, Note, Transport};
use crate::wire::engineio::{self as eio, Data, ErrorCode, Query};
use crate::wire::http::{self, Request, Response};
use crate::wire::socketio as sio;
use crate::wire::websocket::{self as wsw, Frame, FrameHeader, Message, OpCode, Role};
use crate::ws::{Action, Session, XorShift};

/// Writes to standard output; a closed pipe (`netlab socketio demo | head`) ends the
/// process quietly with status 0, as everywhere in netlab.
fn write_stdout(text: &str) {
    let mut out = io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

/// `println!` through [`write_stdout`].
macro_rules! say {
    ($($arg:tt)*) => {
        write_stdout(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// The path the official client uses.
pub const PATH: &str = "/socket.io/";
/// During an upgrade, how long a polling GET waits before it is ended with a noop
/// (engine.io's `upgrade` check interval).
const UPGRADE_CHECK: Duration = Duration::from_millis(100);
/// How long a keep-alive connection may stay idle between requests.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

pub fn run(cmd: &SocketioCommand) -> Result<()> {
    match cmd {
        SocketioCommand::Serve(args) => serve(args),
        SocketioCommand::Connect(args) => connect(args),
        SocketioCommand::Demo(args) => demo(args),
    }
}

// ---------------------------------------------------------------------------------------
// Trace: the onion.
// ---------------------------------------------------------------------------------------

/// Which way a message goes, seen from netlab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// netlab wrote it.
    Sent,
    /// netlab read it.
    Received,
}

impl Direction {
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Sent => "→",
            Direction::Received => "←",
        }
    }
}

/// The two ends of a TCP connection, as netlab's socket sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnAddrs {
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// The stream's descriptor, for the lower layers to ask the kernel (`TCP_INFO`)
    /// while the stream is open. Never closed through this copy.
    pub fd: Option<std::os::fd::RawFd>,
}

impl ConnAddrs {
    pub fn of(stream: &TcpStream) -> Option<ConnAddrs> {
        Some(ConnAddrs {
            local: stream.local_addr().ok()?,
            peer: stream.peer_addr().ok()?,
            fd: Some(std::os::fd::AsRawFd::as_raw_fd(stream)),
        })
    }
}

/// The layers under the carrier (WebSocket frame or HTTP message): TCP, IP, link.
///
/// **Hook for the lower layers.** [`Tracer::carried`] calls [`LowerLayers::describe`]
/// once per WebSocket frame or HTTP message, right after it was written to or read from
/// the socket, with the connection's addresses, the direction and the number of bytes
/// that crossed the socket for it (`wire_len`: frame header + payload, or HTTP head +
/// body). An implementation that watches the loopback interface (AF_PACKET) or asks
/// the kernel (TCP_INFO) returns the lines to print, one per layer, already indented
/// by nothing — the tracer indents them. Install it with [`Tracer::with_lower`].
pub trait LowerLayers: Send + Sync {
    fn describe(&self, conn: &ConnAddrs, dir: Direction, wire_len: usize) -> Vec<String>;
}

/// What a socket alone can say: the byte count and the ports.
pub struct SocketOnly;

impl LowerLayers for SocketOnly {
    fn describe(&self, conn: &ConnAddrs, dir: Direction, wire_len: usize) -> Vec<String> {
        let (from, to) = match dir {
            Direction::Sent => (conn.local, conn.peer),
            Direction::Received => (conn.peer, conn.local),
        };
        vec![format!(
            "TCP        {wire_len} bytes of the byte stream {from} → {to} (segments, IP and link not watched)"
        )]
    }
}

/// Prints each message at every layer, nested under the call that made it.
pub struct Tracer {
    enabled: bool,
    lower: Box<dyn LowerLayers>,
}

impl Tracer {
    pub fn new(enabled: bool) -> Tracer {
        Tracer {
            enabled,
            lower: Box::new(SocketOnly),
        }
    }

    /// Replaces the TCP/IP/link part of the trace (see [`LowerLayers`]).
    pub fn with_lower(mut self, lower: Box<dyn LowerLayers>) -> Tracer {
        self.lower = lower;
        self
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn layer_line(l: &Layer) -> String {
        format!(
            "{:<10} {}   {}   (+{} B, {} B in all)",
            l.name, l.shown, l.meaning, l.overhead, l.total
        )
    }

    /// The HTTP request that turned the connection into a WebSocket, and its 101.
    pub fn upgrade(
        &self,
        conn: Option<&ConnAddrs>,
        target: &str,
        request_len: usize,
        response_len: usize,
    ) {
        if !self.enabled {
            return;
        }
        let who = conn.map_or_else(|| "?".to_string(), |c| c.peer.to_string());
        say!(
            "[{who}] HTTP GET {target} (Upgrade: websocket, {request_len} B) → 101 Switching Protocols ({response_len} B): from here on, WebSocket frames"
        );
    }

    /// One carrier (a frame, an HTTP message) with the Engine.IO packets inside it.
    pub fn carried(
        &self,
        conn: Option<&ConnAddrs>,
        dir: Direction,
        packets: &[eio::Packet],
        carrier: Layer,
        polling: bool,
    ) {
        if !self.enabled {
            return;
        }
        let mut out = String::new();
        let who = conn.map_or_else(|| "?".to_string(), |c| c.peer.to_string());
        let wire_len = carrier.total;
        if packets.is_empty() {
            out.push_str(&format!("[{who}] {} (no Engine.IO packet)\n", dir.arrow()));
        }
        for (i, p) in packets.iter().enumerate() {
            out.push_str(&format!("[{who}] {} {}\n", dir.arrow(), trace::call(p)));
            for l in trace::upper_layers(p, polling) {
                out.push_str(&format!("    {}\n", Self::layer_line(&l)));
            }
            if i + 1 < packets.len() {
                out.push_str("    (same HTTP body, after \\x1e)\n");
            }
        }
        out.push_str(&format!("    {}\n", Self::layer_line(&carrier)));
        if let Some(c) = conn {
            for line in self.lower.describe(c, dir, wire_len) {
                out.push_str(&format!("    {line}\n"));
            }
        }
        write_stdout(&out);
    }
}

/// The tracer every command uses (`serve`, `connect`, `demo`): the one place to install
/// a [`LowerLayers`] that shows TCP, IP and link. With `--trace`, they come from a
/// packet watch on lo, or `TCP_INFO` without CAP_NET_RAW (see
/// [`super::onion::SioLower`]). `endpoint`: the server's address; the watch starts now,
/// before the connections, to see their SYNs.
fn tracer(enabled: bool, endpoint: Option<SocketAddr>) -> Tracer {
    let tracer = Tracer::new(enabled);
    match endpoint {
        Some(endpoint) if enabled => {
            let lower = super::onion::SioLower::new(endpoint);
            say!("{}", lower.banner());
            tracer.with_lower(Box::new(lower))
        }
        _ => tracer,
    }
}

// ---------------------------------------------------------------------------------------
// Server.
// ---------------------------------------------------------------------------------------

/// How a session's packets reach its transport.
#[derive(Default)]
struct Link {
    /// The WebSocket writer's queue (also during the upgrade probe), with the
    /// connection's number.
    ws: Option<(u64, Sender<WsOut>)>,
    /// Woken when packets wait for a polling GET.
    poll: Arc<Condvar>,
}

struct Shared {
    hub: Hub,
    links: HashMap<String, Link>,
}

struct Server {
    shared: Mutex<Shared>,
    tracer: Tracer,
    quiet: bool,
    /// No log lines (the demo's server: only the client's trace is shown).
    silent: bool,
    /// TCP connections being served, against `--max-connections`.
    limit: Arc<ConnLimit>,
}

enum WsOut {
    /// Packets wait in the hub.
    Wake,
    /// A WebSocket control frame (pong, close echo) from the session engine.
    Frame(Frame),
    /// The reader is done: stop.
    Shutdown,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Server {
    /// Wakes every session the hub marked and prints its notes. Called with the lock.
    fn flush(&self, sh: &mut Shared) {
        for note in sh.hub.drain_notes() {
            if !self.silent
                && let Some(line) = note_line(&note, self.quiet)
            {
                say!("{line}");
            }
            if let Note::Closed { sid, .. } = &note
                && let Some(link) = sh.links.get(sid)
            {
                link.poll.notify_all();
            }
        }
        for sid in sh.hub.drain_dirty() {
            if let Some(link) = sh.links.get(&sid) {
                if let Some((_, tx)) = &link.ws {
                    let _ = tx.send(WsOut::Wake);
                }
                link.poll.notify_all();
            }
        }
    }
}

fn short(sid: &str) -> &str {
    &sid[..sid.len().min(8)]
}

fn note_line(n: &Note, quiet: bool) -> Option<String> {
    Some(match n {
        Note::Opened { sid, transport } => {
            format!(
                "[{}] open: Engine.IO session {sid} over {}",
                short(sid),
                transport.name()
            )
        }
        Note::Upgraded { sid } => format!("[{}] upgraded to websocket", short(sid)),
        Note::Closed { sid, reason } => format!("[{}] closed: {reason}", short(sid)),
        Note::Connected {
            sid,
            nsp,
            socket_id,
        } => format!("[{}] connect {nsp} → socket id {socket_id}", short(sid)),
        Note::Refused { sid, nsp, message } => {
            format!("[{}] connect {nsp} refused: {message}", short(sid))
        }
        Note::Left { sid, nsp } => format!("[{}] disconnect {nsp}", short(sid)),
        Note::Joined { sid, nsp, room } => {
            format!("[{}] joined room {room:?} in {nsp}", short(sid))
        }
        Note::Event {
            sid,
            nsp,
            name,
            args,
            ack,
            relayed,
        } => {
            if quiet {
                return None;
            }
            let mut s = format!("[{}] {nsp} ← {name:?}({args})", short(sid));
            if let Some(id) = ack {
                s.push_str(&format!(" → ack #{id}"));
            }
            if *relayed > 0 {
                s.push_str(&format!(" → relayed to {relayed}"));
            }
            s
        }
    })
}

fn serve(args: &SioServeArgs) -> Result<()> {
    let listener =
        TcpListener::bind(args.addr).with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    let server = start(args, addr, false)?;
    say!(
        "netlab socketio serve: listening on http://{addr}{PATH} (Engine.IO 4, Socket.IO 5) — open http://{addr}/ in a browser"
    );
    accept_loop(&listener, &server);
    Ok(())
}

/// The server's state and its heartbeat thread. `silent`: no log lines at all.
/// `addr`: where the listener is bound (the trace watches its port).
fn start(args: &SioServeArgs, addr: SocketAddr, silent: bool) -> Result<Arc<Server>> {
    if args.ping_interval == 0 || args.ping_timeout == 0 {
        bail!("--ping-interval and --ping-timeout must be at least 1 ms");
    }
    let config = Config {
        ping_interval: Duration::from_millis(args.ping_interval),
        ping_timeout: Duration::from_millis(args.ping_timeout),
        max_payload: args.max_payload.max(1),
        auth_token: args.auth_token.clone(),
    };
    let server = Arc::new(Server {
        shared: Mutex::new(Shared {
            hub: Hub::new(config, XorShift::from_clock()),
            links: HashMap::new(),
        }),
        tracer: tracer(args.trace, Some(addr)),
        quiet: args.quiet,
        silent,
        limit: ConnLimit::new(args.max_connections),
    });
    let ticker = Arc::clone(&server);
    thread::Builder::new()
        .name("heartbeat".into())
        .spawn(move || heartbeat(&ticker))?;
    Ok(server)
}

fn accept_loop(listener: &TcpListener, server: &Arc<Server>) {
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let Some(slot) = server.limit.try_take() else {
                    refuse_busy(stream);
                    continue;
                };
                let server = Arc::clone(server);
                let spawned = spawn_small(move || {
                    let _slot = slot;
                    let peer = stream
                        .peer_addr()
                        .map_or_else(|_| "?".to_string(), |a| a.to_string());
                    if let Err(e) = handle(stream, &server)
                        && !server.silent
                    {
                        say!("[{peer}] error: {e:#}");
                    }
                });
                if let Err(e) = spawned {
                    eprintln!("netlab socketio serve: cannot start a thread: {e}");
                }
            }
            Err(e) => {
                eprintln!("netlab socketio serve: accept failed: {e}");
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// `netlab socketio demo`: a server on 127.0.0.1 and a client in one process; the
/// client's `--trace` shows one emit and its ack at every layer.
fn demo(args: &SioDemoArgs) -> Result<()> {
    // First, while netlab has one thread: a private namespace with only lo, where the
    // packet watch needs no privilege on the host (a user namespace makes it ours).
    let private = match sandbox::private_lo(Identity::Caller) {
        Ok(_) => true,
        Err(e) => {
            eprintln!(
                "netlab: note: {}; the demo runs on this machine's lo instead",
                e.explain("socketio demo", false)
            );
            false
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let serve_args = SioServeArgs {
        addr,
        trace: false,
        auth_token: None,
        ping_interval: eio::DEFAULT_PING_INTERVAL,
        ping_timeout: eio::DEFAULT_PING_TIMEOUT,
        max_payload: eio::DEFAULT_MAX_PAYLOAD,
        quiet: true,
        max_connections: 16,
    };
    let server = start(&serve_args, addr, true)?;
    thread::Builder::new()
        .name("accept".into())
        .spawn(move || accept_loop(&listener, &server))?;
    say!(
        "netlab socketio demo: {}netlab's server listens on http://{addr}{PATH}; netlab's client connects over {} and emits {:?} with {}{}, asking for acknowledgements\n",
        if private {
            "in a private network namespace (only lo; it vanishes with netlab), "
        } else {
            ""
        },
        match args.transport {
            SioTransport::Websocket => "a WebSocket",
            SioTransport::Polling => "HTTP long-polling",
            SioTransport::Auto => "HTTP long-polling, then a WebSocket",
        },
        args.event,
        args.json,
        if args.binary {
            ", then \"upload\" with a 9-byte binary argument"
        } else {
            ""
        }
    );
    let client_args = SioConnectArgs {
        url: format!("http://{addr}"),
        namespace: "/".to_string(),
        auth: None,
        emit: Vec::new(),
        emit_binary: Vec::new(),
        ack: true,
        listen: false,
        trace: true,
        transport: args.transport,
        wait: 3000,
        ignore_pings: false,
    };
    let mut emits = vec![(args.event.clone(), vec![json_arg(&args.json)], Vec::new())];
    if args.binary {
        // A binary argument: a placeholder in the JSON, the bytes as an attachment.
        emits.push((
            "upload".to_string(),
            vec![Value::String("hello.bin".into()), sio::placeholder(0)],
            vec![b"hello\x00\x01\x02\xff".to_vec()],
        ));
    }
    run_client(&client_args, &parse_url(&client_args.url)?, None, emits)
}

/// Sends pings when due and closes sessions whose pong is late.
fn heartbeat(server: &Server) {
    let cap = {
        let sh = lock(&server.shared);
        let c = sh.hub.config();
        (c.ping_interval.min(c.ping_timeout) / 4)
            .clamp(Duration::from_millis(5), Duration::from_millis(500))
    };
    loop {
        let now = Instant::now();
        let next = {
            let mut sh = lock(&server.shared);
            let next = sh.hub.tick(now);
            server.flush(&mut sh);
            next
        };
        let wait = next.map_or(cap, |n| {
            n.saturating_duration_since(Instant::now()).min(cap)
        });
        thread::sleep(wait.max(Duration::from_millis(1)));
    }
}

/// Writes `resp` + `body`; keeps the connection unless the response closes it.
fn error_response(code: ErrorCode) -> (Response, Vec<u8>) {
    let body = code.json().into_bytes();
    let resp = Response::new(code.status())
        .with_header(http::name::CONTENT_TYPE, "application/json")
        .with_header(http::name::CONTENT_LENGTH, body.len().to_string());
    (resp, body)
}

/// One TCP connection: HTTP requests until it closes or becomes a WebSocket.
fn handle(mut stream: TcpStream, server: &Arc<Server>) -> Result<()> {
    let _ = stream.set_nodelay(true);
    let conn = ConnAddrs::of(&stream);
    let peer = conn.map_or_else(|| "?".to_string(), |c| c.peer.to_string());
    let mut leftover = Vec::new();
    let mut first = true;
    loop {
        let timeout = if first { HEAD_TIMEOUT } else { IDLE_TIMEOUT };
        first = false;
        let (req, rest) = match read_head(&mut stream, std::mem::take(&mut leftover), timeout)? {
            Head::Request(req, rest) => (req, rest),
            Head::Bad(e) => {
                say!("[{peer}] bad request head: {e} → {}", e.status());
                let resp = Response::new(e.status())
                    .with_header(http::name::CONNECTION, "close")
                    .with_header(http::name::CONTENT_LENGTH, "0");
                write_response(&mut stream, &resp, b"")?;
                linger_close(&mut stream);
                return Ok(());
            }
            Head::TimedOut | Head::Closed => return Ok(()),
        };
        leftover = rest;
        let close_after = req.headers.has_token(http::name::CONNECTION, "close");
        let path = req.target.split('?').next().unwrap_or_default();
        if path == PATH || path == PATH.trim_end_matches('/') {
            match engine_request(&mut stream, server, &req, &mut leftover, conn.as_ref())? {
                Next::KeepAlive if !close_after => continue,
                Next::KeepAlive | Next::Close => {
                    linger_close(&mut stream);
                    return Ok(());
                }
                Next::Done => return Ok(()),
            }
        }
        // Plain HTTP: the chat page, or 404.
        let (resp, body) = if req.method == "GET" && path == "/" {
            text_response(200, "text/html; charset=utf-8", PAGE)
        } else {
            text_response(
                404,
                "text/plain; charset=utf-8",
                "not found: Socket.IO is at /socket.io/, the chat page at /\n",
            )
        };
        // Skip a body we do not read.
        if let Ok(Some(n)) = req.headers.content_length() {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > 1 << 20 || !read_body(&mut stream, &mut leftover, n, HEAD_TIMEOUT)? {
                return Ok(());
            }
            leftover.drain(..n);
        }
        write_response(&mut stream, &resp, &body)?;
        if close_after {
            linger_close(&mut stream);
            return Ok(());
        }
    }
}

/// What the connection does after an Engine.IO request.
enum Next {
    KeepAlive,
    /// Close the connection (after an error that may leave unread bytes).
    Close,
    /// The connection was a WebSocket and is over.
    Done,
}

/// The checks of the official server's `verify()` and `handshake()`, in its order.
fn verify(req: &Request, q: &Query, hub: &Hub, upgrade: bool) -> Result<Transport, ErrorCode> {
    let transport = q
        .transport
        .as_deref()
        .and_then(Transport::from_query)
        .ok_or(ErrorCode::UnknownTransport)?;
    match &q.sid {
        Some(sid) => {
            let current = hub.transport(sid).ok_or(ErrorCode::UnknownSid)?;
            if !upgrade && current != transport {
                return Err(ErrorCode::BadRequest);
            }
            // One upgrade per session: a second WebSocket (while probing, or after the
            // upgrade) is refused, as the official server does.
            if upgrade && (current == Transport::WebSocket || hub.is_upgrading(sid)) {
                return Err(ErrorCode::BadRequest);
            }
        }
        None => {
            if req.method != "GET" {
                return Err(ErrorCode::BadHandshakeMethod);
            }
            if transport == Transport::WebSocket && !upgrade {
                return Err(ErrorCode::BadRequest);
            }
            if q.eio.as_deref() != Some("4") {
                return Err(ErrorCode::UnsupportedProtocolVersion);
            }
        }
    }
    Ok(transport)
}

fn engine_request(
    stream: &mut TcpStream,
    server: &Arc<Server>,
    req: &Request,
    leftover: &mut Vec<u8>,
    conn: Option<&ConnAddrs>,
) -> Result<Next> {
    let q = Query::parse(&req.target);
    let upgrade = req.headers.has_token(http::name::UPGRADE, "websocket");
    let checked = {
        let sh = lock(&server.shared);
        verify(req, &q, &sh.hub, upgrade)
    };
    let transport = match checked {
        Ok(t) => t,
        Err(code) => {
            let who = conn.map_or_else(|| "?".to_string(), |c| c.peer.to_string());
            say!(
                "[{who}] {} {} → {} {}",
                req.method,
                req.target,
                code.status(),
                code.json()
            );
            if upgrade {
                // The official server answers a refused upgrade with a plain 400.
                let msg = code.message();
                let resp = Response::new(400)
                    .with_header(http::name::CONNECTION, "close")
                    .with_header(http::name::CONTENT_TYPE, "text/html")
                    .with_header(http::name::CONTENT_LENGTH, msg.len().to_string());
                write_response(stream, &resp, msg.as_bytes())?;
                return Ok(Next::Close);
            }
            let (resp, body) = error_response(code);
            write_response(stream, &resp, &body)?;
            return Ok(if req.headers.contains(http::name::CONTENT_LENGTH) {
                Next::Close
            } else {
                Next::KeepAlive
            });
        }
    };
    match (transport, q.sid) {
        (Transport::WebSocket, sid) => {
            websocket(stream, server, req, sid, std::mem::take(leftover), conn)?;
            Ok(Next::Done)
        }
        (Transport::Polling, None) => {
            let sid = {
                let mut sh = lock(&server.shared);
                let sid = sh.hub.open(Transport::Polling, Instant::now());
                sh.links.insert(sid.clone(), Link::default());
                server.flush(&mut sh);
                sid
            };
            poll(stream, server, &sid, conn, req)
        }
        (Transport::Polling, Some(sid)) if req.method == "GET" => {
            poll(stream, server, &sid, conn, req)
        }
        (Transport::Polling, Some(sid)) if req.method == "POST" => {
            post(stream, server, &sid, req, leftover, conn)
        }
        (Transport::Polling, Some(_)) => {
            let resp = Response::new(500).with_header(http::name::CONTENT_LENGTH, "0");
            write_response(stream, &resp, b"")?;
            Ok(Next::KeepAlive)
        }
    }
}

/// A polling GET: answers with the packets waiting, or waits for some.
fn poll(
    stream: &mut TcpStream,
    server: &Server,
    sid: &str,
    conn: Option<&ConnAddrs>,
    req: &Request,
) -> Result<Next> {
    let (packets, closed) = {
        let mut sh = lock(&server.shared);
        if !sh.hub.begin_poll(sid) {
            // Two GETs at once: the official server answers 400 and closes the session.
            server.flush(&mut sh);
            drop(sh);
            let resp = Response::new(400).with_header(http::name::CONTENT_LENGTH, "0");
            write_response(stream, &resp, b"")?;
            return Ok(Next::Close);
        }
        let (limit, cv) = {
            let c = sh.hub.config();
            let limit = c.ping_interval + c.ping_timeout + Duration::from_secs(5);
            let cv = sh.links.entry(sid.to_string()).or_default().poll.clone();
            (limit, cv)
        };
        let deadline = Instant::now() + limit;
        // During an upgrade a poll is ended with a noop within 100 ms, as the official
        // server's upgrade check does, so that the client can pause polling.
        let entered = Instant::now();
        while !sh.hub.has_output(sid, Transport::Polling)
            && sh.hub.transport(sid) == Some(Transport::Polling)
        {
            let mut left = deadline.saturating_duration_since(Instant::now());
            if sh.hub.is_upgrading(sid) {
                left = left.min(UPGRADE_CHECK.saturating_sub(entered.elapsed()));
            }
            if left.is_zero() {
                break;
            }
            sh = cv
                .wait_timeout(sh, left)
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        }
        sh.hub.end_poll(sid);
        let taken = sh.hub.take(sid, Transport::Polling);
        if taken.closed.is_some() {
            sh.links.remove(sid);
        }
        (taken.packets, taken.closed)
    };
    let mut packets = packets;
    if closed.is_some() {
        // The official server ends a closing session's pending poll with a close packet.
        packets.push(eio::Packet::new(eio::PacketType::Close, ""));
    }
    if packets.is_empty() {
        packets.push(eio::Packet::new(eio::PacketType::Noop, ""));
    }
    let body = eio::encode_payload(&packets);
    let (resp, body) = text_response(200, "text/plain; charset=UTF-8", &body);
    write_response(stream, &resp, &body)?;
    if server.tracer.enabled() {
        let head_len = resp.to_bytes().len();
        let carrier = trace::http_layer(
            &format!("{} {} → 200 OK", req.method, req.target),
            head_len,
            body.len(),
            packets.len(),
        );
        server
            .tracer
            .carried(conn, Direction::Sent, &packets, carrier, true);
    }
    Ok(Next::KeepAlive)
}

/// A polling POST: the client's packets.
fn post(
    stream: &mut TcpStream,
    server: &Server,
    sid: &str,
    req: &Request,
    leftover: &mut Vec<u8>,
    conn: Option<&ConnAddrs>,
) -> Result<Next> {
    let max = lock(&server.shared).hub.config().max_payload;
    let close = |reason: &str| {
        let mut sh = lock(&server.shared);
        sh.hub.close(sid, reason);
        server.flush(&mut sh);
    };
    let len = match req.headers.content_length() {
        Ok(Some(n)) => usize::try_from(n).unwrap_or(usize::MAX),
        _ => {
            close("transport error");
            let (resp, body) = text_response(411, "text/plain", "Length Required");
            write_response(stream, &resp, &body)?;
            return Ok(Next::Close);
        }
    };
    if len > max {
        // engine.io's polling transport: `res.writeHead(413).end()`.
        close("transport error: payload too large");
        let resp = Response::new(413)
            .with_header(http::name::CONNECTION, "close")
            .with_header(http::name::CONTENT_LENGTH, "0");
        write_response(stream, &resp, b"")?;
        return Ok(Next::Close);
    }
    if req
        .headers
        .get(http::name::CONTENT_TYPE)
        .is_some_and(|t| t.eq_ignore_ascii_case("application/octet-stream"))
    {
        close("invalid content");
        let resp = Response::new(400).with_header(http::name::CONTENT_LENGTH, "0");
        write_response(stream, &resp, b"")?;
        return Ok(Next::Close);
    }
    if !read_body(stream, leftover, len, HEAD_TIMEOUT)? {
        close("data request connection closed prematurely");
        return Ok(Next::Close);
    }
    let body: Vec<u8> = leftover.drain(..len).collect();
    let decoded = std::str::from_utf8(&body)
        .map_err(|_| eio::EioError::NotUtf8)
        .and_then(eio::decode_payload);
    match decoded {
        Ok(packets) => {
            if server.tracer.enabled() {
                let head_len = req.to_bytes().len();
                let carrier = trace::http_layer(
                    &format!("POST {}", req.target),
                    head_len,
                    body.len(),
                    packets.len(),
                );
                server
                    .tracer
                    .carried(conn, Direction::Received, &packets, carrier, true);
            }
            let mut sh = lock(&server.shared);
            let now = Instant::now();
            for p in packets {
                sh.hub.receive(sid, Transport::Polling, p, now);
            }
            server.flush(&mut sh);
        }
        Err(e) => {
            let who = conn.map_or_else(|| "?".to_string(), |c| c.peer.to_string());
            say!("[{who}] bad polling payload: {e}");
            // The official server answers "ok" and closes the session ("parse error").
            close("parse error");
        }
    }
    let (resp, body) = text_response(200, "text/html", "ok");
    write_response(stream, &resp, &body)?;
    Ok(Next::KeepAlive)
}

/// The WebSocket transport: a new session, or the upgrade of a polling one.
fn websocket(
    stream: &mut TcpStream,
    server: &Arc<Server>,
    req: &Request,
    sid: Option<String>,
    leftover: Vec<u8>,
    conn: Option<&ConnAddrs>,
) -> Result<()> {
    let hs = match wsw::validate_client_request(req) {
        Ok(hs) => hs,
        Err(e) => {
            write_response(stream, &e.response(), b"")?;
            linger_close(stream);
            return Ok(());
        }
    };
    let accept = hs.accept_response(None).to_bytes();
    stream.write_all(&accept)?;
    if server.tracer.enabled() {
        server
            .tracer
            .upgrade(conn, &req.target, req.to_bytes().len(), accept.len());
    }
    stream.set_read_timeout(None)?;
    let (tx, rx) = mpsc::channel::<WsOut>();
    static NEXT_WS: AtomicU64 = AtomicU64::new(1);
    let ws_id = NEXT_WS.fetch_add(1, Ordering::Relaxed);
    let max = lock(&server.shared).hub.config().max_payload;
    let sid = {
        let mut sh = lock(&server.shared);
        let sid = match sid {
            Some(s) => s,
            None => sh.hub.open(Transport::WebSocket, Instant::now()),
        };
        sh.links.entry(sid.clone()).or_default().ws = Some((ws_id, tx.clone()));
        let _ = tx.send(WsOut::Wake);
        server.flush(&mut sh);
        sid
    };
    let writer = {
        let wstream = stream.try_clone()?;
        let wsid = sid.clone();
        let conn = conn.copied();
        let server = Arc::clone(server);
        spawn_small(move || {
            ws_writer(wstream, &server, &wsid, rx, conn.as_ref());
        })?
    };
    let mut session = Session::new(Role::Server, max, XorShift::from_clock());
    let mut actions = session.receive(&leftover);
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_header: Option<FrameHeader> = None;
    'outer: loop {
        for a in actions.drain(..) {
            match a {
                Action::Send(f) => {
                    let _ = tx.send(WsOut::Frame(f));
                }
                Action::Received { header, .. } => last_header = Some(header),
                Action::Message(m) => {
                    let packet = match &m {
                        Message::Text(t) => eio::Packet::decode_text(t),
                        Message::Binary(b) => Ok(eio::Packet::decode_binary(b)),
                    };
                    let mut sh = lock(&server.shared);
                    match packet {
                        Ok(p) => {
                            if server.tracer.enabled()
                                && let Some(h) = &last_header
                            {
                                let mut h = *h;
                                h.payload_len = match &m {
                                    Message::Text(t) => t.len() as u64,
                                    Message::Binary(b) => b.len() as u64,
                                };
                                server.tracer.carried(
                                    conn,
                                    Direction::Received,
                                    std::slice::from_ref(&p),
                                    trace::ws_layer(&h),
                                    false,
                                );
                            }
                            sh.hub
                                .receive(&sid, Transport::WebSocket, p, Instant::now());
                        }
                        Err(e) => {
                            say!("[{}] bad Engine.IO packet: {e}", short(&sid));
                            sh.hub.close(&sid, "parse error");
                        }
                    }
                    server.flush(&mut sh);
                }
                Action::Ping(_) | Action::Pong(_) => {}
                Action::Closed { .. } | Action::Failed { .. } => break 'outer,
            }
        }
        match (&*stream).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => actions = session.receive(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    {
        let mut sh = lock(&server.shared);
        sh.hub.transport_closed(&sid, Transport::WebSocket);
        if let Some(link) = sh.links.get_mut(&sid)
            && link.ws.as_ref().is_some_and(|(id, _)| *id == ws_id)
        {
            link.ws = None;
        }
        if sh.hub.transport(&sid).is_none() {
            // Let the hub forget it (and a pending poll return).
            sh.hub.take(&sid, Transport::WebSocket);
            sh.links.remove(&sid);
        }
        server.flush(&mut sh);
    }
    let _ = tx.send(WsOut::Shutdown);
    let _ = writer.join();
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

/// Owns the WebSocket's sending side: packets from the hub, control frames from the
/// session engine.
fn ws_writer(
    mut stream: TcpStream,
    server: &Server,
    sid: &str,
    rx: mpsc::Receiver<WsOut>,
    conn: Option<&ConnAddrs>,
) {
    let mut done = false;
    let mut out = Vec::new();
    for msg in rx {
        if done {
            if matches!(msg, WsOut::Shutdown) {
                break;
            }
            continue;
        }
        out.clear();
        let mut close = false;
        // Traced once written, so a tracer watching the wire sees them go.
        let mut traced = Vec::new();
        match msg {
            WsOut::Shutdown => break,
            WsOut::Frame(f) => {
                f.encode_into(&mut out);
                done = f.opcode == OpCode::Close;
            }
            WsOut::Wake => {
                let taken = lock(&server.shared).hub.take(sid, Transport::WebSocket);
                for p in &taken.packets {
                    let frame = match &p.data {
                        Data::Text(_) => Frame::text(&p.encode_text().unwrap_or_default()),
                        Data::Binary(b) => Frame::binary(b.clone()),
                    };
                    if server.tracer.enabled() {
                        traced.push((p.clone(), frame.header()));
                    }
                    frame.encode_into(&mut out);
                }
                if taken.closed.is_some() {
                    Frame::close(Some(wsw::close_code::NORMAL), "").encode_into(&mut out);
                    close = true;
                }
            }
        }
        if !out.is_empty() && stream.write_all(&out).is_err() {
            done = true;
        }
        for (p, header) in traced {
            server.tracer.carried(
                conn,
                Direction::Sent,
                std::slice::from_ref(&p),
                trace::ws_layer(&header),
                false,
            );
        }
        if close {
            done = true;
            // The reader waits for the client's close frame, but not forever.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.shutdown(Shutdown::Write);
        }
    }
}

/// The chat page: a minimal hand-written Engine.IO/Socket.IO client over the browser's
/// WebSocket (no socket.io-client file to fetch: it works offline).
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>netlab socketio chat</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; }
#log { border: 1px solid #ccc; height: 22rem; overflow-y: auto; padding: .5rem; font-family: monospace; white-space: pre-wrap; }
.sent { color: #0a5; } .recv { color: #05a; } .info { color: #777; }
</style>
</head>
<body>
<h1>netlab socketio chat</h1>
<p>This page speaks Engine.IO 4 and Socket.IO 5 by hand over a WebSocket: every line
below shows the text that crossed the wire. Open it in two tabs.</p>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="say something" size="40">
<button>send</button></form>
<script>
const log = document.getElementById("log");
function show(cls, line) {
  const div = document.createElement("div");
  div.className = cls;
  div.textContent = line;
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
}
const ws = new WebSocket("ws://" + location.host + "/socket.io/?EIO=4&transport=websocket");
let ackId = 0;
// `/?selftest`: CONNECT, one emit with an ack, the verdict written into the page (the
// test suite loads it in headless Chromium).
const selftest = location.search.includes("selftest");
function send(text) { ws.send(text); show("sent", "→ " + text); }
ws.onmessage = (e) => {
  if (typeof e.data !== "string") { show("recv", "← binary " + e.data.size + " bytes"); return; }
  const t = e.data;
  if (t[0] !== "2") show("recv", "← " + t);
  if (t[0] === "0") send("40");                      // open → CONNECT to "/"
  else if (t[0] === "2") ws.send("3");               // ping → pong (not shown)
  else if (t.startsWith("40") && selftest) send("42" + (ackId++) + JSON.stringify(["selftest", "hi"]));
  else if (t.startsWith("40")) show("info", "   connected to /");
  else if (t.startsWith("43") && selftest) {
    const pre = document.createElement("pre");
    pre.id = "result";
    pre.textContent = "selftest: " + (t === '430["hi"]' ? "ack ok" : "unexpected " + t);
    document.body.appendChild(pre);
    ws.close(1000);
  } else if (t.startsWith("42")) {
    const body = t.slice(2).replace(/^\d+/, "");     // drop an ack id
    const [name, ...args] = JSON.parse(body);
    show("info", "   event " + JSON.stringify(name) + " " + JSON.stringify(args));
  } else if (t.startsWith("43")) show("info", "   acknowledged");
};
ws.onopen = () => show("info", "WebSocket open");
ws.onclose = (e) => show("info", "closed (" + e.code + ")");
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById("text");
  send("42" + (ackId++) + JSON.stringify(["chat", input.value]));
  input.value = "";
};
</script>
</body>
</html>
"#;

// ---------------------------------------------------------------------------------------
// Client.
// ---------------------------------------------------------------------------------------

/// An `http://HOST:PORT/PATH` URL (`ws://` is accepted too); PATH defaults to
/// `/socket.io/`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SioUrl {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<SioUrl> {
    let rest = ["http://", "ws://"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
        .with_context(|| {
            if url.starts_with("https://") || url.starts_with("wss://") {
                format!("{url}: TLS is not supported; use http://")
            } else {
                format!("{url}: expected http://HOST:PORT")
            }
        })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = http::split_authority(authority, 80).map_err(|e| anyhow!("{url}: {e}"))?;
    let path = match path.split('?').next().unwrap_or_default() {
        "" | "/" => PATH.to_string(),
        p if p.ends_with('/') => p.to_string(),
        p => format!("{p}/"),
    };
    Ok(SioUrl {
        host: host.to_string(),
        port,
        path,
    })
}

impl SioUrl {
    fn host_header(&self) -> String {
        http::host_header(&self.host, self.port, 80)
    }

    fn target(&self, transport: Transport, sid: Option<&str>) -> String {
        let mut t = format!("{}?EIO=4&transport={}", self.path, transport.name());
        if let Some(sid) = sid {
            t.push_str("&sid=");
            t.push_str(sid);
        }
        t
    }

    fn dial(&self) -> Result<TcpStream> {
        let s = TcpStream::connect((self.host.trim_matches(['[', ']']), self.port))
            .with_context(|| format!("cannot connect to {}:{}", self.host, self.port))?;
        let _ = s.set_nodelay(true);
        Ok(s)
    }
}

/// What the client's main loop waits for.
enum Input {
    /// An Engine.IO packet, with the frame header that carried it (WebSocket).
    Packet(eio::Packet, Option<FrameHeader>),
    /// A polling GET's packets, with the HTTP layer that carried them.
    Polled(Vec<eio::Packet>, Layer),
    /// A WebSocket control frame to write (pong, close echo).
    Control(Frame),
    /// The transport ended.
    Ended(String),
    /// The polling loop stopped for the upgrade (its last GET is back).
    PollStopped,
}

/// One HTTP exchange on a keep-alive connection: the response and its body.
fn http_exchange(
    stream: &mut TcpStream,
    req: &Request,
    body: &[u8],
    timeout: Duration,
) -> Result<(Response, Vec<u8>, usize)> {
    let mut out = req.to_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out).context("cannot send the request")?;
    let (resp, mut rest) = read_response(stream, timeout)?;
    let head_len = resp.to_bytes().len();
    let len = resp
        .headers
        .content_length()
        .ok()
        .flatten()
        .context("the response has no Content-Length")?;
    let len = usize::try_from(len).context("the response body is too large")?;
    if !read_body(stream, &mut rest, len, timeout)? {
        bail!("the response body was cut short");
    }
    rest.truncate(len);
    Ok((resp, rest, head_len))
}

/// The client's way to the server.
enum Wire {
    WebSocket {
        stream: TcpStream,
        session: Session,
    },
    Polling {
        url: SioUrl,
        sid: String,
        /// The POST connection (keep-alive), opened on the first send.
        post: Option<TcpStream>,
        /// Set during the upgrade: the GET loop stops after its current request.
        paused: Arc<AtomicBool>,
    },
}

struct Conn {
    wire: Wire,
    addrs: Option<ConnAddrs>,
    tracer: Tracer,
    /// The WebSocket being probed while polling (`--transport auto`).
    probe: Option<Probe>,
}

impl Conn {
    fn send(&mut self, packets: Vec<eio::Packet>) -> Result<()> {
        if packets.is_empty() {
            return Ok(());
        }
        match &mut self.wire {
            Wire::WebSocket { stream, session } => {
                let mut out = Vec::new();
                let mut sent = Vec::new();
                for p in &packets {
                    let frame = match &p.data {
                        Data::Text(_) => session.send_text(&p.encode_text().unwrap_or_default()),
                        Data::Binary(b) => session.send_binary(b.clone()),
                    };
                    let Some(frame) = frame else { continue };
                    sent.push((p, frame.header()));
                    frame.encode_into(&mut out);
                }
                stream
                    .write_all(&out)
                    .context("cannot write to the connection")?;
                // Traced once written, so a tracer watching the wire sees them go.
                for (p, h) in sent {
                    self.tracer.carried(
                        self.addrs.as_ref(),
                        Direction::Sent,
                        std::slice::from_ref(p),
                        trace::ws_layer(&h),
                        false,
                    );
                }
                Ok(())
            }
            Wire::Polling { url, sid, post, .. } => {
                let body = eio::encode_payload(&packets);
                if post.is_none() {
                    *post = Some(url.dial()?);
                }
                let stream = post.as_mut().context("no POST connection")?;
                let req = Request::new("POST", url.target(Transport::Polling, Some(sid)))
                    .with_header(http::name::HOST, url.host_header())
                    .with_header(http::name::CONTENT_TYPE, "text/plain;charset=UTF-8")
                    .with_header(http::name::CONTENT_LENGTH, body.len().to_string());
                let addrs = ConnAddrs::of(stream);
                let head_len = req.to_bytes().len();
                let (resp, _, _) = http_exchange(stream, &req, body.as_bytes(), HEAD_TIMEOUT)?;
                self.tracer.carried(
                    addrs.as_ref(),
                    Direction::Sent,
                    &packets,
                    trace::http_layer(
                        &format!("POST {}", req.target),
                        head_len,
                        body.len(),
                        packets.len(),
                    ),
                    true,
                );
                if resp.status != 200 {
                    bail!("the server answered the POST with {}", resp.status);
                }
                Ok(())
            }
        }
    }

    fn write_frame(&mut self, f: Frame) -> Result<()> {
        if let Wire::WebSocket { stream, .. } = &mut self.wire {
            stream.write_all(&f.encode())?;
        }
        Ok(())
    }

    fn shutdown(&mut self) {
        match &mut self.wire {
            Wire::WebSocket { stream, session } => {
                if let Some(f) = session.close(wsw::close_code::NORMAL, "") {
                    let _ = stream.write_all(&f.encode());
                }
                let _ = stream.shutdown(Shutdown::Write);
            }
            Wire::Polling { post, .. } => {
                if let Some(s) = post {
                    let _ = s.shutdown(Shutdown::Both);
                }
            }
        }
    }
}

/// Opens the transport: the WebSocket handshake, or the polling handshake GET and the
/// GET loop. Packets arrive on `tx`.
/// Opens a WebSocket to `target` and starts its reader thread, whose packets arrive on
/// `tx`. Returns the stream and the session that masks what we send.
fn dial_websocket(
    url: &SioUrl,
    target: &str,
    tx: Sender<Input>,
    tracer: &Tracer,
) -> Result<(TcpStream, Session, Option<ConnAddrs>)> {
    let mut stream = url.dial()?;
    let addrs = ConnAddrs::of(&stream);
    let mut rng = XorShift::from_clock();
    let up = websocket_upgrade(&mut stream, &url.host_header(), target, &[], rng.nonce())?;
    let leftover = up.leftover;
    if tracer.enabled() {
        tracer.upgrade(
            addrs.as_ref(),
            target,
            up.request_len,
            up.response.to_bytes().len(),
        );
    }
    stream.set_read_timeout(None)?;
    let mut reader = stream.try_clone()?;
    thread::spawn(move || {
        let mut session = Session::new(Role::Client, usize::MAX / 2, XorShift::new(1));
        let mut last: Option<FrameHeader> = None;
        let mut buf = vec![0u8; 64 * 1024];
        let mut actions = session.receive(&leftover);
        loop {
            for a in actions.drain(..) {
                let input = match a {
                    Action::Send(f) => Input::Control(f),
                    Action::Received { header, .. } => {
                        last = Some(header);
                        continue;
                    }
                    Action::Message(Message::Text(t)) => match eio::Packet::decode_text(&t) {
                        Ok(p) => Input::Packet(p, last.take()),
                        Err(e) => Input::Ended(format!("bad Engine.IO packet: {e}")),
                    },
                    Action::Message(Message::Binary(b)) => {
                        Input::Packet(eio::Packet::binary(b), last.take())
                    }
                    Action::Ping(_) | Action::Pong(_) => continue,
                    Action::Closed { .. } => Input::Ended("the WebSocket closed".into()),
                    Action::Failed { why, .. } => {
                        Input::Ended(format!("the server broke the WebSocket protocol: {why}"))
                    }
                };
                let end = matches!(input, Input::Ended(_));
                if tx.send(input).is_err() || end {
                    return;
                }
            }
            match reader.read(&mut buf) {
                Ok(0) => {
                    let _ = tx.send(Input::Ended("the connection closed".into()));
                    return;
                }
                Ok(n) => actions = session.receive(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Input::Ended(format!("reading failed: {e}")));
                    return;
                }
            }
        }
    });
    Ok((
        stream,
        Session::new(Role::Client, usize::MAX / 2, rng),
        addrs,
    ))
}

/// Opens the transport: the WebSocket handshake, or the polling handshake GET and the
/// GET loop. Packets arrive on `tx`.
fn open_wire(
    url: &SioUrl,
    transport: SioTransport,
    tx: Sender<Input>,
    tracer: Tracer,
) -> Result<Conn> {
    if transport == SioTransport::Websocket {
        let target = url.target(Transport::WebSocket, None);
        let (stream, session, addrs) = dial_websocket(url, &target, tx, &tracer)?;
        return Ok(Conn {
            wire: Wire::WebSocket { stream, session },
            addrs,
            tracer,
            probe: None,
        });
    }
    let mut stream = url.dial()?;
    let addrs = ConnAddrs::of(&stream);
    let req = Request::new("GET", url.target(Transport::Polling, None))
        .with_header(http::name::HOST, url.host_header());
    let (resp, body, head_len) = http_exchange(&mut stream, &req, b"", HEAD_TIMEOUT)?;
    if resp.status != 200 {
        bail!(
            "the handshake GET got {} {}",
            resp.status,
            String::from_utf8_lossy(&body)
        );
    }
    let text = String::from_utf8(body).context("the handshake body is not UTF-8")?;
    let packets = eio::decode_payload(&text).context("bad handshake payload")?;
    let sid = match packets.first() {
        Some(eio::Packet {
            ptype: eio::PacketType::Open,
            data: Data::Text(json),
        }) => eio::Handshake::parse(json)?.sid,
        _ => bail!("the server's first packet is not an open packet"),
    };
    let layer = trace::http_layer(
        &format!("GET {} → {}", req.target, resp.status),
        head_len,
        text.len(),
        packets.len(),
    );
    let _ = tx.send(Input::Polled(packets, layer));
    let paused = Arc::new(AtomicBool::new(false));
    let loop_url = url.clone();
    let loop_sid = sid.clone();
    let loop_paused = Arc::clone(&paused);
    thread::spawn(move || {
        let req = Request::new("GET", loop_url.target(Transport::Polling, Some(&loop_sid)))
            .with_header(http::name::HOST, loop_url.host_header());
        // A poll may wait for a whole ping interval; the heartbeat bounds it.
        let timeout = Duration::from_secs(120);
        loop {
            // Paused for the upgrade: no new GET once the WebSocket answered the probe.
            if loop_paused.load(Ordering::SeqCst) {
                let _ = tx.send(Input::PollStopped);
                return;
            }
            let input = match http_exchange(&mut stream, &req, b"", timeout) {
                Ok((resp, body, head_len)) if resp.status == 200 => {
                    let text = String::from_utf8_lossy(&body).into_owned();
                    match eio::decode_payload(&text) {
                        Ok(p) => {
                            let layer = trace::http_layer(
                                &format!("GET {} → {}", req.target, resp.status),
                                head_len,
                                text.len(),
                                p.len(),
                            );
                            Input::Polled(p, layer)
                        }
                        Err(e) => Input::Ended(format!("bad polling payload: {e}")),
                    }
                }
                Ok((resp, body, _)) => Input::Ended(format!(
                    "the server answered the poll with {} {}",
                    resp.status,
                    String::from_utf8_lossy(&body)
                )),
                Err(e) => Input::Ended(format!("polling failed: {e:#}")),
            };
            let end = matches!(input, Input::Ended(_));
            let closing = matches!(&input, Input::Polled(p, _)
                if p.iter().any(|p| p.ptype == eio::PacketType::Close));
            if tx.send(input).is_err() || end || closing {
                return;
            }
        }
    });
    Ok(Conn {
        wire: Wire::Polling {
            url: url.clone(),
            sid,
            post: None,
            paused,
        },
        addrs,
        tracer,
        probe: None,
    })
}

/// A WebSocket being probed for the upgrade (Engine.IO v4 § "Upgrade").
struct Probe {
    stream: TcpStream,
    session: Session,
    addrs: Option<ConnAddrs>,
    /// `3probe` arrived; waiting for the last GET to come back before sending `5`.
    answered: bool,
}

impl Conn {
    /// Starts the upgrade of a polling session: a WebSocket with the same sid, `2probe`.
    fn start_upgrade(&mut self, tx: Sender<Input>) -> Result<()> {
        let Wire::Polling { url, sid, .. } = &self.wire else {
            return Ok(());
        };
        let target = url.target(Transport::WebSocket, Some(sid));
        let (stream, session, addrs) = dial_websocket(url, &target, tx, &self.tracer)?;
        self.probe = Some(Probe {
            stream,
            session,
            addrs,
            answered: false,
        });
        self.send_probe(eio::Packet::new(eio::PacketType::Ping, "probe"))
    }

    fn send_probe(&mut self, p: eio::Packet) -> Result<()> {
        let Some(probe) = &mut self.probe else {
            return Ok(());
        };
        let Some(frame) = probe
            .session
            .send_text(&p.encode_text().unwrap_or_default())
        else {
            return Ok(());
        };
        probe.stream.write_all(&frame.encode())?;
        self.tracer.carried(
            probe.addrs.as_ref(),
            Direction::Sent,
            std::slice::from_ref(&p),
            trace::ws_layer(&frame.header()),
            false,
        );
        Ok(())
    }

    /// `3probe` arrived: stop polling after the GET in flight.
    fn probe_answered(&mut self) {
        if let Some(probe) = &mut self.probe {
            probe.answered = true;
        }
        if let Wire::Polling { paused, .. } = &self.wire {
            paused.store(true, Ordering::SeqCst);
        }
    }

    /// The last GET is back: send `5` and switch to the WebSocket.
    fn finish_upgrade(&mut self) -> Result<bool> {
        if !self.probe.as_ref().is_some_and(|p| p.answered) {
            return Ok(false);
        }
        self.send_probe(eio::Packet::new(eio::PacketType::Upgrade, ""))?;
        let Some(probe) = self.probe.take() else {
            return Ok(false);
        };
        if let Wire::Polling {
            post: Some(post), ..
        } = &self.wire
        {
            let _ = post.shutdown(Shutdown::Both);
        }
        self.wire = Wire::WebSocket {
            stream: probe.stream,
            session: probe.session,
        };
        self.addrs = probe.addrs;
        Ok(true)
    }
}

/// `--emit EVENT JSON`: JSON, or a string when the text is not JSON.
fn json_arg(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn show_event(name: &str, args: &[Value], attachments: &[Vec<u8>]) -> String {
    format!(
        "{}({})",
        Value::String(name.to_string()),
        sio::show_args(args, attachments)
    )
}

fn connect(args: &SioConnectArgs) -> Result<()> {
    let url = parse_url(&args.url)?;
    let auth = match &args.auth {
        Some(a) => {
            let v: Value = serde_json::from_str(a).context("--auth is not JSON")?;
            if !v.is_object() {
                bail!("--auth must be a JSON object, like '{{\"token\":\"abc\"}}'");
            }
            Some(v)
        }
        None => None,
    };
    if !args.namespace.starts_with('/') {
        bail!("--namespace must start with /, like /chat");
    }
    // Every emit: event, arguments, attachments.
    let mut emits: Vec<Emit> = args
        .emit
        .chunks(2)
        .map(|c| (c[0].clone(), vec![json_arg(&c[1])], Vec::new()))
        .collect();
    for c in args.emit_binary.chunks(2) {
        let data = fs::read(&c[1]).with_context(|| format!("cannot read {}", c[1]))?;
        emits.push((c[0].clone(), vec![sio::placeholder(0)], vec![data]));
    }
    run_client(args, &url, auth, emits)
}

/// One emit: event name, arguments (placeholders name the attachments), attachments.
type Emit = (String, Vec<Value>, Vec<Vec<u8>>);

fn run_client(
    args: &SioConnectArgs,
    url: &SioUrl,
    auth: Option<Value>,
    emits: Vec<Emit>,
) -> Result<()> {
    for (name, _, _) in &emits {
        if sio::RESERVED_EVENTS.contains(&name.as_str()) {
            bail!("{name:?} is reserved by Socket.IO and cannot be emitted");
        }
    }

    let (tx, rx) = mpsc::channel::<Input>();
    let endpoint =
        std::net::ToSocketAddrs::to_socket_addrs(&(url.host.trim_matches(['[', ']']), url.port))
            .ok()
            .and_then(|mut a| a.next());
    let mut conn = open_wire(
        url,
        args.transport,
        tx.clone(),
        tracer(args.trace, endpoint),
    )?;
    let mut client = Client::new(&args.namespace, auth);
    if args.ignore_pings {
        client.ignore_pings();
        say!("not answering the server's pings (--ignore-pings)");
    }
    let transport = match args.transport {
        SioTransport::Websocket => "websocket",
        SioTransport::Polling => "polling",
        SioTransport::Auto => "polling (upgrading to websocket)",
    };
    let mut emitted = false;
    let mut deadline = Instant::now() + HEAD_TIMEOUT;
    let mut outcome: Option<Result<()>> = None;
    while outcome.is_none() {
        let now = Instant::now();
        let wait = deadline
            .saturating_duration_since(now)
            .min(Duration::from_millis(200));
        let input = rx.recv_timeout(wait);
        let now = Instant::now();
        match input {
            Ok(Input::Packet(p, header))
                if conn.probe.is_some()
                    && p.ptype == eio::PacketType::Pong
                    && p.data == Data::Text("probe".into()) =>
            {
                if let (Some(h), Some(probe)) = (header, &conn.probe) {
                    conn.tracer.carried(
                        probe.addrs.as_ref(),
                        Direction::Received,
                        std::slice::from_ref(&p),
                        trace::ws_layer(&h),
                        false,
                    );
                }
                conn.probe_answered();
            }
            Ok(Input::PollStopped) => {
                if conn.finish_upgrade()? {
                    say!("upgraded to websocket (2probe, 3probe, then 5)");
                }
            }
            Ok(Input::Packet(p, header)) => {
                if let Some(h) = header {
                    conn.tracer.carried(
                        conn.addrs.as_ref(),
                        Direction::Received,
                        std::slice::from_ref(&p),
                        trace::ws_layer(&h),
                        false,
                    );
                }
                client.receive(p, now);
            }
            Ok(Input::Polled(packets, layer)) => {
                conn.tracer.carried(
                    conn.addrs.as_ref(),
                    Direction::Received,
                    &packets,
                    layer,
                    true,
                );
                for p in packets {
                    client.receive(p, now);
                }
            }
            Ok(Input::Control(f)) => conn.write_frame(f)?,
            Ok(Input::Ended(why)) => {
                client.transport_closed();
                if client.state() != ClientState::Closed || outcome.is_none() {
                    outcome = Some(Err(anyhow::anyhow!("{why}")));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                outcome = Some(Err(anyhow::anyhow!("the connection ended")));
            }
        }
        client.tick(now);
        for ev in client.take_events() {
            match ev {
                ClientEvent::Open(h) => {
                    if args.transport == SioTransport::Auto
                        && h.upgrades.iter().any(|u| u == "websocket")
                    {
                        conn.start_upgrade(tx.clone())?;
                    }
                    if args.trace {
                        say!(
                            "Engine.IO session {} (pingInterval {} ms, pingTimeout {} ms, maxPayload {})",
                            h.sid,
                            h.ping_interval,
                            h.ping_timeout,
                            h.max_payload
                        );
                    }
                }
                ClientEvent::Connected { sid } => {
                    say!(
                        "connected to http://{}{} namespace {} over {transport} (socket id {sid})",
                        url.host_header(),
                        url.path,
                        args.namespace
                    );
                    if !emitted {
                        emitted = true;
                        for (name, eargs, bins) in &emits {
                            let id = client.emit(name, eargs.clone(), bins, args.ack);
                            say!(
                                "→ emit {}{}",
                                show_event(name, eargs, bins),
                                id.map_or(String::new(), |i| format!(" (ack id {i})"))
                            );
                        }
                        deadline = now + Duration::from_millis(args.wait);
                    }
                }
                ClientEvent::ConnectError(v) => {
                    say!("← connect_error {v}");
                    outcome = Some(Err(anyhow::anyhow!(
                        "the server refused namespace {}: {}",
                        args.namespace,
                        v.get("message").and_then(Value::as_str).unwrap_or("?")
                    )));
                }
                ClientEvent::Event {
                    name,
                    args: eargs,
                    attachments,
                    ack,
                } => say!(
                    "← event {}{}",
                    show_event(&name, &eargs, &attachments),
                    ack.map_or(String::new(), |i| format!(" (acked, id {i})"))
                ),
                ClientEvent::Ack {
                    id,
                    event,
                    args: aargs,
                    attachments,
                } => say!(
                    "← ack #{id} for {}: ({})",
                    Value::String(event),
                    sio::show_args(&aargs, &attachments)
                ),
                ClientEvent::Disconnected => {
                    say!(
                        "← disconnect: the server closed namespace {}",
                        args.namespace
                    );
                    outcome = Some(Ok(()));
                }
                ClientEvent::Closed { reason } => {
                    outcome.get_or_insert_with(|| {
                        if reason == "client disconnect" {
                            Ok(())
                        } else {
                            Err(anyhow::anyhow!("the session closed: {reason}"))
                        }
                    });
                }
            }
        }
        let sent = conn.send(client.take_output());
        if outcome.is_some() {
            // The session is over: a last packet (our close) may find the door shut.
            break;
        }
        sent?;
        let acked = emitted && args.ack && client.pending_acks() == 0;
        // With --transport auto, an upgrade under way is seen through before leaving.
        let settled = conn.probe.is_none();
        if !args.listen && settled && (acked || (emitted && emits.is_empty() && !args.ack)) {
            client.disconnect();
            // Leaving: the server may close before answering our close packet.
            let _ = conn.send(client.take_output());
            outcome = Some(Ok(()));
        } else if !args.listen && Instant::now() >= deadline {
            if !emitted {
                outcome = Some(Err(anyhow::anyhow!(
                    "no connection to namespace {} within {} s",
                    args.namespace,
                    HEAD_TIMEOUT.as_secs()
                )));
            } else if args.ack && client.pending_acks() > 0 {
                outcome = Some(Err(anyhow::anyhow!(
                    "{} emit(s) not acknowledged within {} ms",
                    client.pending_acks(),
                    args.wait
                )));
            } else {
                client.disconnect();
                let _ = conn.send(client.take_output());
                outcome = Some(Ok(()));
            }
        } else if args.listen && emitted {
            deadline = Instant::now() + Duration::from_secs(3600);
        }
    }
    conn.shutdown();
    outcome.unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("http://127.0.0.1:3000").unwrap();
        assert_eq!(
            u,
            SioUrl {
                host: "127.0.0.1".into(),
                port: 3000,
                path: "/socket.io/".into()
            }
        );
        assert_eq!(parse_url("ws://[::1]:80/io").unwrap().path, "/io/");
        assert_eq!(
            u.target(Transport::Polling, Some("abc")),
            "/socket.io/?EIO=4&transport=polling&sid=abc"
        );
        assert!(
            parse_url("https://x/")
                .unwrap_err()
                .to_string()
                .contains("TLS")
        );
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http://:80/").is_err());
    }

    #[test]
    fn emit_arguments() {
        assert_eq!(json_arg("\"hi\""), Value::String("hi".into()));
        assert_eq!(json_arg("hi there"), Value::String("hi there".into()));
        assert_eq!(json_arg("[1,2]"), serde_json::json!([1, 2]));
    }
}
