//! Congestion control: how much may be in flight before the network is overwhelmed.
//!
//! # Two windows
//!
//! The receiver's window (`rwnd`, the 16-bit field of every segment) protects the
//! *receiver*: it says how much buffer is free at the far end. Nothing in it protects the
//! *network* between the two hosts. In October 1986 the Internet learned what that costs:
//! senders that filled the receiver's window, lost packets at a congested gateway, and
//! retransmitted them into the same congestion, cut the throughput between Lawrence
//! Berkeley Laboratory and UC Berkeley from 32 kbit/s to 40 bit/s — a "congestion
//! collapse". Van Jacobson's answer (1988), standardised today as RFC 5681, gives the
//! sender a second window of its own, the **congestion window** `cwnd`: its estimate of
//! how many bytes the path can hold. A sender never has more unacknowledged data
//! outstanding than the smaller of the two:
//!
//! > "At any given time, a TCP MUST NOT send data with a sequence number higher than the
//! > sum of the highest acknowledged sequence number and the minimum of cwnd and rwnd."
//! > — RFC 5681 § 3.1
//!
//! Nobody tells the sender the path's capacity. It probes: it sends more and more until a
//! packet is lost — a router's queue overflowed — then backs off. Loss is the signal.
//!
//! # The rules, in the order a connection meets them
//!
//! | phase | when | what cwnd does |
//! |---|---|---|
//! | **slow start** | cwnd < ssthresh | grows by the bytes each ACK covers (at most 2 MSS per ACK): it **doubles every round trip** |
//! | **congestion avoidance** | cwnd ≥ ssthresh | grows by **1 MSS per round trip** |
//! | **fast recovery** | 3 duplicate ACKs | halved: ssthresh = flight/2, cwnd = ssthresh + 3 MSS, then held until everything sent before the loss is acknowledged |
//! | **loss recovery** | the retransmission timer expired | cwnd = **1 MSS**, ssthresh = flight/2; slow start again from one segment |
//!
//! `ssthresh`, the slow-start threshold, is the sender's memory of where trouble began:
//! half of what was in flight at the last loss. Below it, growing fast is safe; above it,
//! the sender creeps. The result is the famous **sawtooth**: a linear climb, a halving at
//! each loss, a climb again — "additive increase, multiplicative decrease" (AIMD), which
//! is what lets many connections share a link fairly.
//!
//! - **Initial window** (RFC 6928): the first round trip may carry 10 segments (before
//!   2013: 2–4). Most web responses fit, so they take one round trip instead of four.
//! - **Slow start** is not slow: each ACK for a full segment lets two more go out, so 10
//!   segments become 20, 40, 80 — exponential, named "slow" only next to the full-window
//!   blast that came before it.
//! - **Byte counting** (RFC 3465, "ABC"): cwnd grows by the bytes an ACK acknowledges, not
//!   by one segment per ACK. A receiver that delays its ACKs (Linux acknowledges every
//!   second segment) sends half as many ACKs; counting ACKs would then grow cwnd only
//!   1.5× per round trip, and a receiver that split its ACKs could make the sender grow as
//!   fast as it liked. Counting bytes, with at most L = 2 MSS per ACK, does neither.
//! - **Three duplicate ACKs**: the receiver got three later segments but not this one.
//!   The path still delivers, so the loss is probably one dropped packet, not a dead
//!   link: resend it at once (fast retransmit), halve, and carry on (fast recovery).
//!   While the receiver reports more arrivals with more duplicate ACKs, each one means a
//!   segment *left* the network, so cwnd is "inflated" by 1 MSS per duplicate to let a
//!   new segment replace it — the ACK clock keeps ticking through the repair.
//! - **NewReno** (RFC 6582): when several segments of one window were lost, the ACK for
//!   the first repair moves forward but stops at the next hole (a *partial ACK*). Classic
//!   Reno left fast recovery there and often ended in a timeout; NewReno stays in fast
//!   recovery until the ACK passes `recover` (the highest sequence number sent when the
//!   loss was detected) and resends one hole per partial ACK.
//! - **Timeout**: no ACK at all for a whole RTO means the path may have failed or
//!   the queue is badly overloaded. Start over from one segment (the *loss window*) and
//!   resend everything outstanding, in slow start, up to the new ssthresh.
//!
//! # Worked example (MSS 1448 B, as Linux sends with timestamps on a 1500-byte MTU)
//!
//! ```text
//! connect          cwnd = min(10×1448, max(2×1448, 14600)) = 14,480 B (10 MSS)   slow start
//! after 1 RTT      10 ACKs × 1448 B → cwnd 28,960 B (20 MSS)
//! after 2 RTTs     cwnd 57,920 B (40 MSS); 57,920 B in flight
//! 3 dup ACKs       ssthresh = 57,920/2 = 28,960 B; cwnd = 28,960 + 3×1448 = 33,304 B
//! recovery ends    cwnd = ssthresh = 28,960 B                       congestion avoidance
//! each RTT         cwnd += 1448 B: 30,408, 31,856, …               (the sawtooth's slope)
//! a timeout        flight 40,000 B → ssthresh 20,000 B; cwnd = 1,448 B     loss recovery
//! ```
//!
//! # What netlab leaves out (each is a refinement on top of these rules)
//!
//! Limited transmit (RFC 3042: a new segment on the 1st and 2nd duplicate ACK); SACK-based
//! recovery (RFC 6675: the sender learns every hole at once; netlab sends SACK blocks but
//! recovers with cumulative ACKs); proportional rate reduction (RFC 6937, Linux's way of
//! leaving fast recovery smoothly); restarting slow start after an idle period (RFC 5681
//! § 4.1); ECN (RFC 3168); pacing; and other algorithms. Linux's default is CUBIC (RFC
//! 9438), whose increase is a cubic function of the time since the last loss, and BBR,
//! which models the path's bandwidth and delay instead of waiting for loss. NewReno is the
//! standard they are all measured against, and the one the RFCs spell out.
//!
//! # Shape
//!
//! [`NewReno`] keeps the numbers and applies the rules; the endpoint tells it what
//! happened (new data acknowledged, a duplicate ACK, a timeout) and asks how much it may
//! send. A [`Snapshot`] travels with every segment the endpoint sends, and a
//! [`CcChange`] (an [`Action::Congestion`](super::Action::Congestion)) explains each change
//! of phase with the arithmetic behind it.
//!
//! Contract: pure arithmetic on sequence numbers and byte counts; imports only [`super`].

