//! Latency TCP adds on purpose, measured: write-write-read rounds through netlab's wire,
//! the experiment behind `netlab nagle`.
//!
//! A client (namespace B) sends a request in two small `write()`s — a header, then a body
//! — and waits for the reply; the server (namespace A) answers once it has both. The wire
//! between them adds a delay each way. Two mechanisms, each sensible alone, meet here:
//!
//! - **Nagle's algorithm** (RFC 896; RFC 9293 § 3.7.4): while a small segment is
//!   unacknowledged, the sender holds further small data back, so a typing user does not
//!   send one packet per key. The client's second write waits for the ACK of the first.
//! - **Delayed ACKs** (RFC 9293 § 3.8.6.3; RFC 1122 § 4.2.3.2): the receiver does not
//!   acknowledge at once but waits (Linux: about 40 ms) for data of its own to carry the
//!   ACK. The server has no reply yet — it waits for the body — so its ACK waits too.
//!
//! Each waits for the other until the delayed-ACK timer breaks the tie. `TCP_NODELAY`
//! turns Nagle off (both writes leave at once); `TCP_QUICKACK` on the server turns the
//! delayed ACK off; `TCP_CORK` on the client holds both writes and sends them as one
//! segment when uncorked.
//!
//! Privileges: those of [`crate::net::sandbox`] (root, or a user namespace).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::net::relay::{Relay, Seen, Tap};
use crate::net::sandbox::{Plan, SandboxError};
use crate::net::wire_pair::{Side, WirePair};
use crate::wire::{ipv4, tcp};
use crate::wiremodel::{Conditions, Dir, Link};

/// The server's port in namespace A.
const PORT: u16 = 5004;

/// How the two ends are set up for one series of rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The defaults: Nagle on at the client, delayed ACKs at the server.
    Nagle,
    /// `TCP_NODELAY` at the client.
    NoDelay,
    /// Nagle on, but the server sets `TCP_QUICKACK` after every read.
    QuickAck,
    /// The client corks (`TCP_CORK`), writes both parts, uncorks.
    Cork,
}

impl Variant {
    /// The name in output and JSON: "nagle", "nodelay", "quickack", "cork".
    pub fn name(self) -> &'static str {
        match self {
            Variant::Nagle => "nagle",
            Variant::NoDelay => "nodelay",
            Variant::QuickAck => "quickack",
            Variant::Cork => "cork",
        }
    }
}

/// What to run.
pub struct RoundsPlan {
    /// One-way delay of the wire.
    pub delay: Duration,
    pub rounds: usize,
    pub variants: Vec<Variant>,
    /// Sizes of the two writes and of the reply.
    pub first: usize,
    pub second: usize,
    pub reply: usize,
    pub tap: Option<Tap>,
}

/// One variant's rounds.
#[derive(Debug, Clone)]
pub struct Series {
    pub variant: Variant,
    /// Each round's (start, latency): first write to the reply's last byte read; the
    /// start counts from the wire's clock.
    pub rounds: Vec<(Duration, Duration)>,
}

impl Series {
    /// Latencies sorted, for percentiles.
    fn sorted(&self) -> Vec<Duration> {
        let mut v: Vec<Duration> = self.rounds.iter().map(|r| r.1).collect();
        v.sort();
        v
    }

