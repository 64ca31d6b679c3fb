//! The WebSocket server of `netlab ws serve`, on the event loop
//! ([`crate::net::event_loop`], one loop per core): a connection's request head is
//! read without blocking, the opening handshake checked ([`wsw::validate_client_request`],
//! RFC 6455 § 4.2), and after the `101` a [`Session`] turns its bytes into messages.
//! Two small handlers decide what a message does: **echo** writes it back to its
//! sender, **chat** to every open connection (each loop writes to its own connections
//! and posts the frame, encoded once, to the other loops).
//!
//! Nothing here prints: what happens is reported to an [`Observer`] (the command's
//! printer: one line per connection event, and with `--trace` each frame and the
//! layers below it, through the trace's `LowerLayers` hook, lent the socket).
//!
//! Limits, so that no client can take the server down:
//! - a request head must arrive within [`HEAD_TIMEOUT`] and fit in
//!   [`http::MAX_HEAD_LEN`] (slowloris, oversized heads: 408-like close, 431);
//! - messages above `max_message` fail the connection with 1009 before their payload
//!   arrives;
//! - a client that sends without reading its echoes is not read (the loop's read
//!   pause); a chat member whose unsent output would pass `max_backlog` is a slow
//!   reader: it gets a close frame with 1008 after what is queued, and the connection
//!   ends within the loop's close deadline (RFC 6455 § 7.4.1: 1008 "indicates that an
//!   endpoint is terminating the connection because it has received a message that
//!   violates its policy … a generic status code"; here the policy is the backlog cap);
//! - connections beyond `max_connections` get 503 before any upgrade (the loop).
//!
//! Imports: [`super`] (the session), [`crate::net::event_loop`], [`crate::wire`],
//! [`crate::random`] and the trace's hook types.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Incoming, Session, server_frame_head};
use crate::net::event_loop::{self as ev, Close, ConnId, Cx, Ended, Refusal, Service};
use crate::random::Rng;
use crate::trace::ConnAddrs;
use crate::wire::http::{self, HttpError, Response};
use crate::wire::websocket::{
    self as wsw, ClientHandshakeError, Frame, FrameError, FrameHeader, OpCode, PREVIEW_LEN, Role,
    close_code,
};

/// How long a client may take to send a whole request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The default cap on a chat member's unsent output (see the module docs).
pub const DEFAULT_MAX_BACKLOG: usize = 4 << 20;
/// The page served at `/`: the browser's own WebSocket API talking to this server
/// (`/?selftest` runs a check headless Chromium reads back).
pub const PAGE: &str = include_str!("page.html");

/// Timer kind: the request head is overdue.
const HEAD_DEADLINE: u32 = 1;

/// What a message does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Back to its sender.
    Echo,
    /// To every open connection, the sender included.
    Chat,
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// Allowed `Origin` values; empty: any.
    pub origins: Vec<String>,
    /// Subprotocols spoken, in order of preference.
    pub protocols: Vec<String>,
    /// Largest message accepted (larger: 1009).
    pub max_message: usize,
    /// A chat member's unsent output beyond which it is cut off (1008).
    pub max_backlog: usize,
    /// Connections served at once; beyond it, 503.
    pub max_connections: usize,
    /// Event loops (threads).
    pub loops: usize,
}

/// Which connection a report is about: its peer, and with a trace its addresses and
/// its socket, lent for the call (the trace reads `TCP_INFO`).
pub struct At<'a> {
    pub peer: SocketAddr,
    pub addrs: Option<ConnAddrs>,
    pub sock: Option<BorrowedFd<'a>>,
}

