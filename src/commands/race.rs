//! `netlab race`: the same numbered messages over UDP and over TCP, between real kernel
//! sockets, through a lossy wire that netlab itself is.
//!
//! The wire (`net::wire_pair`): two private, anonymous network namespaces, A holding
//! the receiving sockets (a UDP socket and a TCP listener on `10.0.0.1`), B the sending
//! ones (`10.0.0.2`), each with a TUN device routing the other address into netlab. A
//! relay thread reads every IP packet from one TUN device and writes it into the other —
//! or drops it, holds it back behind the next one, or delays it ([`Lossy`], below), in
//! both directions, so TCP's SYNs and ACKs suffer as much as its data.
//!
//! UDP runs first, then TCP, one after the other over the same wire: each has the wire to
//! itself, so neither's packets queue behind the other's and the times compare fairly.
//! The wire rolls separate dice per protocol and direction, all from `--seed`: UDP meets
//! exactly the same fate for the same seed, and TCP's data direction draws the same
//! sequence (which packet each draw hits depends on TCP's timers).
//!
//! Cleanup: nothing to undo. Both namespaces, their TUN devices, addresses, routes and
//! sockets belong to this process alone and vanish when it exits — normally, on an
//! error, on Ctrl-C (the default SIGINT action is fine here) or in a crash. The host's
//! own network configuration is never touched.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::capture::Writer;
use crate::cli::RaceArgs;
use crate::net::sandbox::{Plan, SandboxError};
use crate::net::tcp_info::{TcpInfo, tcp_info};
use crate::net::wire_pair::{Side, WirePair};
use crate::render::Style;
use crate::wire::{ipv4, ipv6};

/// The receivers' ports in namespace A (private: they cannot clash with anything).
const UDP_PORT: u16 = 5001;
const TCP_PORT: u16 = 5002;
/// One message every millisecond, for both protocols: an application producing a steady
/// stream (telemetry, game state), and a pace the TUN queues never overflow at.
const INTERVAL: Duration = Duration::from_millis(1);
/// Longest a reordered packet waits for a later one to overtake it.
const HOLD_MAX: Duration = Duration::from_millis(50);
/// The sending side: B. The receiving side: A.
const SENDER: Side = Side::B;

// ---------------------------------------------------------------------------------------
// The wire's dice and queue (no I/O: tested below with made-up packets)
// ---------------------------------------------------------------------------------------