    /// The `p`-th percentile (0–100), nearest rank.
    pub fn percentile(&self, p: f64) -> Duration {
        let v = self.sorted();
        if v.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    pub fn min(&self) -> Duration {
        self.sorted().first().copied().unwrap_or_default()
    }

    pub fn median(&self) -> Duration {
        self.percentile(50.0)
    }

    /// The round whose latency is the median's, to show as an example.
    pub fn typical(&self) -> Option<(Duration, Duration)> {
        let m = self.median();
        self.rounds.iter().copied().find(|r| r.1 == m)
    }
}

/// Everything the experiment saw.
pub struct RoundsRun {
    pub series: Vec<Series>,
    /// Every packet on the wire (forward: client → server).
    pub wire: Vec<Seen>,
}

/// Runs every variant's rounds over one wire.
pub fn run(plan: RoundsPlan) -> Result<RoundsRun, RoundsError> {
    let server_ip: IpAddr = Ipv4Addr::new(10, 0, 0, 1).into();
    let client_ip: IpAddr = Ipv4Addr::new(10, 0, 0, 2).into();
    let to = SocketAddr::new(server_ip, PORT);
    let (pair, listener, ()) = WirePair::build(
        (
            "nagle-a",
            Plan {
                kernel: server_ip,
                netlab: client_ip,
                prefix: 24,
            },
        ),
        (
            "nagle-b",
            Plan {
                kernel: client_ip,
                netlab: server_ip,
                prefix: 24,
            },
        ),
        || TcpListener::bind(to),
        || Ok(()),
    )
    .map_err(RoundsError::Sandbox)?;
    let link = Link::new(Conditions::delay(plan.delay), 0);
    let start = Instant::now();
    let relay = Relay::spawn(pair, link, Side::B, start, true, plan.tap);
    let request = plan.first + plan.second;
    let reply = vec![b'R'; plan.reply.max(1)];
    let variants = plan.variants.clone();
    let server = std::thread::spawn(move || -> io::Result<()> {
        for v in variants {
            let (mut s, _) = listener.accept()?;
            let mut buf = vec![0u8; request];
            loop {
                let mut got = 0;
                while got < request {
                    let n = s.read(&mut buf[got..])?;
                    if n == 0 {
                        break;
                    }
                    got += n;
                    if v == Variant::QuickAck {
                        set_int(&s, libc::TCP_QUICKACK, 1)?;
                    }
                }
                if got < request {
                    break;
                }
                s.write_all(&reply)?;
            }
        }
        Ok(())
    });
    let first = vec![b'h'; plan.first.max(1)];
    let second = vec![b'b'; plan.second.max(1)];
    let mut series = Vec::new();
    for &v in &plan.variants {
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(10))
            .map_err(|e| RoundsError::Io("connect() through the wire", e))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| RoundsError::Io("SO_RCVTIMEO", e))?;
        if v == Variant::NoDelay {
            s.set_nodelay(true)
                .map_err(|e| RoundsError::Io("TCP_NODELAY", e))?;
        }
        let mut rounds = Vec::new();
        let mut back = vec![0u8; plan.reply.max(1)];
        for _ in 0..plan.rounds {
            let t = start.elapsed();
            let io = (|| -> io::Result<()> {
                if v == Variant::Cork {
                    set_int(&s, libc::TCP_CORK, 1)?;
                }
                s.write_all(&first)?;
                s.write_all(&second)?;
                if v == Variant::Cork {
                    set_int(&s, libc::TCP_CORK, 0)?;
                }
                s.read_exact(&mut back)
            })();
            io.map_err(|e| RoundsError::Io("a round", e))?;
            rounds.push((t, start.elapsed() - t));
        }
        series.push(Series { variant: v, rounds });
    }
    server
        .join()
        .map_err(|_| RoundsError::Io("the server", io::Error::other("panicked")))?
        .map_err(|e| RoundsError::Io("the server", e))?;
    let report = relay.finish().map_err(|e| RoundsError::Io("the wire", e))?;
    Ok(RoundsRun {
        series,
        wire: report.log,
    })
}

