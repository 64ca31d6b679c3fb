//! `netlab dissect FILE`: read a capture, dissect each frame, print it.

use std::fs::File;
use std::io::{self, BufReader, Read};

use anyhow::{Context, Result, bail};

use crate::capture::{ReadError, Reader, Record};
use crate::cli::DissectArgs;
use crate::dissect::stats::Stats;
use crate::dissect::{Dissector, Meta};
use crate::render::printer::{Printer, View};
use crate::render::{self, Output};

/// What the run ended with, for the exit status.
pub enum Outcome {
    Complete,
    /// The capture was cut short; every complete packet was shown.
    CutShort,
}

/// A capture read from a file or standard input.
type Capture = Reader<BufReader<Box<dyn Read>>>;

/// The capture named on the command line (`-` for standard input), and its name.
fn open(args: &DissectArgs) -> Result<(String, Capture)> {
    let name = args.file.display().to_string();
    let src: Box<dyn Read> = if name == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(&args.file).with_context(|| format!("cannot open {name}"))?)
    };
    let src = BufReader::with_capacity(1 << 20, src);
    match Reader::new(src) {
        Ok(r) => Ok((name, r)),
        Err(ReadError::Io(e)) => Err(e).with_context(|| format!("cannot read {name}")),
        Err(e) => bail!("{name} {e}"),
    }
}

/// Packet `number` (counted from 1, as Wireshark does) and what the dissector needs to
/// know of its record.
fn meta(number: u64, rec: &Record) -> Meta {
    Meta {
        number,
        ts_sec: rec.ts_sec,
        ts_nsec: rec.ts_nsec,
        len: rec.len,
        interface: rec.interface,
        linktype: rec.linktype,
    }
}

/// A dissector that builds no fields (for `-2`'s first pass, `--follow` and the packets
/// before `--onion`'s), with the command's `--decode-as` rules.
fn quiet_dissector(args: &DissectArgs) -> Result<Dissector> {
    let mut d = Dissector::new();
    d.record = false;
    d.detail = false;
    for rule in &args.decode_as {
        d.decode_as(rule)
            .map_err(|e| anyhow::anyhow!("--decode-as {rule}: {e}"))?;
    }
    Ok(d)
}

pub fn run(args: &DissectArgs, out: &Output) -> Result<Outcome> {
    if let Some(spec) = &args.follow {
        return follow(args, spec, out);
    }
    if let Some(n) = args.onion {
        return onion(args, n, out);
    }
    let view = View {
        verbose: args.verbose,
        hex: args.hex,
        json: args.json,
    };
    let mut printer = Printer::new(view, args.filter.as_deref(), out.style, args.stats)?;
    for rule in &args.decode_as {
        printer.decode_as(rule)?;
    }
    if args.two_pass {
        let links = first_pass(args)?;
        printer.links(links);
    }
    let (name, mut reader) = open(args)?;
    let mut stats = Stats::default();
    let mut number = 0u64;
    let mut shown = 0u64;
    let mut outcome = Outcome::Complete;
    loop {
        if args.count.is_some_and(|c| shown >= c) {
            break;
        }
        let rec = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                printer.flush(out, true)?;
                match e {
                    ReadError::Io(e) => {
                        return Err(e).with_context(|| format!("cannot read {name}"));
                    }
                    e => {
                        out.warn(format_args!(
                            "{name}: {e}; {number} packets were read before it"
                        ));
                        outcome = Outcome::CutShort;
                        break;
                    }
                }
            }
        };
        number += 1;
        let meta = meta(number, &rec);
        if !printer.dissect(meta, rec.data) {
            continue;
        }
        shown += 1;
        if args.stats {
            stats.add(printer.packet());
            continue;
        }
        printer.render();
        printer.flush(out, false)?;
    }
    if args.stats {
        render::stats::write(printer.buffer(), &stats);
    }
    printer.flush(out, true)?;
    let cut = printer.reassembly_overflows();
    if cut > 0 {
        out.warn(format_args!(
            "{cut} application messages were larger than netlab's reassembly buffers and are shown cut (see the [incomplete: …] marks)"
        ));
    }
    let evicted = printer.evicted_fragments();
    if evicted > 0 {
        out.warn(format_args!(
            "{evicted} incomplete fragmented datagrams were dropped to bound memory"
        ));
    }
    Ok(outcome)
}

/// `-2`, the first pass: the whole capture dissected without fields, to learn the links
/// the second pass shows (see `dissect::Links`). A capture cut short is read up to the
/// cut; the second pass reports it.
fn first_pass(args: &DissectArgs) -> Result<crate::dissect::Links> {
    if args.file.as_os_str() == "-" {
        bail!(
            "-2 reads the capture twice, so it needs a file: standard input can be read only once (save it with `tcpdump -w FILE` first)"
        );
    }
    let (name, mut reader) = open(args)?;
    let mut d = quiet_dissector(args)?;
    d.links = Some(crate::dissect::Links {
        learning: true,
        ..Default::default()
    });
    let mut pkt = crate::dissect::Packet::default();
    let mut number = 0u64;
    loop {
        let rec = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(ReadError::Io(e)) => return Err(e).with_context(|| format!("cannot read {name}")),
            Err(_) => break,
        };
        number += 1;
        let meta = meta(number, &rec);
        d.dissect(meta, rec.data, &mut pkt);
    }
    let mut links = d.links.take().expect("set above");
    links.learning = false;
    Ok(links)
}

