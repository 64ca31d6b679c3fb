//! The guest: a command netlab runs inside its private network namespace
//! (`netlab capture -- CMD`), in a PID namespace of its own so that nothing it starts
//! outlives it.
//!
//! ```text
//! netlab ──fork──▶ init (PID 1 of a new PID namespace: netlab's code, never exec'd)
//!                    └──fork+exec──▶ CMD (PID 2)
//! ```
//!
//! - CMD inherits the network namespace (only `lo`, up), the user namespace, standard
//!   input, output and error, the environment and the working directory. Without root
//!   it runs as the caller, with no capabilities (see [`crate::net::userns::Identity`]).
//! - When CMD exits, init sends its wait status to netlab through a pipe and exits
//!   too; the kernel then kills every other process of the PID namespace — a server CMD
//!   left running in the background included — so no process is left in the network
//!   namespace but netlab, which takes it along when it exits.
//! - When netlab dies, however it dies (SIGKILL included), init receives SIGKILL
//!   (`PR_SET_PDEATHSIG`), and with it the whole PID namespace.
//! - Signals: Ctrl-C on a terminal reaches CMD directly (it is in netlab's process
//!   group). A SIGINT, SIGTERM or SIGHUP sent to netlab with `kill` is passed on to
//!   init, which passes it on to CMD: init, being PID 1, would otherwise ignore it.
//!   Signals the terminal sent (`si_code == SI_KERNEL`) are not passed on, so CMD never
//!   receives one twice.
//!
//! After [`Guest::spawn`] netlab's own children would be born in the PID namespace,
//! which dies with CMD: spawn nothing else afterwards.
//!
//! Imports: `std`, `libc`.

use std::ffi::{CString, OsString};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long CMD has to end after it was asked to (Ctrl-C, SIGTERM, `-c`), before
/// netlab kills its PID namespace.
pub const GRACE: Duration = Duration::from_secs(2);

/// The signals passed on to CMD.
const PASSED_ON: [libc::c_int; 6] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// How CMD ended.
#[derive(Debug)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// netlab ended it (its PID namespace killed) before it exited by itself.
    Killed,
}

impl Exit {
    /// The exit status a shell would show for it (128 + N for signal N).
    pub fn status(&self) -> i32 {
        match self {
            Exit::Code(c) => *c,
            Exit::Signal(s) => 128 + s,
            Exit::Killed => 128 + libc::SIGKILL,
        }
    }
}

