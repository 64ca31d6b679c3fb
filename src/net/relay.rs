//! netlab as the wire: a thread that carries every IP packet between the two namespaces
//! of a [`WirePair`] through a [`Link`] (delay, loss, reordering, a bottleneck).
//!
//! The thread reads a packet from either TUN device, offers it to the link with the time
//! it came, and writes whatever falls due into the other device. The link decides; this
//! module only moves bytes and keeps the clock. `netlab race`, `netlab congestion` and
//! `netlab nagle` all run their wire here.
//!
//! Contract: I/O (the TUN devices) and a clock; the decisions are [`crate::wiremodel`]'s.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::capture::Writer;
use crate::net::wire_pair::{Side, WirePair};
use crate::wiremodel::{Dir, Fate, Link};

/// Called with every packet the wire delivers, and when: e.g. to save a pcap file.
pub type Tap = Box<dyn FnMut(Duration, &[u8]) -> io::Result<()> + Send>;

/// The `-w FILE.pcap` of the commands that run their wire here: every packet the wire
/// delivers, stamped with the wall clock, as LINKTYPE_RAW (the TUN devices carry bare IP
/// packets). Dropped packets are not in it: Wireshark then marks the gaps they leave.
#[derive(Clone)]
pub struct PcapFile(Arc<Mutex<Writer<BufWriter<File>>>>);

impl PcapFile {
    /// Creates the file and writes its header (before any namespace is made, so that a
    /// bad path is reported first).
    pub fn create(path: &Path) -> io::Result<PcapFile> {
        let w = Writer::new(BufWriter::new(File::create(path)?), 101)?;
        Ok(PcapFile(Arc::new(Mutex::new(w))))
    }

    /// The relay's tap that writes into this file.
    pub fn tap(&self) -> Tap {
        let w = Arc::clone(&self.0);
        Box::new(move |_, packet: &[u8]| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
            w.write_packet(t.as_secs() as u32, t.subsec_micros(), packet)
        })
    }

    /// Writes out what is buffered.
    pub fn flush(&self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

/// One packet as the wire saw it, when [`Relay::spawn`] was asked to keep a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// When it was offered, since the relay's start.
    pub at: Duration,
    pub dir: Dir,
    pub fate: Fate,
    /// Its first bytes (IP and TCP headers), enough to say what it was.
    pub head: Vec<u8>,
}

/// What the wire did, handed back when it stops.
pub struct Report {
    pub link: Link<Vec<u8>>,
    /// Every packet offered, in order (empty unless a log was asked for).
    pub log: Vec<Seen>,
}

/// The running wire.
pub struct Relay {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<io::Result<Report>>,
}

impl Relay {
    /// Starts carrying packets. Packets from `forward_from`'s kernel travel the link's
    /// forward direction. Times count from `start`. With `log`, every packet's fate and
    /// headers are kept for [`Report::log`].
    pub fn spawn(
        pair: WirePair,
        link: Link<Vec<u8>>,
        forward_from: Side,
        start: Instant,
        log: bool,
        tap: Option<Tap>,
    ) -> Relay {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle =
            std::thread::spawn(move || run(pair, link, forward_from, start, log, tap, &flag));
        Relay { stop, handle }
    }

    /// Stops the wire and returns what it did.
    pub fn finish(self) -> io::Result<Report> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .join()
            .map_err(|_| io::Error::other("the wire thread panicked"))?
    }
}

fn run(
    mut pair: WirePair,
    mut link: Link<Vec<u8>>,
    forward_from: Side,
    start: Instant,
    keep_log: bool,
    mut tap: Option<Tap>,
    stop: &AtomicBool,
) -> io::Result<Report> {
    let dir_of = |from: Side| {
        if from == forward_from {
            Dir::Forward
        } else {
            Dir::Backward
        }
    };
    let side_to = |dir: Dir| {
        if dir == Dir::Forward {
            forward_from.other()
        } else {
            forward_from
        }
    };
    let mut buf = vec![0u8; 65536];
    let mut log = Vec::new();
    let mut tap_error = None;
    while !stop.load(Ordering::Relaxed) {
        let now = start.elapsed();
        while let Some(d) = link.pop_due(now) {
            // A write into a TUN device fails only if the device is gone; the command's
            // own deadlines then end the run.
            let _ = pair.deliver(side_to(d.dir), &d.packet);
            if let Some(t) = &mut tap
                && tap_error.is_none()
                && let Err(e) = t(now, &d.packet)
            {
                tap_error = Some(e);
            }
        }
        let wait = link
            .next_due()
            .map_or(Duration::from_millis(10), |t| t.saturating_sub(now))
            .min(Duration::from_millis(10));
        match pair.recv(&mut buf, wait) {
            Ok(Some((from, n))) => {
                let at = start.elapsed();
                let dir = dir_of(from);
                let head = keep_log.then(|| buf[..n.min(80)].to_vec());
                let fate = link.offer(at, dir, buf[..n].to_vec());
                if let Some(head) = head {
                    log.push(Seen {
                        at,
                        dir,
                        fate,
                        head,
                    });
                }
            }
            Ok(None) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    if let Some(e) = tap_error {
        return Err(e);
    }
    Ok(Report { link, log })
}
