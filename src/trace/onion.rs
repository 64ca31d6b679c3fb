//! The layers below a traced unit, found for real: [`Watched`] implements the
//! [`LowerLayers`] hook with a packet socket on lo ([`crate::net::conn_watch`]) — the
//! TCP segment(s), IP header and link header that carried each unit, dissected with
//! netlab's own dissector — or, without CAP_NET_RAW, with what the socket knows
//! (`TCP_INFO`) and what it cannot see. [`SocketOnly`] is the hook that watches
//! nothing. The text comes from [`crate::render::onion`].
//!
//! Use: make a [`Watched`] *before* the connections exist (a client: before `connect`;
//! a server: before `accept`), so the watch sees their SYNs and reads each side's ISN.
//! Each unit's place in its stream is either counted — from the bytes each side wrote
//! and read before the first traced unit ([`LowerLayers::opened`], as `ws` does) — or
//! found by parsing the watched stream: HTTP messages (head + Content-Length body) until
//! an upgrade, then WebSocket frames (as `socketio` does, whose units pass through
//! several threads and transports).
//!
//! Imports: `net` (the watch, TCP_INFO), `dissect` (the segments' layers), `render`
//! (their text), `wire` (HTTP and WebSocket heads, to parse the stream), the trace's
//! hook and model.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::model::{KernelFigures, SegmentView, SocketFacts, Unit};
use super::{ConnAddrs, Direction, LowerLayers, UnitInfo};
use crate::dissect::{Dissector, Meta, Packet};
use crate::net::conn_watch::{self, ConnWatch, LoopbackWatch, WhyNot};
use crate::net::tcp_info::{self, TcpInfo};
use crate::render::Style;
use crate::render::onion as view;
use crate::wire::{http, websocket as wsw};

/// How long to wait for the watching thread to file the segments of a unit. On lo a
/// written segment passes the packet tap before `write` returns and a read one before
/// the data reaches the socket, so this is only the thread's scheduling delay.
const WAIT: Duration = Duration::from_secs(1);
/// Connections remembered at once (the oldest are forgotten beyond it).
const MAX_CONNS: usize = 4096;

/// The hook that watches nothing: what a socket alone can say.
pub struct SocketOnly;

impl LowerLayers for SocketOnly {
    fn describe(
        &self,
        conn: &ConnAddrs,
        _sock: Option<BorrowedFd<'_>>,
        dir: Direction,
        unit: UnitInfo,
    ) -> String {
        view::socket_only(conn, dir, unit.len)
    }
}

/// The lower layers of every traced connection to or from one port: one packet watch
/// on lo for the process (or the reason there is none), one state per connection.
pub struct Watched {
    watch: Result<LoopbackWatch, WhyNot>,
    style: Style,
    /// Per connection, behind its own lock: a trace may wait for one connection's
    /// segments without holding up the others.
    conns: Mutex<HashMap<ConnAddrs, Arc<Mutex<Conn>>>>,
}

impl Watched {
    /// Starts watching `endpoint`'s port on lo (a server's listening address, or the
    /// server a client is about to connect to), or notes why the packets cannot be seen.
    pub fn start(endpoint: SocketAddr, style: Style) -> Watched {
        Watched::with(LoopbackWatch::start(endpoint), style)
    }

    /// With a watch made elsewhere (or the reason there is none).
    pub fn with(watch: Result<LoopbackWatch, WhyNot>, style: Style) -> Watched {
        Watched {
            watch,
            style,
            conns: Mutex::new(HashMap::new()),
        }
    }

    /// One line saying which view of the lower layers the trace will show.
    pub fn banner(&self) -> String {
        match &self.watch {
            Ok(_) => {
                "trace: TCP/IP/link layers from a packet socket on lo (AF_PACKET, CAP_NET_RAW)"
                    .to_string()
            }
            Err(why) => format!(
                "trace: TCP/IP/link layers hidden, showing what the socket knows (TCP_INFO): {why}"
            ),
        }
    }

    fn table(&self) -> MutexGuard<'_, HashMap<ConnAddrs, Arc<Mutex<Conn>>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn conn(&self, conn: &ConnAddrs, place: impl FnOnce() -> Place) -> Arc<Mutex<Conn>> {
        let mut conns = self.table();
        if conns.len() >= MAX_CONNS && !conns.contains_key(conn) {
            conns.clear();
        }
        let e = conns.entry(*conn).or_insert_with(|| {
            let below = match &self.watch {
                Ok(_) if conn_watch::check_loopback(conn.peer.ip()).is_err() => {
                    Err(WhyNot::NotLoopback(conn.peer.ip()).to_string())
                }
                Ok(w) => Ok(w.conn(conn.local, conn.peer)),
                Err(why) => Err(why.to_string()),
            };
            Arc::new(Mutex::new(Conn {
                below,
                conn: *conn,
                place: place(),
                last: [None, None],
                first_ts: None,
                traced: 0,
            }))
        });
        Arc::clone(e)
    }
}

impl LowerLayers for Watched {
    fn opened(&self, conn: &ConnAddrs, sock: BorrowedFd<'_>, written: u64, unparsed: usize) {
        // Where the next received unit starts: the kernel's count of bytes read, less
        // what was read but not traced yet.
        let received = tcp_info::bytes_read(&sock)
            .unwrap_or(0)
            .saturating_sub(unparsed as u64);
        self.table().remove(conn);
        let c = self.conn(conn, || Place::Counted([written, received]));
        let mut c = lock(&c);
        // Baselines for the deltas of the socket-only view.
        if let Ok(info) = tcp_info::tcp_info(&sock) {
            c.last = [
                Some(counts(&info, Direction::Sent)),
                Some(counts(&info, Direction::Received)),
            ];
        }
    }

