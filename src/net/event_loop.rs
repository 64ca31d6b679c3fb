//! The event loop `ws serve` and `socketio serve` run on: one thread per core, each
//! waiting in `epoll_wait` for the sockets it serves, so that a handful of threads serve
//! tens of thousands of connections — how nginx, Node.js (libuv) and tokio do it.
//!
//! **Why `epoll` by hand ([`super::poll`]) and not `mio`.** `mio` is the well-kept
//! readiness crate under tokio, and it would serve here. But netlab teaches what the
//! layers do: the system calls a server makes — `epoll_ctl`, `epoll_wait`, `accept4`,
//! `read`, `write`, `shutdown`, `eventfd` — are the lesson, and with 200 lines of
//! `poll.rs` a learner reads each of them where it happens. netlab runs on Linux only
//! (namespaces, TUN, packet sockets), so `mio`'s portability buys nothing, and the
//! loop needs two things `mio` hides or lacks: `EPOLLEXCLUSIVE` on the listening socket
//! shared by every loop, and level-triggered readiness (a connection that is not read
//! is reported again, so back-pressure is "stop reading", nothing to re-arm).
//!
//! **What the loop does, so that a server ([`Service`]) does not have to:**
//! - accepts (`accept4`, non-blocking, `TCP_NODELAY`), every loop from the one listening
//!   socket, registered with `EPOLLEXCLUSIVE` so a new connection wakes one loop, and
//!   hands the connection to the loop serving the fewest (`EPOLLEXCLUSIVE` favours
//!   one loop: see [`Loop::accepted`]);
//! - counts connections against the server's limit ([`ConnLimit`]); beyond it a client
//!   gets `503 Service Unavailable` before any upgrade. Out of file descriptors
//!   (`EMFILE`: a spare descriptor is kept for this and given up for a moment, so the
//!   waiting connection can be accepted and refused instead of waking the loop for
//!   ever), out of memory (every per-connection allocation is reserved with
//!   `try_reserve`), a full epoll: one connection is refused and the service is told
//!   ([`Service::refused`], at most once a second with a count); the process never
//!   aborts, and no thread is started after the first;
//! - reads into one buffer per loop (256 KiB: a 64 KiB message usually arrives whole)
//!   and hands the bytes to the service; writes each connection's output at the end of
//!   the batch, one `write` for everything the batch produced;
//! - back-pressure: a connection whose unsent output passes [`Config::read_pause`] is
//!   not read until it drains below half of it (a client that sends without reading
//!   blocks in its own kernel, not in our memory); what a service queues for a
//!   connection that did not ask (a broadcast) it checks against its own cap with
//!   [`Cx::pending`] and closes the slow reader;
//! - closes politely ([`Close::Flush`]): write what is queued, `shutdown(SHUT_WR)`, read
//!   and discard until the peer's FIN or a deadline — so the kernel does not answer
//!   unread data with a reset that destroys the last response (RFC 9112 § 9.6);
//! - timers: a binary heap of deadlines, per connection or per loop, with lazy
//!   cancellation (a service ignores a timer it no longer wants) — no sleeping threads;
//! - messages between loops ([`Cx::post`]): a queue per loop and an `eventfd` to wake it.
//!
//! Imports: `std`, `libc` and [`super::poll`], [`super::http`] (the connection limit).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::http::{ConnLimit, Slot};
use super::poll::{Event, Interest, Poller, Waker};

/// How long a polite close ([`Close::Flush`]) may take in all: writing what is queued,
/// then reading until the peer's FIN.
pub const CLOSE_DEADLINE: Duration = Duration::from_secs(2);
/// How long a refused connection (503) is read and discarded before it is closed.
const REFUSE_LINGER: Duration = Duration::from_millis(200);
/// Refused connections a loop keeps lingering at once; beyond it they are closed at
/// once (a flood must not turn into held descriptors).
const MAX_REFUSING: usize = 256;
/// The read buffer each loop owns.
const READ_BUF: usize = 256 * 1024;
/// Reads per readable connection per wake-up (fairness between connections).
const READS_PER_EVENT: usize = 4;
/// Output capacity a connection keeps once everything is written (more is given back:
/// 10,000 idle connections must not each hold a 64 KiB buffer).
const KEEP_CAPACITY: usize = 16 * 1024;
/// Connections accepted per wake-up of one loop, so that the others get some too.
const ACCEPTS_PER_EVENT: usize = 32;
/// How long the listening socket is left alone after accept failed for a reason that
/// waiting may cure (no memory).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Descriptors a server keeps for itself (listener, epoll and eventfd per loop, a spare,
/// the standard streams, a trace's packet socket…) when the default connection limit
/// is derived from the open-file limit.
pub const RESERVED_FDS: u64 = 64;

const LISTENER: u64 = u64::MAX;
const WAKER: u64 = u64::MAX - 1;
/// The timer token of a loop's own timers ([`Cx::loop_timer`]).
const LOOP: u64 = u64::MAX - 2;
/// Timer kinds the loop keeps for itself.
const KIND_CLOSE_DEADLINE: u32 = u32::MAX;
const KIND_LISTEN_AGAIN: u32 = u32::MAX - 1;
/// Only wakes the loop (to report refusals held back).
const KIND_WAKE: u32 = u32::MAX - 2;

/// One connection of one loop: a slab index and the generation of the slot, so that an
/// id kept after its connection closed never names the next connection in that slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    index: u32,
    generation: u32,
}

impl ConnId {
    fn token(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    fn from_token(t: u64) -> ConnId {
        ConnId {
            index: t as u32,
            generation: (t >> 32) as u32,
        }
    }
}

/// A connection anywhere in the server: its loop and its id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnRef {
    pub lp: usize,
    pub id: ConnId,
}

/// The loop's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Connections served at once (all loops together); beyond it, 503.
    pub max_connections: usize,
    /// Unsent output beyond which a connection is not read until it drains.
    pub read_pause: usize,
}

