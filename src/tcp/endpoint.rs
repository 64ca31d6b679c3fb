//! The TCP state machine: RFC 9293 § 3.10 "Event Processing", one method per event.
//!
//! The RFC describes TCP as a reaction to events: the user calls OPEN, SEND, CLOSE or
//! ABORT; a segment arrives; a timeout occurs. [`Endpoint`] has one method per event, and
//! the segment-arrival method follows the RFC's order of checks, which is worth learning
//! as it is (§ 3.10.7.4):
//!
//! 1. the sequence number: is the segment inside our receive window? If not, it is an old
//!    duplicate or garbage: answer with an ACK that says where we are, and drop it;
//! 2. the RST bit: a reset is believed only if its sequence number is exactly the next
//!    one we expect (RFC 5961), otherwise we send a "challenge ACK";
//! 3. the SYN bit: a SYN on a synchronized connection also earns a challenge ACK;
//! 4. the ACK field: advance SND.UNA, take an RTT sample, update the send window, and
//!    let congestion control ([`super::cc`]) grow its window — or, on the third duplicate
//!    ACK, halve it and resend;
//! 5. the data: deliver it in order, or hold it if a hole precedes it;
//! 6. the FIN bit: the peer will send no more.
//!
//! Variable names follow the RFC's transmission control block (§ 3.3.1): `snd_una` (oldest
//! unacknowledged), `snd_nxt` (next to send), `snd_wnd` (the peer's window), `rcv_nxt`
//! (next expected), `iss`/`irs` (initial send/receive sequence numbers).

use std::collections::VecDeque;
use std::time::Duration;

use super::cc::{self, NewReno};
use super::reassembly::Reassembly;
use super::rtt::RttEstimator;
use super::seq::{seq_diff, seq_ge, seq_gt, seq_in_window, seq_le, seq_lt};
use super::{Action, Config, Segment, State, Stats, TimerKind, fmt_duration, segment_len};
use crate::wire::tcp::{Repr, TcpOption, flags};

/// RFC 7323 § 2.3: a shift above 14 would let the window reach 2^31 and break sequence
/// comparisons; a larger offer is used as 14.
const MAX_WINDOW_SHIFT: u8 = 14;
/// RFC 9293 § 3.7.1: without an MSS option, assume 536 bytes (a 576-byte IPv4 datagram).
const DEFAULT_PEER_MSS: u16 = 536;
/// RFC 6298 § 5.7: after a SYN was retransmitted, data starts with an RTO of at least 3 s.
const SYN_RTO_FLOOR: Duration = Duration::from_secs(3);
/// NOP, NOP, Timestamp: the 12 option bytes on every segment once timestamps are agreed.
const TS_OPTION_LEN: usize = 12;

/// What the handshake agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's MSS option (536 when it sent none).
    pub peer_mss: u16,
    /// Payload bytes per segment we send: `min(peer MSS, our MSS)`, minus 12 when
    /// timestamps take option space (RFC 9293 § 3.7.1). Linux's 1448 is 1460 - 12.
    pub send_mss: usize,
    /// `(our shift, their shift)` when both SYNs carried a window-scale option.
    pub window_scale: Option<(u8, u8)>,
    pub sack: bool,
    pub timestamps: bool,
}

/// Options found in a SYN or SYN-ACK.
#[derive(Debug, Default)]
struct Offer {
    mss: Option<u16>,
    ws: Option<u8>,
    sack: bool,
    tsval: Option<u32>,
}

fn read_offer(seg: &Repr) -> Offer {
    let mut o = Offer::default();
    for opt in &seg.options {
        match *opt {
            TcpOption::MaxSegmentSize(m) => o.mss = Some(m),
            TcpOption::WindowScale(s) => o.ws = Some(s),
            TcpOption::SackPermitted => o.sack = true,
            TcpOption::Timestamp { tsval, .. } => o.tsval = Some(tsval),
            _ => {}
        }
    }
    o
}

fn tsval_of(seg: &Repr) -> Option<u32> {
    seg.options.iter().find_map(|o| match *o {
        TcpOption::Timestamp { tsval, .. } => Some(tsval),
        _ => None,
    })
}

/// One end of a TCP connection: RFC 9293's transmission control block plus the state
/// machine that drives it. See the [module docs](super) for the shape of the API.
#[derive(Debug, Clone)]
pub struct Endpoint {
    cfg: Config,
    state: State,
    /// Opened with `listen`: a reset in SYN-RECEIVED returns to LISTEN (RFC 9293 § 3.10.7.4).
    passive: bool,
    local_port: u16,
    remote_port: u16,

    // Send sequence space (RFC 9293 § 3.3.1).
    iss: u32,
    snd_una: u32,
    snd_nxt: u32,
    /// The peer's window in bytes (already scaled).
    snd_wnd: u32,
    /// Seq and ack of the segment that last updated `snd_wnd`: an older segment must not
    /// overwrite a newer window.
    snd_wl1: u32,
    snd_wl2: u32,

    // Receive sequence space.
    irs: Option<u32>,
    rcv_nxt: u32,

    // What the handshake agreed.
    peer_mss: u16,
    snd_shift: u8,
    rcv_shift: u8,
    ws_ok: bool,
    sack_ok: bool,
    ts_ok: bool,
    /// The peer's latest TSval, echoed as our TSecr (RFC 7323 § 4.3).
    ts_recent: u32,

    /// Bytes from the application not yet acknowledged: sent-and-unacknowledged, then
    /// unsent. `send_buf[0]` has sequence number `send_buf_seq`.
    send_buf: VecDeque<u8>,
    send_buf_seq: u32,
    /// The application called close(): a FIN follows the queued data.
    fin_queued: bool,
    /// Sequence number of our FIN, once sent.
    fin_seq: Option<u32>,

    rx: Reassembly,
    /// Sequence number of a FIN that arrived ahead of a hole.
    peer_fin: Option<u32>,

    rtx_at: Option<Duration>,
    persist_at: Option<Duration>,
    persist_backoff: u32,
    tw_at: Option<Duration>,

    rtt: RttEstimator,
    /// Consecutive retransmissions of the oldest segment.
    retries: u32,
    /// The one segment being timed: (sequence number its ACK must reach, when it was sent).
    rtt_probe: Option<(u32, Duration)>,
    dup_acks: u32,
    syn_retransmitted: bool,
    /// How often our SYN or SYN-ACK was resent (RFC 6928 cuts the initial window after two).
    syn_retransmissions: u32,
    /// Congestion control ([`cc`]), from the moment the handshake completes.
    cc: Option<NewReno>,
    /// After a retransmission timeout: the next sequence number to resend. Everything
    /// from SND.UNA up to SND.NXT is presumed lost and resent in order, as the congestion
    /// window allows ("go-back-N", as BSD and Linux do without SACK); `None` otherwise.
    rtx_next: Option<u32>,
    stats: Stats,
}

impl Endpoint {
    /// An endpoint in CLOSED: every segment sent to it is answered with a reset, as a port
    /// where nobody listens.
    pub fn closed(cfg: Config) -> Endpoint {
        let rtt = RttEstimator::new(cfg.initial_rto, cfg.min_rto, cfg.max_rto);
        Endpoint {
            state: State::Closed,
            passive: false,
            local_port: cfg.local_port,
            remote_port: cfg.remote_port,
            iss: cfg.isn,
            snd_una: cfg.isn,
            snd_nxt: cfg.isn,
            snd_wnd: 0,
            snd_wl1: 0,
            snd_wl2: 0,
            irs: None,
            rcv_nxt: 0,
            peer_mss: DEFAULT_PEER_MSS,
            snd_shift: 0,
            rcv_shift: 0,
            ws_ok: false,
            sack_ok: false,
            ts_ok: false,
            ts_recent: 0,
            send_buf: VecDeque::new(),
            send_buf_seq: cfg.isn.wrapping_add(1),
            fin_queued: false,
            fin_seq: None,
            rx: Reassembly::default(),
            peer_fin: None,
            rtx_at: None,
            persist_at: None,
            persist_backoff: 0,
            tw_at: None,
            rtt,
            retries: 0,
            rtt_probe: None,
            dup_acks: 0,
            syn_retransmitted: false,
            syn_retransmissions: 0,
            cc: None,
            rtx_next: None,
            stats: Stats::default(),
            cfg,
        }
    }

