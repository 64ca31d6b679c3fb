//! `netlab capture`: live packets from one interface (pnet's `AF_PACKET` channel, see
//! `net::sniff`), each through the same dissector, display filter and renderers as
//! `netlab dissect` (`commands::printer`), optionally saved to a pcap file.
//!
//! Ctrl-C (or SIGTERM) sets a flag; the read loop wakes every 100 ms to look at it, so
//! the capture ends cleanly: the pcap is flushed, the count is printed, exit status 0.
//!
//! `-- CMD`: netlab first moves into a private network namespace with only `lo` (through
//! a user namespace without root, `net::sandbox::private_lo`), opens the capture there,
//! then starts CMD in it (`net::guest`). The capture ends when CMD has ended and the
//! packets still queued are shown; netlab exits with CMD's status, as `unshare` or
//! `strace` do.

use std::fs::File;
use std::io::{self, BufWriter};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};

use crate::capture::Writer;
use crate::cli::CaptureArgs;
use crate::commands::printer::{Printer, View};
use crate::dissect::Meta;
use crate::net::guest::{self, Guest};
use crate::net::raw::{catch_interrupts, interrupted};
use crate::net::sandbox::{self, Identity};
use crate::net::sniff::Sniffer;
use crate::render::Style;

/// How long one wait for a frame lasts before the loop looks at the Ctrl-C flag.
const POLL: Duration = Duration::from_millis(100);
/// After CMD has ended, how long packets still queued are read at most (the loop stops
/// earlier, at the first [`POLL`] without one).
const DRAIN: Duration = Duration::from_secs(2);

/// Over SSH, every line netlab prints is itself sent as packets of the SSH connection;
/// capturing those would print more lines, which make more packets: an echo loop. The
/// session's own connection (from `SSH_CONNECTION`: client address and port, server
/// address and port) is left out, as a filter.
fn ssh_exclusion(interface: &str) -> Option<String> {
    if interface == "lo" {
        return None;
    }
    let conn = std::env::var("SSH_CONNECTION").ok()?;
    let parts: Vec<&str> = conn.split_whitespace().collect();
    let (client, server) = (
        parts.get(1)?.parse::<u16>().ok()?,
        parts.get(3)?.parse::<u16>().ok()?,
    );
    Some(format!("!(tcp.port == {client} && tcp.port == {server})"))
}

pub fn run(args: &CaptureArgs, style: Style) -> Result<ExitCode> {
    let view = View {
        verbose: args.verbose,
        hex: args.hex,
        json: args.json,
    };
    let command = (!args.command.is_empty()).then_some(&args.command);
    // The filter is read first: a typo is reported before any privilege is needed.
    let exclusion = match command {
        Some(_) => None,
        None => ssh_exclusion(&args.interface),
    };
    let filter = match (&args.filter, &exclusion) {
        (Some(f), Some(x)) => {
            // Checked alone first, so that an error's column refers to what the user typed.
            Printer::new(view, Some(f), style, false)?;
            Some(format!("({f}) && {x}"))
        }
        (Some(f), None) => Some(f.clone()),
        (None, x) => x.clone(),
    };
    let mut printer = Printer::new(view, filter.as_deref(), style, false)?;
    if command.is_some() {
        // Before anything else, while netlab has a single thread (a user namespace
        // requires it): the private namespace, whose lo is all CMD will see.
        sandbox::private_lo(Identity::Caller)
            .map_err(|e| anyhow!(e.explain("capture -- CMD", false)))?;
        guest::catch_signals();
    } else {
        catch_interrupts();
    }
    let mut sniffer = Sniffer::open(&args.interface, POLL)?;
    let mut pcap = match &args.write {
        Some(path) => {
            let f =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            Some(Writer::new(BufWriter::new(f), sniffer.linktype)?)
        }
        None => None,
    };
    let link = sniffer.linktype;
    let linktype = match link {
        1 => "Ethernet",
        101 => "raw IP",
        _ => "?",
    };
    let program = command.map(|c| {
        let p = std::path::Path::new(&c[0]);
        p.file_name()
            .unwrap_or(p.as_os_str())
            .to_string_lossy()
            .into_owned()
    });
    let mut guest = match command {
        Some(argv) => match Guest::spawn(argv) {
            Ok(g) => Some(g),
            Err(e) => {
                eprintln!("netlab: error: {e}");
                return Ok(ExitCode::from(e.status() as u8));
            }
        },
        None => None,
    };
    match &program {
        Some(p) => eprintln!(
            "netlab: capturing on lo (link type {linktype}) of a private network namespace where \
             `{p}` runs and sees no other network; the capture ends with it"
        ),
        None => eprintln!(
            "netlab: capturing on {} (link type {linktype}){}; Ctrl-C stops",
            sniffer.name,
            if exclusion.is_some() {
                ", leaving out this SSH session's own packets"
            } else {
                ""
            }
        ),
    }
    let stdout = io::stdout();
    let mut sink = stdout.lock();
    let mut seen = 0u64;
    let mut shown = 0u64;
    // Set when CMD has ended: the packets still queued are read until then.
    let mut drain_until: Option<Instant> = None;
    while args.count.is_none_or(|c| shown < c) {
        if guest.is_none() && interrupted() {
            break;
        }
        let ended = guest.as_mut().is_some_and(|g| g.poll().is_some());
        if ended && drain_until.is_none() {
            drain_until = Some(Instant::now() + DRAIN);
        }
        if drain_until.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let Some(frame) = sniffer.next_frame().context("reading packets")? else {
            if drain_until.is_some() {
                break;
            }
            continue;
        };
        seen += 1;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // Microseconds, as the pcap file keeps them: the screen and the file agree.
        let meta = Meta {
            number: seen,
            ts_sec: now.as_secs() as i64,
            ts_nsec: now.subsec_micros() * 1000,
            len: frame.len() as u32,
            interface: 0,
            linktype: link,
        };
        if !printer.dissect(meta, frame) {
            continue;
        }
        shown += 1;
        if let Some(w) = &mut pcap {
            w.write_packet(now.as_secs() as u32, now.subsec_micros(), frame)
                .and_then(|()| w.flush())
                .context("writing the pcap file")?;
        }
        printer.render();
        printer.flush(&mut sink, true)?;
    }
    if let Some(mut w) = pcap {
        w.flush().context("writing the pcap file")?;
    }
    let plural = if shown == 1 { "" } else { "s" };
    if seen == shown {
        eprintln!("{shown} packet{plural} captured");
    } else {
        eprintln!(
            "{shown} packet{plural} captured ({seen} seen on {}, {} left out by the filter)",
            sniffer.name,
            seen - shown
        );
    }
    let (Some(g), Some(p)) = (&mut guest, &program) else {
        return Ok(ExitCode::SUCCESS);
    };
    // Still running: -c was reached. Ask it to end (and end it after the grace).
    let ended_by_count = g.poll().is_none();
    if ended_by_count {
        g.stop();
    }
    let exit = g.wait();
    if ended_by_count {
        eprintln!("netlab: ended `{p}` after {shown} packet{plural} (-c)");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("netlab: `{p}` {exit}");
    Ok(ExitCode::from(exit.status().clamp(0, 255) as u8))
}
