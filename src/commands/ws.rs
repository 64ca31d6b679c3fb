//! `netlab ws serve` and `netlab ws connect`: the I/O around the codecs in
//! [`crate::wire::http`] / [`crate::wire::websocket`] and the session engine in
//! [`crate::ws`].
//!
//! The server reads each request head and does the opening handshake in a thread of
//! its own (blocking `std::net`, easy to follow). After the `101`:
//! - echo mode (without `--trace`) hands the connection to an event loop ([`EchoLoop`], one per core,
//!   `epoll`): a few threads serve thousands of connections, woken only for sockets
//!   with bytes to read or room to write — how production servers do it;
//! - chat mode keeps the thread, plus one writer thread fed by a channel, because
//!   other connections' threads broadcast into it.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::{WsCommand, WsConnectArgs, WsServeArgs};
use crate::net::conn_watch::WhyNot;
use crate::net::http::{
    ConnLimit, HEAD_TIMEOUT, Head, LINGER, Slot, Upgraded, linger_close, read_head, refuse_busy,
    spawn_small, text_response, websocket_upgrade, write_response,
};
use crate::net::poll::{Event, Interest, Poller};
use crate::net::sockio;
use crate::random::Rng;
use crate::render::websocket::{
    describe, describe_close, describe_message, frame_line as frame_text, trace_line,
};
use crate::render::{Output, Paint};
use crate::trace::onion::Watched;
use crate::trace::{ConnAddrs, Direction, LowerLayers, UnitInfo};
use crate::wire::http::{self, Response};
use crate::wire::websocket::{self as wsw, Frame, FrameHeader, OpCode, Role};
use crate::ws::{Action, Session};

/// How long to wait for the peer's close frame after sending ours.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest message `netlab ws connect` accepts.
const CLIENT_MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// How often the accept loop looks up from waiting: has standard output been closed?
const LOOK_UP: Duration = Duration::from_millis(200);

pub fn run(cmd: &WsCommand, out: &Output) -> Result<()> {
    match cmd {
        WsCommand::Serve(args) => serve(args, out),
        WsCommand::Connect(args) => connect(args, out),
    }
}

// ---------------------------------------------------------------------------------------
// Trace lines.
// ---------------------------------------------------------------------------------------

/// `--trace`: the hook for the layers below each frame, and the connection it is about.
#[derive(Clone)]
struct Below {
    lower: Arc<dyn LowerLayers>,
    conn: ConnAddrs,
}

impl Below {
    /// Starts tracing `stream` after its handshake: `written` bytes went out before the
    /// first frame, `unparsed` were read but belong to frames not traced yet.
    fn open(
        lower: &Arc<dyn LowerLayers>,
        stream: &TcpStream,
        written: usize,
        unparsed: usize,
    ) -> Option<Below> {
        let conn = ConnAddrs::of(stream)?;
        lower.opened(&conn, stream.as_fd(), written as u64, unparsed);
        Some(Below {
            lower: Arc::clone(lower),
            conn,
        })
    }

    /// Prints, each line after `prefix`, the layers below a frame of `len` bytes (its
    /// header `header_len`) that just went `dir` on `stream`.
    fn frame(
        &self,
        out: &Output,
        prefix: &str,
        stream: &TcpStream,
        dir: Direction,
        header_len: usize,
        len: usize,
    ) -> io::Result<()> {
        let unit = UnitInfo {
            name: "WebSocket frame",
            len,
            header_len,
        };
        let text = self
            .lower
            .describe(&self.conn, Some(stream.as_fd()), dir, unit);
        out.lines(prefix, &text)
    }

    fn sent(&self, out: &Output, prefix: &str, stream: &TcpStream, f: &Frame) -> io::Result<()> {
        self.frame(
            out,
            prefix,
            stream,
            Direction::Sent,
            f.header().header_len(),
            f.encoded_len(),
        )
    }

    fn received(
        &self,
        out: &Output,
        prefix: &str,
        stream: &TcpStream,
        h: &FrameHeader,
    ) -> io::Result<()> {
        let len = h.header_len() + h.payload_len as usize;
        self.frame(
            out,
            prefix,
            stream,
            Direction::Received,
            h.header_len(),
            len,
        )
    }

    fn close(&self) {
        self.lower.closed(&self.conn);
    }
}

/// A frame's trace line in its direction's colour.
fn frame_line(out: &Output, sent: bool, line: &str) -> String {
    out.paint(if sent { Paint::SENT } else { Paint::RECEIVED }, line)
}

/// A message's arrow in its direction's colour.
fn arrow(out: &Output, sent: bool) -> String {
    if sent {
        out.paint(Paint::SENT, "→")
    } else {
        out.paint(Paint::RECEIVED, "←")
    }
}

/// `[PEER] `: which connection a server line is about.
fn who(out: &Output, peer: &str) -> String {
    format!("{} ", out.paint(Paint::ACTOR, &format!("[{peer}]")))
}

// ---------------------------------------------------------------------------------------
// Server.
// ---------------------------------------------------------------------------------------

/// What a connection's writer thread is asked to do.
enum Out {
    Frame(Frame),
    /// Send FIN (after everything queued before) and stop.
    Shutdown,
}

