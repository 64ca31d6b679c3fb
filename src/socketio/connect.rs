//! The Socket.IO client's I/O: the I/O-free [`Client`] carried over a WebSocket or
//! HTTP long-polling, on blocking sockets.
//!
//! - [`Connection::open`] dials the server: the WebSocket handshake, or the polling
//!   handshake GET and a thread that keeps a GET pending;
//! - [`Connection::run`] is the client's loop: packets from the reader threads go into
//!   the [`Client`], its heartbeat runs, its output is written; with [`Via::Auto`] the
//!   polling session is upgraded (a WebSocket with the same sid, `2probe`, `3probe`,
//!   then `5`, Engine.IO v4 § "Upgrade"); the emits of [`Options`] go out once the
//!   namespace accepts us, and the run ends when their acks are back (or at the wait).
//!
//! Nothing here prints: what happens goes to an [`Observer`] ([`Report`], and with a
//! trace each carrier, [`Traced`]), which `commands::socketio` turns into lines and the
//! `--trace` onion.
//!
//! Imports: `std`, `anyhow`, `serde_json`, [`crate::net`] (HTTP on a socket),
//! [`crate::wire`], [`crate::ws`] (the WebSocket session), [`crate::trace`] (what a
//! trace is told) and [`crate::random`] (the WebSocket key and masks).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::net::http::{HEAD_TIMEOUT, read_body, read_response, websocket_upgrade};
use crate::random::Rng;
use crate::socketio::client::{Client, ClientEvent, State as ClientState};
use crate::socketio::{PATH, Transport, trace};
use crate::trace::{ConnAddrs, Direction, Layer};
use crate::wire::engineio::{self as eio, Data, Handshake};
use crate::wire::http::{self, Request, Response};
use crate::wire::websocket::{self as wsw, Frame, FrameHeader, Message, Role};
use crate::ws::{Action, Session};

/// An `http://HOST:PORT/PATH` URL (`ws://` is accepted too); PATH defaults to
/// `/socket.io/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

pub fn parse_url(url: &str) -> Result<Url> {
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
    Ok(Url {
        host: host.to_string(),
        port,
        path,
    })
}

impl Url {
    pub fn host_header(&self) -> String {
        http::host_header(&self.host, self.port, 80)
    }

    pub fn target(&self, transport: Transport, sid: Option<&str>) -> String {
        let mut t = format!("{}?EIO=4&transport={}", self.path, transport.name());
        if let Some(sid) = sid {
            t.push_str("&sid=");
            t.push_str(sid);
        }
        t
    }

    /// The server's address, if the host resolves (a trace watches it).
    pub fn endpoint(&self) -> Option<SocketAddr> {
        std::net::ToSocketAddrs::to_socket_addrs(&(self.host.trim_matches(['[', ']']), self.port))
            .ok()
            .and_then(|mut a| a.next())
    }

    fn dial(&self) -> Result<TcpStream> {
        let s = TcpStream::connect((self.host.trim_matches(['[', ']']), self.port))
            .with_context(|| format!("cannot connect to {}:{}", self.host, self.port))?;
        let _ = s.set_nodelay(true);
        Ok(s)
    }
}

/// Which transport the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    WebSocket,
    Polling,
    /// Polling first, then upgraded to a WebSocket if the server offers it.
    Auto,
}

/// One emit: event name, arguments (placeholders name the attachments), attachments.
pub type Emit = (String, Vec<Value>, Vec<Vec<u8>>);

/// What the client does once connected.
#[derive(Debug, Clone)]
pub struct Options {
    pub namespace: String,
    /// The CONNECT packet's auth object.
    pub auth: Option<Value>,
    /// Sent once the namespace accepts us.
    pub emits: Vec<Emit>,
    /// Ask for an acknowledgement of every emit (and wait for them).
    pub ack: bool,
    /// Stay connected until the server ends the session.
    pub listen: bool,
    /// How long to wait for the acks (or, without acks, before leaving), in ms.
    pub wait_ms: u64,
    /// Do not answer the server's pings (to watch its ping timeout).
    pub ignore_pings: bool,
}

