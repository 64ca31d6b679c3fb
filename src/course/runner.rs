//! Runs a lesson's `netlab …` command: the same binary (`current_exe()`), in the
//! learner's workspace, its output passed on line by line as it comes and kept.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Which stream a line came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// How to run one command.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// The netlab binary.
    pub exe: &'a Path,
    /// The arguments after `netlab`.
    pub args: &'a [String],
    /// The folder it runs in.
    pub dir: &'a Path,
    /// Run it through `sudo` (a learner without root who chose to).
    pub sudo: bool,
    /// Ask it for colours (`--color always`) or none (`--color never`).
    pub color: bool,
    /// Stop it after this long.
    pub timeout: Duration,
    /// Ctrl-C stops only the command, not the caller (which goes on to its next
    /// question); otherwise both stop.
    pub ctrl_c_stops_only_it: bool,
}

/// How a command ended, and everything it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// `None` when a signal ended it.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    /// As printed (with colours if they were asked for).
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

/// Runs `inv`, calling `on_line` with each line (without its newline) as it arrives.
pub fn run(inv: &Invocation, mut on_line: impl FnMut(Stream, &str)) -> io::Result<Finished> {
    let mut cmd = if inv.sudo {
        let mut c = Command::new("sudo");
        c.arg("--").arg(inv.exe);
        c
    } else {
        Command::new(inv.exe)
    };
    // `netlab` inside a step (`netlab capture -- netlab tcp connect …`) is this netlab.
    if let Some(dir) = inv.exe.parent() {
        let rest = std::env::var_os("PATH").unwrap_or_default();
        if let Ok(path) = std::env::join_paths(
            std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&rest)),
        ) {
            cmd.env("PATH", path);
        }
    }
    cmd.arg("--color")
        .arg(if inv.color { "always" } else { "never" })
        .args(inv.args)
        .current_dir(inv.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot start {}: {e}",
                if inv.sudo {
                    "sudo".to_string()
                } else {
                    inv.exe.display().to_string()
                }
            ),
        )
    })?;
    // The child has exec'd by now (spawn waits for that), so it keeps the default
    // disposition: Ctrl-C reaches it, and it cleans up as netlab does on SIGINT.
    let _ignoring = inv.ctrl_c_stops_only_it.then(IgnoreSigint::new);
    let (tx, rx) = mpsc::channel::<(Stream, String)>();
    let mut readers = Vec::new();
    for (stream, pipe) in [
        (
            Stream::Out,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            Stream::Err,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ] {
        let Some(pipe) = pipe else { continue };
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            let mut r = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).into_owned();
                        if tx.send((stream, line)).is_err() {
                            break;
                        }
                    }
                }
            }
        }));
    }
    drop(tx);
    let deadline = Instant::now() + inv.timeout;
    let mut abandoned = false;
    let mut out = Finished {
        exit_code: None,
        timed_out: false,
        stdout: String::new(),
        stderr: String::new(),
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((stream, line)) => {
                match stream {
                    Stream::Out => out.stdout.push_str(&line),
                    Stream::Err => out.stderr.push_str(&line),
                }
                on_line(stream, line.strip_suffix('\n').unwrap_or(&line));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                out.timed_out = true;
                // SIGINT first, as Ctrl-C would: netlab cleans up its namespaces on it.
                // SAFETY: kill has no memory preconditions; the pid is our child's.
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
                let mut grace = Instant::now() + Duration::from_secs(3);
                let mut killed = false;
                loop {
                    let wait = grace.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(wait) {
                        Ok((Stream::Out, line)) => out.stdout.push_str(&line),
                        Ok((Stream::Err, line)) => out.stderr.push_str(&line),
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                        Err(mpsc::RecvTimeoutError::Timeout) if !killed => {
                            // It ignored SIGINT: end it (its pipes then close).
                            let _ = child.kill();
                            killed = true;
                            grace = Instant::now() + Duration::from_secs(3);
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            // Something it started still holds the pipes: stop waiting.
                            abandoned = true;
                            break;
                        }
                    }
                }
                break;
            }
        }
    }
    if !abandoned {
        for r in readers {
            let _ = r.join();
        }
    }
    let status = child.wait()?;
    out.exit_code = status.code();
    Ok(out)
}

/// SIGINT ignored while it lives; the previous disposition comes back when it drops.
struct IgnoreSigint(libc::sighandler_t);

impl IgnoreSigint {
    fn new() -> IgnoreSigint {
        // SAFETY: signal() with SIG_IGN installs no handler code; it returns the old one.
        IgnoreSigint(unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) })
    }
}

impl Drop for IgnoreSigint {
    fn drop(&mut self) {
        if self.0 != libc::SIG_ERR {
            // SAFETY: puts back the disposition signal() returned.
            unsafe { libc::signal(libc::SIGINT, self.0) };
        }
    }
}

/// `text` without ANSI escape sequences (CSI such as colours, and OSC).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // Parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                // Until BEL or ESC \.
                while let Some(c) = chars.next() {
                    if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colours_and_titles() {
        assert_eq!(
            strip_ansi("\x1b[1;31mred\x1b[0m plain \x1b]0;title\x07x"),
            "red plain x"
        );
        assert_eq!(strip_ansi("no escapes — ✓"), "no escapes — ✓");
    }

    #[test]
    fn streams_lines_and_stops_a_command_at_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        // `sh` stands in for netlab: it ignores the `--color never` that comes first.
        let script = dir.path().join("fake");
        std::fs::write(
            &script,
            "#!/bin/sh\necho one\necho two >&2\nexec sleep 30\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut lines = Vec::new();
        let t = Instant::now();
        let f = run(
            &Invocation {
                exe: &script,
                args: &[],
                dir: dir.path(),
                sudo: false,
                color: false,
                timeout: Duration::from_millis(500),
                ctrl_c_stops_only_it: false,
            },
            |s, l| lines.push((s, l.to_string())),
        )
        .unwrap();
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(f.timed_out && !f.success());
        assert_eq!(f.stdout, "one\n");
        assert_eq!(f.stderr, "two\n");
        lines.sort_by_key(|(s, _)| *s == Stream::Err);
        assert_eq!(
            lines,
            [(Stream::Out, "one".into()), (Stream::Err, "two".into())]
        );
    }
}
