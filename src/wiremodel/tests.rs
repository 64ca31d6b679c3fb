//! The link with made-up packets: a `Vec<u8>` whose first byte is a tag, the second its
//! lane (0, 1; 9 = no lane).

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn pkt(tag: u8) -> Vec<u8> {
    vec![tag, 0]
}

fn in_lane(tag: u8, lane: u8) -> Vec<u8> {
    vec![tag, lane]
}

#[allow(clippy::ptr_arg)] // the classifier's signature is `fn(&P)`, P = Vec<u8>
fn lane(p: &Vec<u8>) -> Option<usize> {
    (p[1] != 9).then_some(usize::from(p[1]))
}

fn drain(l: &mut Link<Vec<u8>>, now: Duration) -> Vec<(Dir, u8)> {
    let mut v = Vec::new();
    while let Some(d) = l.pop_due(now) {
        v.push((d.dir, d.packet[0]));
    }
    v
}

fn lossy(loss: f64, reorder: f64, delay_ms: u64, seed: u64) -> Link<Vec<u8>> {
    let c = Conditions {
        delay: ms(delay_ms),
        loss,
        reorder,
        ..Conditions::default()
    };
    Link::new(c, seed).with_lanes(2, seed, lane)
}

#[test]
fn a_perfect_link_passes_everything_in_order() {
    let mut l = lossy(0.0, 0.0, 0, 1);
    for i in 0..5 {
        assert_eq!(
            l.offer(Duration::ZERO, Dir::Forward, pkt(i)),
            Fate::Sent {
                due: Duration::ZERO,
                queued: Duration::ZERO
            }
        );
    }
    assert_eq!(
        drain(&mut l, Duration::ZERO),
        (0..5).map(|i| (Dir::Forward, i)).collect::<Vec<_>>()
    );
    assert_eq!(l.counts(Dir::Forward, 0).packets, 5);
    assert!(l.is_idle());
}

#[test]
fn total_loss_drops_everything_and_counts_it() {
    let mut l = lossy(1.0, 0.0, 0, 1);
    for i in 0..5 {
        assert_eq!(
            l.offer(Duration::ZERO, Dir::Backward, pkt(i)),
            Fate::Lost(Loss::Chance)
        );
    }
    assert!(drain(&mut l, ms(1000)).is_empty());
    let c = l.counts(Dir::Backward, 0);
    assert_eq!((c.packets, c.lost, c.missing()), (5, 5, 5));
}

#[test]
fn delay_holds_packets_until_due() {
    let mut l = lossy(0.0, 0.0, 30, 1);
    l.offer(ms(10), Dir::Forward, pkt(7));
    assert!(drain(&mut l, ms(39)).is_empty());
    assert_eq!(l.next_due(), Some(ms(40)));
    assert_eq!(drain(&mut l, ms(40)), vec![(Dir::Forward, 7)]);
}

#[test]
fn a_held_packet_leaves_right_after_the_one_that_overtook_it() {
    let mut l = lossy(0.0, 1.0, 0, 1);
    assert_eq!(l.offer(Duration::ZERO, Dir::Forward, pkt(1)), Fate::Held);
    assert!(drain(&mut l, Duration::ZERO).is_empty(), "1 is held");
    l.offer(ms(1), Dir::Forward, pkt(2));
    let d: Vec<Delivery<Vec<u8>>> = std::iter::from_fn(|| l.pop_due(ms(1))).collect();
    assert_eq!(
        d.iter()
            .map(|d| (d.packet[0], d.reordered))
            .collect::<Vec<_>>(),
        [(2, false), (1, true)]
    );
    assert_eq!(l.counts(Dir::Forward, 0).reordered, 1);
    // Alone, a held packet goes when its hold (50 ms) runs out, not counted as reordered.
    l.offer(ms(2), Dir::Forward, pkt(3));
    assert_eq!(l.next_due(), Some(ms(52)));
    assert!(drain(&mut l, ms(3)).is_empty());
    assert_eq!(drain(&mut l, ms(52)), vec![(Dir::Forward, 3)]);
    assert_eq!(l.counts(Dir::Forward, 0).reordered, 1);
}

#[test]
fn the_same_seed_drops_the_same_packets_and_another_seed_others() {
    let kept = |seed| {
        let mut l = lossy(0.3, 0.0, 0, seed);
        let mut kept = Vec::new();
        for i in 0..200u32 {
            l.offer(Duration::ZERO, Dir::Forward, pkt(i as u8));
            if let Some(d) = l.pop_due(Duration::ZERO) {
                kept.push((i, d.packet[0]));
            }
        }
        kept
    };
    assert_eq!(kept(42), kept(42));
    assert_ne!(kept(42), kept(43));
    let n = kept(42).len();
    assert!((100..180).contains(&n), "30% loss kept {n} of 200");
}