/// What the server reports.
#[derive(Debug)]
pub enum Report<'a> {
    /// A request head that is not HTTP: answered with `status` and closed.
    BadHead { error: &'a HttpError, status: u16 },
    /// No whole request head within [`HEAD_TIMEOUT`].
    HeadTimeout,
    /// A request without `Upgrade: websocket`: the page, or 404.
    Plain {
        method: &'a str,
        target: &'a str,
        status: u16,
    },
    /// An upgrade request that breaks RFC 6455 § 4.2.1.
    BadHandshake {
        error: &'a ClientHandshakeError,
        status: u16,
    },
    /// `Origin` not in the allowed list: 403.
    OriginRefused { origin: Option<&'a str> },
    /// The `101` went out: the WebSocket is open.
    Open {
        target: &'a str,
        protocol: Option<&'a str>,
        declined: &'a [&'a str],
    },
    /// (Tracing) the connection's frames are traced from now: `written` bytes went out
    /// before the first frame (our 101), `unparsed` were read but not yet parsed.
    Traced { written: usize, unparsed: usize },
    /// (Tracing) a frame arrived.
    FrameIn {
        header: &'a FrameHeader,
        preview: &'a [u8],
    },
    /// (Tracing) a frame was written.
    FrameOut {
        header: &'a FrameHeader,
        preview: &'a [u8],
    },
    /// A message arrived (only when the observer wants messages).
    Message { opcode: OpCode, payload: &'a [u8] },
    /// The connection closed: the closing handshake, or the TCP connection ended
    /// without it (1006).
    Closed { code: Option<u16>, reason: &'a str },
    /// The client broke the protocol: closed with `close_code`.
    Failed {
        close_code: u16,
        why: &'a FrameError,
    },
    /// A chat member did not read: cut off with 1008.
    SlowReader { backlog: usize, cap: usize },
    /// Reading or writing failed (a reset).
    Broken { error: &'a io::Error },
    /// (Tracing) the socket is closed: forget the connection.
    Gone,
}

/// What the server's reports go to (the command's printer). Called from the event
/// loops' threads; an error (standard output closed) stops the server.
pub trait Observer: Send + Sync {
    /// Whether [`Report::Message`] is wanted (`--quiet` says no).
    fn messages(&self) -> bool;
    /// Whether frames are traced ([`Report::Traced`], [`Report::FrameIn`],
    /// [`Report::FrameOut`], [`Report::Gone`]).
    fn tracing(&self) -> bool;
    fn report(&self, at: &At<'_>, report: Report<'_>) -> io::Result<()>;
    /// Connections turned away (see [`Refusal`]), at most once a second per loop.
    fn refused(&self, why: Refusal, count: u64);
}

/// Runs the server on `listener` until the observer fails (its error is returned).
pub fn serve(listener: TcpListener, cfg: Config, observer: Arc<dyn Observer>) -> io::Result<()> {
    let server = ev::Server::new(
        cfg.loops,
        ev::Config {
            max_connections: cfg.max_connections,
            read_pause: 1 << 20,
        },
    )?;
    let failure = Arc::new(Mutex::new(None));
    let cfg = Arc::new(cfg);
    let services = (0..cfg.loops.max(1))
        .map(|_| Loop {
            cfg: Arc::clone(&cfg),
            messages: observer.messages(),
            tracing: observer.tracing(),
            observer: Arc::clone(&observer),
            members: BTreeMap::new(),
            traced_out: HashMap::new(),
            failure: Arc::clone(&failure),
            handle: server.handle(),
        })
        .collect();
    server.run(listener, services)?;
    let failed = failure.lock().unwrap_or_else(|p| p.into_inner()).take();
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One loop's share of the server.
struct Loop {
    cfg: Arc<Config>,
    observer: Arc<dyn Observer>,
    messages: bool,
    tracing: bool,
    /// Chat: this loop's open connections.
    members: BTreeMap<ConnId, SocketAddr>,
    /// Tracing: frames queued for a connection, reported once written.
    traced_out: HashMap<ConnId, Vec<Sent>>,
    /// The observer's first error: the server stops with it.
    failure: Arc<Mutex<Option<io::Error>>>,
    handle: ev::Handle<Msg>,
}

/// A frame written (for the trace).
struct Sent {
    header: FrameHeader,
    preview: [u8; PREVIEW_LEN],
    len: usize,
}

impl Sent {
    fn of(opcode: OpCode, payload: &[u8]) -> Sent {
        let mut preview = [0u8; PREVIEW_LEN];
        let len = payload.len().min(PREVIEW_LEN);
        preview[..len].copy_from_slice(&payload[..len]);
        Sent {
            header: FrameHeader::new(true, opcode, payload.len() as u64, None),
            preview,
            len,
        }
    }
}

/// Posted between loops.
pub enum Msg {
    /// Chat: a frame, encoded once, for every connection of the receiving loop.
    Broadcast(Arc<[u8]>),
}

/// A connection.
pub struct Conn {
    peer: SocketAddr,
    /// With a trace: both addresses.
    addrs: Option<ConnAddrs>,
    phase: Phase,
}

// Every open connection holds a session: boxing it would save nothing, and cost an
// allocation and a pointer chase per read.
#[allow(clippy::large_enum_variant)]
enum Phase {
    /// Reading the request head: the bytes so far.
    Head(Vec<u8>),
    Open(Session),
    /// Answered or failed: the loop is closing it.
    Done,
}

impl Loop {
    /// Reports `r`; the first failure stops every loop.
    fn say(&self, at: &At<'_>, r: Report<'_>) {
        if let Err(e) = self.observer.report(at, r) {
            let mut f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            f.get_or_insert(e);
            self.handle.stop();
        }
    }

    fn at<'c>(cx: &'c Cx<'_, Conn, Msg>, id: ConnId, conn: &Conn) -> At<'c> {
        at_parts(cx, id, conn.peer, conn.addrs)
    }

    /// The request head so far: answered once complete, else kept.
    fn head(&mut self, cx: &mut Cx<'_, Conn, Msg>, id: ConnId, conn: &mut Conn, head: &mut [u8]) {
        match http::parse_request(head) {
            Ok(Some((req, n))) => self.request(cx, id, conn, head, req, n),
            Ok(None) => {
                let mut kept = Vec::new();
                if kept.try_reserve(head.len()).is_err() {
                    cx.close(id, Close::Now);
                    return;
                }
                kept.extend_from_slice(head);
                conn.phase = Phase::Head(kept);
            }
            Err(e) => {
                conn.phase = Phase::Done;
                let status = e.status();
                self.say(
                    &Self::at(cx, id, conn),
                    Report::BadHead { error: &e, status },
                );
                let resp = Response::new(status)
                    .with_header(http::name::CONNECTION, "close")
                    .with_header(http::name::CONTENT_LENGTH, "0");
                self.respond(cx, id, &resp, b"");
            }
        }
    }

    /// Writes a response and closes the connection politely.
    fn respond(&self, cx: &mut Cx<'_, Conn, Msg>, id: ConnId, resp: &Response, body: &[u8]) {
        let mut head = Vec::with_capacity(256);
        resp.emit(&mut head);
        cx.write(id, &[&head, body]);
        cx.close(id, Close::Flush);
    }

    /// A request head is complete: answer it, or open the WebSocket.
    fn request(
        &mut self,
        cx: &mut Cx<'_, Conn, Msg>,
        id: ConnId,
        conn: &mut Conn,
        buf: &mut [u8],
        req: http::Request,
        head_len: usize,
    ) {
        conn.phase = Phase::Done;
        if !req.headers.has_token(http::name::UPGRADE, "websocket") {
            let path = req.target.split('?').next().unwrap_or_default();
            let (resp, body) = if req.method == "GET" && path == "/" {
                page_response()
            } else {
                plain(
                    404,
                    "not found: the WebSocket is at / (with Upgrade: websocket)\n",
                )
            };
            let r = Report::Plain {
                method: &req.method,
                target: &req.target,
                status: resp.status,
            };
            self.say(&Self::at(cx, id, conn), r);
            self.respond(cx, id, &resp, &body);
            return;
        }
        let hs = match wsw::validate_client_request(&req) {
            Ok(hs) => hs,
            Err(e) => {
                let r = Report::BadHandshake {
                    error: &e,
                    status: e.status(),
                };
                self.say(&Self::at(cx, id, conn), r);
                self.respond(cx, id, &e.response(), b"");
                return;
            }
        };
        if !self.cfg.origins.is_empty()
            && !hs
                .origin
                .as_ref()
                .is_some_and(|o| self.cfg.origins.iter().any(|a| a == o))
        {
            let r = Report::OriginRefused {
                origin: hs.origin.as_deref(),
            };
            self.say(&Self::at(cx, id, conn), r);
            let (resp, body) = plain(403, "this Origin is not allowed\n");
            self.respond(cx, id, &resp, &body);
            return;
        }
        let supported: Vec<&str> = self.cfg.protocols.iter().map(String::as_str).collect();
        let protocol = wsw::select_subprotocol(&hs.protocols, &supported);
        let accept = hs.accept_response(protocol).to_bytes();
        if !cx.write(id, &[&accept]) {
            return;
        }
        let leftover = &mut buf[head_len..];
        if self.tracing {
            // The 101 is on the wire before the first frame is traced.
            cx.flush(id);
            conn.addrs = cx.stream(id).and_then(ConnAddrs::of);
            let r = Report::Traced {
                written: accept.len(),
                unparsed: leftover.len(),
            };
            self.say(&Self::at(cx, id, conn), r);
        }
        let declined: Vec<&str> = hs.extensions.iter().map(|e| e.name.as_str()).collect();
        let r = Report::Open {
            target: &hs.target,
            protocol,
            declined: &declined,
        };
        self.say(&Self::at(cx, id, conn), r);
        conn.phase = Phase::Open(Session::new(Role::Server, self.cfg.max_message, Rng::os()));
        if self.cfg.mode == Mode::Chat {
            self.members.insert(id, conn.peer);
        }
        if !leftover.is_empty() {
            self.frames(cx, id, conn, leftover);
        }
    }

    /// Bytes of an open WebSocket.
    fn frames(
        &mut self,
        cx: &mut Cx<'_, Conn, Msg>,
        id: ConnId,
        conn: &mut Conn,
        bytes: &mut [u8],
    ) {
        let Phase::Open(session) = &mut conn.phase else {
            return;
        };
        let (peer, addrs) = (conn.peer, conn.addrs);
        let mut over = false;
        let mut broadcast: Vec<Arc<[u8]>> = Vec::new();
        session.receive_with(bytes, &mut |incoming| match incoming {
            Incoming::Frame { header, preview } => {
                if self.tracing {
                    let r = Report::FrameIn {
                        header: &header,
                        preview,
                    };
                    self.say(&at_parts(cx, id, peer, addrs), r);
                }
            }
            Incoming::Text(t) => {
                self.message(
                    cx,
                    id,
                    (peer, addrs),
                    OpCode::Text,
                    t.as_bytes(),
                    &mut broadcast,
                );
            }
            Incoming::Binary(b) => {
                self.message(cx, id, (peer, addrs), OpCode::Binary, b, &mut broadcast);
            }
            Incoming::Ping(_) | Incoming::Pong(_) => {}
            Incoming::Reply(frame) => self.send_frame(cx, id, &frame),
            Incoming::Closed { code, reason, .. } => {
                self.say(
                    &at_parts(cx, id, peer, addrs),
                    Report::Closed { code, reason },
                );
                over = true;
            }
            Incoming::Failed { close_code, why } => {
                let r = Report::Failed {
                    close_code,
                    why: &why,
                };
                self.say(&at_parts(cx, id, peer, addrs), r);
                over = true;
            }
        });
        if !broadcast.is_empty() {
            for lp in (0..cx.loops()).filter(|lp| *lp != cx.loop_index()) {
                for frame in &broadcast {
                    cx.post(lp, Msg::Broadcast(Arc::clone(frame)));
                }
            }
            for frame in broadcast {
                self.broadcast_here(cx, &frame);
            }
        }
        if over {
            conn.phase = Phase::Done;
            self.members.remove(&id);
            cx.close(id, Close::Flush);
        }
    }

    /// A whole message: echoed, or queued for the chat.
    fn message(
        &mut self,
        cx: &mut Cx<'_, Conn, Msg>,
        id: ConnId,
        (peer, addrs): (SocketAddr, Option<ConnAddrs>),
        opcode: OpCode,
        payload: &[u8],
        broadcast: &mut Vec<Arc<[u8]>>,
    ) {
        if self.messages {
            self.say(
                &at_parts(cx, id, peer, addrs),
                Report::Message { opcode, payload },
            );
        }
        let (head, n) = server_frame_head(opcode, payload.len());
        match self.cfg.mode {
            Mode::Echo => {
                cx.write(id, &[&head[..n], payload]);
                if self.tracing {
                    self.traced(cx, id, Sent::of(opcode, payload));
                }
            }
            Mode::Chat => {
                // Server frames are never masked, so one encoding serves every client.
                let mut frame = Vec::with_capacity(n + payload.len());
                frame.extend_from_slice(&head[..n]);
                frame.extend_from_slice(payload);
                broadcast.push(frame.into());
            }
        }
    }

    /// A frame from the session (pong, close) for `id`.
    fn send_frame(&mut self, cx: &mut Cx<'_, Conn, Msg>, id: ConnId, frame: &Frame) {
        cx.write(id, &[&frame.encode()]);
        if self.tracing {
            let mut sent = Sent::of(frame.opcode, &frame.payload);
            sent.header = frame.header();
            self.traced(cx, id, sent);
        }
    }

    /// Tracing: `sent` is reported once it is written.
    fn traced(&mut self, cx: &mut Cx<'_, Conn, Msg>, id: ConnId, sent: Sent) {
        self.traced_out.entry(id).or_default().push(sent);
        cx.notify_drained(id);
    }

    /// Chat: `frame` to every open connection of this loop; a slow reader is cut off.
    fn broadcast_here(&mut self, cx: &mut Cx<'_, Conn, Msg>, frame: &Arc<[u8]>) {
        let cap = self.cfg.max_backlog;
        let mut slow = Vec::new();
        let mut written = Vec::new();
        for (&m, &peer) in &self.members {
            let pending = cx.pending(m);
            // One message of any size into an empty queue: a reader that keeps up
            // always gets everything.
            if pending > 0 && pending + frame.len() > cap {
                slow.push((m, peer, pending));
                continue;
            }
            cx.write(m, &[frame]);
            if self.tracing {
                written.push(m);
            }
        }
        if self.tracing
            && let Some((h, hl)) = wsw::parse_header(frame).ok().flatten()
        {
            let payload = &frame[hl..];
            for m in written {
                let mut sent = Sent::of(h.opcode, payload);
                sent.header = h;
                self.traced(cx, m, sent);
            }
        }
        for (m, peer, backlog) in slow {
            self.members.remove(&m);
            let r = Report::SlowReader { backlog, cap };
            let at = At {
                peer,
                addrs: None,
                sock: cx.fd(m),
            };
            self.say(&at, r);
            let reason = format!("slow reader: {backlog} bytes unread");
            let close = Frame::close(Some(close_code::POLICY_VIOLATION), &reason);
            cx.write(m, &[&close.encode()]);
            cx.close(m, Close::Flush);
        }
    }
}

impl Service for Loop {
    type Conn = Conn;
    type Msg = Msg;

    fn open(&mut self, cx: &mut Cx<'_, Conn, Msg>, id: ConnId, peer: SocketAddr) -> Conn {
        cx.timer(id, cx.now() + HEAD_TIMEOUT, HEAD_DEADLINE);
        Conn {
            peer,
            addrs: None,
            phase: Phase::Head(Vec::new()),
        }
    }

    fn data(&mut self, cx: &mut Cx<'_, Conn, Msg>, id: ConnId, conn: &mut Conn, bytes: &mut [u8]) {
        match &mut conn.phase {
            Phase::Open(_) => self.frames(cx, id, conn, bytes),
            // Most heads arrive in one read: parsed where they lie, nothing kept.
            Phase::Head(buf) if buf.is_empty() => self.head(cx, id, conn, bytes),
            Phase::Head(buf) => {
                if buf.try_reserve(bytes.len()).is_err() {
                    cx.close(id, Close::Now);
                    return;
                }
                buf.extend_from_slice(bytes);
                let mut head = std::mem::take(buf);
                self.head(cx, id, conn, &mut head);
            }
            // Closing: whatever still comes is not read.
            Phase::Done => {}
        }
    }

    fn eof(&mut self, cx: &mut Cx<'_, Conn, Msg>, id: ConnId, conn: &mut Conn) {
        if let Phase::Open(session) = &mut conn.phase
            && let Some(super::Action::Closed { code, reason, .. }) = session.eof()
        {
            self.say(
                &Self::at(cx, id, conn),
                Report::Closed {
                    code,
                    reason: &reason,
                },
            );
        }
        conn.phase = Phase::Done;
        self.members.remove(&id);
        cx.close(id, Close::Flush);
    }

    fn closed(&mut self, _cx: &mut Cx<'_, Conn, Msg>, id: ConnId, conn: Conn, how: Ended) {
        self.members.remove(&id);
        self.traced_out.remove(&id);
        if let (Phase::Open(_), Ended::Failed(e)) = (&conn.phase, &how) {
            let at = At {
                peer: conn.peer,
                addrs: conn.addrs,
                sock: None,
            };
            self.say(&at, Report::Broken { error: e });
        }
        if self.tracing && conn.addrs.is_some() {
            let at = At {
                peer: conn.peer,
                addrs: conn.addrs,
                sock: None,
            };
            self.say(&at, Report::Gone);
        }
    }

    fn timer(&mut self, cx: &mut Cx<'_, Conn, Msg>, id: ConnId, conn: &mut Conn, kind: u32) {
        if kind == HEAD_DEADLINE && matches!(conn.phase, Phase::Head(_)) {
            conn.phase = Phase::Done;
            self.say(&Self::at(cx, id, conn), Report::HeadTimeout);
            cx.close(id, Close::Flush);
        }
    }

    fn message(&mut self, cx: &mut Cx<'_, Conn, Msg>, msg: Msg) {
        match msg {
            Msg::Broadcast(frame) => self.broadcast_here(cx, &frame),
        }
    }

    fn drained(&mut self, cx: &mut Cx<'_, Conn, Msg>, id: ConnId, conn: &mut Conn) {
        let Some(sent) = self.traced_out.remove(&id) else {
            return;
        };
        for s in sent {
            let r = Report::FrameOut {
                header: &s.header,
                preview: &s.preview[..s.len],
            };
            self.say(&Self::at(cx, id, conn), r);
        }
    }

    fn refused(&mut self, why: Refusal, count: u64) {
        self.observer.refused(why, count);
    }
}

fn at_parts<'c>(
    cx: &'c Cx<'_, Conn, Msg>,
    id: ConnId,
    peer: SocketAddr,
    addrs: Option<ConnAddrs>,
) -> At<'c> {
    At {
        peer,
        addrs,
        sock: cx.fd(id),
    }
}

/// The page, as a response.
fn page_response() -> (Response, Vec<u8>) {
    let body = PAGE.as_bytes().to_vec();
    let resp = Response::new(200)
        .with_header(http::name::CONTENT_TYPE, "text/html; charset=utf-8")
        .with_header(http::name::CONTENT_LENGTH, body.len().to_string())
        .with_header(http::name::CONNECTION, "close");
    (resp, body)
}

fn plain(status: u16, body: &str) -> (Response, Vec<u8>) {
    let resp = Response::new(status)
        .with_header(http::name::CONTENT_TYPE, "text/plain; charset=utf-8")
        .with_header(http::name::CONTENT_LENGTH, body.len().to_string())
        .with_header(http::name::CONNECTION, "close");
    (resp, body.as_bytes().to_vec())
}
