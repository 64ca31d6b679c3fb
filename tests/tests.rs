//! One test binary with modules (faster to build than one binary per file).
//!
//! - `oracle`: every capture through tshark and netlab, field by field.
//! - `oracle_app`: the application protocols' fields, both ways (every field either has).
//! - `golden`: every capture rendered, compared with `tests/golden/` (set
//!   `NETLAB_BLESS=1` to rewrite them, then read the diff).
//! - `cli`: real invocations, bad inputs, exit codes, colour conventions.
//! - `mutation`: mutated captures and frames must never panic or hang.
//! - `lessons`: every lesson runs and every question is answered from a fresh run;
//!   `course`: `netlab lesson` as a learner meets it.
//! - `pipes`: a closed standard output ends every subcommand quietly with 0.
//! - `userns`: the sandboxed commands as an ordinary user (no sudo), through a user
//!   namespace; nothing left behind.

mod analysis;
mod autobahn;
mod autobahn_client;
mod browser;
mod capture;
mod cli;
mod common;
mod congestion;
mod course;
mod dissect_onion;
mod dissect_reported;
mod dissect_two_pass;
mod golden;
mod handshake;
mod layers;
mod lessons;
mod mutation;
mod onion;
mod oracle;
mod oracle_app;
mod pipes;
mod race;
mod socketio;
mod socketio_logs;
mod sockets;
mod userns;
mod ws;
mod ws_upgrade;