#[test]
fn lanes_roll_their_own_dice() {
    // Lane 1's fate does not depend on how much lane 0 traffic is mixed in.
    let fates = |noise: usize| {
        let mut l = lossy(0.5, 0.0, 0, 7);
        let mut v = Vec::new();
        for i in 0..50u8 {
            for _ in 0..noise {
                l.offer(Duration::ZERO, Dir::Forward, in_lane(0, 0));
            }
            v.push(l.offer(Duration::ZERO, Dir::Forward, in_lane(i, 1)));
        }
        v
    };
    assert_eq!(fates(0), fates(3));
}

#[test]
fn unclassified_traffic_passes_untouched_and_uncounted() {
    let mut l = lossy(1.0, 0.0, 0, 1);
    l.offer(Duration::ZERO, Dir::Backward, in_lane(9, 9));
    assert_eq!(drain(&mut l, Duration::ZERO), vec![(Dir::Backward, 9)]);
    assert_eq!(l.counts(Dir::Backward, 0), Counts::default());
    assert_eq!(l.counts(Dir::Backward, 1), Counts::default());
}

#[test]
fn rules_come_before_the_dice() {
    let mut l: Link<Vec<u8>> = Link::new(Conditions::delay(ms(10)), 1);
    l.add_rule(Rule::drop_first(|o: &Offer<Vec<u8>>| o.packet[0] == 2));
    l.add_rule(Rule::delay_index(3, ms(100)));
    l.add_rule(Rule::reorder_index(4));
    let fates: Vec<Fate> = (0..6)
        .map(|i| l.offer(ms(0), Dir::Forward, pkt(i)))
        .collect();
    assert_eq!(fates[2], Fate::Lost(Loss::Rule));
    assert_eq!(
        fates[3],
        Fate::Sent {
            due: ms(110),
            queued: Duration::ZERO
        }
    );
    assert_eq!(fates[4], Fate::Held);
    // drop_first hit once: a second packet tagged 2 passes.
    assert!(matches!(
        l.offer(ms(0), Dir::Forward, pkt(2)),
        Fate::Sent { .. }
    ));
    assert_eq!(
        drain(&mut l, ms(200)),
        [0, 1, 5, 4, 2, 3]
            .into_iter()
            .map(|t| (Dir::Forward, t))
            .collect::<Vec<_>>()
    );
    let c = l.counts(Dir::Forward, 0);
    assert_eq!((c.dropped, c.delayed, c.reordered), (1, 1, 1));
}

#[test]
fn a_bottleneck_paces_queues_and_drops() {
    // 1 Mbit/s: a 1250-byte packet takes 10 ms; a queue of 3; 5 ms propagation.
    let c = Conditions {
        delay: ms(5),
        bottleneck: Some(Bottleneck {
            rate_bps: 1_000_000,
            burst_bytes: 1250,
            queue_packets: 3,
        }),
        ..Conditions::default()
    };
    let mut l: Link<Vec<u8>> = Link::asymmetric([c, Conditions::delay(ms(5))], 1);
    let big = |t: u8| {
        let mut p = vec![0u8; 1250];
        p[0] = t;
        p
    };
    let fates: Vec<Fate> = (0..6)
        .map(|i| l.offer(ms(0), Dir::Forward, big(i)))
        .collect();
    // The first leaves at once; three wait 10, 20, 30 ms; the last two find the queue
    // full: congestion losses.
    let due = |q: u64| Fate::Sent {
        due: ms(q + 5),
        queued: ms(q),
    };
    assert_eq!(
        fates,
        [
            due(0),
            due(10),
            due(20),
            due(30),
            Fate::Lost(Loss::QueueFull),
            Fate::Lost(Loss::QueueFull)
        ]
    );
    assert_eq!(l.queue_len(Dir::Forward, ms(0)), 3);
    assert_eq!(l.counts(Dir::Forward, 0).queue_drops, 2);
    // The other direction has no bottleneck.
    assert_eq!(
        l.offer(ms(0), Dir::Backward, big(9)),
        Fate::Sent {
            due: ms(5),
            queued: Duration::ZERO
        }
    );
    // Over a long run, what leaves stays within the rate: 100 packets offered 1 ms apart
    // (10 Mbit/s offered into 1 Mbit/s): one leaves every 10 ms (10 of them) and the
    // three still queued at the end follow.
    assert_eq!(
        drain(&mut l, ms(100)).len(),
        5,
        "the first burst and the backward one"
    );
    let mut delivered = 0;
    for i in 0..100u64 {
        l.offer(ms(100 + i), Dir::Forward, big(1));
        delivered += drain(&mut l, ms(100 + i)).len();
    }
    delivered += drain(&mut l, ms(1000)).len();
    assert_eq!(delivered, 13);
}

#[test]
fn rates_print_for_learners() {
    assert_eq!(fmt_rate(10_000_000), "10 Mbit/s");
    assert_eq!(fmt_rate(1_500_000), "1.5 Mbit/s");
    assert_eq!(fmt_rate(500_000), "500 kbit/s");
}
