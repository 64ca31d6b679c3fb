//! netlab's own TCP endpoint (RFC 9293), written to be read.
//!
//! TCP turns IP's unreliable packets into a reliable, ordered byte stream. Every idea in
//! this module serves that one promise:
//!
//! - **Sequence numbers** (RFC 9293 § 3.4): every byte has a 32-bit number, so the
//!   receiver can put bytes in order and say exactly what it has. SYN and FIN each use one
//!   number too, so that they can be acknowledged (and retransmitted) like data.
//! - **The three-way handshake** (§ 3.5): SYN → SYN-ACK → ACK. Each side picks an initial
//!   sequence number (ISN) and learns the other's; options such as MSS, window scaling,
//!   SACK and timestamps are offered in the SYN and agreed in the SYN-ACK.
//! - **Acknowledgments and windows** (§ 3.8.6): the receiver says "I have everything before
//!   byte N, and room for W more"; the sender never has more than W bytes unacknowledged.
//! - **Retransmission** (RFC 6298, RFC 5681): no ACK within the retransmission timeout
//!   (RTO, learned from measured round-trip times) → send again, waiting twice as long each
//!   time; three duplicate ACKs → a segment was lost while later ones arrived → resend at
//!   once (fast retransmit).
//! - **Congestion control** (RFC 5681, RFC 6582, RFC 6928, RFC 3465; see [`cc`]): the
//!   receiver's window protects the receiver, the *congestion window* protects the network.
//!   The sender starts with 10 segments, doubles every round trip (slow start), then adds
//!   one segment per round trip (congestion avoidance), and halves at each loss.
//! - **Teardown** (§ 3.6): each direction is closed by its own FIN; the side that closes
//!   first waits in TIME-WAIT for two maximum segment lifetimes, so that stray old segments
//!   cannot be mistaken for a new connection's.
//!
//! # Shape: an I/O-free engine
//!
//! An [`Endpoint`] owns no socket and reads no clock. Segments and the time go in, and a
//! list of [`Action`]s comes out: segments to put on the wire, state changes, bytes for the
//! application, timers, and events worth showing a learner. Time is a `Duration` since the
//! start of the run, so the caller may use real time (`netlab tcp-handshake` over a TUN
//! device, talking to the Linux kernel) or virtual time ([`sim`], two endpoints on an
//! in-memory wire; also the tests). The caller parses and emits segments with
//! [`crate::wire::tcp`], and calls [`Endpoint::on_timer`] once [`Endpoint::poll_at`] is due.
//!
//! # Simplifications (each safe for a demo, each documented where it is made)
//!
//! - Every segment carrying data or a FIN is acknowledged at once: no delayed ACK
//!   (RFC 9293 § 3.8.6.3 allows up to 500 ms of delay; Linux usually waits a little).
//!   One ACK per segment is easier to watch.
//! - Congestion control is NewReno (RFC 5681 + RFC 6582), the standard every newer
//!   algorithm is compared with; Linux's default CUBIC and its SACK-based recovery are
//!   described, not implemented ([`cc`] lists what is left out).
//! - No Nagle algorithm (like `TCP_NODELAY`): data goes out as soon as the window allows.
//! - SACK (RFC 2018): netlab *sends* SACK blocks when it holds out-of-order data, but as a
//!   sender it recovers with cumulative ACKs only.
//! - Timestamps (RFC 7323): sent and echoed, but PAWS is not enforced and RTT is measured
//!   one segment at a time (the classic way Karn's algorithm is explained).
//! - The application reads instantly (`Deliver`), so the receive window never shrinks.
//! - Urgent data, security/compartment checks and ECN are ignored.
//!
//! Contract: imports `std` and [`crate::wire`] only (the simulator [`sim`] also
//! [`crate::wiremodel`]); never does I/O or prints.

pub mod cc;
mod endpoint;
pub mod packet;
pub mod reassembly;
pub mod rtt;
pub mod seq;
pub mod sim;
#[cfg(test)]
mod tests;

use core::fmt;
use std::time::Duration;

use crate::wire::tcp::{Repr, flags};

pub use endpoint::{Endpoint, Negotiated};

/// The connection states of RFC 9293 § 3.3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a SYN (passive open, a server).
    Listen,
    /// Our SYN is sent; waiting for the peer's SYN-ACK (active open, a client).
    SynSent,
    /// We have seen their SYN and sent our SYN-ACK; waiting for its ACK.
    SynReceived,
    /// The handshake is done: data flows both ways.
    Established,
    /// We sent our FIN; waiting for its ACK (and the peer's FIN).
    FinWait1,
    /// Our FIN is acknowledged; the peer may still send until its FIN.
    FinWait2,
    /// The peer sent its FIN; we may still send until our application closes.
    CloseWait,
    /// Both sides sent FINs at the same time; waiting for the ACK of ours.
    Closing,
    /// The peer closed first, then we sent our FIN; waiting for its ACK.
    LastAck,
    /// Both FINs acknowledged; waiting 2·MSL so old segments die out.
    TimeWait,
}