/// How a connection is to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// Write what is queued, send FIN, read until the peer's FIN (at most
    /// [`CLOSE_DEADLINE`] in all), then close.
    Flush,
    /// Close now; what is queued is lost.
    Now,
}

/// Why a connection ended, for [`Service::closed`].
#[derive(Debug)]
pub enum Ended {
    /// The service asked ([`Cx::close`]), or the peer closed and the service agreed.
    Closed,
    /// Reading or writing failed (a reset, say).
    Failed(io::Error),
    /// The polite close ran out of time (the peer neither read nor closed).
    TimedOut,
}

/// Why a connection was turned away before the service saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `--max-connections` are being served: answered 503.
    Full,
    /// The process is out of file descriptors (`EMFILE`/`ENFILE`).
    NoDescriptors,
    /// An allocation for the connection failed.
    NoMemory,
    /// `accept` or `epoll_ctl` failed otherwise (the count is of failures).
    Failed,
}

impl Refusal {
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::Full => "the server is full (--max-connections): answered 503",
            Refusal::NoDescriptors => {
                "out of file descriptors (the open-file limit, `ulimit -n`): refused"
            }
            Refusal::NoMemory => "out of memory: refused",
            Refusal::Failed => "accepting failed",
        }
    }
}

/// A server on the loop: its callbacks, each given a [`Cx`] to act on the loop with.
/// One value per loop; state shared by the loops lives behind an `Arc` in it.
pub trait Service {
    /// Per-connection state.
    type Conn;
    /// What one loop posts to another ([`Cx::post`]).
    type Msg: Send + 'static;

    /// A connection was accepted.
    fn open(
        &mut self,
        cx: &mut Cx<'_, Self::Conn, Self::Msg>,
        id: ConnId,
        peer: SocketAddr,
    ) -> Self::Conn;

    /// Bytes arrived (mutable: a WebSocket payload is unmasked where it lies). What the
    /// service does not use now it must keep itself.
    fn data(
        &mut self,
        cx: &mut Cx<'_, Self::Conn, Self::Msg>,
        id: ConnId,
        conn: &mut Self::Conn,
        bytes: &mut [u8],
    );

    /// The peer sent FIN. By default the connection ends politely.
    fn eof(&mut self, cx: &mut Cx<'_, Self::Conn, Self::Msg>, id: ConnId, _conn: &mut Self::Conn) {
        cx.close(id, Close::Flush);
    }

    /// The connection is gone (its socket closed); the state is handed back.
    fn closed(
        &mut self,
        cx: &mut Cx<'_, Self::Conn, Self::Msg>,
        id: ConnId,
        conn: Self::Conn,
        how: Ended,
    );

    /// A connection's timer ([`Cx::timer`]) is due.
    fn timer(
        &mut self,
        _cx: &mut Cx<'_, Self::Conn, Self::Msg>,
        _id: ConnId,
        _conn: &mut Self::Conn,
        _kind: u32,
    ) {
    }

    /// A loop timer ([`Cx::loop_timer`]) is due.
    fn loop_timer(&mut self, _cx: &mut Cx<'_, Self::Conn, Self::Msg>, _kind: u32) {}

    /// Another loop posted `msg`.
    fn message(&mut self, _cx: &mut Cx<'_, Self::Conn, Self::Msg>, _msg: Self::Msg) {}

    /// Everything queued for the connection has been written (only after
    /// [`Cx::notify_drained`]).
    fn drained(
        &mut self,
        _cx: &mut Cx<'_, Self::Conn, Self::Msg>,
        _id: ConnId,
        _conn: &mut Self::Conn,
    ) {
    }

    /// Connections were turned away: `count` of them since the last report (at most
    /// one report a second per loop and reason).
    fn refused(&mut self, _why: Refusal, _count: u64) {}
}

// ---------------------------------------------------------------------------------------
// What the loops share.
// ---------------------------------------------------------------------------------------

/// One loop's mailbox.
struct Inbox<M> {
    queue: Mutex<Vec<M>>,
    /// Connections another loop accepted for this one (see [`Loop::accepted`]).
    handed: Mutex<Vec<(TcpStream, Slot)>>,
    waker: Waker,
    /// Set once a wake-up is on its way: posting again needs no second `write`.
    notified: AtomicBool,
    /// Connections this loop serves (handed ones included from the moment they are
    /// handed over): where the next connection goes.
    conns: AtomicUsize,
    /// The loop runs (its thread started): only then is it handed connections.
    running: AtomicBool,
}

impl<M> Inbox<M> {
    /// Wakes the loop unless a wake-up is already on its way.
    fn wake(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            self.waker.wake();
        }
    }
}

/// Shared by every loop of one server.
struct Shared<M> {
    inboxes: Vec<Inbox<M>>,
    stop: AtomicBool,
    limit: Arc<ConnLimit>,
    /// Connections open in all loops (for a report).
    open: AtomicUsize,
}

impl<M> Shared<M> {
    fn stop_all(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for i in &self.inboxes {
            i.waker.wake();
        }
    }
}

/// A handle on a running server's loops, from outside them: post a message, stop.
pub struct Handle<M> {
    shared: Arc<Shared<M>>,
}

impl<M> Clone for Handle<M> {
    fn clone(&self) -> Self {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<M: Send + 'static> Handle<M> {
    /// Number of loops.
    pub fn loops(&self) -> usize {
        self.shared.inboxes.len()
    }

    /// Queues `msg` for loop `lp` and wakes it.
    pub fn post(&self, lp: usize, msg: M) {
        post(&self.shared, lp, msg);
    }

    /// Asks every loop to stop.
    pub fn stop(&self) {
        self.shared.stop_all();
    }

    /// Connections open now, in all loops.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::Relaxed)
    }
}

fn post<M>(shared: &Shared<M>, lp: usize, msg: M) {
    let Some(inbox) = shared.inboxes.get(lp) else {
        return;
    };
    inbox
        .queue
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(msg);
    inbox.wake();
}

// ---------------------------------------------------------------------------------------
// One loop.
// ---------------------------------------------------------------------------------------

/// Where a connection stands, for the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    /// Closing politely: flushing, then (FIN sent) reading until the peer's FIN.
    Closing {
        fin_sent: bool,
    },
    /// To be closed at the end of the batch.
    Dead,
}

