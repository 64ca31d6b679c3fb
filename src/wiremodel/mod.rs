//! A model of the wire between two hosts: delay, loss, reordering, a rate limit and a
//! router queue — seeded, repeatable, and free of I/O.
//!
//! TCP's interesting behaviour appears when the network misbehaves, and a real network
//! misbehaves rarely and never twice alike. netlab therefore *is* the wire in its demos:
//! it carries every packet between the two ends and decides, here, what becomes of it:
//!
//! - **delay**: every packet spends the one-way propagation delay in flight (light in
//!   fibre covers 1,000 km in 5 ms);
//! - **loss**: a packet vanishes at random (a flaky radio link, a bit error) — or by a
//!   scripted [`Rule`] ("drop the SYN-ACK", "drop the 31st data segment");
//! - **reordering**: a packet is held back until the next one in its direction has
//!   passed it (two paths of different length);
//! - **a bottleneck** ([`Bottleneck`]): a link slower than what feeds it, shaped by a
//!   token bucket, with a drop-tail queue in front. Its drops are *congestion* losses,
//!   caused by the senders themselves, and its queue adds delay when it fills.
//!
//! Each direction has its own [`Conditions`]. Random decisions come from netlab's one
//! seeded generator, [`crate::random::SplitMix64`], one generator per direction and *lane*: a lane is a class of traffic
//! with its own dice (`netlab race` gives UDP and TCP one each, so that UDP meets the same
//! fate for the same `--seed` whatever TCP does). The dice are rolled for every packet of
//! a lane in the same order, so one decision never shifts the next.
//!
//! # Shape
//!
//! A [`Link`] takes packets with the time they were sent ([`Link::offer`], which tells
//! their [`Fate`] at once) and gives them back when they are due ([`Link::pop_due`];
//! [`Link::next_due`] says when to ask). Time is a `Duration` since the start of the run,
//! real or virtual, so the same model serves a relay thread between two TUN devices
//! (`netlab race`, `netlab congestion`, `netlab nagle`, `netlab tcp-handshake`) and the
//! simulated wire of the TCP engine (`tcp::sim`) in virtual time.
//!
//! # Why here
//!
//! The model is used by commands and by the TCP engine's simulator, so it lives a floor
//! below both. It knows nothing of protocols — a packet is anything with a length
//! ([`WirePacket`]); a caller that wants lanes or rules looks inside its own packets.
//!
//! Contract: pure, I/O-free, no clock of its own; imports `std` and [`crate::random`].

mod bottleneck;

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::time::Duration;

use crate::random::SplitMix64 as Rng;
pub use bottleneck::Bottleneck;
use bottleneck::Queue;

/// Which way a packet travels on the link. What the two ends are is the caller's choice;
/// by convention `Forward` carries the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    Forward,
    Backward,
}

impl Dir {
    pub fn index(self) -> usize {
        match self {
            Dir::Forward => 0,
            Dir::Backward => 1,
        }
    }

    pub fn reverse(self) -> Dir {
        match self {
            Dir::Forward => Dir::Backward,
            Dir::Backward => Dir::Forward,
        }
    }
}

/// What the link needs to know of a packet: how many bytes it puts on the wire (the
/// bottleneck's rate is in bits per second).
pub trait WirePacket {
    fn wire_len(&self) -> usize;
}

impl WirePacket for Vec<u8> {
    fn wire_len(&self) -> usize {
        self.len()
    }
}

/// How one direction of the link behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    /// One-way propagation delay: the least time a packet spends in flight.
    pub delay: Duration,
    /// Probability (0.0–1.0) that a packet is lost at random.
    pub loss: f64,
    /// Probability (0.0–1.0) that a packet is held back to be overtaken by the next.
    pub reorder: f64,
    /// How long a held packet waits for one to overtake it before it goes alone.
    pub reorder_hold: Duration,
    /// A rate limit and a queue, or `None` for a link as fast as what feeds it.
    pub bottleneck: Option<Bottleneck>,
}