    /// Active open (RFC 9293 § 3.10.1): send a SYN with our options, enter SYN-SENT.
    pub fn connect(cfg: Config, now: Duration) -> (Endpoint, Vec<Action>) {
        let mut ep = Endpoint::closed(cfg);
        let mut out = Vec::new();
        ep.snd_una = ep.iss;
        ep.snd_nxt = ep.iss.wrapping_add(1);
        ep.set_state(
            State::SynSent,
            "connect(): active open, we send the first SYN".into(),
            &mut out,
        );
        let why = format!(
            "SYN: seq = our ISN {} (real stacks pick it at random); {}",
            ep.iss,
            ep.offer_text()
        );
        let seg = ep.syn_segment(now, false, why);
        ep.emit(seg, &mut out);
        ep.rtt_probe = Some((ep.snd_nxt, now));
        ep.arm_rtx(now, &mut out);
        (ep, out)
    }

    /// Passive open (RFC 9293 § 3.10.1): wait in LISTEN for a SYN.
    pub fn listen(cfg: Config) -> Endpoint {
        let mut ep = Endpoint::closed(cfg);
        ep.state = State::Listen;
        ep.passive = true;
        ep
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Our initial sequence number.
    pub fn isn(&self) -> u32 {
        self.iss
    }

    /// The peer's initial sequence number, once its SYN arrived.
    pub fn peer_isn(&self) -> Option<u32> {
        self.irs
    }

    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The peer's port (0 while a listener has not seen a SYN).
    pub fn remote_port(&self) -> u16 {
        self.remote_port
    }

    /// Our port (0 while a wildcard listener has not seen a SYN).
    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    /// SND.UNA: the oldest sequence number not yet acknowledged.
    pub fn snd_una(&self) -> u32 {
        self.snd_una
    }

    /// SND.NXT: the sequence number we send next.
    pub fn snd_nxt(&self) -> u32 {
        self.snd_nxt
    }

    /// RCV.NXT: the next sequence number we expect from the peer.
    pub fn rcv_nxt(&self) -> u32 {
        self.rcv_nxt
    }

    /// The peer's window in bytes (scaled).
    pub fn snd_wnd(&self) -> u32 {
        self.snd_wnd
    }

    /// The retransmission timeout now in force.
    pub fn rto(&self) -> Duration {
        self.rtt.rto()
    }

    /// The smoothed round-trip time, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.rtt.srtt()
    }

    /// Bytes accepted by `send` and not yet acknowledged.
    pub fn send_queue_len(&self) -> usize {
        self.send_buf.len()
    }

    /// The congestion window, ssthresh and bytes in flight now (once the handshake is done).
    pub fn congestion(&self) -> Option<cc::Snapshot> {
        self.cc.as_ref().map(|c| c.snapshot(self.flight()))
    }

    /// What the handshake agreed (meaningful once synchronized).
    pub fn negotiated(&self) -> Negotiated {
        Negotiated {
            peer_mss: self.peer_mss,
            send_mss: self.send_mss(),
            window_scale: self.ws_ok.then_some((self.rcv_shift, self.snd_shift)),
            sack: self.sack_ok,
            timestamps: self.ts_ok,
        }
    }

    /// The next timer deadline: call [`Endpoint::on_timer`] then.
    pub fn poll_at(&self) -> Option<Duration> {
        [self.rtx_at, self.persist_at, self.tw_at]
            .into_iter()
            .flatten()
            .min()
    }

    // ----- user calls (RFC 9293 § 3.10.2-3.10.5) -----

    /// SEND: queue `data`; send what the peer's window and MSS allow now.
    pub fn send(&mut self, now: Duration, data: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        if self.fin_queued {
            out.push(Action::Note(
                "send(): refused, close() was called: no data may follow our FIN".into(),
            ));
            return out;
        }
        match self.state {
            State::Closed => out.push(Action::Note(
                "send(): refused, the connection does not exist (CLOSED)".into(),
            )),
            State::Listen | State::SynSent | State::SynReceived => {
                self.send_buf.extend(data);
                out.push(Action::Note(format!(
                    "send(): {} bytes queued until the handshake completes",
                    data.len()
                )));
            }
            State::Established | State::CloseWait => {
                self.send_buf.extend(data);
                self.flush(now, &mut out);
            }
            _ => out.push(Action::Note(format!(
                "send(): refused, the connection is closing ({})",
                self.state
            ))),
        }
        out
    }

    /// CLOSE: we will send no more. A FIN follows the queued data.
    pub fn close(&mut self, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        match self.state {
            State::Closed => out.push(Action::Note(
                "close(): the connection does not exist (CLOSED)".into(),
            )),
            State::Listen | State::SynSent => self.set_state(
                State::Closed,
                "close() before the handshake completed: nothing to tell the peer".into(),
                &mut out,
            ),
            State::SynReceived => {
                // Simplification: RFC 9293 allows a FIN in SYN-RECEIVED; netlab waits for
                // the handshake's ACK and then sends it, which needs no extra state.
                self.fin_queued = true;
                out.push(Action::Note(
                    "close() in SYN-RECEIVED: the FIN follows once the handshake completes".into(),
                ));
            }
            State::Established => {
                self.fin_queued = true;
                self.set_state(
                    State::FinWait1,
                    "close(): we will send no more; a FIN follows our queued data".into(),
                    &mut out,
                );
                self.flush(now, &mut out);
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.set_state(
                    State::LastAck,
                    "close() after their FIN: our FIN closes the second direction".into(),
                    &mut out,
                );
                self.flush(now, &mut out);
            }
            _ => out.push(Action::Note(format!(
                "close(): already closing ({})",
                self.state
            ))),
        }
        out
    }

    /// ABORT: send a reset if the peer knows of the connection, and forget it.
    pub fn abort(&mut self, _now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        match self.state {
            State::Closed => out.push(Action::Note(
                "abort(): the connection does not exist (CLOSED)".into(),
            )),
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => {
                let why = format!(
                    "RST: abort; seq = SND.NXT (ISN + {}) so it lands exactly where they \
                     expect our next byte and they believe it (RFC 9293 § 3.10.5)",
                    self.rs(self.snd_nxt)
                );
                let seg = self.make_rst(self.snd_nxt, 0, flags::RST, why);
                self.emit(seg, &mut out);
                self.set_state(State::Closed, "abort(): connection reset".into(), &mut out);
            }
            _ => self.set_state(
                State::Closed,
                "abort(): no reset needed in this state (RFC 9293 § 3.10.5)".into(),
                &mut out,
            ),
        }
        out
    }

    // ----- timeouts (RFC 9293 § 3.10.8) -----

    /// Fires every timer whose deadline is at or before `now`.
    pub fn on_timer(&mut self, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        if self.tw_at.is_some_and(|t| t <= now) {
            self.tw_at = None;
            out.push(Action::TimerFired {
                kind: TimerKind::TimeWait,
            });
            self.set_state(
                State::Closed,
                "2·MSL passed in TIME-WAIT: no old segment of this connection can still be \
                 in flight, the port pair may be reused"
                    .into(),
                &mut out,
            );
        }
        if self.rtx_at.is_some_and(|t| t <= now) {
            self.rtx_at = None;
            out.push(Action::TimerFired {
                kind: TimerKind::Retransmission,
            });
            self.on_rto(now, &mut out);
        }
        if self.persist_at.is_some_and(|t| t <= now) {
            self.persist_at = None;
            out.push(Action::TimerFired {
                kind: TimerKind::Persist,
            });
            self.on_persist(now, &mut out);
        }
        out
    }