struct Entry<C> {
    stream: TcpStream,
    out: Vec<u8>,
    /// Bytes of `out` already written.
    sent: usize,
    interest: Interest,
    phase: Phase,
    /// None while lent to a callback, and for a refused connection.
    state: Option<C>,
    /// Not read: too much output waits.
    paused: bool,
    /// In the loop's list of connections to flush at the end of the batch.
    queued_flush: bool,
    notify_drained: bool,
    /// Why it ends, once known.
    ending: Option<Ended>,
    /// Counted against the connection limit (None: a refused connection).
    slot: Option<Slot>,
}

impl<C> Entry<C> {
    fn pending(&self) -> usize {
        self.out.len() - self.sent
    }
}

struct SlabSlot<C> {
    generation: u32,
    entry: Option<Entry<C>>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: Instant,
    seq: u64,
    token: u64,
    kind: u32,
}

/// Per-reason refusal counts, reported at most once a second.
#[derive(Default)]
struct Refusals {
    counts: [u64; 4],
    last_report: Option<Instant>,
}

/// The loop's state that callbacks act on through [`Cx`].
pub struct Core<C, M> {
    index: usize,
    poller: Poller,
    slab: Vec<SlabSlot<C>>,
    free: Vec<u32>,
    timers: BinaryHeap<Reverse<Timer>>,
    timer_seq: u64,
    /// Connections written to by a callback for another connection: flushed at the end.
    to_flush: Vec<ConnId>,
    /// Connections to close at the end of the batch.
    dead: Vec<ConnId>,
    shared: Arc<Shared<M>>,
    cfg: Config,
    now: Instant,
    refusing: usize,
    refusals: Refusals,
    listener_registered: bool,
}

/// What a callback acts on the loop with.
pub struct Cx<'a, C, M> {
    core: &'a mut Core<C, M>,
}

impl<C, M: Send + 'static> Cx<'_, C, M> {
    /// This loop's number (0 ..).
    pub fn loop_index(&self) -> usize {
        self.core.index
    }

    /// How many loops the server runs.
    pub fn loops(&self) -> usize {
        self.core.shared.inboxes.len()
    }

    /// The time the current batch of events started (one clock read per wake-up).
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// A reference to `id` that another loop can post about.
    pub fn here(&self, id: ConnId) -> ConnRef {
        ConnRef {
            lp: self.core.index,
            id,
        }
    }

    /// The connection's socket (for its addresses, `TCP_INFO`, a trace).
    pub fn stream(&self, id: ConnId) -> Option<&TcpStream> {
        self.core.entry(id).map(|e| &e.stream)
    }

    /// The connection's socket, lent for one call.
    pub fn fd(&self, id: ConnId) -> Option<BorrowedFd<'_>> {
        self.core.entry(id).map(|e| e.stream.as_fd())
    }

    /// Output queued for `id` and not yet written (0 for a connection that is gone).
    pub fn pending(&self, id: ConnId) -> usize {
        self.core.entry(id).map_or(0, Entry::pending)
    }

    /// Queues `parts` (one frame's header and payload, say) for `id`, written at the
    /// end of the batch. Nothing is queued for a closing connection. Returns false when
    /// the memory for it could not be had: the connection is then dropped.
    pub fn write(&mut self, id: ConnId, parts: &[&[u8]]) -> bool {
        let core = &mut *self.core;
        let Some(e) = core.entry_mut(id) else {
            return false;
        };
        if e.phase != Phase::Open {
            return false;
        }
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if e.sent > 0 && e.sent == e.out.len() {
            e.out.clear();
            e.sent = 0;
        }
        if e.out.try_reserve(len).is_err() {
            e.phase = Phase::Dead;
            e.ending = Some(Ended::Failed(io::Error::from(io::ErrorKind::OutOfMemory)));
            core.dead.push(id);
            core.refusals.counts[Refusal::NoMemory as usize] += 1;
            return false;
        }
        for p in parts {
            e.out.extend_from_slice(p);
        }
        if !e.queued_flush {
            e.queued_flush = true;
            core.to_flush.push(id);
        }
        true
    }

    /// Writes what is queued for `id` now rather than at the end of the batch (a trace
    /// reports a unit once it is on the wire). Returns the bytes still pending.
    pub fn flush(&mut self, id: ConnId) -> usize {
        self.core.flush(id);
        self.pending(id)
    }

    /// Calls [`Service::drained`] the next time everything queued for `id` is written.
    pub fn notify_drained(&mut self, id: ConnId) {
        if let Some(e) = self.core.entry_mut(id) {
            e.notify_drained = true;
        }
    }

    /// Ends the connection (see [`Close`]); [`Service::closed`] follows once its socket
    /// is closed.
    pub fn close(&mut self, id: ConnId, how: Close) {
        let core = &mut *self.core;
        let now = core.now;
        let Some(e) = core.entry_mut(id) else {
            return;
        };
        match (how, e.phase) {
            (_, Phase::Dead) => {}
            (Close::Now, _) => {
                e.phase = Phase::Dead;
                e.ending.get_or_insert(Ended::Closed);
                core.dead.push(id);
            }
            (Close::Flush, Phase::Open) => {
                e.phase = Phase::Closing { fin_sent: false };
                e.paused = false;
                e.ending.get_or_insert(Ended::Closed);
                if !e.queued_flush {
                    e.queued_flush = true;
                    core.to_flush.push(id);
                }
                core.add_timer(now + CLOSE_DEADLINE, id.token(), KIND_CLOSE_DEADLINE);
            }
            (Close::Flush, Phase::Closing { .. }) => {}
        }
    }

    /// Calls [`Service::timer`] for `id` with `kind` at `at` (or soon after). A timer
    /// cannot be cancelled: the service ignores one it no longer wants.
    pub fn timer(&mut self, id: ConnId, at: Instant, kind: u32) {
        self.core.add_timer(at, id.token(), kind);
    }

    /// Calls [`Service::loop_timer`] with `kind` at `at`.
    pub fn loop_timer(&mut self, at: Instant, kind: u32) {
        self.core.add_timer(at, LOOP, kind);
    }

    /// Queues `msg` for loop `lp` ([`Service::message`] there).
    pub fn post(&self, lp: usize, msg: M) {
        post(&self.core.shared, lp, msg);
    }

    /// Stops every loop: the server's `run` returns.
    pub fn stop(&self) {
        self.core.shared.stop_all();
    }
}