impl State {
    /// The RFC 9293 name, e.g. `"SYN-SENT"`.
    pub fn name(&self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// Whether the handshake has completed on our side at least once ("synchronized"
    /// states, RFC 9293 § 3.5.2): both sequence numbers are known.
    pub fn is_synchronized(&self) -> bool {
        !matches!(self, State::Closed | State::Listen | State::SynSent)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an endpoint behaves. [`Config::default`] mirrors a Linux host, except for the short
/// TIME-WAIT and the configurable minimum RTO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Our port. For [`Endpoint::listen`], 0 accepts a SYN to any port and answers from
    /// the port it was sent to (handy on a TUN device, where netlab owns every port).
    pub local_port: u16,
    /// The peer's port; 0 for [`Endpoint::listen`] to learn it from the SYN.
    pub remote_port: u16,
    /// Our initial sequence number. Real stacks pick it at random (RFC 9293 § 3.4.1, and
    /// RFC 6528 against spoofing); the caller chooses, so runs are reproducible.
    pub isn: u32,
    /// The MSS option we send: the largest segment payload we accept. 1460 = a 1500-byte
    /// Ethernet MTU minus 20 bytes of IPv4 and 20 of TCP header.
    pub mss: u16,
    /// Our receive window in bytes. (A `u32`: with window scaling it may exceed 65 535;
    /// the 16-bit window field then carries `window >> shift`.)
    pub window: u32,
    /// The window-scale shift we offer (RFC 7323 § 2), or `None` not to offer scaling.
    /// Scaling is used only if both SYNs carry the option. Capped at 14.
    pub window_scale: Option<u8>,
    /// Offer selective acknowledgments (RFC 2018).
    pub sack_permitted: bool,
    /// Offer timestamps (RFC 7323 § 3).
    pub timestamps: bool,
    /// Added to our millisecond clock to form TSval: real stacks randomise it per
    /// connection, so TSval does not reveal the host's uptime.
    pub ts_clock_offset: u32,
    /// How long TIME-WAIT lasts: 2·MSL. RFC 9293 § 3.4.2 sets MSL = 2 minutes (Linux waits
    /// 60 s); netlab's default is 2 s so a demo ends promptly.
    pub time_wait: Duration,
    /// The RTO before any RTT sample: 1 s (RFC 6298 § 2.1).
    pub initial_rto: Duration,
    /// The smallest RTO: RFC 6298 § 2.4 says 1 s; netlab's default is Linux's 200 ms.
    pub min_rto: Duration,
    /// The largest RTO after back-off: 60 s (RFC 6298 § 2.5 allows any maximum ≥ 60 s).
    pub max_rto: Duration,
    /// Retransmissions of one segment before giving up (Linux: 6 for a SYN).
    pub max_retries: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            local_port: 0,
            remote_port: 0,
            isn: 0,
            mss: 1460,
            // Linux's window in its SYN: 44 segments of 1460 bytes.
            window: 64_240,
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: true,
            ts_clock_offset: 0,
            time_wait: Duration::from_secs(2),
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            max_retries: 6,
        }
    }
}

impl Config {
    /// A client's configuration: from `local_port` to `remote_port`, starting at `isn`.
    pub fn client(local_port: u16, remote_port: u16, isn: u32) -> Self {
        Config {
            local_port,
            remote_port,
            isn,
            ..Config::default()
        }
    }

    /// A server's configuration: listening on `local_port`, starting at `isn`.
    pub fn server(local_port: u16, isn: u32) -> Self {
        Config::client(local_port, 0, isn)
    }
}

/// The timers an endpoint runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// RFC 6298: resend the oldest unacknowledged segment when it fires.
    Retransmission,
    /// RFC 9293 § 3.8.6.1: the peer's window is zero; probe it now and then.
    Persist,
    /// RFC 9293 § 3.6: 2·MSL in TIME-WAIT, then CLOSED.
    TimeWait,
}

impl TimerKind {
    pub fn name(&self) -> &'static str {
        match self {
            TimerKind::Retransmission => "retransmission",
            TimerKind::Persist => "persist",
            TimerKind::TimeWait => "TIME-WAIT",
        }
    }
}

/// A segment to put on the wire, with the reason for its numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The header; emit it with [`Repr::emit`] (the caller adds the IP layer and checksum).
    pub repr: Repr<'static>,
    pub payload: Vec<u8>,
    /// A short explanation for a learner: why these flags, this seq, this ack.
    pub why: String,
    /// The sender's congestion window, threshold and bytes in flight as this segment left
    /// (this segment included); `None` before the handshake completed.
    pub cc: Option<cc::Snapshot>,
}

impl Segment {
    /// Whether `flag` (one of [`flags`]) is set.
    pub fn has(&self, flag: u16) -> bool {
        self.repr.flags & flag != 0
    }

    /// Sequence numbers the segment uses: its data, plus one each for SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        segment_len(self.repr.flags, self.payload.len())
    }

    /// The flags as Wireshark lists them, e.g. `"SYN, ACK"` or `"FIN, PSH, ACK"`.
    pub fn flags_text(&self) -> String {
        flags_text(self.repr.flags)
    }
}