    fn describe(
        &self,
        conn: &ConnAddrs,
        sock: Option<BorrowedFd<'_>>,
        dir: Direction,
        unit: UnitInfo,
    ) -> String {
        let c = self.conn(conn, Place::parsed);
        let mut c = lock(&c);
        c.describe(sock, dir, unit, self.style)
    }

    fn closed(&self, conn: &ConnAddrs) {
        self.table().remove(conn);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How a connection's units are placed in its streams.
enum Place {
    /// Counted: the next byte each direction will carry ([`Direction::index`]).
    Counted([u64; 2]),
    /// Found by parsing each direction's watched stream.
    Parsed([Cursor; 2]),
}

impl Place {
    fn parsed() -> Place {
        Place::Parsed([Cursor::default(), Cursor::default()])
    }
}

/// One traced connection.
struct Conn {
    below: Result<ConnWatch, String>,
    conn: ConnAddrs,
    place: Place,
    /// TCP_INFO (segments, bytes) at the last unit, per direction.
    last: [Option<(u32, u64)>; 2],
    first_ts: Option<(i64, u32)>,
    /// Units traced so far (the first one explains each layer).
    traced: u64,
}

impl Conn {
    fn describe(
        &mut self,
        sock: Option<BorrowedFd<'_>>,
        dir: Direction,
        unit: UnitInfo,
        style: Style,
    ) -> String {
        let i = dir.index();
        let (range, header_len, name, position_known) = match &mut self.place {
            Place::Counted(next) => {
                let start = next[i];
                next[i] += unit.len as u64;
                (start..next[i], unit.header_len, unit.name, true)
            }
            Place::Parsed(cursors) => {
                let found = match &self.below {
                    Ok(w) => cursors[i].next(w, dir, unit.len),
                    Err(_) => None,
                };
                match found {
                    Some(f) => (f.range, f.header_len, f.name, true),
                    None => {
                        if self.below.is_ok() {
                            self.below = Err(
                                "the watched stream did not parse as HTTP/WebSocket from its start"
                                    .to_string(),
                            );
                        }
                        (0..unit.len as u64, unit.header_len, unit.name, false)
                    }
                }
            }
        };
        let unit = Unit {
            dir,
            stream: range.clone(),
            header_len,
            name,
            explain: self.traced == 0,
            position_known,
        };
        self.traced += 1;
        let why = match &self.below {
            Ok(w) => match w.segments_for(dir, range, WAIT) {
                Ok(segs) => return self.segments(&unit, &segs, style),
                Err(why) => why.to_string(),
            },
            Err(why) => why.clone(),
        };
        let info = sock.and_then(|s| tcp_info::tcp_info(&s).ok());
        let figures = match &info {
            Some(info) => {
                let now = counts(info, dir);
                let (s0, b0) = self.last[i].replace(now).unwrap_or((0, 0));
                let (segs, bytes) = match dir {
                    Direction::Sent => (info.segs_out, info.bytes_sent),
                    Direction::Received => (info.segs_in, info.bytes_received),
                };
                Ok(KernelFigures {
                    state: info.state,
                    rtt_us: info.rtt_us,
                    snd_mss: info.snd_mss,
                    rcv_mss: info.rcv_mss,
                    snd_cwnd: info.snd_cwnd,
                    total_retrans: info.total_retrans,
                    segs: segs.map(|_| (now.0, now.0.saturating_sub(s0))),
                    bytes: bytes.map(|_| (now.1, now.1.saturating_sub(b0))),
                })
            }
            None if sock.is_none() => Err("the socket was not at hand".to_string()),
            None => Err("getsockopt(TCP_INFO) failed".to_string()),
        };
        let facts = SocketFacts {
            local: Some(self.conn.local),
            peer: Some(self.conn.peer),
            info: figures,
        };
        view::unseen(&unit, &facts, &why)
    }

    fn segments(&mut self, unit: &Unit, segs: &[conn_watch::Segment], style: Style) -> String {
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
        view::segments(unit, &views, style)
    }
}

/// The kernel's (segments, data bytes) so far in direction `dir`.
fn counts(i: &TcpInfo, dir: Direction) -> (u32, u64) {
    match dir {
        Direction::Sent => (i.segs_out.unwrap_or(0), i.bytes_sent.unwrap_or(0)),
        Direction::Received => (i.segs_in.unwrap_or(0), i.bytes_received.unwrap_or(0)),
    }
}

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
    range: Range<u64>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_http_messages_until_the_upgrade_then_frames() {
        let req =
            b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        let (h, n, name, upgrade) = unit_len(req, false).unwrap();
        assert_eq!(
            (h, n, name, upgrade),
            (req.len(), req.len() as u64, "HTTP message", true)
        );
        let post = b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(unit_len(post, false).unwrap().1, post.len() as u64);
        // A masked text frame "hi": 2 + 4 + 2 bytes.
        let frame = [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
        assert_eq!(
            unit_len(&frame, true).unwrap(),
            (6, 8, "WebSocket frame", true)
        );
        assert!(
            unit_len(&frame[..1], true).is_none(),
            "not a whole header yet"
        );
    }

    #[test]
    fn socket_only_says_what_a_socket_knows() {
        let conn = ConnAddrs {
            local: "127.0.0.1:40000".parse().unwrap(),
            peer: "127.0.0.1:3000".parse().unwrap(),
        };
        let unit = UnitInfo {
            name: "WebSocket frame",
            len: 22,
            header_len: 6,
        };
        let text = SocketOnly.describe(&conn, None, Direction::Received, unit);
        assert_eq!(
            text,
            "    TCP        22 bytes of the byte stream 127.0.0.1:3000 → 127.0.0.1:40000 (segments, IP and link not watched)\n"
        );
    }
}