impl<C, M> Core<C, M> {
    fn entry(&self, id: ConnId) -> Option<&Entry<C>> {
        let s = self.slab.get(id.index as usize)?;
        (s.generation == id.generation)
            .then_some(s.entry.as_ref())
            .flatten()
    }

    fn entry_mut(&mut self, id: ConnId) -> Option<&mut Entry<C>> {
        let s = self.slab.get_mut(id.index as usize)?;
        if s.generation != id.generation {
            return None;
        }
        s.entry.as_mut()
    }

    fn add_timer(&mut self, at: Instant, token: u64, kind: u32) {
        self.timer_seq += 1;
        self.timers.push(Reverse(Timer {
            at,
            seq: self.timer_seq,
            token,
            kind,
        }));
    }

    /// Writes what `id` has queued as far as the socket takes it, then updates what the
    /// connection is watched for. A failure marks it dead.
    fn flush(&mut self, id: ConnId) {
        let read_pause = self.cfg.read_pause;
        let Some(e) = self
            .slab
            .get_mut(id.index as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.entry.as_mut())
        else {
            return;
        };
        e.queued_flush = false;
        if e.phase == Phase::Dead {
            return;
        }
        let mut failed = None;
        while e.sent < e.out.len() {
            match (&e.stream).write(&e.out[e.sent..]) {
                Ok(0) => {
                    failed = Some(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => e.sent += n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        if let Some(err) = failed {
            e.phase = Phase::Dead;
            e.ending = Some(Ended::Failed(err));
            self.dead.push(id);
            return;
        }
        let drained = e.sent == e.out.len();
        if drained {
            e.out.clear();
            e.sent = 0;
            if e.out.capacity() > KEEP_CAPACITY {
                e.out = Vec::new();
            }
        } else if e.sent >= 64 * 1024 && e.sent * 2 >= e.out.len() {
            // Most of the buffer is written: move the rest to the front, once, rather
            // than letting it grow.
            e.out.drain(..e.sent);
            e.sent = 0;
        }
        let pending = e.pending();
        if e.phase == Phase::Open {
            if pending > read_pause {
                e.paused = true;
            } else if pending <= read_pause / 2 {
                e.paused = false;
            }
        }
        if drained && let Phase::Closing { fin_sent: false } = e.phase {
            // Everything is out: FIN (RFC 9112 § 9.6: half-close, then read until
            // the peer closes, so that no reset destroys the last response).
            let _ = e.stream.shutdown(Shutdown::Write);
            e.phase = Phase::Closing { fin_sent: true };
        }
        let want = match (e.phase, pending > 0, e.paused) {
            (Phase::Open, true, true) => Interest::Write,
            (_, true, _) => Interest::ReadWrite,
            (_, false, _) => Interest::Read,
        };
        if want != e.interest {
            if self.poller.modify(&e.stream, id.token(), want).is_err() {
                e.phase = Phase::Dead;
                e.ending = Some(Ended::Failed(io::Error::last_os_error()));
                self.dead.push(id);
                return;
            }
            e.interest = want;
        }
    }
}

/// One event loop: its [`Core`] and its service.
struct Loop<S: Service> {
    core: Core<S::Conn, S::Msg>,
    service: S,
    listener: Arc<TcpListener>,
    /// A descriptor held in reserve for `EMFILE` (see the module docs).
    spare: Option<File>,
    events: Vec<Event>,
    buf: Vec<u8>,
}

fn spare_fd() -> Option<File> {
    File::open("/dev/null").ok()
}

impl<S: Service> Loop<S> {
    fn run(&mut self) {
        if let Some(inbox) = self.core.shared.inboxes.get(self.core.index) {
            inbox.running.store(true, Ordering::Release);
        }
        loop {
            if self.core.shared.stop.load(Ordering::SeqCst) {
                return;
            }
            let now = Instant::now();
            let timeout = self
                .core
                .timers
                .peek()
                .map(|Reverse(t)| t.at.saturating_duration_since(now));
            self.events.clear();
            if self.core.poller.wait(&mut self.events, timeout).is_err() {
                // Cannot happen with valid arguments; do not spin if it does.
                thread::sleep(Duration::from_millis(10));
            }
            self.core.now = Instant::now();
            let events = std::mem::take(&mut self.events);
            for ev in &events {
                match ev.token {
                    LISTENER => self.accept(),
                    WAKER => self.messages(),
                    t => self.conn_event(ConnId::from_token(t), ev),
                }
            }
            self.events = events;
            self.timers();
            self.finish_batch();
            self.report_refusals();
        }
    }

    /// Flushes what callbacks queued and closes what they ended.
    fn finish_batch(&mut self) {
        // A flush may end a connection; a close may flush: repeat until settled.
        while !self.core.to_flush.is_empty() || !self.core.dead.is_empty() {
            for id in std::mem::take(&mut self.core.to_flush) {
                // Already written if its own callback flushed it.
                if self.core.entry(id).is_some_and(|e| e.queued_flush) {
                    self.core.flush(id);
                    self.after_flush(id);
                }
            }
            for id in std::mem::take(&mut self.core.dead) {
                self.finalize(id);
            }
        }
    }

    /// Calls [`Service::drained`] if asked and everything is out.
    fn after_flush(&mut self, id: ConnId) {
        let Some(e) = self.core.entry_mut(id) else {
            return;
        };
        if !e.notify_drained || e.pending() > 0 || e.phase == Phase::Dead {
            return;
        }
        e.notify_drained = false;
        let Some(mut state) = e.state.take() else {
            return;
        };
        self.service.drained(
            &mut Cx {
                core: &mut self.core,
            },
            id,
            &mut state,
        );
        self.put_back(id, state);
    }

    /// Returns a lent state to its entry (if the entry is still there).
    fn put_back(&mut self, id: ConnId, state: S::Conn) {
        match self.core.entry_mut(id) {
            Some(e) => e.state = Some(state),
            None => drop(state),
        }
    }

    fn conn_event(&mut self, id: ConnId, ev: &Event) {
        if self.core.entry(id).is_none() {
            return;
        }
        if ev.writable {
            self.core.flush(id);
            self.after_flush(id);
        }
        if !ev.readable {
            return;
        }
        for _ in 0..READS_PER_EVENT {
            let Some(e) = self.core.entry_mut(id) else {
                return;
            };
            let discard = match e.phase {
                Phase::Dead => return,
                Phase::Open if e.paused => return,
                Phase::Open => e.state.is_none(),
                Phase::Closing { .. } => true,
            };
            let n = match (&e.stream).read(&mut self.buf) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    e.phase = Phase::Dead;
                    e.ending = Some(Ended::Failed(err));
                    self.core.dead.push(id);
                    return;
                }
            };
            if n == 0 {
                if discard {
                    // The peer's FIN after ours (or a refused client leaving): done.
                    e.phase = Phase::Dead;
                    self.core.dead.push(id);
                    return;
                }
                let Some(mut state) = e.state.take() else {
                    return;
                };
                let mut cx = Cx {
                    core: &mut self.core,
                };
                self.service.eof(&mut cx, id, &mut state);
                self.put_back(id, state);
                self.core.flush(id);
                self.after_flush(id);
                return;
            }
            if discard {
                continue;
            }
            let Some(mut state) = e.state.take() else {
                return;
            };
            let mut cx = Cx {
                core: &mut self.core,
            };
            self.service
                .data(&mut cx, id, &mut state, &mut self.buf[..n]);
            self.put_back(id, state);
            // This connection's own output goes out now, in one write.
            if self
                .core
                .entry(id)
                .is_some_and(|e| e.queued_flush && e.phase != Phase::Dead)
            {
                self.core.flush(id);
                self.after_flush(id);
            }
            if n < self.buf.len() {
                return;
            }
        }
    }

    fn messages(&mut self) {
        let shared = Arc::clone(&self.core.shared);
        let inbox = &shared.inboxes[self.core.index];
        inbox.waker.reset();
        // Cleared before the queue is taken: a post after this wakes us again.
        inbox.notified.store(false, Ordering::Release);
        let handed = std::mem::take(&mut *inbox.handed.lock().unwrap_or_else(|p| p.into_inner()));
        for (stream, slot) in handed {
            self.adopt(stream, slot);
        }
        let msgs = std::mem::take(&mut *inbox.queue.lock().unwrap_or_else(|p| p.into_inner()));
        for m in msgs {
            let mut cx = Cx {
                core: &mut self.core,
            };
            self.service.message(&mut cx, m);
        }
    }

    fn timers(&mut self) {
        let now = Instant::now();
        self.core.now = now;
        while let Some(Reverse(t)) = self.core.timers.peek() {
            if t.at > now {
                break;
            }
            let Some(Reverse(t)) = self.core.timers.pop() else {
                break;
            };
            match (t.token, t.kind) {
                (LOOP, KIND_LISTEN_AGAIN) => self.listen_again(),
                (LOOP, KIND_WAKE) => {}
                (LOOP, kind) => {
                    let mut cx = Cx {
                        core: &mut self.core,
                    };
                    self.service.loop_timer(&mut cx, kind);
                }
                (token, KIND_CLOSE_DEADLINE) => {
                    let id = ConnId::from_token(token);
                    if let Some(e) = self.core.entry_mut(id)
                        && matches!(e.phase, Phase::Closing { .. })
                    {
                        e.phase = Phase::Dead;
                        if e.state.is_some() && e.pending() > 0 {
                            e.ending = Some(Ended::TimedOut);
                        }
                        self.core.dead.push(id);
                    }
                }
                (token, kind) => {
                    let id = ConnId::from_token(token);
                    let Some(e) = self.core.entry_mut(id) else {
                        continue;
                    };
                    if e.phase == Phase::Dead {
                        continue;
                    }
                    let Some(mut state) = e.state.take() else {
                        continue;
                    };
                    let mut cx = Cx {
                        core: &mut self.core,
                    };
                    self.service.timer(&mut cx, id, &mut state, kind);
                    self.put_back(id, state);
                }
            }
        }
    }

    /// Closes the socket and hands the state back to the service.
    fn finalize(&mut self, id: ConnId) {
        let Some(slot) = self.core.slab.get_mut(id.index as usize) else {
            return;
        };
        if slot.generation != id.generation {
            return;
        }
        let Some(mut e) = slot.entry.take() else {
            return;
        };
        slot.generation = slot.generation.wrapping_add(1);
        self.core.free.push(id.index);
        // Closing the descriptor also takes it out of epoll.
        let state = e.state.take();
        let ending = e.ending.take().unwrap_or(Ended::Closed);
        if e.slot.is_some() {
            self.core.shared.open.fetch_sub(1, Ordering::Relaxed);
            self.core.shared.inboxes[self.core.index]
                .conns
                .fetch_sub(1, Ordering::Relaxed);
        } else {
            self.core.refusing = self.core.refusing.saturating_sub(1);
        }
        drop(e);
        if let Some(state) = state {
            let mut cx = Cx {
                core: &mut self.core,
            };
            self.service.closed(&mut cx, id, state, ending);
        }
    }

    fn listen_again(&mut self) {
        if !self.core.listener_registered
            && self
                .core
                .poller
                .add_exclusive(&*self.listener, LISTENER)
                .is_ok()
        {
            self.core.listener_registered = true;
        }
    }

    /// Stops watching the listening socket for a moment (accepting failed for a
    /// reason that waiting may cure): level-triggered, it would wake us at once again.
    fn back_off(&mut self) {
        if self.core.listener_registered && self.core.poller.delete(&*self.listener).is_ok() {
            self.core.listener_registered = false;
        }
        let at = Instant::now() + ACCEPT_BACKOFF;
        self.core.add_timer(at, LOOP, KIND_LISTEN_AGAIN);
    }

    fn accept(&mut self) {
        for _ in 0..ACCEPTS_PER_EVENT {
            match accept4(&self.listener) {
                Ok(stream) => self.accepted(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ECONNABORTED | libc::EPROTO | libc::EPERM)
                    ) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    self.core.refusals.counts[Refusal::NoDescriptors as usize] += 1;
                    // Give up the spare, take the connection, refuse it, take the spare
                    // back: the client learns at once, and the loop does not spin.
                    if self.spare.take().is_some() {
                        if let Ok(stream) = accept4(&self.listener) {
                            let _ = (&stream).write(BUSY);
                            drop(stream);
                        }
                        self.spare = spare_fd();
                    } else {
                        self.spare = spare_fd();
                        self.back_off();
                        return;
                    }
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOMEM | libc::ENOBUFS)) => {
                    self.core.refusals.counts[Refusal::NoMemory as usize] += 1;
                    self.back_off();
                    return;
                }
                Err(_) => {
                    self.core.refusals.counts[Refusal::Failed as usize] += 1;
                    self.back_off();
                    return;
                }
            }
        }
    }

    /// A new connection: counted, registered, handed to the service — or refused.
    ///
    /// It is served by the loop with the fewest connections, not necessarily this
    /// one: `EPOLLEXCLUSIVE` wakes the first idle loop in the listening socket's wait
    /// queue, so on a quiet server one loop would accept — and then serve — nearly
    /// every connection while the other cores idle (measured: 50 echo clients, loop 0
    /// busy, loop 1 at a tenth of it; 0.9× tokio's rate, whose tasks are balanced by
    /// work stealing). A connection handed over costs a lock and an `eventfd` write.
    fn accepted(&mut self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let Some(slot) = self.core.shared.limit.try_take() else {
            self.core.refusals.counts[Refusal::Full as usize] += 1;
            self.refuse(stream);
            return;
        };
        let shared = Arc::clone(&self.core.shared);
        let me = self.core.index;
        let mine = shared.inboxes[me].conns.load(Ordering::Relaxed);
        let fewest = shared
            .inboxes
            .iter()
            .enumerate()
            .filter(|(i, b)| *i != me && b.running.load(Ordering::Acquire))
            .map(|(i, b)| (b.conns.load(Ordering::Relaxed), i))
            .min();
        let target = &shared.inboxes[match fewest {
            Some((n, i)) if n < mine => i,
            _ => me,
        }];
        target.conns.fetch_add(1, Ordering::Relaxed);
        if std::ptr::eq(target, &shared.inboxes[me]) {
            self.adopt(stream, slot);
            return;
        }
        let mut handed = target.handed.lock().unwrap_or_else(|p| p.into_inner());
        if handed.try_reserve(1).is_err() {
            drop(handed);
            target.conns.fetch_sub(1, Ordering::Relaxed);
            shared.inboxes[me].conns.fetch_add(1, Ordering::Relaxed);
            self.adopt(stream, slot);
            return;
        }
        handed.push((stream, slot));
        drop(handed);
        target.wake();
    }

    /// Serves a connection accepted here or handed over by another loop (already
    /// counted in this loop's [`Inbox::conns`]).
    fn adopt(&mut self, stream: TcpStream, slot: Slot) {
        let counted = &self.core.shared.inboxes[self.core.index].conns;
        let peer = match stream.peer_addr() {
            Ok(p) => p,
            // Already reset by the peer: nothing to serve.
            Err(_) => {
                counted.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        };
        let Some(id) = self.insert(stream, Some(slot)) else {
            self.core.shared.inboxes[self.core.index]
                .conns
                .fetch_sub(1, Ordering::Relaxed);
            return;
        };
        self.core.shared.open.fetch_add(1, Ordering::Relaxed);
        let mut cx = Cx {
            core: &mut self.core,
        };
        let state = self.service.open(&mut cx, id, peer);
        self.put_back(id, state);
        if self.core.entry(id).is_some_and(|e| e.queued_flush) {
            self.core.flush(id);
            self.after_flush(id);
        }
    }

    /// Puts `stream` in the slab and in epoll. On failure (memory, epoll) the
    /// connection is refused with a 503 and None returned.
    fn insert(&mut self, stream: TcpStream, slot: Option<Slot>) -> Option<ConnId> {
        let index = match self.core.free.pop() {
            Some(i) => i,
            None => {
                if self.core.slab.try_reserve(1).is_err()
                    || self.core.slab.len() >= u32::MAX as usize
                {
                    self.core.refusals.counts[Refusal::NoMemory as usize] += 1;
                    let _ = (&stream).write(BUSY);
                    return None;
                }
                self.core.slab.push(SlabSlot {
                    generation: 0,
                    entry: None,
                });
                (self.core.slab.len() - 1) as u32
            }
        };
        let generation = self.core.slab[index as usize].generation;
        let id = ConnId { index, generation };
        if let Err(e) = self.core.poller.add(&stream, id.token(), Interest::Read) {
            self.core.free.push(index);
            let why = match e.raw_os_error() {
                Some(libc::ENOMEM | libc::ENOSPC) => Refusal::NoMemory,
                _ => Refusal::Failed,
            };
            self.core.refusals.counts[why as usize] += 1;
            let _ = (&stream).write(BUSY);
            return None;
        }
        self.core.slab[index as usize].entry = Some(Entry {
            stream,
            out: Vec::new(),
            sent: 0,
            interest: Interest::Read,
            phase: Phase::Open,
            state: None,
            paused: false,
            queued_flush: false,
            notify_drained: false,
            ending: None,
            slot,
        });
        Some(id)
    }

    /// `503 Service Unavailable`, FIN, and a short read of what the client sent, so that
    /// unread bytes do not turn our close into a reset that destroys the 503.
    fn refuse(&mut self, stream: TcpStream) {
        let _ = (&stream).write(BUSY);
        if self.core.refusing >= MAX_REFUSING {
            return;
        }
        let _ = stream.shutdown(Shutdown::Write);
        let Some(id) = self.insert(stream, None) else {
            return;
        };
        self.core.refusing += 1;
        if let Some(e) = self.core.entry_mut(id) {
            e.phase = Phase::Closing { fin_sent: true };
        }
        let at = self.core.now + REFUSE_LINGER;
        self.core.add_timer(at, id.token(), KIND_CLOSE_DEADLINE);
    }

    fn report_refusals(&mut self) {
        let r = &mut self.core.refusals;
        if r.counts.iter().all(|c| *c == 0) {
            return;
        }
        let now = self.core.now;
        if r.last_report
            .is_some_and(|t| now < t + Duration::from_secs(1))
        {
            // Reported within the last second: the rest waits for a later batch; make
            // sure there is one.
            let at = r.last_report.unwrap_or(now) + Duration::from_secs(1);
            if self.core.timers.peek().is_none_or(|Reverse(t)| t.at > at) {
                self.core.add_timer(at, LOOP, KIND_WAKE);
            }
            return;
        }
        r.last_report = Some(now);
        let counts = std::mem::take(&mut r.counts);
        for (why, count) in [
            Refusal::Full,
            Refusal::NoDescriptors,
            Refusal::NoMemory,
            Refusal::Failed,
        ]
        .into_iter()
        .zip(counts)
        {
            if count > 0 {
                self.service.refused(why, count);
            }
        }
    }
}