    /// RFC 6298 § 5.4-5.6: resend the oldest unacknowledged segment, double the RTO.
    fn on_rto(&mut self, now: Duration, out: &mut Vec<Action>) {
        if !matches!(
            self.state,
            State::SynSent
                | State::SynReceived
                | State::Established
                | State::FinWait1
                | State::CloseWait
                | State::Closing
                | State::LastAck
        ) || self.snd_una == self.snd_nxt
        {
            return;
        }
        if self.retries >= self.cfg.max_retries {
            self.give_up(out);
            return;
        }
        let expired = self.rtt.rto();
        // RFC 5681 cuts ssthresh only for a segment "not yet resent by way of the
        // retransmission timer".
        let first_timeout = self.retries == 0;
        self.retries += 1;
        // Karn's algorithm: the ACK for this segment cannot be timed any more.
        self.rtt_probe = None;
        let handshake = matches!(self.state, State::SynSent | State::SynReceived);
        if handshake {
            self.syn_retransmitted = true;
            self.syn_retransmissions += 1;
        }
        out.push(Action::Retransmit {
            seq: self.snd_una,
            attempt: self.retries,
            rto: expired,
        });
        if !handshake {
            let flight = self.flight();
            let highest_sent = self.snd_nxt.wrapping_sub(1);
            if let Some(cc) = &mut self.cc {
                let change = cc.on_rto(flight, highest_sent, first_timeout);
                out.push(Action::Congestion(change));
            }
            // Everything outstanding is presumed lost: resend it from SND.UNA on, the
            // first segment now and the rest as ACKs open the congestion window.
            self.rtx_next = Some(self.snd_una);
        }
        let next = self.rtt.back_off();
        let what = match self.state {
            State::SynSent => "our SYN: no SYN-ACK yet".to_string(),
            State::SynReceived => "our SYN-ACK: no ACK for it yet".to_string(),
            _ if self.fin_seq == Some(self.snd_una) => "our FIN: no ACK for it yet".into(),
            _ => format!("seq ISN + {}: no ACK for it yet", self.rs(self.snd_una)),
        };
        let why = format!(
            "retransmission #{} after RTO {} of {what}; next wait {} (the RTO doubles \
             each time, RFC 6298 § 5.5)",
            self.retries,
            fmt_duration(expired),
            fmt_duration(next)
        );
        self.retransmit_first(now, why, out);
        self.arm_rtx(now, out);
    }

    /// RFC 9293 § 3.8.3 (threshold R2): the peer is gone; stop trying.
    fn give_up(&mut self, out: &mut Vec<Action>) {
        out.push(Action::Note(format!(
            "giving up: {} retransmissions went unanswered (max_retries)",
            self.retries
        )));
        if self.state != State::SynSent {
            let why = "RST: we gave up on the connection; tell the peer in case it is still \
                       there"
                .to_string();
            let seg = self.make_rst(self.snd_nxt, 0, flags::RST, why);
            self.emit(seg, out);
        }
        self.set_state(
            State::Closed,
            "retransmission limit reached: connection timed out".into(),
            out,
        );
    }

    /// RFC 9293 § 3.8.6.1: the peer's window is zero and we have data. Probe it, as Linux
    /// does, with a segment carrying the old sequence number SND.UNA - 1 and no data: the
    /// peer must answer with an ACK, which carries its current window.
    fn on_persist(&mut self, now: Duration, out: &mut Vec<Action>) {
        if !self.can_send_data() {
            return;
        }
        if self.snd_wnd > 0 {
            self.flush(now, out);
            return;
        }
        let why = format!(
            "zero-window probe: their window is 0; seq = SND.UNA - 1 (ISN + {}), an old \
             number, so they must reply with an ACK showing their current window",
            self.rs(self.snd_una.wrapping_sub(1))
        );
        let opts = self.options(now, false);
        let seg = self.make(
            self.snd_una.wrapping_sub(1),
            flags::ACK,
            Vec::new(),
            opts,
            why,
        );
        self.emit(seg, out);
        self.persist_backoff = self.persist_backoff.saturating_add(1);
        self.arm_persist(now, out);
    }

    // ----- segment arrival (RFC 9293 § 3.10.7) -----

    /// SEGMENT ARRIVES: process one segment (already parsed and checksum-verified by the
    /// caller) addressed to our port.
    pub fn on_segment(&mut self, now: Duration, seg: &Repr, payload: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        self.stats.segments_received += 1;
        let ours = (self.local_port == 0 || seg.dst_port == self.local_port)
            && (self.remote_port == 0 || seg.src_port == self.remote_port);
        if !ours {
            self.reset_unknown(
                seg,
                payload.len(),
                "no connection here for this port pair",
                &mut out,
            );
            return out;
        }
        match self.state {
            State::Closed => self.reset_unknown(
                seg,
                payload.len(),
                "the connection is CLOSED: nobody listens",
                &mut out,
            ),
            State::Listen => self.on_listen(now, seg, payload, &mut out),
            State::SynSent => self.on_syn_sent(now, seg, payload, &mut out),
            _ => self.on_synchronized(now, seg, payload, &mut out),
        }
        out
    }

    /// RFC 9293 § 3.10.7.1: a segment for a connection that does not exist gets a reset
    /// it will believe, built only from its own numbers.
    fn reset_unknown(&mut self, seg: &Repr, payload_len: usize, ctx: &str, out: &mut Vec<Action>) {
        if seg.flags & flags::RST != 0 {
            out.push(Action::Note(format!(
                "RST ignored ({ctx}): a reset is never answered with a reset"
            )));
            return;
        }
        let (seq, ack, fl, why) = if seg.flags & flags::ACK != 0 {
            (
                seg.ack_number,
                0,
                flags::RST,
                format!(
                    "RST: {ctx}; seq = their ACK number {}, the one sequence number they \
                     are sure to accept (RFC 9293 § 3.10.7.1)",
                    seg.ack_number
                ),
            )
        } else {
            let len = segment_len(seg.flags, payload_len);
            let ack = seg.seq_number.wrapping_add(len);
            (
                0,
                ack,
                flags::RST | flags::ACK,
                format!(
                    "RST, ACK: {ctx}; they sent no ACK, so seq = 0 and ACK = their seq + \
                     {len} = {ack}{} (RFC 9293 § 3.10.7.1)",
                    if seg.flags & flags::SYN != 0 {
                        ", the SYN counts one"
                    } else {
                        ""
                    }
                ),
            )
        };
        let seg = Segment {
            repr: Repr {
                src_port: seg.dst_port,
                dst_port: seg.src_port,
                seq_number: seq,
                ack_number: ack,
                flags: fl,
                window_len: 0,
                options: Vec::new(),
            },
            payload: Vec::new(),
            why,
            cc: None,
        };
        self.emit(seg, out);
    }

    /// RFC 9293 § 3.10.7.2: LISTEN waits for a SYN.
    fn on_listen(&mut self, now: Duration, seg: &Repr, payload: &[u8], out: &mut Vec<Action>) {
        if seg.flags & flags::RST != 0 {
            out.push(Action::Note("RST in LISTEN: ignored".into()));
            return;
        }
        if seg.flags & flags::ACK != 0 {
            // An ACK in LISTEN acknowledges nothing we sent: reset it (seq = their ACK).
            self.reset_unknown(
                seg,
                payload.len(),
                "an ACK in LISTEN acknowledges nothing",
                out,
            );
            return;
        }
        if seg.flags & flags::SYN == 0 {
            out.push(Action::Note(
                "segment without SYN, ACK or RST in LISTEN: dropped".into(),
            ));
            return;
        }
        self.remote_port = seg.src_port;
        self.local_port = seg.dst_port;
        self.irs = Some(seg.seq_number);
        self.rcv_nxt = seg.seq_number.wrapping_add(1);
        let offer = read_offer(seg);
        self.negotiate(&offer, out);
        if let Some(v) = offer.tsval {
            self.ts_recent = v;
        }
        // The window in a SYN is never scaled (RFC 7323 § 2.2).
        self.snd_wnd = u32::from(seg.window_len);
        self.snd_wl1 = seg.seq_number;
        self.snd_wl2 = 0;
        self.snd_una = self.iss;
        self.snd_nxt = self.iss.wrapping_add(1);
        self.send_buf_seq = self.snd_nxt;
        if !payload.is_empty() || seg.flags & flags::FIN != 0 {
            out.push(Action::Note(
                "data or FIN in a SYN: not accepted (the ACK covers only the SYN); the peer \
                 will send it again"
                    .into(),
            ));
        }
        self.set_state(
            State::SynReceived,
            "their SYN arrived: answer with our SYN-ACK".into(),
            out,
        );
        let why = format!(
            "SYN-ACK: seq = our ISN {}; ACK = their ISN + 1 = {}: a SYN uses one sequence \
             number; options: only those their SYN offered too",
            self.iss, self.rcv_nxt
        );
        let syn_ack = self.syn_segment(now, true, why);
        self.emit(syn_ack, out);
        self.rtt_probe = Some((self.snd_nxt, now));
        self.arm_rtx(now, out);
    }

