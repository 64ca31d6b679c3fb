//! Scenario tests: two endpoints on the simulated wire ([`super::sim`]), in virtual time.
//!
//! Conventions: side A is the client (port 40000, ISN 1000), side B the server (port 80,
//! ISN 5000); the link's one-way latency is 10 ms unless a test says otherwise.

use std::collections::HashMap;
use std::time::Duration;

use super::sim::{Impairment, OnWire, Side, Sim, WireRecord, close_on_fin, echo};
use super::*;
use crate::wire::tcp::{Packet, Repr, TcpOption, flags, parse_option};
use crate::wiremodel::{Bottleneck, Conditions, Dir, Link};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn client() -> Config {
    Config::client(40000, 80, 1000)
}

fn server() -> Config {
    Config::server(80, 5000)
}

fn established() -> Sim {
    let mut sim = Sim::connect(client(), server());
    sim.run();
    assert_eq!(sim.state(Side::A), State::Established);
    assert_eq!(sim.state(Side::B), State::Established);
    sim
}

/// Segments `side` put on the wire.
fn sent_by(sim: &Sim, side: Side) -> Vec<&WireRecord> {
    sim.wire().iter().filter(|r| r.from == side).collect()
}

/// All actions of `side`, with the time they happened.
fn actions(sim: &Sim, side: Side) -> Vec<(Duration, &Action)> {
    sim.trace()
        .iter()
        .filter(|e| e.side == side)
        .flat_map(|e| e.actions.iter().map(move |a| (e.at, a)))
        .collect()
}

/// The states `side` went through, starting with its first `from`.
fn path(sim: &Sim, side: Side) -> Vec<State> {
    let mut v = Vec::new();
    for (_, a) in actions(sim, side) {
        if let Action::StateChange { from, to, .. } = a {
            if v.is_empty() {
                v.push(*from);
            }
            v.push(*to);
        }
    }
    v
}

fn when_entered(sim: &Sim, side: Side, state: State) -> Option<Duration> {
    actions(sim, side).into_iter().find_map(|(t, a)| match a {
        Action::StateChange { to, .. } if *to == state => Some(t),
        _ => None,
    })
}

fn data_segments(sim: &Sim, side: Side) -> Vec<&WireRecord> {
    sent_by(sim, side)
        .into_iter()
        .filter(|r| !r.segment.payload.is_empty())
        .collect()
}

fn repr(src: u16, dst: u16, seq: u32, ack: u32, fl: u16, window: u16) -> Repr<'static> {
    Repr {
        src_port: src,
        dst_port: dst,
        seq_number: seq,
        ack_number: ack,
        flags: fl,
        window_len: window,
        options: Vec::new(),
    }
}

fn sends(actions: &[Action]) -> Vec<&Segment> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(s) => Some(s),
            _ => None,
        })
        .collect()
}

// ----- the handshake -----

#[test]
fn handshake_client_to_server() {
    let mut c = client();
    c.ts_clock_offset = 1_000_000;
    let mut sim = Sim::connect(c, server());
    sim.run();
    let w = sim.wire();
    assert_eq!(w.len(), 3, "SYN, SYN-ACK, ACK");

    let syn = &w[0].segment;
    assert_eq!(syn.flags_text(), "SYN");
    assert_eq!(syn.repr.seq_number, 1000);
    // 64240 rounded down to a multiple of 2^7: 501 × 128.
    assert_eq!(syn.repr.window_len, 64128);
    assert_eq!(
        syn.repr.options,
        vec![
            TcpOption::MaxSegmentSize(1460),
            TcpOption::SackPermitted,
            TcpOption::Timestamp {
                tsval: 1_000_000,
                tsecr: 0
            },
            TcpOption::NoOperation,
            TcpOption::WindowScale(7),
        ]
    );

    let syn_ack = &w[1].segment;
    assert_eq!(syn_ack.flags_text(), "SYN, ACK");
    assert_eq!(syn_ack.repr.seq_number, 5000);
    assert_eq!(syn_ack.repr.ack_number, 1001);
    assert!(syn_ack.why.contains("their ISN + 1"), "{}", syn_ack.why);
    // B's clock reads 10 ms; it echoes A's TSval.
    assert!(syn_ack.repr.options.contains(&TcpOption::Timestamp {
        tsval: 10,
        tsecr: 1_000_000
    }));
    assert!(syn_ack.repr.options.contains(&TcpOption::WindowScale(7)));

    let ack = &w[2].segment;
    assert_eq!(ack.flags_text(), "ACK");
    assert_eq!((ack.repr.seq_number, ack.repr.ack_number), (1001, 5001));
    assert_eq!(ack.repr.window_len, 501, "scaled from now on: 501 × 128");
    assert!(ack.repr.options.contains(&TcpOption::Timestamp {
        tsval: 1_000_020,
        tsecr: 10
    }));

    assert_eq!(
        path(&sim, Side::A),
        [State::Closed, State::SynSent, State::Established]
    );
    assert_eq!(
        path(&sim, Side::B),
        [State::Listen, State::SynReceived, State::Established]
    );
    assert_eq!(sim.endpoint(Side::A).peer_isn(), Some(5000));
    assert_eq!(sim.endpoint(Side::B).peer_isn(), Some(1000));
    assert_eq!(sim.endpoint(Side::A).isn(), 1000);
    let n = sim.endpoint(Side::A).negotiated();
    assert_eq!(n.send_mss, 1448, "1460 minus 12 bytes of timestamp option");
    assert_eq!(n.window_scale, Some((7, 7)));
    assert!(n.sack && n.timestamps);
    // Both sides timed their SYN: a 20 ms round trip.
    for side in [Side::A, Side::B] {
        assert!(
            actions(&sim, side)
                .iter()
                .any(|(_, a)| matches!(a, Action::RttSample { rtt, .. } if *rtt == ms(20)))
        );
    }
    assert_eq!(
        sim.endpoint(Side::A).poll_at(),
        None,
        "no timer left running"
    );
}

#[test]
fn handshake_server_to_client_without_options() {
    // The other direction: B is the client this time, with no window scaling, no SACK, no
    // timestamps and a small MSS; A listens with the defaults.
    let listener = Endpoint::listen(Config::server(8080, 77));
    let mut cfg = Config::client(50000, 8080, u32::MAX - 1);
    cfg.window_scale = None;
    cfg.sack_permitted = false;
    cfg.timestamps = false;
    cfg.mss = 536;
    let (b, acts) = Endpoint::connect(cfg, Duration::ZERO);
    let mut sim = Sim::new(listener, b);
    sim.inject(Side::B, "connect()", acts);
    sim.run();
    assert_eq!(sim.state(Side::A), State::Established);
    assert_eq!(sim.state(Side::B), State::Established);
    let syn = &sim.wire()[0].segment;
    assert_eq!(syn.repr.options, vec![TcpOption::MaxSegmentSize(536)]);
    let syn_ack = &sim.wire()[1].segment;
    // The SYN-ACK carries only what the SYN offered.
    assert_eq!(syn_ack.repr.options, vec![TcpOption::MaxSegmentSize(1460)]);
    assert_eq!(syn_ack.repr.ack_number, u32::MAX, "ISN MAX-1 + 1");
    let n = sim.endpoint(Side::A).negotiated();
    assert_eq!(n.window_scale, None);
    assert!(!n.sack && !n.timestamps);
    assert_eq!(n.send_mss, 536, "the peer's MSS is respected");
    // A's data to B comes in 536-byte segments.
    sim.send(Side::A, &[7u8; 2000]);
    sim.run();
    let sizes: Vec<usize> = data_segments(&sim, Side::A)
        .iter()
        .map(|r| r.segment.payload.len())
        .collect();
    assert_eq!(sizes, [536, 536, 536, 392]);
    assert_eq!(sim.received(Side::B), &[7u8; 2000][..]);
}

