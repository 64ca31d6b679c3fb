//! Bulk transfers through a bottleneck, watched through the sender's `TCP_INFO`: the
//! experiment behind `netlab congestion`.
//!
//! Two private namespaces ([`WirePair`]) with netlab as the wire ([`Relay`]) between
//! them. The wire's forward direction (sender → receiver) is the bottleneck: a rate, a
//! drop-tail queue, a delay and optional random loss ([`crate::wiremodel::Conditions`]);
//! the ACKs come back with the delay only. Namespace B holds the senders, A the receiver.
//! Each flow writes its bytes as fast as the kernel takes them, while this thread samples
//! every sender's `TCP_INFO` (the kernel's own cwnd, ssthresh, RTT, delivery rate …) at a
//! fixed interval. The queue's drops and delays come from the wire's log, on the same
//! clock.
//!
//! Privileges: those of [`crate::net::sandbox`] (root, or a user namespace).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::net::relay::{Relay, Seen, Tap};
use crate::net::sandbox::{Plan, SandboxError};
use crate::net::tcp_info::{TcpInfo, tcp_info};
use crate::net::wire_pair::{Side, WirePair};
use crate::wiremodel::{Conditions, Dir, Fate, Link, Loss};

/// The receiver's port in namespace A (private: it cannot clash with anything).
const PORT: u16 = 5003;

/// What to run.
pub struct BulkPlan {
    /// `[forward (sender → receiver), backward]`.
    pub conditions: [Conditions; 2],
    pub seed: u64,
    /// Bytes each flow sends.
    pub bytes: u64,
    pub flows: usize,
    /// The kernel's congestion-control algorithm for the senders (`TCP_CONGESTION`), or
    /// `None` for the system's default.
    pub cc: Option<String>,
    pub sample_every: Duration,
    /// The run stops after this long even if a flow has not finished.
    pub timeout: Duration,
    /// Sees every packet the wire delivers (e.g. to write a pcap).
    pub tap: Option<Tap>,
}

/// One look at one sender's `TCP_INFO`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub flow: usize,
    /// Since the senders started.
    pub t: Duration,
    pub info: TcpInfo,
}

impl Sample {
    /// The congestion window in bytes (the kernel counts segments of `snd_mss`).
    pub fn cwnd_bytes(&self) -> u64 {
        u64::from(self.info.snd_cwnd) * u64::from(self.info.snd_mss)
    }

    /// ssthresh in segments, or `None` while it has Linux's "infinite" initial value
    /// (0x7fffffff): no loss yet.
    pub fn ssthresh(&self) -> Option<u32> {
        (self.info.snd_ssthresh < 0x7fff_0000).then_some(self.info.snd_ssthresh)
    }
}

/// How one flow went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Bytes the receiving application read.
    pub received: u64,
    /// When the receiver read the last byte (`None`: not within the timeout).
    pub finished: Option<Duration>,
    /// The sender's retransmitted segments (`TCP_INFO` total_retrans) at the end.
    pub retransmits: u32,
}

/// What happened.
pub struct BulkRun {
    pub samples: Vec<Sample>,
    pub flows: Vec<Flow>,
    /// The congestion-control algorithm the senders used.
    pub cc: String,
    /// Every packet the wire saw, with its fate (times since the senders started).
    pub wire: Vec<Seen>,
    /// The link, with its counts.
    pub link: Link<Vec<u8>>,
    /// The senders' address and the receiver's.
    pub sender: IpAddr,
    pub receiver: SocketAddr,
}

impl BulkRun {
    /// The bottleneck's drops (congestion losses), when they happened.
    pub fn queue_drops(&self) -> Vec<Duration> {
        self.wire
            .iter()
            .filter(|s| s.dir == Dir::Forward && s.fate == Fate::Lost(Loss::QueueFull))
            .map(|s| s.at)
            .collect()
    }

    /// Random losses on the forward path (`--loss`), when they happened.
    pub fn random_losses(&self) -> Vec<Duration> {
        self.wire
            .iter()
            .filter(|s| s.dir == Dir::Forward && s.fate == Fate::Lost(Loss::Chance))
            .map(|s| s.at)
            .collect()
    }

    /// How long each forward packet waited in the queue, when it arrived there.
    pub fn queueing(&self) -> Vec<(Duration, Duration)> {
        self.wire
            .iter()
            .filter_map(|s| match (s.dir, s.fate) {
                (Dir::Forward, Fate::Sent { queued, .. }) => Some((s.at, queued)),
                _ => None,
            })
            .collect()
    }
}