use core::fmt;

use super::seq::seq_gt;

/// RFC 6928 § 2: the initial window is at most 10 segments…
pub const IW_SEGMENTS: u32 = 10;
/// …and at most 14,600 bytes (10 × 1460) unless that is less than 2 segments.
pub const IW_BYTES: u32 = 14_600;
/// RFC 3465 § 2.3: in slow start an ACK may grow cwnd by at most L = 2 × SMSS bytes.
pub const ABC_LIMIT_SEGMENTS: u32 = 2;
/// The initial ssthresh. RFC 5681 § 3.1: "The initial value of ssthresh SHOULD be set
/// arbitrarily high (e.g., to the size of the largest possible advertised window)". The
/// largest window a peer can advertise is 65,535 × 2^14 = 1,073,725,440 bytes (RFC 7323).
pub const INITIAL_SSTHRESH: u32 = 0xffff << 14;

/// RFC 6928 § 2, equation (1): "min (10*MSS, max (2*MSS, 14600))".
///
/// For every MSS up to 1460 bytes (any Ethernet path) this is exactly 10 × MSS, which is
/// what Linux uses (it counts cwnd in segments: `TCP_INIT_CWND` is 10). Only above 1460
/// would the RFC's 14,600-byte cap bite, where Linux still sends 10 segments.
pub fn initial_window(smss: u32) -> u32 {
    IW_SEGMENTS
        .saturating_mul(smss)
        .min(smss.saturating_mul(2).max(IW_BYTES))
}

/// RFC 5681 § 3.1, equation (4), for a loss found by either signal:
/// "ssthresh = max (FlightSize / 2, 2*SMSS)".
///
/// FlightSize is "the amount of data that has been sent but not yet cumulatively
/// acknowledged" (§ 2) — not cwnd, which may be far larger than what was really sent
/// (RFC 5681 warns: "an easy mistake to make is to simply use cwnd, rather than
/// FlightSize").
pub fn ssthresh_after_loss(flight: u32, smss: u32) -> u32 {
    (flight / 2).max(smss.saturating_mul(2))
}

/// The congestion-control phase, as a trace shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// cwnd < ssthresh: exponential growth.
    SlowStart,
    /// cwnd ≥ ssthresh: one MSS per round trip.
    CongestionAvoidance,
    /// After three duplicate ACKs, until everything sent before the loss is acknowledged.
    FastRecovery,
    /// After a retransmission timeout, until everything sent before it is acknowledged.
    LossRecovery,
}

impl Phase {
    /// The name used in traces and JSON: `"slow start"`, `"congestion avoidance"`,
    /// `"fast recovery"`, `"loss recovery"`.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::SlowStart => "slow start",
            Phase::CongestionAvoidance => "congestion avoidance",
            Phase::FastRecovery => "fast recovery",
            Phase::LossRecovery => "loss recovery",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The sender's congestion state at the moment a segment was sent: what a trace prints
/// next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub phase: Phase,
    /// The congestion window, bytes.
    pub cwnd: u32,
    /// The slow-start threshold, bytes ([`INITIAL_SSTHRESH`] until the first loss).
    pub ssthresh: u32,
    /// Bytes sent and not yet acknowledged, this segment included (after a timeout: the
    /// bytes resent since, see [`super::Endpoint`]'s loss recovery).
    pub in_flight: u32,
    /// The sender's maximum segment size, bytes: the unit of "MSS" below.
    pub smss: u32,
}

impl Snapshot {
    /// ssthresh, or `None` while it still has its "arbitrarily high" initial value.
    pub fn ssthresh_known(&self) -> Option<u32> {
        (self.ssthresh != INITIAL_SSTHRESH).then_some(self.ssthresh)
    }
}

impl fmt::Display for Snapshot {
    /// `cwnd 14,480 B (10 MSS) · ssthresh ∞ · in flight 4,344 B (3 MSS)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ss = match self.ssthresh_known() {
            Some(s) => format!("{} ({})", fmt_bytes(s), fmt_mss(s, self.smss)),
            None => "∞".into(),
        };
        write!(
            f,
            "cwnd {} ({}) · ssthresh {ss} · in flight {} ({})",
            fmt_bytes(self.cwnd),
            fmt_mss(self.cwnd, self.smss),
            fmt_bytes(self.in_flight),
            fmt_mss(self.in_flight, self.smss),
        )
    }
}