/// The flags in `f` as Wireshark lists them (`"SYN, ACK"`), or `"none"`.
pub fn flags_text(f: u16) -> String {
    const NAMES: [(u16, &str); 9] = [
        (flags::FIN, "FIN"),
        (flags::SYN, "SYN"),
        (flags::RST, "RST"),
        (flags::PSH, "PSH"),
        (flags::ACK, "ACK"),
        (flags::URG, "URG"),
        (flags::ECE, "ECE"),
        (flags::CWR, "CWR"),
        (flags::AE, "AE"),
    ];
    let v: Vec<&str> = NAMES
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// SEG.LEN (RFC 9293 § 3.4): data bytes plus one for SYN and one for FIN.
pub fn segment_len(f: u16, payload_len: usize) -> u32 {
    let data = u32::try_from(payload_len).unwrap_or(u32::MAX);
    data.wrapping_add(u32::from(f & flags::SYN != 0))
        .wrapping_add(u32::from(f & flags::FIN != 0))
}

/// What an endpoint asks its caller to do, or reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Put this segment on the wire.
    Send(Segment),
    /// The connection moved from one state to another, and why.
    StateChange { from: State, to: State, why: String },
    /// In-order bytes for the application.
    Deliver(Vec<u8>),
    /// A timer is (re)started and fires at `at`.
    TimerSet { kind: TimerKind, at: Duration },
    /// A timer is no longer needed (e.g. everything sent was acknowledged).
    TimerStopped { kind: TimerKind },
    /// A timer fired.
    TimerFired { kind: TimerKind },
    /// The retransmission timer expired: the segment at `seq` is resent for the
    /// `attempt`th time; `rto` is the timeout that just expired.
    Retransmit {
        seq: u32,
        attempt: u32,
        rto: Duration,
    },
    /// The peer sent the same ACK again while data is outstanding (RFC 5681 § 2): the
    /// `count`th duplicate in a row.
    DuplicateAck { count: u32 },
    /// Three duplicate ACKs: the segment at `seq` is resent without waiting for the RTO.
    FastRetransmit { seq: u32 },
    /// The congestion-control phase changed (or the window was cut), and why (see [`cc`]).
    Congestion(cc::CcChange),
    /// A round-trip time was measured and the RTO recomputed (RFC 6298 § 2).
    RttSample {
        rtt: Duration,
        srtt: Duration,
        rttvar: Duration,
        rto: Duration,
    },
    /// The peer reset the connection.
    PeerReset,
    /// Anything else worth telling a learner.
    Note(String),
}

/// Counters for a summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub segments_sent: u64,
    pub segments_received: u64,
    /// New payload bytes sent (retransmissions not counted).
    pub bytes_sent: u64,
    /// Payload bytes delivered to the application.
    pub bytes_received: u64,
    /// Segments sent again: by timeout, fast retransmit or a partial ACK.
    pub retransmissions: u64,
    pub bytes_retransmitted: u64,
    pub fast_retransmits: u64,
    /// Duplicate ACKs received from the peer (RFC 5681 § 2 definition).
    pub dup_acks_received: u64,
    /// Duplicate ACKs we sent because data arrived out of order.
    pub dup_acks_sent: u64,
    /// Segments that arrived ahead of a hole and were held.
    pub out_of_order: u64,
}

/// A duration for a learner: "1 s", "200 ms", "1.5 ms".
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns.is_multiple_of(1_000_000_000) {
        format!("{} s", ns / 1_000_000_000)
    } else if ns >= 1_000_000_000 {
        let s = format!("{:.3}", d.as_secs_f64());
        format!("{} s", s.trim_end_matches('0').trim_end_matches('.'))
    } else if ns.is_multiple_of(1_000_000) {
        format!("{} ms", ns / 1_000_000)
    } else {
        let s = format!("{:.3}", ns as f64 / 1e6);
        format!("{} ms", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

#[cfg(test)]
mod type_tests {
    use super::*;

    #[test]
    fn state_names_follow_rfc9293() {
        assert_eq!(State::SynReceived.name(), "SYN-RECEIVED");
        assert_eq!(State::FinWait2.to_string(), "FIN-WAIT-2");
        assert_eq!(State::TimeWait.name(), "TIME-WAIT");
    }

    #[test]
    fn flags_in_wireshark_order() {
        assert_eq!(flags_text(flags::SYN | flags::ACK), "SYN, ACK");
        assert_eq!(
            flags_text(flags::ACK | flags::PSH | flags::FIN),
            "FIN, PSH, ACK"
        );
        assert_eq!(flags_text(0), "none");
    }

    #[test]
    fn syn_and_fin_use_one_number_each() {
        assert_eq!(segment_len(flags::SYN, 0), 1);
        assert_eq!(segment_len(flags::FIN | flags::ACK, 5), 6);
        assert_eq!(segment_len(flags::ACK, 0), 0);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_duration(Duration::from_secs(2)), "2 s");
        assert_eq!(fmt_duration(Duration::from_millis(200)), "200 ms");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(fmt_duration(Duration::from_micros(272_500)), "272.5 ms");
    }
}