/// SplitMix64 (Steele, Lea & Flood, 2014): tiny, fast, and good enough for dice.
#[derive(Debug, Clone)]
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p` (0.0 to 1.0).
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// Which traffic a packet belongs to: the wire impairs TCP and UDP only (anything else,
/// such as IPv6's multicast listener reports, passes untouched and uncounted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Tcp = 0,
    Udp = 1,
}

/// The transport right after the IP header. An IPv6 packet with extension headers
/// (the kernel's MLD reports start with hop-by-hop options) is not TCP or UDP traffic
/// of the race, so it passes.
fn classify(packet: &[u8]) -> Option<Class> {
    let proto = match packet.first()? >> 4 {
        4 => ipv4::Packet::new_checked(packet).ok()?.protocol(),
        6 => ipv6::Packet::new_checked(packet).ok()?.next_header(),
        _ => return None,
    };
    match proto {
        6 => Some(Class::Tcp),
        17 => Some(Class::Udp),
        _ => None,
    }
}

fn dir_index(from: Side) -> usize {
    if from == SENDER { 0 } else { 1 }
}

/// The wire's settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub loss: f64,
    pub reorder: f64,
    pub delay: Duration,
    pub seed: u64,
}

/// What the wire did to one protocol's packets in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirCounts {
    /// Packets offered to the wire.
    pub packets: u64,
    pub dropped: u64,
    /// Held back and overtaken by a later packet.
    pub reordered: u64,
}

/// A packet held back for reordering.
struct Held {
    to: Side,
    bytes: Vec<u8>,
    /// Released alone at this time if no later packet came to overtake it.
    deadline: Duration,
}

/// The lossy wire as a pure engine: packets are offered with the time they came; the
/// ones due come out in order of their due time.
pub struct Lossy {
    settings: Settings,
    /// Dice per class (TCP, UDP) and direction (forward = sender → receiver, reverse).
    dice: [[Dice; 2]; 2],
    queue: BinaryHeap<Reverse<Queued>>,
    held: [[Option<Held>; 2]; 2],
    /// Per class and direction.
    pub counts: [[DirCounts; 2]; 2],
    order: u64,
}

/// A packet on its way: due time, arrival order (breaks ties), destination, bytes.
type Queued = (Duration, u64, SideKey, Vec<u8>);

/// Messages as the receiving application got them: the number (None for bytes that
/// were no message) and when.
type Arrivals = Vec<(Option<u32>, Instant)>;

/// `Side` in a form the queue can order (ties are broken by arrival order anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SideKey(u8);

impl SideKey {
    fn of(s: Side) -> SideKey {
        SideKey(if s == Side::A { 0 } else { 1 })
    }
    fn side(self) -> Side {
        if self.0 == 0 { Side::A } else { Side::B }
    }
}

impl Lossy {
    pub fn new(settings: Settings) -> Lossy {
        let die = |class: u64, dir: u64| {
            let mut d = Dice(settings.seed ^ (class << 62) ^ (dir << 61));
            // Stir, so that seeds 1 and 2 do not start alike.
            d.next();
            d
        };
        Lossy {
            settings,
            dice: [[die(0, 0), die(0, 1)], [die(1, 0), die(1, 1)]],
            queue: BinaryHeap::new(),
            held: [[None, None], [None, None]],
            counts: [[DirCounts::default(); 2]; 2],
            order: 0,
        }
    }

    fn push(&mut self, due: Duration, to: Side, bytes: Vec<u8>) {
        self.order += 1;
        self.queue
            .push(Reverse((due, self.order, SideKey::of(to), bytes)));
    }

    /// A packet that `from`'s kernel sent, at time `now`.
    pub fn offer(&mut self, now: Duration, from: Side, bytes: Vec<u8>) {
        let to = from.other();
        let Some(class) = classify(&bytes) else {
            self.push(now, to, bytes);
            return;
        };
        let (c, d) = (class as usize, dir_index(from));
        let dice = &mut self.dice[c][d];
        // Both dice are always rolled, so one decision never shifts the next.
        let lose = dice.chance(self.settings.loss);
        let hold = dice.chance(self.settings.reorder);
        self.counts[c][d].packets += 1;
        if lose {
            self.counts[c][d].dropped += 1;
            return;
        }
        let due = now + self.settings.delay;
        if hold && self.held[c][d].is_none() {
            self.held[c][d] = Some(Held {
                to,
                bytes,
                deadline: due + HOLD_MAX,
            });
            return;
        }
        self.push(due, to, bytes);
        if let Some(h) = self.held[c][d].take() {
            // Same due time, queued later: it leaves right after the packet that passed it.
            self.push(due, h.to, h.bytes);
            self.counts[c][d].reordered += 1;
        }
    }

    /// The next packet due at `now`, with the side it goes to.
    pub fn due(&mut self, now: Duration) -> Option<(Side, Vec<u8>)> {
        for c in 0..2 {
            for d in 0..2 {
                if self.held[c][d].as_ref().is_some_and(|h| h.deadline <= now) {
                    let h = self.held[c][d].take().expect("checked");
                    self.push(h.deadline, h.to, h.bytes);
                }
            }
        }
        if self.queue.peek().is_some_and(|Reverse(p)| p.0 <= now) {
            let Reverse((_, _, to, bytes)) = self.queue.pop().expect("peeked");
            return Some((to.side(), bytes));
        }
        None
    }

    /// When the next packet falls due (None: nothing in flight).
    pub fn next_due(&self) -> Option<Duration> {
        let queued = self.queue.peek().map(|Reverse(p)| p.0);
        let held = self
            .held
            .iter()
            .flatten()
            .flatten()
            .map(|h| h.deadline)
            .min();
        match (queued, held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Runs the wire until `stop` is set; returns what it did.
/// Runs the wire until `stop` is set; returns what it did. With `pcap`, every packet
/// the wire delivers is saved as it is delivered (the dropped ones are not: Wireshark
/// then marks the gaps they leave).
fn relay(
    mut pair: WirePair,
    settings: Settings,
    stop: Arc<AtomicBool>,
    mut pcap: Option<Pcap>,
) -> std::io::Result<[[DirCounts; 2]; 2]> {
    let mut wire = Lossy::new(settings);
    let start = Instant::now();
    let mut buf = vec![0u8; 65536];
    let mut pcap_error = None;
    while !stop.load(Ordering::Relaxed) {
        let now = start.elapsed();
        while let Some((to, bytes)) = wire.due(now) {
            // A write into a TUN device only fails if the device is gone; the race's own
            // deadlines then end the run.
            let _ = pair.deliver(to, &bytes);
            if let Some(w) = &mut pcap
                && pcap_error.is_none()
            {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                if let Err(e) = w.write_packet(t.as_secs() as u32, t.subsec_micros(), &bytes) {
                    pcap_error = Some(e);
                }
            }
        }
        let wait = wire
            .next_due()
            .map_or(Duration::from_millis(10), |t| t.saturating_sub(now))
            .min(Duration::from_millis(10));
        match pair.recv(&mut buf, wait) {
            Ok(Some((from, n))) => wire.offer(start.elapsed(), from, buf[..n].to_vec()),
            Ok(None) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    if let Some(e) = pcap_error {
        return Err(e);
    }
    if let Some(mut w) = pcap {
        w.flush()?;
    }
    Ok(wire.counts)
}

type Pcap = Writer<std::io::BufWriter<std::fs::File>>;

// ---------------------------------------------------------------------------------------
// Messages and the receivers' tally
// ---------------------------------------------------------------------------------------

/// Fixed-size numbered messages: `msg 0042\n`.
#[derive(Debug, Clone, Copy)]
struct Messages {
    count: u32,
    digits: usize,
}

impl Messages {
    fn new(count: u32) -> Messages {
        let digits = (count.saturating_sub(1)).to_string().len().max(4);
        Messages { count, digits }
    }

    fn len(&self) -> usize {
        4 + self.digits + 1
    }

    fn make(&self, n: u32) -> Vec<u8> {
        format!("msg {n:0w$}\n", w = self.digits).into_bytes()
    }

    /// The number in one message, if it is one of ours.
    fn parse(&self, b: &[u8]) -> Option<u32> {
        let body = b.strip_prefix(b"msg ")?.strip_suffix(b"\n")?;
        let n: u32 = std::str::from_utf8(body).ok()?.parse().ok()?;
        (b.len() == self.len() && n < self.count).then_some(n)
    }
}

/// What one receiver saw.
#[derive(Debug, Clone, Default)]
struct Tally {
    sent: u64,
    /// Distinct messages that arrived.
    delivered: u64,
    /// Arrived after every lower-numbered message that arrived at all.
    in_order: u64,
    /// Arrived after a higher-numbered one.
    out_of_order: u64,
    duplicates: u64,
    /// Bytes that were not one of the messages.
    garbled: u64,
    lost: u64,
    seconds: f64,
    latency_avg_ms: f64,
    latency_max_ms: f64,
}

/// `arrivals`: message number (or None for garbage) and when the application got it.
fn tally(
    m: Messages,
    sent: u64,
    sent_at: &[Option<Instant>],
    arrivals: &[(Option<u32>, Instant)],
    start: Instant,
    end: Instant,
) -> Tally {
    let mut t = Tally {
        sent,
        ..Tally::default()
    };
    let mut seen = vec![false; m.count as usize];
    let mut highest: Option<u32> = None;
    let mut latency_sum = 0.0;
    for &(n, at) in arrivals {
        let Some(n) = n else {
            t.garbled += 1;
            continue;
        };
        if seen[n as usize] {
            t.duplicates += 1;
            continue;
        }
        seen[n as usize] = true;
        t.delivered += 1;
        if highest.is_none_or(|h| n > h) {
            t.in_order += 1;
            highest = Some(n);
        } else {
            t.out_of_order += 1;
        }
        if let Some(s) = sent_at[n as usize] {
            let ms = at.saturating_duration_since(s).as_secs_f64() * 1000.0;
            latency_sum += ms;
            t.latency_max_ms = t.latency_max_ms.max(ms);
        }
    }
    if t.delivered > 0 {
        t.latency_avg_ms = latency_sum / t.delivered as f64;
    }
    t.lost = sent - t.delivered;
    t.seconds = end.saturating_duration_since(start).as_secs_f64();
    t
}

/// Sleeps until message `i + 1` is due.
fn pace(t0: Instant, i: u32) {
    let due = t0 + INTERVAL * (i + 1);
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
}

// ---------------------------------------------------------------------------------------
// The two runs
// ---------------------------------------------------------------------------------------

/// UDP: datagrams, fire and forget. The receiver listens until every message came or
/// the stream has been quiet long enough that nothing more can be on the wire.
fn race_udp(
    m: Messages,
    client: &UdpSocket,
    server: UdpSocket,
    to: SocketAddr,
    delay: Duration,
) -> Result<Tally> {
    let done = Arc::new(AtomicBool::new(false));
    // Anything still on the wire arrives within the delay plus a reorder hold; a
    // second on top is generous.
    let grace = delay * 2 + HOLD_MAX + Duration::from_secs(1);
    let count = m.count;
    let rx = {
        let done = done.clone();
        std::thread::spawn(move || -> std::io::Result<Arrivals> {
            server.set_read_timeout(Some(Duration::from_millis(20)))?;
            let mut got = Vec::new();
            let mut distinct = vec![false; count as usize];
            let mut left = count;
            let mut quiet_since: Option<Instant> = None;
            let mut buf = [0u8; 2048];
            while left > 0 {
                match server.recv(&mut buf) {
                    Ok(n) => {
                        let num = m.parse(&buf[..n]);
                        if let Some(k) = num
                            && !distinct[k as usize]
                        {
                            distinct[k as usize] = true;
                            left -= 1;
                        }
                        got.push((num, Instant::now()));
                    }
                    Err(e) if crate::net::sockio::is_timeout(&e) => {}
                    Err(e) => return Err(e),
                }
                if done.load(Ordering::SeqCst) {
                    let since = *quiet_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= grace {
                        break;
                    }
                }
            }
            Ok(got)
        })
    };
    let mut sent_at = vec![None; count as usize];
    let t0 = Instant::now();
    for i in 0..count {
        sent_at[i as usize] = Some(Instant::now());
        client.send_to(&m.make(i), to).context("UDP send")?;
        pace(t0, i);
    }
    done.store(true, Ordering::SeqCst);
    let got = rx
        .join()
        .map_err(|_| anyhow::anyhow!("the UDP receiver thread panicked"))?
        .context("UDP receive")?;
    let end = got.last().map_or(t0, |g| g.1);
    Ok(tally(m, count as u64, &sent_at, &got, t0, end))
}

/// What the TCP run adds to the tally.
struct TcpOutcome {
    tally: Tally,
    /// Every message reached the receiving application.
    finished: bool,
    /// Both FINs went through: the connection closed in good order.
    closed: bool,
    connected: bool,
    /// How long connect() took: the three-way handshake.
    handshake: Option<Duration>,
    sender: Option<TcpInfo>,
    receiver: Option<TcpInfo>,
}

/// TCP: a byte stream. The receiver reads until the sender's FIN (end of stream) and
/// cuts the stream into messages; both sides report their kernel's TCP_INFO.
fn race_tcp(
    m: Messages,
    listener: TcpListener,
    to: SocketAddr,
    limit: Duration,
) -> Result<TcpOutcome> {
    let start = Instant::now();
    let deadline = start + limit;
    let left = move || deadline.saturating_duration_since(Instant::now());
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let count = m.count;
    let server = std::thread::spawn(
        move || -> std::io::Result<(Arrivals, bool, Option<TcpInfo>)> {
            listener.set_nonblocking(true)?;
            let mut stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if left().is_zero() {
                            return Ok((Vec::new(), false, None));
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => return Err(e),
                }
            };
            stream.set_nonblocking(false)?;
            stream.set_read_timeout(Some(Duration::from_millis(20)))?;
            let mut got = Vec::new();
            let mut pending = Vec::new();
            let mut buf = vec![0u8; 65536];
            let mut eof = false;
            while !left().is_zero() {
                match stream.read(&mut buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        let at = Instant::now();
                        pending.extend_from_slice(&buf[..n]);
                        let whole = pending.len() / m.len() * m.len();
                        for chunk in pending[..whole].chunks(m.len()) {
                            got.push((m.parse(chunk), at));
                        }
                        pending.drain(..whole);
                    }
                    Err(e) if crate::net::sockio::is_timeout(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            if !pending.is_empty() {
                got.push((None, Instant::now()));
            }
            // Our FIN: the sender's read ends when it arrives.
            let _ = stream.shutdown(std::net::Shutdown::Write);
            // Keep the connection until the sender has read our FIN, so that our
            // kernel's count of retransmissions is complete.
            let _ = done_rx.recv_timeout(left() + Duration::from_millis(100));
            let info = tcp_info(&stream).ok();
            Ok((got, eof, info))
        },
    );
    let mut sent_at = vec![None; count as usize];
    let mut sender_info = None;
    let mut connected = false;
    let mut handshake = None;
    let mut all_read = false;
    // A SYN lost on the wire is sent again after 1 s, then 2 s, 4 s… (RFC 6298 § 5.7).
    if let Ok(mut stream) = TcpStream::connect_timeout(&to, left().max(Duration::from_millis(1))) {
        connected = true;
        stream.set_nodelay(true).context("TCP_NODELAY")?;
        let t0 = Instant::now();
        handshake = Some(t0 - start);
        let mut wrote_all = true;
        for i in 0..count {
            let rest = left();
            if rest.is_zero() {
                wrote_all = false;
                break;
            }
            stream
                .set_write_timeout(Some(rest))
                .context("SO_SNDTIMEO")?;
            sent_at[i as usize] = Some(Instant::now());
            if stream.write_all(&m.make(i)).is_err() {
                wrote_all = false;
                break;
            }
            pace(t0, i);
        }
        if wrote_all {
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
        // Wait for the receiver's FIN: then every byte and both FINs were acknowledged.
        let mut b = [0u8; 64];
        loop {
            let rest = left();
            if rest.is_zero() {
                break;
            }
            let _ = stream.set_read_timeout(Some(rest));
            match stream.read(&mut b) {
                Ok(0) => {
                    all_read = wrote_all;
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        sender_info = tcp_info(&stream).ok();
    }
    let _ = done_tx.send(());
    let (got, eof, receiver_info) = server
        .join()
        .map_err(|_| anyhow::anyhow!("the TCP receiver thread panicked"))?
        .context("TCP receive")?;
    let closed = eof && all_read;
    let end = Instant::now().min(deadline);
    let mut t = tally(m, count as u64, &sent_at, &got, start, end);
    let finished = t.delivered == count as u64;
    if finished {
        // The time until the last message was in, not until the close.
        let last = got.iter().map(|g| g.1).max().unwrap_or(start);
        t.seconds = last.saturating_duration_since(start).as_secs_f64();
    }
    Ok(TcpOutcome {
        tally: t,
        finished,
        closed,
        connected,
        handshake,
        sender: sender_info,
        receiver: receiver_info,
    })
}

// ---------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------

fn random_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut d = Dice(t.as_nanos() as u64 ^ ((std::process::id() as u64) << 32));
    d.next() % 1_000_000
}

pub fn run(args: &RaceArgs, style: Style) -> Result<()> {
    let seed = args.seed.unwrap_or_else(random_seed);
    let settings = Settings {
        loss: args.loss,
        reorder: args.reorder,
        delay: args.delay,
        seed,
    };
    let m = Messages::new(args.count);
    let (ip_a, ip_b, prefix): (IpAddr, IpAddr, u8) = if args.ipv6 {
        (
            Ipv6Addr::new(0xfd00, 0x6e6c, 0x72, 0, 0, 0, 0, 1).into(),
            Ipv6Addr::new(0xfd00, 0x6e6c, 0x72, 0, 0, 0, 0, 2).into(),
            64,
        )
    } else {
        (
            Ipv4Addr::new(10, 0, 0, 1).into(),
            Ipv4Addr::new(10, 0, 0, 2).into(),
            24,
        )
    };
    // The file first: a bad path is reported before any namespace is made.
    let pcap = match &args.write {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            // LINKTYPE_RAW: the TUN devices carry bare IP packets.
            Some(Writer::new(std::io::BufWriter::new(f), 101)?)
        }
        None => None,
    };
    let udp_to = SocketAddr::new(ip_a, UDP_PORT);
    let tcp_to = SocketAddr::new(ip_a, TCP_PORT);
    let built = WirePair::build(
        (
            "race-a",
            Plan {
                kernel: ip_a,
                netlab: ip_b,
                prefix,
            },
        ),
        (
            "race-b",
            Plan {
                kernel: ip_b,
                netlab: ip_a,
                prefix,
            },
        ),
        // In namespace A: the receivers.
        || Ok((UdpSocket::bind(udp_to)?, TcpListener::bind(tcp_to)?)),
        // In namespace B: the UDP sender (the TCP sender's socket is made by connect(),
        // later, on this thread, which stays in B).
        || UdpSocket::bind(SocketAddr::new(ip_b, 0)),
    );
    let (pair, (udp_server, tcp_listener), udp_client) = match built {
        Ok(b) => b,
        Err(e @ SandboxError::Closed(_)) => bail!("{}", e.explain("race", false)),
        Err(e) => return Err(anyhow::Error::new(e).context("building the race's wire")),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let wire = {
        let stop = stop.clone();
        std::thread::spawn(move || relay(pair, settings, stop, pcap))
    };
    let mut out = std::io::stdout().lock();
    let human = !args.json;
    if human {
        let bold = |s: &str| {
            if style.color {
                format!("\x1b[1m{s}\x1b[0m")
            } else {
                s.to_string()
            }
        };
        writeln!(
            out,
            "{}",
            bold(&format!(
                "netlab race: {} messages of {} bytes (\"msg {:0w$}\\n\" … \"msg {:0w$}\\n\"), one every millisecond, over UDP, then over TCP",
                m.count,
                m.len(),
                0,
                m.count - 1,
                w = m.digits
            ))
        )?;
        writeln!(
            out,
            "wire: {ip_b} (namespace B, the senders) ⇄ netlab ⇄ {ip_a} (namespace A, the receivers)"
        )?;
        writeln!(
            out,
            "      loss {}, reorder {} in each direction, delay {} ms; seed {seed} (--seed {seed} rolls the same dice)",
            pct(args.loss),
            pct(args.reorder),
            ms(args.delay)
        )?;
        write!(out, "\nUDP: sending {} datagrams to {udp_to} … ", m.count)?;
        out.flush()?;
    }
    let udp = race_udp(m, &udp_client, udp_server, udp_to, args.delay)?;
    if human {
        writeln!(out, "{} arrived", udp.delivered)?;
        write!(
            out,
            "TCP: connect() to {tcp_to}, {} write()s, shutdown(), read() to the end … ",
            m.count
        )?;
        out.flush()?;
    }
    let limit = Duration::from_secs(args.timeout);
    let tcp = race_tcp(m, tcp_listener, tcp_to, limit)?;
    stop.store(true, Ordering::Relaxed);
    let counts = wire
        .join()
        .map_err(|_| anyhow::anyhow!("the wire thread panicked"))?
        .context("writing the pcap file")?;
    let retrans = |i: &Option<TcpInfo>| i.as_ref().map_or(0, |i| u64::from(i.total_retrans));
    let (rs, rr) = (retrans(&tcp.sender), retrans(&tcp.receiver));
    if args.json {
        let side = |t: &Tally, retransmissions: u64| {
            json!({
                "sent": t.sent,
                "delivered": t.delivered,
                "in_order": t.in_order,
                "out_of_order": t.out_of_order,
                "lost": t.lost,
                "duplicates": t.duplicates,
                "retransmissions": retransmissions,
                "seconds": (t.seconds * 1e6).round() / 1e6,
                "latency_ms": {
                    "avg": (t.latency_avg_ms * 1e3).round() / 1e3,
                    "max": (t.latency_max_ms * 1e3).round() / 1e3,
                },
            })
        };
        let mut tcp_json = side(&tcp.tally, rs + rr);
        tcp_json["finished"] = json!(tcp.finished);
        tcp_json["closed"] = json!(tcp.closed);
        tcp_json["connected"] = json!(tcp.connected);
        tcp_json["handshake_seconds"] =
            json!(tcp.handshake.map(|d| (d.as_secs_f64() * 1e6).round() / 1e6));
        tcp_json["retransmissions_sender"] = json!(rs);
        tcp_json["retransmissions_receiver"] = json!(rr);
        let mut udp_json = side(&udp, 0);
        udp_json["finished"] = json!(true);
        let wire_json = |c: &[DirCounts; 2]| {
            let d = |x: &DirCounts| json!({"packets": x.packets, "dropped": x.dropped, "reordered": x.reordered});
            json!({
                "packets": c[0].packets + c[1].packets,
                "dropped": c[0].dropped + c[1].dropped,
                "reordered": c[0].reordered + c[1].reordered,
                "forward": d(&c[0]),
                "reverse": d(&c[1]),
            })
        };
        let v = json!({
            "tcp": tcp_json,
            "udp": udp_json,
            "wire": {
                "loss": args.loss,
                "reorder": args.reorder,
                "delay_ms": args.delay.as_secs_f64() * 1000.0,
                "seed": seed,
                "count": m.count,
                "message_bytes": m.len(),
                "timeout_seconds": args.timeout,
                "tcp": wire_json(&counts[Class::Tcp as usize]),
                "udp": wire_json(&counts[Class::Udp as usize]),
            },
        });
        writeln!(out, "{v}")?;
        return Ok(());
    }
    if tcp.finished && tcp.closed {
        writeln!(out, "all {} read", tcp.tally.delivered)?;
    } else if tcp.finished {
        writeln!(
            out,
            "all {} read, but the close (FIN, ACK) had not gone through after {} s",
            tcp.tally.delivered, args.timeout
        )?;
    } else if !tcp.connected {
        writeln!(out, "no connection within {} s", args.timeout)?;
    } else {
        writeln!(
            out,
            "stopped after {} s with {} messages read",
            args.timeout, tcp.tally.delivered
        )?;
    }
    let (t, u) = (&tcp.tally, &udp);
    let (wt, wu) = (&counts[Class::Tcp as usize], &counts[Class::Udp as usize]);
    let mut s = String::new();
    let _ = writeln!(s, "\n{:<28}{:>12}{:>12}", "", "TCP", "UDP");
    let hs = tcp
        .handshake
        .map_or("-".to_string(), |d| format!("{:.3} s", d.as_secs_f64()));
    let row = |s: &mut String, name: &str, a: String, b: String, note: &str| {
        let line = format!("{name:<28}{a:>12}{b:>12}   {note}");
        let _ = writeln!(s, "{}", line.trim_end());
    };
    row(&mut s, "sent", t.sent.to_string(), u.sent.to_string(), "");
    row(
        &mut s,
        "delivered",
        t.delivered.to_string(),
        u.delivered.to_string(),
        "distinct messages the receiving application got",
    );
    row(
        &mut s,
        "  in order",
        t.in_order.to_string(),
        u.in_order.to_string(),
        "after every lower-numbered one",
    );
    row(
        &mut s,
        "  out of order",
        t.out_of_order.to_string(),
        u.out_of_order.to_string(),
        "after a higher-numbered one",
    );
    row(
        &mut s,
        "lost",
        t.lost.to_string(),
        u.lost.to_string(),
        if tcp.finished {
            ""
        } else {
            "TCP: not delivered before the timeout"
        },
    );
    row(
        &mut s,
        "duplicates",
        t.duplicates.to_string(),
        u.duplicates.to_string(),
        "",
    );
    row(
        &mut s,
        "retransmissions",
        (rs + rr).to_string(),
        "0".into(),
        &format!("TCP_INFO total_retrans: sender {rs} + receiver {rr}; UDP never resends"),
    );
    row(
        &mut s,
        "time",
        format!("{:.3} s", t.seconds),
        format!("{:.3} s", u.seconds),
        "first packet to last message delivered",
    );
    row(
        &mut s,
        "  of which connect()",
        hs,
        "-".into(),
        "TCP's handshake (a lost SYN is resent after 1 s)",
    );
    row(
        &mut s,
        "latency avg",
        format!("{:.1} ms", t.latency_avg_ms),
        format!("{:.1} ms", u.latency_avg_ms),
        "write()/send() to the receiver's read()",
    );
    row(
        &mut s,
        "latency max",
        format!("{:.1} ms", t.latency_max_ms),
        format!("{:.1} ms", u.latency_max_ms),
        "",
    );
    let sum = |c: &[DirCounts; 2], f: fn(&DirCounts) -> u64| f(&c[0]) + f(&c[1]);
    row(
        &mut s,
        "wire: packets (fwd+rev)",
        format!("{}+{}", wt[0].packets, wt[1].packets),
        format!("{}+{}", wu[0].packets, wu[1].packets),
        "forward: sender → receiver; reverse: the answers (ACKs, SYN-ACK)",
    );
    row(
        &mut s,
        "wire: dropped",
        sum(wt, |c| c.dropped).to_string(),
        sum(wu, |c| c.dropped).to_string(),
        "",
    );
    row(
        &mut s,
        "wire: reordered",
        sum(wt, |c| c.reordered).to_string(),
        sum(wu, |c| c.reordered).to_string(),
        "held back until a later packet passed",
    );
    s.push('\n');
    for line in explain(args, &tcp, u, rs + rr, wt, wu) {
        s.push_str(&line);
        s.push('\n');
    }
    out.write_all(s.as_bytes())?;
    Ok(())
}

fn pct(p: f64) -> String {
    format!("{}%", (p * 1000.0).round() / 10.0)
}

fn ms(d: Duration) -> String {
    format!("{}", (d.as_secs_f64() * 10_000.0).round() / 10.0)
}

/// A few sentences on what the table shows.
fn explain(
    args: &RaceArgs,
    tcp: &TcpOutcome,
    u: &Tally,
    retrans: u64,
    wt: &[DirCounts; 2],
    wu: &[DirCounts; 2],
) -> Vec<String> {
    let t = &tcp.tally;
    let mut v = Vec::new();
    let udp_dropped = wu[0].dropped + wu[1].dropped;
    let tcp_dropped = wt[0].dropped + wt[1].dropped;
    if u.lost == 0 && udp_dropped == 0 {
        v.push(format!(
            "UDP delivered all {}: the wire dropped none of its datagrams — UDP itself adds no \
             reliability, it simply had nothing to lose.",
            u.sent
        ));
    } else {
        v.push(format!(
            "UDP lost {} of {} messages: each datagram the wire dropped ({udp_dropped}) is gone, since \
             UDP has no acknowledgements and never sends anything twice. What did arrive came \
             fast (at most {:.1} ms after send()).",
            u.lost, u.sent, u.latency_max_ms
        ));
    }
    if u.out_of_order > 0 {
        v.push(format!(
            "{} datagrams reached the application out of order: the wire reordered them and UDP \
             hands them up as they come. TCP's receiver holds bytes that come early until the \
             gap before them is filled, so its application saw {} out of order.",
            u.out_of_order, t.out_of_order
        ));
    }
    if tcp.finished {
        if tcp_dropped > 0 {
            v.push(format!(
                "TCP delivered all {} in order although the wire dropped {tcp_dropped} of its {} \
                 packets (data, ACKs and handshake alike): the kernels retransmitted {retrans} \
                 segments when a timer or duplicate ACKs said something was missing.",
                t.delivered,
                wt[0].packets + wt[1].packets
            ));
            v.push(format!(
                "The price is time: {:.3} s against UDP's {:.3} s, and a message behind a lost \
                 segment waits for its retransmission (up to {:.1} ms here): head-of-line blocking.",
                t.seconds, u.seconds, t.latency_max_ms
            ));
            let slow_start = tcp
                .handshake
                .is_some_and(|h| h >= Duration::from_millis(900));
            if !slow_start && t.latency_max_ms > 2000.0 {
                v.push(
                    "Seconds of waiting mean a segment, or the ACKs for it, was lost several times \
                     in a row: after each timeout TCP doubles its retransmission timer \
                     (exponential backoff, RFC 6298 § 5.5), so as not to flood a path that may be \
                     congested."
                        .to_string(),
                );
            }
            if slow_start {
                v.push(
                    "connect() took over a second: a SYN or SYN-ACK was lost and resent after the \
                     initial 1 s timeout. After such a loss TCP starts the data cautiously: one \
                     segment at a time (RFC 5681 § 3.1) and, without a round-trip sample, a 3 s \
                     retransmission timer (RFC 6298 § 5.7)."
                        .to_string(),
                );
            }
        } else {
            v.push(format!(
                "TCP delivered all {} in order; with nothing dropped, its extra cost is the \
                 handshake and the acknowledgements ({} packets on the wire for {} messages).",
                t.delivered,
                wt[0].packets + wt[1].packets,
                t.sent
            ));
        }
        if wt[0].packets < t.sent {
            v.push(format!(
                "TCP carried {} messages in {} packets (handshake and FIN included): a byte stream \
                 keeps no message boundaries, and writes queued while it waited for an ACK left \
                 as fewer, larger segments. The receiver cut the stream back into messages.",
                t.sent, wt[0].packets
            ));
        }
        if !tcp.closed {
            v.push(format!(
                "Every message was in, but the closing exchange (FIN, ACK each way) was still \
                 being retransmitted when --timeout ({} s) ran out.",
                args.timeout
            ));
        }
    } else {
        v.push(format!(
            "TCP did not finish within {} s (--timeout): after each loss of the same segment its \
             retransmission timer doubles (RFC 6298 § 5.5), so heavy loss in both directions can \
             stall it for long; {} of {} messages had arrived, in order.",
            args.timeout, t.delivered, t.sent
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 header (total length 28, protocol UDP) and 8 bytes, the last one `tag`.
    fn udp_packet(tag: u8) -> Vec<u8> {
        let mut p = vec![0u8; 28];
        p[0] = 0x45;
        p[3] = 28;
        p[9] = 17;
        p[27] = tag;
        p
    }

    fn settings(loss: f64, reorder: f64, delay_ms: u64, seed: u64) -> Settings {
        Settings {
            loss,
            reorder,
            delay: Duration::from_millis(delay_ms),
            seed,
        }
    }

    fn drain(w: &mut Lossy, now: Duration) -> Vec<(Side, u8)> {
        let mut v = Vec::new();
        while let Some((to, b)) = w.due(now) {
            v.push((to, b[27]));
        }
        v
    }

    #[test]
    fn perfect_wire_passes_everything_in_order_to_the_other_side() {
        let mut w = Lossy::new(settings(0.0, 0.0, 0, 1));
        for i in 0..5 {
            w.offer(Duration::ZERO, Side::B, udp_packet(i));
        }
        assert_eq!(
            drain(&mut w, Duration::ZERO),
            (0..5).map(|i| (Side::A, i)).collect::<Vec<_>>()
        );
        assert_eq!(w.counts[Class::Udp as usize][0].packets, 5);
    }

    #[test]
    fn total_loss_drops_everything_and_counts_it() {
        let mut w = Lossy::new(settings(1.0, 0.0, 0, 1));
        for i in 0..5 {
            w.offer(Duration::ZERO, Side::A, udp_packet(i));
        }
        assert!(drain(&mut w, Duration::from_secs(1)).is_empty());
        let c = w.counts[Class::Udp as usize][1];
        assert_eq!((c.packets, c.dropped), (5, 5));
    }

    #[test]
    fn delay_holds_packets_until_due() {
        let mut w = Lossy::new(settings(0.0, 0.0, 30, 1));
        w.offer(Duration::from_millis(10), Side::B, udp_packet(7));
        assert!(drain(&mut w, Duration::from_millis(39)).is_empty());
        assert_eq!(w.next_due(), Some(Duration::from_millis(40)));
        assert_eq!(drain(&mut w, Duration::from_millis(40)), vec![(Side::A, 7)]);
    }

    #[test]
    fn a_held_packet_leaves_right_after_the_one_that_overtook_it() {
        let mut w = Lossy::new(settings(0.0, 1.0, 0, 1));
        w.offer(Duration::ZERO, Side::B, udp_packet(1));
        assert!(drain(&mut w, Duration::ZERO).is_empty(), "1 is held");
        w.offer(Duration::from_millis(1), Side::B, udp_packet(2));
        assert_eq!(
            drain(&mut w, Duration::from_millis(1)),
            vec![(Side::A, 2), (Side::A, 1)]
        );
        assert_eq!(w.counts[Class::Udp as usize][0].reordered, 1);
        // Alone, a held packet goes after HOLD_MAX, not reordered.
        w.offer(Duration::from_millis(2), Side::B, udp_packet(3));
        assert!(drain(&mut w, Duration::from_millis(3)).is_empty());
        assert_eq!(
            drain(&mut w, Duration::from_millis(2) + HOLD_MAX),
            vec![(Side::A, 3)]
        );
        assert_eq!(w.counts[Class::Udp as usize][0].reordered, 1);
    }

    #[test]
    fn the_same_seed_drops_the_same_packets_and_another_seed_others() {
        let dropped = |seed| {
            let mut w = Lossy::new(settings(0.3, 0.0, 0, seed));
            let mut kept = Vec::new();
            for i in 0..200u32 {
                w.offer(Duration::ZERO, Side::B, udp_packet(i as u8));
                if let Some((_, b)) = w.due(Duration::ZERO) {
                    kept.push((i, b[27]));
                }
            }
            kept
        };
        assert_eq!(dropped(42), dropped(42));
        assert_ne!(dropped(42), dropped(43));
        let n = dropped(42).len();
        assert!((100..180).contains(&n), "30% loss kept {n} of 200");
    }

    #[test]
    fn other_protocols_pass_untouched_and_uncounted() {
        let mut w = Lossy::new(settings(1.0, 0.0, 0, 1));
        let mut icmp = udp_packet(9);
        icmp[9] = 1;
        w.offer(Duration::ZERO, Side::A, icmp);
        assert_eq!(drain(&mut w, Duration::ZERO), vec![(Side::B, 9)]);
        assert_eq!(w.counts, [[DirCounts::default(); 2]; 2]);
    }

    #[test]
    fn messages_round_trip_and_reject_strangers() {
        let m = Messages::new(100);
        assert_eq!(m.make(42), b"msg 0042\n");
        assert_eq!(m.len(), 9);
        assert_eq!(m.parse(b"msg 0042\n"), Some(42));
        assert_eq!(m.parse(b"msg 0100\n"), None, "beyond the count");
        assert_eq!(m.parse(b"msg 42\n"), None);
        assert_eq!(Messages::new(100_000).make(7), b"msg 00007\n");
    }

    #[test]
    fn tally_counts_order_duplicates_and_loss() {
        let m = Messages::new(5);
        let t0 = Instant::now();
        let sent: Vec<Option<Instant>> = vec![Some(t0); 5];
        let arr: Vec<(Option<u32>, Instant)> = [Some(0), Some(2), Some(1), Some(2), None, Some(4)]
            .into_iter()
            .map(|n| (n, t0))
            .collect();
        let t = tally(m, 5, &sent, &arr, t0, t0);
        assert_eq!(
            (
                t.delivered,
                t.in_order,
                t.out_of_order,
                t.duplicates,
                t.garbled,
                t.lost
            ),
            (4, 3, 1, 1, 1, 1)
        );
    }
}