/// A change of phase (or a cut of the window within one), with the rule behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcChange {
    /// The phase before; `None` for the first phase of a connection.
    pub from: Option<Phase>,
    pub to: Phase,
    pub cwnd: u32,
    pub ssthresh: u32,
    /// Bytes outstanding when it happened.
    pub in_flight: u32,
    pub smss: u32,
    /// The reason, with its arithmetic, e.g. "3 duplicate ACKs: fast retransmit, ssthresh
    /// = flight/2 = 14,600 B, cwnd = ssthresh + 3 MSS = 18,980 B (RFC 5681 § 3.2)".
    pub why: String,
}

/// What the endpoint must do after telling [`NewReno`] about an ACK.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Response {
    /// Resend the oldest unacknowledged segment now (fast retransmit, or a NewReno
    /// partial ACK); the text explains why, for the segment's `why`.
    pub resend_first: Option<String>,
    /// The phase changed: report it.
    pub change: Option<CcChange>,
    /// Something worth telling a learner that changes nothing.
    pub note: Option<String>,
}

/// RFC 5681 congestion control with RFC 6582 (NewReno) fast recovery, RFC 6928's initial
/// window and RFC 3465's byte counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReno {
    /// SMSS: the largest segment we send (RFC 5681 § 2).
    smss: u32,
    /// Our ISN, for sequence numbers in explanations ("ISN + 14481").
    iss: u32,
    cwnd: u32,
    ssthresh: u32,
    /// RFC 3465 § 2.1's `bytes_acked`: bytes acknowledged in congestion avoidance since
    /// cwnd last grew.
    bytes_acked: u32,
    /// RFC 6582's `recover`: the highest sequence number sent when the last loss was
    /// detected. Recovery ends once an ACK covers it.
    recover: u32,
    phase: Phase,
}