/// Why the run could not happen.
#[derive(Debug)]
pub enum BulkError {
    Sandbox(SandboxError),
    /// The kernel refused the congestion-control algorithm; `available` lists what it has.
    UnknownCc {
        name: String,
        available: Vec<String>,
    },
    Io(&'static str, io::Error),
}

impl std::fmt::Display for BulkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BulkError::Sandbox(e) => write!(f, "{e}"),
            BulkError::UnknownCc { name, available } => write!(
                f,
                "the kernel has no congestion control `{name}`; it offers: {}",
                available.join(", ")
            ),
            BulkError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for BulkError {}

/// The algorithms this kernel can use now
/// (`/proc/sys/net/ipv4/tcp_available_congestion_control`).
pub fn available_cc() -> Vec<String> {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Runs the transfer and returns what the kernel and the wire saw.
pub fn run(plan: BulkPlan) -> Result<BulkRun, BulkError> {
    let receiver_ip: IpAddr = Ipv4Addr::new(10, 0, 0, 1).into();
    let sender_ip: IpAddr = Ipv4Addr::new(10, 0, 0, 2).into();
    let to = SocketAddr::new(receiver_ip, PORT);
    let (pair, listener, ()) = WirePair::build(
        (
            "cc-a",
            Plan {
                kernel: receiver_ip,
                netlab: sender_ip,
                prefix: 24,
            },
        ),
        (
            "cc-b",
            Plan {
                kernel: sender_ip,
                netlab: receiver_ip,
                prefix: 24,
            },
        ),
        || TcpListener::bind(to),
        || Ok(()),
    )
    .map_err(BulkError::Sandbox)?;
    let link = Link::asymmetric(plan.conditions.clone(), plan.seed);
    let start = Instant::now();
    let relay = Relay::spawn(pair, link, Side::B, start, true, plan.tap);

    // The receiver: one thread per flow, reading to the end.
    let flows = plan.flows.max(1);
    let receivers = std::thread::spawn(move || -> io::Result<Vec<(u64, Option<Instant>)>> {
        let mut handles = Vec::new();
        for _ in 0..flows {
            let (mut s, _) = listener.accept()?;
            handles.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                let mut n = 0u64;
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => return (n, Some(Instant::now())),
                        Ok(k) => n += k as u64,
                        Err(_) => return (n, None),
                    }
                }
            }));
        }
        Ok(handles
            .into_iter()
            .map(|h| h.join().unwrap_or((0, None)))
            .collect())
    });

    // The senders, made on this thread, which stays in namespace B.
    let mut senders = Vec::new();
    let mut cc_used = String::new();
    for _ in 0..flows {
        let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
            .map_err(|e| BulkError::Io("socket()", e))?;
        if let Some(name) = &plan.cc
            && s.set_tcp_congestion(name.as_bytes()).is_err()
        {
            return Err(BulkError::UnknownCc {
                name: name.clone(),
                available: available_cc(),
            });
        }
        s.set_read_timeout(Some(plan.timeout))
            .map_err(|e| BulkError::Io("setsockopt(SO_RCVTIMEO)", e))?;
        s.connect_timeout(&to.into(), Duration::from_secs(10))
            .map_err(|e| BulkError::Io("connect() through the wire", e))?;
        if cc_used.is_empty() {
            cc_used = s
                .tcp_congestion()
                .map(|v| {
                    String::from_utf8_lossy(&v)
                        .trim_end_matches('\0')
                        .to_string()
                })
                .unwrap_or_default();
        }
        senders.push(Arc::new(TcpStream::from(s)));
    }
    let t0 = start.elapsed();
    let bytes = plan.bytes;
    let writers: Vec<_> = senders
        .iter()
        .map(|s| {
            let s = s.clone();
            std::thread::spawn(move || -> io::Result<()> {
                let chunk = vec![0x61u8; 1 << 16];
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    (&*s).write_all(&chunk[..n])?;
                    left -= n as u64;
                }
                s.shutdown(Shutdown::Write)?;
                // Wait for the receiver's close: every byte is then acknowledged.
                let mut b = [0u8; 64];
                while (&*s).read(&mut b)? > 0 {}
                Ok(())
            })
        })
        .collect();

    // Sample every sender until all writers are done (or the timeout).
    let mut samples = Vec::new();
    let deadline = start + t0 + plan.timeout;
    let mut next = Instant::now();
    loop {
        let t = start.elapsed().saturating_sub(t0);
        for (flow, s) in senders.iter().enumerate() {
            if let Ok(info) = tcp_info(&**s) {
                samples.push(Sample { flow, t, info });
            }
        }
        if writers.iter().all(|w| w.is_finished()) || Instant::now() >= deadline {
            break;
        }
        next += plan.sample_every;
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    // Past the deadline, end the flows: closing the senders unblocks everyone.
    for s in &senders {
        let _ = s.shutdown(Shutdown::Both);
    }
    for w in writers {
        let _ = w.join();
    }
    let received = receivers
        .join()
        .map_err(|_| BulkError::Io("the receiver", io::Error::other("panicked")))?
        .map_err(|e| BulkError::Io("accept()", e))?;
    let report = relay.finish().map_err(|e| BulkError::Io("the wire", e))?;
    let since = |at: Instant| at.saturating_duration_since(start).saturating_sub(t0);
    let flows = senders
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (n, done) = received.get(i).copied().unwrap_or((0, None));
            Flow {
                received: n,
                finished: done.filter(|_| n >= bytes).map(since),
                retransmits: tcp_info(&**s).map(|i| i.total_retrans).unwrap_or(0),
            }
        })
        .collect();
    let wire = report
        .log
        .into_iter()
        .map(|mut s| {
            s.at = s.at.saturating_sub(t0);
            s
        })
        .collect();
    Ok(BulkRun {
        samples,
        flows,
        cc: cc_used,
        wire,
        link: report.link,
        sender: sender_ip,
        receiver: to,
    })
}

