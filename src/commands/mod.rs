//! One file per subcommand: the only place that joins I/O, codecs and printing.

pub mod capture;
pub mod dissect;
pub mod lesson;
pub mod onion;
pub mod ports;
pub mod printer;
pub mod race;
pub mod socketio;
pub mod syscall;
pub mod tcp;
pub mod tcp_handshake;
pub mod udp;
pub mod ws;
pub mod ws_upgrade;

use std::io::{self, IsTerminal};

use crate::cli::ColorChoice;
use crate::render::Style;

/// Colours on when asked, or in auto mode when stdout is a terminal and `NO_COLOR` is
/// unset or empty (no-color.org).
pub fn style(choice: ColorChoice) -> Style {
    let color = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stdout().is_terminal()
        }
    };
    Style { color }
}

/// True for the error a closed pipe gives (`netlab dissect big.pcap | head`).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
