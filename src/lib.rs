//! netlab: watch the layers of computer networks.
//!
//! Layering (a module never imports one above it):
//! `wire` (pure codecs) → `capture` (pcap I/O) / `dissect` (frames → layered model) →
//! `render` (model → text/JSON) → `commands` (one per subcommand) → `cli`/`main`.
//! `wiremodel` (the simulated wire: delay, loss, a bottleneck) sits at the bottom beside
//! `wire`, below the TCP engine's simulator and the commands that play the wire.

pub mod capture;
pub mod cli;
pub mod commands;
pub mod dissect;
pub mod net;
pub mod render;
pub mod socketio;
pub mod tcp;
pub mod wire;
pub mod wiremodel;
pub mod ws;