#[test]
fn simultaneous_open() {
    // RFC 9293 § 3.5 figure 7: both sides send a SYN at the same time.
    let (a, acts_a) = Endpoint::connect(Config::client(1111, 2222, 100), Duration::ZERO);
    let (b, acts_b) = Endpoint::connect(Config::client(2222, 1111, 300), Duration::ZERO);
    let mut sim = Sim::new(a, b);
    sim.inject(Side::A, "connect()", acts_a);
    sim.inject(Side::B, "connect()", acts_b);
    sim.run();
    for side in [Side::A, Side::B] {
        assert_eq!(
            path(&sim, side),
            [
                State::Closed,
                State::SynSent,
                State::SynReceived,
                State::Established
            ]
        );
    }
    sim.hook(echo(Side::B));
    sim.send(Side::A, b"hi");
    sim.run();
    assert_eq!(sim.received(Side::A), b"hi");
}

// ----- data -----

#[test]
fn data_echo() {
    let mut sim = established();
    sim.hook(echo(Side::B));
    sim.send(Side::A, b"hello, netlab");
    sim.run();
    assert_eq!(sim.received(Side::B), b"hello, netlab");
    assert_eq!(sim.received(Side::A), b"hello, netlab");
    let d = &data_segments(&sim, Side::A)[0].segment;
    assert_eq!(d.flags_text(), "PSH, ACK");
    assert_eq!(d.repr.seq_number, 1001);
    assert!(d.why.contains("ISN + 1"), "{}", d.why);
    // B acknowledges A's data at once (no delayed ACK), then echoes.
    let after: Vec<&WireRecord> = sent_by(&sim, Side::B).into_iter().skip(1).collect();
    assert_eq!(after[0].segment.flags_text(), "ACK");
    assert_eq!(after[0].segment.repr.ack_number, 1001 + 13);
    assert_eq!(after[1].segment.payload, b"hello, netlab");
    let stats = sim.endpoint(Side::A).stats();
    assert_eq!(stats.bytes_sent, 13);
    assert_eq!(stats.bytes_received, 13);
    assert_eq!(stats.retransmissions, 0);
    assert_eq!(stats.segments_sent, sent_by(&sim, Side::A).len() as u64);
    assert_eq!(stats.segments_received, sent_by(&sim, Side::B).len() as u64);
}

#[test]
fn sending_respects_mss_and_the_peer_window() {
    let mut s = server();
    s.window = 3000;
    s.window_scale = None;
    let mut sim = Sim::connect(client(), s);
    sim.run();
    assert_eq!(sim.endpoint(Side::A).snd_wnd(), 3000);
    sim.send(Side::A, &[1u8; 10_000]);
    // The first burst: the window's 3000 bytes, in MSS-sized pieces.
    let burst: Vec<usize> = data_segments(&sim, Side::A)
        .iter()
        .map(|r| r.segment.payload.len())
        .collect();
    assert_eq!(burst, [1448, 1448, 104]);
    assert!(
        data_segments(&sim, Side::A)[2]
            .segment
            .why
            .contains("window")
    );
    sim.run();
    assert_eq!(sim.received(Side::B).len(), 10_000);
    assert_eq!(sim.endpoint(Side::A).stats().retransmissions, 0);
}

#[test]
fn window_scaling_lets_the_window_exceed_64k() {
    let mut s = server();
    s.window = 1 << 20;
    s.window_scale = Some(5);
    let mut sim = Sim::connect(client(), s);
    sim.run();
    // The SYN-ACK's window is never scaled: 65535 rounded down to a multiple of 2^5.
    assert_eq!(sim.wire()[1].segment.repr.window_len, 65504);
    assert_eq!(sim.endpoint(Side::A).snd_wnd(), 65504);
    sim.send(Side::A, &[0u8; 1_000_000]);
    // The first burst is the initial congestion window (10 segments), less than the
    // 64 KiB B allows: the network's limit, not the receiver's (see `cc`)...
    let burst: usize = data_segments(&sim, Side::A)
        .iter()
        .map(|r| r.segment.payload.len())
        .sum();
    assert_eq!(burst, 14_480);
    // ...then B's first ACK carries its scaled window, 32768 × 2^5 = 1 MiB, and slow start
    // doubles cwnd each round trip (10, 20, 40, 80, 160, 320 segments) far past 64 KiB.
    let mut most_in_flight = 0;
    while sim.step() {
        let a = sim.endpoint(Side::A);
        most_in_flight = most_in_flight.max(a.snd_nxt().wrapping_sub(a.snd_una()));
    }
    assert_eq!(sim.endpoint(Side::A).snd_wnd(), 1 << 20);
    assert!(most_in_flight > 300_000, "{most_in_flight}");
    assert_eq!(sim.received(Side::B).len(), 1_000_000);
}

#[test]
fn zero_window_is_probed() {
    let mut sim = established();
    let a = sim.endpoint_mut(Side::A);
    let now = ms(100);
    // B says: window 0.
    let (una, rcv) = (a.snd_una(), a.rcv_nxt());
    a.on_segment(now, &repr(80, 40000, rcv, una, flags::ACK, 0), &[]);
    assert_eq!(a.snd_wnd(), 0);
    let acts = a.send(now, b"waiting");
    assert!(
        sends(&acts).is_empty(),
        "nothing may be sent into a zero window"
    );
    let at = a.poll_at().unwrap();
    assert!(acts.contains(&Action::TimerSet {
        kind: TimerKind::Persist,
        at
    }));
    let acts = a.on_timer(at);
    let probe = sends(&acts)[0].clone();
    assert_eq!(probe.repr.seq_number, una.wrapping_sub(1));
    assert!(probe.payload.is_empty());
    assert!(a.poll_at().unwrap() > at, "persist timer re-armed");
    // The window opens: the data goes out.
    let acts = a.on_segment(at, &repr(80, 40000, rcv, una, flags::ACK, 100), &[]);
    let data = sends(&acts);
    assert_eq!(data[0].payload, b"waiting");
    assert!(acts.contains(&Action::TimerStopped {
        kind: TimerKind::Persist
    }));
}

// ----- teardown -----

#[test]
fn teardown_active_close_with_time_wait() {
    let mut sim = established();
    sim.hook(close_on_fin(Side::B));
    let t0 = sim.now();
    sim.close(Side::A);
    assert!(sim.run());
    assert_eq!(
        path(&sim, Side::A)[2..],
        [
            State::Established,
            State::FinWait1,
            State::FinWait2,
            State::TimeWait,
            State::Closed
        ]
    );
    assert_eq!(
        path(&sim, Side::B)[1..],
        [
            State::SynReceived,
            State::Established,
            State::CloseWait,
            State::LastAck,
            State::Closed
        ]
    );
    let tw = when_entered(&sim, Side::A, State::TimeWait).unwrap();
    let closed = when_entered(&sim, Side::A, State::Closed).unwrap();
    assert_eq!(closed - tw, Duration::from_secs(2), "2·MSL from the config");
    let fin = &sent_by(&sim, Side::A)[2].segment;
    assert_eq!(fin.flags_text(), "FIN, ACK");
    assert_eq!(fin.repr.seq_number, 1001);
    assert!(sim.endpoint(Side::B).stats().segments_received >= 3);
    assert!(t0 < tw);
}

#[test]
fn teardown_passive_side_closes_first() {
    let mut sim = established();
    sim.hook(close_on_fin(Side::A));
    sim.close(Side::B);
    assert!(sim.run());
    assert_eq!(
        path(&sim, Side::B)[3..],
        [
            State::FinWait1,
            State::FinWait2,
            State::TimeWait,
            State::Closed
        ]
    );
    assert_eq!(
        path(&sim, Side::A)[3..],
        [State::CloseWait, State::LastAck, State::Closed]
    );
}

