//! The packet pipeline `netlab dissect` and `netlab capture` share: one frame in →
//! dissected → kept or dropped by the display filter → rendered as the summary line,
//! the layer tree (`-v`), the hex dump (`-x`) or NDJSON (`--json`) into a buffer the
//! command writes out. A file and a live interface differ only in where frames come from.

use anyhow::Result;

use crate::dissect::filter::Filter;
use crate::dissect::{Dissector, Meta, Packet};
use crate::render::{self, Output, Style, json::JsonWriter};

/// How each kept packet is shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct View {
    pub verbose: bool,
    pub hex: bool,
    pub json: bool,
}

/// Flush the output buffer once it holds this much.
const FLUSH_AT: usize = 64 * 1024;

pub struct Printer {
    dissector: Dissector,
    filter: Option<Filter>,
    view: View,
    style: Style,
    json: JsonWriter,
    pkt: Packet,
    buf: String,
}

impl Printer {
    /// `filter` is a display filter (`tcp.port == 80 && ip.ttl < 64`); a bad one is an
    /// error that says what and where. `record` asks the dissector for every field even
    /// when the view does not need them (e.g. for `--stats`).
    pub fn new(view: View, filter: Option<&str>, style: Style, record: bool) -> Result<Printer> {
        let filter = match filter {
            Some(f) => Some(Filter::parse(f).map_err(|e| anyhow::anyhow!("{e}"))?),
            None => None,
        };
        let mut dissector = Dissector::new();
        dissector.detail = view.verbose;
        dissector.record = record || view.verbose || view.hex || view.json || filter.is_some();
        Ok(Printer {
            dissector,
            filter,
            view,
            style,
            json: JsonWriter::default(),
            pkt: Packet::default(),
            buf: String::with_capacity(FLUSH_AT * 2),
        })
    }

    /// Dissects one frame; true when it passes the filter. The dissected packet is then
    /// [`Printer::packet`]; [`Printer::render`] shows it.
    pub fn dissect(&mut self, meta: Meta, data: &[u8]) -> bool {
        self.dissector.dissect(meta, data, &mut self.pkt);
        self.filter.as_ref().is_none_or(|f| f.matches(&self.pkt))
    }

    /// The packet [`Printer::dissect`] made last.
    pub fn packet(&self) -> &Packet {
        &self.pkt
    }

    /// Renders the last dissected packet into the output buffer.
    pub fn render(&mut self) {
        if self.view.json {
            self.json.write(&mut self.buf, &self.pkt);
            return;
        }
        if self.view.verbose {
            render::tree::write(&mut self.buf, &self.pkt, self.style);
        } else {
            render::summary::write(&mut self.buf, &self.pkt, self.style);
        }
        if self.view.hex {
            render::hex::write(&mut self.buf, &self.pkt, self.style);
        }
    }

    /// Appends text of the caller's own (e.g. the `--stats` tables) to the output.
    pub fn buffer(&mut self) -> &mut String {
        &mut self.buf
    }

    /// Writes the buffer out once it is large (a file is read in big gulps), or always
    /// with `now` (a live capture shows each packet as it comes).
    pub fn flush(&mut self, out: &Output, now: bool) -> std::io::Result<()> {
        if (now && !self.buf.is_empty()) || self.buf.len() >= FLUSH_AT {
            out.bytes(self.buf.as_bytes())?;
            self.buf.clear();
        }
        Ok(())
    }

    /// `-2`: the links a first pass learned, shown from now on.
    pub fn links(&mut self, links: crate::dissect::Links) {
        self.dissector.links = Some(links);
    }

    /// Adds a `--decode-as` rule (Wireshark's `tcp.port==8765,http`).
    pub fn decode_as(&mut self, rule: &str) -> Result<()> {
        self.dissector
            .decode_as(rule)
            .map_err(|e| anyhow::anyhow!("--decode-as {rule}: {e}"))
    }

    /// PDUs cut (or segments not kept) because a reassembly buffer was full.
    pub fn reassembly_overflows(&self) -> u64 {
        self.dissector.reassembly_overflows()
    }

    /// Fragments dropped because reassembly reached its memory bound.
    pub fn evicted_fragments(&self) -> u64 {
        self.dissector.evicted_fragments()
    }
}