    /// RFC 9293 § 3.10.7.3: SYN-SENT waits for the SYN-ACK.
    fn on_syn_sent(&mut self, now: Duration, seg: &Repr, payload: &[u8], out: &mut Vec<Action>) {
        let has_ack = seg.flags & flags::ACK != 0;
        if has_ack && (seq_le(seg.ack_number, self.iss) || seq_gt(seg.ack_number, self.snd_nxt)) {
            if seg.flags & flags::RST == 0 {
                let why = format!(
                    "RST: their ACK {} does not acknowledge our SYN (we expect ISN + 1 = {}); \
                     seq = their ACK so they accept the reset (RFC 9293 § 3.10.7.3)",
                    seg.ack_number, self.snd_nxt
                );
                let rst = self.make_rst(seg.ack_number, 0, flags::RST, why);
                self.emit(rst, out);
            }
            return;
        }
        if seg.flags & flags::RST != 0 {
            if has_ack {
                out.push(Action::PeerReset);
                self.set_state(
                    State::Closed,
                    "connection refused: an RST answered our SYN (nobody listens there)".into(),
                    out,
                );
            } else {
                out.push(Action::Note(
                    "RST without ACK in SYN-SENT: cannot be matched to our SYN, ignored".into(),
                ));
            }
            return;
        }
        if seg.flags & flags::SYN == 0 {
            out.push(Action::Note(
                "segment without SYN in SYN-SENT: dropped (we wait for a SYN-ACK)".into(),
            ));
            return;
        }
        self.irs = Some(seg.seq_number);
        self.rcv_nxt = seg.seq_number.wrapping_add(1);
        let offer = read_offer(seg);
        self.negotiate(&offer, out);
        if let Some(v) = offer.tsval {
            self.ts_recent = v;
        }
        self.snd_wnd = u32::from(seg.window_len);
        self.snd_wl1 = seg.seq_number;
        self.snd_wl2 = seg.ack_number;
        if !has_ack {
            // Simultaneous open (RFC 9293 § 3.5, figure 7): both sides sent a SYN.
            self.set_state(
                State::SynReceived,
                "their SYN crossed ours (simultaneous open): answer with a SYN-ACK".into(),
                out,
            );
            let why = format!(
                "SYN-ACK: seq = our ISN {} again (the same SYN, now with an ACK); ACK = their \
                 ISN + 1 = {}",
                self.iss, self.rcv_nxt
            );
            let syn_ack = self.syn_segment(now, true, why);
            self.emit(syn_ack, out);
            return;
        }
        self.on_new_ack(now, seg.ack_number, out);
        self.set_state(
            State::Established,
            "their SYN-ACK acknowledged our SYN: the handshake is complete on our side".into(),
            out,
        );
        self.after_established(out);
        let why = format!(
            "ACK = their ISN + 1 = {}: their SYN used one number; seq = our ISN + 1 = {}: \
             ours did too. The handshake's third segment",
            self.rcv_nxt, self.snd_nxt
        );
        self.send_ack(now, why, out);
        if !payload.is_empty() || seg.flags & flags::FIN != 0 {
            let fin = seg.flags & flags::FIN != 0;
            self.process_text(now, seg.seq_number.wrapping_add(1), payload, fin, out);
        } else {
            self.flush(now, out);
        }
    }

    /// RFC 9293 § 3.10.7.4: every state from SYN-RECEIVED on.
    fn on_synchronized(
        &mut self,
        now: Duration,
        seg: &Repr,
        payload: &[u8],
        out: &mut Vec<Action>,
    ) {
        let rst = seg.flags & flags::RST != 0;
        let mut syn = seg.flags & flags::SYN != 0;
        let fin = seg.flags & flags::FIN != 0;
        let has_ack = seg.flags & flags::ACK != 0;
        let irs = self.irs.unwrap_or(0);
        let mut seq = seg.seq_number;
        let mut len = segment_len(seg.flags, payload.len());

        if self.state == State::SynReceived && syn && !rst && seq == irs {
            if has_ack && seg.ack_number == self.snd_nxt {
                // Simultaneous open: their SYN-ACK repeats the SYN we know and acknowledges
                // ours. Treat it as the handshake's ACK.
                syn = false;
                seq = seq.wrapping_add(1);
                len = len.wrapping_sub(1);
            } else if !has_ack {
                let why = format!(
                    "SYN-ACK again: their SYN arrived a second time, so our SYN-ACK was \
                     probably lost; resend it at once (as Linux does). ACK = their ISN + 1 = {}",
                    self.rcv_nxt
                );
                let again = self.syn_segment(now, true, why);
                self.rtt_probe = None;
                self.syn_retransmitted = true;
                self.syn_retransmissions += 1;
                self.stats.retransmissions += 1;
                self.emit(again, out);
                self.arm_rtx(now, out);
                return;
            }
        }

        if self.state == State::TimeWait && fin && !rst && seq.wrapping_add(len) == self.rcv_nxt {
            self.restart_time_wait(now, out);
            let why = format!(
                "ACK = their FIN + 1 = ISN + {} again: their FIN came back, so our last ACK \
                 was lost; that is why TIME-WAIT exists. The 2·MSL timer restarts",
                self.ra(self.rcv_nxt)
            );
            self.send_ack(now, why, out);
            return;
        }

        // First: the sequence number.
        if !self.acceptable(seq, len) {
            if !rst {
                let what = if len > 0 && seq_le(seq.wrapping_add(len), self.rcv_nxt) {
                    "a duplicate of bytes we already have"
                } else if len == 0 {
                    "a segment with an old or future seq"
                } else {
                    "a segment outside our receive window"
                };
                let why = format!(
                    "ACK = ISN + {}: they sent {what} (seq ISN + {}); re-ACK to say where we \
                     are (RFC 9293 § 3.10.7.4)",
                    self.ra(self.rcv_nxt),
                    self.ra(seq)
                );
                self.send_ack(now, why, out);
            }
            return;
        }

        if let Some(v) = tsval_of(seg)
            && self.ts_ok
            && seq_le(seq, self.rcv_nxt)
        {
            self.ts_recent = v;
        }

        // Second: the RST bit (RFC 5961 § 3.2, adopted by RFC 9293).
        if rst {
            if seq == self.rcv_nxt {
                if self.state == State::SynReceived && self.passive {
                    self.back_to_listen(out);
                    return;
                }
                out.push(Action::PeerReset);
                self.set_state(
                    State::Closed,
                    "RST with seq = RCV.NXT: the peer aborted the connection".into(),
                    out,
                );
            } else {
                let why = format!(
                    "challenge ACK: an RST with seq ISN + {} is in our window but not exactly \
                     the expected ISN + {}; a real peer answers with an exact RST, a blind \
                     attacker cannot (RFC 5961 § 3.2)",
                    self.ra(seq),
                    self.ra(self.rcv_nxt)
                );
                self.send_ack(now, why, out);
            }
            return;
        }

        // Fourth: a SYN on a synchronized connection (RFC 5961 § 4).
        if syn {
            let why = "challenge ACK: a SYN on a synchronized connection; if the peer really \
                       restarted it will answer with an RST (RFC 5961 § 4)"
                .to_string();
            self.send_ack(now, why, out);
            return;
        }

        // Fifth: the ACK field.
        if !has_ack {
            out.push(Action::Note(
                "segment without ACK on a synchronized connection: dropped".into(),
            ));
            return;
        }
        if self.state == State::SynReceived {
            if seq_lt(self.snd_una, seg.ack_number) && seq_le(seg.ack_number, self.snd_nxt) {
                self.set_state(
                    State::Established,
                    "the ACK of our SYN-ACK arrived: the handshake is complete".into(),
                    out,
                );
                self.after_established(out);
                // The handshake's ACK carries the first scaled window (RFC 7323 § 2.2).
                self.snd_wnd = self.scaled(seg.window_len);
                self.snd_wl1 = seq;
                self.snd_wl2 = seg.ack_number;
                if self.fin_queued {
                    self.set_state(
                        State::FinWait1,
                        "close() was called during the handshake: now send the FIN".into(),
                        out,
                    );
                }
            } else {
                let why = format!(
                    "RST: their ACK {} does not acknowledge our SYN-ACK (we expect ISN + 1 = \
                     {}); seq = their ACK (RFC 9293 § 3.10.7.4)",
                    seg.ack_number, self.snd_nxt
                );
                let rst = self.make_rst(seg.ack_number, 0, flags::RST, why);
                self.emit(rst, out);
                return;
            }
        }
        if !self.process_ack(now, seq, seg, payload.len(), out) {
            return;
        }

        // Seventh and eighth: the text and the FIN.
        match self.state {
            State::Established | State::FinWait1 | State::FinWait2 => {
                if !payload.is_empty() || fin {
                    self.process_text(now, seq, payload, fin, out);
                } else {
                    self.flush(now, out);
                }
            }
            State::CloseWait | State::Closing | State::LastAck => {
                if !payload.is_empty() {
                    out.push(Action::Note(
                        "data after the peer's FIN: ignored (RFC 9293 § 3.10.7.4)".into(),
                    ));
                }
                self.flush(now, out);
            }
            _ => {}
        }
    }