impl Default for Conditions {
    fn default() -> Self {
        Conditions {
            delay: Duration::ZERO,
            loss: 0.0,
            reorder: 0.0,
            reorder_hold: Duration::from_millis(50),
            bottleneck: None,
        }
    }
}

impl Conditions {
    /// A perfect link with this one-way delay.
    pub fn delay(delay: Duration) -> Conditions {
        Conditions {
            delay,
            ..Conditions::default()
        }
    }
}

/// A packet as it is offered to the link, for [`Rule`] predicates.
#[derive(Debug)]
pub struct Offer<'a, P> {
    /// Counts every packet offered, both directions, from 0.
    pub index: usize,
    pub dir: Dir,
    pub at: Duration,
    pub packet: &'a P,
}

type Predicate<P> = Box<dyn FnMut(&Offer<'_, P>) -> bool + Send>;

/// Which packets a rule hits.
pub enum Select<P> {
    /// The packet with this index.
    Index(usize),
    /// Every packet the predicate accepts (see [`Rule::times`] to limit it).
    Matching(Predicate<P>),
}

/// What a rule does to a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Lost: it never arrives.
    Drop,
    /// Arrives this much later than the link's delay.
    Delay(Duration),
    /// Held back until the next packet in its direction has passed it.
    Reorder,
}

/// A scripted impairment: "drop the SYN-ACK", "delay packet 4 by 2 s". Rules are tried
/// in the order added; the first that selects a packet applies, before any dice.
pub struct Rule<P> {
    select: Select<P>,
    effect: Effect,
    /// How many more packets this rule may hit (`None`: unlimited).
    remaining: Option<usize>,
}

impl<P> fmt::Debug for Rule<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let select = match &self.select {
            Select::Index(i) => format!("Index({i})"),
            Select::Matching(_) => "Matching(..)".into(),
        };
        f.debug_struct("Rule")
            .field("select", &select)
            .field("effect", &self.effect)
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl<P> Rule<P> {
    /// A rule; an index hits once, a predicate every time it matches.
    pub fn new(select: Select<P>, effect: Effect) -> Self {
        let remaining = match select {
            Select::Index(_) => Some(1),
            Select::Matching(_) => None,
        };
        Rule {
            select,
            effect,
            remaining,
        }
    }

    /// Limits the rule to the first `n` packets it selects.
    pub fn times(mut self, n: usize) -> Self {
        self.remaining = Some(n);
        self
    }

    /// Lose the packet with index `i`.
    pub fn drop_index(i: usize) -> Self {
        Self::new(Select::Index(i), Effect::Drop)
    }

    /// Lose every packet `pred` accepts.
    pub fn drop_matching(pred: impl FnMut(&Offer<'_, P>) -> bool + Send + 'static) -> Self {
        Self::new(Select::Matching(Box::new(pred)), Effect::Drop)
    }

    /// Lose the first packet `pred` accepts.
    pub fn drop_first(pred: impl FnMut(&Offer<'_, P>) -> bool + Send + 'static) -> Self {
        Self::drop_matching(pred).times(1)
    }

    /// Delay the packet with index `i` by `by` (on top of the link's delay).
    pub fn delay_index(i: usize, by: Duration) -> Self {
        Self::new(Select::Index(i), Effect::Delay(by))
    }

    /// Swap the packet with index `i` and the next one in the same direction.
    pub fn reorder_index(i: usize) -> Self {
        Self::new(Select::Index(i), Effect::Reorder)
    }

    /// Hold back the first packet `pred` accepts until the next one has passed it.
    pub fn reorder_first(pred: impl FnMut(&Offer<'_, P>) -> bool + Send + 'static) -> Self {
        Self::new(Select::Matching(Box::new(pred)), Effect::Reorder).times(1)
    }

    fn hits(&mut self, offer: &Offer<'_, P>) -> bool {
        if self.remaining == Some(0) {
            return false;
        }
        let hit = match &mut self.select {
            Select::Index(i) => *i == offer.index,
            Select::Matching(p) => p(offer),
        };
        if hit && let Some(r) = &mut self.remaining {
            *r -= 1;
        }
        hit
    }
}

/// Why a packet was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// A [`Rule`] dropped it.
    Rule,
    /// The dice: random loss.
    Chance,
    /// The bottleneck's queue was full: a congestion loss.
    QueueFull,
}

/// What became of an offered packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It will never arrive.
    Lost(Loss),
    /// Held back: it arrives after the next packet in its direction (or alone, once its
    /// hold runs out).
    Held,
    /// On its way: due at `due`, after waiting `queued` at the bottleneck.
    Sent { due: Duration, queued: Duration },
}

/// A packet that reached the other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery<P> {
    /// When it arrived.
    pub at: Duration,
    /// The way it travelled.
    pub dir: Dir,
    /// Its index (see [`Offer::index`]).
    pub index: usize,
    /// It was held back and overtaken.
    pub reordered: bool,
    pub packet: P,
}

