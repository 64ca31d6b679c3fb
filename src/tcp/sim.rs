//! Two endpoints on an in-memory wire, with virtual time and a lossy network on demand.
//!
//! TCP's interesting behaviour appears when the network misbehaves: a lost SYN, a lost
//! data segment, two segments swapped, a queue that overflows. On a real link that is
//! hard to arrange and harder to repeat; here the network is netlab's one wire model,
//! [`crate::wiremodel::Link`], carrying [`Segment`]s: scripted rules ("drop segment 3",
//! "delay the first SYN-ACK by 2 s", "swap segment 5 with the next one"), random loss and
//! reordering from a seed, and a bottleneck with a queue. The clock is virtual: when
//! nothing is due it jumps straight to the next event, so a 60-second back-off runs in
//! microseconds and every run is identical.
//!
//! The tests of [`super`] use it as their harness. (`netlab tcp-handshake --simulate`
//! drives its two endpoints in its own loop, printing as it goes, over the same wire
//! model.) A [`Sim`] returns a trace: for every event (an application call, a
//! segment arriving or lost, a timer) the time, the side, and the [`Action`]s the endpoint
//! produced.
//!
//! Contract: no I/O, no real clock; imports only [`super`] and [`crate::wiremodel`].

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use super::{Action, Config, Endpoint, Segment, State};
use crate::wiremodel::{Conditions, Dir, Fate, Link, Offer, Rule, WirePacket};

/// One-way delay of the simulated link unless set otherwise: 10 ms (a 20 ms RTT).
pub const DEFAULT_LATENCY: Duration = Duration::from_millis(10);

/// Which endpoint: `A` (by convention the client) or `B` (the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Side::A => "A",
            Side::B => "B",
        }
    }

    fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }

    /// The way a segment from this side travels: A → B is the link's forward direction.
    pub fn dir(self) -> Dir {
        match self {
            Side::A => Dir::Forward,
            Side::B => Dir::Backward,
        }
    }

    /// The side that sends in direction `dir`.
    pub fn sending(dir: Dir) -> Side {
        match dir {
            Dir::Forward => Side::A,
            Dir::Backward => Side::B,
        }
    }
}

/// A segment's bytes on the wire: its TCP header and payload behind a 20-byte IPv4
/// header (what a bottleneck's rate is spent on).
impl WirePacket for Segment {
    fn wire_len(&self) -> usize {
        20 + self.repr.header_len() + self.payload.len()
    }
}

/// A rule of the simulated wire: [`crate::wiremodel::Rule`] for segments.
pub type Impairment = Rule<Segment>;

/// What a rule's predicate sees of a segment: its side and the segment itself, besides
/// the [`Offer`]'s `index` and `at`.
pub trait OnWire {
    /// The side that sent it.
    fn from(&self) -> Side;
    fn segment(&self) -> &Segment;
}

impl OnWire for Offer<'_, Segment> {
    fn from(&self) -> Side {
        Side::sending(self.dir)
    }

    fn segment(&self) -> &Segment {
        self.packet
    }
}

/// What an application does in reply to an endpoint's action (see [`Hook`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaction {
    Send(Vec<u8>),
    Close,
    Abort,
}

/// An application living on one side: called for every action of every endpoint, it may
/// answer with a [`Reaction`] on the side that produced the action.
pub type Hook = Box<dyn FnMut(Side, &Action, &Endpoint) -> Option<Reaction>>;

/// An echo server on `side`: sends back whatever it receives.
pub fn echo(side: Side) -> Hook {
    Box::new(move |s, a, _| match a {
        Action::Deliver(d) if s == side => Some(Reaction::Send(d.clone())),
        _ => None,
    })
}

/// An application on `side` that closes its end when the peer closes (CLOSE-WAIT), as a
/// server does when its client says goodbye.
pub fn close_on_fin(side: Side) -> Hook {
    Box::new(move |s, a, _| match a {
        Action::StateChange {
            to: State::CloseWait,
            ..
        } if s == side => Some(Reaction::Close),
        _ => None,
    })
}

/// What happened, in a [`TraceEntry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The application called the endpoint: connect, send, close, abort.
    Call(String),
    /// A segment from the other side arrived.
    Arrival { index: usize, segment: Segment },
    /// A segment this side sent was lost on the wire.
    Lost { index: usize, segment: Segment },
    /// A timer of this side fired.
    Timer,
}

