//! The Engine.IO 4 / Socket.IO 5 server on [`crate::net::event_loop`]: one loop per
//! core, every connection a few hundred bytes of state, no thread per client.
//!
//! What lives where:
//! - the protocol — sessions, the heartbeat, the polling → WebSocket upgrade,
//!   namespaces, rooms, broadcast, the demo application — is the I/O-free [`Hub`]
//!   (`super`), one for the whole server behind one mutex, held only for the moment a
//!   packet goes in or out;
//! - this file does the HTTP (`wire::http`: keep-alive requests, long-polling GETs that
//!   wait, POSTs with their bodies), the WebSocket (`ws::Session`) and the wiring: which
//!   connection, on which loop, carries which session ([`Link`]). When the hub has
//!   packets for a session, its connection is woken: on this loop directly, on another
//!   through the loop's mailbox ([`Msg::Wake`]);
//! - heartbeats are deadlines: the hub keeps a heap of them, and each loop's timer runs
//!   [`Hub::tick`] when the next one is due — no sleeping threads;
//! - a pending poll is a connection in the [`Phase::Poll`] state with a deadline: it is
//!   answered when packets arrive, at the deadline, or within [`UPGRADE_CHECK`] while
//!   the session upgrades (engine.io's check interval);
//! - limits: the loop refuses connections past `max_connections` with 503 before any
//!   upgrade, and a WebSocket whose unsent output passes [`Config::max_queue`] (a
//!   reader too slow for what it is sent) is closed with 1008, its session ended;
//! - nothing here prints: what is worth a line goes to an [`Observer`] ([`Report`]),
//!   which `commands::socketio` turns into log lines and the `--trace` onion.
//!
//! Imports: `std`, [`crate::net`] (the loop, the connection limit's helpers),
//! [`crate::wire`], [`crate::ws`], [`crate::trace`] and [`crate::random`] (the OS's
//! CSPRNG for session ids, through the hub).

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::trace;
use super::{Config as EngineConfig, Hub, Note, Transport};
use crate::net::event_loop::{self as ev, Close, ConnId, ConnRef, Cx, Ended, Refusal, Service};
use crate::net::http::{HEAD_TIMEOUT, text_response};
use crate::random::Rng;
use crate::trace::{ConnAddrs, Direction, Layer};
use crate::wire::engineio::{self as eio, Data, EioError, ErrorCode, Query};
use crate::wire::http::{self, HttpError, Request, Response};
use crate::wire::websocket::{self as wsw, Frame, FrameHeader, OpCode, Role};
use crate::ws::{Incoming, Session, server_frame_head};

pub use super::PATH;
/// During an upgrade, how long a polling GET waits before it is ended with a noop
/// (engine.io's `upgrade` check interval).
pub const UPGRADE_CHECK: Duration = Duration::from_millis(100);
/// How long a keep-alive connection may stay idle between requests.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// A body the server does not read (a request outside `/socket.io/`) larger than this
/// closes the connection.
const MAX_SKIPPED_BODY: usize = 1 << 20;
/// Unsent output beyond which a connection is not read until it drains.
const READ_PAUSE: usize = 1 << 20;
/// The chat page: a minimal hand-written Engine.IO/Socket.IO client over the browser's
/// WebSocket (no socket.io-client file to fetch: it works offline).
pub const PAGE: &str = include_str!("page.html");

// Timer kinds.
/// A connection's head/idle deadline ([`Conn::deadline`]).
const T_IDLE: u32 = 1;
/// A pending poll's deadline or upgrade check.
const T_POLL: u32 = 2;
/// A loop timer: run the heartbeat.
const T_TICK: u32 = 3;

/// The server's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Engine.IO/Socket.IO settings (heartbeat, max payload, auth token).
    pub engine: EngineConfig,
    /// Connections served at once; beyond it, 503.
    pub max_connections: usize,
    /// Event loops (threads).
    pub loops: usize,
    /// Output queued for one WebSocket beyond which it is cut off as a slow reader
    /// (`super::default_max_queue`; a polling session's queue has the hub's cap).
    pub max_queue: usize,
}

/// Where a report is about.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub peer: SocketAddr,
    /// Both addresses (with a trace).
    pub addrs: Option<&'a ConnAddrs>,
    /// The connection's socket, lent for the report (a trace asks it for `TCP_INFO`).
    pub sock: Option<BorrowedFd<'a>>,
}