    /// RFC 9293 § 3.10.7.4, "fifth, check the ACK field", for the synchronized states.
    /// Returns false when the segment must not be processed further.
    fn process_ack(
        &mut self,
        now: Duration,
        seq: u32,
        seg: &Repr,
        payload_len: usize,
        out: &mut Vec<Action>,
    ) -> bool {
        let ack = seg.ack_number;
        if seq_gt(ack, self.snd_nxt) {
            let why = format!(
                "ACK = ISN + {}: they acknowledge ISN + {}, which we never sent; tell them \
                 where we are",
                self.ra(self.rcv_nxt),
                self.rs(ack)
            );
            self.send_ack(now, why, out);
            return false;
        }
        let wnd = self.scaled(seg.window_len);
        let una_before = self.snd_una;
        if seq_lt(self.snd_una, ack) {
            let acked = self.on_new_ack(now, ack, out);
            let flight = self.flight();
            if let Some(cc) = &mut self.cc {
                let r = cc.on_ack(ack, u32::try_from(acked).unwrap_or(u32::MAX), flight);
                self.apply_cc(now, r, out);
            }
        } else if ack == self.snd_una
            && self.snd_una != self.snd_nxt
            && payload_len == 0
            && seg.flags & (flags::SYN | flags::FIN) == 0
            && wnd == self.snd_wnd
        {
            // RFC 5681 § 2's definition of a duplicate ACK: data outstanding, no data or
            // SYN/FIN in it, same ACK number, same window.
            self.dup_acks += 1;
            self.stats.dup_acks_received += 1;
            out.push(Action::DuplicateAck {
                count: self.dup_acks,
            });
            let flight = self.flight();
            let highest_sent = self.snd_nxt.wrapping_sub(1);
            if let Some(cc) = &mut self.cc {
                let r = cc.on_dup_ack(self.dup_acks, ack, flight, highest_sent);
                if r.resend_first.is_some() {
                    self.stats.fast_retransmits += 1;
                    out.push(Action::FastRetransmit { seq: self.snd_una });
                }
                self.apply_cc(now, r, out);
            }
        }
        // Window update (SND.WL1/WL2 keep an old segment from undoing a newer window).
        if seq_le(una_before, ack)
            && (seq_lt(self.snd_wl1, seq) || (self.snd_wl1 == seq && seq_le(self.snd_wl2, ack)))
        {
            if self.snd_wnd == 0 && wnd > 0 {
                self.stop_persist(out);
                self.persist_backoff = 0;
                out.push(Action::Note(format!(
                    "their window opened again: {wnd} bytes"
                )));
            }
            self.snd_wnd = wnd;
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
        }
        let our_fin_acked = self.fin_seq.is_some_and(|f| seq_gt(self.snd_una, f));
        match self.state {
            State::FinWait1 if our_fin_acked => self.set_state(
                State::FinWait2,
                "our FIN is acknowledged: our direction is closed, theirs stays open until \
                 their FIN"
                    .into(),
                out,
            ),
            State::Closing if our_fin_acked => {
                self.enter_time_wait(
                    now,
                    "our FIN is acknowledged after both sides closed at once".into(),
                    out,
                );
                return false;
            }
            State::LastAck if our_fin_acked => {
                self.set_state(
                    State::Closed,
                    "our FIN is acknowledged: both directions are closed".into(),
                    out,
                );
                return false;
            }
            _ => {}
        }
        true
    }

    /// What congestion control asked for: report its change, resend the first segment.
    fn apply_cc(&mut self, now: Duration, r: cc::Response, out: &mut Vec<Action>) {
        if let Some(c) = r.change {
            out.push(Action::Congestion(c));
        }
        if let Some(n) = r.note {
            out.push(Action::Note(n));
        }
        if let Some(why) = r.resend_first {
            self.retransmit_first(now, why, out);
        }
    }

    /// SND.UNA moves forward to `ack`: free acknowledged bytes, time the RTT, and restart
    /// or stop the retransmission timer (RFC 6298 § 5.2-5.3). Returns the data bytes
    /// acknowledged (SYN and FIN not counted).
    fn on_new_ack(&mut self, now: Duration, ack: u32, out: &mut Vec<Action>) -> usize {
        self.snd_una = ack;
        let acked = i64::from(seq_diff(ack, self.send_buf_seq)).clamp(0, self.send_buf.len() as i64)
            as usize;
        self.send_buf.drain(..acked);
        self.send_buf_seq = self.send_buf_seq.wrapping_add(acked as u32);
        // Segments the peer acknowledges need no resending after a timeout.
        if let Some(r) = self.rtx_next {
            let r = if seq_lt(r, ack) { ack } else { r };
            self.rtx_next = seq_lt(r, self.snd_nxt).then_some(r);
        }
        if let Some((end, sent)) = self.rtt_probe
            && seq_ge(ack, end)
        {
            self.rtt_probe = None;
            let rtt = now.saturating_sub(sent);
            let rto = self.rtt.sample(rtt);
            out.push(Action::RttSample {
                rtt,
                srtt: self.rtt.srtt().unwrap_or(rtt),
                rttvar: self.rtt.rttvar(),
                rto,
            });
        }
        self.retries = 0;
        self.dup_acks = 0;
        if self.snd_una == self.snd_nxt {
            self.stop_rtx(out);
        } else {
            self.arm_rtx(now, out);
        }
        acked
    }

