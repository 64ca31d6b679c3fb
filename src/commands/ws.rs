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

use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::{WsCommand, WsConnectArgs, WsServeArgs};
use crate::net::conn_watch::WhyNot;
use crate::net::event_loop::{self, Refusal};
use crate::net::http::{Upgraded, websocket_upgrade};
use crate::random::Rng;
use crate::render::websocket::{
    describe, describe_close, describe_message, frame_line as frame_text, trace_line,
};
use crate::render::{Output, Paint};
use crate::trace::onion::Watched;
use crate::trace::{ConnAddrs, Direction, LowerLayers, UnitInfo};
use crate::wire::http;
use crate::wire::websocket::{self as wsw, Frame, FrameHeader, OpCode, Role};
use crate::ws::server::{self, At, Config, Mode, Observer, Report};
use crate::ws::{Action, Session};

/// How long to wait for the peer's close frame after sending ours.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest message `netlab ws connect` accepts.
const CLIENT_MAX_MESSAGE: usize = 64 * 1024 * 1024;

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
// Server: arguments in, lines out. The server itself is `ws::server`, on the event loop.
// ---------------------------------------------------------------------------------------

fn serve(args: &WsServeArgs, out: &Output) -> Result<()> {
    // As servers do: the soft open-file limit up to the hard one; a connection is one
    // descriptor, so the default connection limit follows from it.
    let (files, _) = event_loop::raise_open_file_limit();
    let max_connections = args
        .max_connections
        .unwrap_or_else(|| event_loop::connections_for(files));
    let listener =
        TcpListener::bind(args.addr).with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    // Started before the first accept, so it sees every connection's SYN.
    let watched = args
        .trace
        .then(|| Arc::new(Watched::start(addr, out.style)));
    let loops = event_loop::default_loops();
    let cfg = Config {
        mode: if args.chat { Mode::Chat } else { Mode::Echo },
        origins: args.origin.clone(),
        protocols: args.protocol.clone(),
        max_message: args.max_message,
        max_backlog: args.max_backlog,
        max_connections,
        loops,
    };
    let mode = if args.chat { "chat" } else { "echo" };
    out.line(format_args!(
        "netlab ws serve: listening on ws://{addr}/ ({mode}) — open http://{addr}/ in a browser"
    ))?;
    out.line(format_args!(
        "netlab ws serve: {loops} event loop{}, up to {max_connections} connections at once ({}open-file limit {files})",
        if loops == 1 { "" } else { "s" },
        if args.max_connections.is_some() {
            "--max-connections; "
        } else {
            "from the "
        }
    ))?;
    let fit = event_loop::connections_for(files);
    if max_connections > fit {
        out.warn(format_args!(
            "--max-connections {max_connections} is above what the open-file limit ({files}) allows: \
             beyond about {fit} connections new ones are refused (503) for want of descriptors"
        ));
    }
    if let Some(w) = &watched {
        out.line(w.banner())?;
    }
    let printer = Arc::new(Printer {
        out: out.clone(),
        quiet: args.quiet,
        lower: watched.map(|w| -> Arc<dyn LowerLayers> { w }),
        max_connections,
    });
    server::serve(listener, cfg, printer)?;
    Ok(())
}

/// The server's observer: one line per connection event; with `--trace` each frame
/// and, under it, the layers below (the trace's hook, lent the socket).
struct Printer {
    out: Output,
    quiet: bool,
    lower: Option<Arc<dyn LowerLayers>>,
    max_connections: usize,
}

impl Printer {
    fn below(&self, at: &At<'_>, prefix: &str, dir: Direction, h: &FrameHeader) -> io::Result<()> {
        let (Some(lower), Some(conn)) = (&self.lower, &at.addrs) else {
            return Ok(());
        };
        let unit = UnitInfo {
            name: "WebSocket frame",
            len: h.header_len() + h.payload_len as usize,
            header_len: h.header_len(),
        };
        let text = lower.describe(conn, at.sock, dir, unit);
        self.out.lines(prefix, &text)
    }
}

