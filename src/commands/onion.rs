//! The lower layers of a `--trace` ("the onion, live"), for any command that speaks over a
//! TCP connection on loopback: after it writes or reads a unit of bytes (a WebSocket
//! frame), [`Onion::sent`] / [`Onion::received`] return the text to print under that
//! unit's trace line: the TCP segment(s), IP header and link header that carried it,
//! watched with a packet socket ([`crate::net::conn_watch`]), dissected with netlab's own
//! dissector and laid out by [`crate::render::onion`]; or, without CAP_NET_RAW, what the
//! socket knows (`TCP_INFO`) and what it cannot see.
//!
//! Use: start a [`LoopbackWatch`] with [`watch`] *before* the connection exists (a
//! client: before `connect`; a server: before `accept`), so the watch sees the SYNs;
//! then [`Onion::new`] per connection once the handshake is done, telling it how many
//! bytes this side wrote (the HTTP request or response) and how many it read but has not
//! traced yet (what followed the peer's HTTP head); then call `sent` / `received` for
//! each unit in stream order.
//! An `Onion` is `Send`; share it behind a mutex when a reader and a writer thread
//! trace the same connection.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::socketio::{self as sio_cmd, ConnAddrs, LowerLayers};
use crate::dissect::{Dissector, Meta, Packet};
use crate::net::conn_watch::{self, ConnWatch, Direction, LoopbackWatch, WhyNot};
use crate::net::tcp_info;
use crate::render::Style;
use crate::render::onion::{self as view, KernelFigures, SegmentView, SocketFacts, Unit};
use crate::wire::{http, websocket as wsw};

/// How long to wait for the watching thread to file the segments of a unit. On lo a
/// written segment passes the packet tap before `write` returns and a read one before
/// the data reaches the socket, so this is only the thread's scheduling delay.
const WAIT: Duration = Duration::from_secs(1);

/// Starts watching `endpoint`'s port on lo, or says why the packets cannot be seen.
pub fn watch(endpoint: SocketAddr) -> Result<LoopbackWatch, WhyNot> {
    LoopbackWatch::start(endpoint)
}

/// One line saying which view of the lower layers a trace will show.
pub fn banner(w: &Result<LoopbackWatch, WhyNot>) -> String {
    match w {
        Ok(_) => "trace: TCP/IP/link layers from a packet socket on lo (AF_PACKET, CAP_NET_RAW)"
            .to_string(),
        Err(why) => format!(
            "trace: TCP/IP/link layers hidden, showing what the socket knows (TCP_INFO): {why}"
        ),
    }
}

/// How an [`Onion`] reaches its socket for `TCP_INFO`.
enum Sock {
    /// Its own handle (a `try_clone` of the connection's stream).
    Stream(TcpStream),
    /// The descriptor of a stream its owner keeps open while it asks (holding a
    /// duplicate would keep the connection from closing).
    Fd(RawFd),
}

impl AsRawFd for Sock {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Sock::Stream(s) => s.as_raw_fd(),
            Sock::Fd(fd) => *fd,
        }
    }
}

/// The lower-layer tracer of one connection.
pub struct Onion {
    below: Result<ConnWatch, String>,
    sock: Option<Sock>,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
    /// Stream offsets: the next byte each direction will carry.
    sent: u64,
    received: u64,
    /// TCP_INFO (segments, bytes) at the last unit, per direction.
    last_out: Option<(u32, u64)>,
    last_in: Option<(u32, u64)>,
    first_ts: Option<(i64, u32)>,
    /// Units traced so far (the first one explains each layer).
    traced: u64,
    style: Style,
}

