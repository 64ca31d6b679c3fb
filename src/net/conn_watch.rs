//! Watching netlab's own TCP connections on the loopback interface, so a `--trace` can
//! show the TCP segments, IP packets and link frames that carried each WebSocket frame.
//!
//! A [`LoopbackWatch`] is one packet socket (`AF_PACKET`, see [`super::raw::LinkSniffer`])
//! bound to `lo` with a kernel filter for one TCP port, read by a background thread that
//! files every segment under its connection (the 4-tuple). A [`ConnWatch`] is the view
//! of one connection: `segments_for(direction, stream bytes, timeout)` returns the
//! segments whose data overlaps those bytes of the stream.
//!
//! Matching uses sequence numbers relative to each side's initial sequence number (ISN):
//! byte `k` of a side's stream (0 = the first byte after the SYN) travels with sequence
//! number `ISN + 1 + k` (RFC 9293 § 3.4). The ISN is read from the SYN when the watch
//! started before the connection (start it before `connect`, or on the listening port
//! before `accept`); otherwise it is inferred from the first segment seen and the byte
//! counts the kernel reports in `TCP_INFO` at the time the watch started.
//!
//! Needs CAP_NET_RAW. Without it [`WhyNot::NoCapNetRaw`] says so, and the caller shows
//! what a socket can know instead (addresses, ports, [`super::tcp_info`]).
//!
//! Imports: `std`, `libc`, the `wire` codecs (to read the headers it files segments by),
//! the trace hook's [`Direction`].

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::raw::{LinkSniffer, RawError};
use crate::wire::{ipv4, ipv6, tcp};

/// The loopback interface, whose link header is an Ethernet II header with zero MACs.
pub const LOOPBACK_IF: &str = "lo";
/// The pcap link type of frames read from `lo` (LINKTYPE_ETHERNET).
pub const LINKTYPE: u32 = 1;
/// Segments kept per direction of a connection (older ones are dropped).
const MAX_SEGMENTS: usize = 4096;
/// Connections tracked at once per watch (the oldest is dropped).
const MAX_CONNS: usize = 1024;
/// Bytes kept over all connections (frames and reassembled streams); beyond it the
/// oldest connections are forgotten. A trace asks for segments in stream order and the
/// watch forgets what lies before, so this is only reached when nobody asks.
const MAX_BYTES: usize = 64 << 20;
/// Bytes of each direction's reassembled stream kept (older bytes are dropped).
const MAX_STREAM: usize = 4 << 20;
/// Bytes kept of each frame: loopback's MTU is 65536, plus the link header.
const SNAPLEN: usize = 65536 + 64;

/// Which way a segment went, seen from the connection's local socket (the trace's one
/// `Direction`).
pub use crate::trace::Direction;

/// One TCP segment of a watched connection, as the link carried it.
#[derive(Debug, Clone)]
pub struct Segment {
    /// The kernel's timestamp (seconds, nanoseconds since the Unix epoch).
    pub ts: (i64, u32),
    /// The whole link frame (Ethernet II on `lo`: link type [`LINKTYPE`]).
    pub frame: Vec<u8>,
    /// Number of this segment among all the connection's segments the watch saw
    /// (both directions, pure ACKs included), from 1.
    pub number: u64,
    pub direction: Direction,
    /// Position of the segment's first data byte in its sender's stream (0 = the first
    /// byte after the SYN), or where data would start for a segment without data.
    pub stream_offset: u64,
    /// Bytes of data (TCP payload).
    pub payload_len: usize,
    pub flags: u16,
    /// Its data had all been seen before: a retransmission.
    pub retransmission: bool,
    /// The ISN came from the SYN (true) or was inferred from TCP_INFO counts (false).
    pub isn_from_syn: bool,
}

impl Segment {
    /// The stream bytes this segment carries.
    pub fn stream_range(&self) -> Range<u64> {
        self.stream_offset..self.stream_offset + self.payload_len as u64
    }
}

