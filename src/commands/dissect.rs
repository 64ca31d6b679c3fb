//! `netlab dissect FILE`: read a capture, dissect each frame, print it.

use std::fs::File;
use std::io::{self, BufReader, Read};

use anyhow::{Context, Result, bail};

use crate::capture::{ReadError, Reader};
use crate::cli::DissectArgs;
use crate::dissect::Meta;
use crate::dissect::stats::Stats;
use crate::render::printer::{Printer, View};
use crate::render::{self, Output};

/// What the run ended with, for the exit status.
pub enum Outcome {
    Complete,
    /// The capture was cut short; every complete packet was shown.
    CutShort,
}

pub fn run(args: &DissectArgs, out: &Output) -> Result<Outcome> {
    let name = args.file.display().to_string();
    let src: Box<dyn Read> = if name == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(&args.file).with_context(|| format!("cannot open {name}"))?)
    };
    let src = BufReader::with_capacity(1 << 20, src);
    let view = View {
        verbose: args.verbose,
        hex: args.hex,
        json: args.json,
    };
    let mut printer = Printer::new(view, args.filter.as_deref(), out.style, args.stats)?;
    for rule in &args.decode_as {
        printer.decode_as(rule)?;
    }
    let mut reader = match Reader::new(src) {
        Ok(r) => r,
        Err(ReadError::Io(e)) => return Err(e).with_context(|| format!("cannot read {name}")),
        Err(e) => bail!("{name} {e}"),
    };
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
        let meta = Meta {
            number,
            ts_sec: rec.ts_sec,
            ts_nsec: rec.ts_nsec,
            len: rec.len,
            interface: rec.interface,
            linktype: rec.linktype,
        };
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
