//! `netlab race`: the same numbered messages over UDP and over TCP, between real kernel
//! sockets, through a lossy wire that netlab itself is.
//!
//! The wire (`net::wire_pair`): two private, anonymous network namespaces, A holding
//! the receiving sockets (a UDP socket and a TCP listener on `10.0.0.1`), B the sending
//! ones (`10.0.0.2`), each with a TUN device routing the other address into netlab. A
//! relay thread reads every IP packet from one TUN device and writes it into the other —
//! or drops it, holds it back behind the next one, or delays it (netlab's one wire model,
//! [`crate::wiremodel`], through [`crate::net::relay`]), in
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

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::cli::RaceArgs;
use crate::net::relay::{PcapFile, Relay};
use crate::net::sandbox::{Plan, SandboxError};
use crate::net::tcp_info::{TcpInfo, tcp_info};
use crate::net::wire_pair::{Side, WirePair};
use crate::render::{Output, Paint};
use crate::wire::{ipv4, ipv6};
use crate::wiremodel::{Conditions, Counts, Dir, Link};

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

/// Which traffic a packet belongs to: the wire impairs TCP and UDP only (anything else,
/// such as IPv6's multicast listener reports, passes untouched and uncounted). Each class
/// is a lane of the wire model, with its own dice.
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

/// The wire model's lane for a packet.
#[allow(clippy::ptr_arg)] // the wire model's classifier is `fn(&P)`, P = Vec<u8>
fn lane(packet: &Vec<u8>) -> Option<usize> {
    classify(packet).map(|c| c as usize)
}

/// The wire's settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub loss: f64,
    pub reorder: f64,
    pub delay: Duration,
    pub seed: u64,
}

/// What the wire did to one protocol's packets in one direction (`lost` are its
/// dice's drops).
pub type DirCounts = Counts;

/// The race's wire: the same loss, reordering and delay both ways, one die per protocol
/// and direction from `--seed` (see [`crate::wiremodel`]).
fn wire(s: Settings) -> Link<Vec<u8>> {
    let c = Conditions {
        delay: s.delay,
        loss: s.loss,
        reorder: s.reorder,
        reorder_hold: HOLD_MAX,
        bottleneck: None,
    };
    Link::new(c, s.seed).with_lanes(2, s.seed, lane)
}

/// The wire's counts per class (TCP, UDP) and direction (forward = sender → receiver).
fn counts(link: &Link<Vec<u8>>) -> [[DirCounts; 2]; 2] {
    let by = |c: Class| {
        [
            link.counts(Dir::Forward, c as usize),
            link.counts(Dir::Backward, c as usize),
        ]
    };
    [by(Class::Tcp), by(Class::Udp)]
}

/// Messages as the receiving application got them: the number (None for bytes that
/// were no message) and when.
type Arrivals = Vec<(Option<u32>, Instant)>;

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

/// A seed for a run without `--seed` (printed, so the run can be repeated).
fn random_seed() -> u64 {
    crate::random::os_u64() % 1_000_000
}

pub fn run(args: &RaceArgs, out: &Output) -> Result<()> {
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
        Some(path) => Some(
            PcapFile::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        ),
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
    let tap = pcap.as_ref().map(PcapFile::tap);
    let relay = Relay::spawn(pair, wire(settings), SENDER, Instant::now(), false, tap);
    let human = !args.json;
    if human {
        out.line(out.paint(
            Paint::HEADING,
            &format!(
                "netlab race: {} messages of {} bytes (\"msg {:0w$}\\n\" … \"msg {:0w$}\\n\"), one every millisecond, over UDP, then over TCP",
                m.count,
                m.len(),
                0,
                m.count - 1,
                w = m.digits
            ),
        ))?;
        out.line(format_args!(
            "wire: {ip_b} (namespace B, the senders) ⇄ netlab ⇄ {ip_a} (namespace A, the receivers)"
        ))?;
        out.line(format_args!(
            "      loss {}, reorder {} in each direction, delay {} ms; seed {seed} (--seed {seed} rolls the same dice)",
            pct(args.loss),
            pct(args.reorder),
            ms(args.delay)
        ))?;
        out.print(format_args!(
            "\nUDP: sending {} datagrams to {udp_to} … ",
            m.count
        ))?;
    }
    let udp = race_udp(m, &udp_client, udp_server, udp_to, args.delay)?;
    if human {
        out.line(format_args!("{} arrived", udp.delivered))?;
        out.print(format_args!(
            "TCP: connect() to {tcp_to}, {} write()s, shutdown(), read() to the end … ",
            m.count
        ))?;
    }
    let limit = Duration::from_secs(args.timeout);
    let tcp = race_tcp(m, tcp_listener, tcp_to, limit)?;
    let report = relay.finish().context("writing the pcap file")?;
    if let Some(w) = &pcap {
        w.flush().context("writing the pcap file")?;
    }
    let counts = counts(&report.link);
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
            let d = |x: &DirCounts| json!({"packets": x.packets, "dropped": x.lost, "reordered": x.reordered});
            json!({
                "packets": c[0].packets + c[1].packets,
                "dropped": c[0].lost + c[1].lost,
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
        out.line(v)?;
        return Ok(());
    }
    if tcp.finished && tcp.closed {
        out.line(format_args!("all {} read", tcp.tally.delivered))?;
    } else if tcp.finished {
        out.line(format_args!(
            "all {} read, but the close (FIN, ACK) had not gone through after {} s",
            tcp.tally.delivered, args.timeout
        ))?;
    } else if !tcp.connected {
        out.line(format_args!("no connection within {} s", args.timeout))?;
    } else {
        out.line(format_args!(
            "stopped after {} s with {} messages read",
            args.timeout, tcp.tally.delivered
        ))?;
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
        sum(wt, |c| c.lost).to_string(),
        sum(wu, |c| c.lost).to_string(),
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
    out.print(s)?;
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
    let udp_dropped = wu[0].lost + wu[1].lost;
    let tcp_dropped = wt[0].lost + wt[1].lost;
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

    #[test]
    fn the_wire_gives_tcp_and_udp_their_own_dice_and_leaves_other_traffic_alone() {
        // (The wire model's behaviour is tested in `wiremodel`; here, the race's use.)
        let mut w = wire(settings(1.0, 0.0, 0, 1));
        let mut icmp = udp_packet(9);
        icmp[9] = 1;
        w.offer(Duration::ZERO, Dir::Backward, icmp);
        w.offer(Duration::ZERO, Dir::Forward, udp_packet(1));
        let mut tcp = udp_packet(2);
        tcp[9] = 6;
        w.offer(Duration::ZERO, Dir::Forward, tcp);
        let got: Vec<u8> = std::iter::from_fn(|| w.pop_due(Duration::ZERO))
            .map(|d| d.packet[27])
            .collect();
        assert_eq!(got, [9], "ICMP passes; TCP and UDP meet 100% loss");
        let c = counts(&w);
        assert_eq!(c[Class::Udp as usize][0].lost, 1);
        assert_eq!(c[Class::Tcp as usize][0].lost, 1);
        assert_eq!(c[Class::Udp as usize][1], DirCounts::default());
    }

    #[test]
    fn the_same_seed_loses_the_same_udp_packets() {
        let kept = |seed| {
            let mut w = wire(settings(0.3, 0.0, 0, seed));
            (0..200u32)
                .filter(|i| {
                    w.offer(Duration::ZERO, Dir::Forward, udp_packet(*i as u8));
                    w.pop_due(Duration::ZERO).is_some()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(kept(42), kept(42));
        assert_ne!(kept(42), kept(43));
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