/// One step of a run: at `at`, `side`'s endpoint saw `event` and answered with `actions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    pub at: Duration,
    pub side: Side,
    pub event: Event,
    pub actions: Vec<Action>,
}

impl TraceEntry {
    /// The segment that arrived or was lost, if any.
    pub fn segment(&self) -> Option<&Segment> {
        match &self.event {
            Event::Arrival { segment, .. } | Event::Lost { segment, .. } => Some(segment),
            _ => None,
        }
    }

    /// The direction of the segment: `(from, to)`.
    pub fn direction(&self) -> Option<(Side, Side)> {
        match &self.event {
            Event::Arrival { .. } => Some((self.side.other(), self.side)),
            Event::Lost { .. } => Some((self.side, self.side.other())),
            _ => None,
        }
    }

    /// Whether this entry records a lost segment.
    pub fn dropped(&self) -> bool {
        matches!(self.event, Event::Lost { .. })
    }
}

/// Every segment put on the wire, in order, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRecord {
    pub index: usize,
    pub from: Side,
    pub sent_at: Duration,
    pub segment: Segment,
    pub dropped: bool,
    /// When it arrived (`None`: lost, or still in flight).
    pub arrived_at: Option<Duration>,
}

/// Two endpoints, a wire between them, and a virtual clock.
pub struct Sim {
    ends: [Endpoint; 2],
    now: Duration,
    link: Link<Segment>,
    wire: Vec<WireRecord>,
    trace: Vec<TraceEntry>,
    hooks: Vec<Hook>,
    received: [Vec<u8>; 2],
    steps: usize,
    /// A run stops after this many events (a guard against endless ping-pong).
    pub max_steps: usize,
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("now", &self.now)
            .field("a", &self.ends[0].state())
            .field("b", &self.ends[1].state())
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// Two endpoints at time zero, nothing in flight, a perfect link of
    /// [`DEFAULT_LATENCY`] each way.
    pub fn new(a: Endpoint, b: Endpoint) -> Sim {
        Sim {
            ends: [a, b],
            now: Duration::ZERO,
            link: Link::new(Conditions::delay(DEFAULT_LATENCY), 0),
            wire: Vec::new(),
            trace: Vec::new(),
            hooks: Vec::new(),
            received: [Vec::new(), Vec::new()],
            steps: 0,
            max_steps: 100_000,
        }
    }

    /// A client on side A (still CLOSED) and a server listening on side B. Set latency,
    /// impairments and hooks, then [`Sim::open`] side A.
    pub fn client_server(client: Config, server: Config) -> Sim {
        Sim::new(Endpoint::closed(client), Endpoint::listen(server))
    }

    /// [`Sim::client_server`], and A connects at once: its SYN is on the wire. Nothing has
    /// run yet; call [`Sim::run`].
    pub fn connect(client: Config, server: Config) -> Sim {
        Self::connect_with(client, server, Vec::new())
    }

    /// [`Sim::connect`] with impairments in place before the SYN is sent.
    pub fn connect_with(client: Config, server: Config, impairments: Vec<Impairment>) -> Sim {
        let mut sim = Sim::client_server(client, server);
        for i in impairments {
            sim.impair(i);
        }
        sim.open(Side::A);
        sim
    }

    /// Replaces the wire (before anything was sent on it): e.g. a link with a bottleneck
    /// or random loss. A → B is its forward direction.
    pub fn over(mut self, link: Link<Segment>) -> Self {
        self.link = link;
        self
    }

    /// Active open on `side`, now, with the configuration its endpoint was built with.
    pub fn open(&mut self, side: Side) {
        let cfg = self.ends[side.index()].config().clone();
        let (ep, actions) = Endpoint::connect(cfg, self.now);
        self.ends[side.index()] = ep;
        self.inject(side, "connect()", actions);
    }