#[test]
fn half_close_lets_the_other_side_keep_sending() {
    let mut sim = established();
    sim.close(Side::A);
    sim.run_for(ms(100));
    assert_eq!(sim.state(Side::A), State::FinWait2);
    assert_eq!(sim.state(Side::B), State::CloseWait);
    sim.send(Side::B, b"still talking");
    sim.run_for(ms(100));
    assert_eq!(sim.received(Side::A), b"still talking");
    // A can no longer send.
    sim.send(Side::A, b"nope");
    assert!(matches!(
        sim.trace().last().unwrap().actions[..],
        [Action::Note(_)]
    ));
    sim.close(Side::B);
    assert!(sim.run());
    assert_eq!(sim.state(Side::A), State::Closed);
    assert_eq!(sim.state(Side::B), State::Closed);
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let mut sim = established();
    sim.close(Side::A);
    sim.close(Side::B);
    assert!(sim.run());
    for side in [Side::A, Side::B] {
        assert_eq!(
            path(&sim, side)[3..],
            [
                State::FinWait1,
                State::Closing,
                State::TimeWait,
                State::Closed
            ]
        );
    }
}

#[test]
fn fin_follows_queued_data() {
    let mut s = server();
    s.window = 1000;
    s.window_scale = None;
    let mut sim = Sim::connect(client(), s);
    sim.run();
    sim.send(Side::A, &[9u8; 3000]);
    sim.close(Side::A);
    assert_eq!(sim.state(Side::A), State::FinWait1);
    sim.run();
    let fin = sent_by(&sim, Side::A)
        .into_iter()
        .find(|r| r.segment.has(flags::FIN))
        .unwrap();
    assert_eq!(
        fin.segment
            .repr
            .seq_number
            .wrapping_add(fin.segment.payload.len() as u32),
        1001 + 3000
    );
    assert_eq!(sim.received(Side::B).len(), 3000);
    assert_eq!(sim.state(Side::B), State::CloseWait);
}

#[test]
fn time_wait_reacks_a_retransmitted_fin() {
    let mut sim = established();
    sim.hook(close_on_fin(Side::B));
    // Lose A's ACK of B's FIN: B's FIN comes again, A must ACK it again from TIME-WAIT.
    let mut seen_fin = false;
    sim.impair(Impairment::drop_first(move |w| {
        if w.from() == Side::B && w.segment().has(flags::FIN) {
            seen_fin = true;
            return false;
        }
        seen_fin && w.from() == Side::A
    }));
    sim.close(Side::A);
    assert!(sim.run());
    let b_fins = sent_by(&sim, Side::B)
        .iter()
        .filter(|r| r.segment.has(flags::FIN))
        .count();
    assert_eq!(b_fins, 2);
    let reack = sent_by(&sim, Side::A).last().unwrap().segment.clone();
    assert!(reack.why.contains("TIME-WAIT exists"), "{}", reack.why);
    assert_eq!(sim.state(Side::B), State::Closed);
    // The 2·MSL timer restarted when the FIN came again.
    let second_fin_at = sim
        .wire()
        .iter()
        .filter(|r| r.from == Side::B && r.segment.has(flags::FIN))
        .nth(1)
        .unwrap()
        .arrived_at
        .unwrap();
    let closed = when_entered(&sim, Side::A, State::Closed).unwrap();
    assert_eq!(closed - second_fin_at, Duration::from_secs(2));
}

// ----- resets -----

#[test]
fn abort_sends_rst_and_the_peer_closes() {
    let mut sim = established();
    sim.send(Side::A, b"abc");
    sim.run();
    sim.abort(Side::A);
    assert_eq!(sim.state(Side::A), State::Closed);
    sim.run();
    let rst = &sent_by(&sim, Side::A).last().unwrap().segment;
    assert_eq!(rst.flags_text(), "RST");
    assert_eq!(rst.repr.seq_number, 1001 + 3, "SND.NXT");
    assert_eq!(sim.state(Side::B), State::Closed);
    assert!(
        actions(&sim, Side::B)
            .iter()
            .any(|(_, a)| **a == Action::PeerReset)
    );
}

#[test]
fn closed_port_answers_syn_with_rst_ack() {
    let nobody = Endpoint::closed(Config::server(80, 0));
    let (a, acts) = Endpoint::connect(client(), Duration::ZERO);
    let mut sim = Sim::new(a, nobody);
    sim.inject(Side::A, "connect()", acts);
    assert!(sim.run());
    let rst = &sim.wire()[1].segment;
    assert_eq!(rst.flags_text(), "RST, ACK");
    assert_eq!((rst.repr.seq_number, rst.repr.ack_number), (0, 1001));
    assert_eq!((rst.repr.src_port, rst.repr.dst_port), (80, 40000));
    assert!(rst.why.contains("SYN counts one"), "{}", rst.why);
    assert_eq!(sim.state(Side::A), State::Closed);
    assert!(
        actions(&sim, Side::A)
            .iter()
            .any(|(_, a)| **a == Action::PeerReset)
    );
    assert_eq!(sim.wire().len(), 2, "no retransmission after the reset");
}

#[test]
fn wrong_port_and_non_syn_in_listen_get_rst() {
    let mut l = Endpoint::listen(server());
    // An ACK to a listener: RST with seq = their ACK.
    let acts = l.on_segment(ms(1), &repr(40000, 80, 10, 777, flags::ACK, 100), &[]);
    let rst = sends(&acts)[0];
    assert_eq!((rst.repr.flags, rst.repr.seq_number), (flags::RST, 777));
    // A segment with no SYN, ACK or RST: dropped silently.
    let acts = l.on_segment(ms(1), &repr(40000, 80, 10, 0, flags::PSH, 100), b"x");
    assert!(sends(&acts).is_empty());
    // An RST is never answered.
    let acts = l.on_segment(ms(1), &repr(40000, 80, 10, 0, flags::RST, 0), &[]);
    assert!(sends(&acts).is_empty());
    // A SYN for another port: as if nobody listened there.
    let acts = l.on_segment(ms(1), &repr(40000, 81, 10, 0, flags::SYN, 100), &[]);
    let rst = sends(&acts)[0];
    assert_eq!(rst.repr.flags, flags::RST | flags::ACK);
    assert_eq!(rst.repr.ack_number, 11);
    assert_eq!(l.state(), State::Listen);
}

#[test]
fn syn_ack_with_a_wrong_ack_gets_rst() {
    let (mut a, _) = Endpoint::connect(client(), Duration::ZERO);
    let mut bad = repr(80, 40000, 5000, 1000 + 5, flags::SYN | flags::ACK, 1000);
    let acts = a.on_segment(ms(10), &bad, &[]);
    let rst = sends(&acts)[0];
    assert_eq!((rst.repr.flags, rst.repr.seq_number), (flags::RST, 1005));
    assert_eq!(a.state(), State::SynSent, "the bad segment is dropped");
    bad.ack_number = 1001;
    let acts = a.on_segment(ms(10), &bad, &[]);
    assert_eq!(a.state(), State::Established);
    assert_eq!(sends(&acts)[0].repr.ack_number, 5001);
}

#[test]
fn rst_must_hit_rcv_nxt_exactly() {
    let sim = established();
    let mut a = sim.endpoint(Side::A).clone();
    let rcv = a.rcv_nxt();
    // In the window but not exact: a challenge ACK (RFC 5961).
    let acts = a.on_segment(ms(50), &repr(80, 40000, rcv + 100, 0, flags::RST, 0), &[]);
    assert_eq!(sends(&acts)[0].repr.flags, flags::ACK);
    assert!(sends(&acts)[0].why.contains("challenge ACK"));
    assert_eq!(a.state(), State::Established);
    // Outside the window: ignored.
    let acts = a.on_segment(
        ms(50),
        &repr(80, 40000, rcv.wrapping_sub(1_000_000), 0, flags::RST, 0),
        &[],
    );
    assert!(sends(&acts).is_empty());
    assert_eq!(a.state(), State::Established);
    // A SYN on an established connection: challenge ACK too.
    let acts = a.on_segment(ms(50), &repr(80, 40000, rcv, 0, flags::SYN, 1000), &[]);
    assert!(sends(&acts)[0].why.contains("challenge ACK"));
    // Exactly RCV.NXT: believed.
    let acts = a.on_segment(ms(50), &repr(80, 40000, rcv, 0, flags::RST, 0), &[]);
    assert!(acts.contains(&Action::PeerReset));
    assert_eq!(a.state(), State::Closed);
}