impl Onion {
    /// `sent`: bytes this side wrote before the first traced unit (its HTTP head).
    /// `unparsed`: bytes it read from the socket that are not traced yet (the start of
    /// the first frames, read together with the peer's HTTP head). Where the next
    /// received unit starts in the stream comes from the kernel's count of bytes read
    /// ([`tcp_info::bytes_read`]) minus `unparsed`.
    pub fn new(
        stream: &TcpStream,
        watch: &Result<LoopbackWatch, WhyNot>,
        sent: u64,
        unparsed: usize,
    ) -> Onion {
        let received = tcp_info::bytes_read(stream)
            .unwrap_or(0)
            .saturating_sub(unparsed as u64);
        let local = stream.local_addr().ok();
        let peer = stream.peer_addr().ok();
        let below = match (watch, local, peer) {
            (Ok(_), _, Some(p)) if conn_watch::check_loopback(p.ip()).is_err() => {
                Err(WhyNot::NotLoopback(p.ip()).to_string())
            }
            (Ok(w), Some(l), Some(p)) => Ok(w.conn(l, p)),
            (Err(why), _, _) => Err(why.to_string()),
            _ => Err("the socket has no addresses".to_string()),
        };
        let mut onion = Onion {
            below,
            sock: stream.try_clone().ok().map(Sock::Stream),
            local,
            peer,
            sent,
            received,
            last_out: None,
            last_in: None,
            first_ts: None,
            traced: 0,
            style: Style { color: false },
        };
        // Baselines for the deltas of the fallback view.
        if let Some(info) = onion.info() {
            onion.last_out = Some(out_counts(&info));
            onion.last_in = Some(in_counts(&info));
        }
        onion
    }

    fn info(&self) -> Option<tcp_info::TcpInfo> {
        self.sock.as_ref().and_then(|s| tcp_info::tcp_info(s).ok())
    }

    /// After writing `len` bytes (a unit whose own header is `header_len` bytes): the
    /// lines to print under its trace line.
    pub fn sent(&mut self, len: usize, header_len: usize, name: &'static str) -> String {
        let start = self.sent;
        self.sent += len as u64;
        self.render(true, start..self.sent, header_len, name)
    }

    /// After reading a unit of `len` bytes.
    pub fn received(&mut self, len: usize, header_len: usize, name: &'static str) -> String {
        let start = self.received;
        self.received += len as u64;
        self.render(false, start..self.received, header_len, name)
    }

    fn render(
        &mut self,
        sent: bool,
        stream: std::ops::Range<u64>,
        header_len: usize,
        name: &'static str,
    ) -> String {
        let unit = Unit {
            sent,
            stream: stream.clone(),
            header_len,
            name,
            explain: self.traced == 0,
            position_known: true,
        };
        self.traced += 1;
        let why = match &self.below {
            Ok(w) => {
                let dir = if sent {
                    Direction::Sent
                } else {
                    Direction::Received
                };
                match w.segments_for(dir, stream, WAIT) {
                    Ok(segs) => return self.segments(&unit, &segs),
                    Err(why) => why.to_string(),
                }
            }
            Err(why) => why.clone(),
        };
        let info = self.info();
        let figures = match &info {
            Some(i) => {
                let (now, last) = if sent {
                    (out_counts(i), &mut self.last_out)
                } else {
                    (in_counts(i), &mut self.last_in)
                };
                let before = last.replace(now);
                let (s0, b0) = before.unwrap_or((0, 0));
                let dir_bytes = if sent { i.bytes_sent } else { i.bytes_received };
                Ok(KernelFigures {
                    state: i.state,
                    rtt_us: i.rtt_us,
                    snd_mss: i.snd_mss,
                    rcv_mss: i.rcv_mss,
                    snd_cwnd: i.snd_cwnd,
                    total_retrans: i.total_retrans,
                    segs: (if sent { i.segs_out } else { i.segs_in })
                        .map(|_| (now.0, now.0.saturating_sub(s0))),
                    bytes: dir_bytes.map(|_| (now.1, now.1.saturating_sub(b0))),
                })
            }
            None => Err("getsockopt(TCP_INFO) failed".to_string()),
        };
        let facts = SocketFacts {
            local: self.local,
            peer: self.peer,
            info: figures,
        };
        let unit = Unit {
            position_known: self
                .sock
                .as_ref()
                .is_some_and(|s| matches!(s, Sock::Stream(_))),
            ..unit
        };
        view::unseen(&unit, &facts, &why)
    }

