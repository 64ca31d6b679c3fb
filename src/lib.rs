//! netlab: watch the layers of computer networks.
//!
//! Layering (a module never imports one above it; `tests/layers.rs` holds the rules):
//! `wire` (pure codecs), `random`, `trace` (the trace's hook) → `capture` (pcap I/O) /
//! `dissect` (frames → layered model) → `tcp`, `ws`, `socketio` (I/O-free engines) →
//! `render` (model → text/JSON) → `net` (the I/O) → `trace::onion` (the trace's
//! implementation) → `commands` (one per subcommand) → `cli`/`main`.
//! `wiremodel` (the simulated wire: delay, loss, a bottleneck) sits at the bottom
//! beside `wire`, below the TCP engine's simulator and the commands that play the wire.
//! `course` (lessons, checks, progress) sits below `render` and `commands` and imports
//! no other netlab module.

pub mod capture;
pub mod cli;
pub mod commands;
pub mod course;
pub mod dissect;
pub mod net;
pub mod random;
pub mod render;
pub mod socketio;
pub mod tcp;
pub mod trace;
pub mod wire;
pub mod wiremodel;
pub mod ws;
