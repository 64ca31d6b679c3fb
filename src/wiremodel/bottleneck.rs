//! A bottleneck: a link slower than what feeds it, and the router queue in front of it.
//!
//! Where a fast network meets a slow link (a home uplink, a congested peering point),
//! packets arrive faster than they can leave. The router queues them, up to a limit, and
//! drops what does not fit ("drop-tail"). Those drops are TCP's congestion signal; the
//! waiting in the queue is the delay a full buffer adds to every packet behind it —
//! "bufferbloat" when the buffer is large.
//!
//! The rate is a **token bucket** (as Linux's `tc tbf` shapes traffic): tokens (bytes of
//! permission) drip in at the link's rate, up to `burst` bytes; a packet leaves once the
//! bucket holds as many tokens as the packet has bytes, and spends them. Over any long
//! stretch at most `rate` leaves, while a short burst after a quiet moment passes at
//! once. The queue is FIFO: a packet also waits for every packet ahead of it.
//!
//! Everything is computed when a packet arrives — its departure time follows from the
//! tokens and the packets ahead — so the model needs no clock of its own.
//!
//! Contract: pure; imports only `std`.

use std::collections::VecDeque;
use std::time::Duration;

/// A bottleneck's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bottleneck {
    /// The link's rate, bits per second (10 Mbit/s = 10_000_000).
    pub rate_bps: u64,
    /// The token bucket's size, bytes: how much may leave back to back after an idle
    /// moment. At least one packet always fits.
    pub burst_bytes: usize,
    /// The queue's capacity, packets waiting to leave; one more is dropped (drop-tail).
    pub queue_packets: usize,
}

impl Bottleneck {
    /// A link of `rate_bps` with a queue of `queue_packets` and a one-packet bucket (no
    /// bursts faster than the rate).
    pub fn new(rate_bps: u64, queue_packets: usize) -> Bottleneck {
        Bottleneck {
            rate_bps: rate_bps.max(1),
            burst_bytes: 1514,
            queue_packets,
        }
    }

    /// How long `bytes` take to drain at the link's rate.
    pub fn transmission_time(&self, bytes: usize) -> Duration {
        Duration::from_secs_f64(bytes as f64 * 8.0 / self.rate_bps.max(1) as f64)
    }
}

/// The queue's state: tokens, and when each waiting packet leaves.
#[derive(Debug, Clone)]
pub(super) struct Queue {
    pub(super) cfg: Bottleneck,
    /// Tokens (bytes) in the bucket at time `at`.
    tokens: f64,
    at: Duration,
    /// Departure times of the packets admitted and not yet gone, oldest first.
    departures: VecDeque<Duration>,
}

impl Queue {
    pub(super) fn new(cfg: Bottleneck) -> Queue {
        Queue {
            cfg,
            tokens: cfg.burst_bytes as f64,
            at: Duration::ZERO,
            departures: VecDeque::new(),
        }
    }

    /// Packets waiting at `now` (not yet gone).
    pub(super) fn len(&mut self, now: Duration) -> usize {
        while self.departures.front().is_some_and(|d| *d <= now) {
            self.departures.pop_front();
        }
        self.departures.len()
    }

    /// A packet of `bytes` arrives at `now`: when it leaves, or `None` if the queue is
    /// full and it is dropped.
    pub(super) fn admit(&mut self, now: Duration, bytes: usize) -> Option<Duration> {
        if self.len(now) >= self.cfg.queue_packets && !self.leaves_at_once(now, bytes) {
            return None;
        }
        // FIFO: it cannot leave before the packet ahead of it, nor before it arrived.
        let start = now.max(self.at);
        let rate = self.cfg.rate_bps.max(1) as f64 / 8.0; // bytes per second
        let cap = self.cfg.burst_bytes.max(bytes) as f64;
        let tokens = (self.tokens + rate * (start - self.at).as_secs_f64()).min(cap);
        let need = bytes as f64;
        let depart = if tokens >= need {
            self.tokens = tokens - need;
            start
        } else {
            self.tokens = 0.0;
            start + Duration::from_secs_f64((need - tokens) / rate)
        };
        self.at = depart;
        if depart > now {
            self.departures.push_back(depart);
        }
        Some(depart)
    }

    /// Whether a packet arriving at `now` would leave at once (an empty queue and enough
    /// tokens): such a packet never waits, so even a zero-length queue lets it through.
    fn leaves_at_once(&self, now: Duration, bytes: usize) -> bool {
        if !self.departures.is_empty() || now < self.at {
            return false;
        }
        let rate = self.cfg.rate_bps.max(1) as f64 / 8.0;
        let cap = self.cfg.burst_bytes.max(bytes) as f64;
        (self.tokens + rate * (now - self.at).as_secs_f64()).min(cap) >= bytes as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn packets_leave_at_the_link_rate() {
        // 8 Mbit/s = 1 byte per microsecond: a 1000-byte packet takes 1 ms.
        let mut q = Queue::new(Bottleneck {
            rate_bps: 8_000_000,
            burst_bytes: 1000,
            queue_packets: 10,
        });
        // The bucket starts full: the first packet leaves at once; the next ones wait
        // 1 ms each for their tokens.
        let d: Vec<Duration> = (0..4).map(|_| q.admit(ms(0), 1000).unwrap()).collect();
        assert_eq!(d, [ms(0), ms(1), ms(2), ms(3)]);
        assert_eq!(q.len(ms(0)), 3, "three wait");
        assert_eq!(q.len(ms(2)), 1);
        // After a quiet spell the bucket refills (to its 1000-byte size only).
        assert_eq!(q.admit(ms(10), 1000), Some(ms(10)));
        assert_eq!(q.admit(ms(10), 1000), Some(ms(11)));
    }

    #[test]
    fn a_full_queue_drops_the_tail() {
        let mut q = Queue::new(Bottleneck {
            rate_bps: 8_000_000,
            burst_bytes: 1000,
            queue_packets: 2,
        });
        assert_eq!(q.admit(ms(0), 1000), Some(ms(0)));
        assert_eq!(q.admit(ms(0), 1000), Some(ms(1)));
        assert_eq!(q.admit(ms(0), 1000), Some(ms(2)));
        assert_eq!(q.admit(ms(0), 1000), None, "two are waiting: drop-tail");
        // Once the first waiting packet has left, there is room again; the newcomer waits
        // behind the one still queued.
        assert_eq!(q.admit(ms(1), 1000), Some(ms(3)));
    }

    #[test]
    fn a_burst_passes_at_once_then_the_rate_applies() {
        // 8 Mbit/s with a 3000-byte bucket: three 1000-byte packets back to back, then
        // one per millisecond.
        let mut q = Queue::new(Bottleneck {
            rate_bps: 8_000_000,
            burst_bytes: 3000,
            queue_packets: 100,
        });
        let d: Vec<Duration> = (0..5).map(|_| q.admit(ms(0), 1000).unwrap()).collect();
        assert_eq!(d, [ms(0), ms(0), ms(0), ms(1), ms(2)]);
        assert_eq!(
            Bottleneck::new(10_000_000, 1).transmission_time(1250),
            ms(1)
        );
    }

    #[test]
    fn zero_queue_passes_only_what_leaves_at_once() {
        let mut q = Queue::new(Bottleneck {
            rate_bps: 8_000_000,
            burst_bytes: 1000,
            queue_packets: 0,
        });
        assert_eq!(q.admit(ms(0), 1000), Some(ms(0)));
        assert_eq!(q.admit(ms(0), 1000), None);
        assert_eq!(q.admit(ms(1), 1000), Some(ms(1)));
    }
}