struct Server {
    out: Output,
    echo: bool,
    trace: bool,
    origins: Vec<String>,
    protocols: Vec<String>,
    max_message: usize,
    /// Chat mode: every open connection's writer queue, by connection id.
    clients: Mutex<Vec<(u64, Sender<Out>)>>,
    next_id: AtomicU64,
    /// `--quiet`: no line per message.
    quiet: bool,
    /// Connections being served, against `--max-connections`.
    limit: Arc<ConnLimit>,
    /// Echo mode: the event loops open connections are handed to, round robin.
    loops: OnceLock<Vec<Arc<EchoLoop>>>,
    /// `--trace`: the layers below each frame, from a packet watch on lo started before
    /// the first accept (or `TCP_INFO` without CAP_NET_RAW).
    lower: Option<Arc<dyn LowerLayers>>,
}

fn serve(args: &WsServeArgs, out: &Output) -> Result<()> {
    let listener =
        TcpListener::bind(args.addr).with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    // Started before the first accept, so it sees every connection's SYN.
    let watched = args
        .trace
        .then(|| Arc::new(Watched::start(addr, out.style)));
    let server = Arc::new(Server {
        out: out.clone(),
        echo: !args.chat,
        trace: args.trace,
        origins: args.origin.clone(),
        protocols: args.protocol.clone(),
        max_message: args.max_message,
        clients: Mutex::new(Vec::new()),
        next_id: AtomicU64::new(1),
        limit: ConnLimit::new(args.max_connections.unwrap_or(if args.chat {
            6000
        } else {
            12_000
        })),
        quiet: args.quiet,
        loops: OnceLock::new(),
        lower: watched.clone().map(|w| -> Arc<dyn LowerLayers> { w }),
    });
    // `--trace` keeps a thread per connection: its lower layers follow each write.
    if server.echo && !server.trace {
        let cores = thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(8);
        let mut loops = Vec::with_capacity(cores);
        for _ in 0..cores {
            let lp = Arc::new(EchoLoop {
                poller: Poller::new().context("cannot create an epoll instance")?,
                pending: Mutex::new(Vec::new()),
            });
            let (lp2, server2) = (Arc::clone(&lp), Arc::clone(&server));
            thread::Builder::new()
                .name("ws-echo-loop".into())
                .spawn(move || run_echo_loop(&lp2, &server2))
                .context("cannot start the event loop thread")?;
            loops.push(lp);
        }
        let _ = server.loops.set(loops);
    }
    let mode = if args.chat { "chat" } else { "echo" };
    out.line(format_args!(
        "netlab ws serve: listening on ws://{addr}/ ({mode}) — open http://{addr}/ in a browser"
    ))?;
    if let Some(w) = &watched {
        out.line(w.banner())?;
    }

    loop {
        // A connection's thread may have found standard output closed: stop then.
        out.check()?;
        if !sockio::wait_readable(&listener, LOOK_UP)? {
            continue;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                let Some(guard) = server.limit.try_take() else {
                    refuse_busy(stream);
                    continue;
                };
                let server = Arc::clone(&server);
                // One thread per connection: see the module docs.
                let spawned = spawn_small(move || {
                    let peer = stream
                        .peer_addr()
                        .map_or_else(|_| "?".to_string(), |a| a.to_string());
                    if let Err(e) = handle(stream, &server, &peer, guard)
                        && !server.out.is_closed()
                    {
                        // If this fails too, the accept loop sees it.
                        let _ = server.out.line(format_args!(
                            "{}{}",
                            who(&server.out, &peer),
                            server.out.paint(Paint::ERROR, &format!("error: {e:#}"))
                        ));
                    }
                });
                if let Err(e) = spawned {
                    out.warn(format_args!(
                        "ws serve: cannot start a thread, connection dropped: {e}"
                    ));
                }
            }
            Err(e) => {
                // Out of file descriptors, say: wait a moment instead of spinning.
                out.warn(format_args!("ws serve: accept failed: {e}"));
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Writes a response head (and body) and closes the connection.
fn respond(stream: &mut TcpStream, resp: &Response, body: &[u8]) -> io::Result<()> {
    write_response(stream, resp, body)?;
    linger_close(stream);
    Ok(())
}

fn plain(status: u16, body: &str) -> (Response, Vec<u8>) {
    let (resp, body) = text_response(status, "text/plain; charset=utf-8", body);
    (resp.with_header(http::name::CONNECTION, "close"), body)
}

/// Serves one connection: the request head, the handshake, then the WebSocket (here,
/// or in an [`EchoLoop`]). `guard` counts the connection while it lives.
fn handle(mut stream: TcpStream, server: &Server, peer: &str, guard: Slot) -> Result<()> {
    let _ = stream.set_nodelay(true);
    let out = &server.out;
    let at = who(out, peer);
    let (req, leftover) = match read_head(&mut stream, Vec::new(), HEAD_TIMEOUT)? {
        Head::Request(req, rest) => (req, rest),
        Head::Bad(e) => {
            out.line(format_args!("{at}bad request head: {e} → {}", e.status()))?;
            let resp = Response::new(e.status())
                .with_header(http::name::CONNECTION, "close")
                .with_header(http::name::CONTENT_LENGTH, "0");
            respond(&mut stream, &resp, b"")?;
            return Ok(());
        }
        Head::TimedOut => {
            out.line(format_args!(
                "{at}no complete request head within {} s: closing",
                HEAD_TIMEOUT.as_secs()
            ))?;
            return Ok(());
        }
        Head::Closed => return Ok(()),
    };
    if !req.headers.has_token(http::name::UPGRADE, "websocket") {
        let path = req.target.split('?').next().unwrap_or_default();
        let (resp, body) = if req.method == "GET" && path == "/" {
            let body = page().into_bytes();
            let resp = Response::new(200)
                .with_header(http::name::CONTENT_TYPE, "text/html; charset=utf-8")
                .with_header(http::name::CONTENT_LENGTH, body.len().to_string())
                .with_header(http::name::CONNECTION, "close");
            (resp, body)
        } else {
            plain(
                404,
                "not found: the WebSocket is at / (with Upgrade: websocket)\n",
            )
        };
        out.line(format_args!(
            "{at}{} {} (plain HTTP) → {}",
            req.method, req.target, resp.status
        ))?;
        respond(&mut stream, &resp, &body)?;
        return Ok(());
    }
    let hs = match wsw::validate_client_request(&req) {
        Ok(hs) => hs,
        Err(e) => {
            out.line(format_args!("{at}bad handshake: {e} → {}", e.status()))?;
            respond(&mut stream, &e.response(), b"")?;
            return Ok(());
        }
    };
    if !server.origins.is_empty()
        && !hs
            .origin
            .as_ref()
            .is_some_and(|o| server.origins.iter().any(|a| a == o))
    {
        out.line(format_args!(
            "{at}Origin {:?} is not allowed → 403",
            hs.origin.as_deref().unwrap_or("(none)")
        ))?;
        let (resp, body) = plain(403, "this Origin is not allowed\n");
        respond(&mut stream, &resp, &body)?;
        return Ok(());
    }
    let supported: Vec<&str> = server.protocols.iter().map(String::as_str).collect();
    let protocol = wsw::select_subprotocol(&hs.protocols, &supported);
    let accept = hs.accept_response(protocol).to_bytes();
    stream.write_all(&accept)?;
    let below = server
        .lower
        .as_ref()
        .and_then(|l| Below::open(l, &stream, accept.len(), leftover.len()));
    let declined: Vec<&str> = hs.extensions.iter().map(|e| e.name.as_str()).collect();
    out.line(format_args!(
        "{at}open: GET {} → 101 (subprotocol: {}{})",
        hs.target,
        protocol.unwrap_or("none"),
        if declined.is_empty() {
            String::new()
        } else {
            format!("; extensions declined: {}", declined.join(", "))
        }
    ))?;
    stream.set_read_timeout(None)?;

    let id = server.next_id.fetch_add(1, Ordering::Relaxed);
    // Echo: only this thread writes to the socket, so it writes directly. Chat: other
    // connections' threads broadcast too, so a writer thread owns the socket's sending
    // side and everyone queues frames for it.
    let mut outlet = if server.echo {
        Outlet::Direct {
            done: false,
            below: below.clone(),
        }
    } else {
        let (tx, rx) = mpsc::channel::<Out>();
        let writer = start_writer(&stream, rx, server, peer, below.clone())?;
        lock(&server.clients).push((id, tx.clone()));
        Outlet::Queue {
            tx,
            writer,
            below: below.clone(),
        }
    };

    let mut session = Session::new(Role::Server, server.max_message, Rng::os());
    let mut actions = session.receive(&leftover);
    if let Some(loops) = server.loops.get() {
        // Echo: answer what came with the head here, then let an event loop carry on.
        let over = react(server, peer, &mut session, &stream, &mut outlet, actions)?
            || matches!(outlet, Outlet::Direct { done: true, .. });
        if !over && stream.set_nonblocking(true).is_ok() {
            let token = server.next_id.fetch_add(1, Ordering::Relaxed);
            let lp = &loops[token as usize % loops.len()];
            let conn = LoopConn {
                stream,
                session,
                peer: peer.to_string(),
                outlet: Outlet::Buffered {
                    out: Vec::new(),
                    done: false,
                },
                interest: Interest::Read,
                lingering: None,
                _guard: guard,
            };
            let fd = conn.stream.as_raw_fd();
            lock(&lp.pending).push((token, conn));
            // Registered after it is queued, so that its first event finds it. Until
            // then no event can make the loop close it: `fd` stays open meanwhile.
            // SAFETY: see above; the descriptor outlives this borrow.
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
            if let Err(e) = lp.poller.add(&borrowed, token, Interest::Read) {
                lock(&lp.pending).retain(|(t, _)| *t != token);
                out.line(format_args!("{at}cannot watch the connection: {e}"))?;
            }
            return Ok(());
        }
        let _ = stream.set_nonblocking(false);
        let _ = stream.shutdown(Shutdown::Write);
        linger_close(&mut stream);
        return Ok(());
    }
    let mut buf = vec![0u8; 64 * 1024];
    // The output's error ends the connection too (after the writer's clean-up below).
    let ended: io::Result<()> = loop {
        match react(server, peer, &mut session, &stream, &mut outlet, actions) {
            Ok(false) => {}
            Ok(true) => break Ok(()),
            Err(e) => break Err(e),
        }
        match (&stream).read(&mut buf) {
            Ok(0) => {
                break match session.eof() {
                    Some(Action::Closed { code, reason, .. }) => out.line(format_args!(
                        "{at}closed: {}",
                        describe_close(code, &reason)
                    )),
                    _ => Ok(()),
                };
            }
            Ok(n) => actions = session.receive(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => actions = Vec::new(),
            Err(e) => break out.line(format_args!("{at}read failed: {e}")),
        }
    };
    if let Outlet::Queue { tx, writer, .. } = outlet {
        lock(&server.clients).retain(|(i, _)| *i != id);
        let _ = tx.send(Out::Shutdown);
        let _ = writer.join();
    } else {
        let _ = stream.shutdown(Shutdown::Write);
    }
    linger_close(&mut stream);
    if let Some(b) = &below {
        b.close();
    }
    Ok(ended?)
}

/// Where a connection's outgoing frames go.
enum Outlet {
    /// Written at once by the connection's own thread (echo mode).
    Direct { done: bool, below: Option<Below> },
    /// Queued for the connection's writer thread (chat mode).
    Queue {
        tx: Sender<Out>,
        writer: thread::JoinHandle<()>,
        below: Option<Below>,
    },
    /// Appended to a buffer that an event loop writes when the socket has room.
    Buffered { out: Vec<u8>, done: bool },
}

impl Outlet {
    /// The lower-layer tracer (`--trace`).
    fn below(&self) -> Option<&Below> {
        match self {
            Outlet::Direct { below, .. } | Outlet::Queue { below, .. } => below.as_ref(),
            Outlet::Buffered { .. } => None,
        }
    }

    /// Sends `f` (with `--trace`, its line and lower layers); the error is the output's.
    fn send(
        &mut self,
        stream: &TcpStream,
        f: Frame,
        server: &Server,
        peer: &str,
    ) -> io::Result<()> {
        let out = &server.out;
        match self {
            Outlet::Direct { done, below } => {
                if *done {
                    return Ok(());
                }
                let at = who(out, peer);
                if server.trace {
                    out.line(format_args!(
                        "{at}{}",
                        frame_line(out, true, &frame_text("→", &f))
                    ))?;
                }
                // RFC 6455 § 5.5.1: nothing may follow our close frame.
                let written = (&*stream).write_all(&f.encode()).is_ok();
                *done = !written || f.opcode == OpCode::Close;
                if written && let Some(b) = below {
                    b.sent(out, &at, stream, &f)?;
                }
            }
            Outlet::Queue { tx, .. } => {
                let _ = tx.send(Out::Frame(f));
            }
            Outlet::Buffered { out: buf, done } => {
                if *done {
                    return Ok(());
                }
                if server.trace {
                    out.line(format_args!(
                        "{}{}",
                        who(out, peer),
                        frame_line(out, true, &frame_text("→", &f))
                    ))?;
                }
                f.encode_into(buf);
                *done = f.opcode == OpCode::Close;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Echo mode's event loops.
// ---------------------------------------------------------------------------------------

/// Bytes waiting to be written beyond which a connection is not read until the peer
/// has taken some: a client that sends without reading cannot grow the server's memory.
const BACKLOG_LIMIT: usize = 1 << 20;

/// One `epoll` instance and the thread that waits on it.
struct EchoLoop {
    poller: Poller,
    /// Connections handed over by handshake threads, taken in at the next wake-up.
    pending: Mutex<Vec<(u64, LoopConn)>>,
}

/// An open WebSocket served by an event loop.
struct LoopConn {
    stream: TcpStream,
    session: Session,
    peer: String,
    /// Always [`Outlet::Buffered`].
    outlet: Outlet,
    interest: Interest,
    /// After our last byte and FIN: until when we read and discard (see [`LINGER`]).
    lingering: Option<Instant>,
    _guard: Slot,
}

/// What an event leaves a connection in.
enum Next {
    Open,
    Lingering,
    Done,
}

impl LoopConn {
    fn backlog(&mut self) -> &mut Vec<u8> {
        match &mut self.outlet {
            Outlet::Buffered { out, .. } => out,
            _ => unreachable!("event-loop connections buffer their output"),
        }
    }

    /// Writes what the socket takes now; false if the connection broke.
    fn flush(&mut self, poller: &Poller, token: u64) -> bool {
        let stream = &self.stream;
        let out = match &mut self.outlet {
            Outlet::Buffered { out, .. } => out,
            _ => return false,
        };
        let mut written = 0;
        while written < out.len() {
            match (&*stream).write(&out[written..]) {
                Ok(0) => return false,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        out.drain(..written);
        let want = match out.len() {
            0 => Interest::Read,
            n if n > BACKLOG_LIMIT => Interest::Write,
            _ => Interest::ReadWrite,
        };
        if want != self.interest {
            if poller.modify(&self.stream, token, want).is_err() {
                return false;
            }
            self.interest = want;
        }
        true
    }

    fn on_event(&mut self, ev: &Event, server: &Server, poller: &Poller, buf: &mut [u8]) -> Next {
        if ev.writable && !self.flush(poller, ev.token) {
            return Next::Done;
        }
        if ev.readable && self.interest != Interest::Write {
            match (&self.stream).read(buf) {
                Ok(0) => {
                    if self.lingering.is_none()
                        && let Some(Action::Closed { code, reason, .. }) = self.session.eof()
                    {
                        // Closing anyway: a closed output is the accept loop's to see.
                        let _ = server.out.line(format_args!(
                            "{}closed: {}",
                            who(&server.out, &self.peer),
                            describe_close(code, &reason)
                        ));
                    }
                    return Next::Done;
                }
                Ok(_) if self.lingering.is_some() => return Next::Lingering,
                Ok(n) => {
                    let actions = self.session.receive(&buf[..n]);
                    let Ok(over) = react(
                        server,
                        &self.peer,
                        &mut self.session,
                        &self.stream,
                        &mut self.outlet,
                        actions,
                    ) else {
                        // Standard output is closed: the server is ending.
                        return Next::Done;
                    };
                    if !self.flush(poller, ev.token) {
                        return Next::Done;
                    }
                    if over {
                        // Whatever was still queued after a failure is not sent.
                        if let Outlet::Buffered { done, .. } = &mut self.outlet {
                            *done = true;
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    if self.lingering.is_none() {
                        // Closing anyway: a closed output is the accept loop's to see.
                        let _ = server.out.line(format_args!(
                            "{}read failed: {e}",
                            who(&server.out, &self.peer)
                        ));
                    }
                    return Next::Done;
                }
            }
        }
        if self.lingering.is_some() {
            return Next::Lingering;
        }
        let finished = matches!(self.outlet, Outlet::Buffered { done: true, .. });
        if finished && self.backlog().is_empty() {
            // Our close frame (or the failure) is out: FIN, then read until theirs.
            let _ = self.stream.shutdown(Shutdown::Write);
            self.lingering = Some(Instant::now() + LINGER);
            return Next::Lingering;
        }
        Next::Open
    }
}

/// An event loop's thread: wait, serve every ready connection, repeat.
fn run_echo_loop(lp: &EchoLoop, server: &Server) {
    let mut conns: HashMap<u64, LoopConn> = HashMap::new();
    let mut lingering: Vec<u64> = Vec::new();
    let mut events = Vec::with_capacity(256);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        events.clear();
        let timeout = (!lingering.is_empty()).then_some(Duration::from_millis(250));
        if let Err(e) = lp.poller.wait(&mut events, timeout) {
            server
                .out
                .warn(format_args!("ws serve: epoll_wait failed: {e}"));
            thread::sleep(Duration::from_millis(100));
            continue;
        }
        conns.extend(lock(&lp.pending).drain(..));
        for ev in &events {
            let Some(conn) = conns.get_mut(&ev.token) else {
                continue;
            };
            let was_lingering = conn.lingering.is_some();
            match conn.on_event(ev, server, &lp.poller, &mut buf) {
                Next::Open => {}
                Next::Lingering if !was_lingering => lingering.push(ev.token),
                Next::Lingering => {}
                // Dropping the socket closes it, which also removes it from epoll.
                Next::Done => drop(conns.remove(&ev.token)),
            }
        }
        if !lingering.is_empty() {
            let now = Instant::now();
            lingering.retain(|t| match conns.get(t).and_then(|c| c.lingering) {
                Some(until) if until > now => true,
                Some(_) => {
                    conns.remove(t);
                    false
                }
                None => false,
            });
        }
    }
}

/// The chat mode's writer thread: it owns the socket's sending side.
fn start_writer(
    stream: &TcpStream,
    rx: mpsc::Receiver<Out>,
    server: &Server,
    peer: &str,
    below: Option<Below>,
) -> io::Result<thread::JoinHandle<()>> {
    let mut wstream = stream.try_clone()?;
    let at = who(&server.out, peer);
    let (trace, out) = (server.trace, server.out.clone());
    spawn_small(move || {
        let mut done = false;
        for msg in rx {
            match msg {
                Out::Frame(f) if !done => {
                    // A closed output stops the traces; the accept loop ends the server.
                    if trace && !out.is_closed() {
                        let _ = out.line(format_args!(
                            "{at}{}",
                            frame_line(&out, true, &frame_text("→", &f))
                        ));
                    }
                    // RFC 6455 § 5.5.1: nothing may follow our close frame.
                    let written = wstream.write_all(&f.encode()).is_ok();
                    if written
                        && !out.is_closed()
                        && let Some(b) = &below
                    {
                        let _ = b.sent(&out, &at, &wstream, &f);
                    }
                    done = !written || f.opcode == OpCode::Close;
                }
                Out::Frame(_) => {}
                Out::Shutdown => {
                    let _ = wstream.shutdown(Shutdown::Write);
                    break;
                }
            }
        }
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Carries out a server session's actions; true when the connection is over. The
/// error is the output's (standard output closed).
fn react(
    server: &Server,
    peer: &str,
    session: &mut Session,
    stream: &TcpStream,
    outlet: &mut Outlet,
    actions: Vec<Action>,
) -> io::Result<bool> {
    let out = &server.out;
    let at = who(out, peer);
    let mut over = false;
    for a in actions {
        match a {
            Action::Send(f) => outlet.send(stream, f, server, peer)?,
            Action::Received { header, preview } => {
                if server.trace {
                    out.line(format_args!(
                        "{at}{}",
                        frame_line(out, false, &trace_line("←", &header, &preview))
                    ))?;
                    if let Some(b) = outlet.below() {
                        b.received(out, &at, stream, &header)?;
                    }
                }
            }
            Action::Message(m) => {
                if !server.quiet {
                    out.line(format_args!(
                        "{at}{} {}",
                        arrow(out, false),
                        describe_message(&m)
                    ))?;
                }
                if server.echo {
                    if let Some(f) = session.send(m.to_frame()) {
                        outlet.send(stream, f, server, peer)?;
                    }
                } else {
                    // Server frames are never masked, so one frame serves every client.
                    let f = m.to_frame();
                    for (_, client) in lock(&server.clients).iter() {
                        let _ = client.send(Out::Frame(f.clone()));
                    }
                }
            }
            Action::Ping(_) | Action::Pong(_) => {}
            Action::Closed { code, reason, .. } => {
                out.line(format_args!(
                    "{at}closed: {}",
                    describe_close(code, &reason)
                ))?;
                over = true;
            }
            Action::Failed { close_code, why } => {
                let text = format!(
                    "protocol error: {why} → close {close_code} ({}), dropping the connection",
                    wsw::close_code_name(close_code)
                );
                out.line(format_args!("{at}{}", out.paint(Paint::ERROR, &text)))?;
                over = true;
            }
        }
    }
    Ok(over)
}

/// The page served at `/`: the browser's own WebSocket API talking to this server.
fn page() -> String {
    r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>netlab ws</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; }
#log { border: 1px solid #999; height: 22rem; overflow-y: auto; padding: .5rem;
       font-family: ui-monospace, monospace; white-space: pre-wrap; }
.sent { color: #05a; } .recv { color: #070; } .info { color: #777; }
</style>
</head>
<body>
<h1>netlab ws</h1>
<p>This page opens <code>new WebSocket(...)</code> to the server that sent it.
Open your browser's developer tools (Network → WS) to watch the frames too.</p>
<form id="form">
<input id="text" size="40" autocomplete="off" placeholder="a message">
<button type="submit">Send</button>
<button type="button" id="binary">Send 16 random bytes (binary)</button>
</form>
<div id="log"></div>
<script>
// /?selftest: send one text and one binary message, check both echoes, and write
// the verdict into <pre id="result"> (a headless browser's test reads it).
if (new URLSearchParams(location.search).has("selftest")) {
  const ws = new WebSocket("ws://" + location.host + "/");
  ws.binaryType = "arraybuffer";
  const text = "hello from the browser selftest";
  const bytes = new Uint8Array(300);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 255;
  let textOk = null, binaryOk = null, done = false;
  const finish = (verdict) => {
    if (done) return;
    done = true;
    const pre = document.createElement("pre");
    pre.id = "result";
    pre.textContent = "selftest: " + verdict;
    document.body.appendChild(pre);
    ws.close(1000);
  };
  const verdict = () => "text " + (textOk ? "ok" : "FAILED") +
                        ", binary " + (binaryOk ? "ok" : "FAILED");
  ws.onopen = () => { ws.send(text); ws.send(bytes); };
  ws.onmessage = (e) => {
    if (typeof e.data === "string") {
      textOk = e.data === text;
    } else {
      const got = new Uint8Array(e.data);
      binaryOk = got.length === bytes.length && got.every((b, i) => b === bytes[i]);
    }
    if (textOk !== null && binaryOk !== null) finish(verdict());
  };
  ws.onerror = () => finish("error before both echoes (" + verdict() + ")");
  ws.onclose = (e) => finish("closed (code " + e.code + ") before both echoes (" + verdict() + ")");
} else {
  const log = document.getElementById("log");
  function show(cls, line) {
    const div = document.createElement("div");
    div.className = cls;
    div.textContent = line;
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
  }
  const url = "ws://" + location.host + "/";
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  show("info", "connecting to " + url);
  ws.onopen = () => show("info", "open");
  ws.onmessage = (e) => {
    if (typeof e.data === "string") show("recv", "← text " + JSON.stringify(e.data));
    else show("recv", "← binary " + e.data.byteLength + " bytes");
  };
  ws.onclose = (e) => show("info", "closed: code " + e.code + (e.reason ? " " + e.reason : ""));
  ws.onerror = () => show("info", "error");
  document.getElementById("form").onsubmit = (e) => {
    e.preventDefault();
    const input = document.getElementById("text");
    ws.send(input.value);
    show("sent", "→ text " + JSON.stringify(input.value));
    input.value = "";
  };
  document.getElementById("binary").onclick = () => {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    ws.send(bytes);
    show("sent", "→ binary " + bytes.length + " bytes");
  };
}
</script>
</body>
</html>
"#
    .to_string()
}

// ---------------------------------------------------------------------------------------
// Client.
// ---------------------------------------------------------------------------------------

/// A `ws://` URL's parts: host as written (brackets kept for IPv6), port, target.
#[derive(Debug, PartialEq, Eq)]
struct WsUrl {
    host: String,
    port: u16,
    target: String,
}

fn parse_url(url: &str) -> Result<WsUrl> {
    if url.starts_with("wss://") {
        bail!("{url}: TLS is not supported (wss://); use a ws:// URL");
    }
    let Some(rest) = url.strip_prefix("ws://") else {
        bail!("{url}: not a WebSocket URL (expected ws://HOST:PORT/PATH)");
    };
    let (authority, target) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = http::split_authority(authority, 80).map_err(|e| anyhow!("{url}: {e}"))?;
    Ok(WsUrl {
        host: host.to_string(),
        port,
        target: target.replace('#', ""),
    })
}

/// What the client's main loop waits for.
enum Input {
    Net(Vec<u8>),
    NetEof,
    NetError(io::Error),
    Line(String),
    StdinEof,
}

struct Client {
    out: Output,
    stream: TcpStream,
    session: Session,
    trace: bool,
    /// `--trace`: the lower layers under each frame.
    below: Option<Below>,
    /// Send every received message back (`--echo`).
    echo: bool,
    received: usize,
    /// How the session ended: Ok for a clean close, Err with the reason otherwise.
    ended: Option<Result<()>>,
}

impl Client {
    fn write(&mut self, frame: Frame, show: bool) -> Result<()> {
        let out = &self.out;
        if self.trace {
            out.line(frame_line(out, true, &frame_text("→", &frame)))?;
        }
        self.stream
            .write_all(&frame.encode())
            .context("cannot write to the connection")?;
        if let Some(b) = &self.below {
            b.sent(out, "", &self.stream, &frame)?;
        }
        if show {
            out.line(format_args!(
                "{} {}",
                arrow(out, true),
                describe(frame.opcode, &frame.payload)
            ))?;
        }
        Ok(())
    }

    fn send(&mut self, frame: Frame) -> Result<()> {
        if let Some(f) = self.session.send(frame) {
            self.write(f, true)?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some(f) = self.session.close(wsw::close_code::NORMAL, "") {
            self.write(f, true)?;
        }
        Ok(())
    }

    fn react(&mut self, actions: Vec<Action>) -> Result<()> {
        for a in actions {
            match a {
                Action::Send(f) => {
                    let show = f.opcode == OpCode::Close;
                    self.write(f, show)?;
                }
                Action::Received { header, preview } => {
                    if self.trace {
                        let out = &self.out;
                        out.line(frame_line(out, false, &trace_line("←", &header, &preview)))?;
                        if let Some(b) = &self.below {
                            b.received(out, "", &self.stream, &header)?;
                        }
                    }
                }
                Action::Message(m) => {
                    self.received += 1;
                    let back = arrow(&self.out, false);
                    self.out
                        .line(format_args!("{back} {}", describe_message(&m)))?;
                    if self.echo {
                        self.send(m.to_frame())?;
                    }
                }
                Action::Ping(d) => self.out.line(format_args!(
                    "{} ping {} bytes (answered with a pong)",
                    arrow(&self.out, false),
                    d.len()
                ))?,
                Action::Pong(d) => self.out.line(format_args!(
                    "{} pong {} bytes",
                    arrow(&self.out, false),
                    d.len()
                ))?,
                Action::Closed {
                    code,
                    reason,
                    by_peer,
                } => {
                    self.out.line(format_args!(
                        "{} {}",
                        arrow(&self.out, false),
                        describe_close(code, &reason)
                    ))?;
                    let clean = matches!(
                        code,
                        None | Some(wsw::close_code::NORMAL | wsw::close_code::GOING_AWAY)
                    );
                    self.ended = Some(if clean || !by_peer {
                        Ok(())
                    } else {
                        Err(anyhow::anyhow!(
                            "the server closed the connection: {}",
                            describe_close(code, &reason)
                        ))
                    });
                }
                Action::Failed { close_code, why } => {
                    self.ended = Some(Err(anyhow::anyhow!(
                        "the server broke the protocol: {why} (closed with {close_code})"
                    )));
                }
            }
        }
        Ok(())
    }

    fn input(&mut self, input: Input) -> Result<()> {
        match input {
            Input::Net(bytes) => {
                let actions = self.session.receive(&bytes);
                self.react(actions)
            }
            Input::NetEof => {
                if self.session.state() == crate::ws::State::Closing {
                    // We sent a close; a server may just close the TCP connection.
                    self.ended.get_or_insert(Ok(()));
                } else if let Some(a) = self.session.eof() {
                    self.react(vec![a])?;
                }
                self.ended
                    .get_or_insert_with(|| Err(anyhow::anyhow!("the connection closed")));
                Ok(())
            }
            Input::NetError(e) => {
                self.ended = Some(Err(anyhow::Error::new(e).context("reading failed")));
                Ok(())
            }
            Input::Line(line) => self.send(Frame::text(&line)),
            Input::StdinEof => self.close(),
        }
    }
}

fn connect(args: &WsConnectArgs, out: &Output) -> Result<()> {
    let url = parse_url(&args.url)?;
    let binary = match &args.binary_file {
        Some(path) => {
            Some(fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)
        }
        None => None,
    };
    let target = (url.host.trim_matches(['[', ']']), url.port);
    // `--trace`: watch the server's port on lo before connecting, to see the SYNs.
    let lower: Option<Arc<dyn LowerLayers>> = match args.trace {
        true => {
            let first = std::net::ToSocketAddrs::to_socket_addrs(&target)
                .ok()
                .and_then(|mut a| a.next());
            let w = match first {
                Some(a) => Watched::start(a, out.style),
                None => Watched::with(
                    Err(WhyNot::Failed(format!("cannot resolve {}", url.host))),
                    out.style,
                ),
            };
            out.line(w.banner())?;
            Some(Arc::new(w))
        }
        false => None,
    };
    let mut stream = TcpStream::connect(target)
        .with_context(|| format!("cannot connect to {}:{}", url.host, url.port))?;
    let _ = stream.set_nodelay(true);
    let peer: SocketAddr = stream.peer_addr()?;
    let host = http::host_header(&url.host, url.port, 80);
    let mut rng = Rng::os();
    let protocols: Vec<&str> = args.protocol.iter().map(String::as_str).collect();
    let Upgraded {
        agreed,
        leftover,
        request_len,
        ..
    } = websocket_upgrade(&mut stream, &host, &url.target, &protocols, rng.nonce())?;
    out.line(format_args!(
        "connected to ws://{peer}{} (101 Switching Protocols, subprotocol: {})",
        url.target,
        agreed.protocol.as_deref().unwrap_or("none")
    ))?;
    stream.set_read_timeout(None)?;

    let (tx, rx) = mpsc::channel::<Input>();
    let mut reader = stream.try_clone()?;
    let net_tx = tx.clone();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let msg = match reader.read(&mut buf) {
                Ok(0) => Input::NetEof,
                Ok(n) => Input::Net(buf[..n].to_vec()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Input::NetError(e),
            };
            let last = !matches!(msg, Input::Net(_));
            if net_tx.send(msg).is_err() || last {
                return;
            }
        }
    });
    if args.interactive {
        let stdin_tx = tx.clone();
        thread::spawn(move || {
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if stdin_tx.send(Input::Line(line)).is_err() {
                    return;
                }
            }
            let _ = stdin_tx.send(Input::StdinEof);
        });
    }
    drop(tx);

    let below = lower
        .as_ref()
        .and_then(|l| Below::open(l, &stream, request_len, leftover.len()));
    let mut client = Client {
        out: out.clone(),
        stream,
        session: Session::new(Role::Client, CLIENT_MAX_MESSAGE, rng),
        trace: args.trace,
        below,
        echo: args.echo,
        received: 0,
        ended: None,
    };
    let actions = client.session.receive(&leftover);
    client.react(actions)?;

    let mut sent = 0;
    for text in &args.send {
        client.send(Frame::text(text))?;
        sent += 1;
    }
    if let Some(data) = binary {
        client.send(Frame::binary(data))?;
        sent += 1;
    }

    if args.interactive {
        // Until stdin ends (then we close) or the server closes.
        while client.ended.is_none() && client.session.state() == crate::ws::State::Open {
            match rx.recv() {
                Ok(i) => client.input(i)?,
                Err(_) => break,
            }
        }
    } else {
        // Replies to what was sent, for at most --wait ms; with nothing sent, listen
        // until the server closes.
        let deadline = Instant::now() + Duration::from_millis(args.wait);
        while client.ended.is_none() && (sent == 0 || client.received < sent) {
            let input = if sent == 0 {
                rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            };
            match input {
                Ok(i) => client.input(i)?,
                Err(_) => break,
            }
        }
        if client.ended.is_none() {
            client.close()?;
        }
    }
    // The closing handshake: wait for the server's close (RFC 6455 § 7.1.2).
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    while client.ended.is_none() {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(i) => client.input(i)?,
            Err(_) => {
                out.warn(format_args!(
                    "no close frame from the server within {} s",
                    CLOSE_TIMEOUT.as_secs()
                ));
                break;
            }
        }
    }
    let _ = client.stream.shutdown(Shutdown::Both);
    if let Some(b) = &client.below {
        b.close();
    }
    client.ended.unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("ws://127.0.0.1:9001/chat?room=1").unwrap();
        assert_eq!(
            u,
            WsUrl {
                host: "127.0.0.1".into(),
                port: 9001,
                target: "/chat?room=1".into()
            }
        );
        assert_eq!(parse_url("ws://ws.netlab.test").unwrap().port, 80);
        assert_eq!(parse_url("ws://[::1]:8080/").unwrap().host, "[::1]");
        assert_eq!(parse_url("ws://[::1]/").unwrap().port, 80);
        let e = parse_url("wss://ws.netlab.test/").unwrap_err().to_string();
        assert!(e.contains("TLS is not supported"), "{e}");
        assert!(parse_url("http://x/").is_err());
        assert!(parse_url("ws://x:99999/").is_err());
    }

    #[test]
    fn trace_line_shows_the_fields() {
        let f = Frame::text("hello").with_mask([1, 2, 3, 4]);
        let line = frame_text("→", &f);
        assert_eq!(
            line,
            "→ frame FIN=1 RSV=000 opcode=0x1 (Text) MASK=1 len=5 (7-bit) key=01020304 \"hello\""
        );
    }
}
