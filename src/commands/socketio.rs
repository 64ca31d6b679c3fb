//! `netlab socketio serve`, `connect` and `demo`: arguments and printing.
//!
//! The server is [`crate::socketio::server`] on the event loop; here it gets its settings
//! (the connection limit from the open-file limit) and a [`Printer`] for what it
//! reports. The client (`connect`, the demo's client) is [`crate::socketio::connect`]:
//! here its settings from the arguments and a [`ClientPrinter`] for what it reports.
//!
//! `--trace` goes through [`Tracer`]; see its docs for where the TCP/IP/link layers plug in.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cli::{SioConnectArgs, SioDemoArgs, SioServeArgs, SioTransport, SocketioCommand};
use crate::net::event_loop::{self, Refusal};
use crate::net::sandbox::{self, Identity};
use crate::render::{Output, Paint, onion as view};
use crate::socketio::connect::{self as client, Connection, Emit, Options, Url, Via, parse_url};
use crate::socketio::server::{self, Config as ServerConfig, Observer, PATH, Report};
use crate::socketio::trace;
use crate::socketio::{Config, Note};
use crate::trace::onion::{SocketOnly, Watched};
use crate::trace::{ConnAddrs, Direction, Layer, LowerLayers, UnitInfo};
use crate::wire::engineio as eio;
use crate::wire::socketio as sio;

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
// Client: `socketio::connect`; here its settings and what it reports, printed.
// ---------------------------------------------------------------------------------------

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

/// Prints what the client reports: a line per step of the session, the `--trace`
/// onion.
struct ClientPrinter {
    out: Output,
    tracer: Tracer,
    /// `http://HOST:PORTPATH`, for the "connected" line.
    server: String,
    namespace: String,
    /// The transport, as the "connected" line names it.
    transport: &'static str,
}

impl client::Observer for ClientPrinter {
    fn tracing(&self) -> bool {
        self.tracer.enabled()
    }

    fn trace(&self, at: &client::At<'_>, unit: client::Traced<'_>) -> io::Result<()> {
        match unit {
            client::Traced::Upgrade {
                target,
                request_len,
                response_len,
            } => self
                .tracer
                .upgrade(at.addrs, target, request_len, response_len),
            client::Traced::Carried {
                dir,
                packets,
                carrier,
                polling,
            } => self
                .tracer
                .carried(at.addrs, at.sock, dir, packets, carrier, polling),
            client::Traced::Gone => {
                self.tracer.closed(at.addrs);
                Ok(())
            }
        }
    }

    fn report(&self, report: client::Report<'_>) -> io::Result<()> {
        let out = &self.out;
        let (sent, back) = (
            view::arrow(Direction::Sent, out.style),
            view::arrow(Direction::Received, out.style),
        );
        match report {
            client::Report::Upgraded => {
                say!(out, "upgraded to websocket (2probe, 3probe, then 5)")
            }
            client::Report::Open(h) => {
                if !self.tracer.enabled() {
                    return Ok(());
                }
                say!(
                    out,
                    "Engine.IO session {} (pingInterval {} ms, pingTimeout {} ms, maxPayload {})",
                    h.sid,
                    h.ping_interval,
                    h.ping_timeout,
                    h.max_payload
                )
            }
            client::Report::Connected { sid } => say!(
                out,
                "connected to {} namespace {} over {} (socket id {sid})",
                self.server,
                self.namespace,
                self.transport
            ),
            client::Report::Emitted {
                name,
                args,
                attachments,
                ack,
            } => say!(
                out,
                "{sent} emit {}{}",
                show_event(name, args, attachments),
                ack.map_or(String::new(), |i| format!(" (ack id {i})"))
            ),
            client::Report::ConnectError(v) => say!(out, "{back} connect_error {v}"),
            client::Report::Event {
                name,
                args,
                attachments,
                ack,
            } => say!(
                out,
                "{back} event {}{}",
                show_event(name, args, attachments),
                ack.map_or(String::new(), |i| format!(" (acked, id {i})"))
            ),
            client::Report::Ack {
                id,
                event,
                args,
                attachments,
            } => say!(
                out,
                "{back} ack #{id} for {}: ({})",
                Value::String(event.to_string()),
                sio::show_args(args, attachments)
            ),
            client::Report::Disconnected => say!(
                out,
                "{back} disconnect: the server closed namespace {}",
                self.namespace
            ),
        }
    }
}

fn run_client(
    args: &SioConnectArgs,
    url: &Url,
    auth: Option<Value>,
    emits: Vec<Emit>,
    out: &Output,
) -> Result<()> {
    for (name, _, _) in &emits {
        if sio::RESERVED_EVENTS.contains(&name.as_str()) {
            bail!("{name:?} is reserved by Socket.IO and cannot be emitted");
        }
    }
    let (via, transport) = match args.transport {
        SioTransport::Websocket => (Via::WebSocket, "websocket"),
        SioTransport::Polling => (Via::Polling, "polling"),
        SioTransport::Auto => (Via::Auto, "polling (upgrading to websocket)"),
    };
    let printer = ClientPrinter {
        out: out.clone(),
        tracer: Tracer::new(args.trace, url.endpoint(), out)?,
        server: format!("http://{}{}", url.host_header(), url.path),
        namespace: args.namespace.clone(),
        transport,
    };
    let conn = Connection::open(url, via, Box::new(printer))?;
    if args.ignore_pings {
        say!(out, "not answering the server's pings (--ignore-pings)")?;
    }
    conn.run(&Options {
        namespace: args.namespace.clone(),
        auth,
        emits,
        ack: args.ack,
        listen: args.listen,
        wait_ms: args.wait,
        ignore_pings: args.ignore_pings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_arguments() {
        assert_eq!(json_arg("\"hi\""), Value::String("hi".into()));
        assert_eq!(json_arg("hi there"), Value::String("hi there".into()));
        assert_eq!(json_arg("[1,2]"), serde_json::json!([1, 2]));
    }
}