    /// Sets the one-way latency of the link.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.link.set_delay(latency);
        self
    }

    /// Changes the one-way latency for segments sent from now on.
    pub fn set_latency(&mut self, latency: Duration) {
        self.link.set_delay(latency);
    }

    /// Adds a rule to the network (rules apply in the order added).
    pub fn impair(&mut self, imp: Impairment) {
        self.link.add_rule(imp);
    }

    /// The wire: its conditions and what it did ([`Link::counts`]).
    pub fn link(&self) -> &Link<Segment> {
        &self.link
    }

    /// Adds an application hook (see [`echo`], [`close_on_fin`]).
    pub fn hook(&mut self, hook: Hook) {
        self.hooks.push(hook);
    }

    pub fn now(&self) -> Duration {
        self.now
    }

    pub fn endpoint(&self, side: Side) -> &Endpoint {
        &self.ends[side.index()]
    }

    pub fn endpoint_mut(&mut self, side: Side) -> &mut Endpoint {
        &mut self.ends[side.index()]
    }

    pub fn state(&self, side: Side) -> State {
        self.endpoint(side).state()
    }

    /// All bytes delivered to `side`'s application so far.
    pub fn received(&self, side: Side) -> &[u8] {
        &self.received[side.index()]
    }

    pub fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    /// Every segment put on the wire so far.
    pub fn wire(&self) -> &[WireRecord] {
        &self.wire
    }

    /// Records actions the caller obtained from an endpoint directly (e.g. from
    /// [`Endpoint::connect`]) and puts their segments on the wire.
    pub fn inject(&mut self, side: Side, label: impl Into<String>, actions: Vec<Action>) {
        self.apply(side, Event::Call(label.into()), actions);
    }

    /// Calls `side`'s endpoint now, as its application would.
    pub fn call(
        &mut self,
        side: Side,
        label: impl Into<String>,
        f: impl FnOnce(&mut Endpoint, Duration) -> Vec<Action>,
    ) {
        let now = self.now;
        let actions = f(&mut self.ends[side.index()], now);
        self.apply(side, Event::Call(label.into()), actions);
    }

    pub fn send(&mut self, side: Side, data: &[u8]) {
        self.call(side, format!("send({} bytes)", data.len()), |e, now| {
            e.send(now, data)
        });
    }

    pub fn close(&mut self, side: Side) {
        self.call(side, "close()", |e, now| e.close(now));
    }

    pub fn abort(&mut self, side: Side) {
        self.call(side, "abort()", |e, now| e.abort(now));
    }

    /// Runs until nothing is in flight and no timer is set (or `max_steps`). Returns
    /// whether it went quiet.
    pub fn run(&mut self) -> bool {
        while self.step() {}
        self.next_event_time().is_none()
    }

    /// Runs every event due at or before `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: Duration) {
        while self.next_event_time().is_some_and(|x| x <= t) {
            if !self.step() {
                break;
            }
        }
        self.now = self.now.max(t);
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now.saturating_add(d));
    }

    /// When the next event happens, if any.
    pub fn next_event_time(&self) -> Option<Duration> {
        let arrival = self.link.next_due();
        let timers = self.ends.iter().filter_map(|e| e.poll_at()).min();
        [arrival, timers].into_iter().flatten().min()
    }

    /// Processes the next event (arrivals before timers due at the same moment); the
    /// clock jumps to it. Returns false when there is none, or the step limit is reached.
    pub fn step(&mut self) -> bool {
        if self.steps >= self.max_steps {
            return false;
        }
        let arrival = self.link.next_due();
        let timer = [Side::A, Side::B]
            .into_iter()
            .filter_map(|s| self.ends[s.index()].poll_at().map(|t| (t, s)))
            .min_by_key(|(t, _)| *t);
        let arrival_first = match (arrival, timer) {
            (Some(ta), Some((tt, _))) => ta <= tt,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return false,
        };
        self.steps += 1;
        if arrival_first {
            self.now = self.now.max(arrival.unwrap_or_default());
            // Nothing arrives when the event was a held segment's hold running out: it is
            // on its way now, and arrives at a later step.
            let Some(d) = self.link.pop_due(self.now) else {
                return true;
            };
            let to = Side::sending(d.dir).other();
            let now = self.now;
            self.wire[d.index].arrived_at = Some(now);
            let segment = d.packet;
            let actions = self.ends[to.index()].on_segment(now, &segment.repr, &segment.payload);
            self.apply(
                to,
                Event::Arrival {
                    index: d.index,
                    segment,
                },
                actions,
            );
        } else if let Some((at, side)) = timer {
            self.now = self.now.max(at);
            let now = self.now;
            let actions = self.ends[side.index()].on_timer(now);
            self.apply(side, Event::Timer, actions);
        }
        true
    }

    /// Records an event and its actions, puts sent segments on the wire, and lets the
    /// hooks react (their reactions are recorded as further calls).
    fn apply(&mut self, side: Side, event: Event, actions: Vec<Action>) {
        let mut queue = VecDeque::from([(side, event, actions)]);
        let mut guard = 0;
        while let Some((side, event, actions)) = queue.pop_front() {
            guard += 1;
            let mut reactions = Vec::new();
            for a in &actions {
                if let Action::Deliver(d) = a {
                    self.received[side.index()].extend_from_slice(d);
                }
                for h in self.hooks.iter_mut() {
                    if let Some(r) = h(side, a, &self.ends[side.index()]) {
                        reactions.push(r);
                    }
                }
            }
            let sends: Vec<Segment> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::Send(s) => Some(s.clone()),
                    _ => None,
                })
                .collect();
            self.trace.push(TraceEntry {
                at: self.now,
                side,
                event,
                actions,
            });
            for s in sends {
                self.put_on_wire(side, s);
            }
            if guard > 1000 {
                continue;
            }
            let now = self.now;
            for r in reactions {
                let e = &mut self.ends[side.index()];
                let (label, acts) = match r {
                    Reaction::Send(d) => (format!("send({} bytes)", d.len()), e.send(now, &d)),
                    Reaction::Close => ("close()".to_string(), e.close(now)),
                    Reaction::Abort => ("abort()".to_string(), e.abort(now)),
                };
                queue.push_back((side, Event::Call(label), acts));
            }
        }
    }

    fn put_on_wire(&mut self, from: Side, segment: Segment) {
        let index = self.wire.len();
        debug_assert_eq!(index, self.link.offered());
        let fate = self.link.offer(self.now, from.dir(), segment.clone());
        let dropped = matches!(fate, Fate::Lost(_));
        if dropped {
            self.trace.push(TraceEntry {
                at: self.now,
                side: from,
                event: Event::Lost {
                    index,
                    segment: segment.clone(),
                },
                actions: Vec::new(),
            });
        }
        self.wire.push(WireRecord {
            index,
            from,
            sent_at: self.now,
            segment,
            dropped,
            arrived_at: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tcp::flags;

    fn pair() -> (Config, Config) {
        (Config::client(40000, 80, 1000), Config::server(80, 5000))
    }

    #[test]
    fn clock_jumps_and_latency_applies() {
        let (c, s) = pair();
        let mut sim = Sim::client_server(c, s).with_latency(Duration::from_millis(25));
        sim.open(Side::A);
        assert!(sim.run());
        assert_eq!(sim.state(Side::A), State::Established);
        assert_eq!(sim.state(Side::B), State::Established);
        let w = sim.wire();
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].arrived_at, Some(Duration::from_millis(25)));
        assert_eq!(w[1].arrived_at, Some(Duration::from_millis(50)));
        assert_eq!(w[2].arrived_at, Some(Duration::from_millis(75)));
    }

    #[test]
    fn drop_by_predicate_once() {
        let (c, s) = pair();
        let imps = vec![Impairment::drop_first(|w| w.segment().has(flags::SYN))];
        let mut sim = Sim::connect_with(c, s, imps);
        sim.run();
        assert!(sim.wire()[0].dropped);
        assert!(!sim.wire()[1].dropped);
        assert!(sim.trace().iter().any(|e| e.dropped()));
        assert_eq!(sim.state(Side::B), State::Established);
    }

    #[test]
    fn delay_and_reorder() {
        let (c, s) = pair();
        let mut sim = Sim::connect(c, s);
        sim.run();
        // Wire indexes 0-2 were the handshake; A's next two data segments are 3 and 4.
        sim.impair(Impairment::reorder_index(3));
        sim.impair(Impairment::delay_index(5, Duration::from_millis(100)));
        sim.send(Side::A, b"one");
        sim.send(Side::A, b"two");
        sim.run();
        let w = sim.wire();
        assert!(w[4].arrived_at <= w[3].arrived_at, "3 and 4 swapped");
        assert_eq!(sim.received(Side::B), b"onetwo");
        let delayed = w.iter().find(|r| r.index == 5).unwrap();
        assert_eq!(
            delayed.arrived_at.unwrap() - delayed.sent_at,
            Duration::from_millis(110)
        );
    }

    #[test]
    fn hooks_echo_and_close() {
        let (c, s) = pair();
        let mut sim = Sim::connect(c, s);
        sim.hook(echo(Side::B));
        sim.hook(close_on_fin(Side::B));
        sim.run();
        sim.send(Side::A, b"ping");
        sim.run_for(Duration::from_millis(100));
        assert_eq!(sim.received(Side::A), b"ping");
        sim.close(Side::A);
        assert!(sim.run());
        assert_eq!(sim.state(Side::A), State::Closed);
        assert_eq!(sim.state(Side::B), State::Closed);
    }
}