/// The run in a few numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Bytes the receivers read, in bits per second of the transfer's duration.
    pub goodput_bps: f64,
    /// From the first write to the last byte read (or to the timeout).
    pub seconds: f64,
    /// Every flow finished within the timeout.
    pub complete: bool,
    /// Segments the senders retransmitted.
    pub retransmits: u64,
    /// The smallest RTT the kernel saw: the path without queueing, ms.
    pub base_rtt_ms: f64,
    /// The largest smoothed RTT sampled, ms.
    pub max_rtt_ms: f64,
    /// The longest wait in the bottleneck's queue, ms.
    pub max_queue_ms: f64,
    /// Packets the full queue dropped.
    pub queue_drops: usize,
    /// Packets lost at random (`--loss`).
    pub random_losses: usize,
    /// Times a sender's congestion control cut its window: entries into the kernel's
    /// "recovery", "loss" or "cwr" states.
    pub reductions: usize,
}

/// Sums up a run.
pub fn summarize(run: &BulkRun) -> Summary {
    let received: u64 = run.flows.iter().map(|f| f.received).sum();
    let complete = run.flows.iter().all(|f| f.finished.is_some());
    let end = run
        .flows
        .iter()
        .filter_map(|f| f.finished)
        .max()
        .or_else(|| run.samples.last().map(|s| s.t))
        .unwrap_or_default();
    let seconds = end.as_secs_f64();
    let goodput_bps = if seconds > 0.0 {
        received as f64 * 8.0 / seconds
    } else {
        0.0
    };
    let base_rtt_us = run
        .samples
        .iter()
        .filter_map(|s| s.info.min_rtt_us.filter(|r| *r > 0))
        .min()
        .or_else(|| {
            run.samples
                .iter()
                .map(|s| s.info.rtt_us)
                .filter(|r| *r > 0)
                .min()
        })
        .unwrap_or(0);
    let max_rtt_us = run.samples.iter().map(|s| s.info.rtt_us).max().unwrap_or(0);
    let max_queue = run
        .queueing()
        .into_iter()
        .map(|(_, q)| q)
        .max()
        .unwrap_or_default();
    Summary {
        goodput_bps,
        seconds,
        complete,
        retransmits: run.flows.iter().map(|f| u64::from(f.retransmits)).sum(),
        base_rtt_ms: f64::from(base_rtt_us) / 1000.0,
        max_rtt_ms: f64::from(max_rtt_us) / 1000.0,
        max_queue_ms: max_queue.as_secs_f64() * 1000.0,
        queue_drops: run.queue_drops().len(),
        random_losses: run.random_losses().len(),
        reductions: reductions(&run.samples),
    }
}

/// Entries into a reduced-window state, per flow, summed.
pub fn reductions(samples: &[Sample]) -> usize {
    let cut = |s: &str| matches!(s, "recovery" | "loss" | "cwr");
    let flows = samples.iter().map(|s| s.flow).max().map_or(0, |m| m + 1);
    let mut n = 0;
    for f in 0..flows {
        let mut was = false;
        for s in samples.iter().filter(|s| s.flow == f) {
            let now = cut(s.info.ca_state);
            if now && !was {
                n += 1;
            }
            was = now;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(flow: usize, t_ms: u64, cwnd: u32, ca: &'static str) -> Sample {
        Sample {
            flow,
            t: Duration::from_millis(t_ms),
            info: TcpInfo {
                state: "ESTABLISHED",
                rtt_us: 40_000 + t_ms as u32,
                rttvar_us: 1000,
                rto_us: 240_000,
                snd_cwnd: cwnd,
                snd_ssthresh: 0x7fff_ffff,
                snd_mss: 1448,
                rcv_mss: 536,
                unacked: cwnd,
                total_retrans: 0,
                bytes_acked: None,
                bytes_received: None,
                segs_out: None,
                segs_in: None,
                bytes_sent: None,
                bytes_retrans: None,
                ca_state: ca,
                min_rtt_us: Some(40_000),
                delivery_rate: None,
            },
        }
    }

    #[test]
    fn reductions_count_entries_into_recovery_per_flow() {
        let s = vec![
            sample(0, 0, 10, "open"),
            sample(1, 0, 10, "open"),
            sample(0, 10, 20, "disorder"),
            sample(0, 20, 10, "recovery"),
            sample(1, 20, 10, "loss"),
            sample(0, 30, 10, "recovery"),
            sample(0, 40, 11, "open"),
            sample(0, 50, 6, "recovery"),
        ];
        assert_eq!(reductions(&s), 3);
        assert_eq!(s[0].cwnd_bytes(), 14_480);
        assert_eq!(s[0].ssthresh(), None);
    }
}