impl NewReno {
    /// The congestion state of a connection that just completed its handshake.
    /// `syn_retransmissions` counts how often our SYN (or SYN-ACK) was resent.
    pub fn start(smss: u32, iss: u32, syn_retransmissions: u32) -> (NewReno, CcChange) {
        let smss = smss.max(1);
        // RFC 6928 § 2: "we RECOMMEND that implementations refrain from resetting the
        // initial window to 1 segment, unless there have been more than one SYN or
        // SYN/ACK retransmissions or true loss detection has been made." (Linux too.)
        let (cwnd, how) = if syn_retransmissions > 1 {
            (
                smss,
                format!(
                    "our SYN was resent {syn_retransmissions} times, so the path may be in \
                     trouble: cwnd = 1 MSS = {} (RFC 6928 § 2)",
                    fmt_bytes(smss)
                ),
            )
        } else {
            let iw = initial_window(smss);
            (
                iw,
                format!(
                    "cwnd = the initial window min(10 × {smss}, max(2 × {smss}, 14,600)) = {} \
                     ({}) (RFC 6928 § 2)",
                    fmt_bytes(iw),
                    fmt_mss(iw, smss)
                ),
            )
        };
        let cc = NewReno {
            smss,
            iss,
            cwnd,
            ssthresh: INITIAL_SSTHRESH,
            bytes_acked: 0,
            // RFC 6582 § 3.2 step 1: "When the TCB is initialized, recover is set to the
            // initial send sequence number."
            recover: iss,
            phase: Phase::SlowStart,
        };
        let why = format!(
            "handshake done: {how}; ssthresh starts \"arbitrarily high\" (RFC 5681 § 3.1), so \
             slow start: each ACK grows cwnd by the bytes it acknowledges (at most 2 MSS, \
             RFC 3465), doubling it every round trip until a loss"
        );
        let change = cc.change(None, 0, why);
        (cc, change)
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn cwnd(&self) -> u32 {
        self.cwnd
    }

    pub fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    pub fn smss(&self) -> u32 {
        self.smss
    }

    /// RFC 6582's `recover`.
    pub fn recover(&self) -> u32 {
        self.recover
    }

    /// The state to print next to a segment, with `in_flight` bytes outstanding.
    pub fn snapshot(&self, in_flight: u32) -> Snapshot {
        Snapshot {
            phase: self.phase,
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            in_flight,
            smss: self.smss,
        }
    }

    /// An ACK moved SND.UNA forward to `ack`, acknowledging `acked` bytes of data;
    /// `flight` bytes remain outstanding.
    pub fn on_ack(&mut self, ack: u32, acked: u32, flight: u32) -> Response {
        let mut r = Response::default();
        match self.phase {
            Phase::FastRecovery if seq_gt(ack, self.recover) => {
                // RFC 6582 § 3.2 step 3, full acknowledgment: "If this ACK acknowledges
                // all of the data up to and including recover, then the ACK acknowledges
                // all the intermediate segments sent between the original transmission of
                // the lost segment and the receipt of the third duplicate ACK. Set cwnd to
                // either (1) min (ssthresh, max(FlightSize, SMSS) + SMSS) or (2)
                // ssthresh". netlab takes (1): the same as ssthresh unless little is left
                // in flight, and then it avoids a burst.
                let before = self.cwnd;
                self.cwnd = self
                    .ssthresh
                    .min(flight.max(self.smss).saturating_add(self.smss));
                self.bytes_acked = 0;
                let to = self.growth_phase();
                let why = format!(
                    "ACK ISN + {} covers everything sent before the loss (recover = ISN + \
                     {}): fast recovery ends; the window deflates from {} to min(ssthresh, \
                     max(flight, MSS) + MSS) = {} (RFC 6582 § 3.2); {}",
                    self.rel(ack),
                    self.rel(self.recover),
                    fmt_bytes(before),
                    fmt_bytes(self.cwnd),
                    self.growth_text(to)
                );
                self.phase = to;
                r.change = Some(self.change(Some(Phase::FastRecovery), flight, why));
            }
            Phase::FastRecovery => {
                // RFC 6582 § 3.2 step 3, partial acknowledgment: "retransmit the first
                // unacknowledged segment. Deflate the congestion window by the amount of
                // new data acknowledged by the Cumulative Acknowledgment field. If the
                // partial ACK acknowledges at least one SMSS of new data, then add back
                // SMSS bytes to the congestion window. [...] Do not exit the fast
                // recovery procedure".
                let before = self.cwnd;
                self.cwnd = self.cwnd.saturating_sub(acked);
                let add_back = acked >= self.smss;
                if add_back {
                    self.cwnd = self.cwnd.saturating_add(self.smss);
                }
                self.cwnd = self.cwnd.max(self.smss);
                r.resend_first = Some(format!(
                    "partial ACK: ACK ISN + {} covers the resent segment but not everything \
                     sent before the loss (recover = ISN + {}), so the next hole starts \
                     here: resend it at once and stay in fast recovery; cwnd = {} - {acked} \
                     acknowledged{} = {} (NewReno, RFC 6582 § 3.2)",
                    self.rel(ack),
                    self.rel(self.recover),
                    fmt_bytes(before),
                    if add_back {
                        format!(" + 1 MSS ({})", self.smss)
                    } else {
                        String::new()
                    },
                    fmt_bytes(self.cwnd)
                ));
            }
            Phase::LossRecovery => {
                // RFC 3465 § 2.3: after a timeout, slow start counts at most 1 SMSS per
                // ACK ("a TCP MUST use L=1*SMSS ... since ACKs for large amounts of
                // previously unacknowledged data are common during this phase").
                self.grow(acked, self.smss);
                if seq_gt(ack, self.recover) {
                    let to = self.growth_phase();
                    let why = format!(
                        "ACK ISN + {} covers everything sent before the timeout (recover = \
                         ISN + {}): loss recovery ends with cwnd {} ({}); {}",
                        self.rel(ack),
                        self.rel(self.recover),
                        fmt_bytes(self.cwnd),
                        fmt_mss(self.cwnd, self.smss),
                        self.growth_text(to)
                    );
                    self.phase = to;
                    r.change = Some(self.change(Some(Phase::LossRecovery), flight, why));
                }
            }
            Phase::SlowStart | Phase::CongestionAvoidance => {
                let before = self.phase;
                self.grow(acked, ABC_LIMIT_SEGMENTS.saturating_mul(self.smss));
                let to = self.growth_phase();
                if to != before {
                    let why = format!(
                        "cwnd {} reached ssthresh {}: congestion avoidance — cwnd now grows \
                         by 1 MSS only when a whole cwnd of bytes has been acknowledged, about \
                         once per round trip (RFC 5681 § 3.1, RFC 3465 § 2.1)",
                        fmt_bytes(self.cwnd),
                        fmt_bytes(self.ssthresh)
                    );
                    self.phase = to;
                    r.change = Some(self.change(Some(before), flight, why));
                }
            }
        }
        r
    }

    /// The `count`th duplicate ACK in a row for `ack` (RFC 5681 § 2's definition, checked
    /// by the endpoint). `flight` is FlightSize; `highest_sent` is the highest sequence
    /// number sent so far (SND.NXT - 1).
    pub fn on_dup_ack(&mut self, count: u32, ack: u32, flight: u32, highest_sent: u32) -> Response {
        let mut r = Response::default();
        if self.phase == Phase::FastRecovery {
            if count > 3 {
                // RFC 5681 § 3.2 step 4: "For each additional duplicate ACK received
                // (after the third), cwnd MUST be incremented by SMSS. This artificially
                // inflates the congestion window in order to reflect the additional
                // segment that has left the network."
                self.cwnd = self.cwnd.saturating_add(self.smss);
            }
            return r;
        }
        if count != 3 {
            return r;
        }
        // RFC 6582 § 3.2 step 2: "When the third duplicate ACK is received, the TCP sender
        // first checks the value of recover to see if the Cumulative Acknowledgment field
        // covers more than recover. If so, the value of recover is incremented to the
        // value of the highest sequence number transmitted by the TCP so far. The TCP then
        // enters fast retransmit [...]. If not, the TCP does not enter fast retransmit and
        // does not reset ssthresh."
        if !seq_gt(ack, self.recover) {
            r.note = Some(format!(
                "3 duplicate ACKs for ISN + {}, but that is not past recover (ISN + {}): \
                 they answer segments resent after the last loss, not a new loss; no fast \
                 retransmit (RFC 6582 § 3.2)",
                self.rel(ack),
                self.rel(self.recover)
            ));
            return r;
        }
        self.recover = highest_sent;
        let from = self.phase;
        // RFC 5681 § 3.2 step 2: "When the third duplicate ACK is received, a TCP MUST set
        // ssthresh to no more than the value given in equation (4)."
        self.ssthresh = ssthresh_after_loss(flight, self.smss);
        // Step 3: "The lost segment starting at SND.UNA MUST be retransmitted and cwnd set
        // to ssthresh plus 3*SMSS. This artificially "inflates" the congestion window by
        // the number of segments (three) that have left the network and which the
        // receiver has buffered."
        self.cwnd = self.ssthresh.saturating_add(3 * self.smss);
        self.bytes_acked = 0;
        self.phase = Phase::FastRecovery;
        let why = format!(
            "3 duplicate ACKs: fast retransmit, ssthresh = {} = {}, cwnd = ssthresh + 3 MSS \
             = {} (RFC 5681 § 3.2); fast recovery lasts until everything sent so far (up to \
             ISN + {}) is acknowledged",
            self.halving_text(flight),
            fmt_bytes(self.ssthresh),
            fmt_bytes(self.cwnd),
            self.rel(self.recover)
        );
        r.change = Some(self.change(Some(from), flight, why));
        r.resend_first = Some(format!(
            "fast retransmit: 3 duplicate ACKs for ISN + {} mean later segments arrive but \
             this one was lost; resend it now, without waiting for the RTO (RFC 5681 § 3.2)",
            self.rel(ack)
        ));
        r
    }

    /// The retransmission timer expired. `first_timeout` is false when the segment being
    /// resent was already resent by the timer before; `flight` is FlightSize; `highest_sent`
    /// is SND.NXT - 1.
    pub fn on_rto(&mut self, flight: u32, highest_sent: u32, first_timeout: bool) -> CcChange {
        let from = self.phase;
        let old_ssthresh = self.ssthresh;
        // RFC 5681 § 3.1: "When a TCP sender detects segment loss using the retransmission
        // timer and the given segment has not yet been resent by way of the retransmission
        // timer, the value of ssthresh MUST be set to no more than the value given in
        // equation (4)".
        if first_timeout {
            self.ssthresh = ssthresh_after_loss(flight, self.smss);
        }
        // "Furthermore, upon a timeout (as specified in [RFC2988]) cwnd MUST be set to no
        // more than the loss window, LW, which equals 1 full-sized segment (regardless of
        // the value of IW)."
        self.cwnd = self.smss;
        self.bytes_acked = 0;
        // RFC 6582 § 3.2 step 4: "After a retransmit timeout, record the highest sequence
        // number transmitted in the variable recover, and exit the fast recovery procedure
        // if applicable."
        self.recover = highest_sent;
        self.phase = Phase::LossRecovery;
        let ss = if first_timeout {
            format!(
                "ssthresh = {} = {}",
                self.halving_text(flight),
                fmt_bytes(self.ssthresh)
            )
        } else {
            format!(
                "ssthresh stays {} (this segment was already resent by the timer; ssthresh \
                 is cut once per loss, RFC 5681 § 3.1)",
                if old_ssthresh == INITIAL_SSTHRESH {
                    "∞".to_string()
                } else {
                    fmt_bytes(old_ssthresh)
                }
            )
        };
        let why = format!(
            "retransmission timeout: no ACK for a whole RTO, so {ss}, cwnd = 1 MSS = {} \
             (the loss window, RFC 5681 § 3.1); everything outstanding (up to ISN + {}) is \
             presumed lost and resent in slow start",
            fmt_bytes(self.cwnd),
            self.rel(self.recover)
        );
        self.change(Some(from), flight, why)
    }

    // ----- the two growth rules -----

    /// Grows cwnd for `acked` new bytes: slow start below ssthresh (at most `limit` per
    /// ACK), congestion avoidance at or above it.
    fn grow(&mut self, acked: u32, limit: u32) {
        let mut left = acked;
        if self.cwnd < self.ssthresh {
            // RFC 5681 § 3.1: "During slow start, a TCP increments cwnd by at most SMSS
            // bytes for each ACK received that cumulatively acknowledges new data", and
            // RFC 3465 § 2.2 counts bytes with a larger limit: cwnd grows by the
            // previously unacknowledged bytes an ACK covers, up to L; § 2.3: "TCP
            // implementations MAY use L=2*SMSS bytes and MUST NOT use L > 2*SMSS bytes."
            let inc = acked.min(limit);
            // Slow start stops at ssthresh (as Linux does); bytes beyond it count towards
            // congestion avoidance.
            let room = self.ssthresh - self.cwnd;
            let used = inc.min(room);
            self.cwnd += used;
            left = if used == room { acked - used } else { 0 };
        }
        if self.cwnd >= self.ssthresh && left > 0 {
            // RFC 5681 § 3.1: "the RECOMMENDED way to increase cwnd during congestion
            // avoidance is to count the number of bytes that have been acknowledged by
            // ACKs for new data. [...] When the number of bytes acknowledged reaches cwnd,
            // then cwnd can be incremented by up to SMSS bytes." RFC 3465 § 2.1 names the
            // counter bytes_acked: when it reaches cwnd it "is reduced by the value of
            // cwnd. Next, cwnd is incremented by a full-sized segment (SMSS)."
            self.bytes_acked = self.bytes_acked.saturating_add(left);
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(self.smss);
                // "cwnd MUST NOT be increased by more than SMSS bytes per RTT": one step
                // per ACK, and never a second one banked.
                self.bytes_acked = self.bytes_acked.min(self.cwnd - 1);
            }
        }
    }

