//! `netlab socketio serve`, `connect` and `demo`: arguments and printing.
//!
//! The server is [`crate::socketio::server`] on the event loop; here it gets its settings
//! (the connection limit from the open-file limit) and a [`Printer`] for what it
//! reports. The client (`connect`, the demo's client) still runs on blocking sockets
//! and threads around [`crate::socketio::client::Client`].
//!
//! `--trace` goes through [`Tracer`]; see its docs for where the TCP/IP/link layers plug in.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::cli::{SioConnectArgs, SioDemoArgs, SioServeArgs, SioTransport, SocketioCommand};
use crate::net::event_loop::{self, Refusal};
use crate::net::http::{HEAD_TIMEOUT, read_body, read_response, websocket_upgrade};
use crate::net::sandbox::{self, Identity};
use crate::random::Rng;
use crate::render::{Output, Paint, onion as view};
use crate::socketio::client::{Client, ClientEvent, State as ClientState};
use crate::socketio::server::{self, Config as ServerConfig, Observer, PATH, Report};
use crate::socketio::trace;
use crate::socketio::{Config, Note, Transport};
use crate::trace::onion::{SocketOnly, Watched};
use crate::trace::{ConnAddrs, Direction, Layer, LowerLayers, UnitInfo};
use crate::wire::engineio::{self as eio, Data};
use crate::wire::http::{self, Request, Response};
use crate::wire::socketio as sio;
use crate::wire::websocket::{self as wsw, Frame, FrameHeader, Message, Role};
use crate::ws::{Action, Session};

/// A line on `out` ([`Output::line`]): its `io::Result` is the caller's to pass up.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        $out.line(format_args!($($arg)*))
    };
}

pub fn run(cmd: &SocketioCommand, out: &Output) -> Result<()> {
    match cmd {
        SocketioCommand::Serve(args) => serve(args, out),
        SocketioCommand::Connect(args) => connect(args, out),
        SocketioCommand::Demo(args) => demo(args, out),
    }
}

// ---------------------------------------------------------------------------------------
// Trace: the onion.
// ---------------------------------------------------------------------------------------

/// `--trace`: each message at every layer, nested under the call that made it
/// (`render::onion::carried`), with the TCP, IP and link layers from the trace's hook
/// ([`LowerLayers`]): a packet watch on lo, or `TCP_INFO` without CAP_NET_RAW
/// ([`Watched`]), or only what a socket knows ([`SocketOnly`]).
pub struct Tracer {
    enabled: bool,
    out: Output,
    lower: Arc<dyn LowerLayers>,
}

impl Tracer {
    /// `endpoint`: the server's address; the watch starts now, before the connections,
    /// to see their SYNs. Prints which view of the lower layers the trace shows.
    fn new(enabled: bool, endpoint: Option<SocketAddr>, out: &Output) -> io::Result<Tracer> {
        let lower: Arc<dyn LowerLayers> = match endpoint {
            Some(endpoint) if enabled => {
                let watched = Watched::start(endpoint, out.style);
                out.line(watched.banner())?;
                Arc::new(watched)
            }
            _ => Arc::new(SocketOnly),
        };
        Ok(Tracer {
            enabled,
            out: out.clone(),
            lower,
        })
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The HTTP request that turned the connection into a WebSocket, and its 101.
    fn upgrade(
        &self,
        conn: Option<&ConnAddrs>,
        target: &str,
        request_len: usize,
        response_len: usize,
    ) -> io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        self.out.print(view::upgraded(
            conn,
            target,
            request_len,
            response_len,
            self.out.style,
        ))
    }

