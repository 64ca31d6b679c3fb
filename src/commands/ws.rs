//! `netlab ws serve` and `netlab ws connect`: arguments in, lines out. The server is
//! [`crate::ws::server`] (on the event loop), the client [`crate::ws::client`]; both
//! report what happens to an observer here, which prints it — with `--trace`, each
//! frame and the layers below it ([`crate::trace::onion`]).

use std::fs;
use std::io::{self, BufRead, BufReader};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use crate::cli::{WsCommand, WsConnectArgs, WsServeArgs};
use crate::net::conn_watch::WhyNot;
use crate::net::event_loop::{self, Refusal};
use crate::render::websocket::{
    describe, describe_close, describe_message, frame_line as frame_text, trace_line,
};
use crate::render::{Output, Paint};
use crate::trace::onion::Watched;
use crate::trace::{Direction, LowerLayers, UnitInfo};
use crate::wire::websocket::{self as wsw, Frame, FrameHeader, OpCode};
use crate::ws::client::{self, Ending};
use crate::ws::server::{self, At, Config, Mode, Observer, Report};

pub fn run(cmd: &WsCommand, out: &Output) -> Result<()> {
    match cmd {
        WsCommand::Serve(args) => serve(args, out),
        WsCommand::Connect(args) => connect(args, out),
    }
}

// ---------------------------------------------------------------------------------------
// Trace lines.
// ---------------------------------------------------------------------------------------

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
// Client: arguments in, lines out. The client itself is `ws::client`.
// ---------------------------------------------------------------------------------------

fn connect(args: &WsConnectArgs, out: &Output) -> Result<()> {
    let url = client::parse_url(&args.url)?;
    let binary = match &args.binary_file {
        Some(path) => {
            Some(fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)
        }
        None => None,
    };
    // `--trace`: watch the server's port on lo before connecting, to see the SYNs.
    let lower: Option<Arc<dyn LowerLayers>> = match args.trace {
        true => {
            let first = std::net::ToSocketAddrs::to_socket_addrs(&url.addr())
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
    let mut messages: Vec<Frame> = args.send.iter().map(|t| Frame::text(t)).collect();
    messages.extend(binary.map(Frame::binary));
    let opts = client::Options {
        protocols: args.protocol.clone(),
        messages,
        lines: args
            .interactive
            .then(|| -> Box<dyn BufRead + Send> { Box::new(BufReader::new(io::stdin())) }),
        echo: args.echo,
        wait: Duration::from_millis(args.wait),
    };
    let mut printer = ClientPrinter {
        out: out.clone(),
        lower,
    };
    match client::connect(&url, opts, &mut printer)? {
        Ending::Clean => Ok(()),
        Ending::ClosedByServer { code, reason } => Err(anyhow!(
            "the server closed the connection: {}",
            describe_close(code, &reason)
        )),
    }
}

/// The client's observer: a line per message; with `--trace` each frame and, under
/// it, the layers below (the trace's hook, lent the socket).
struct ClientPrinter {
    out: Output,
    lower: Option<Arc<dyn LowerLayers>>,
}

impl ClientPrinter {
    /// The layers below a frame of `len` bytes (its header `header_len`) that just
    /// went `dir`.
    fn below(
        &self,
        at: &client::At<'_>,
        dir: Direction,
        header_len: usize,
        len: usize,
    ) -> io::Result<()> {
        let (Some(lower), Some(conn)) = (&self.lower, at.addrs) else {
            return Ok(());
        };
        let unit = UnitInfo {
            name: "WebSocket frame",
            len,
            header_len,
        };
        let text = lower.describe(conn, Some(at.sock), dir, unit);
        self.out.lines("", &text)
    }
}

impl client::Observer for ClientPrinter {
    fn tracing(&self) -> bool {
        self.lower.is_some()
    }

    fn report(&mut self, at: &client::At<'_>, report: client::Report<'_>) -> io::Result<()> {
        use client::Report;
        let out = &self.out;
        match report {
            Report::Connected {
                peer,
                target,
                protocol,
            } => out.line(format_args!(
                "connected to ws://{peer}{target} (101 Switching Protocols, subprotocol: {})",
                protocol.unwrap_or("none")
            )),
            Report::Traced { written, unparsed } => {
                if let (Some(lower), Some(conn)) = (&self.lower, at.addrs) {
                    lower.opened(conn, at.sock, written as u64, unparsed);
                }
                Ok(())
            }
            Report::Sending { frame } => out.line(frame_line(out, true, &frame_text("→", frame))),
            Report::Sent { frame, auto } => {
                self.below(
                    at,
                    Direction::Sent,
                    frame.header().header_len(),
                    frame.encoded_len(),
                )?;
                if !auto || frame.opcode == OpCode::Close {
                    out.line(format_args!(
                        "{} {}",
                        arrow(out, true),
                        describe(frame.opcode, &frame.payload)
                    ))?;
                }
                Ok(())
            }
            Report::FrameIn { header, preview } => {
                out.line(frame_line(out, false, &trace_line("←", header, preview)))?;
                self.below(
                    at,
                    Direction::Received,
                    header.header_len(),
                    header.header_len() + header.payload_len as usize,
                )
            }
            Report::Message(m) => out.line(format_args!(
                "{} {}",
                arrow(out, false),
                describe_message(m)
            )),
            Report::Ping { len } => out.line(format_args!(
                "{} ping {len} bytes (answered with a pong)",
                arrow(out, false)
            )),
            Report::Pong { len } => {
                out.line(format_args!("{} pong {len} bytes", arrow(out, false)))
            }
            Report::Closed { code, reason } => out.line(format_args!(
                "{} {}",
                arrow(out, false),
                describe_close(code, reason)
            )),
            Report::NoCloseFrame => {
                out.warn(format_args!(
                    "no close frame from the server within {} s",
                    client::CLOSE_TIMEOUT.as_secs()
                ));
                Ok(())
            }
            Report::Gone => {
                if let (Some(lower), Some(conn)) = (&self.lower, at.addrs) {
                    lower.closed(conn);
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
