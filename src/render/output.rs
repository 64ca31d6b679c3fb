//! Where a command's text goes: one [`Output`] (a [`Style`] and a sink), made once in
//! `main` and handed to every `commands::*::run`.
//!
//! The policy, the same for every subcommand:
//! - every write returns `io::Result`, and a command passes the error up (`?`);
//! - a closed pipe (`netlab dissect big.pcap | head -1`: the reader left) is such an
//!   error, `BrokenPipe`; `main` ends quietly with status 0 on it;
//! - the first failed write also marks the output closed, for code that cannot return
//!   the error where it happens (a connection's thread, a callback): the loop that owns
//!   the run calls [`Output::check`] and stops with the same error;
//! - each write is one piece under the sink's lock, flushed at once: lines of concurrent
//!   threads never interleave, and a partial line (`sending … `) is seen before the wait.
//!
//! Nothing here panics on a write (no `println!`), and nothing calls `process::exit`.

use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{Paint, Style};

/// A command's output: how it looks, and where it goes. Clone it for another thread.
#[derive(Clone)]
pub struct Output {
    pub style: Style,
    sink: Sink,
    closed: Arc<AtomicBool>,
}

#[derive(Clone)]
enum Sink {
    Stdout,
    Writer(Arc<Mutex<dyn Write + Send>>),
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("style", &self.style)
            .field("stdout", &matches!(self.sink, Sink::Stdout))
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Output {
    /// Standard output.
    pub fn stdout(style: Style) -> Output {
        Output {
            style,
            sink: Sink::Stdout,
            closed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Any writer (a test's buffer, a file).
    pub fn to_writer(style: Style, w: impl Write + Send + 'static) -> Output {
        Output {
            style,
            sink: Sink::Writer(Arc::new(Mutex::new(w))),
            closed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Writes `bytes` in one piece and flushes.
    pub fn bytes(&self, bytes: &[u8]) -> io::Result<()> {
        self.check()?;
        let r = match &self.sink {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            Sink::Writer(w) => {
                let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
                w.write_all(bytes).and_then(|()| w.flush())
            }
        };
        if let Err(e) = &r
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            self.closed.store(true, Ordering::SeqCst);
        }
        r
    }

    /// Writes `text` as it is (no newline added).
    pub fn print(&self, text: impl fmt::Display) -> io::Result<()> {
        let mut s = String::new();
        let _ = write!(s, "{text}");
        self.bytes(s.as_bytes())
    }

    /// Writes `text` and a newline, in one piece: `out.line(format_args!("{n} sent"))?`.
    pub fn line(&self, text: impl fmt::Display) -> io::Result<()> {
        let mut s = String::new();
        let _ = writeln!(s, "{text}");
        self.bytes(s.as_bytes())
    }

    /// Writes each line of `text` with `prefix` before it.
    pub fn lines(&self, prefix: &str, text: &str) -> io::Result<()> {
        let mut s = String::with_capacity(text.len() + 16);
        for l in text.lines() {
            s.push_str(prefix);
            s.push_str(l);
            s.push('\n');
        }
        if s.is_empty() {
            return Ok(());
        }
        self.bytes(s.as_bytes())
    }

    /// `s` in `paint`, when colours are on.
    pub fn paint(&self, paint: Paint, s: &str) -> String {
        self.style.painted(paint, s)
    }

    /// Whether a write found the reader gone.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// `Err(BrokenPipe)` once a write found the reader gone: the owner of a loop calls
    /// it to stop when a thread's write failed.
    pub fn check(&self) -> io::Result<()> {
        if self.is_closed() {
            Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "standard output was closed",
            ))
        } else {
            Ok(())
        }
    }

    /// `netlab: warning: …` on standard error. Its failure is ignored: there is nowhere
    /// left to say it.
    pub fn warn(&self, text: impl fmt::Display) {
        let _ = writeln!(io::stderr().lock(), "netlab: warning: {text}");
    }

    /// A line on standard error that is not a warning (a progress or status line, such
    /// as capture's count), so that standard output stays clean for a pipe.
    pub fn status(&self, text: impl fmt::Display) {
        let _ = writeln!(io::stderr().lock(), "{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes `room` bytes, then fails as a closed pipe does.
    struct Pipe {
        room: usize,
        got: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Pipe {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let n = b.len().min(self.room);
            self.room -= n;
            self.got.lock().unwrap().extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_an_error_once_and_then_sticks() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let out = Output::to_writer(
            Style::PLAIN,
            Pipe {
                room: 6,
                got: got.clone(),
            },
        );
        out.line("hello").unwrap();
        assert!(out.check().is_ok());
        let thread_out = out.clone();
        let e = std::thread::spawn(move || thread_out.line(format_args!("{} more", 2)))
            .join()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        assert!(out.is_closed());
        assert_eq!(out.check().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(
            out.print("x").unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
        assert_eq!(&*got.lock().unwrap(), b"hello\n");
    }

    #[test]
    fn lines_get_their_prefix_in_one_write() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let out = Output::to_writer(
            Style::PLAIN,
            Pipe {
                room: 1000,
                got: got.clone(),
            },
        );
        out.lines("[a] ", "one\ntwo\n").unwrap();
        out.lines("[a] ", "").unwrap();
        assert_eq!(&*got.lock().unwrap(), b"[a] one\n[a] two\n");
        assert_eq!(
            out.paint(Paint::OK, "ok"),
            "ok",
            "no colours in a plain style"
        );
    }
}
