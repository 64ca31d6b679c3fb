//! The WebSocket client of `netlab ws connect`: a `ws://` URL, the TCP connection, the
//! opening handshake ([`crate::net::http::websocket_upgrade`], RFC 6455 § 4.1), then a
//! [`Session`] turning the server's bytes into messages while the client sends its own,
//! and the closing handshake (§ 7.1.2).
//!
//! Blocking `std::net`, easy to follow: one thread reads the socket, one (interactive)
//! reads the lines to send, and both feed a channel the main loop waits on — one
//! connection does not need an event loop.
//!
//! Nothing here prints: what happens is reported to an [`Observer`] (the command's
//! printer: one line per message, and with `--trace` each frame and the layers below it,
//! through the trace's `LowerLayers` hook, lent the socket).
//!
//! Imports: [`super`] (the session), [`crate::net::http`], [`crate::wire`],
//! [`crate::random`] and the trace's hook types.

use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use super::{Action, Session, State};
use crate::net::http::{Upgraded, websocket_upgrade};
use crate::random::Rng;
use crate::trace::ConnAddrs;
use crate::wire::http;
use crate::wire::websocket::{self as wsw, Frame, FrameHeader, Message, Role};

/// How long to wait for the peer's close frame after sending ours.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest message the client accepts.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// A `ws://` URL's parts: host as written (brackets kept for IPv6), port, target.
#[derive(Debug, PartialEq, Eq)]
pub struct WsUrl {
    pub host: String,
    pub port: u16,
    pub target: String,
}

impl WsUrl {
    /// Where to connect: the host without IPv6 brackets, and the port.
    pub fn addr(&self) -> (&str, u16) {
        (self.host.trim_matches(['[', ']']), self.port)
    }
}

pub fn parse_url(url: &str) -> Result<WsUrl> {
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

/// What the client does once connected.
pub struct Options {
    /// Subprotocols offered, in order of preference.
    pub protocols: Vec<String>,
    /// Messages sent right after the handshake, in order.
    pub messages: Vec<Frame>,
    /// Interactive: each line read is sent as a text message; at its end the client
    /// closes. Without it, the client waits up to `wait` for as many messages as it
    /// sent (with none sent, until the server closes), then closes.
    pub lines: Option<Box<dyn BufRead + Send>>,
    /// Send every received message back.
    pub echo: bool,
    /// How long to wait for the replies to `messages`.
    pub wait: Duration,
}

/// The connection a report is about: its addresses (when tracing, and known) and its
/// socket, lent for the call (the trace reads `TCP_INFO`).
pub struct At<'a> {
    pub addrs: Option<&'a ConnAddrs>,
    pub sock: BorrowedFd<'a>,
}

/// What the client reports, in order.
#[derive(Debug)]
pub enum Report<'a> {
    /// The `101` arrived: the WebSocket is open.
    Connected {
        peer: SocketAddr,
        target: &'a str,
        protocol: Option<&'a str>,
    },
    /// (Tracing) the connection's frames are traced from now: `written` bytes went out
    /// before the first frame (our request), `unparsed` were read but not yet parsed.
    Traced {
        written: usize,
        unparsed: usize,
    },
    /// (Tracing) a frame is about to be written.
    Sending {
        frame: &'a Frame,
    },
    /// A frame was written; `auto` when the session wrote it on its own (a pong, the
    /// echo of the server's close, the close a failure sends).
    Sent {
        frame: &'a Frame,
        auto: bool,
    },
    /// (Tracing) a frame arrived.
    FrameIn {
        header: &'a FrameHeader,
        preview: &'a [u8],
    },
    Message(&'a Message),
    /// A ping arrived (the session answers it with a pong).
    Ping {
        len: usize,
    },
    Pong {
        len: usize,
    },
    /// The closing handshake is over (or the connection ended without it: 1006).
    Closed {
        code: Option<u16>,
        reason: &'a str,
    },
    /// Our close frame got no answer within [`CLOSE_TIMEOUT`].
    NoCloseFrame,
    /// The connection is shut down.
    Gone,
}

/// Who hears what the client does.
pub trait Observer {
    /// Whether to report each frame ([`Report::Sending`], [`Report::FrameIn`]) and the
    /// connection's addresses.
    fn tracing(&self) -> bool;
    fn report(&mut self, at: &At<'_>, report: Report<'_>) -> io::Result<()>;
}

/// What the client's main loop waits for.
enum Input {
    Net(Vec<u8>),
    NetEof,
    NetError(io::Error),
    Line(String),
    StdinEof,
}

struct Client<'o, O: Observer> {
    observer: &'o mut O,
    stream: TcpStream,
    session: Session,
    trace: bool,
    /// `--trace`: the connection's addresses.
    addrs: Option<ConnAddrs>,
    /// Send every received message back (`--echo`).
    echo: bool,
    received: usize,
    /// How the session ended: the closing handshake, or Err with why it broke.
    ended: Option<Result<Ending>>,
}

