//! netlab: watch the layers of computer networks.
//!
//! Layering (a module never imports one above it):
//! `wire` (pure codecs) → `capture` (pcap I/O) / `dissect` (frames → layered model) →
//! `render` (model → text/JSON) → `commands` (one per subcommand) → `cli`/`main`.
//! `course` (lessons, checks, progress) sits below `render` and `commands`.

pub mod capture;
pub mod cli;
pub mod commands;
pub mod course;
pub mod dissect;
pub mod net;
pub mod render;
pub mod socketio;
pub mod tcp;
pub mod wire;
pub mod ws;