#[test]
fn rst_in_syn_received_returns_to_listen() {
    let mut b = Endpoint::listen(server());
    b.on_segment(ms(0), &repr(40000, 80, 1000, 0, flags::SYN, 1000), &[]);
    assert_eq!(b.state(), State::SynReceived);
    b.on_segment(ms(5), &repr(40000, 80, 1001, 0, flags::RST, 0), &[]);
    assert_eq!(b.state(), State::Listen);
    assert_eq!(b.poll_at(), None);
    // And it accepts a new client.
    b.on_segment(ms(6), &repr(40001, 80, 9, 0, flags::SYN, 1000), &[]);
    assert_eq!(b.state(), State::SynReceived);
    assert_eq!(b.remote_port(), 40001);
}

#[test]
fn wildcard_listener_learns_its_port_from_the_syn() {
    let mut b = Endpoint::listen(Config::server(0, 5000));
    let acts = b.on_segment(ms(0), &repr(40000, 8080, 1000, 0, flags::SYN, 1000), &[]);
    let syn_ack = sends(&acts)[0];
    assert_eq!(
        (syn_ack.repr.src_port, syn_ack.repr.dst_port),
        (8080, 40000)
    );
    assert_eq!(b.local_port(), 8080);
    // Now bound: a segment to another port is not ours.
    let acts = b.on_segment(ms(1), &repr(40000, 8081, 1001, 5001, flags::ACK, 1000), &[]);
    assert_eq!(sends(&acts)[0].repr.flags, flags::RST);
    assert_eq!(b.state(), State::SynReceived);
}

// ----- loss and retransmission -----

#[test]
fn dropped_syn_is_resent_after_the_initial_rto() {
    let imps = vec![Impairment::drop_index(0)];
    let mut sim = Sim::connect_with(client(), server(), imps);
    sim.run();
    let w = sim.wire();
    assert!(w[0].dropped);
    assert_eq!(
        w[1].sent_at,
        Duration::from_secs(1),
        "RFC 6298: 1 s before any sample"
    );
    assert_eq!(w[1].segment.flags_text(), "SYN");
    assert_eq!(w[1].segment.repr.seq_number, 1000, "the same ISN");
    assert!(w[1].segment.why.contains("retransmission #1 after RTO 1 s"));
    assert!(actions(&sim, Side::A).iter().any(|(_, a)| **a
        == Action::Retransmit {
            seq: 1000,
            attempt: 1,
            rto: Duration::from_secs(1)
        }));
    assert_eq!(
        when_entered(&sim, Side::A, State::Established),
        Some(ms(1020))
    );
    // Karn: no sample from the retransmitted SYN; RFC 6298 § 5.7: the RTO is now 3 s.
    assert!(
        !actions(&sim, Side::A)
            .iter()
            .any(|(_, a)| matches!(a, Action::RttSample { .. }))
    );
    assert_eq!(sim.endpoint(Side::A).rto(), Duration::from_secs(3));
}

#[test]
fn dropped_syn_ack_is_resent() {
    let imps = vec![Impairment::drop_first(|w| {
        w.from() == Side::B && w.segment().has(flags::SYN)
    })];
    let mut sim = Sim::connect_with(client(), server(), imps);
    sim.run();
    assert_eq!(sim.state(Side::A), State::Established);
    assert_eq!(sim.state(Side::B), State::Established);
    let syn_acks: Vec<&WireRecord> = sent_by(&sim, Side::B)
        .into_iter()
        .filter(|r| r.segment.has(flags::SYN))
        .collect();
    assert_eq!(syn_acks.len(), 2);
    assert!(syn_acks[0].dropped);
    // A's SYN timer fired first (1 s); its SYN reached B at 1.01 s, and B answered at once.
    assert_eq!(syn_acks[1].sent_at, ms(1010));
    assert!(
        syn_acks[1]
            .segment
            .why
            .contains("their SYN arrived a second time")
    );
    assert_eq!(sim.endpoint(Side::B).stats().retransmissions, 1);
}

#[test]
fn lost_syn_ack_without_client_retry_uses_the_server_timer() {
    // The client gives the server time: its own RTO is long.
    let mut c = client();
    c.initial_rto = Duration::from_secs(5);
    let imps = vec![Impairment::drop_index(1)];
    let mut sim = Sim::connect_with(c, server(), imps);
    sim.run();
    let syn_acks: Vec<&WireRecord> = sent_by(&sim, Side::B)
        .into_iter()
        .filter(|r| r.segment.has(flags::SYN))
        .collect();
    assert_eq!(
        syn_acks[1].sent_at,
        ms(1010),
        "10 ms + the server's 1 s RTO"
    );
    assert!(syn_acks[1].segment.why.contains("retransmission #1"));
    assert_eq!(sim.state(Side::B), State::Established);
}

#[test]
fn dropped_data_is_resent_on_timeout_with_back_off() {
    let mut sim = established();
    // After a 20 ms handshake RTT: RTO = 20 + 4·10 = 60 ms, raised to the 200 ms minimum.
    assert_eq!(sim.endpoint(Side::A).rto(), ms(200));
    sim.impair(
        Impairment::drop_matching(|w| w.from() == Side::A && !w.segment().payload.is_empty())
            .times(2),
    );
    let t0 = sim.now();
    sim.send(Side::A, b"data");
    sim.run();
    assert_eq!(sim.received(Side::B), b"data");
    let d = data_segments(&sim, Side::A);
    assert_eq!(d.len(), 3);
    assert_eq!(d[1].sent_at - t0, ms(200));
    assert_eq!(d[2].sent_at - t0, ms(200 + 400), "the RTO doubled");
    assert!(
        d[2].segment
            .why
            .contains("retransmission #2 after RTO 400 ms")
    );
    let rtx: Vec<Action> = actions(&sim, Side::A)
        .into_iter()
        .filter(|(_, a)| matches!(a, Action::Retransmit { .. }))
        .map(|(_, a)| a.clone())
        .collect();
    assert_eq!(
        rtx,
        [
            Action::Retransmit {
                seq: 1001,
                attempt: 1,
                rto: ms(200)
            },
            Action::Retransmit {
                seq: 1001,
                attempt: 2,
                rto: ms(400)
            }
        ]
    );
    // Karn: the ACK of a retransmitted segment gives no RTT sample.
    assert!(
        !actions(&sim, Side::A)
            .iter()
            .any(|(t, a)| *t > t0 && matches!(a, Action::RttSample { .. }))
    );
    assert_eq!(sim.endpoint(Side::A).stats().retransmissions, 2);
    assert_eq!(
        sim.endpoint(Side::A).rto(),
        ms(800),
        "backed off until a new sample"
    );
}

#[test]
fn three_duplicate_acks_trigger_fast_retransmit() {
    let mut sim = established();
    sim.impair(Impairment::drop_first(|w| {
        w.from() == Side::A && !w.segment().payload.is_empty()
    }));
    let t0 = sim.now();
    let data: Vec<u8> = (0..5 * 1448).map(|i| i as u8).collect();
    sim.send(Side::A, &data);
    sim.run();
    assert_eq!(sim.received(Side::B), &data[..]);
    let a_acts: Vec<&Action> = actions(&sim, Side::A)
        .into_iter()
        .map(|(_, a)| a)
        .filter(|a| {
            matches!(
                a,
                Action::DuplicateAck { .. } | Action::FastRetransmit { .. }
            )
        })
        .collect();
    assert_eq!(
        a_acts,
        [
            &Action::DuplicateAck { count: 1 },
            &Action::DuplicateAck { count: 2 },
            &Action::DuplicateAck { count: 3 },
            &Action::FastRetransmit { seq: 1001 },
            &Action::DuplicateAck { count: 4 },
        ]
    );
    let resent = data_segments(&sim, Side::A)[5];
    assert_eq!(resent.segment.repr.seq_number, 1001);
    assert!(resent.sent_at - t0 < ms(200), "before the RTO would fire");
    assert!(resent.segment.why.contains("fast retransmit"));
    // B's duplicate ACKs carried SACK blocks for what it held.
    let dup = &sent_by(&sim, Side::B)[1].segment;
    assert_eq!(dup.repr.ack_number, 1001);
    assert!(dup.repr.options.iter().any(|o| matches!(
        o,
        TcpOption::SackRange([Some((l, r)), None, None, None]) if *l == 1001 + 1448 && *r == 1001 + 2 * 1448
    )));
    let st = sim.endpoint(Side::A).stats();
    assert_eq!((st.fast_retransmits, st.dup_acks_received), (1, 4));
    assert_eq!(sim.endpoint(Side::B).stats().dup_acks_sent, 4);
}