/// What the server reports to its [`Observer`].
pub enum Report<'a> {
    /// A session event (open, connect, event, close…).
    Note(&'a Note),
    /// A request head that is not HTTP; answered `status` and closed.
    BadHead { error: &'a HttpError, status: u16 },
    /// An Engine.IO request refused with the official server's error.
    Refused {
        method: &'a str,
        target: &'a str,
        code: ErrorCode,
    },
    /// A polling POST whose payload does not decode (the session is closed).
    BadPayload { error: &'a EioError },
    /// A WebSocket message that is no Engine.IO packet (the session is closed).
    BadPacket { sid: &'a str, error: &'a EioError },
    /// A WebSocket cut off: its unsent output passed the cap.
    SlowReader { sid: &'a str, queued: usize },
    /// With a trace: the request that turned the connection into a WebSocket, and its
    /// 101.
    Upgrade {
        target: &'a str,
        request_len: usize,
        response_len: usize,
    },
    /// With a trace: one carrier (a frame, an HTTP message) with the Engine.IO packets
    /// inside, just written or read.
    Carried {
        dir: Direction,
        packets: &'a [eio::Packet],
        carrier: Layer,
        polling: bool,
    },
    /// With a trace: the connection is gone.
    Gone,
}

/// Who hears what the server does. An error (standard output closed) stops the server.
pub trait Observer: Send + Sync {
    /// Whether [`Report::Upgrade`], [`Report::Carried`] and [`Report::Gone`] are
    /// wanted (they cost a copy of each packet).
    fn tracing(&self) -> bool;
    fn report(&self, at: &At<'_>, report: Report<'_>) -> io::Result<()>;
    /// Connections turned away (at most one call a second per loop and reason).
    fn refused(&self, why: Refusal, count: u64);
}

/// Runs the server on `listener` until the observer fails (its error is returned).
pub fn serve(listener: TcpListener, cfg: Config, observer: Arc<dyn Observer>) -> io::Result<()> {
    let loops = cfg.loops.max(1);
    let server = ev::Server::new(
        loops,
        ev::Config {
            max_connections: cfg.max_connections,
            read_pause: READ_PAUSE,
        },
    )?;
    let shared = Arc::new(Mutex::new(Shared {
        hub: Hub::new(cfg.engine.clone(), Rng::os()),
        links: HashMap::new(),
    }));
    let failure = Arc::new(Mutex::new(None));
    let cfg = Arc::new(cfg);
    let tracing = observer.tracing();
    let services = (0..loops)
        .map(|_| Loop {
            shared: Arc::clone(&shared),
            cfg: Arc::clone(&cfg),
            observer: Arc::clone(&observer),
            tracing,
            conns: HashMap::new(),
            wakes: Vec::new(),
            notes: Vec::new(),
            ticking: false,
            failure: Arc::clone(&failure),
            handle: server.handle(),
        })
        .collect();
    server.run(listener, services)?;
    let failed = lock(&failure).take();
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Which connections carry a session: its WebSocket (also while it is being probed)
/// and its pending polling GET.
#[derive(Debug, Default, Clone, Copy)]
struct Link {
    ws: Option<ConnRef>,
    poll: Option<ConnRef>,
}

/// What every loop shares.
struct Shared {
    hub: Hub,
    links: HashMap<String, Link>,
}

impl Shared {
    /// The connection `me` no longer carries `sid`; a session that is over and carried
    /// by nothing is forgotten.
    fn detach(&mut self, sid: &str, me: ConnRef) {
        let Some(link) = self.links.get_mut(sid) else {
            self.hub.reap(sid);
            return;
        };
        if link.ws == Some(me) {
            link.ws = None;
        }
        if link.poll == Some(me) {
            link.poll = None;
        }
        if link.ws.is_none() && link.poll.is_none() && self.hub.transport(sid).is_none() {
            self.hub.reap(sid);
            self.links.remove(sid);
        }
    }
}

/// Posted between loops.
pub enum Msg {
    /// The hub has something for these connections of the receiving loop.
    Wake(Vec<ConnId>),
}

/// One connection.
pub struct Conn {
    peer: SocketAddr,
    /// With a trace: both addresses.
    addrs: Option<ConnAddrs>,
    /// Bytes received and not yet used (a request head in pieces, a POST body).
    inbuf: Vec<u8>,
    phase: Phase,
    /// When an idle keep-alive connection (or one whose head is late) is closed.
    deadline: Instant,
}

enum Phase {
    /// Waiting for (or reading) a request head.
    Http,
    /// A polling POST's body is arriving.
    Body {
        sid: String,
        target: String,
        len: usize,
        head_len: usize,
        close_after: bool,
    },
    /// A request's body we do not need: `left` bytes to drop.
    Skip { left: usize, close_after: bool },
    /// A polling GET waits for packets.
    Poll {
        sid: String,
        target: String,
        close_after: bool,
        /// Answered with a noop at the latest then.
        deadline: Instant,
        since: Instant,
    },
    /// A WebSocket carrying `sid` (or probing for its upgrade).
    Ws {
        session: Session,
        sid: String,
        /// A close frame has been queued: nothing more is written.
        closing: bool,
    },
    /// Answered or failed: being closed.
    Done,
}

/// One loop's share of the server.
struct Loop {
    shared: Arc<Mutex<Shared>>,
    cfg: Arc<Config>,
    observer: Arc<dyn Observer>,
    tracing: bool,
    /// The loop's connections. A callback takes its connection out while it works on
    /// it, so that waking the others ([`Loop::wakes`]) can reach theirs.
    conns: HashMap<ConnId, Conn>,
    /// Connections of this loop the hub has something for.
    wakes: Vec<ConnId>,
    /// Session events to report once the hub's lock is let go.
    notes: Vec<Note>,
    /// The heartbeat timer is set.
    ticking: bool,
    failure: Arc<Mutex<Option<io::Error>>>,
    handle: ev::Handle<Msg>,
}

type C<'a> = Cx<'a, (), Msg>;

impl Loop {
    /// Reports `r`; the first failure stops every loop.
    fn say(&self, at: &At<'_>, r: Report<'_>) {
        if let Err(e) = self.observer.report(at, r) {
            lock(&self.failure).get_or_insert(e);
            self.handle.stop();
        }
    }

    fn at<'c>(cx: &'c C<'_>, id: ConnId, conn: &'c Conn) -> At<'c> {
        At {
            peer: conn.peer,
            addrs: conn.addrs.as_ref(),
            sock: cx.fd(id),
        }
    }

    /// After the hub changed: its notes are kept for reporting, the connections of the
    /// sessions it marked are woken (here, or through their loop's mailbox).
    fn dispatch(&mut self, cx: &C<'_>, sh: &mut Shared) {
        self.notes.extend(sh.hub.drain_notes());
        let me = cx.loop_index();
        let mut remote: Vec<(usize, Vec<ConnId>)> = Vec::new();
        for sid in sh.hub.drain_dirty() {
            let Some(link) = sh.links.get(&sid).copied() else {
                // Nothing carries it: if it is over, forget it.
                sh.hub.reap(&sid);
                continue;
            };
            if link.ws.is_none() && link.poll.is_none() && sh.hub.transport(&sid).is_none() {
                sh.hub.reap(&sid);
                sh.links.remove(&sid);
                continue;
            }
            for r in [link.ws, link.poll].into_iter().flatten() {
                if r.lp == me {
                    self.wakes.push(r.id);
                } else if let Some((_, v)) = remote.iter_mut().find(|(lp, _)| *lp == r.lp) {
                    v.push(r.id);
                } else {
                    remote.push((r.lp, vec![r.id]));
                }
            }
        }
        for (lp, ids) in remote {
            cx.post(lp, Msg::Wake(ids));
        }
    }

    /// Reports the notes, then serves the woken connections (which may wake more).
    fn finish(&mut self, cx: &mut C<'_>) {
        loop {
            if !self.notes.is_empty() {
                let notes = std::mem::take(&mut self.notes);
                let at = At {
                    peer: SocketAddr::from(([0, 0, 0, 0], 0)),
                    addrs: None,
                    sock: None,
                };
                for n in &notes {
                    self.say(&at, Report::Note(n));
                }
            }
            if self.wakes.is_empty() {
                break;
            }
            let mut wakes = std::mem::take(&mut self.wakes);
            wakes.sort_unstable();
            wakes.dedup();
            for id in wakes {
                if let Some(mut conn) = self.conns.remove(&id) {
                    self.wake(cx, id, &mut conn);
                    self.conns.insert(id, conn);
                }
            }
        }
    }

    /// The hub has something for `id`.
    fn wake(&mut self, cx: &mut C<'_>, id: ConnId, conn: &mut Conn) {
        match conn.phase {
            Phase::Ws { .. } => self.ws_flush(cx, id, conn),
            Phase::Poll { .. } => {
                let shared = Arc::clone(&self.shared);
                let ready = {
                    let sh = lock(&shared);
                    let Phase::Poll { sid, .. } = &conn.phase else {
                        return;
                    };
                    sh.hub.has_output(sid, Transport::Polling)
                        || sh.hub.transport(sid) != Some(Transport::Polling)
                };
                if ready {
                    self.answer_poll(cx, id, conn);
                }
            }
            _ => {}
        }
    }

    // -----------------------------------------------------------------------------------
    // HTTP.
    // -----------------------------------------------------------------------------------

    /// Writes a response; `close`: then closes the connection politely.
    fn respond(
        &self,
        cx: &mut C<'_>,
        id: ConnId,
        conn: &mut Conn,
        resp: &Response,
        body: &[u8],
        close: bool,
    ) {
        let mut head = Vec::with_capacity(160);
        resp.emit(&mut head);
        cx.write(id, &[&head, body]);
        if close {
            conn.phase = Phase::Done;
            cx.close(id, Close::Flush);
        } else {
            conn.deadline = cx.now() + IDLE_TIMEOUT;
            cx.timer(id, conn.deadline, T_IDLE);
        }
    }

    /// Uses what `inbuf` holds: request heads and bodies, as far as they go.
    fn process(&mut self, cx: &mut C<'_>, id: ConnId, conn: &mut Conn) {
        loop {
            match &mut conn.phase {
                Phase::Http => {
                    if conn.inbuf.is_empty() {
                        return;
                    }
                    match http::parse_request(&conn.inbuf) {
                        Ok(Some((req, n))) => {
                            conn.inbuf.drain(..n);
                            self.request(cx, id, conn, req, n);
                        }
                        Ok(None) => return,
                        Err(e) => {
                            let status = e.status();
                            self.say(
                                &Self::at(cx, id, conn),
                                Report::BadHead { error: &e, status },
                            );
                            let resp = Response::new(status)
                                .with_header(http::name::CONNECTION, "close")
                                .with_header(http::name::CONTENT_LENGTH, "0");
                            self.respond(cx, id, conn, &resp, b"", true);
                            return;
                        }
                    }
                }
                Phase::Skip { left, close_after } => {
                    let n = (*left).min(conn.inbuf.len());
                    conn.inbuf.drain(..n);
                    *left -= n;
                    if *left > 0 {
                        return;
                    }
                    if *close_after {
                        conn.phase = Phase::Done;
                        cx.close(id, Close::Flush);
                        return;
                    }
                    conn.phase = Phase::Http;
                }
                Phase::Body { len, .. } => {
                    if conn.inbuf.len() < *len {
                        return;
                    }
                    let Phase::Body {
                        sid,
                        target,
                        len,
                        head_len,
                        close_after,
                    } = std::mem::replace(&mut conn.phase, Phase::Http)
                    else {
                        return;
                    };
                    let body: Vec<u8> = conn.inbuf.drain(..len).collect();
                    self.post_body(cx, id, conn, &sid, &target, &body, head_len, close_after);
                }
                Phase::Ws { .. } => {
                    let mut bytes = std::mem::take(&mut conn.inbuf);
                    if !bytes.is_empty() {
                        self.ws_data(cx, id, conn, &mut bytes);
                    }
                    return;
                }
                Phase::Poll { .. } | Phase::Done => return,
            }
        }
    }

    /// One request head (`head_len` bytes) has arrived.
    fn request(
        &mut self,
        cx: &mut C<'_>,
        id: ConnId,
        conn: &mut Conn,
        req: Request,
        head_len: usize,
    ) {
        let close_after = req.headers.has_token(http::name::CONNECTION, "close");
        let path = req.target.split('?').next().unwrap_or_default();
        if path == PATH || path == PATH.trim_end_matches('/') {
            self.engine_request(cx, id, conn, &req, head_len, close_after);
            return;
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
        let skip = match req.headers.content_length() {
            Ok(Some(n)) => usize::try_from(n).unwrap_or(usize::MAX),
            _ => 0,
        };
        if skip > MAX_SKIPPED_BODY {
            self.respond(cx, id, conn, &resp, &body, true);
            return;
        }
        self.respond(cx, id, conn, &resp, &body, close_after && skip == 0);
        if skip > 0 {
            conn.phase = Phase::Skip {
                left: skip,
                close_after,
            };
        }
    }

    fn engine_request(
        &mut self,
        cx: &mut C<'_>,
        id: ConnId,
        conn: &mut Conn,
        req: &Request,
        head_len: usize,
        close_after: bool,
    ) {
        let q = Query::parse(&req.target);
        let upgrade = req.headers.has_token(http::name::UPGRADE, "websocket");
        let checked = verify(req, &q, &lock(&self.shared).hub, upgrade);
        let transport = match checked {
            Ok(t) => t,
            Err(code) => {
                self.say(
                    &Self::at(cx, id, conn),
                    Report::Refused {
                        method: &req.method,
                        target: &req.target,
                        code,
                    },
                );
                if upgrade {
                    // The official server answers a refused upgrade with a plain 400.
                    let msg = code.message();
                    let resp = Response::new(400)
                        .with_header(http::name::CONNECTION, "close")
                        .with_header(http::name::CONTENT_TYPE, "text/html")
                        .with_header(http::name::CONTENT_LENGTH, msg.len().to_string());
                    self.respond(cx, id, conn, &resp, msg.as_bytes(), true);
                    return;
                }
                let body = code.json().into_bytes();
                let resp = Response::new(code.status())
                    .with_header(http::name::CONTENT_TYPE, "application/json")
                    .with_header(http::name::CONTENT_LENGTH, body.len().to_string());
                // A body we did not read: close rather than parse it as a request.
                let close = close_after || req.headers.contains(http::name::CONTENT_LENGTH);
                self.respond(cx, id, conn, &resp, &body, close);
                return;
            }
        };
        match (transport, q.sid) {
            (Transport::WebSocket, sid) => self.upgrade(cx, id, conn, req, head_len, sid),
            (Transport::Polling, None) => {
                let sid = {
                    let shared = Arc::clone(&self.shared);
                    let mut sh = lock(&shared);
                    let sid = sh.hub.open(Transport::Polling, cx.now());
                    sh.links.insert(sid.clone(), Link::default());
                    self.dispatch(cx, &mut sh);
                    sid
                };
                self.poll(cx, id, conn, sid, &req.target, close_after);
            }
            (Transport::Polling, Some(sid)) if req.method == "GET" => {
                self.poll(cx, id, conn, sid, &req.target, close_after)
            }
            (Transport::Polling, Some(sid)) if req.method == "POST" => {
                self.post(cx, id, conn, sid, req, head_len, close_after)
            }
            (Transport::Polling, Some(_)) => {
                let resp = Response::new(500).with_header(http::name::CONTENT_LENGTH, "0");
                self.respond(cx, id, conn, &resp, b"", close_after);
            }
        }
    }

    /// A polling GET: answered now if packets wait, else it waits.
    fn poll(
        &mut self,
        cx: &mut C<'_>,
        id: ConnId,
        conn: &mut Conn,
        sid: String,
        target: &str,
        close_after: bool,
    ) {
        let now = cx.now();
        let shared = Arc::clone(&self.shared);
        let mut sh = lock(&shared);
        if !sh.hub.begin_poll(&sid) {
            // Two GETs at once: the official server answers 400 and closes the session.
            self.dispatch(cx, &mut sh);
            drop(sh);
            let resp = Response::new(400).with_header(http::name::CONTENT_LENGTH, "0");
            self.respond(cx, id, conn, &resp, b"", true);
            return;
        }
        sh.links.entry(sid.clone()).or_default().poll = Some(cx.here(id));
        let ready = sh.hub.has_output(&sid, Transport::Polling)
            || sh.hub.transport(&sid) != Some(Transport::Polling);
        let upgrading = sh.hub.is_upgrading(&sid);
        let c = sh.hub.config();
        let deadline = now + c.ping_interval + c.ping_timeout + Duration::from_secs(5);
        drop(sh);
        conn.phase = Phase::Poll {
            sid,
            target: target.to_string(),
            close_after,
            deadline,
            since: now,
        };
        if ready {
            self.answer_poll(cx, id, conn);
            return;
        }
        cx.timer(id, deadline, T_POLL);
        if upgrading {
            // During an upgrade a poll is ended with a noop within 100 ms, as the
            // official server's upgrade check does, so that the client can pause polling.
            cx.timer(id, now + UPGRADE_CHECK, T_POLL);
        }
    }

    /// Answers the pending poll with what waits (a noop if nothing does).
    fn answer_poll(&mut self, cx: &mut C<'_>, id: ConnId, conn: &mut Conn) {
        let Phase::Poll {
            sid,
            target,
            close_after,
            ..
        } = std::mem::replace(&mut conn.phase, Phase::Http)
        else {
            return;
        };
        let mut packets = {
            let shared = Arc::clone(&self.shared);
            let mut sh = lock(&shared);
            sh.hub.end_poll(&sid);
            let taken = sh.hub.take(&sid, Transport::Polling);
            let mut packets = taken.packets;
            if taken.closed.is_some() {
                // The official server ends a closing session's pending poll with a
                // close packet.
                packets.push(eio::Packet::new(eio::PacketType::Close, ""));
            }
            sh.detach(&sid, cx.here(id));
            self.dispatch(cx, &mut sh);
            packets
        };
        if packets.is_empty() {
            packets.push(eio::Packet::new(eio::PacketType::Noop, ""));
        }
        let body = eio::encode_payload(&packets);
        let (resp, body) = text_response(200, "text/plain; charset=UTF-8", &body);
        let mut head = Vec::with_capacity(160);
        resp.emit(&mut head);
        let head_len = head.len();
        cx.write(id, &[&head, &body]);
        if close_after {
            conn.phase = Phase::Done;
            cx.close(id, Close::Flush);
        } else {
            conn.deadline = cx.now() + IDLE_TIMEOUT;
            cx.timer(id, conn.deadline, T_IDLE);
        }
        if self.tracing {
            cx.flush(id);
            let carrier = trace::http_layer(
                &format!("GET {target} → 200 OK"),
                head_len,
                body.len(),
                packets.len(),
            );
            self.say(
                &Self::at(cx, id, conn),
                Report::Carried {
                    dir: Direction::Sent,
                    packets: &packets,
                    carrier,
                    polling: true,
                },
            );
        }
        // A request that came while the poll waited.
        self.process(cx, id, conn);
    }

    /// A polling POST's head: its body follows.
    #[allow(clippy::too_many_arguments)]
    fn post(
        &mut self,
        cx: &mut C<'_>,
        id: ConnId,
        conn: &mut Conn,
        sid: String,
        req: &Request,
        head_len: usize,
        close_after: bool,
    ) {
        let max = self.cfg.engine.max_payload;
        let refuse = |this: &mut Loop, cx: &mut C<'_>, reason: &str| {
            let shared = Arc::clone(&this.shared);
            let mut sh = lock(&shared);
            sh.hub.close(&sid, reason);
            this.dispatch(cx, &mut sh);
        };
        let len = match req.headers.content_length() {
            Ok(Some(n)) => usize::try_from(n).unwrap_or(usize::MAX),
            _ => {
                refuse(self, cx, "transport error");
                let (resp, body) = text_response(411, "text/plain", "Length Required");
                self.respond(cx, id, conn, &resp, &body, true);
                return;
            }
        };
        if len > max {
            // engine.io's polling transport: `res.writeHead(413).end()`.
            refuse(self, cx, "transport error: payload too large");
            let resp = Response::new(413)
                .with_header(http::name::CONNECTION, "close")
                .with_header(http::name::CONTENT_LENGTH, "0");
            self.respond(cx, id, conn, &resp, b"", true);
            return;
        }
        if req
            .headers
            .get(http::name::CONTENT_TYPE)
            .is_some_and(|t| t.eq_ignore_ascii_case("application/octet-stream"))
        {
            refuse(self, cx, "invalid content");
            let resp = Response::new(400).with_header(http::name::CONTENT_LENGTH, "0");
            self.respond(cx, id, conn, &resp, b"", true);
            return;
        }
        conn.phase = Phase::Body {
            sid,
            target: req.target.clone(),
            len,
            head_len,
            close_after,
        };
    }

    /// A polling POST's body has arrived: its packets go to the hub.
    #[allow(clippy::too_many_arguments)]
    fn post_body(
        &mut self,
        cx: &mut C<'_>,
        id: ConnId,
        conn: &mut Conn,
        sid: &str,
        target: &str,
        body: &[u8],
        head_len: usize,
        close_after: bool,
    ) {
        let decoded = std::str::from_utf8(body)
            .map_err(|_| EioError::NotUtf8)
            .and_then(eio::decode_payload);
        match decoded {
            Ok(packets) => {
                if self.tracing {
                    let carrier = trace::http_layer(
                        &format!("POST {target}"),
                        head_len,
                        body.len(),
                        packets.len(),
                    );
                    self.say(
                        &Self::at(cx, id, conn),
                        Report::Carried {
                            dir: Direction::Received,
                            packets: &packets,
                            carrier,
                            polling: true,
                        },
                    );
                }
                let shared = Arc::clone(&self.shared);
                let mut sh = lock(&shared);
                let now = cx.now();
                for p in packets {
                    sh.hub.receive(sid, Transport::Polling, p, now);
                }
                self.dispatch(cx, &mut sh);
            }
            Err(e) => {
                self.say(&Self::at(cx, id, conn), Report::BadPayload { error: &e });
                // The official server answers "ok" and closes the session ("parse
                // error").
                let shared = Arc::clone(&self.shared);
                let mut sh = lock(&shared);
                sh.hub.close(sid, "parse error");
                self.dispatch(cx, &mut sh);
            }
        }
        let (resp, body) = text_response(200, "text/html", "ok");
        self.respond(cx, id, conn, &resp, &body, close_after);
    }

    // -----------------------------------------------------------------------------------
    // WebSocket.
    // -----------------------------------------------------------------------------------

    /// The WebSocket transport: a new session, or the upgrade of a polling one.
    fn upgrade(
        &mut self,
        cx: &mut C<'_>,
        id: ConnId,
        conn: &mut Conn,
        req: &Request,
        head_len: usize,
        sid: Option<String>,
    ) {
        let hs = match wsw::validate_client_request(req) {
            Ok(hs) => hs,
            Err(e) => {
                self.respond(cx, id, conn, &e.response(), b"", true);
                return;
            }
        };
        let accept = hs.accept_response(None).to_bytes();
        cx.write(id, &[&accept]);
        if self.tracing {
            cx.flush(id);
            self.say(
                &Self::at(cx, id, conn),
                Report::Upgrade {
                    target: &req.target,
                    request_len: head_len,
                    response_len: accept.len(),
                },
            );
        }
        let sid = {
            let shared = Arc::clone(&self.shared);
            let mut sh = lock(&shared);
            let sid = match sid {
                Some(s) => s,
                None => sh.hub.open(Transport::WebSocket, cx.now()),
            };
            sh.links.entry(sid.clone()).or_default().ws = Some(cx.here(id));
            self.dispatch(cx, &mut sh);
            sid
        };
        conn.phase = Phase::Ws {
            session: Session::new(Role::Server, self.cfg.engine.max_payload, Rng::os()),
            sid,
            closing: false,
        };
        // The open packet (or the probe's answer) waits in the hub.
        self.wakes.push(id);
        // Frames sent right behind the request.
        self.process(cx, id, conn);
    }

    /// Bytes on a WebSocket.
    fn ws_data(&mut self, cx: &mut C<'_>, id: ConnId, conn: &mut Conn, bytes: &mut [u8]) {
        let Phase::Ws {
            session,
            sid,
            closing,
        } = &mut conn.phase
        else {
            return;
        };
        let tracing = self.tracing;
        let mut packets: Vec<(Result<eio::Packet, EioError>, Option<FrameHeader>)> = Vec::new();
        let mut replies = Vec::new();
        let mut ended = false;
        let mut close_sent = false;
        let mut last: Option<FrameHeader> = None;
        session.receive_with(bytes, &mut |ev| match ev {
            Incoming::Frame { header, .. } => {
                if tracing {
                    last = Some(header);
                }
            }
            Incoming::Text(t) => packets.push((eio::Packet::decode_text(t), last.take())),
            Incoming::Binary(b) => packets.push((Ok(eio::Packet::decode_binary(b)), last.take())),
            Incoming::Reply(f) => {
                if f.opcode == OpCode::Close {
                    close_sent = true;
                }
                f.encode_into(&mut replies);
            }
            Incoming::Ping(_) | Incoming::Pong(_) => {}
            Incoming::Closed { .. } | Incoming::Failed { .. } => ended = true,
        });
        let sid = sid.clone();
        if close_sent {
            *closing = true;
        }
        if !replies.is_empty() {
            cx.write(id, &[&replies]);
        }
        if tracing {
            for (p, h) in &packets {
                if let (Ok(p), Some(h)) = (p, h) {
                    let mut h = *h;
                    h.payload_len = match &p.data {
                        Data::Text(t) => (t.len() + 1) as u64,
                        Data::Binary(b) => b.len() as u64,
                    };
                    self.say(
                        &Self::at(cx, id, conn),
                        Report::Carried {
                            dir: Direction::Received,
                            packets: std::slice::from_ref(p),
                            carrier: trace::ws_layer(&h),
                            polling: false,
                        },
                    );
                }
            }
        }
        if !packets.is_empty() {
            let shared = Arc::clone(&self.shared);
            let mut sh = lock(&shared);
            let now = cx.now();
            for (p, _) in packets {
                match p {
                    Ok(p) => sh.hub.receive(&sid, Transport::WebSocket, p, now),
                    Err(e) => {
                        drop(sh);
                        self.say(
                            &Self::at(cx, id, conn),
                            Report::BadPacket {
                                sid: &sid,
                                error: &e,
                            },
                        );
                        sh = lock(&shared);
                        sh.hub.close(&sid, "parse error");
                        break;
                    }
                }
            }
            self.dispatch(cx, &mut sh);
        }
        if ended {
            self.ws_end(cx, id, conn);
        }
    }

    /// The WebSocket is over (closing handshake done, protocol broken, TCP closed):
    /// its session learns it, the connection closes.
    fn ws_end(&mut self, cx: &mut C<'_>, id: ConnId, conn: &mut Conn) {
        if let Phase::Ws { sid, .. } = &conn.phase {
            let shared = Arc::clone(&self.shared);
            let mut sh = lock(&shared);
            sh.hub.transport_closed(sid, Transport::WebSocket);
            sh.detach(sid, cx.here(id));
            self.dispatch(cx, &mut sh);
        }
        conn.phase = Phase::Done;
        cx.close(id, Close::Flush);
    }

    /// Writes what the hub holds for the WebSocket `id`.
    fn ws_flush(&mut self, cx: &mut C<'_>, id: ConnId, conn: &mut Conn) {
        let Phase::Ws { sid, closing, .. } = &mut conn.phase else {
            return;
        };
        if *closing {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let mut sh = lock(&shared);
        let taken = sh.hub.take(sid, Transport::WebSocket);
        for p in &taken.packets {
            match &p.data {
                Data::Text(_) => {
                    let text = p.encode_text().unwrap_or_default();
                    let (head, n) = server_frame_head(OpCode::Text, text.len());
                    cx.write(id, &[&head[..n], text.as_bytes()]);
                }
                Data::Binary(b) => {
                    let (head, n) = server_frame_head(OpCode::Binary, b.len());
                    cx.write(id, &[&head[..n], b]);
                }
            }
        }
        let mut slow = None;
        if taken.closed.is_some() {
            let mut f = Vec::new();
            Frame::close(Some(wsw::close_code::NORMAL), "").encode_into(&mut f);
            cx.write(id, &[&f]);
            *closing = true;
        } else if cx.pending(id) > self.cfg.max_queue {
            // A reader too slow for what it is sent: its session ends here rather than
            // its queue growing without bound.
            let queued = cx.pending(id);
            sh.hub.close(sid, "slow reader: output queue over its cap");
            let mut f = Vec::new();
            Frame::close(Some(wsw::close_code::POLICY_VIOLATION), "slow reader")
                .encode_into(&mut f);
            cx.write(id, &[&f]);
            *closing = true;
            slow = Some(queued);
        }
        let sid = sid.clone();
        let closing = *closing;
        if closing {
            sh.hub.transport_closed(&sid, Transport::WebSocket);
            sh.detach(&sid, cx.here(id));
        }
        self.dispatch(cx, &mut sh);
        drop(sh);
        if closing {
            cx.close(id, Close::Flush);
        }
        if let Some(queued) = slow {
            self.say(
                &Self::at(cx, id, conn),
                Report::SlowReader { sid: &sid, queued },
            );
        }
        if self.tracing && !taken.packets.is_empty() {
            // Traced once written, so a tracer watching the wire sees them go.
            cx.flush(id);
            for p in &taken.packets {
                let len = match &p.data {
                    Data::Text(t) => t.len() + 1,
                    Data::Binary(b) => b.len(),
                };
                let opcode = if p.is_binary() {
                    OpCode::Binary
                } else {
                    OpCode::Text
                };
                let h = FrameHeader::new(true, opcode, len as u64, None);
                self.say(
                    &Self::at(cx, id, conn),
                    Report::Carried {
                        dir: Direction::Sent,
                        packets: std::slice::from_ref(p),
                        carrier: trace::ws_layer(&h),
                        polling: false,
                    },
                );
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Callbacks, with the connection taken out of `conns`.
    // -----------------------------------------------------------------------------------

    fn on_data(&mut self, cx: &mut C<'_>, id: ConnId, conn: &mut Conn, bytes: &mut [u8]) {
        match conn.phase {
            Phase::Done => {}
            Phase::Ws { .. } => self.ws_data(cx, id, conn, bytes),
            _ => {
                if conn.inbuf.try_reserve(bytes.len()).is_err() {
                    conn.phase = Phase::Done;
                    cx.close(id, Close::Now);
                    return;
                }
                conn.inbuf.extend_from_slice(bytes);
                self.process(cx, id, conn);
            }
        }
    }

    fn on_eof(&mut self, cx: &mut C<'_>, id: ConnId, conn: &mut Conn) {
        match &mut conn.phase {
            Phase::Ws { session, .. } => {
                session.eof();
                self.ws_end(cx, id, conn);
            }
            _ => self.on_gone(cx, id, conn),
        }
        cx.close(id, Close::Flush);
    }

    /// The connection ends: whatever session it carried learns it.
    fn on_gone(&mut self, cx: &mut C<'_>, id: ConnId, conn: &mut Conn) {
        let shared = Arc::clone(&self.shared);
        match std::mem::replace(&mut conn.phase, Phase::Done) {
            Phase::Ws { sid, .. } => {
                let mut sh = lock(&shared);
                sh.hub.transport_closed(&sid, Transport::WebSocket);
                sh.detach(&sid, cx.here(id));
                self.dispatch(cx, &mut sh);
            }
            Phase::Poll { sid, .. } => {
                let mut sh = lock(&shared);
                sh.hub.end_poll(&sid);
                sh.detach(&sid, cx.here(id));
                self.dispatch(cx, &mut sh);
            }
            Phase::Body { sid, .. } => {
                let mut sh = lock(&shared);
                sh.hub
                    .close(&sid, "data request connection closed prematurely");
                self.dispatch(cx, &mut sh);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut C<'_>, id: ConnId, conn: &mut Conn, kind: u32) {
        let now = cx.now();
        match (&conn.phase, kind) {
            (Phase::Http | Phase::Body { .. } | Phase::Skip { .. }, T_IDLE)
                if now >= conn.deadline =>
            {
                self.on_gone(cx, id, conn);
                cx.close(id, Close::Flush);
            }
            (
                Phase::Poll {
                    sid,
                    deadline,
                    since,
                    ..
                },
                T_POLL,
            ) => {
                let due = now >= *deadline
                    || (now >= *since + UPGRADE_CHECK && lock(&self.shared).hub.is_upgrading(sid));
                if due {
                    self.answer_poll(cx, id, conn);
                } else if now < *since + UPGRADE_CHECK && lock(&self.shared).hub.is_upgrading(sid) {
                    let at = *since + UPGRADE_CHECK;
                    cx.timer(id, at, T_POLL);
                }
            }
            _ => {}
        }
    }

    /// Runs the heartbeat and sets the next tick.
    fn tick(&mut self, cx: &mut C<'_>) {
        let now = cx.now();
        let shared = Arc::clone(&self.shared);
        let mut sh = lock(&shared);
        let next = sh.hub.tick(now);
        let c = sh.hub.config();
        let cap = (c.ping_interval.min(c.ping_timeout) / 4)
            .clamp(Duration::from_millis(5), Duration::from_millis(500));
        self.dispatch(cx, &mut sh);
        drop(sh);
        let at = next.map_or(now + cap, |n| n.min(now + cap));
        cx.loop_timer(at.max(now + Duration::from_millis(1)), T_TICK);
    }
}

impl Service for Loop {
    type Conn = ();
    type Msg = Msg;

    fn open(&mut self, cx: &mut C<'_>, id: ConnId, peer: SocketAddr) {
        if !self.ticking {
            self.ticking = true;
            cx.loop_timer(cx.now() + Duration::from_millis(5), T_TICK);
        }
        let deadline = cx.now() + HEAD_TIMEOUT;
        cx.timer(id, deadline, T_IDLE);
        let addrs = if self.tracing {
            cx.stream(id).and_then(ConnAddrs::of)
        } else {
            None
        };
        self.conns.insert(
            id,
            Conn {
                peer,
                addrs,
                inbuf: Vec::new(),
                phase: Phase::Http,
                deadline,
            },
        );
    }

    fn data(&mut self, cx: &mut C<'_>, id: ConnId, _c: &mut (), bytes: &mut [u8]) {
        if let Some(mut conn) = self.conns.remove(&id) {
            self.on_data(cx, id, &mut conn, bytes);
            self.conns.insert(id, conn);
        }
        self.finish(cx);
    }

    fn eof(&mut self, cx: &mut C<'_>, id: ConnId, _c: &mut ()) {
        if let Some(mut conn) = self.conns.remove(&id) {
            self.on_eof(cx, id, &mut conn);
            self.conns.insert(id, conn);
        } else {
            cx.close(id, Close::Flush);
        }
        self.finish(cx);
    }

    fn closed(&mut self, cx: &mut C<'_>, id: ConnId, _c: (), _how: Ended) {
        if let Some(mut conn) = self.conns.remove(&id) {
            self.on_gone(cx, id, &mut conn);
            if self.tracing && conn.addrs.is_some() {
                let at = At {
                    peer: conn.peer,
                    addrs: conn.addrs.as_ref(),
                    sock: None,
                };
                self.say(&at, Report::Gone);
            }
        }
        self.finish(cx);
    }

    fn timer(&mut self, cx: &mut C<'_>, id: ConnId, _c: &mut (), kind: u32) {
        if let Some(mut conn) = self.conns.remove(&id) {
            self.on_timer(cx, id, &mut conn, kind);
            self.conns.insert(id, conn);
        }
        self.finish(cx);
    }

    fn loop_timer(&mut self, cx: &mut C<'_>, kind: u32) {
        if kind == T_TICK {
            self.tick(cx);
        }
        self.finish(cx);
    }

    fn message(&mut self, cx: &mut C<'_>, msg: Msg) {
        match msg {
            Msg::Wake(ids) => self.wakes.extend(ids),
        }
        self.finish(cx);
    }

    fn refused(&mut self, why: Refusal, count: u64) {
        self.observer.refused(why, count);
    }
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
