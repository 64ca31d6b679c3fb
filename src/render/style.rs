//! Colours: the one set of ANSI styles every command prints with, and the one switch
//! that turns them on or off (`--color auto|always|never`, `NO_COLOR`).
//!
//! A renderer names what a piece of text *is* ([`Paint::WARNING`], [`Paint::SENT`], a
//! layer's colour from [`super::layer_color`]); the escape codes live only here, so the
//! packet list, the system-call lines, the handshake trace and the WebSocket trace
//! agree, and `--color never` leaves no escape anywhere.

use std::fmt::Write;
use std::io::IsTerminal;

/// Colours on or off, decided once per run from `--color`, `NO_COLOR` and whether
/// standard output is a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// No colours (tests, files).
    pub const PLAIN: Style = Style { color: false };

    /// `--color auto`: colours only when standard output is a terminal and `NO_COLOR`
    /// is unset or empty (no-color.org).
    pub fn auto() -> Style {
        Style {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal(),
        }
    }

    /// Wraps `s` in `paint`'s escape codes when colours are on.
    pub fn paint(&self, out: &mut String, paint: Paint, s: &str) {
        if self.color && !paint.is_plain() {
            paint.open(out);
            out.push_str(s);
            out.push_str(RESET);
        } else {
            out.push_str(s);
        }
    }

    /// `s` painted, as a new string.
    pub fn painted(&self, paint: Paint, s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 12);
        self.paint(&mut out, paint, s);
        out
    }

    /// Starts `paint` for text the caller appends itself; end it with [`Style::reset`].
    pub fn start(&self, out: &mut String, paint: Paint) {
        if self.color && !paint.is_plain() {
            paint.open(out);
        }
    }

    pub fn reset(&self, out: &mut String) {
        if self.color {
            out.push_str(RESET);
        }
    }
}

const RESET: &str = "\x1b[0m";

/// One text style: an ANSI SGR colour, optionally bold. Build them only here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    code: &'static str,
    bold: bool,
}

impl Paint {
    const fn new(code: &'static str) -> Paint {
        Paint { code, bold: false }
    }

    /// The same colour, bold.
    pub const fn bold(self) -> Paint {
        Paint { bold: true, ..self }
    }

    fn is_plain(self) -> bool {
        self.code.is_empty() && !self.bold
    }

    fn open(self, out: &mut String) {
        match (self.bold, self.code.is_empty()) {
            (true, true) => out.push_str("\x1b[1m"),
            (true, false) => {
                let _ = write!(out, "\x1b[1;{}m", self.code);
            }
            (false, _) => {
                let _ = write!(out, "\x1b[{}m", self.code);
            }
        }
    }

    // The palette (layers take their colours from it in `render::layer_color`).
    pub const PLAIN: Paint = Paint::new("");
    pub const RED: Paint = Paint::new("31");
    pub const GREEN: Paint = Paint::new("32");
    pub const YELLOW: Paint = Paint::new("33");
    pub const BLUE: Paint = Paint::new("34");
    pub const MAGENTA: Paint = Paint::new("35");
    pub const CYAN: Paint = Paint::new("36");
    pub const BRIGHT_RED: Paint = Paint::new("91");
    pub const BRIGHT_GREEN: Paint = Paint::new("92");
    pub const BRIGHT_YELLOW: Paint = Paint::new("93");
    pub const BRIGHT_BLUE: Paint = Paint::new("94");
    pub const BRIGHT_MAGENTA: Paint = Paint::new("95");
    pub const BRIGHT_CYAN: Paint = Paint::new("96");

    // What text is: renderers use these.
    /// A title or a result to notice.
    pub const HEADING: Paint = Paint::PLAIN.bold();
    /// An aside (`— what it means`, byte offsets).
    pub const NOTE: Paint = Paint::new("2");
    /// Something wrong but not fatal (a warning under a packet).
    pub const WARNING: Paint = Paint::RED;
    /// Something broken or thrown away (malformed, dropped on purpose, an RST from the
    /// wrong place).
    pub const ERROR: Paint = Paint::RED.bold();
    /// A check that passed, a socket that listens.
    pub const OK: Paint = Paint::GREEN;
    /// What netlab (or the side telling the story) sends.
    pub const SENT: Paint = Paint::CYAN.bold();
    /// What it receives.
    pub const RECEIVED: Paint = Paint::YELLOW.bold();
    /// Who acts (a connection's label, `client`, `conn 2`), a field's name.
    pub const ACTOR: Paint = Paint::CYAN;
    /// The other side's voice (ws-upgrade's server notes), a state worth a glance.
    pub const PEER: Paint = Paint::MAGENTA;
    /// A system call's or a function's name.
    pub const CALL: Paint = Paint::YELLOW.bold();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_on_and_off() {
        let on = Style { color: true };
        assert_eq!(on.painted(Paint::WARNING, "w"), "\x1b[31mw\x1b[0m");
        assert_eq!(on.painted(Paint::ERROR, "e"), "\x1b[1;31me\x1b[0m");
        assert_eq!(on.painted(Paint::HEADING, "h"), "\x1b[1mh\x1b[0m");
        assert_eq!(on.painted(Paint::PLAIN, "p"), "p");
        assert_eq!(Style::PLAIN.painted(Paint::ERROR, "e"), "e");
        let mut s = String::new();
        Style::PLAIN.start(&mut s, Paint::NOTE);
        Style::PLAIN.reset(&mut s);
        assert!(s.is_empty());
    }
}