impl Observer for Printer {
    fn messages(&self) -> bool {
        !self.quiet
    }

    fn tracing(&self) -> bool {
        self.lower.is_some()
    }

    fn report(&self, at: &At<'_>, report: Report<'_>) -> io::Result<()> {
        let out = &self.out;
        let who = who(out, &at.peer.to_string());
        match report {
            Report::BadHead { error, status } => {
                out.line(format_args!("{who}bad request head: {error} → {status}"))
            }
            Report::HeadTimeout => out.line(format_args!(
                "{who}no complete request head within {} s: closing",
                server::HEAD_TIMEOUT.as_secs()
            )),
            Report::Plain {
                method,
                target,
                status,
            } => out.line(format_args!(
                "{who}{method} {target} (plain HTTP) → {status}"
            )),
            Report::BadHandshake { error, status } => {
                out.line(format_args!("{who}bad handshake: {error} → {status}"))
            }
            Report::OriginRefused { origin } => out.line(format_args!(
                "{who}Origin {:?} is not allowed → 403",
                origin.unwrap_or("(none)")
            )),
            Report::Open {
                target,
                protocol,
                declined,
            } => out.line(format_args!(
                "{who}open: GET {target} → 101 (subprotocol: {}{})",
                protocol.unwrap_or("none"),
                if declined.is_empty() {
                    String::new()
                } else {
                    format!("; extensions declined: {}", declined.join(", "))
                }
            )),
            Report::Traced { written, unparsed } => {
                if let (Some(lower), Some(conn), Some(sock)) = (&self.lower, &at.addrs, at.sock) {
                    lower.opened(conn, sock, written as u64, unparsed);
                }
                Ok(())
            }
            Report::FrameIn { header, preview } => {
                out.line(format_args!(
                    "{who}{}",
                    frame_line(out, false, &trace_line("←", header, preview))
                ))?;
                self.below(at, &who, Direction::Received, header)
            }
            Report::FrameOut { header, preview } => {
                out.line(format_args!(
                    "{who}{}",
                    frame_line(out, true, &trace_line("→", header, preview))
                ))?;
                self.below(at, &who, Direction::Sent, header)
            }
            Report::Message { opcode, payload } => out.line(format_args!(
                "{who}{} {}",
                arrow(out, false),
                describe(opcode, payload)
            )),
            Report::Closed { code, reason } => out.line(format_args!(
                "{who}closed: {}",
                describe_close(code, reason)
            )),
            Report::Failed { close_code, why } => {
                let text = format!(
                    "protocol error: {why} → close {close_code} ({}), dropping the connection",
                    wsw::close_code_name(close_code)
                );
                out.line(format_args!("{who}{}", out.paint(Paint::ERROR, &text)))
            }
            Report::SlowReader { backlog, cap } => {
                let text = format!(
                    "slow reader: {backlog} bytes still unread and more to send (cap {cap}, --max-backlog) → close 1008 (Policy Violation)"
                );
                out.line(format_args!("{who}{}", out.paint(Paint::ERROR, &text)))
            }
            Report::Broken { error } => out.line(format_args!("{who}connection failed: {error}")),
            Report::Gone => {
                if let (Some(lower), Some(conn)) = (&self.lower, &at.addrs) {
                    lower.closed(conn);
                }
                Ok(())
            }
        }
    }

    fn refused(&self, why: Refusal, count: u64) {
        let text = format!(
            "netlab ws serve: {count} connection{} turned away: {}",
            if count == 1 { "" } else { "s" },
            why.describe()
        );
        if why == Refusal::Full {
            // A closed output is seen by the next report.
            let _ = self.out.line(format_args!(
                "{text} (at most {} at once)",
                self.max_connections
            ));
        } else {
            self.out.warn(text);
        }
    }
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