/// `--follow`: one stream's bytes, as each side sent them (see `render::follow`).
fn follow(args: &DissectArgs, spec: &str, out: &Output) -> Result<Outcome> {
    use crate::cli::{FollowFormat, FollowSide};
    use crate::dissect::follow::{Event, Follow, Target};
    use crate::render::follow::{self as show, Format};
    let target = Target::parse(spec).map_err(|e| anyhow::anyhow!("--follow {spec}: {e}"))?;
    let (name, mut reader) = open(args)?;
    let mut d = quiet_dissector(args)?;
    d.follow = Some(Follow::new(target));
    let format = match args.follow_format {
        FollowFormat::Ascii => Some(Format::Ascii),
        FollowFormat::Hex => Some(Format::Hex),
        FollowFormat::Raw => None,
    };
    let raw_node = usize::from(args.follow_side == FollowSide::Server);
    let style = out.style;
    let mut buf = String::new();
    let mut pkt = crate::dissect::Packet::default();
    let mut offsets = [0u64; 2];
    let mut headed = false;
    let mut number = 0u64;
    let mut outcome = Outcome::Complete;
    // Writes the events collected so far.
    let mut drain = |f: &mut Follow, buf: &mut String, headed: &mut bool| -> Result<()> {
        let events = std::mem::take(&mut f.events);
        match format {
            Some(format) => {
                if !*headed && f.nodes.is_some() {
                    show::header(buf, f, format, style);
                    *headed = true;
                }
                for e in &events {
                    show::event(buf, f, e, format, &mut offsets, style);
                }
                out.bytes(buf.as_bytes())?;
                buf.clear();
            }
            None => {
                for e in &events {
                    if let Event::Data { node, bytes, .. } = e
                        && *node == raw_node
                    {
                        out.bytes(bytes)?;
                    }
                }
            }
        }
        Ok(())
    };
    loop {
        let rec = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(ReadError::Io(e)) => return Err(e).with_context(|| format!("cannot read {name}")),
            Err(e) => {
                out.warn(format_args!(
                    "{name}: {e}; {number} packets were read before it"
                ));
                outcome = Outcome::CutShort;
                break;
            }
        };
        number += 1;
        let meta = meta(number, &rec);
        d.dissect(meta, rec.data, &mut pkt);
        let f = d.follow.as_mut().expect("set above");
        if !f.events.is_empty() {
            drain(f, &mut buf, &mut headed)?;
        }
    }
    let mut f = d.follow.take().expect("set above");
    f.finish();
    drain(&mut f, &mut buf, &mut headed)?;
    if f.frames == 0 {
        let (kind, n) = match target {
            Target::Tcp(n) => ("TCP", n),
            Target::Udp(n) => ("UDP", n),
        };
        bail!(
            "{name} has no {kind} stream {n} (streams are numbered from 0 in order of appearance; `netlab dissect --stats` lists them)"
        );
    }
    let mut counts = String::new();
    show::summary(&mut counts, &f);
    if format.is_some() {
        if !headed {
            show::header(&mut counts, &f, Format::Ascii, style);
        }
        out.bytes(counts.as_bytes())?;
    } else {
        // Raw bytes go to standard output untouched; the counts to standard error.
        out.status(counts.trim_end());
    }
    Ok(outcome)
}

/// `--onion N`: packet N drawn as nested layers (see `render::packet_onion`). Every
/// packet before it is dissected too (without fields), so that streams, reassembly and
/// the analysis see what they would in the packet list.
fn onion(args: &DissectArgs, n: u64, out: &Output) -> Result<Outcome> {
    use crate::render::packet_onion;
    let (name, mut reader) = open(args)?;
    let mut d = quiet_dissector(args)?;
    let mut pkt = crate::dissect::Packet::default();
    let mut number = 0u64;
    loop {
        let rec = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(ReadError::Io(e)) => return Err(e).with_context(|| format!("cannot read {name}")),
            Err(e) => bail!(
                "{name}: {e}; {number} packets were read before it, packet {n} is not among them"
            ),
        };
        number += 1;
        let meta = meta(number, &rec);
        if number < n {
            d.dissect(meta, rec.data, &mut pkt);
            continue;
        }
        d.record = true;
        d.detail = true;
        d.dissect(meta, rec.data, &mut pkt);
        let text = packet_onion::render(&packet_onion::model(&pkt), out.style);
        out.bytes(text.as_bytes())?;
        return Ok(Outcome::Complete);
    }
    bail!("{name} has {number} packets: there is no packet {n} (packets are numbered from 1)")
}