    /// One carrier (a frame, an HTTP message) with the Engine.IO packets inside it, just
    /// written (`Sent`) or read on the connection whose socket is `sock`.
    fn carried(
        &self,
        conn: Option<&ConnAddrs>,
        sock: Option<BorrowedFd<'_>>,
        dir: Direction,
        packets: &[eio::Packet],
        carrier: Layer,
        polling: bool,
    ) -> io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let calls: Vec<view::Call> = packets
            .iter()
            .map(|p| view::Call {
                call: trace::call(p),
                layers: trace::upper_layers(p, polling),
            })
            .collect();
        let below = match conn {
            Some(c) => {
                let unit = UnitInfo {
                    name: if carrier.name == "WebSocket" {
                        "WebSocket frame"
                    } else {
                        "HTTP message"
                    },
                    len: carrier.total,
                    header_len: carrier.overhead,
                };
                self.lower.describe(c, sock, dir, unit)
            }
            None => String::new(),
        };
        self.out.print(view::carried(
            conn,
            dir,
            &calls,
            &carrier,
            &below,
            self.out.style,
        ))
    }

    /// The connection is over: the hook may forget it.
    fn closed(&self, conn: Option<&ConnAddrs>) {
        if let Some(c) = conn {
            self.lower.closed(c);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Server: `socketio::server` on the event loop; here only what it reports, printed.
// ---------------------------------------------------------------------------------------

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

/// Prints what the server reports: a line per session event (`--quiet`: not per
/// message), the `--trace` onion, refusals as warnings. `silent`: nothing but the trace
/// (the demo's server).
struct Printer {
    out: Output,
    tracer: Tracer,
    quiet: bool,
    silent: bool,
}

impl Observer for Printer {
    fn tracing(&self) -> bool {
        self.tracer.enabled()
    }

    fn report(&self, at: &server::At<'_>, report: Report<'_>) -> io::Result<()> {
        let peer = at.peer;
        match report {
            Report::Upgrade {
                target,
                request_len,
                response_len,
            } => {
                return self
                    .tracer
                    .upgrade(at.addrs, target, request_len, response_len);
            }
            Report::Carried {
                dir,
                packets,
                carrier,
                polling,
            } => {
                return self
                    .tracer
                    .carried(at.addrs, at.sock, dir, packets, carrier, polling);
            }
            Report::Gone => {
                self.tracer.closed(at.addrs);
                return Ok(());
            }
            _ => {}
        }
        if self.silent {
            return Ok(());
        }
        match report {
            Report::Note(n) => match note_line(n, self.quiet) {
                Some(line) => say!(self.out, "{line}"),
                None => Ok(()),
            },
            Report::BadHead { error, status } => {
                say!(self.out, "[{peer}] bad request head: {error} → {status}")
            }
            Report::Refused {
                method,
                target,
                code,
            } => say!(
                self.out,
                "[{peer}] {method} {target} → {} {}",
                code.status(),
                code.json()
            ),
            Report::BadPayload { error } => say!(self.out, "[{peer}] bad polling payload: {error}"),
            Report::BadPacket { sid, error } => {
                say!(self.out, "[{}] bad Engine.IO packet: {error}", short(sid))
            }
            Report::SlowReader { sid, queued } => say!(
                self.out,
                "[{}] {}",
                short(sid),
                self.out.paint(
                    Paint::ERROR,
                    &format!("slow reader: {queued} bytes unsent, over the cap: closed (1008)")
                )
            ),
            Report::Upgrade { .. } | Report::Carried { .. } | Report::Gone => Ok(()),
        }
    }

    fn refused(&self, why: Refusal, count: u64) {
        if !self.silent {
            self.out.warn(format_args!(
                "socketio serve: {count} connection(s): {}",
                why.describe()
            ));
        }
    }
}

/// The server's settings from the arguments; `max_connections`: the limit to use.
fn server_config(args: &SioServeArgs, max_connections: usize) -> Result<ServerConfig> {
    if args.ping_interval == 0 || args.ping_timeout == 0 {
        bail!("--ping-interval and --ping-timeout must be at least 1 ms");
    }
    let max_payload = args.max_payload.max(1);
    Ok(ServerConfig {
        engine: Config {
            ping_interval: Duration::from_millis(args.ping_interval),
            ping_timeout: Duration::from_millis(args.ping_timeout),
            max_payload,
            auth_token: args.auth_token.clone(),
            max_queue: crate::socketio::default_max_queue(max_payload),
        },
        max_connections,
        loops: event_loop::default_loops(),
        max_queue: crate::socketio::default_max_queue(max_payload),
    })
}

fn serve(args: &SioServeArgs, out: &Output) -> Result<()> {
    // As servers do: the soft open-file limit up to the hard one; a connection is one
    // descriptor.
    let (files, _) = event_loop::raise_open_file_limit();
    let max = args
        .max_connections
        .unwrap_or_else(|| event_loop::connections_for(files));
    let cfg = server_config(args, max)?;
    let listener =
        TcpListener::bind(args.addr).with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    let printer = Printer {
        out: out.clone(),
        tracer: Tracer::new(args.trace, Some(addr), out)?,
        quiet: args.quiet,
        silent: false,
    };
    say!(
        out,
        "netlab socketio serve: listening on http://{addr}{PATH} (Engine.IO 4, Socket.IO 5) — open http://{addr}/ in a browser; up to {max} connections (open-file limit {files}), {} event loops",
        cfg.loops
    )?;
    server::serve(listener, cfg, Arc::new(printer))?;
    Ok(())
}

/// `netlab socketio demo`: a server on 127.0.0.1 and a client in one process; the
/// client's `--trace` shows one emit and its ack at every layer.
fn demo(args: &SioDemoArgs, out: &Output) -> Result<()> {
    // First, while netlab has one thread: a private namespace with only lo, where the
    // packet watch needs no privilege on the host (a user namespace makes it ours).
    let private = match sandbox::private_lo(Identity::Caller) {
        Ok(_) => true,
        Err(e) => {
            out.status(format_args!(
                "netlab: note: {}; the demo runs on this machine's lo instead",
                e.explain("socketio demo", false)
            ));
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
        max_connections: Some(16),
    };
    let mut cfg = server_config(&serve_args, 16)?;
    cfg.loops = 1;
    let printer = Printer {
        out: out.clone(),
        tracer: Tracer::new(false, None, out)?,
        quiet: true,
        silent: true,
    };
    thread::Builder::new()
        .name("server".into())
        .spawn(move || server::serve(listener, cfg, Arc::new(printer)))?;
    say!(
        out,
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
    )?;
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
    run_client(
        &client_args,
        &parse_url(&client_args.url)?,
        None,
        emits,
        out,
    )
}

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
    /// A polling GET's packets, with the HTTP layer that carried them and, with
    /// `--trace`, the GET connection lent for the kernel's view (a handle of its own,
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
                        Some(stream.as_fd()),
                        Direction::Sent,
                        std::slice::from_ref(p),
                        trace::ws_layer(&h),
                        false,
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
                self.tracer.carried(
                    addrs.as_ref(),
                    Some(stream.as_fd()),
                    Direction::Sent,
                    &packets,
                    trace::http_layer(
                        &format!("POST {}", req.target),
                        head_len,
                        body.len(),
                        packets.len(),
                    ),
                    true,
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
        self.tracer.closed(self.addrs.as_ref());
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
    let mut rng = Rng::os();
    let up = websocket_upgrade(&mut stream, &url.host_header(), target, &[], rng.nonce())?;
    let leftover = up.leftover;
    if tracer.enabled() {
        tracer.upgrade(
            addrs.as_ref(),
            target,
            up.request_len,
            up.response.to_bytes().len(),
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
    let trace = tracer.enabled();
    let _ = tx.send(Input::Polled(packets, layer, lend(&stream, trace)));
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

/// With `--trace`, a handle of `stream`'s own to lend the tracer (see
/// [`Input::Polled`]).
fn lend(stream: &TcpStream, trace: bool) -> Option<TcpStream> {
    trace.then(|| stream.try_clone().ok()).flatten()
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
            Some(probe.stream.as_fd()),
            Direction::Sent,
            std::slice::from_ref(&p),
            trace::ws_layer(&frame.header()),
            false,
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

fn connect(args: &SioConnectArgs, out: &Output) -> Result<()> {
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
    run_client(args, &url, auth, emits, out)
}

/// One emit: event name, arguments (placeholders name the attachments), attachments.
type Emit = (String, Vec<Value>, Vec<Vec<u8>>);

fn run_client(
    args: &SioConnectArgs,
    url: &SioUrl,
    auth: Option<Value>,
    emits: Vec<Emit>,
    out: &Output,
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
        Tracer::new(args.trace, endpoint, out)?,
    )?;
    let mut client = Client::new(&args.namespace, auth);
    if args.ignore_pings {
        client.ignore_pings();
        say!(out, "not answering the server's pings (--ignore-pings)")?;
    }
    let transport = match args.transport {
        SioTransport::Websocket => "websocket",
        SioTransport::Polling => "polling",
        SioTransport::Auto => "polling (upgrading to websocket)",
    };
    let (sent, back) = (
        view::arrow(Direction::Sent, out.style),
        view::arrow(Direction::Received, out.style),
    );
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
                        Some(probe.stream.as_fd()),
                        Direction::Received,
                        std::slice::from_ref(&p),
                        trace::ws_layer(&h),
                        false,
                    )?;
                }
                conn.probe_answered();
            }
            Ok(Input::PollStopped) => {
                if conn.finish_upgrade()? {
                    say!(out, "upgraded to websocket (2probe, 3probe, then 5)")?;
                }
            }
            Ok(Input::Packet(p, header)) => {
                if let Some(h) = header {
                    conn.tracer.carried(
                        conn.addrs.as_ref(),
                        conn.websocket().map(|s| s.as_fd()),
                        Direction::Received,
                        std::slice::from_ref(&p),
                        trace::ws_layer(&h),
                        false,
                    )?;
                }
                client.receive(p, now);
            }
            Ok(Input::Polled(packets, layer, lent)) => {
                conn.tracer.carried(
                    conn.addrs.as_ref(),
                    lent.as_ref().map(|s| s.as_fd()),
                    Direction::Received,
                    &packets,
                    layer,
                    true,
                )?;
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
                            out,
                            "Engine.IO session {} (pingInterval {} ms, pingTimeout {} ms, maxPayload {})",
                            h.sid,
                            h.ping_interval,
                            h.ping_timeout,
                            h.max_payload
                        )?;
                    }
                }
                ClientEvent::Connected { sid } => {
                    say!(
                        out,
                        "connected to http://{}{} namespace {} over {transport} (socket id {sid})",
                        url.host_header(),
                        url.path,
                        args.namespace
                    )?;
                    if !emitted {
                        emitted = true;
                        for (name, eargs, bins) in &emits {
                            let id = client.emit(name, eargs.clone(), bins, args.ack);
                            say!(
                                out,
                                "{sent} emit {}{}",
                                show_event(name, eargs, bins),
                                id.map_or(String::new(), |i| format!(" (ack id {i})"))
                            )?;
                        }
                        deadline = now + Duration::from_millis(args.wait);
                    }
                }
                ClientEvent::ConnectError(v) => {
                    say!(out, "{back} connect_error {v}")?;
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
                    out,
                    "{back} event {}{}",
                    show_event(&name, &eargs, &attachments),
                    ack.map_or(String::new(), |i| format!(" (acked, id {i})"))
                )?,
                ClientEvent::Ack {
                    id,
                    event,
                    args: aargs,
                    attachments,
                } => say!(
                    out,
                    "{back} ack #{id} for {}: ({})",
                    Value::String(event),
                    sio::show_args(&aargs, &attachments)
                )?,
                ClientEvent::Disconnected => {
                    say!(
                        out,
                        "{back} disconnect: the server closed namespace {}",
                        args.namespace
                    )?;
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
