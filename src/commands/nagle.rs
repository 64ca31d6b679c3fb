//! `netlab nagle`: latency TCP adds on purpose — Nagle's algorithm meeting the delayed ACK
//! — measured over netlab's wire, one round explained segment by segment.
//!
//! Glue: the arguments become a [`net::rounds::RoundsPlan`] (the namespaces, the wire
//! and the rounds live there); this file prints the table, the annotated rounds and the
//! chart, or one JSON object.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use crate::cli::NagleArgs;
use crate::net::relay::PcapFile;
use crate::net::rounds::{self, RoundsError, RoundsPlan, RoundsRun, Series, Variant};
use crate::net::sandbox::SandboxError;
use crate::render::chart::{self, Panel};
use crate::render::{Output, Paint};

/// What each variant is called in the table.
fn title(v: Variant) -> &'static str {
    match v {
        Variant::Nagle => "Nagle (the default)",
        Variant::NoDelay => "TCP_NODELAY",
        Variant::QuickAck => "Nagle + TCP_QUICKACK",
        Variant::Cork => "TCP_CORK",
    }
}

pub fn run(args: &NagleArgs, out: &Output) -> Result<()> {
    let pcap = match &args.write {
        Some(path) => Some(
            PcapFile::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => None,
    };
    let tap = pcap.as_ref().map(PcapFile::tap);
    let mut variants = vec![Variant::Nagle, Variant::NoDelay];
    if args.quickack {
        variants.push(Variant::QuickAck);
    }
    if args.cork {
        variants.push(Variant::Cork);
    }
    let rtt = args.delay * 2;
    if !args.json {
        out.line(out.paint(
            Paint::PLAIN.bold(),
            &format!(
                "netlab nagle: {} rounds of write({} B), write({} B), read(reply), {} ms each way (RTT {} ms)",
                args.rounds,
                args.size,
                args.size,
                ms(args.delay),
                ms(rtt)
            ),
        ))?;
        out.line(
            "wire: 10.0.0.2 (client) ⇄ netlab ⇄ 10.0.0.1 (server, replies once it has both writes)",
        )?;
        out.print("running … ")?;
    }
    let plan = RoundsPlan {
        delay: args.delay,
        rounds: args.rounds as usize,
        variants,
        first: args.size as usize,
        second: args.size as usize,
        reply: 16,
        tap,
    };
    let run = match rounds::run(plan) {
        Ok(r) => r,
        Err(RoundsError::Sandbox(e @ SandboxError::Closed(_))) => {
            bail!("{}", e.explain("nagle", false))
        }
        Err(e) => return Err(anyhow::Error::new(e).context("running the rounds")),
    };
    if let Some(w) = &pcap {
        w.flush().context("writing the pcap file")?;
    }
    let panel = Panel {
        title: "latency of each round".into(),
        y_unit: "ms".into(),
        x_label: "round".into(),
        series: run
            .series
            .iter()
            .map(|s| chart::Series {
                label: title(s.variant).into(),
                points: s
                    .rounds
                    .iter()
                    .enumerate()
                    .map(|(i, r)| ((i + 1) as f64, r.1.as_secs_f64() * 1000.0))
                    .collect(),
            })
            .collect(),
        marks: Vec::new(),
        marks_label: String::new(),
        notes: Vec::new(),
    };
    if let Some(path) = &args.plot {
        chart::write_svg(
            path,
            &format!("netlab nagle: {} ms each way", ms(args.delay)),
            std::slice::from_ref(&panel),
        )
        .map_err(anyhow::Error::msg)?;
    }
    if args.json {
        let mut o = Map::new();
        for s in &run.series {
            o.insert(s.variant.name().into(), series_json(s));
        }
        o.insert("delay_ms".into(), json!(args.delay.as_secs_f64() * 1000.0));
        o.insert("rtt_ms".into(), json!(rtt.as_secs_f64() * 1000.0));
        o.insert("rounds".into(), json!(args.rounds));
        o.insert("write_bytes".into(), json!(args.size));
        out.line(Value::Object(o))?;
        return Ok(());
    }
    out.line("done.\n")?;
    out.line(format_args!(
        "{:<24}{:>10}{:>10}{:>10}",
        "latency per round", "min", "median", "p99"
    ))?;
    for s in &run.series {
        out.line(format_args!(
            "{:<24}{:>10}{:>10}{:>10}",
            title(s.variant),
            fmt_ms(s.min()),
            fmt_ms(s.median()),
            fmt_ms(s.percentile(99.0))
        ))?;
    }
    let med = |v: Variant| {
        run.series
            .iter()
            .find(|s| s.variant == v)
            .map(|s| s.median())
    };
    if let (Some(n), Some(d)) = (med(Variant::Nagle), med(Variant::NoDelay)) {
        let cost = n.saturating_sub(d);
        let text = format!(
            "With Nagle's algorithm the median round took {} longer: {:.1} round trips of {} ms.",
            fmt_ms(cost),
            cost.as_secs_f64() / rtt.as_secs_f64().max(1e-9),
            ms(rtt)
        );
        out.line("")?;
        out.line(chart::wrap(&text, 80, "").join("\n"))?;
    }
    for s in &run.series {
        explain_round(out, &run, s, args.delay)?;
    }
    out.line("")?;
    out.line(
        chart::wrap(
            "Why: Nagle's algorithm (RFC 896) lets a sender have only one small segment \
         unacknowledged, so the second write waits for the first one's ACK. The server \
         delays that ACK (RFC 1122 § 4.2.3.2; about 40 ms on Linux), hoping to send it \
         with its reply — which it cannot write before the second part arrives. Each waits \
         for the other until the delayed-ACK timer fires. TCP_NODELAY sends both writes at \
         once; TCP_QUICKACK makes the server acknowledge at once (one round trip is still \
         lost); TCP_CORK gathers both writes into one segment.",
            80,
            "",
        )
        .join("\n"),
    )?;
    out.line("")?;
    out.line(panel.to_text(80, 10, chart::unicode_locale()).join("\n"))?;
    if let Some(path) = &args.plot {
        out.line(format_args!("chart saved to {}", path.display()))?;
    }
    Ok(())
}

/// One typical round of `s`, as the wire saw it.
fn explain_round(out: &Output, run: &RoundsRun, s: &Series, delay: Duration) -> Result<()> {
    let Some((start, latency)) = s.typical() else {
        return Ok(());
    };
    let n = s.rounds.iter().position(|r| r.0 == start).unwrap_or(0) + 1;
    out.line(format_args!(
        "\n{} — round {n} ({}), the segments as the wire saw them:",
        title(s.variant),
        fmt_ms(latency)
    ))?;
    let segs = rounds::segments(&run.wire, start, start + latency);
    for (what, why) in rounds::explain(&segs, start, delay) {
        out.line(format_args!("  {what}"))?;
        for (i, l) in chart::wrap(&why, 64, "").iter().enumerate() {
            let lead = if i == 0 { "└" } else { " " };
            out.line(format_args!("               {lead} {l}"))?;
        }
    }
    Ok(())
}

fn series_json(s: &Series) -> Value {
    let r = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    json!({
        "min_ms": r(s.min()),
        "median_ms": r(s.median()),
        "p99_ms": r(s.percentile(99.0)),
        "rounds_ms": s.rounds.iter().map(|x| r(x.1)).collect::<Vec<_>>(),
    })
}

fn fmt_ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn ms(d: Duration) -> String {
    format!("{}", (d.as_secs_f64() * 10_000.0).round() / 10.0)
}