fn set_int(s: &impl AsRawFd, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: an int option on a socket we own, for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Why the rounds could not run.
#[derive(Debug)]
pub enum RoundsError {
    Sandbox(SandboxError),
    Io(&'static str, io::Error),
}

impl std::fmt::Display for RoundsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoundsError::Sandbox(e) => write!(f, "{e}"),
            RoundsError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for RoundsError {}

/// A TCP segment as the wire saw it, for the annotated round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireSegment {
    pub at: Duration,
    /// `Forward`: client → server.
    pub dir: Dir,
    pub flags: u16,
    pub payload: usize,
}

/// The TCP segments offered to the wire between `from` and `to`.
pub fn segments(wire: &[Seen], from: Duration, to: Duration) -> Vec<WireSegment> {
    wire.iter()
        .filter(|s| s.at >= from && s.at <= to)
        .filter_map(|s| {
            let ip = ipv4::Packet::new_checked(&s.head[..]).ok()?;
            if ip.protocol() != tcp::PROTOCOL {
                return None;
            }
            let hl = usize::from(ip.header_len());
            let total = usize::from(ip.total_len());
            let t = tcp::Packet::new_checked(s.head.get(hl..)?).ok()?;
            let thl = usize::from(t.header_len());
            Some(WireSegment {
                at: s.at,
                dir: s.dir,
                flags: t.flags(),
                payload: total.saturating_sub(hl + thl),
            })
        })
        .collect()
}

/// One round explained, segment by segment: what left and when, and why then.
pub fn explain(segs: &[WireSegment], start: Duration, delay: Duration) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut last_client_data: Option<Duration> = None;
    let mut last_server_in: Option<Duration> = None;
    let mut data_seen = 0;
    for s in segs {
        let t = s.at.saturating_sub(start);
        let ms = t.as_secs_f64() * 1000.0;
        let what = if s.payload > 0 {
            format!("{} bytes", s.payload)
        } else if s.flags & tcp::flags::SYN != 0 {
            "SYN".to_string()
        } else if s.flags & tcp::flags::FIN != 0 {
            "FIN".to_string()
        } else {
            "ACK".to_string()
        };
        let (arrow, why) = match s.dir {
            Dir::Forward => {
                let why = if s.payload > 0 {
                    data_seen += 1;
                    let w = match (data_seen, last_server_in) {
                        (1, _) => "the first write leaves at once".to_string(),
                        (_, Some(a))
                            if s.at >= a && s.at - a <= delay + Duration::from_millis(5) =>
                        {
                            "the next write, sent as soon as the ACK for the previous one \
                             arrived: Nagle's algorithm held it back until then"
                                .to_string()
                        }
                        _ => "the next write, sent at once".to_string(),
                    };
                    last_client_data = Some(s.at);
                    w
                } else {
                    "the client acknowledges the reply".to_string()
                };
                ("client → server", why)
            }
            Dir::Backward => {
                let arrived = last_client_data.map(|c| c + delay);
                let waited = arrived.map(|a| s.at.saturating_sub(a));
                let why = if s.payload > 0 {
                    "the reply (it carries the ACK of the request)".to_string()
                } else {
                    match waited {
                        Some(w) if w >= Duration::from_millis(10) => format!(
                            "the server's delayed ACK: it waited {:.0} ms for data of its own \
                             to carry it (Linux's delayed-ACK timer is about 40 ms)",
                            w.as_secs_f64() * 1000.0
                        ),
                        _ => "the server acknowledges at once".to_string(),
                    }
                };
                last_server_in = Some(s.at + delay);
                ("server → client", why)
            }
        };
        if s.dir == Dir::Forward && s.payload == 0 && data_seen == 0 {
            // The client's ACK of the previous round's reply.
            continue;
        }
        out.push((format!("{ms:8.1} ms  {arrow}  {what}"), why));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let s = Series {
            variant: Variant::Nagle,
            rounds: [50, 10, 40, 20, 30]
                .into_iter()
                .map(|l| (Duration::ZERO, ms(l)))
                .collect(),
        };
        assert_eq!(s.min(), ms(10));
        assert_eq!(s.median(), ms(30));
        assert_eq!(s.percentile(99.0), ms(50));
        assert_eq!(s.typical().map(|r| r.1), Some(ms(30)));
    }

    #[test]
    fn a_nagle_round_is_explained() {
        // 10 ms each way: the header at 0, the server's delayed ACK at 50 (it arrived at
        // 10 and waited 40), the body at 60, the reply at 70.
        let segs = [
            (0, Dir::Forward, 100),
            (50, Dir::Backward, 0),
            (60, Dir::Forward, 100),
            (70, Dir::Backward, 10),
        ]
        .map(|(t, dir, payload)| WireSegment {
            at: ms(t),
            dir,
            flags: tcp::flags::ACK | if payload > 0 { tcp::flags::PSH } else { 0 },
            payload,
        });
        let lines = explain(&segs, Duration::ZERO, ms(10));
        assert_eq!(lines[0].0, "     0.0 ms  client → server  100 bytes");
        assert!(
            lines[0].1.contains("first write leaves at once"),
            "{lines:?}"
        );
        assert!(
            lines[1].1.contains("delayed ACK: it waited 40 ms"),
            "{lines:?}"
        );
        assert!(
            lines[2].1.contains("Nagle's algorithm held it back"),
            "{lines:?}"
        );
        assert!(lines[3].1.contains("the reply"), "{lines:?}");
    }
}