    fn segments(&mut self, unit: &Unit, segs: &[conn_watch::Segment]) -> String {
        let mut pkts: Vec<Packet> = Vec::with_capacity(segs.len());
        for s in segs {
            let mut pkt = Packet::default();
            let meta = Meta {
                number: s.number,
                ts_sec: s.ts.0,
                ts_nsec: s.ts.1,
                len: s.frame.len() as u32,
                interface: 0,
                linktype: conn_watch::LINKTYPE,
            };
            Dissector::new().dissect(meta, &s.frame, &mut pkt);
            pkts.push(pkt);
        }
        let first = *self
            .first_ts
            .get_or_insert(segs.first().map_or((0, 0), |s| s.ts));
        let views: Vec<SegmentView<'_>> = segs
            .iter()
            .zip(&pkts)
            .map(|(s, pkt)| {
                let ns =
                    (s.ts.0 - first.0) as i128 * 1_000_000_000 + (s.ts.1 as i128 - first.1 as i128);
                SegmentView {
                    pkt,
                    number: s.number,
                    stream: s.stream_range(),
                    retransmission: s.retransmission,
                    rel_us: u64::try_from(ns / 1000).ok(),
                }
            })
            .collect();
        view::segments(unit, &views, self.style)
    }
}

fn out_counts(i: &tcp_info::TcpInfo) -> (u32, u64) {
    (i.segs_out.unwrap_or(0), i.bytes_sent.unwrap_or(0))
}

fn in_counts(i: &tcp_info::TcpInfo) -> (u32, u64) {
    (i.segs_in.unwrap_or(0), i.bytes_received.unwrap_or(0))
}

// ---------------------------------------------------------------------------------------
// `socketio --trace`: the same lower layers behind the tracer's hook.
// ---------------------------------------------------------------------------------------

/// Where the next unit of one direction starts, found by parsing the stream the watch
/// reassembled: HTTP messages (head + Content-Length body) until an upgrade, then
/// WebSocket frames. Parsing, not counting, keeps it right when units pass untraced
/// (a pong frame, the HTTP handshake, a polling "ok").
#[derive(Default)]
struct Cursor {
    pos: u64,
    websocket: bool,
}

/// A unit found in the stream.
struct Found {
    range: std::ops::Range<u64>,
    header_len: usize,
    name: &'static str,
}

/// The length of the unit at the start of `b` (header length, whole length, and
/// whether a WebSocket follows it), or None if `b` does not hold its header yet.
fn unit_len(b: &[u8], websocket: bool) -> Option<(usize, u64, &'static str, bool)> {
    if websocket {
        let (h, n) = wsw::parse_header(b).ok()??;
        return Some((n, n as u64 + h.payload_len, "WebSocket frame", true));
    }
    if b.starts_with(b"HTTP/") {
        let (resp, n) = http::parse_response(b).ok()??;
        let body = resp.headers.content_length().ok().flatten().unwrap_or(0);
        Some((n, n as u64 + body, "HTTP message", resp.status == 101))
    } else {
        let (req, n) = http::parse_request(b).ok()??;
        let body = req.headers.content_length().ok().flatten().unwrap_or(0);
        let upgrade = req.headers.has_token(http::name::UPGRADE, "websocket");
        Some((n, n as u64 + body, "HTTP message", upgrade))
    }
}

impl Cursor {
    /// The next unit of `wire_len` bytes: the first one of that length among the units
    /// already captured (skipping untraced ones), else the first unit.
    fn next(&mut self, w: &ConnWatch, dir: Direction, wire_len: usize) -> Option<Found> {
        const HEAD: usize = 16 * 1024;
        let mut first: Option<(Found, Cursor)> = None;
        let mut at = Cursor {
            pos: self.pos,
            websocket: self.websocket,
        };
        for _ in 0..64 {
            // The traced unit was just written or read, so the bytes up to its end are
            // there or about to be filed by the watching thread: wait for them.
            let mut want = 2;
            let parsed = loop {
                let b = w.stream_bytes(dir, at.pos, want, HEAD, WAIT);
                match unit_len(&b, at.websocket) {
                    Some(u) => break Some(u),
                    None if b.len() >= want && b.len() < HEAD => want = b.len() + 1,
                    None => break None,
                }
            };
            let Some((header_len, len, name, upgrade)) = parsed else {
                break;
            };
            let found = Found {
                range: at.pos..at.pos + len,
                header_len,
                name,
            };
            let after = Cursor {
                pos: at.pos + len,
                websocket: at.websocket || upgrade,
            };
            if len == wire_len as u64 {
                *self = after;
                return Some(found);
            }
            if first.is_none() {
                first = Some((
                    found,
                    Cursor {
                        pos: after.pos,
                        websocket: after.websocket,
                    },
                ));
            }
            at = after;
        }
        let (found, after) = first?;
        *self = after;
        Some(found)
    }
}