#[test]
fn several_losses_are_repaired_by_partial_acks() {
    let mut sim = established();
    // Lose data segments 1 and 3 of 6.
    let mut n = 0;
    sim.impair(Impairment::drop_matching(move |w| {
        if w.from() == Side::A && !w.segment().payload.is_empty() {
            n += 1;
            return n == 1 || n == 3;
        }
        false
    }));
    let data: Vec<u8> = (0..6 * 1448).map(|i| (i * 7) as u8).collect();
    sim.send(Side::A, &data);
    sim.run();
    assert_eq!(sim.received(Side::B), &data[..]);
    assert!(
        data_segments(&sim, Side::A)
            .iter()
            .any(|r| r.segment.why.contains("partial ACK"))
    );
}

#[test]
fn reordered_data_gets_a_dup_ack_then_in_order_delivery() {
    let mut sim = established();
    sim.impair(Impairment::reorder_index(3)); // A's first data segment
    sim.send(Side::A, &[b'x'; 2000]);
    sim.run();
    assert_eq!(sim.received(Side::B), &[b'x'; 2000][..]);
    let b: Vec<&Action> = sim
        .trace()
        .iter()
        .filter(|e| e.side == Side::B && matches!(e.event, sim::Event::Arrival { .. }))
        .skip(1) // the handshake's ACK
        .flat_map(|e| e.actions.iter())
        .filter(|a| matches!(a, Action::Send(_) | Action::Deliver(_)))
        .collect();
    // Segment 2 first: no delivery, a duplicate ACK with a SACK block.
    let Action::Send(dup) = b[0] else {
        panic!("{b:?}")
    };
    assert_eq!(dup.repr.ack_number, 1001);
    assert!(dup.why.contains("duplicate ACK"), "{}", dup.why);
    assert!(dup.repr.options.iter().any(|o| matches!(
        o,
        TcpOption::SackRange([Some((2449, 3001)), None, None, None])
    )));
    // Then segment 1 fills the hole: all 2000 bytes at once, one cumulative ACK.
    assert_eq!(b[1], &Action::Deliver(vec![b'x'; 2000]));
    let Action::Send(ack) = b[2] else {
        panic!("{b:?}")
    };
    assert_eq!(ack.repr.ack_number, 3001);
    assert_eq!(sim.endpoint(Side::A).stats().retransmissions, 0);
}

#[test]
fn duplicate_data_is_acked_again() {
    let mut sim = established();
    // Lose B's ACK of the data: A resends, B sees the same bytes twice.
    sim.impair(Impairment::drop_index(4));
    sim.send(Side::A, b"twice");
    sim.run();
    assert_eq!(sim.received(Side::B), b"twice", "delivered once");
    let reack = &sent_by(&sim, Side::B).last().unwrap().segment;
    assert_eq!(reack.repr.ack_number, 1001 + 5);
    assert!(reack.why.contains("duplicate"), "{}", reack.why);
}

