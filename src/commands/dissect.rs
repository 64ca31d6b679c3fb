//! `netlab dissect FILE`: read a capture, dissect each frame, print it.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};

use anyhow::{Context, Result, bail};

use crate::capture::{ReadError, Reader};
use crate::cli::DissectArgs;
use crate::dissect::filter::Filter;
use crate::dissect::stats::Stats;
use crate::dissect::{Dissector, Meta, Packet};
use crate::render::{self, Style, json::JsonWriter};

/// What the run ended with, for the exit status.
pub enum Outcome {
    Complete,
    /// The capture was cut short; every complete packet was shown.
    CutShort,
}

/// Flush the output buffer once it holds this much.
const FLUSH_AT: usize = 64 * 1024;

pub fn run(args: &DissectArgs, style: Style) -> Result<Outcome> {
    let name = args.file.display().to_string();
    let src: Box<dyn Read> = if name == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(&args.file).with_context(|| format!("cannot open {name}"))?)
    };
    let src = BufReader::with_capacity(1 << 20, src);
    let filter = match &args.filter {
        Some(f) => Some(Filter::parse(f).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let mut reader = match Reader::new(src) {
        Ok(r) => r,
        Err(ReadError::Io(e)) => return Err(e).with_context(|| format!("cannot read {name}")),
        Err(e) => bail!("{name} {e}"),
    };
    let stdout = io::stdout();
    let mut sink = stdout.lock();
    let mut buf = String::with_capacity(FLUSH_AT * 2);
    let mut dissector = Dissector::new();
    dissector.detail = args.verbose;
    dissector.record = args.verbose || args.hex || args.json || args.stats || filter.is_some();
    let mut json = JsonWriter::default();
    let mut stats = Stats::default();
    let mut pkt = Packet::default();
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
                sink.write_all(buf.as_bytes())?;
                buf.clear();
                sink.flush()?;
                match e {
                    ReadError::Io(e) => {
                        return Err(e).with_context(|| format!("cannot read {name}"));
                    }
                    e => {
                        eprintln!(
                            "netlab: warning: {name}: {e}; {number} packets were read before it"
                        );
                        outcome = Outcome::CutShort;
                        break;
                    }
                }
            }
        };
        number += 1;
        let meta = Meta {
            number,
            ts_sec: rec.ts_sec,
            ts_nsec: rec.ts_nsec,
            len: rec.len,
            interface: rec.interface,
            linktype: rec.linktype,
        };
        dissector.dissect(meta, rec.data, &mut pkt);
        if filter.as_ref().is_some_and(|f| !f.matches(&pkt)) {
            continue;
        }
        shown += 1;
        if args.stats {
            stats.add(&pkt);
            continue;
        }
        if args.json {
            json.write(&mut buf, &pkt);
        } else {
            if args.verbose {
                render::tree::write(&mut buf, &pkt, style);
            } else {
                render::summary::write(&mut buf, &pkt, style);
            }
            if args.hex {
                render::hex::write(&mut buf, &pkt, style);
            }
        }
        if buf.len() >= FLUSH_AT {
            sink.write_all(buf.as_bytes())?;
            buf.clear();
        }
    }
    if args.stats {
        render::stats::write(&mut buf, &stats);
    }
    sink.write_all(buf.as_bytes())?;
    sink.flush()?;
    let evicted = dissector.evicted_fragments();
    if evicted > 0 {
        eprintln!(
            "netlab: warning: {evicted} incomplete fragmented datagrams were dropped to bound memory"
        );
    }
    Ok(outcome)
}