/// One connection's state for the hook.
struct HookConn {
    onion: Onion,
    cursors: [Cursor; 2],
}

/// [`LowerLayers`] for `socketio --trace`: one packet watch for the process, one
/// [`Onion`] per connection, units located by parsing the watched stream.
pub struct SioLower {
    watch: Result<LoopbackWatch, WhyNot>,
    /// Per connection, behind its own lock: a trace may wait for a connection's
    /// segments without holding up the others.
    conns: Mutex<HashMap<(SocketAddr, SocketAddr), Shared>>,
}

type Shared = Arc<Mutex<HookConn>>;

impl SioLower {
    /// Start it before the connections exist (the server: before `accept`; the
    /// client: before dialling) so the watch sees their SYNs.
    pub fn new(endpoint: SocketAddr) -> SioLower {
        SioLower {
            watch: watch(endpoint),
            conns: Mutex::new(HashMap::new()),
        }
    }

    pub fn banner(&self) -> String {
        banner(&self.watch)
    }
}

impl LowerLayers for SioLower {
    fn describe(&self, conn: &ConnAddrs, dir: sio_cmd::Direction, wire_len: usize) -> Vec<String> {
        let entry = {
            let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
            if conns.len() > 4096 {
                conns.clear();
            }
            let e = conns.entry((conn.local, conn.peer)).or_insert_with(|| {
                Arc::new(Mutex::new(HookConn {
                    onion: Onion {
                        below: match &self.watch {
                            Ok(_) if conn_watch::check_loopback(conn.peer.ip()).is_err() => {
                                Err(WhyNot::NotLoopback(conn.peer.ip()).to_string())
                            }
                            Ok(w) => Ok(w.conn(conn.local, conn.peer)),
                            Err(why) => Err(why.to_string()),
                        },
                        sock: conn.fd.map(Sock::Fd),
                        local: Some(conn.local),
                        peer: Some(conn.peer),
                        sent: 0,
                        received: 0,
                        last_out: None,
                        last_in: None,
                        first_ts: None,
                        traced: 0,
                        style: Style { color: false },
                    },
                    cursors: [Cursor::default(), Cursor::default()],
                }))
            });
            Arc::clone(e)
        };
        let mut h = entry.lock().unwrap_or_else(|p| p.into_inner());
        h.onion.sock = conn.fd.map(Sock::Fd);
        let (sent, d, i) = match dir {
            sio_cmd::Direction::Sent => (true, Direction::Sent, 0),
            sio_cmd::Direction::Received => (false, Direction::Received, 1),
        };
        let found = match &h.onion.below {
            Ok(w) => {
                let w = w.clone();
                h.cursors[i].next(&w, d, wire_len)
            }
            Err(_) => None,
        };
        let text = match found {
            Some(f) => h.onion.render(sent, f.range, f.header_len, f.name),
            None => {
                if h.onion.below.is_ok() {
                    h.onion.below = Err(
                        "the watched stream did not parse as HTTP/WebSocket from its start"
                            .to_string(),
                    );
                }
                let unit_start = if sent { h.onion.sent } else { h.onion.received };
                let text =
                    h.onion
                        .render(sent, unit_start..unit_start + wire_len as u64, 0, "message");
                h.onion.sock = None;
                text
            }
        };
        h.onion.sock = None;
        text.lines()
            .map(|l| l.strip_prefix("    ").unwrap_or(l).to_string())
            .collect()
    }
}