    /// Slow start or congestion avoidance, by RFC 5681 § 3.1: "The slow start algorithm
    /// is used when cwnd < ssthresh, while the congestion avoidance algorithm is used when
    /// cwnd > ssthresh. When cwnd and ssthresh are equal, the sender may use either".
    /// netlab (like Linux) uses congestion avoidance at equality.
    fn growth_phase(&self) -> Phase {
        if self.cwnd < self.ssthresh {
            Phase::SlowStart
        } else {
            Phase::CongestionAvoidance
        }
    }

    fn growth_text(&self, p: Phase) -> String {
        match p {
            Phase::SlowStart => format!(
                "cwnd < ssthresh {}: slow start until it gets there",
                fmt_bytes(self.ssthresh)
            ),
            _ => format!(
                "cwnd ≥ ssthresh {}: congestion avoidance, +1 MSS per round trip",
                fmt_bytes(self.ssthresh)
            ),
        }
    }

    /// "flight/2" or "max(flight/2, 2 MSS)", whichever was chosen.
    fn halving_text(&self, flight: u32) -> String {
        if flight / 2 >= self.smss.saturating_mul(2) {
            format!("flight/2 = {}/2", fmt_bytes(flight))
        } else {
            format!(
                "max(flight/2, 2 MSS) = max({}/2, 2 × {})",
                flight, self.smss
            )
        }
    }

