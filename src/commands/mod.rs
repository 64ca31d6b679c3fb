//! One file per subcommand: the only place that joins I/O, codecs and printing. Each
//! `run` takes the [`Output`] made by [`output`] and returns its write errors.

pub mod capture;
pub mod congestion;
pub mod dissect;
pub mod lesson;
pub mod nagle;
pub mod ports;
pub mod race;
pub mod socketio;
pub mod tcp;
pub mod tcp_handshake;
pub mod udp;
pub mod ws;
pub mod ws_upgrade;

use crate::cli::ColorChoice;
use crate::render::{Output, Style};

/// The output every command writes to: standard output, with colours on when asked, or
/// in auto mode when it is a terminal and `NO_COLOR` is unset or empty (no-color.org).
pub fn output(choice: ColorChoice) -> Output {
    let style = match choice {
        ColorChoice::Always => Style { color: true },
        ColorChoice::Never => Style::PLAIN,
        ColorChoice::Auto => Style::auto(),
    };
    Output::stdout(style)
}