/// What the link did to one lane in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Packets offered.
    pub packets: u64,
    /// Lost by a rule.
    pub dropped: u64,
    /// Lost by chance.
    pub lost: u64,
    /// Dropped by a full bottleneck queue.
    pub queue_drops: u64,
    /// Held back and overtaken by a later packet.
    pub reordered: u64,
    /// Delayed by a rule.
    pub delayed: u64,
}

impl Counts {
    /// Every packet that did not arrive, whatever the reason.
    pub fn missing(&self) -> u64 {
        self.dropped + self.lost + self.queue_drops
    }
}

/// A packet held back for reordering.
struct Held<P> {
    packet: P,
    index: usize,
    /// It goes alone at this time if no later packet came to overtake it.
    deadline: Duration,
    extra: Duration,
}

/// A packet in flight, ordered by due time, then by the order it was queued in.
struct InFlight<P> {
    due: Duration,
    order: u64,
    dir: Dir,
    index: usize,
    reordered: bool,
    packet: P,
}

impl<P> PartialEq for InFlight<P> {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.order) == (o.due, o.order)
    }
}
impl<P> Eq for InFlight<P> {}
impl<P> PartialOrd for InFlight<P> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<P> Ord for InFlight<P> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.due, o.order).cmp(&(self.due, self.order))
    }
}

/// Which dice lane a packet rolls (`None`: no dice, not counted).
pub type Classify<P> = fn(&P) -> Option<usize>;

/// The link: two directions, their conditions, the rules, the dice, and the packets in
/// flight.
pub struct Link<P> {
    conditions: [Conditions; 2],
    rules: Vec<Rule<P>>,
    classify: Option<Classify<P>>,
    /// Per lane, per direction.
    dice: Vec<[Rng; 2]>,
    held: Vec<[Option<Held<P>>; 2]>,
    counts: Vec<[Counts; 2]>,
    bottleneck: [Option<Queue>; 2],
    in_flight: BinaryHeap<InFlight<P>>,
    order: u64,
    offered: usize,
}

impl<P> fmt::Debug for Link<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("conditions", &self.conditions)
            .field("rules", &self.rules)
            .field("in_flight", &self.in_flight.len())
            .field("offered", &self.offered)
            .finish_non_exhaustive()
    }
}

impl<P: WirePacket> Link<P> {
    /// A link with the same conditions both ways, one lane, dice seeded by `seed`.
    pub fn new(conditions: Conditions, seed: u64) -> Link<P> {
        Link::asymmetric([conditions.clone(), conditions], seed)
    }

    /// A link with `[forward, backward]` conditions.
    pub fn asymmetric(conditions: [Conditions; 2], seed: u64) -> Link<P> {
        let bottleneck = [
            conditions[0].bottleneck.map(Queue::new),
            conditions[1].bottleneck.map(Queue::new),
        ];
        let mut link = Link {
            conditions,
            rules: Vec::new(),
            classify: None,
            dice: Vec::new(),
            held: Vec::new(),
            counts: Vec::new(),
            bottleneck,
            in_flight: BinaryHeap::new(),
            order: 0,
            offered: 0,
        };
        link.set_lanes(1, seed);
        link
    }