    /// RFC 9293 § 3.10.7.4, "seventh, process the segment text" and "eighth, check the FIN
    /// bit". `seq` is the sequence number of the first payload byte.
    fn process_text(
        &mut self,
        now: Duration,
        seq: u32,
        payload: &[u8],
        fin: bool,
        out: &mut Vec<Action>,
    ) {
        let plen = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let fin_at = seq.wrapping_add(plen);
        // Trim what we already have from the front...
        let mut start = seq;
        let mut data = payload;
        let behind = seq_diff(self.rcv_nxt, start);
        if behind > 0 {
            let skip = (behind as usize).min(data.len());
            data = &data[skip..];
            start = start.wrapping_add(skip as u32);
        }
        // ...and what does not fit our window from the back.
        let mut fin_ok = fin;
        let right = self.rcv_nxt.wrapping_add(self.rcv_wnd());
        let room = seq_diff(right, start).max(0) as usize;
        if data.len() > room {
            data = &data[..room];
            fin_ok = false;
        }
        let mut delivered = 0usize;
        let mut out_of_order = false;
        if start == self.rcv_nxt && !data.is_empty() {
            let mut bytes = data.to_vec();
            self.rcv_nxt = self.rcv_nxt.wrapping_add(data.len() as u32);
            let mut filled = 0;
            while let Some(more) = self.rx.take(self.rcv_nxt) {
                self.rcv_nxt = self.rcv_nxt.wrapping_add(more.len() as u32);
                filled += more.len();
                bytes.extend(more);
            }
            if filled > 0 {
                out.push(Action::Note(format!(
                    "the hole is filled: {filled} bytes held out of order follow in order"
                )));
            }
            delivered = bytes.len();
            self.stats.bytes_received += delivered as u64;
            out.push(Action::Deliver(bytes));
        } else if seq_gt(start, self.rcv_nxt) && !data.is_empty() {
            out_of_order = true;
            if self.rx.insert(self.rcv_nxt, start, data) {
                self.stats.out_of_order += 1;
            } else {
                out.push(Action::Note(format!(
                    "out-of-order queue full ({} bytes): segment dropped, they will resend",
                    self.rx.len()
                )));
            }
        }
        if fin_ok {
            self.peer_fin = Some(fin_at);
        }
        let mut fin_now = false;
        if self.peer_fin == Some(self.rcv_nxt) {
            self.peer_fin = None;
            self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
            fin_now = true;
            match self.state {
                State::Established => self.set_state(
                    State::CloseWait,
                    "their FIN: they will send no more; we may still send until our \
                     application calls close() (a half-close)"
                        .into(),
                    out,
                ),
                State::FinWait1 => self.set_state(
                    State::Closing,
                    "their FIN crossed ours (simultaneous close): wait for the ACK of ours".into(),
                    out,
                ),
                State::FinWait2 => self.enter_time_wait(
                    now,
                    "their FIN after ours was acknowledged: both directions are closed".into(),
                    out,
                ),
                _ => {}
            }
        }

        if out_of_order {
            self.stats.dup_acks_sent += 1;
            let blocks = self.rx.sack_blocks(4);
            let sack = if self.sack_ok && !blocks.is_empty() {
                let list: Vec<String> = blocks
                    .iter()
                    .map(|(l, r)| format!("{}-{}", self.ra(*l), self.ra(*r)))
                    .collect();
                format!("; SACK tells them we hold ISN + {}", list.join(", "))
            } else {
                String::new()
            };
            let why = format!(
                "duplicate ACK: still ACK = ISN + {}, because bytes from ISN + {} arrived \
                 early and a hole precedes them (sent at once, RFC 5681 § 4.2){sack}",
                self.ra(self.rcv_nxt),
                self.ra(start)
            );
            self.send_ack(now, why, out);
            self.flush(now, out);
            return;
        }
        let sent = self.flush(now, out);
        if sent == 0 && (!payload.is_empty() || fin) {
            let why = match (delivered, fin_now) {
                (0, true) => format!(
                    "ACK = their FIN + 1 = ISN + {}: a FIN uses one sequence number",
                    self.ra(self.rcv_nxt)
                ),
                (n, true) => format!(
                    "ACK = ISN + {}: {n} bytes plus their FIN (which uses one number)",
                    self.ra(self.rcv_nxt)
                ),
                (0, false) => format!(
                    "ACK = ISN + {}: nothing new in their segment, re-ACK",
                    self.ra(self.rcv_nxt)
                ),
                (n, false) => format!(
                    "ACK = ISN + {}: every byte before it arrived ({n} new); sent at once, \
                     netlab does not delay ACKs",
                    self.ra(self.rcv_nxt)
                ),
            };
            self.send_ack(now, why, out);
        }
    }

    // ----- sending -----