#[test]
fn gives_up_after_max_retries() {
    let mut c = client();
    c.max_retries = 3;
    let mut sim = Sim::connect(c, server());
    sim.run();
    sim.impair(Impairment::drop_matching(|w| w.from() == Side::A));
    sim.send(Side::A, b"into the void");
    sim.run();
    assert_eq!(sim.state(Side::A), State::Closed);
    let attempts: Vec<u32> = actions(&sim, Side::A)
        .iter()
        .filter_map(|(_, a)| match a {
            Action::Retransmit { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert!(
        actions(&sim, Side::A)
            .iter()
            .any(|(_, a)| matches!(a, Action::Note(n) if n.contains("giving up")))
    );
    assert_eq!(
        sent_by(&sim, Side::A).last().unwrap().segment.flags_text(),
        "RST"
    );

    // A SYN nobody answers: 1 + 2 + 4 + 8 s, then CLOSED without a reset.
    let mut c = client();
    c.max_retries = 3;
    let mut sim = Sim::connect_with(
        c,
        server(),
        vec![Impairment::drop_matching(|w| w.from() == Side::A)],
    );
    sim.run();
    assert_eq!(sim.state(Side::A), State::Closed);
    assert_eq!(
        when_entered(&sim, Side::A, State::Closed),
        Some(Duration::from_secs(15))
    );
    assert!(
        sent_by(&sim, Side::A)
            .iter()
            .all(|r| r.segment.flags_text() == "SYN")
    );
}

#[test]
fn rtt_estimator_follows_rfc6298_through_the_wire() {
    // One-way 50 ms: the handshake measures R = 100 ms; then 60 ms one way: R = 120 ms.
    // See rtt::tests::rfc6298_hand_computation for the arithmetic.
    let mut sim = Sim::client_server(client(), server()).with_latency(ms(50));
    sim.open(Side::A);
    sim.run();
    let samples = |sim: &Sim| -> Vec<Action> {
        actions(sim, Side::A)
            .into_iter()
            .filter(|(_, a)| matches!(a, Action::RttSample { .. }))
            .map(|(_, a)| a.clone())
            .collect()
    };
    assert_eq!(
        samples(&sim),
        [Action::RttSample {
            rtt: ms(100),
            srtt: ms(100),
            rttvar: ms(50),
            rto: ms(300)
        }]
    );
    sim.set_latency(ms(60));
    sim.send(Side::A, b"x");
    sim.run();
    assert_eq!(
        samples(&sim)[1],
        Action::RttSample {
            rtt: ms(120),
            srtt: Duration::from_micros(102_500),
            rttvar: Duration::from_micros(42_500),
            rto: Duration::from_micros(272_500)
        }
    );
    sim.set_latency(ms(40));
    sim.send(Side::A, b"y");
    sim.run();
    assert_eq!(
        sim.endpoint(Side::A).rto(),
        Duration::from_nanos(249_687_500)
    );
}

// ----- congestion control (see `cc` for the rules and their arithmetic) -----
//
// MSS 1448 (1460 minus 12 bytes of timestamps); a 20 ms round trip; the simulated wire
// delivers a whole burst at once, so each round trip's segments share one send time.

const MSS: u32 = 1448;

/// Established, with a receive window (4 MiB) that never limits the sender: what A may
/// send is up to its congestion window.
fn bulk_pair() -> Sim {
    let mut s = server();
    s.window = 1 << 22;
    let mut sim = Sim::connect(client(), s);
    sim.run();
    // Until B's first ACK, A knows only the SYN-ACK's unscaled window (65,408 B): still
    // more than the initial congestion window.
    assert!(sim.endpoint(Side::A).snd_wnd() > 10 * MSS);
    sim
}

/// `side`'s congestion-control changes, in order.
fn cc_changes(sim: &Sim, side: Side) -> Vec<cc::CcChange> {
    actions(sim, side)
        .into_iter()
        .filter_map(|(_, a)| match a {
            Action::Congestion(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

/// How many data segments `side` sent at each distinct moment from `t0` on, in order.
fn rounds(sim: &Sim, side: Side, t0: Duration) -> Vec<usize> {
    let mut v: Vec<(Duration, usize)> = Vec::new();
    for r in data_segments(sim, side) {
        if r.sent_at < t0 {
            continue;
        }
        match v.last_mut() {
            Some((t, n)) if *t == r.sent_at => *n += 1,
            _ => v.push((r.sent_at, 1)),
        }
    }
    v.into_iter().map(|(_, n)| n).collect()
}

fn snapshot(r: &WireRecord) -> cc::Snapshot {
    r.segment
        .cc
        .expect("a data segment carries the sender's congestion state")
}

#[test]
fn slow_start_doubles_cwnd_every_round_trip() {
    let mut sim = bulk_pair();
    let t0 = sim.now();
    let data = vec![7u8; 150 * MSS as usize];
    sim.send(Side::A, &data);
    sim.run();
    assert_eq!(sim.received(Side::B), &data[..]);
    // RFC 6928: 10 segments first; then each ACK for one segment adds one MSS to cwnd and
    // lets two segments go: 10, 20, 40, 80 per round trip.
    assert_eq!(rounds(&sim, Side::A, t0), [10, 20, 40, 80]);
    let d = data_segments(&sim, Side::A);
    // The last segment of each round leaves with cwnd = in flight = 10 × 2^k MSS.
    for (last, segments) in [(9, 10), (29, 20), (69, 40), (149, 80)] {
        let s = snapshot(d[last]);
        assert_eq!(s.phase, cc::Phase::SlowStart);
        assert_eq!((s.cwnd, s.in_flight), (segments * MSS, segments * MSS));
        assert_eq!(s.ssthresh_known(), None, "no loss, no threshold");
    }
    assert_eq!(
        d[0].segment.cc.unwrap().to_string(),
        "cwnd 14,480 B (10 MSS) · ssthresh ∞ · in flight 1,448 B (1 MSS)"
    );
    // The only change of phase was the first: slow start, from the initial window.
    let ch = cc_changes(&sim, Side::A);
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert_eq!(
        (ch[0].from, ch[0].to, ch[0].cwnd),
        (None, cc::Phase::SlowStart, 14_480)
    );
    // The SYN carries no congestion state: congestion control starts with the data.
    assert!(sim.wire()[0].segment.cc.is_none());
}

#[test]
fn three_duplicate_acks_halve_cwnd_then_it_grows_by_one_mss_per_round_trip() {
    let mut sim = bulk_pair();
    // Lose the first segment of the third round trip (10 + 20 segments went before it).
    let mut n = 0;
    sim.impair(Impairment::drop_matching(move |w| {
        if w.from() == Side::A && !w.segment().payload.is_empty() {
            n += 1;
            return n == 31;
        }
        false
    }));
    let t0 = sim.now();
    let data: Vec<u8> = (0..250_000u32).map(|i| (i % 253) as u8).collect();
    sim.send(Side::A, &data);
    sim.run();
    assert_eq!(sim.received(Side::B), &data[..]);
    let ch = cc_changes(&sim, Side::A);
    assert_eq!(ch.len(), 3, "{ch:?}");
    // The third round's 40 segments (57,920 B) are in flight when the 3rd duplicate ACK
    // arrives: ssthresh = 57920 / 2 = 28960; cwnd = 28960 + 3 × 1448 = 33304.
    let fr = &ch[1];
    assert_eq!(
        (fr.from, fr.to),
        (Some(cc::Phase::SlowStart), cc::Phase::FastRecovery)
    );
    assert_eq!(
        (fr.ssthresh, fr.cwnd, fr.in_flight),
        (28_960, 33_304, 57_920)
    );
    assert!(
        fr.why.starts_with(
            "3 duplicate ACKs: fast retransmit, ssthresh = flight/2 = 57,920 B/2 = 28,960 B, \
             cwnd = ssthresh + 3 MSS = 33,304 B"
        ),
        "{}",
        fr.why
    );
    let d = data_segments(&sim, Side::A);
    let resent = d[70];
    assert_eq!(
        resent.segment.repr.seq_number,
        d[30].segment.repr.seq_number
    );
    assert!(resent.segment.why.contains("fast retransmit"));
    assert_eq!(snapshot(resent).phase, cc::Phase::FastRecovery);
    // B reports the 39 segments after the hole: 36 duplicates beyond the third inflate
    // cwnd by 1 MSS each (RFC 5681 § 3.2 step 4). New data may go once cwnd exceeds the
    // 57,920 B in flight by a segment: 33304 + k × 1448 ≥ 59368 from the 18th on (the
    // 21st duplicate), so 19 new segments leave during recovery.
    let new_in_recovery = d[71..]
        .iter()
        .take_while(|r| snapshot(r).phase == cc::Phase::FastRecovery)
        .count();
    assert_eq!(new_in_recovery, 19);
    assert_eq!(snapshot(d[89]).cwnd, 33_304 + 36 * MSS);
    // The ACK of the resent segment covers everything up to recover: the window deflates
    // to min(ssthresh, max(flight, MSS) + MSS) = min(28960, 19 × 1448 + 1448) = 28960.
    let exit = &ch[2];
    assert_eq!(
        (exit.from, exit.to, exit.cwnd),
        (
            Some(cc::Phase::FastRecovery),
            cc::Phase::CongestionAvoidance,
            28_960
        )
    );
    // Congestion avoidance: 20, 21, 22 segments per round trip — one MSS more each time.
    let t_exit = d[90].sent_at;
    assert_eq!(&rounds(&sim, Side::A, t_exit)[..3], [20, 21, 22]);
    assert_eq!(rounds(&sim, Side::A, t0)[..3], [10, 20, 40]);
    let st = sim.endpoint(Side::A).stats();
    assert_eq!((st.fast_retransmits, st.retransmissions), (1, 1));
}

#[test]
fn a_timeout_restarts_from_one_segment() {
    let mut sim = bulk_pair();
    // Lose the whole second round trip (segments 11-30): no duplicate ACK can come back,
    // only the retransmission timer notices.
    let mut n = 0;
    sim.impair(Impairment::drop_matching(move |w| {
        if w.from() == Side::A && !w.segment().payload.is_empty() {
            n += 1;
            return (11..=30).contains(&n);
        }
        false
    }));
    let data = vec![1u8; 30 * MSS as usize];
    sim.send(Side::A, &data);
    sim.run();
    assert_eq!(sim.received(Side::B), &data[..]);
    let ch = cc_changes(&sim, Side::A);
    assert_eq!(ch.len(), 3, "{ch:?}");
    // 20 segments (28,960 B) in flight at the timeout: ssthresh = 14480, cwnd = 1 MSS.
    let rto = &ch[1];
    assert_eq!(
        (rto.from, rto.to),
        (Some(cc::Phase::SlowStart), cc::Phase::LossRecovery)
    );
    assert_eq!(
        (rto.ssthresh, rto.cwnd, rto.in_flight),
        (14_480, 1448, 28_960)
    );
    assert!(
        rto.why
            .contains("ssthresh = flight/2 = 28,960 B/2 = 14,480 B, cwnd = 1 MSS = 1,448 B"),
        "{}",
        rto.why
    );
    // Then slow start from one segment, resending everything from the hole on: 1, 2, 4,
    // 8 segments; then cwnd reaches ssthresh (10 MSS) and the last 5 go.
    let d = data_segments(&sim, Side::A);
    let first_resend = d[30];
    assert_eq!(
        first_resend.segment.repr.seq_number,
        d[10].segment.repr.seq_number
    );
    assert_eq!(
        first_resend.sent_at - d[10].sent_at,
        ms(200),
        "RTO: the 200 ms minimum"
    );
    assert_eq!(rounds(&sim, Side::A, first_resend.sent_at), [1, 2, 4, 8, 5]);
    let cwnds: Vec<u32> = d[30..].iter().map(|r| snapshot(r).cwnd / MSS).collect();
    assert_eq!(&cwnds[..7], [1, 2, 2, 3, 3, 4, 4]);
    assert!(
        d[31].segment.why.contains("loss recovery"),
        "{}",
        d[31].segment.why
    );
    // cwnd reached ssthresh (10 MSS) with the 9th ACK after the timeout; congestion
    // avoidance counted the next 10 ACKs' 14,480 B — one whole cwnd — and added one MSS.
    // The ACK past everything sent before the timeout then ends loss recovery.
    assert_eq!(
        (ch[2].from, ch[2].to, ch[2].cwnd),
        (
            Some(cc::Phase::LossRecovery),
            cc::Phase::CongestionAvoidance,
            11 * MSS
        )
    );
    assert_eq!(sim.endpoint(Side::A).stats().retransmissions, 20);
}

#[test]
fn newreno_partial_ack_resends_the_next_hole() {
    let mut sim = bulk_pair();
    // Lose segments 3 and 7 of the initial window.
    let mut n = 0;
    sim.impair(Impairment::drop_matching(move |w| {
        if w.from() == Side::A && !w.segment().payload.is_empty() {
            n += 1;
            return n == 3 || n == 7;
        }
        false
    }));
    let data = vec![2u8; 10 * MSS as usize];
    sim.send(Side::A, &data);
    sim.run();
    assert_eq!(sim.received(Side::B), &data[..]);
    let d = data_segments(&sim, Side::A);
    assert_eq!(d.len(), 12);
    // Segments 1 and 2 are acknowledged; 4, 5, 6 bring 3 duplicate ACKs with 8 segments
    // (11,584 B) in flight: ssthresh = 11584 / 2 = 5792, cwnd = 5792 + 3 × 1448 = 10136;
    // 8, 9, 10 inflate it to 14480. Segment 3 is resent.
    assert_eq!(d[10].segment.repr.seq_number, d[2].segment.repr.seq_number);
    assert_eq!(snapshot(d[10]).cwnd, 10_136);
    // Its ACK stops at segment 7: a partial ACK of 4 segments (5792 B). cwnd = 14480 -
    // 5792 + 1448 = 10136, segment 7 is resent at once, fast recovery goes on.
    let partial = d[11];
    assert_eq!(
        partial.segment.repr.seq_number,
        d[6].segment.repr.seq_number
    );
    assert!(
        partial.segment.why.contains("partial ACK"),
        "{}",
        partial.segment.why
    );
    let s = snapshot(partial);
    assert_eq!(
        (s.phase, s.cwnd, s.in_flight),
        (cc::Phase::FastRecovery, 10_136, 4 * MSS)
    );
    // The next ACK covers everything: nothing is left in flight, so the window deflates
    // to min(5792, max(0, 1448) + 1448) = 2896 and slow start resumes below ssthresh.
    let ch = cc_changes(&sim, Side::A);
    assert_eq!(ch.len(), 3, "{ch:?}");
    assert_eq!(
        (ch[1].ssthresh, ch[1].cwnd, ch[1].in_flight),
        (5792, 10_136, 8 * MSS)
    );
    assert_eq!(
        (ch[2].from, ch[2].to, ch[2].cwnd),
        (Some(cc::Phase::FastRecovery), cc::Phase::SlowStart, 2896)
    );
    // No timeout was needed.
    assert!(
        !actions(&sim, Side::A)
            .iter()
            .any(|(_, a)| matches!(a, Action::Retransmit { .. }))
    );
}

#[test]
fn byte_counting_keeps_doubling_when_every_other_ack_is_missing() {
    // A receiver that acknowledges every second segment (as Linux's delayed ACKs do) —
    // here, every other ACK of B's lost on the wire. Each ACK that arrives covers 2
    // segments; RFC 3465 counts its bytes (up to L = 2 MSS), so cwnd still doubles per
    // round trip: 4 segments leave per ACK. Counting ACKs instead would give 10, 15, 22.
    let mut sim = bulk_pair();
    let mut n = 0;
    sim.impair(Impairment::drop_matching(move |w| {
        if w.from() == Side::B
            && w.segment().payload.is_empty()
            && w.segment().flags_text() == "ACK"
        {
            n += 1;
            return n % 2 == 1;
        }
        false
    }));
    let t0 = sim.now();
    let data = vec![3u8; 150 * MSS as usize];
    sim.send(Side::A, &data);
    sim.run();
    assert_eq!(sim.received(Side::B), &data[..]);
    assert_eq!(rounds(&sim, Side::A, t0), [10, 20, 40, 80]);
    let d = data_segments(&sim, Side::A);
    // The first ACK that arrives (for segments 1-2) adds 2896 B: 17376 = 12 MSS.
    assert_eq!(snapshot(d[10]).cwnd, 12 * MSS);
    assert_eq!(snapshot(d[13]).cwnd, 12 * MSS, "4 segments per ACK");
    assert_eq!(snapshot(d[14]).cwnd, 14 * MSS);
}

#[test]
fn the_sender_respects_the_smaller_of_cwnd_and_rwnd() {
    let mut s = server();
    s.window = 20_000;
    s.window_scale = None;
    let mut sim = Sim::connect(client(), s);
    sim.run();
    sim.send(Side::A, &vec![4u8; 200_000]);
    let mut most_in_flight = 0;
    let mut largest_cwnd = 0;
    while sim.step() {
        let a = sim.endpoint(Side::A);
        most_in_flight = most_in_flight.max(a.snd_nxt().wrapping_sub(a.snd_una()));
        largest_cwnd = largest_cwnd.max(a.congestion().unwrap().cwnd);
    }
    assert_eq!(sim.received(Side::B).len(), 200_000);
    // First the congestion window limits (14,480 B < 20,000); once slow start has grown it
    // past 20,000, the receiver's window does.
    assert_eq!(rounds(&sim, Side::A, Duration::ZERO)[0], 10);
    assert!(largest_cwnd > 40_000, "{largest_cwnd}");
    assert_eq!(most_in_flight, 20_000);
    assert!(
        data_segments(&sim, Side::A)
            .iter()
            .any(|r| r.segment.why.contains("all their window allows"))
    );
}

#[test]
fn through_a_bottleneck_the_window_saws() {
    // 10 Mbit/s with a 20-packet drop-tail queue, 10 ms each way: the bandwidth-delay
    // product is 25,000 B (about 17 segments), so the queue overflows once cwnd passes
    // about 37 segments. Every overflow is a congestion loss: cwnd halves, then climbs.
    let fwd = Conditions {
        delay: ms(10),
        bottleneck: Some(Bottleneck::new(10_000_000, 20)),
        ..Conditions::default()
    };
    let link = Link::asymmetric([fwd, Conditions::delay(ms(10))], 1);
    let mut s = server();
    s.window = 1 << 22;
    let mut sim = Sim::client_server(client(), s).over(link);
    sim.open(Side::A);
    sim.run();
    let t0 = sim.now();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 241) as u8).collect();
    sim.send(Side::A, &data);
    sim.run();
    assert_eq!(sim.received(Side::B), &data[..]);
    let secs = (sim.now() - t0).as_secs_f64();
    let goodput = data.len() as f64 * 8.0 / secs;
    assert!(goodput <= 10_000_000.0, "{goodput}");
    assert!(goodput > 6_000_000.0, "the link stays busy: {goodput}");
    let drops = sim.link().counts(Dir::Forward, 0).queue_drops;
    let ch = cc_changes(&sim, Side::A);
    let cuts = ch
        .iter()
        .filter(|c| c.to == cc::Phase::FastRecovery)
        .count();
    assert!(drops > 0 && cuts >= 3, "{drops} drops, {cuts} cuts: {ch:?}");
    // Each cut halves what was in flight, and cwnd then climbs again by 1 MSS per RTT.
    for c in ch.iter().filter(|c| c.to == cc::Phase::FastRecovery) {
        assert_eq!(c.ssthresh, cc::ssthresh_after_loss(c.in_flight, MSS));
    }
}

#[test]
fn random_loss_reordering_and_a_queue_never_lose_data_or_break_the_rules() {
    // Many seeded runs of a lossy, reordering wire with a bottleneck, both directions
    // impaired: every byte arrives intact, and every segment's congestion state obeys
    // the rules (cwnd ≥ 1 MSS; after a loss ssthresh ≥ 2 MSS).
    for seed in 0..24u64 {
        let loss = [0.0, 0.01, 0.03, 0.08][seed as usize % 4];
        let c = Conditions {
            delay: ms(5 + seed % 20),
            loss,
            reorder: if seed % 3 == 0 { 0.05 } else { 0.0 },
            reorder_hold: ms(30),
            bottleneck: (seed % 2 == 0).then(|| Bottleneck::new(20_000_000, 10 + seed as usize)),
        };
        let back = Conditions {
            bottleneck: None,
            ..c.clone()
        };
        let link = Link::asymmetric([c, back], seed);
        let mut s = server();
        s.window = 1 << 21;
        let mut sim = Sim::client_server(client(), s).over(link);
        sim.hook(echo(Side::B));
        sim.open(Side::A);
        let data: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(seed as u32 + 7) >> 3) as u8)
            .collect();
        sim.send(Side::A, &data);
        sim.run_for(Duration::from_secs(600));
        assert_eq!(sim.received(Side::B).len(), data.len(), "seed {seed}: to B");
        assert!(
            sim.received(Side::B) == &data[..],
            "seed {seed}: bytes differ"
        );
        assert!(sim.received(Side::A) == &data[..], "seed {seed}: the echo");
        for r in sim.wire() {
            if let Some(cc) = r.segment.cc {
                assert!(cc.cwnd >= cc.smss, "seed {seed}: {cc}");
                if cc.ssthresh_known().is_some() {
                    assert!(cc.ssthresh >= 2 * cc.smss, "seed {seed}: {cc}");
                }
            }
        }
    }
}

// ----- numbers -----

#[test]
fn sequence_numbers_wrap_around() {
    let a = Config::client(40000, 80, u32::MAX - 100);
    let b = Config::server(80, u32::MAX);
    let mut sim = Sim::connect(a, b);
    sim.hook(echo(Side::B));
    sim.hook(close_on_fin(Side::B));
    sim.run();
    assert_eq!(sim.wire()[1].segment.repr.ack_number, u32::MAX - 99);
    assert_eq!(
        sim.wire()[2].segment.repr.ack_number,
        0,
        "their ISN + 1 wraps to 0"
    );
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    sim.send(Side::A, &data);
    sim.run();
    assert_eq!(sim.received(Side::B), &data[..]);
    assert_eq!(sim.received(Side::A), &data[..]);
    assert!(
        data_segments(&sim, Side::A)
            .iter()
            .any(|r| r.segment.repr.seq_number < 10_000)
    );
    sim.close(Side::A);
    assert!(sim.run());
    assert_eq!(sim.state(Side::A), State::Closed);
    assert_eq!(sim.state(Side::B), State::Closed);
}

#[test]
fn every_segment_emits_and_parses_back() {
    // A lossy, reordering run; every segment must fit the wire format (options ≤ 40
    // bytes) and parse back to the same header.
    let mut sim = established();
    sim.hook(echo(Side::B));
    sim.impair(Impairment::reorder_index(3));
    sim.impair(Impairment::drop_index(5));
    sim.impair(Impairment::drop_index(9));
    let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    sim.send(Side::A, &data);
    sim.run();
    assert_eq!(sim.received(Side::A), &data[..]);
    for rec in sim.wire() {
        let s = &rec.segment;
        let hl = s.repr.header_len();
        assert!(hl <= 60, "{hl}: {:?}", s.repr.options);
        let mut buf = vec![0u8; hl + s.payload.len()];
        s.repr.emit(&mut buf, &s.payload, 0);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.seq_number(), s.repr.seq_number);
        assert_eq!(p.ack_number(), s.repr.ack_number);
        assert_eq!(p.flags(), s.repr.flags);
        assert_eq!(p.payload(), &s.payload[..]);
        let mut rest = p.options();
        let mut opts = Vec::new();
        while !rest.is_empty() {
            let (r, o) = parse_option(rest).unwrap();
            if o != TcpOption::EndOfList {
                opts.push(o);
            }
            rest = r;
        }
        assert_eq!(opts, s.repr.options);
    }
}

// ----- robustness -----

/// The fuzz test's dice: the one seeded generator ([`crate::random::SplitMix64`]), with
/// the two shapes of question the test asks.
struct Rng(crate::random::SplitMix64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n.max(1))
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// One endpoint in every state, taken from simulated runs.
fn endpoints_in_every_state() -> HashMap<State, Endpoint> {
    let mut got: HashMap<State, Endpoint> = HashMap::new();
    got.insert(State::Closed, Endpoint::closed(server()));
    let mut record = |sim: &mut Sim| {
        loop {
            for side in [Side::A, Side::B] {
                let e = sim.endpoint(side);
                got.entry(e.state()).or_insert_with(|| e.clone());
            }
            if !sim.step() {
                break;
            }
        }
    };
    // Active close with data, and a passive side that closes on FIN.
    let mut sim = Sim::connect(client(), server());
    sim.hook(echo(Side::B));
    sim.hook(close_on_fin(Side::B));
    sim.send(Side::A, b"queued during the handshake");
    record(&mut sim);
    sim.send(Side::A, &[1u8; 5000]);
    sim.close(Side::A);
    record(&mut sim);
    // A passive side that stays in CLOSE-WAIT.
    let mut sim = Sim::connect(client(), server());
    record(&mut sim);
    sim.close(Side::A);
    record(&mut sim);
    // Simultaneous close, for CLOSING.
    let mut sim = Sim::connect(client(), server());
    record(&mut sim);
    sim.close(Side::A);
    sim.close(Side::B);
    record(&mut sim);
    got
}

#[test]
fn no_panics_on_random_segments_in_any_state() {
    let snapshots = endpoints_in_every_state();
    assert_eq!(snapshots.len(), 11, "{:?}", snapshots.keys());
    static JUNK: [u8; 6] = [1, 2, 3, 4, 5, 6];
    let mut rng = Rng(crate::random::SplitMix64::new(0x9e37_79b9_7f4a_7c15));
    for (state, ep) in &snapshots {
        for round in 0..40 {
            let mut e = ep.clone();
            let mut now = ms(10_000);
            for _ in 0..60 {
                now += Duration::from_micros(rng.below(3_000_000));
                match rng.below(20) {
                    0 => {
                        e.on_timer(now);
                    }
                    1 => {
                        e.send(now, &vec![0xab; rng.below(5000) as usize]);
                    }
                    2 if rng.chance(4) => {
                        e.close(now);
                    }
                    3 if rng.chance(10) => {
                        e.abort(now);
                    }
                    _ => {
                        let near = |rng: &mut Rng, base: u32| -> u32 {
                            if rng.chance(3) {
                                rng.next() as u32
                            } else {
                                base.wrapping_add(rng.below(200_000) as u32)
                                    .wrapping_sub(100_000)
                            }
                        };
                        let mut options = Vec::new();
                        for _ in 0..rng.below(4) {
                            options.push(match rng.below(8) {
                                0 => TcpOption::MaxSegmentSize(rng.next() as u16),
                                1 => TcpOption::WindowScale(rng.next() as u8),
                                2 => TcpOption::SackPermitted,
                                3 => TcpOption::Timestamp {
                                    tsval: rng.next() as u32,
                                    tsecr: rng.next() as u32,
                                },
                                4 => TcpOption::SackRange([
                                    Some((rng.next() as u32, rng.next() as u32)),
                                    None,
                                    None,
                                    None,
                                ]),
                                5 => TcpOption::Unknown {
                                    kind: 30,
                                    data: &JUNK[..rng.below(6) as usize],
                                },
                                6 => TcpOption::EndOfList,
                                _ => TcpOption::NoOperation,
                            });
                        }
                        let seg = Repr {
                            src_port: if rng.chance(20) {
                                9
                            } else {
                                e.remote_port().max(40000)
                            },
                            dst_port: if rng.chance(20) { 7 } else { e.local_port() },
                            seq_number: near(&mut rng, e.rcv_nxt()),
                            ack_number: near(&mut rng, e.snd_nxt()),
                            flags: rng.below(0x200) as u16,
                            window_len: rng.next() as u16,
                            options,
                        };
                        let payload = vec![0x5a; rng.below(3000) as usize];
                        let acts = e.on_segment(now, &seg, &payload);
                        for s in sends(&acts) {
                            assert!(s.repr.header_len() <= 60);
                        }
                    }
                }
                assert!(
                    seq::seq_le(e.snd_una(), e.snd_nxt()),
                    "{state} round {round}: SND.UNA after SND.NXT"
                );
                if let Some(t) = e.poll_at() {
                    assert!(t <= now + Duration::from_secs(130));
                }
            }
        }
    }
}