    fn change(&self, from: Option<Phase>, in_flight: u32, why: String) -> CcChange {
        CcChange {
            from,
            to: self.phase,
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            in_flight,
            smss: self.smss,
            why,
        }
    }

    /// A sequence number relative to our ISN.
    fn rel(&self, s: u32) -> u32 {
        s.wrapping_sub(self.iss)
    }
}

/// Bytes with thousands separators: `14,480 B`.
pub fn fmt_bytes(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out.push_str(" B");
    out
}

/// Bytes in segments: `10 MSS`, `2.5 MSS`.
pub fn fmt_mss(n: u32, smss: u32) -> String {
    let smss = smss.max(1);
    if n.is_multiple_of(smss) {
        format!("{} MSS", n / smss)
    } else {
        format!("{:.1} MSS", f64::from(n) / f64::from(smss))
    }
}

#[cfg(test)]
mod tests {
    //! The rules with hand calculations. MSS 1448 B (1460 - 12 bytes of timestamps), as
    //! netlab and Linux send on a 1500-byte MTU; ISN 1000.
    use super::*;

    const MSS: u32 = 1448;
    const ISS: u32 = 1000;

    fn started() -> NewReno {
        NewReno::start(MSS, ISS, 0).0
    }

    #[test]
    fn initial_window_rfc6928() {
        // min(10 × 1448, max(2 × 1448, 14600)) = min(14480, 14600) = 14480.
        assert_eq!(initial_window(1448), 14_480);
        // min(14600, max(2920, 14600)) = 14600.
        assert_eq!(initial_window(1460), 14_600);
        // 536 (the default MSS): min(5360, max(1072, 14600)) = 5360: still 10 segments.
        assert_eq!(initial_window(536), 5_360);
        // Loopback's MSS 65483: min(654830, max(130966, 14600)) = 130966 = 2 segments.
        assert_eq!(initial_window(65_483), 130_966);
        // 9000-byte jumbo frames (MSS 8960): max(17920, 14600) = 17920 = 2 segments.
        assert_eq!(initial_window(8960), 17_920);
    }

    #[test]
    fn start_is_slow_start_with_iw10() {
        let (cc, ch) = NewReno::start(MSS, ISS, 0);
        assert_eq!(cc.cwnd(), 14_480);
        assert_eq!(cc.ssthresh(), INITIAL_SSTHRESH);
        assert_eq!(cc.phase(), Phase::SlowStart);
        assert_eq!(cc.recover(), ISS, "RFC 6582: recover starts at the ISN");
        assert_eq!((ch.from, ch.to), (None, Phase::SlowStart));
        assert!(ch.why.contains("14,480 B (10 MSS)"), "{}", ch.why);
        // One SYN retransmission keeps IW 10; two cut it to one segment.
        assert_eq!(NewReno::start(MSS, ISS, 1).0.cwnd(), 14_480);
        assert_eq!(NewReno::start(MSS, ISS, 2).0.cwnd(), 1448);
    }

    #[test]
    fn slow_start_one_mss_per_ack_doubles_per_round_trip() {
        let mut cc = started();
        // One round trip: the 10 segments of the initial window are acknowledged one by
        // one; each ACK adds min(1448, L) = 1448 → 14480 + 10 × 1448 = 28960 = 20 MSS.
        for i in 1..=10 {
            let r = cc.on_ack(ISS + 1 + i * MSS, MSS, 0);
            assert_eq!(r, Response::default());
        }
        assert_eq!(cc.cwnd(), 28_960);
        // The next round: 20 ACKs → 57920 = 40 MSS.
        for _ in 0..20 {
            let _ = cc.on_ack(ISS + 1, MSS, 0);
        }
        assert_eq!(cc.cwnd(), 57_920);
        assert_eq!(cc.phase(), Phase::SlowStart);
    }