impl fmt::Display for Exit {
    /// What happened, after the command's name: "exited with status 3".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exited with status {c}"),
            Exit::Signal(s) => write!(f, "was ended by signal {s} ({})", signal_name(*s)),
            Exit::Killed => write!(
                f,
                "did not end within {} s of being asked to: its PID namespace was killed",
                GRACE.as_secs()
            ),
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// Why CMD could not be started.
#[derive(Debug)]
pub enum GuestError {
    /// `execvp` failed (not found, not executable…).
    Exec(String, io::Error),
    Io(&'static str, io::Error),
}

impl GuestError {
    /// The exit status `env`, `unshare` and shells use: 127 when the program is not
    /// found, 126 when it cannot be run.
    pub fn status(&self) -> i32 {
        match self {
            GuestError::Exec(_, e) if e.kind() == io::ErrorKind::NotFound => 127,
            GuestError::Exec(..) => 126,
            GuestError::Io(..) => 1,
        }
    }
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestError::Exec(program, e) => write!(f, "cannot run `{program}`: {e}"),
            GuestError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for GuestError {}

static INIT_PID: AtomicI32 = AtomicI32::new(0);
static INTERRUPTS: AtomicU32 = AtomicU32::new(0);
static CMD_PID: AtomicI32 = AtomicI32::new(0);

/// Sent with kill(2) or sigqueue(3) (`si_code` ≤ 0), not by the terminal or the kernel.
fn sent_by_a_process(info: *const libc::siginfo_t) -> bool {
    // SAFETY: the kernel hands a valid siginfo to an SA_SIGINFO handler.
    !info.is_null() && unsafe { (*info).si_code } <= 0
}

/// netlab's handler: counts interrupts; passes signals sent with `kill` on to init.
extern "C" fn on_signal_netlab(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
    let init = INIT_PID.load(Ordering::SeqCst);
    if init > 0 && sent_by_a_process(info) {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(init, sig) };
    }
}

/// init's handler: passes signals sent with `kill` on to CMD.
extern "C" fn on_signal_init(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let cmd = CMD_PID.load(Ordering::SeqCst);
    if cmd > 0 && sent_by_a_process(info) {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(cmd, sig) };
    }
}

type Handler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

fn install(signals: &[libc::c_int], handler: Handler) {
    for &sig in signals {
        // SAFETY: a zeroed sigaction with an async-signal-safe handler; no SA_RESTART,
        // so a blocking poll returns EINTR and the caller looks at the flags at once.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Catches SIGINT, SIGTERM and SIGHUP in netlab while a guest runs: counted
/// ([`interrupts`]) and passed on to the guest when sent with `kill`.
pub fn catch_signals() {
    install(
        &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP],
        on_signal_netlab,
    );
}

/// How many SIGINT/SIGTERM/SIGHUP netlab received since [`catch_signals`].
pub fn interrupts() -> u32 {
    INTERRUPTS.load(Ordering::SeqCst)
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are fresh descriptors.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Writes one native-endian i32 to `fd` (4 bytes: below PIPE_BUF, so in one piece).
fn send_i32(fd: libc::c_int, v: i32) {
    let b = v.to_ne_bytes();
    // SAFETY: write(2) of a buffer we own.
    unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
}

/// Where `program` is: itself if it names a path (has a `/`), else the first
/// executable file of that name in a `PATH` directory — a directory this user may not
/// search is skipped, so a command that exists nowhere is "not found" (as in a shell),
/// not "permission denied".
pub fn resolve(program: &std::ffi::OsStr) -> io::Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if program.as_bytes().contains(&b'/') {
        return Ok(program.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut denied = None;
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            continue;
        }
        let c = CString::new(candidate.as_os_str().as_bytes()).map_err(io::Error::other)?;
        // SAFETY: access(2) on a NUL-terminated path.
        if unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 {
            return Ok(candidate);
        }
        denied.get_or_insert(candidate);
    }
    Err(match denied {
        Some(p) => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not executable by this user", p.display()),
        ),
        None => io::Error::new(io::ErrorKind::NotFound, "not found in PATH"),
    })
}

/// A running guest.
pub struct Guest {
    init: libc::pid_t,
    /// init writes CMD's wait status here when CMD ends.
    report: File,
    /// Held open so that init sees netlab's death even before PR_SET_PDEATHSIG applies.
    _lifeline: OwnedFd,
    exit: Option<Exit>,
    /// When to kill the PID namespace if CMD has not ended by then.
    deadline: Option<Instant>,
    /// Interrupts already acted on.
    seen_interrupts: u32,
}

impl Guest {
    /// Starts `argv` (program and arguments, the program looked up in `PATH` by
    /// [`resolve`]) in a new
    /// PID namespace. Call it when the process has a single thread, after netlab is in
    /// its network namespace, and after [`catch_signals`].
    pub fn spawn(argv: &[OsString]) -> Result<Guest, GuestError> {
        let program = argv
            .first()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let args: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()
            .map_err(|_| {
                GuestError::Exec(
                    program.clone(),
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "an argument contains a NUL byte",
                    ),
                )
            })?;
        if args.is_empty() {
            return Err(GuestError::Exec(
                program,
                io::Error::new(io::ErrorKind::InvalidInput, "no command"),
            ));
        }
        let path = resolve(&argv[0]).map_err(|e| GuestError::Exec(program.clone(), e))?;
        let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            GuestError::Exec(
                program.clone(),
                io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"),
            )
        })?;
        let mut ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        // fork() copies one thread; another thread could hold a lock the child needs.
        let threads = std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count());
        if threads != 1 {
            return Err(GuestError::Io(
                "starting the command",
                io::Error::other(format!(
                    "netlab has {threads} threads; it must start the command with one"
                )),
            ));
        }
        let (exec_r, exec_w) = pipe().map_err(|e| GuestError::Io("pipe", e))?;
        let (report_r, report_w) = pipe().map_err(|e| GuestError::Io("pipe", e))?;
        let (life_r, life_w) = pipe().map_err(|e| GuestError::Io("pipe", e))?;
        // SAFETY: only changes which PID namespace this process's next children join.
        if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
            return Err(GuestError::Io(
                "unshare(CLONE_NEWPID)",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: the process is single-threaded (the caller's contract), so the child
        // may run ordinary code; it never returns from `init`.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(GuestError::Io("fork", io::Error::last_os_error()));
        }
        if pid == 0 {
            drop(report_r);
            drop(life_w);
            drop(exec_r);
            init(&path, &ptrs, exec_w, report_w, life_r);
        }
        INIT_PID.store(pid, Ordering::SeqCst);
        drop(exec_w);
        drop(report_w);
        drop(life_r);
        let mut guest = Guest {
            init: pid,
            report: File::from(report_r),
            _lifeline: life_w,
            exit: None,
            deadline: None,
            seen_interrupts: 0,
        };
        // exec's pipe closes without a word when exec succeeds (close-on-exec); an
        // errno arrives when it fails.
        let mut exec_r = File::from(exec_r);
        let mut b = [0u8; 4];
        let mut got = 0;
        loop {
            match exec_r.read(&mut b[got..]) {
                Ok(0) => break,
                Ok(n) => {
                    got += n;
                    if got == 4 {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(GuestError::Io("reading from the guest's init", e)),
            }
        }
        if got == 4 {
            let e = io::Error::from_raw_os_error(i32::from_ne_bytes(b));
            guest.wait_blocking();
            return Err(GuestError::Exec(program, e));
        }
        Ok(guest)
    }

    /// Asks CMD to end (SIGTERM, passed on by init); [`Guest::poll`] kills the PID
    /// namespace if it is still there after [`GRACE`].
    pub fn stop(&mut self) {
        if self.exit.is_none() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(self.init, libc::SIGTERM) };
            self.deadline.get_or_insert(Instant::now() + GRACE);
        }
    }

    /// Kills the whole PID namespace now (SIGKILL to its init).
    pub fn kill(&mut self) {
        if self.exit.is_none() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(self.init, libc::SIGKILL) };
        }
    }

    /// How CMD ended, once it has (without blocking). Also applies the rules for
    /// interrupts: the first gives CMD [`GRACE`] to end, a second, or the grace running
    /// out, kills its PID namespace.
    pub fn poll(&mut self) -> Option<&Exit> {
        if self.exit.is_none() {
            let n = interrupts();
            if n > self.seen_interrupts {
                if self.seen_interrupts > 0 || self.deadline.is_some() {
                    self.kill();
                }
                self.seen_interrupts = n;
                self.deadline.get_or_insert(Instant::now() + GRACE);
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.kill();
            }
            self.reap(libc::WNOHANG);
        }
        self.exit.as_ref()
    }

    /// Waits until CMD has ended (killing it after the grace if it was asked to stop).
    pub fn wait(&mut self) -> &Exit {
        while self.poll().is_none() {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.exit.as_ref().expect("set by poll")
    }

    fn wait_blocking(&mut self) {
        while self.exit.is_none() {
            self.reap(0);
        }
    }

    /// Reaps init if it has ended and reads CMD's status from the report pipe.
    fn reap(&mut self, flags: libc::c_int) {
        let mut status = 0;
        // SAFETY: waitpid on our own child.
        let r = unsafe { libc::waitpid(self.init, &mut status, flags) };
        if r == 0 || (r < 0 && errno() == libc::EINTR) {
            return;
        }
        INIT_PID.store(0, Ordering::SeqCst);
        let mut b = [0u8; 4];
        self.exit = Some(match self.report.read_exact(&mut b) {
            Ok(()) => {
                let w = i32::from_ne_bytes(b);
                if libc::WIFSIGNALED(w) {
                    Exit::Signal(libc::WTERMSIG(w))
                } else {
                    Exit::Code(libc::WEXITSTATUS(w))
                }
            }
            Err(_) => Exit::Killed,
        });
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.kill();
            self.wait_blocking();
        }
    }
}