impl<O: Observer> Client<'_, O> {
    fn report(&mut self, report: Report<'_>) -> io::Result<()> {
        let at = At {
            addrs: self.addrs.as_ref(),
            sock: self.stream.as_fd(),
        };
        self.observer.report(&at, report)
    }

    fn write(&mut self, frame: Frame, auto: bool) -> Result<()> {
        if self.trace {
            self.report(Report::Sending { frame: &frame })?;
        }
        self.stream
            .write_all(&frame.encode())
            .context("cannot write to the connection")?;
        self.report(Report::Sent {
            frame: &frame,
            auto,
        })?;
        Ok(())
    }

    fn send(&mut self, frame: Frame) -> Result<()> {
        if let Some(f) = self.session.send(frame) {
            self.write(f, false)?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some(f) = self.session.close(wsw::close_code::NORMAL, "") {
            self.write(f, false)?;
        }
        Ok(())
    }

    fn react(&mut self, actions: Vec<Action>) -> Result<()> {
        for a in actions {
            match a {
                Action::Send(f) => self.write(f, true)?,
                Action::Received { header, preview } => {
                    if self.trace {
                        self.report(Report::FrameIn {
                            header: &header,
                            preview: &preview,
                        })?;
                    }
                }
                Action::Message(m) => {
                    self.received += 1;
                    self.report(Report::Message(&m))?;
                    if self.echo {
                        self.send(m.to_frame())?;
                    }
                }
                Action::Ping(d) => self.report(Report::Ping { len: d.len() })?,
                Action::Pong(d) => self.report(Report::Pong { len: d.len() })?,
                Action::Closed {
                    code,
                    reason,
                    by_peer,
                } => {
                    self.report(Report::Closed {
                        code,
                        reason: &reason,
                    })?;
                    let clean = matches!(
                        code,
                        None | Some(wsw::close_code::NORMAL | wsw::close_code::GOING_AWAY)
                    );
                    self.ended = Some(Ok(if clean || !by_peer {
                        Ending::Clean
                    } else {
                        Ending::ClosedByServer { code, reason }
                    }));
                }
                Action::Failed { close_code, why } => {
                    self.ended = Some(Err(anyhow!(
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
                if self.session.state() == State::Closing {
                    // We sent a close; a server may just close the TCP connection.
                    self.ended.get_or_insert(Ok(Ending::Clean));
                } else if let Some(a) = self.session.eof() {
                    self.react(vec![a])?;
                }
                self.ended
                    .get_or_insert_with(|| Err(anyhow!("the connection closed")));
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

/// How a connection's closing handshake ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// Cleanly: 1000, 1001, no code, or we closed first (or the server never answered
    /// our close).
    Clean,
    /// The server closed first, with a code saying something went wrong.
    ClosedByServer { code: Option<u16>, reason: String },
}

/// Connects to `url`, does what `opts` say and closes: how the closing handshake
/// ended, or Err when the connection broke (a broken protocol, a lost connection).
pub fn connect<O: Observer>(url: &WsUrl, opts: Options, observer: &mut O) -> Result<Ending> {
    let mut stream = TcpStream::connect(url.addr())
        .with_context(|| format!("cannot connect to {}:{}", url.host, url.port))?;
    let _ = stream.set_nodelay(true);
    let peer: SocketAddr = stream.peer_addr()?;
    let host = http::host_header(&url.host, url.port, 80);
    let mut rng = Rng::os();
    let protocols: Vec<&str> = opts.protocols.iter().map(String::as_str).collect();
    let Upgraded {
        agreed,
        leftover,
        request_len,
        ..
    } = websocket_upgrade(&mut stream, &host, &url.target, &protocols, rng.nonce())?;
    observer.report(
        &At {
            addrs: None,
            sock: stream.as_fd(),
        },
        Report::Connected {
            peer,
            target: &url.target,
            protocol: agreed.protocol.as_deref(),
        },
    )?;
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
    let interactive = opts.lines.is_some();
    if let Some(lines) = opts.lines {
        let lines_tx = tx.clone();
        thread::spawn(move || {
            for line in lines.lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(Input::Line(line)).is_err() {
                    return;
                }
            }
            let _ = lines_tx.send(Input::StdinEof);
        });
    }
    drop(tx);

    let trace = observer.tracing();
    let addrs = if trace { ConnAddrs::of(&stream) } else { None };
    let mut client = Client {
        observer,
        stream,
        session: Session::new(Role::Client, MAX_MESSAGE, rng),
        trace,
        addrs,
        echo: opts.echo,
        received: 0,
        ended: None,
    };
    if client.addrs.is_some() {
        client.report(Report::Traced {
            written: request_len,
            unparsed: leftover.len(),
        })?;
    }
    let actions = client.session.receive(&leftover);
    client.react(actions)?;

    let sent = opts.messages.len();
    for frame in opts.messages {
        client.send(frame)?;
    }

    if interactive {
        // Until the lines end (then we close) or the server closes.
        while client.ended.is_none() && client.session.state() == State::Open {
            match rx.recv() {
                Ok(i) => client.input(i)?,
                Err(_) => break,
            }
        }
    } else {
        // Replies to what was sent, for at most `wait`; with nothing sent, listen
        // until the server closes.
        let deadline = Instant::now() + opts.wait;
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
                client.report(Report::NoCloseFrame)?;
                break;
            }
        }
    }
    let _ = client.stream.shutdown(Shutdown::Both);
    if client.addrs.is_some() {
        client.report(Report::Gone)?;
    }
    client.ended.unwrap_or(Ok(Ending::Clean))
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
        assert_eq!(parse_url("ws://[::1]/").unwrap().addr(), ("::1", 80));
        let e = parse_url("wss://ws.netlab.test/").unwrap_err().to_string();
        assert!(e.contains("TLS is not supported"), "{e}");
        assert!(parse_url("http://x/").is_err());
        assert!(parse_url("ws://x:99999/").is_err());
    }
}