    #[test]
    fn abc_counts_bytes_up_to_two_mss_per_ack() {
        let mut cc = started();
        // A delayed ACK for 2 segments: + min(2896, 2 × 1448) = 2896.
        let _ = cc.on_ack(ISS + 1, 2 * MSS, 0);
        assert_eq!(cc.cwnd(), 14_480 + 2896);
        // A stretch ACK for 5 segments: still + 2896 (L = 2 SMSS, RFC 3465 § 2.3).
        let _ = cc.on_ack(ISS + 1, 5 * MSS, 0);
        assert_eq!(cc.cwnd(), 14_480 + 2 * 2896);
        // A small ACK (100 bytes of a short segment): + 100, not a whole MSS. Counting
        // ACKs instead of bytes would add 1448 here.
        let _ = cc.on_ack(ISS + 1, 100, 0);
        assert_eq!(cc.cwnd(), 14_480 + 2 * 2896 + 100);
    }

    #[test]
    fn slow_start_stops_at_ssthresh_and_congestion_avoidance_adds_one_mss_per_cwnd() {
        let mut cc = started();
        cc.ssthresh = 20_000;
        cc.cwnd = 19_000;
        // + min(2896, L) would pass ssthresh: cwnd stops at 20000, and the 1896 bytes
        // beyond it (2896 - 1000) count towards congestion avoidance.
        let r = cc.on_ack(ISS + 1, 2 * MSS, 0);
        assert_eq!(cc.cwnd(), 20_000);
        assert_eq!(cc.bytes_acked, 1896);
        let ch = r.change.unwrap();
        assert_eq!(
            (ch.from, ch.to),
            (Some(Phase::SlowStart), Phase::CongestionAvoidance)
        );
        // Congestion avoidance: cwnd grows once bytes_acked reaches cwnd (20000):
        // 1896 + 12 × 1448 = 19272 < 20000; the 13th ACK makes 20720 ≥ 20000 →
        // cwnd = 21448, bytes_acked = 720.
        for _ in 0..12 {
            let _ = cc.on_ack(ISS + 1, MSS, 0);
        }
        assert_eq!(cc.cwnd(), 20_000);
        let _ = cc.on_ack(ISS + 1, MSS, 0);
        assert_eq!((cc.cwnd(), cc.bytes_acked), (21_448, 720));
        // One whole cwnd of ACKs later: exactly one more MSS (20 × 1448 = 28960 ≥ 21448;
        // 720 + 14 × 1448 = 20992 < 21448, the 15th ACK crosses).
        for _ in 0..14 {
            let _ = cc.on_ack(ISS + 1, MSS, 0);
        }
        assert_eq!(cc.cwnd(), 21_448);
        let _ = cc.on_ack(ISS + 1, MSS, 0);
        assert_eq!(cc.cwnd(), 22_896);
        assert_eq!(cc.phase(), Phase::CongestionAvoidance);
    }

    #[test]
    fn three_dup_acks_halve_and_inflate() {
        let mut cc = started();
        // 20 segments in flight (28960 B); the first one was lost.
        let (una, nxt) = (ISS + 1, ISS + 1 + 20 * MSS);
        assert_eq!(
            cc.on_dup_ack(1, una, 20 * MSS, nxt - 1),
            Response::default()
        );
        assert_eq!(
            cc.on_dup_ack(2, una, 20 * MSS, nxt - 1),
            Response::default()
        );
        let r = cc.on_dup_ack(3, una, 20 * MSS, nxt - 1);
        assert!(r.resend_first.is_some(), "fast retransmit");
        // ssthresh = max(28960/2, 2 × 1448) = 14480; cwnd = 14480 + 3 × 1448 = 18824.
        assert_eq!(cc.ssthresh(), 14_480);
        assert_eq!(cc.cwnd(), 18_824);
        assert_eq!(cc.recover(), nxt - 1);
        let ch = r.change.unwrap();
        assert_eq!(
            (ch.from, ch.to),
            (Some(Phase::SlowStart), Phase::FastRecovery)
        );
        assert!(
            ch.why.starts_with(
                "3 duplicate ACKs: fast retransmit, ssthresh = flight/2 = 28,960 B/2 = \
                 14,480 B, cwnd = ssthresh + 3 MSS = 18,824 B"
            ),
            "{}",
            ch.why
        );
        // Each further duplicate: + 1 MSS (RFC 5681 § 3.2 step 4).
        let _ = cc.on_dup_ack(4, una, 20 * MSS, nxt - 1);
        let _ = cc.on_dup_ack(5, una, 20 * MSS, nxt - 1);
        assert_eq!(cc.cwnd(), 18_824 + 2 * 1448);
        // The full ACK (all 20 segments): flight is now 2 new segments sent during
        // recovery (2896 B): cwnd = min(14480, max(2896, 1448) + 1448) = 4344.
        let r = cc.on_ack(nxt, 20 * MSS, 2 * MSS);
        assert_eq!(cc.cwnd(), 4344);
        let ch = r.change.unwrap();
        assert_eq!(
            (ch.from, ch.to),
            (Some(Phase::FastRecovery), Phase::SlowStart)
        );
        // With a full pipe instead, the window deflates to ssthresh itself.
        let mut cc2 = started();
        let _ = cc2.on_dup_ack(3, una, 20 * MSS, nxt - 1);
        let r = cc2.on_ack(nxt, 20 * MSS, 12 * MSS);
        assert_eq!(cc2.cwnd(), 14_480, "min(14480, 17376 + 1448)");
        assert_eq!(r.change.unwrap().to, Phase::CongestionAvoidance);
    }