    fn can_send_data(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait1 | State::LastAck
        )
    }

    /// FlightSize (RFC 5681 § 2): "The amount of data that has been sent but not yet
    /// cumulatively acknowledged." While resending after a timeout, only what was resent
    /// since counts: the rest is presumed lost, no longer in the network.
    fn flight(&self) -> u32 {
        let end = self.rtx_next.unwrap_or(self.snd_nxt);
        seq_diff(end, self.snd_una).max(0) as u32
    }

    /// Bytes the congestion window still allows: cwnd - FlightSize (no limit before the
    /// handshake completed).
    fn cwnd_room(&self) -> usize {
        match &self.cc {
            Some(c) => c.cwnd().saturating_sub(self.flight()) as usize,
            None => usize::MAX,
        }
    }

    /// Sends what the windows allow: first, after a timeout, the segments presumed lost;
    /// then queued data; then the FIN if close() was called and all data is out. Returns
    /// the number of segments sent.
    ///
    /// RFC 5681 § 3.1: "At any given time, a TCP MUST NOT send data with a sequence number
    /// higher than the sum of the highest acknowledged sequence number and the minimum of
    /// cwnd and rwnd." Both limits are applied below: `rwnd_room` from the peer's window,
    /// `cwnd_room` from ours.
    fn flush(&mut self, now: Duration, out: &mut Vec<Action>) -> usize {
        if !self.can_send_data() {
            return 0;
        }
        let mss = self.send_mss();
        let mut sent = 0;
        // After a timeout: go back to SND.UNA and resend, in slow start from one segment,
        // what was outstanding (new data waits until that is done).
        while let Some(r) = self.rtx_next {
            let left = seq_diff(self.snd_nxt, r).max(0) as usize;
            let rwnd_room = seq_diff(self.snd_una.wrapping_add(self.snd_wnd), r).max(0) as usize;
            let room = self.cwnd_room().min(rwnd_room);
            // A sender sends whole segments: with less room than one, wait for an ACK.
            if room < left.min(mss) && self.flight() > 0 {
                return sent;
            }
            let why = format!(
                "loss recovery: resending ISN + {} — sent before the timeout and presumed \
                 lost; after a timeout everything outstanding is resent in order, as fast \
                 as the congestion window allows (go-back-N)",
                self.rs(r)
            );
            if self.resend(now, r, room, why, out) == 0 {
                self.rtx_next = None;
                break;
            }
            sent += 1;
        }
        loop {
            let offset = (i64::from(seq_diff(self.snd_nxt, self.send_buf_seq)).max(0) as usize)
                .min(self.send_buf.len());
            let unsent = self.send_buf.len() - offset;
            let in_flight = self.snd_nxt.wrapping_sub(self.snd_una);
            let rwnd_room = self.snd_wnd.saturating_sub(in_flight) as usize;
            let cwnd_room = self.cwnd_room();
            let n = unsent.min(mss).min(rwnd_room).min(cwnd_room);
            let fin_now = self.fin_queued && self.fin_seq.is_none() && n == unsent;
            if n == 0 && !fin_now {
                if unsent > 0
                    && self.snd_wnd == 0
                    && self.snd_una == self.snd_nxt
                    && self.persist_at.is_none()
                {
                    out.push(Action::Note(format!(
                        "their window is 0: {unsent} bytes wait; probe later (persist timer)"
                    )));
                    self.arm_persist(now, out);
                }
                break;
            }
            // cwnd counts bytes, but segments are sent whole (Linux counts cwnd in
            // segments): when the congestion window leaves room for less than a full
            // segment, wait for the next ACK instead of sending a small one.
            if cwnd_room < unsent.min(mss).min(rwnd_room) && self.flight() > 0 && !fin_now {
                break;
            }
            let seq = self.snd_nxt;
            let payload: Vec<u8> = self.send_buf.range(offset..offset + n).copied().collect();
            let mut fl = flags::ACK;
            if n > 0 && n == unsent {
                fl |= flags::PSH;
            }
            if fin_now {
                fl |= flags::FIN;
            }
            let mut why = if n > 0 {
                let limit = if n == unsent {
                    "the rest of the queued data".to_string()
                } else if n == mss && mss <= rwnd_room {
                    format!("one full segment (MSS {mss})")
                } else {
                    format!(
                        "all their window allows ({rwnd_room} of {} bytes free)",
                        self.snd_wnd
                    )
                };
                let first = if self.rs(seq) == 1 {
                    " (the SYN used number 0)"
                } else {
                    ""
                };
                format!(
                    "{n} bytes at seq = ISN + {}{first}: {limit}; ACK = ISN + {}",
                    self.rs(seq),
                    self.ra(self.rcv_nxt)
                )
            } else {
                format!(
                    "FIN: we have no more data; seq = ISN + {}, the FIN uses this one number",
                    self.rs(seq)
                )
            };
            if fin_now && n > 0 {
                why.push_str("; with FIN: no more data after these bytes");
            }
            let len = n as u32 + u32::from(fin_now);
            self.snd_nxt = self.snd_nxt.wrapping_add(len);
            if fin_now {
                self.fin_seq = Some(seq.wrapping_add(n as u32));
            }
            if self.rtt_probe.is_none() {
                self.rtt_probe = Some((self.snd_nxt, now));
            }
            self.stats.bytes_sent += n as u64;
            let opts = self.options(now, false);
            let seg = self.make(seq, fl, payload, opts, why);
            self.emit(seg, out);
            if self.rtx_at.is_none() {
                self.arm_rtx(now, out);
            }
            sent += 1;
            if fin_now {
                break;
            }
        }
        sent
    }

    /// Resends the oldest unacknowledged segment: the SYN, the SYN-ACK, data from SND.UNA
    /// (at most one MSS), or the FIN.
    fn retransmit_first(&mut self, now: Duration, why: String, out: &mut Vec<Action>) {
        let seg = match self.state {
            State::SynSent => self.syn_segment(now, false, why),
            State::SynReceived => self.syn_segment(now, true, why),
            _ => {
                self.resend(now, self.snd_una, usize::MAX, why, out);
                return;
            }
        };
        self.rtt_probe = None;
        self.stats.retransmissions += 1;
        self.emit(seg, out);
    }

    /// Resends sent data from `seq`: at most one MSS and at most `room` bytes, with the FIN
    /// if it comes right after. Returns the sequence numbers covered (0: nothing to send).
    fn resend(
        &mut self,
        now: Duration,
        seq: u32,
        room: usize,
        why: String,
        out: &mut Vec<Action>,
    ) -> u32 {
        let off =
            (i64::from(seq_diff(seq, self.send_buf_seq)).max(0) as usize).min(self.send_buf.len());
        let sent_end = (i64::from(seq_diff(self.snd_nxt, self.send_buf_seq)).max(0) as usize)
            .min(self.send_buf.len());
        let n = sent_end.saturating_sub(off).min(self.send_mss()).min(room);
        let end_seq = seq.wrapping_add(n as u32);
        let fin = self.fin_seq == Some(end_seq);
        if n == 0 && !fin {
            return 0;
        }
        // Karn's algorithm: an ACK may answer either copy, so it cannot be timed.
        self.rtt_probe = None;
        let payload: Vec<u8> = self.send_buf.range(off..off + n).copied().collect();
        let mut fl = flags::ACK;
        if fin {
            fl |= flags::FIN;
        }
        if n > 0 && off + n == self.send_buf.len() {
            fl |= flags::PSH;
        }
        let len = n as u32 + u32::from(fin);
        if let Some(r) = self.rtx_next {
            let next = end_seq.wrapping_add(u32::from(fin));
            let next = if seq_lt(r, next) { next } else { r };
            self.rtx_next = seq_lt(next, self.snd_nxt).then_some(next);
        }
        self.stats.bytes_retransmitted += n as u64;
        self.stats.retransmissions += 1;
        let opts = self.options(now, false);
        let seg = self.make(seq, fl, payload, opts, why);
        self.emit(seg, out);
        len
    }

    fn send_ack(&mut self, now: Duration, why: String, out: &mut Vec<Action>) {
        let opts = self.options(now, true);
        let seg = self.make(self.snd_nxt, flags::ACK, Vec::new(), opts, why);
        self.emit(seg, out);
    }

    fn emit(&mut self, seg: Segment, out: &mut Vec<Action>) {
        self.stats.segments_sent += 1;
        out.push(Action::Send(seg));
    }

    /// A segment of this connection (ACK set: every segment after the first SYN has it).
    fn make(
        &self,
        seq: u32,
        fl: u16,
        payload: Vec<u8>,
        options: Vec<TcpOption<'static>>,
        why: String,
    ) -> Segment {
        Segment {
            repr: Repr {
                src_port: self.local_port,
                dst_port: self.remote_port,
                seq_number: seq,
                ack_number: if fl & flags::ACK != 0 {
                    self.rcv_nxt
                } else {
                    0
                },
                flags: fl,
                window_len: self.window_field(),
                options,
            },
            payload,
            why,
            cc: self.cc.as_ref().map(|c| c.snapshot(self.flight())),
        }
    }

    fn make_rst(&self, seq: u32, ack: u32, fl: u16, why: String) -> Segment {
        Segment {
            repr: Repr {
                src_port: self.local_port,
                dst_port: self.remote_port,
                seq_number: seq,
                ack_number: ack,
                flags: fl,
                window_len: 0,
                options: Vec::new(),
            },
            payload: Vec::new(),
            why,
            cc: None,
        }
    }

    /// Our SYN (or SYN-ACK), options laid out as Linux does: MSS, SACK-permitted,
    /// timestamps, NOP, window scale — padded with NOPs so each lands on a boundary that
    /// is cheap to read.
    fn syn_segment(&self, now: Duration, syn_ack: bool, why: String) -> Segment {
        let sack = if syn_ack {
            self.sack_ok
        } else {
            self.cfg.sack_permitted
        };
        let ts = if syn_ack {
            self.ts_ok
        } else {
            self.cfg.timestamps
        };
        let ws = if syn_ack {
            self.ws_ok.then_some(self.rcv_shift)
        } else {
            self.cfg.window_scale.map(|s| s.min(MAX_WINDOW_SHIFT))
        };
        let tsecr = if syn_ack { self.ts_recent } else { 0 };
        let stamp = TcpOption::Timestamp {
            tsval: self.ts_val(now),
            tsecr,
        };
        let mut o = vec![TcpOption::MaxSegmentSize(self.cfg.mss)];
        match (sack, ts) {
            (true, true) => o.extend([TcpOption::SackPermitted, stamp]),
            (false, true) => o.extend([TcpOption::NoOperation, TcpOption::NoOperation, stamp]),
            (true, false) => o.extend([
                TcpOption::NoOperation,
                TcpOption::NoOperation,
                TcpOption::SackPermitted,
            ]),
            (false, false) => {}
        }
        if let Some(s) = ws {
            o.extend([TcpOption::NoOperation, TcpOption::WindowScale(s)]);
        }
        let fl = if syn_ack {
            flags::SYN | flags::ACK
        } else {
            flags::SYN
        };
        Segment {
            repr: Repr {
                src_port: self.local_port,
                dst_port: self.remote_port,
                seq_number: self.iss,
                ack_number: if syn_ack { self.rcv_nxt } else { 0 },
                flags: fl,
                window_len: self.syn_window(ws),
                options: o,
            },
            payload: Vec::new(),
            why,
            cc: None,
        }
    }

    /// Options for a segment after the handshake: timestamps, and SACK blocks on pure ACKs
    /// while out-of-order data is held (on data segments they would eat payload space).
    fn options(&self, now: Duration, sack: bool) -> Vec<TcpOption<'static>> {
        let mut o = Vec::new();
        if self.ts_ok {
            o.extend([
                TcpOption::NoOperation,
                TcpOption::NoOperation,
                TcpOption::Timestamp {
                    tsval: self.ts_val(now),
                    tsecr: self.ts_recent,
                },
            ]);
        }
        if sack && self.sack_ok && !self.rx.is_empty() {
            // 40 option bytes at most: 4 blocks, or 3 next to the timestamps.
            let max = if self.ts_ok { 3 } else { 4 };
            let mut edges = [None; 4];
            for (i, b) in self.rx.sack_blocks(max).into_iter().enumerate() {
                edges[i] = Some(b);
            }
            o.extend([
                TcpOption::NoOperation,
                TcpOption::NoOperation,
                TcpOption::SackRange(edges),
            ]);
        }
        o
    }

    // ----- helpers -----

    /// Records what both SYNs agreed (RFC 7323 § 1.3: an option is used only if both
    /// sides sent it in their SYN).
    fn negotiate(&mut self, offer: &Offer, out: &mut Vec<Action>) {
        self.peer_mss = offer.mss.unwrap_or(DEFAULT_PEER_MSS);
        self.ws_ok = self.cfg.window_scale.is_some() && offer.ws.is_some();
        if self.ws_ok {
            let theirs = offer.ws.unwrap_or(0);
            if theirs > MAX_WINDOW_SHIFT {
                out.push(Action::Note(format!(
                    "their window scale {theirs} is above 14: used as 14 (RFC 7323 § 2.3)"
                )));
            }
            self.snd_shift = theirs.min(MAX_WINDOW_SHIFT);
            self.rcv_shift = self.cfg.window_scale.unwrap_or(0).min(MAX_WINDOW_SHIFT);
        } else {
            self.snd_shift = 0;
            self.rcv_shift = 0;
        }
        self.sack_ok = self.cfg.sack_permitted && offer.sack;
        self.ts_ok = self.cfg.timestamps && offer.tsval.is_some();
        let ws = if self.ws_ok {
            format!(
                "window scale: ours {}, theirs {} (windows count in units of {} and {} bytes)",
                self.rcv_shift,
                self.snd_shift,
                1u32 << self.rcv_shift,
                1u32 << self.snd_shift
            )
        } else {
            "no window scaling (both SYNs must carry it)".into()
        };
        out.push(Action::Note(format!(
            "negotiated: their MSS {}{}, so we send at most {} bytes per segment{}; {ws}; \
             SACK {}; timestamps {}",
            self.peer_mss,
            if offer.mss.is_none() {
                " (no option: the default 536)"
            } else {
                ""
            },
            self.send_mss(),
            if self.ts_ok {
                " (12 go to the timestamp option)"
            } else {
                ""
            },
            if self.sack_ok { "on" } else { "off" },
            if self.ts_ok { "on" } else { "off" },
        )));
    }

    /// RFC 6298 § 5.7, and the first data may now flow: congestion control starts.
    fn after_established(&mut self, out: &mut Vec<Action>) {
        if self.syn_retransmitted && !self.rtt.has_sample() {
            self.rtt.raise_to(SYN_RTO_FLOOR);
        }
        let (cc, change) =
            NewReno::start(self.send_mss() as u32, self.iss, self.syn_retransmissions);
        self.cc = Some(cc);
        out.push(Action::Congestion(change));
    }

    fn back_to_listen(&mut self, out: &mut Vec<Action>) {
        let stats = self.stats.clone();
        let mut fresh = Endpoint::listen(self.cfg.clone());
        fresh.stats = stats;
        self.stop_rtx(out);
        out.push(Action::StateChange {
            from: self.state,
            to: State::Listen,
            why: "RST in SYN-RECEIVED: the half-open connection is forgotten and we listen \
                  again (RFC 9293 § 3.10.7.4)"
                .into(),
        });
        *self = fresh;
    }

    fn enter_time_wait(&mut self, now: Duration, why: String, out: &mut Vec<Action>) {
        self.stop_rtx(out);
        self.stop_persist(out);
        self.set_state(State::TimeWait, why, out);
        self.restart_time_wait(now, out);
    }

    fn restart_time_wait(&mut self, now: Duration, out: &mut Vec<Action>) {
        let at = now.saturating_add(self.cfg.time_wait);
        self.tw_at = Some(at);
        out.push(Action::TimerSet {
            kind: TimerKind::TimeWait,
            at,
        });
    }

    fn set_state(&mut self, to: State, why: String, out: &mut Vec<Action>) {
        if self.state == to {
            return;
        }
        let from = self.state;
        self.state = to;
        out.push(Action::StateChange { from, to, why });
        if to == State::Closed {
            self.stop_rtx(out);
            self.stop_persist(out);
            if self.tw_at.take().is_some() {
                out.push(Action::TimerStopped {
                    kind: TimerKind::TimeWait,
                });
            }
            self.send_buf.clear();
            self.rx = Reassembly::default();
            self.fin_queued = false;
            self.peer_fin = None;
            self.rtt_probe = None;
        }
    }

    fn arm_rtx(&mut self, now: Duration, out: &mut Vec<Action>) {
        let at = now.saturating_add(self.rtt.rto());
        self.rtx_at = Some(at);
        out.push(Action::TimerSet {
            kind: TimerKind::Retransmission,
            at,
        });
    }

    fn stop_rtx(&mut self, out: &mut Vec<Action>) {
        if self.rtx_at.take().is_some() {
            out.push(Action::TimerStopped {
                kind: TimerKind::Retransmission,
            });
        }
    }

    fn arm_persist(&mut self, now: Duration, out: &mut Vec<Action>) {
        let wait = self
            .rtt
            .rto()
            .saturating_mul(1u32 << self.persist_backoff.min(16))
            .min(self.cfg.max_rto.max(self.cfg.min_rto));
        let at = now.saturating_add(wait);
        self.persist_at = Some(at);
        out.push(Action::TimerSet {
            kind: TimerKind::Persist,
            at,
        });
    }

    fn stop_persist(&mut self, out: &mut Vec<Action>) {
        if self.persist_at.take().is_some() {
            out.push(Action::TimerStopped {
                kind: TimerKind::Persist,
            });
        }
    }

    /// RFC 9293 § 3.10.7.4's acceptance test, the four cases of its table.
    fn acceptable(&self, seq: u32, len: u32) -> bool {
        let wnd = self.rcv_wnd();
        match (len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => seq_in_window(seq, self.rcv_nxt, wnd),
            (_, 0) => false,
            _ => {
                seq_in_window(seq, self.rcv_nxt, wnd)
                    || seq_in_window(seq.wrapping_add(len - 1), self.rcv_nxt, wnd)
            }
        }
    }

    /// The window field of our SYN or SYN-ACK. It is never scaled (RFC 7323 § 2.2); when
    /// we offer scaling, netlab rounds it down to a multiple of 2^shift, so that it names
    /// the same number of bytes as the scaled windows that follow (64240 becomes 64128 =
    /// 501 × 128). Linux does not bother, and a learner sees the window "change" after the
    /// handshake; a changed window also keeps the first duplicate ACK from counting.
    fn syn_window(&self, shift: Option<u8>) -> u16 {
        let s = shift.unwrap_or(0);
        ((self.cfg.window.min(0xffff) >> s) << s) as u16
    }

    /// The 16-bit window field we send after the handshake.
    fn window_field(&self) -> u16 {
        let shift = if self.ws_ok { self.rcv_shift } else { 0 };
        (self.cfg.window >> shift).min(0xffff) as u16
    }

    /// RCV.WND: the window we advertise, in bytes (what the field means to the peer).
    fn rcv_wnd(&self) -> u32 {
        let shift = if self.ws_ok { self.rcv_shift } else { 0 };
        u32::from(self.window_field()) << shift
    }

    /// A window field from the peer, in bytes.
    fn scaled(&self, field: u16) -> u32 {
        let shift = if self.ws_ok { self.snd_shift } else { 0 };
        u32::from(field) << shift
    }

    /// RFC 9293 § 3.7.1: Eff.snd.MSS = min(their MSS, ours) - TCP options.
    fn send_mss(&self) -> usize {
        let base = usize::from(self.peer_mss.min(self.cfg.mss));
        let opts = if self.ts_ok { TS_OPTION_LEN } else { 0 };
        base.saturating_sub(opts).max(1)
    }

    /// TSval: our millisecond clock plus the per-connection offset (RFC 7323 § 5.4).
    fn ts_val(&self, now: Duration) -> u32 {
        (now.as_millis() as u32).wrapping_add(self.cfg.ts_clock_offset)
    }

    /// Our sequence number relative to the ISN.
    fn rs(&self, s: u32) -> u32 {
        s.wrapping_sub(self.iss)
    }

    /// Their sequence number relative to their ISN.
    fn ra(&self, a: u32) -> u32 {
        a.wrapping_sub(self.irs.unwrap_or(0))
    }

    /// What our SYN offers, in words.
    fn offer_text(&self) -> String {
        let mut v = vec![format!("MSS {}", self.cfg.mss)];
        if self.cfg.sack_permitted {
            v.push("SACK".into());
        }
        if self.cfg.timestamps {
            v.push("timestamps".into());
        }
        if let Some(s) = self.cfg.window_scale {
            v.push(format!("window scale {}", s.min(MAX_WINDOW_SHIFT)));
        }
        format!("options offered: {}", v.join(", "))
    }
}