/// What a refused client gets.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// `accept4(2)` with `SOCK_NONBLOCK | SOCK_CLOEXEC`: the new socket is ready for the
/// loop in one system call.
fn accept4(listener: &TcpListener) -> io::Result<TcpStream> {
    // SAFETY: null address pointers are allowed (the peer's address is not wanted
    // here); the flags are valid.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    Ok(unsafe { TcpStream::from_raw_fd(fd) })
}

// ---------------------------------------------------------------------------------------
// Starting the loops.
// ---------------------------------------------------------------------------------------

/// How many loops to run: one per core the process may use.
pub fn default_loops() -> usize {
    thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 64)
}

/// A server being started: its loops' shared state, before they run.
pub struct Server<M> {
    shared: Arc<Shared<M>>,
    cfg: Config,
}

impl<M: Send + 'static> Server<M> {
    /// Prepares `loops` loops (at least one) sharing `cfg`'s connection limit.
    pub fn new(loops: usize, cfg: Config) -> io::Result<Server<M>> {
        let mut inboxes = Vec::with_capacity(loops.max(1));
        for _ in 0..loops.max(1) {
            inboxes.push(Inbox {
                queue: Mutex::new(Vec::new()),
                handed: Mutex::new(Vec::new()),
                waker: Waker::new()?,
                notified: AtomicBool::new(false),
                conns: AtomicUsize::new(0),
                running: AtomicBool::new(false),
            });
        }
        Ok(Server {
            shared: Arc::new(Shared {
                inboxes,
                stop: AtomicBool::new(false),
                limit: ConnLimit::new(cfg.max_connections),
                open: AtomicUsize::new(0),
            }),
            cfg,
        })
    }

    /// A handle to post to the loops or stop them, from anywhere.
    pub fn handle(&self) -> Handle<M> {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Runs one loop per service on `listener` (set non-blocking here): loop 0 in the
    /// calling thread, the others in threads of their own. Returns when a service
    /// calls [`Cx::stop`] (or [`Handle::stop`]). A loop whose thread cannot be
    /// started is not run: its service is dropped, and the others carry on.
    pub fn run<S>(self, listener: TcpListener, services: Vec<S>) -> io::Result<()>
    where
        S: Service<Msg = M> + Send + 'static,
        S::Conn: Send,
    {
        listener.set_nonblocking(true)?;
        let listener = Arc::new(listener);
        let mut loops = Vec::with_capacity(services.len());
        for (index, service) in services.into_iter().enumerate() {
            loops.push(self.make_loop(index, service, Arc::clone(&listener))?);
        }
        let mut first = loops.remove(0);
        let mut threads = Vec::new();
        for mut lp in loops {
            let spawned = thread::Builder::new()
                .name(format!("event-loop-{}", lp.core.index))
                .spawn(move || lp.run());
            match spawned {
                Ok(t) => threads.push(t),
                // Without it, that loop's share of connections goes to the others.
                Err(_) => self.shared.inboxes[0].waker.wake(),
            }
        }
        first.run();
        self.shared.stop_all();
        for t in threads {
            let _ = t.join();
        }
        Ok(())
    }

    fn make_loop<S: Service<Msg = M>>(
        &self,
        index: usize,
        service: S,
        listener: Arc<TcpListener>,
    ) -> io::Result<Loop<S>> {
        let poller = Poller::new()?;
        poller.add_exclusive(&*listener, LISTENER)?;
        if let Some(inbox) = self.shared.inboxes.get(index) {
            poller.add(&inbox.waker, WAKER, Interest::Read)?;
        }
        Ok(Loop {
            core: Core {
                index,
                poller,
                slab: Vec::new(),
                free: Vec::new(),
                timers: BinaryHeap::new(),
                timer_seq: 0,
                to_flush: Vec::new(),
                dead: Vec::new(),
                shared: Arc::clone(&self.shared),
                cfg: self.cfg.clone(),
                now: Instant::now(),
                refusing: 0,
                refusals: Refusals::default(),
                listener_registered: true,
            },
            service,
            listener,
            spare: spare_fd(),
            events: Vec::with_capacity(256),
            buf: vec![0u8; READ_BUF],
        })
    }
}