    #[test]
    fn small_flight_halves_to_two_mss() {
        let mut cc = started();
        // 3 segments in flight: max(4344/2, 2 × 1448) = max(2172, 2896) = 2896.
        let _ = cc.on_dup_ack(3, ISS + 1, 3 * MSS, ISS + 3 * MSS);
        assert_eq!(cc.ssthresh(), 2896);
        assert_eq!(cc.cwnd(), 2896 + 3 * 1448);
    }

    #[test]
    fn partial_ack_deflates_and_resends() {
        let mut cc = started();
        let (una, nxt) = (ISS + 1, ISS + 1 + 20 * MSS);
        let _ = cc.on_dup_ack(3, una, 20 * MSS, nxt - 1);
        let _ = cc.on_dup_ack(4, una, 20 * MSS, nxt - 1);
        assert_eq!(cc.cwnd(), 20_272);
        // Segments 1 and 6 were lost: the resent segment 1 brings an ACK up to segment 6,
        // 5 segments (7240 B): cwnd = 20272 - 7240 + 1448 = 14480.
        let r = cc.on_ack(una + 5 * MSS, 5 * MSS, 15 * MSS);
        assert_eq!(cc.cwnd(), 14_480);
        assert_eq!(
            cc.phase(),
            Phase::FastRecovery,
            "stay until recover is covered"
        );
        let why = r.resend_first.unwrap();
        assert!(why.contains("partial ACK"), "{why}");
        assert!(
            why.contains("20,272 B - 7240 acknowledged + 1 MSS (1448)"),
            "{why}"
        );
        assert!(r.change.is_none());
        // A partial ACK of less than one MSS adds nothing back: 14480 - 500 = 13980.
        let _ = cc.on_ack(una + 5 * MSS + 500, 500, 15 * MSS - 500);
        assert_eq!(cc.cwnd(), 13_980);
    }

    #[test]
    fn timeout_cuts_to_the_loss_window_once_per_segment() {
        let mut cc = started();
        for _ in 0..10 {
            let _ = cc.on_ack(ISS + 1, MSS, 0);
        }
        // 20 segments (28960 B) in flight, then silence.
        let nxt = ISS + 1 + 30 * MSS;
        let ch = cc.on_rto(20 * MSS, nxt - 1, true);
        // ssthresh = max(28960/2, 2896) = 14480; cwnd = 1 MSS.
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1448, 14_480));
        assert_eq!(
            (ch.from, ch.to),
            (Some(Phase::SlowStart), Phase::LossRecovery)
        );
        assert!(ch.why.contains("cwnd = 1 MSS = 1,448 B"), "{}", ch.why);
        // The resent segment is lost too: cwnd 1 MSS again, ssthresh is not halved again.
        let ch = cc.on_rto(MSS, nxt - 1, false);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1448, 14_480));
        assert!(ch.why.contains("ssthresh stays 14,480 B"), "{}", ch.why);
        // Slow start after a timeout counts at most 1 MSS per ACK (RFC 3465 § 2.3): an
        // ACK for 5 segments the receiver had buffered grows cwnd by 1448 only.
        let _ = cc.on_ack(ISS + 1 + 5 * MSS, 5 * MSS, 0);
        assert_eq!(cc.cwnd(), 2896);
        assert_eq!(cc.phase(), Phase::LossRecovery);
        // Three duplicate ACKs below recover do not start a fast retransmit.
        let r = cc.on_dup_ack(3, ISS + 1 + 5 * MSS, 2 * MSS, nxt - 1);
        assert!(r.resend_first.is_none() && r.change.is_none());
        assert!(r.note.unwrap().contains("not past recover"));
        // The ACK past recover ends loss recovery: cwnd 2896 + 1448 = 4344 < ssthresh.
        let r = cc.on_ack(nxt, 25 * MSS, 0);
        assert_eq!(cc.cwnd(), 4344);
        let ch = r.change.unwrap();
        assert_eq!(
            (ch.from, ch.to),
            (Some(Phase::LossRecovery), Phase::SlowStart)
        );
    }

    #[test]
    fn timeout_during_fast_recovery_exits_it() {
        let mut cc = started();
        let _ = cc.on_dup_ack(3, ISS + 1, 10 * MSS, ISS + 10 * MSS);
        assert_eq!(cc.ssthresh(), 7240);
        // The fast retransmission was lost as well: the timer fires; the segment was
        // resent by fast retransmit, not by the timer, so ssthresh is computed again:
        // max(14480/2, 2896) = 7240.
        let ch = cc.on_rto(10 * MSS, ISS + 10 * MSS, true);
        assert_eq!(
            (ch.from, ch.to),
            (Some(Phase::FastRecovery), Phase::LossRecovery)
        );
        assert_eq!(cc.cwnd(), 1448);
    }

    #[test]
    fn numbers_for_learners() {
        assert_eq!(fmt_bytes(0), "0 B");
        assert_eq!(fmt_bytes(999), "999 B");
        assert_eq!(fmt_bytes(14_600), "14,600 B");
        assert_eq!(fmt_bytes(1_073_725_440), "1,073,725,440 B");
        assert_eq!(fmt_mss(14_480, 1448), "10 MSS");
        assert_eq!(fmt_mss(2172, 1448), "1.5 MSS");
        let s = started().snapshot(4344);
        assert_eq!(
            s.to_string(),
            "cwnd 14,480 B (10 MSS) · ssthresh ∞ · in flight 4,344 B (3 MSS)"
        );
        assert_eq!(s.ssthresh_known(), None);
    }
}