/// Which connection a [`Traced`] unit travelled on.
pub struct At<'a> {
    /// Both addresses.
    pub addrs: Option<&'a ConnAddrs>,
    /// The connection's socket, lent for the report (a trace asks it for `TCP_INFO`).
    pub sock: Option<BorrowedFd<'a>>,
}

/// With a trace: what crossed a connection.
pub enum Traced<'a> {
    /// The request that turned the connection into a WebSocket, and its 101.
    Upgrade {
        target: &'a str,
        request_len: usize,
        response_len: usize,
    },
    /// One carrier (a frame, an HTTP message) with the Engine.IO packets inside it, just
    /// written or read.
    Carried {
        dir: Direction,
        packets: &'a [eio::Packet],
        carrier: Layer,
        polling: bool,
    },
    /// The connection is over.
    Gone,
}

/// What the client reports to its [`Observer`].
pub enum Report<'a> {
    /// The Engine.IO session is open.
    Open(&'a Handshake),
    /// The polling session moved to a WebSocket.
    Upgraded,
    /// The namespace accepted us; `sid` is the socket id.
    Connected { sid: &'a str },
    /// One of [`Options::emits`] went out (`ack`: the id its acknowledgement will carry).
    Emitted {
        name: &'a str,
        args: &'a [Value],
        attachments: &'a [Vec<u8>],
        ack: Option<u64>,
    },
    /// The namespace refused us (CONNECT_ERROR data); the run ends with an error.
    ConnectError(&'a Value),
    /// An event from the server (`ack`: it asked for an acknowledgement, answered with
    /// the same arguments).
    Event {
        name: &'a str,
        args: &'a [Value],
        attachments: &'a [Vec<u8>],
        ack: Option<u64>,
    },
    /// The acknowledgement of one of our emits.
    Ack {
        id: u64,
        event: &'a str,
        args: &'a [Value],
        attachments: &'a [Vec<u8>],
    },
    /// The server closed the namespace.
    Disconnected,
}

/// Who hears what the client does. An error (standard output closed) ends the run.
pub trait Observer {
    /// Whether each carrier's socket is worth lending to [`Observer::trace`] (a
    /// polling GET's connection is then cloned for the report).
    fn tracing(&self) -> bool;
    fn trace(&self, at: &At<'_>, unit: Traced<'_>) -> io::Result<()>;
    fn report(&self, report: Report<'_>) -> io::Result<()>;
}

/// What the client's main loop waits for.
enum Input {
    /// An Engine.IO packet, with the frame header that carried it (WebSocket).
    Packet(eio::Packet, Option<FrameHeader>),
    /// A polling GET's packets, with the HTTP layer that carried them and, with a
    /// trace, the GET connection lent for the kernel's view (a handle of its own,
    /// dropped once traced).
    Polled(Vec<eio::Packet>, Layer, Option<TcpStream>),
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
        url: Url,
        sid: String,
        /// The POST connection (keep-alive), opened on the first send.
        post: Option<TcpStream>,
        /// Set during the upgrade: the GET loop stops after its current request.
        paused: Arc<AtomicBool>,
    },
}

/// A WebSocket being probed for the upgrade (Engine.IO v4 § "Upgrade").
struct Probe {
    stream: TcpStream,
    session: Session,
    addrs: Option<ConnAddrs>,
    /// `3probe` arrived; waiting for the last GET to come back before sending `5`.
    answered: bool,
}

/// A client's connection to a server: its transport, the reader threads' channel and
/// the observer.
pub struct Connection {
    wire: Wire,
    addrs: Option<ConnAddrs>,
    observer: Box<dyn Observer>,
    /// Upgrade a polling session when the server offers it ([`Via::Auto`]).
    upgrade: bool,
    /// The WebSocket being probed while polling.
    probe: Option<Probe>,
    tx: Sender<Input>,
    rx: Receiver<Input>,
}

/// Opens a WebSocket to `target` and starts its reader thread, whose packets arrive on
/// `tx`. Returns the stream and the session that masks what we send.
fn dial_websocket(
    url: &Url,
    target: &str,
    tx: Sender<Input>,
    observer: &dyn Observer,
) -> Result<(TcpStream, Session, Option<ConnAddrs>)> {
    let mut stream = url.dial()?;
    let addrs = ConnAddrs::of(&stream);
    let mut rng = Rng::os();
    let up = websocket_upgrade(&mut stream, &url.host_header(), target, &[], rng.nonce())?;
    let leftover = up.leftover;
    if observer.tracing() {
        observer.trace(
            &At {
                addrs: addrs.as_ref(),
                sock: None,
            },
            Traced::Upgrade {
                target,
                request_len: up.request_len,
                response_len: up.response.to_bytes().len(),
            },
        )?;
    }
    stream.set_read_timeout(None)?;
    let mut reader = stream.try_clone()?;
    thread::spawn(move || {
        // Only reads: it never masks a frame (the writer's session below does).
        let mut session = Session::new(Role::Client, usize::MAX / 2, Rng::seeded(1));
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

/// With a trace, a handle of `stream`'s own to lend the observer (see
/// [`Input::Polled`]).
fn lend(stream: &TcpStream, trace: bool) -> Option<TcpStream> {
    trace.then(|| stream.try_clone().ok()).flatten()
}

impl Connection {
    /// Opens the transport: the WebSocket handshake, or the polling handshake GET and
    /// the GET loop ([`Via::Auto`] starts polling too). Packets arrive on the
    /// connection's channel.
    pub fn open(url: &Url, via: Via, observer: Box<dyn Observer>) -> Result<Connection> {
        let (tx, rx) = mpsc::channel::<Input>();
        if via == Via::WebSocket {
            let target = url.target(Transport::WebSocket, None);
            let (stream, session, addrs) =
                dial_websocket(url, &target, tx.clone(), observer.as_ref())?;
            return Ok(Connection {
                wire: Wire::WebSocket { stream, session },
                addrs,
                observer,
                upgrade: false,
                probe: None,
                tx,
                rx,
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
        let trace = observer.tracing();
        let _ = tx.send(Input::Polled(packets, layer, lend(&stream, trace)));
        let paused = Arc::new(AtomicBool::new(false));
        let loop_url = url.clone();
        let loop_sid = sid.clone();
        let loop_paused = Arc::clone(&paused);
        let loop_tx = tx.clone();
        thread::spawn(move || {
            let tx = loop_tx;
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
                                Input::Polled(p, layer, lend(&stream, trace))
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
                let closing = matches!(&input, Input::Polled(p, _, _)
                    if p.iter().any(|p| p.ptype == eio::PacketType::Close));
                if tx.send(input).is_err() || end || closing {
                    return;
                }
            }
        });
        Ok(Connection {
            wire: Wire::Polling {
                url: url.clone(),
                sid,
                post: None,
                paused,
            },
            addrs,
            observer,
            upgrade: via == Via::Auto,
            probe: None,
            tx,
            rx,
        })
    }

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
                    self.observer.trace(
                        &At {
                            addrs: self.addrs.as_ref(),
                            sock: Some(stream.as_fd()),
                        },
                        Traced::Carried {
                            dir: Direction::Sent,
                            packets: std::slice::from_ref(p),
                            carrier: trace::ws_layer(&h),
                            polling: false,
                        },
                    )?;
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
                self.observer.trace(
                    &At {
                        addrs: addrs.as_ref(),
                        sock: Some(stream.as_fd()),
                    },
                    Traced::Carried {
                        dir: Direction::Sent,
                        packets: &packets,
                        carrier: trace::http_layer(
                            &format!("POST {}", req.target),
                            head_len,
                            body.len(),
                            packets.len(),
                        ),
                        polling: true,
                    },
                )?;
                if resp.status != 200 {
                    bail!("the server answered the POST with {}", resp.status);
                }
                Ok(())
            }
        }
    }

    /// The WebSocket's stream, once the connection is one.
    fn websocket(&self) -> Option<&TcpStream> {
        match &self.wire {
            Wire::WebSocket { stream, .. } => Some(stream),
            Wire::Polling { .. } => None,
        }
    }

    fn write_frame(&mut self, f: Frame) -> Result<()> {
        if let Wire::WebSocket { stream, .. } = &mut self.wire {
            stream.write_all(&f.encode())?;
        }
        Ok(())
    }

    fn shutdown(&mut self) {
        let _ = self.observer.trace(
            &At {
                addrs: self.addrs.as_ref(),
                sock: None,
            },
            Traced::Gone,
        );
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

    /// Starts the upgrade of a polling session: a WebSocket with the same sid, `2probe`.
    fn start_upgrade(&mut self) -> Result<()> {
        let Wire::Polling { url, sid, .. } = &self.wire else {
            return Ok(());
        };
        let target = url.target(Transport::WebSocket, Some(sid));
        let (stream, session, addrs) =
            dial_websocket(url, &target, self.tx.clone(), self.observer.as_ref())?;
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
        self.observer.trace(
            &At {
                addrs: probe.addrs.as_ref(),
                sock: Some(probe.stream.as_fd()),
            },
            Traced::Carried {
                dir: Direction::Sent,
                packets: std::slice::from_ref(&p),
                carrier: trace::ws_layer(&frame.header()),
                polling: false,
            },
        )?;
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

    /// The client's loop: connects to `opts.namespace`, emits, waits for the acks (or
    /// listens, `opts.listen`), then leaves. The connection is shut down once the
    /// session is over; on a failure to write or report, it is only dropped.
    pub fn run(mut self, opts: &Options) -> Result<()> {
        let outcome = self.drive(opts)?;
        self.shutdown();
        outcome
    }

    /// The loop; `Err`: it failed (I/O, the observer), `Ok(outcome)`: how the session
    /// ended.
    fn drive(&mut self, opts: &Options) -> Result<Result<()>> {
        let mut client = Client::new(&opts.namespace, opts.auth.clone());
        if opts.ignore_pings {
            client.ignore_pings();
        }
        let mut emitted = false;
        let mut deadline = Instant::now() + HEAD_TIMEOUT;
        let mut outcome: Option<Result<()>> = None;
        while outcome.is_none() {
            let now = Instant::now();
            let wait = deadline
                .saturating_duration_since(now)
                .min(Duration::from_millis(200));
            let input = self.rx.recv_timeout(wait);
            let now = Instant::now();
            match input {
                Ok(Input::Packet(p, header))
                    if self.probe.is_some()
                        && p.ptype == eio::PacketType::Pong
                        && p.data == Data::Text("probe".into()) =>
                {
                    if let (Some(h), Some(probe)) = (header, &self.probe) {
                        self.observer.trace(
                            &At {
                                addrs: probe.addrs.as_ref(),
                                sock: Some(probe.stream.as_fd()),
                            },
                            Traced::Carried {
                                dir: Direction::Received,
                                packets: std::slice::from_ref(&p),
                                carrier: trace::ws_layer(&h),
                                polling: false,
                            },
                        )?;
                    }
                    self.probe_answered();
                }
                Ok(Input::PollStopped) => {
                    if self.finish_upgrade()? {
                        self.observer.report(Report::Upgraded)?;
                    }
                }
                Ok(Input::Packet(p, header)) => {
                    if let Some(h) = header {
                        self.observer.trace(
                            &At {
                                addrs: self.addrs.as_ref(),
                                sock: self.websocket().map(|s| s.as_fd()),
                            },
                            Traced::Carried {
                                dir: Direction::Received,
                                packets: std::slice::from_ref(&p),
                                carrier: trace::ws_layer(&h),
                                polling: false,
                            },
                        )?;
                    }
                    client.receive(p, now);
                }
                Ok(Input::Polled(packets, layer, lent)) => {
                    self.observer.trace(
                        &At {
                            addrs: self.addrs.as_ref(),
                            sock: lent.as_ref().map(|s| s.as_fd()),
                        },
                        Traced::Carried {
                            dir: Direction::Received,
                            packets: &packets,
                            carrier: layer,
                            polling: true,
                        },
                    )?;
                    for p in packets {
                        client.receive(p, now);
                    }
                }
                Ok(Input::Control(f)) => self.write_frame(f)?,
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
                        if self.upgrade && h.upgrades.iter().any(|u| u == "websocket") {
                            self.start_upgrade()?;
                        }
                        self.observer.report(Report::Open(&h))?;
                    }
                    ClientEvent::Connected { sid } => {
                        self.observer.report(Report::Connected { sid: &sid })?;
                        if !emitted {
                            emitted = true;
                            for (name, eargs, bins) in &opts.emits {
                                let id = client.emit(name, eargs.clone(), bins, opts.ack);
                                self.observer.report(Report::Emitted {
                                    name,
                                    args: eargs,
                                    attachments: bins,
                                    ack: id,
                                })?;
                            }
                            deadline = now + Duration::from_millis(opts.wait_ms);
                        }
                    }
                    ClientEvent::ConnectError(v) => {
                        self.observer.report(Report::ConnectError(&v))?;
                        outcome = Some(Err(anyhow::anyhow!(
                            "the server refused namespace {}: {}",
                            opts.namespace,
                            v.get("message").and_then(Value::as_str).unwrap_or("?")
                        )));
                    }
                    ClientEvent::Event {
                        name,
                        args: eargs,
                        attachments,
                        ack,
                    } => self.observer.report(Report::Event {
                        name: &name,
                        args: &eargs,
                        attachments: &attachments,
                        ack,
                    })?,
                    ClientEvent::Ack {
                        id,
                        event,
                        args: aargs,
                        attachments,
                    } => self.observer.report(Report::Ack {
                        id,
                        event: &event,
                        args: &aargs,
                        attachments: &attachments,
                    })?,
                    ClientEvent::Disconnected => {
                        self.observer.report(Report::Disconnected)?;
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
            let sent = self.send(client.take_output());
            if outcome.is_some() {
                // The session is over: a last packet (our close) may find the door shut.
                break;
            }
            sent?;
            let acked = emitted && opts.ack && client.pending_acks() == 0;
            // With Via::Auto, an upgrade under way is seen through before leaving.
            let settled = self.probe.is_none();
            if !opts.listen && settled && (acked || (emitted && opts.emits.is_empty() && !opts.ack))
            {
                client.disconnect();
                // Leaving: the server may close before answering our close packet.
                let _ = self.send(client.take_output());
                outcome = Some(Ok(()));
            } else if !opts.listen && Instant::now() >= deadline {
                if !emitted {
                    outcome = Some(Err(anyhow::anyhow!(
                        "no connection to namespace {} within {} s",
                        opts.namespace,
                        HEAD_TIMEOUT.as_secs()
                    )));
                } else if opts.ack && client.pending_acks() > 0 {
                    outcome = Some(Err(anyhow::anyhow!(
                        "{} emit(s) not acknowledged within {} ms",
                        client.pending_acks(),
                        opts.wait_ms
                    )));
                } else {
                    client.disconnect();
                    let _ = self.send(client.take_output());
                    outcome = Some(Ok(()));
                }
            } else if opts.listen && emitted {
                deadline = Instant::now() + Duration::from_secs(3600);
            }
        }
        Ok(outcome.unwrap_or(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("http://127.0.0.1:3000").unwrap();
        assert_eq!(
            u,
            Url {
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
}