    /// Gives each class of traffic its own dice: `classify` names a packet's lane
    /// (`0..lanes`), or `None` for traffic the dice leave alone and the counts ignore.
    pub fn with_lanes(mut self, lanes: usize, seed: u64, classify: Classify<P>) -> Self {
        self.set_lanes(lanes.max(1), seed);
        self.classify = Some(classify);
        self
    }

    fn set_lanes(&mut self, lanes: usize, seed: u64) {
        // Each lane and direction gets its own sequence from the one seed; one draw
        // stirs it, so that seeds 1 and 2 do not start alike.
        let die = |lane: usize, dir: u64| {
            let mut r = Rng::new(seed ^ ((lane as u64) << 62) ^ (dir << 61));
            r.next_u64();
            r
        };
        self.dice = (0..lanes).map(|l| [die(l, 0), die(l, 1)]).collect();
        self.held = (0..lanes).map(|_| [None, None]).collect();
        self.counts = vec![[Counts::default(); 2]; lanes];
    }

    /// Adds a rule (rules apply in the order added).
    pub fn add_rule(&mut self, rule: Rule<P>) {
        self.rules.push(rule);
    }

    pub fn conditions(&self, dir: Dir) -> &Conditions {
        &self.conditions[dir.index()]
    }

    /// Changes the one-way delay, both directions, for packets offered from now on.
    pub fn set_delay(&mut self, delay: Duration) {
        for c in &mut self.conditions {
            c.delay = delay;
        }
    }

    /// What happened to `lane`'s packets going `dir`.
    pub fn counts(&self, dir: Dir, lane: usize) -> Counts {
        self.counts
            .get(lane)
            .map(|c| c[dir.index()])
            .unwrap_or_default()
    }

    /// Packets waiting in `dir`'s bottleneck queue at `now`.
    pub fn queue_len(&mut self, dir: Dir, now: Duration) -> usize {
        self.bottleneck[dir.index()]
            .as_mut()
            .map_or(0, |q| q.len(now))
    }

    /// Packets offered so far: the index the next one gets.
    pub fn offered(&self) -> usize {
        self.offered
    }

    /// A packet sent at `now`, going `dir`: what becomes of it.
    pub fn offer(&mut self, now: Duration, dir: Dir, packet: P) -> Fate {
        let index = self.offered;
        self.offered += 1;
        let view = Offer {
            index,
            dir,
            at: now,
            packet: &packet,
        };
        let effect = self
            .rules
            .iter_mut()
            .find_map(|r| r.hits(&view).then_some(r.effect));
        let lane = match self.classify {
            Some(f) => f(&packet).filter(|l| *l < self.dice.len()),
            None => Some(0),
        };
        let d = dir.index();
        let cond = &self.conditions[d];
        // Both dice are always rolled, so one decision never shifts the next.
        let (lose, hold) = match lane {
            Some(l) => {
                let dice = &mut self.dice[l][d];
                (dice.chance(cond.loss), dice.chance(cond.reorder))
            }
            None => (false, false),
        };
        let hold_for = cond.reorder_hold;
        if let Some(l) = lane {
            self.counts[l][d].packets += 1;
        }
        let count = |counts: &mut Vec<[Counts; 2]>, f: fn(&mut Counts)| {
            if let Some(l) = lane {
                f(&mut counts[l][d]);
            }
        };
        match effect {
            Some(Effect::Drop) => {
                count(&mut self.counts, |c| c.dropped += 1);
                return Fate::Lost(Loss::Rule);
            }
            None if lose => {
                count(&mut self.counts, |c| c.lost += 1);
                return Fate::Lost(Loss::Chance);
            }
            _ => {}
        }
        let extra = match effect {
            Some(Effect::Delay(by)) => {
                count(&mut self.counts, |c| c.delayed += 1);
                by
            }
            _ => Duration::ZERO,
        };
        let reorder = effect == Some(Effect::Reorder) || (effect.is_none() && hold);
        let slot = lane.unwrap_or(0);
        if reorder && self.held[slot][d].is_none() {
            self.held[slot][d] = Some(Held {
                packet,
                index,
                deadline: now + hold_for,
                extra,
            });
            return Fate::Held;
        }
        let fate = self.transmit(now, dir, index, packet, extra, false);
        if let Some(h) = self.held[slot][d].take() {
            // Queued right behind the packet that passed it.
            if let Fate::Sent { .. } = self.transmit(now, dir, h.index, h.packet, h.extra, true) {
                count(&mut self.counts, |c| c.reordered += 1);
            }
        }
        fate
    }