// ---------------------------------------------------------------------------------------
// The open-file limit.
// ---------------------------------------------------------------------------------------

/// The process's open-file limit after raising its soft value to the hard one (as
/// nginx's `worker_rlimit_nofile` and most servers do: the soft limit is a default for
/// ordinary programs, the hard one what this user may use). Returns (soft, hard).
pub fn raise_open_file_limit() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return (1024, 1024);
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads one valid rlimit. Raising the soft limit up to the
        // hard one needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    // `rlim_t` is 32 bits wide on some 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    (lim.rlim_cur as u64, lim.rlim_max as u64)
}

/// The default `--max-connections` for an open-file limit: one descriptor per
/// connection, less [`RESERVED_FDS`] for the server itself.
pub fn connections_for(open_files: u64) -> usize {
    usize::try_from(open_files.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    /// An echo service that counts what happens, to drive the loop in a test.
    struct Echo {
        closed: Arc<AtomicUsize>,
    }

    impl Service for Echo {
        type Conn = ();
        type Msg = ();

        fn open(&mut self, _cx: &mut Cx<'_, (), ()>, _id: ConnId, _peer: SocketAddr) {}

        fn data(&mut self, cx: &mut Cx<'_, (), ()>, id: ConnId, _c: &mut (), bytes: &mut [u8]) {
            if bytes.starts_with(b"bye") {
                cx.write(id, &[b"ciao"]);
                cx.close(id, Close::Flush);
            } else {
                cx.write(id, &[bytes]);
            }
        }

        fn closed(&mut self, _cx: &mut Cx<'_, (), ()>, _id: ConnId, _c: (), _how: Ended) {
            self.closed.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn start(max: usize) -> (SocketAddr, Handle<()>, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let closed = Arc::new(AtomicUsize::new(0));
        let server = Server::new(
            2,
            Config {
                max_connections: max,
                read_pause: 1 << 20,
            },
        )
        .unwrap();
        let handle = server.handle();
        let services = vec![
            Echo {
                closed: Arc::clone(&closed),
            },
            Echo {
                closed: Arc::clone(&closed),
            },
        ];
        thread::spawn(move || server.run(listener, services));
        (addr, handle, closed)
    }

    #[test]
    fn echoes_on_two_loops_closes_politely_and_refuses_past_the_limit() {
        let (addr, handle, closed) = start(3);
        let mut clients: Vec<TcpStream> = (0..3)
            .map(|_| {
                let c = TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                c
            })
            .collect();
        for (i, c) in clients.iter_mut().enumerate() {
            let msg = format!("hello {i}");
            c.write_all(msg.as_bytes()).unwrap();
            let mut got = vec![0u8; msg.len()];
            c.read_exact(&mut got).unwrap();
            assert_eq!(got, msg.as_bytes());
        }
        // The fourth is one too many: 503.
        let mut extra = TcpStream::connect(addr).unwrap();
        extra
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = String::new();
        extra.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
        // A polite close: the last words, then EOF.
        clients[0].write_all(b"bye").unwrap();
        let mut rest = String::new();
        clients[0].read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "ciao");
        drop(clients);
        let deadline = Instant::now() + Duration::from_secs(5);
        while closed.load(Ordering::SeqCst) < 3 {
            assert!(Instant::now() < deadline, "connections not closed");
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(handle.open_connections(), 0);
        handle.stop();
    }

    #[test]
    fn connections_are_spread_over_the_loops() {
        let (addr, handle, _) = start(100);
        // A loop takes connections once its thread runs (on a busy machine the second
        // may not have been scheduled yet when the first accepts).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !handle
            .shared
            .inboxes
            .iter()
            .all(|b| b.running.load(Ordering::Acquire))
        {
            assert!(Instant::now() < deadline, "the loops did not start");
            thread::sleep(Duration::from_millis(5));
        }
        // One after the other, as a quiet server sees them: EPOLLEXCLUSIVE alone
        // would give (nearly) all of them to one loop.
        let clients: Vec<TcpStream> = (0..10)
            .map(|i| {
                let mut c = TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let msg = format!("n{i}");
                c.write_all(msg.as_bytes()).unwrap();
                let mut got = vec![0u8; msg.len()];
                c.read_exact(&mut got).unwrap();
                c
            })
            .collect();
        let per_loop: Vec<usize> = handle
            .shared
            .inboxes
            .iter()
            .map(|b| b.conns.load(Ordering::SeqCst))
            .collect();
        assert_eq!(per_loop.iter().sum::<usize>(), 10, "{per_loop:?}");
        assert!(per_loop.iter().all(|n| *n >= 4), "{per_loop:?}");
        drop(clients);
        handle.stop();
    }

    #[test]
    fn a_client_that_does_not_read_is_not_read_either() {
        let (addr, handle, _) = start(10);
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_write_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        // Write until our own send buffer is full: the server stopped reading once
        // its unsent echo passed 1 MiB, so the kernel's buffers fill up and block us.
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0usize;
        while c.write_all(&chunk).is_ok() {
            sent += chunk.len();
            assert!(sent < 256 << 20, "the server kept reading without bound");
        }
        handle.stop();
    }

    #[test]
    fn the_open_file_limit_is_raised_to_its_hard_value() {
        let (soft, hard) = raise_open_file_limit();
        assert_eq!(soft, hard);
        assert!(connections_for(soft) >= 1);
        assert_eq!(connections_for(1064), 1000);
    }
}