/// PID 1 of the guest's namespace: starts CMD, passes signals on, reaps every orphan,
/// and reports CMD's status when it ends. Never returns.
fn init(
    path: &CString,
    argv: &[*const libc::c_char],
    exec_w: OwnedFd,
    report_w: OwnedFd,
    life_r: OwnedFd,
) -> ! {
    // SAFETY: this is the forked child of a single-threaded process: plain system
    // calls only, and `_exit` at the end (no destructors, no atexit handlers of
    // netlab's run twice).
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // netlab may have died before the line above: then its end of the lifeline
        // is closed already.
        let mut pfd = libc::pollfd {
            fd: life_r.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        if libc::poll(&mut pfd, 1, 0) > 0 && pfd.revents & (libc::POLLHUP | libc::POLLIN) != 0 {
            libc::_exit(1);
        }
        install(&PASSED_ON, on_signal_init);
        let cmd = libc::fork();
        if cmd < 0 {
            send_i32(exec_w.as_raw_fd(), errno());
            libc::_exit(1);
        }
        if cmd == 0 {
            // CMD: default dispositions for what init handles (exec resets handled
            // signals anyway), then the program. The exec pipe is close-on-exec.
            for sig in PASSED_ON {
                libc::signal(sig, libc::SIG_DFL);
            }
            // Rust's runtime ignores SIGPIPE, and an ignored signal stays ignored across
            // exec: give CMD the default back, as std::process::Command does.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::execv(path.as_ptr(), argv.as_ptr());
            send_i32(exec_w.as_raw_fd(), errno());
            libc::_exit(127);
        }
        CMD_PID.store(cmd, Ordering::SeqCst);
        libc::close(exec_w.as_raw_fd());
        std::mem::forget(exec_w);
        loop {
            let mut status = 0;
            let r = libc::waitpid(-1, &mut status, 0);
            if r == cmd {
                send_i32(report_w.as_raw_fd(), status);
                // Leaving kills every process left in the PID namespace.
                libc::_exit(0);
            }
            if r < 0 && errno() != libc::EINTR {
                libc::_exit(1);
            }
        }
    }
}