/// Why the TCP/IP/link layers cannot be shown.
#[derive(Debug, Clone)]
pub enum WhyNot {
    /// No CAP_NET_RAW: a packet socket is refused.
    NoCapNetRaw,
    /// The connection does not use the loopback interface.
    NotLoopback(IpAddr),
    /// Anything else (the message says what).
    Failed(String),
}

impl std::fmt::Display for WhyNot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WhyNot::NoCapNetRaw => write!(
                f,
                "no CAP_NET_RAW: only a packet socket (AF_PACKET) sees the segments, IP \
                 headers and link frames the kernel builds, and opening one needs that \
                 capability (run with sudo, or once: sudo setcap cap_net_raw+ep \"$(command -v netlab)\")"
            ),
            WhyNot::NotLoopback(ip) => write!(
                f,
                "{ip} is not a loopback address: netlab only watches its own connections on `lo`"
            ),
            WhyNot::Failed(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for WhyNot {}

impl From<RawError> for WhyNot {
    fn from(e: RawError) -> Self {
        match e {
            RawError::NotPermitted => WhyNot::NoCapNetRaw,
            other => WhyNot::Failed(other.to_string()),
        }
    }
}

/// One direction of a connection.
#[derive(Default)]
struct Flow {
    /// The sender's initial sequence number.
    isn: Option<u32>,
    isn_from_syn: bool,
    /// Where this direction's stream stood when the watch started (from TCP_INFO), to
    /// infer the ISN when the SYN was not seen.
    anchor: Option<u64>,
    /// One past the highest stream byte seen, to spot retransmissions.
    high: u64,
    segments: VecDeque<Segment>,
    /// The stream's bytes in order, from offset `base` (what a tracer parses to find
    /// where each message starts). A gap (a segment lost before the watch) stops it.
    bytes: VecDeque<u8>,
    base: u64,
    /// Bytes held: frames of `segments` plus `bytes`.
    stored: usize,
}

impl Conn {
    fn stored(&self) -> usize {
        self.flows.values().map(|f| f.stored).sum()
    }
}

#[derive(Default)]
struct Conn {
    /// Flows keyed by the sending endpoint.
    flows: HashMap<SocketAddr, Flow>,
    seen: u64,
    /// Insertion order, for eviction.
    born: u64,
}

type Key = (SocketAddr, SocketAddr);

fn key(a: SocketAddr, b: SocketAddr) -> Key {
    if a <= b { (a, b) } else { (b, a) }
}

#[derive(Default)]
struct Table {
    conns: HashMap<Key, Conn>,
    born: u64,
    /// Bytes held over all connections.
    stored: usize,
    /// Set when the reading thread failed.
    failed: Option<String>,
}

struct Shared {
    table: Mutex<Table>,
    arrived: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Owns the reading thread: stops and joins it when the last handle goes.
struct Inner {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Every TCP connection on `lo` with one port at either end, watched from a background
/// thread. Start it before the connections it should see from their SYN.
#[derive(Clone)]
pub struct LoopbackWatch {
    inner: Arc<Inner>,
}

/// Whether connections with this address travel over `lo` (and so can be watched).
pub fn check_loopback(ip: IpAddr) -> Result<(), WhyNot> {
    let lo = match ip {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    };
    if lo {
        Ok(())
    } else {
        Err(WhyNot::NotLoopback(ip))
    }
}

impl LoopbackWatch {
    /// Watches TCP segments on `lo` to or from `endpoint`'s port (a server's listening
    /// address — the unspecified address too, whose loopback connections are seen — or
    /// the server a client is about to connect to).
    pub fn start(endpoint: SocketAddr) -> Result<LoopbackWatch, WhyNot> {
        if !endpoint.ip().is_unspecified() {
            check_loopback(endpoint.ip())?;
        }
        let sniffer = LinkSniffer::open(LOOPBACK_IF, endpoint.port())?;
        let shared = Arc::new(Shared {
            table: Mutex::new(Table::default()),
            arrived: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("netlab-conn-watch".into())
            .spawn(move || read_loop(&sniffer, &s))
            .map_err(|e| WhyNot::Failed(format!("cannot start the watching thread: {e}")))?;
        Ok(LoopbackWatch {
            inner: Arc::new(Inner {
                shared,
                thread: Some(thread),
            }),
        })
    }

    /// The view of one connection (cheap; the watch keeps running while it lives).
    pub fn conn(&self, local: SocketAddr, peer: SocketAddr) -> ConnWatch {
        ConnWatch {
            inner: Arc::clone(&self.inner),
            local: canonical(local),
            peer: canonical(peer),
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address the wire carries.
fn canonical(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => a,
        },
        v4 => v4,
    }
}

/// The segments of one connection. Clone it to use it from another thread.
#[derive(Clone)]
pub struct ConnWatch {
    inner: Arc<Inner>,
    local: SocketAddr,
    peer: SocketAddr,
}

impl ConnWatch {
    /// Starts watching a connection that is already open: the SYN is gone, so each
    /// side's ISN is inferred from the first segment seen and the kernel's byte counts
    /// (`TCP_INFO` of `sock`) now. Prefer [`LoopbackWatch::start`] before the
    /// connection exists, which reads the ISNs from the SYNs.
    pub fn start(
        local: SocketAddr,
        peer: SocketAddr,
        sock: &impl AsRawFd,
    ) -> Result<ConnWatch, WhyNot> {
        check_loopback(peer.ip())?;
        let watch = LoopbackWatch::start(peer)?;
        let info = super::tcp_info::tcp_info(sock)
            .map_err(|e| WhyNot::Failed(format!("TCP_INFO: {e}")))?;
        let conn = watch.conn(local, peer);
        let sent = info.bytes_sent.map(|s| s - info.bytes_retrans.unwrap_or(0));
        let received = info.bytes_received;
        {
            let mut t = conn.inner.shared.lock();
            let c = t.conns.entry(key(conn.local, conn.peer)).or_default();
            c.flows.entry(conn.local).or_default().anchor = sent;
            c.flows.entry(conn.peer).or_default().anchor = received;
        }
        Ok(conn)
    }

    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Up to `max` bytes of the stream going `direction` from offset `from`, as the
    /// segments carried them; waits up to `timeout` until at least `min` bytes are
    /// there. Empty when those bytes are older than what the watch keeps.
    pub fn stream_bytes(
        &self,
        direction: Direction,
        from: u64,
        min: usize,
        max: usize,
        timeout: Duration,
    ) -> Vec<u8> {
        let sender = match direction {
            Direction::Sent => self.local,
            Direction::Received => self.peer,
        };
        let deadline = Instant::now() + timeout;
        let shared = &self.inner.shared;
        let mut t = shared.lock();
        loop {
            let flow = t
                .conns
                .get(&key(self.local, self.peer))
                .and_then(|c| c.flows.get(&sender));
            if let Some(f) = flow
                && from >= f.base
            {
                let at = (from - f.base) as usize;
                let have = f.bytes.len().saturating_sub(at);
                let left = deadline.saturating_duration_since(Instant::now());
                if have >= min || left.is_zero() || t.failed.is_some() {
                    return f
                        .bytes
                        .range(at.min(f.bytes.len())..)
                        .take(max)
                        .copied()
                        .collect();
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || t.failed.is_some() {
                return Vec::new();
            }
            t = shared
                .arrived
                .wait_timeout(t, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// The segments whose data overlaps `bytes` of the stream going `direction`
    /// (0 = the first byte after the SYN), in the order they were seen. Waits up to
    /// `timeout` until the segments cover every byte of the range. Segments before
    /// `bytes.start` are forgotten: ask in stream order.
    pub fn segments_for(
        &self,
        direction: Direction,
        bytes: Range<u64>,
        timeout: Duration,
    ) -> Result<Vec<Segment>, WhyNot> {
        let sender = match direction {
            Direction::Sent => self.local,
            Direction::Received => self.peer,
        };
        let deadline = Instant::now() + timeout;
        let shared = &self.inner.shared;
        let mut t = shared.lock();
        loop {
            if let Some(why) = &t.failed {
                return Err(WhyNot::Failed(why.clone()));
            }
            let flow = t
                .conns
                .get_mut(&key(self.local, self.peer))
                .and_then(|c| c.flows.get_mut(&sender));
            let mut freed = 0;
            let (found, covered) =
                match flow {
                    Some(flow) => {
                        // Forget what lies wholly before the range.
                        while flow.segments.front().is_some_and(|s| {
                            s.stream_range().end <= bytes.start && s.payload_len > 0
                        }) {
                            if let Some(s) = flow.segments.pop_front() {
                                freed += s.frame.len();
                            }
                        }
                        flow.stored -= freed;
                        let found: Vec<Segment> = flow
                            .segments
                            .iter()
                            .filter(|s| {
                                let r = s.stream_range();
                                r.start < bytes.end && bytes.start < r.end
                            })
                            .map(|s| Segment {
                                direction,
                                ..s.clone()
                            })
                            .collect();
                        let covered = covers(&found, &bytes);
                        (found, covered)
                    }
                    None => (Vec::new(), bytes.is_empty()),
                };
            t.stored -= freed;
            let left = deadline.saturating_duration_since(Instant::now());
            if covered || left.is_zero() {
                return Ok(found);
            }
            t = shared
                .arrived
                .wait_timeout(t, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Whether the segments' data together covers every byte of `want`.
fn covers(segs: &[Segment], want: &Range<u64>) -> bool {
    let mut ranges: Vec<Range<u64>> = segs.iter().map(Segment::stream_range).collect();
    ranges.sort_by_key(|r| r.start);
    let mut at = want.start;
    for r in ranges {
        if r.start > at {
            break;
        }
        at = at.max(r.end);
    }
    at >= want.end
}

/// The addresses, ports and TCP header fields the watch files a frame by.
struct Parsed {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    flags: u16,
    payload_len: usize,
    /// Where the TCP payload starts in the frame.
    payload_at: usize,
}

/// Reads an Ethernet II frame carrying IPv4 or IPv6 (no extension headers) and TCP.
fn parse(frame: &[u8]) -> Option<Parsed> {
    const ETH_LEN: usize = 14;
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let ip = frame.get(ETH_LEN..)?;
    let (src, dst, segment) = match ethertype {
        0x0800 => {
            let p = ipv4::Packet::new_checked(ip).ok()?;
            if p.protocol() != tcp::PROTOCOL || p.frag_offset() != 0 || p.more_frags() {
                return None;
            }
            let hl = usize::from(p.header_len());
            let end = usize::from(p.total_len()).min(ip.len());
            (
                IpAddr::from(p.src_addr()),
                IpAddr::from(p.dst_addr()),
                ip.get(hl..end)?,
            )
        }
        0x86dd => {
            let p = ipv6::Packet::new_checked(ip).ok()?;
            if p.next_header() != tcp::PROTOCOL {
                return None;
            }
            let end = (40 + usize::from(p.payload_len())).min(ip.len());
            (
                IpAddr::from(p.src_addr()),
                IpAddr::from(p.dst_addr()),
                ip.get(40..end)?,
            )
        }
        _ => return None,
    };
    let t = tcp::Packet::new_checked(segment).ok()?;
    let payload_at =
        segment.as_ptr() as usize - frame.as_ptr() as usize + usize::from(t.header_len());
    Some(Parsed {
        payload_at,
        src: SocketAddr::new(src, t.src_port()),
        dst: SocketAddr::new(dst, t.dst_port()),
        seq: t.seq_number(),
        flags: t.flags(),
        payload_len: segment.len().saturating_sub(usize::from(t.header_len())),
    })
}

fn read_loop(sniffer: &LinkSniffer, shared: &Shared) {
    let mut buf = vec![0u8; SNAPLEN];
    while !shared.stop.load(Ordering::SeqCst) {
        let got = match sniffer.recv(&mut buf, Duration::from_millis(100)) {
            Ok(Some(f)) => f,
            Ok(None) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                shared.lock().failed = Some(format!("reading the packet socket: {e}"));
                shared.arrived.notify_all();
                return;
            }
        };
        // On `lo` each frame passes the tap twice: leaving and arriving. Keep one.
        if !got.outgoing {
            continue;
        }
        let frame = &buf[..got.len];
        let Some(p) = parse(frame) else { continue };
        let mut t = shared.lock();
        file(&mut t, &p, frame, got.ts);
        drop(t);
        shared.arrived.notify_all();
    }
}

/// Files one segment under its connection and direction.
fn file(t: &mut Table, p: &Parsed, frame: &[u8], ts: (i64, u32)) {
    let k = key(p.src, p.dst);
    // Forget the oldest connections when too many, or too many bytes, are held.
    while (!t.conns.contains_key(&k) && t.conns.len() >= MAX_CONNS)
        || (t.stored > MAX_BYTES && t.conns.len() > 1)
    {
        let oldest = t
            .conns
            .iter()
            .filter(|(c, _)| **c != k)
            .min_by_key(|(_, c)| c.born)
            .map(|(k, _)| *k);
        let Some(o) = oldest else { break };
        if let Some(c) = t.conns.remove(&o) {
            t.stored -= c.stored();
        }
    }
    t.born += 1;
    let born = t.born;
    let conn = t.conns.entry(k).or_insert_with(|| Conn {
        born,
        ..Default::default()
    });
    // A new SYN on a known 4-tuple is a new connection: start afresh.
    let syn = p.flags & tcp::flags::SYN != 0;
    let ack = p.flags & tcp::flags::ACK != 0;
    if syn && !ack {
        let held = conn.stored();
        conn.flows.clear();
        conn.seen = 0;
        t.stored -= held;
    }
    conn.seen += 1;
    let number = conn.seen;
    let flow = conn.flows.entry(p.src).or_default();
    if syn {
        flow.isn = Some(p.seq);
        flow.isn_from_syn = true;
        flow.high = 0;
    } else if flow.isn.is_none() {
        // No SYN seen: the anchor says where the stream stood when the watch started.
        // A data segment's first byte, or a pure ACK's next byte, is at least there.
        let at = flow.anchor.unwrap_or(0);
        flow.isn = Some(p.seq.wrapping_sub(1).wrapping_sub(at as u32));
        flow.high = at;
    }
    let Some(isn) = flow.isn else { return };
    // Sequence numbers wrap at 2^32; a trace's streams are shorter than 4 GiB.
    let offset = u64::from(p.seq.wrapping_sub(isn).wrapping_sub(1));
    let offset = if syn { 0 } else { offset };
    let end = offset + p.payload_len as u64;
    let retransmission = p.payload_len > 0 && end <= flow.high;
    flow.high = flow.high.max(end);
    if p.payload_len == 0 {
        // Pure ACKs, SYNs and FINs carry no stream bytes a trace asks for.
        return;
    }
    // Reassemble in order: a segment reaching past the stream's end extends it. Without
    // the SYN, the stream starts with the first segment seen.
    if flow.bytes.is_empty() && flow.base == 0 && !flow.isn_from_syn {
        flow.base = offset;
    }
    let stream_end = flow.base + flow.bytes.len() as u64;
    if offset <= stream_end && end > stream_end {
        let skip = (stream_end - offset) as usize;
        if let Some(data) = frame.get(p.payload_at + skip..p.payload_at + p.payload_len) {
            flow.bytes.extend(data);
            flow.stored += data.len();
            t.stored += data.len();
        }
        if flow.bytes.len() > MAX_STREAM {
            let drop = flow.bytes.len() - MAX_STREAM;
            flow.bytes.drain(..drop);
            flow.base += drop as u64;
            flow.stored -= drop;
            t.stored -= drop;
        }
    }
    if flow.segments.len() >= MAX_SEGMENTS
        && let Some(old) = flow.segments.pop_front()
    {
        flow.stored -= old.frame.len();
        t.stored -= old.frame.len();
    }
    flow.stored += frame.len();
    t.stored += frame.len();
    // The direction depends on who asks; `segments_for` sets it.
    let direction = Direction::Sent;
    flow.segments.push_back(Segment {
        ts,
        frame: frame.to_vec(),
        number,
        direction,
        stream_offset: offset,
        payload_len: p.payload_len,
        flags: p.flags,
        retransmission,
        isn_from_syn: flow.isn_from_syn,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: u64, len: usize) -> Segment {
        Segment {
            ts: (0, 0),
            frame: Vec::new(),
            number: 1,
            direction: Direction::Sent,
            stream_offset: start,
            payload_len: len,
            flags: 0,
            retransmission: false,
            isn_from_syn: true,
        }
    }

    #[test]
    fn coverage_of_a_byte_range() {
        assert!(covers(&[seg(0, 10)], &(2..8)));
        assert!(covers(&[seg(5, 5), seg(0, 5)], &(0..10)));
        assert!(
            !covers(&[seg(0, 4), seg(5, 5)], &(0..10)),
            "a hole at byte 4"
        );
        assert!(!covers(&[seg(0, 5)], &(0..10)));
        assert!(covers(&[], &(3..3)));
    }

    #[test]
    fn files_segments_by_offset_from_the_syn() {
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let mut t = Table::default();
        let p = |src, dst, seq, flags, payload_len| Parsed {
            src,
            dst,
            seq,
            flags,
            payload_len,
            payload_at: 0,
        };
        use tcp::flags::{ACK, PSH, SYN};
        file(&mut t, &p(a, b, 1000, SYN, 0), &[], (0, 0));
        file(&mut t, &p(b, a, 5000, SYN | ACK, 0), &[], (0, 0));
        file(&mut t, &p(a, b, 1001, ACK, 0), &[], (0, 0));
        file(&mut t, &p(a, b, 1001, PSH | ACK, 100), &[], (0, 0));
        file(&mut t, &p(b, a, 5001, PSH | ACK, 129), &[], (0, 0));
        file(&mut t, &p(a, b, 1101, PSH | ACK, 8), &[], (0, 0));
        file(&mut t, &p(a, b, 1101, PSH | ACK, 8), &[], (0, 0));
        let c = &t.conns[&key(a, b)];
        let sent: Vec<(u64, usize, bool, u64)> = c.flows[&a]
            .segments
            .iter()
            .map(|s| (s.stream_offset, s.payload_len, s.retransmission, s.number))
            .collect();
        assert_eq!(
            sent,
            [(0, 100, false, 4), (100, 8, false, 6), (100, 8, true, 7)]
        );
        let got: Vec<u64> = c.flows[&b]
            .segments
            .iter()
            .map(|s| s.stream_offset)
            .collect();
        assert_eq!(got, [0]);
    }

    #[test]
    fn reassembles_each_direction_in_order() {
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let mut t = Table::default();
        let seg = |seq, data: &[u8], t: &mut Table| {
            let p = Parsed {
                src: a,
                dst: b,
                seq,
                flags: tcp::flags::ACK,
                payload_len: data.len(),
                payload_at: 0,
            };
            file(t, &p, data, (0, 0));
        };
        let syn = Parsed {
            src: a,
            dst: b,
            seq: 99,
            flags: tcp::flags::SYN,
            payload_len: 0,
            payload_at: 0,
        };
        file(&mut t, &syn, &[], (0, 0));
        seg(100, b"GET / HTTP/1.1\r\n", &mut t);
        seg(100, b"GET / HTTP/1.1\r\n", &mut t); // retransmitted: not twice
        seg(116, b"\r\nab", &mut t);
        seg(130, b"too far", &mut t); // after a gap: not appended
        let f = &t.conns[&key(a, b)].flows[&a];
        assert_eq!(f.base, 0);
        // Held: the four frames (16 + 16 + 4 + 7 bytes) and 20 reassembled bytes.
        assert_eq!((f.stored, t.stored), (63, 63));
        assert_eq!(
            f.bytes.iter().copied().collect::<Vec<u8>>(),
            b"GET / HTTP/1.1\r\n\r\nab"
        );
    }

    #[test]
    fn infers_the_isn_from_an_anchor_without_syn() {
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let mut t = Table::default();
        t.conns
            .entry(key(a, b))
            .or_default()
            .flows
            .entry(a)
            .or_default()
            .anchor = Some(300);
        let p = Parsed {
            src: a,
            dst: b,
            seq: 7_000_301,
            flags: tcp::flags::ACK,
            payload_len: 8,
            payload_at: 0,
        };
        file(&mut t, &p, &[], (0, 0));
        let s = &t.conns[&key(a, b)].flows[&a].segments[0];
        assert_eq!((s.stream_offset, s.isn_from_syn), (300, false));
    }

    /// A real connection on lo, watched from its SYN (`LoopbackWatch` before
    /// `connect`) and, separately, from the middle (`ConnWatch::start` after an
    /// exchange): both place the same segment at the same stream offset.
    #[test]
    fn watches_a_real_loopback_connection_from_the_syn_and_from_the_middle() {
        use std::io::{Read, Write};
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // In CI a skip is a failure (tests/common.rs, `available`).
            assert!(
                std::env::var_os("NETLAB_REQUIRE_ROOT").is_none_or(|v| v != "1"),
                "needs CAP_NET_RAW (root), and NETLAB_REQUIRE_ROOT=1 says it must run"
            );
            eprintln!("SKIPPED: needs CAP_NET_RAW (root); CI runs as root");
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server_addr = listener.local_addr().unwrap();
        let early = LoopbackWatch::start(server_addr).unwrap();
        let mut client = std::net::TcpStream::connect(server_addr).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let mut buf = [0u8; 16];
        client.write_all(b"hello").unwrap();
        server.read_exact(&mut buf[..5]).unwrap();
        server.write_all(b"hi").unwrap();
        client.read_exact(&mut buf[..2]).unwrap();
        let local = client.local_addr().unwrap();
        let late = ConnWatch::start(local, server_addr, &client).unwrap();
        client.write_all(b"12345678").unwrap();
        server.read_exact(&mut buf[..8]).unwrap();
        server.write_all(b"abc").unwrap();
        client.read_exact(&mut buf[..3]).unwrap();

        let wait = Duration::from_secs(2);
        let from_syn = early.conn(local, server_addr);
        for w in [&from_syn, &late] {
            let sent = w.segments_for(Direction::Sent, 5..13, wait).unwrap();
            assert_eq!(sent.len(), 1, "{sent:?}");
            assert_eq!((sent[0].stream_offset, sent[0].payload_len), (5, 8));
            assert_eq!(sent[0].direction, Direction::Sent);
            let got = w.segments_for(Direction::Received, 2..5, wait).unwrap();
            assert_eq!(got.len(), 1, "{got:?}");
            assert_eq!((got[0].stream_offset, got[0].payload_len), (2, 3));
            // Ethernet (14) + IPv4 (20) + TCP (at least 20) + the 3 bytes.
            assert!(got[0].frame.len() >= 14 + 20 + 20 + 3);
            assert!(got[0].frame.ends_with(b"abc"));
        }
        assert!(sent_from_syn(&from_syn));
        let bytes = from_syn.stream_bytes(Direction::Sent, 0, 13, 64, wait);
        assert_eq!(bytes, b"hello12345678");
    }

    fn sent_from_syn(w: &ConnWatch) -> bool {
        w.segments_for(Direction::Sent, 5..13, Duration::from_secs(1))
            .unwrap()
            .iter()
            .all(|s| s.isn_from_syn)
    }

    #[test]
    fn a_non_loopback_address_is_refused() {
        let e = LoopbackWatch::start("192.0.2.1:80".parse().unwrap())
            .err()
            .unwrap();
        assert!(matches!(e, WhyNot::NotLoopback(_)), "{e}");
    }
}
