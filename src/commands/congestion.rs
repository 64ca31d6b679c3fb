//! `netlab congestion`: the kernel's TCP through a bottleneck, its congestion window and
//! RTT charted from `TCP_INFO`.
//!
//! Glue: the arguments become a [`net::bulk::BulkPlan`] (the namespaces, the wire and the
//! sampling live there), the samples become [`chart::Panel`]s, and this file prints them
//! with a summary — or NDJSON.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::cli::CongestionArgs;
use crate::net::bulk::{self, BulkError, BulkPlan, BulkRun, Summary};
use crate::net::relay::PcapFile;
use crate::net::sandbox::SandboxError;
use crate::render::chart::{self, Panel, Series};
use crate::render::{Output, Paint};
use crate::wiremodel::{Bottleneck, Conditions, fmt_rate};

pub fn run(args: &CongestionArgs, out: &Output) -> Result<()> {
    let seed = args
        .seed
        .unwrap_or_else(|| crate::random::os_u64() % 1_000_000);
    // The file first: a bad path is reported before any namespace is made.
    let pcap = match &args.write {
        Some(path) => Some(
            PcapFile::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => None,
    };
    let cc = match &args.cc {
        Some(name) => Some(name.clone()),
        None => bulk::available_cc().into_iter().find(|c| c == "cubic"),
    };
    let forward = Conditions {
        delay: args.delay,
        loss: args.loss,
        bottleneck: Some(Bottleneck::new(args.rate, args.queue as usize)),
        ..Conditions::default()
    };
    let tap = pcap.as_ref().map(PcapFile::tap);
    let flows = args.flows as usize;
    if !args.json {
        let head = chart::wrap(
            &format!(
                "netlab congestion: {} of {} through {}, a {}-packet queue, {} ms each way{}",
                if flows == 1 {
                    "1 flow".to_string()
                } else {
                    format!("{flows} flows")
                },
                fmt_size(args.bytes),
                fmt_rate(args.rate),
                args.queue,
                ms(args.delay),
                if args.loss > 0.0 {
                    format!(", {}% random loss (seed {seed})", args.loss * 100.0)
                } else {
                    String::new()
                }
            ),
            80,
            "  ",
        )
        .join("\n");
        out.line(out.paint(Paint::PLAIN.bold(), &head))?;
        out.line("wire: 10.0.0.2 (senders) ⇄ netlab [rate, queue, delay] ⇄ 10.0.0.1 (receiver)")?;
        out.print("sending … ")?;
    }
    let plan = BulkPlan {
        conditions: [forward, Conditions::delay(args.delay)],
        seed,
        bytes: args.bytes,
        flows,
        cc,
        sample_every: Duration::from_millis(10),
        timeout: Duration::from_secs(args.timeout),
        tap,
    };
    let run = match bulk::run(plan) {
        Ok(r) => r,
        Err(BulkError::Sandbox(e @ SandboxError::Closed(_))) => {
            bail!("{}", e.explain("congestion", false))
        }
        Err(e) => return Err(anyhow::Error::new(e).context("running the transfer")),
    };
    if let Some(w) = &pcap {
        w.flush().context("writing the pcap file")?;
    }
    let sum = bulk::summarize(&run);
    let panels = panels(args, &run, &sum);
    if let Some(path) = &args.plot {
        chart::write_svg(
            path,
            &format!(
                "netlab congestion: {} through {} (queue {}), {} ms each way",
                run.cc,
                fmt_rate(args.rate),
                args.queue,
                ms(args.delay)
            ),
            &panels,
        )
        .map_err(anyhow::Error::msg)?;
    }
    if args.json {
        return print_json(args, out, &run, &sum);
    }
    out.line(format_args!(
        "done in {:.2} s ({}).\n",
        sum.seconds,
        if sum.complete {
            "every byte read"
        } else {
            "cut short by --timeout"
        }
    ))?;
    let unicode = chart::unicode_locale();
    for p in &panels {
        out.line(p.to_text(80, 12, unicode).join("\n"))?;
        out.line("")?;
    }
    if let Some(path) = &args.plot {
        out.line(format_args!("charts saved to {}", path.display()))?;
    }
    for line in summary_lines(args, &run, &sum) {
        // "label         text": the text wraps under itself.
        let text = match line.split_at_checked(14) {
            Some((label, rest)) if label.ends_with("  ") && !label.starts_with(' ') => {
                let pad = " ".repeat(14);
                chart::wrap(rest, 66, "")
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("{}{l}", if i == 0 { label } else { &pad }))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            _ => chart::wrap(&line, 80, "").join("\n"),
        };
        out.line(text)?;
    }
    Ok(())
}

/// The cwnd and RTT charts, labelled.
fn panels(args: &CongestionArgs, run: &BulkRun, sum: &Summary) -> Vec<Panel> {
    let flows = run.flows.len();
    let series = |f: fn(&bulk::Sample) -> f64| -> Vec<Series> {
        (0..flows)
            .map(|i| Series {
                label: format!("flow {}", i + 1),
                points: run
                    .samples
                    .iter()
                    .filter(|s| s.flow == i)
                    .map(|s| (s.t.as_secs_f64(), f(s)))
                    .collect(),
            })
            .collect()
    };
    let cwnd = series(|s| f64::from(s.info.snd_cwnd));
    let rtt = series(|s| f64::from(s.info.rtt_us) / 1000.0);
    let drops: Vec<f64> = run
        .queue_drops()
        .into_iter()
        .map(|d| d.as_secs_f64())
        .collect();
    let first_drop = drops.first().copied();
    let max_cwnd = cwnd
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let mut notes = vec![(0.0, max_cwnd * 0.9, "slow start".to_string())];
    if let Some(t) = first_drop {
        notes.push((
            t + (sum.seconds - t) * 0.3,
            max_cwnd * 0.97,
            "sawtooth".to_string(),
        ));
    }
    let max_rtt = sum.max_rtt_ms;
    let mut rtt_notes = vec![(0.0, sum.base_rtt_ms * 0.6, "base RTT".to_string())];
    if max_rtt > sum.base_rtt_ms * 1.2 {
        rtt_notes.push((
            sum.seconds * 0.02,
            max_rtt * 0.95,
            "queueing delay".to_string(),
        ));
    }
    vec![
        Panel {
            title: format!("congestion window of {}, from TCP_INFO", run.cc),
            y_unit: "segments".into(),
            x_label: "time (s)".into(),
            series: cwnd,
            marks: drops.clone(),
            marks_label: "the queue dropped a packet".into(),
            notes,
        },
        Panel {
            title: format!(
                "smoothed RTT (base {:.0} ms = 2 × {} ms)",
                sum.base_rtt_ms,
                ms(args.delay)
            ),
            y_unit: "ms".into(),
            x_label: "time (s)".into(),
            series: rtt,
            marks: drops,
            marks_label: "queue drop".into(),
            notes: rtt_notes,
        },
    ]
}

/// The summary and what it means.
fn summary_lines(args: &CongestionArgs, run: &BulkRun, sum: &Summary) -> Vec<String> {
    let mut v = Vec::new();
    let share = sum.goodput_bps / args.rate as f64 * 100.0;
    v.push(format!(
        "goodput       {} of the link's {} ({share:.0}%), {} read in {:.2} s",
        fmt_rate(sum.goodput_bps as u64),
        fmt_rate(args.rate),
        fmt_size(run.flows.iter().map(|f| f.received).sum()),
        sum.seconds
    ));
    v.push(format!(
        "losses        the full queue dropped {} packets{}; the kernel retransmitted {} segments",
        sum.queue_drops,
        if sum.random_losses > 0 {
            format!(", --loss {} more", sum.random_losses)
        } else {
            String::new()
        },
        sum.retransmits
    ));
    v.push(format!(
        "cwnd          cut {} time{} (the sender entered fast recovery or loss recovery)",
        sum.reductions,
        if sum.reductions == 1 { "" } else { "s" }
    ));
    let added = sum.max_rtt_ms - sum.base_rtt_ms;
    v.push(format!(
        "RTT           {:.1} ms with an empty queue, up to {:.1} ms; the longest wait in the queue: {:.1} ms",
        sum.base_rtt_ms, sum.max_rtt_ms, sum.max_queue_ms
    ));
    v.push(String::new());
    let queue_ms = args.queue as f64 * 1514.0 * 8.0 / args.rate as f64 * 1000.0;
    v.push(format!(
        "Slow start doubles cwnd every round trip until the queue overflows; then {} cuts \
         it (Reno halves it, CUBIC keeps 70%) and climbs again slowly: the sawtooth. The \
         link stays busy while the queue holds what the window has too much.",
        run.cc
    ));
    if added > 5.0 {
        v.push(format!(
            "The queue added {added:.0} ms of latency: a full {}-packet buffer takes {queue_ms:.0} ms \
             to drain at {}. Every packet behind it waits — bufferbloat. A smaller --queue \
             trades that delay for more drops.",
            args.queue,
            fmt_rate(args.rate)
        ));
    }
    v
}

fn print_json(args: &CongestionArgs, out: &Output, run: &BulkRun, sum: &Summary) -> Result<()> {
    for s in &run.samples {
        let i = &s.info;
        out.line(json!({
            "event": "sample",
            "flow": s.flow,
            "t_ms": round3(s.t.as_secs_f64() * 1000.0),
            "cwnd": i.snd_cwnd,
            "cwnd_bytes": s.cwnd_bytes(),
            "ssthresh": s.ssthresh(),
            "rtt_ms": round3(f64::from(i.rtt_us) / 1000.0),
            "rttvar_ms": round3(f64::from(i.rttvar_us) / 1000.0),
            "in_flight": i.unacked,
            "delivery_bps": i.delivery_rate.map(|r| r * 8),
            "retransmits": i.total_retrans,
            "ca_state": i.ca_state,
        }))?;
    }
    for (t, cause) in run
        .queue_drops()
        .into_iter()
        .map(|t| (t, "queue"))
        .chain(run.random_losses().into_iter().map(|t| (t, "loss")))
    {
        out.line(
            json!({"event": "drop", "t_ms": round3(t.as_secs_f64() * 1000.0), "cause": cause}),
        )?;
    }
    out.line(json!({
        "event": "summary",
        "cc": run.cc,
        "flows": run.flows.len(),
        "rate_bps": args.rate,
        "queue_packets": args.queue,
        "delay_ms": args.delay.as_secs_f64() * 1000.0,
        "bytes": args.bytes,
        "seconds": round3(sum.seconds),
        "complete": sum.complete,
        "goodput_bps": sum.goodput_bps.round(),
        "retransmits": sum.retransmits,
        "queue_drops": sum.queue_drops,
        "random_losses": sum.random_losses,
        "cwnd_reductions": sum.reductions,
        "base_rtt_ms": round3(sum.base_rtt_ms),
        "max_rtt_ms": round3(sum.max_rtt_ms),
        "max_queue_ms": round3(sum.max_queue_ms),
    }))?;
    Ok(())
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn ms(d: Duration) -> String {
    format!("{}", (d.as_secs_f64() * 10_000.0).round() / 10.0)
}

fn fmt_size(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(100_000) {
        format!("{} MB", n as f64 / 1e6)
    } else if n >= 1000 && n.is_multiple_of(100) {
        format!("{} kB", n as f64 / 1e3)
    } else {
        format!("{n} bytes")
    }
}