    /// Through the bottleneck (if any) and onto the wire.
    fn transmit(
        &mut self,
        now: Duration,
        dir: Dir,
        index: usize,
        packet: P,
        extra: Duration,
        reordered: bool,
    ) -> Fate {
        let d = dir.index();
        let depart = match &mut self.bottleneck[d] {
            Some(q) => match q.admit(now, packet.wire_len()) {
                Some(t) => t,
                None => {
                    if let Some(l) = self.lane_of(&packet) {
                        self.counts[l][d].queue_drops += 1;
                    }
                    return Fate::Lost(Loss::QueueFull);
                }
            },
            None => now,
        };
        let due = depart + self.conditions[d].delay + extra;
        self.order += 1;
        self.in_flight.push(InFlight {
            due,
            order: self.order,
            dir,
            index,
            reordered,
            packet,
        });
        Fate::Sent {
            due,
            queued: depart - now,
        }
    }

    fn lane_of(&self, p: &P) -> Option<usize> {
        match self.classify {
            Some(f) => f(p).filter(|l| *l < self.dice.len()),
            None => Some(0),
        }
    }

    /// Releases held packets whose hold ran out by `now`: they go alone.
    fn release_held(&mut self, now: Duration) {
        for lane in 0..self.held.len() {
            for dir in [Dir::Forward, Dir::Backward] {
                let d = dir.index();
                if self.held[lane][d]
                    .as_ref()
                    .is_some_and(|h| h.deadline <= now)
                    && let Some(h) = self.held[lane][d].take()
                {
                    let _ = self.transmit(h.deadline, dir, h.index, h.packet, h.extra, false);
                }
            }
        }
    }

    /// The next packet due at or before `now`, earliest first.
    pub fn pop_due(&mut self, now: Duration) -> Option<Delivery<P>> {
        self.release_held(now);
        if self.in_flight.peek().is_some_and(|f| f.due <= now) {
            let f = self.in_flight.pop()?;
            return Some(Delivery {
                at: f.due,
                dir: f.dir,
                index: f.index,
                reordered: f.reordered,
                packet: f.packet,
            });
        }
        None
    }

    /// When the next packet falls due or a held packet's hold runs out (`None`: nothing
    /// in flight).
    pub fn next_due(&self) -> Option<Duration> {
        let flying = self.in_flight.peek().map(|f| f.due);
        let held = self
            .held
            .iter()
            .flatten()
            .flatten()
            .map(|h| h.deadline)
            .min();
        match (flying, held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether nothing is in flight or held.
    pub fn is_idle(&self) -> bool {
        self.next_due().is_none()
    }
}

/// A rate for a learner: `10 Mbit/s`, `1.5 Mbit/s`, `500 kbit/s`.
pub fn fmt_rate(bps: u64) -> String {
    let (v, unit) = if bps >= 1_000_000_000 {
        (bps as f64 / 1e9, "Gbit/s")
    } else if bps >= 1_000_000 {
        (bps as f64 / 1e6, "Mbit/s")
    } else if bps >= 1_000 {
        (bps as f64 / 1e3, "kbit/s")
    } else {
        (bps as f64, "bit/s")
    };
    let s = format!("{v:.2}");
    format!("{} {unit}", s.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests;
