//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every capture shipped in `captures/`, sorted.
pub fn captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("captures"))
        .expect("captures/ exists (regenerate with scripts/make-captures.sh)")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no captures in captures/");
    v
}

/// NDJSON: one JSON value per line (a line that is not JSON fails the test, naming it).
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The NDJSON standard output of a run that must have succeeded (its stderr in the
/// failure message otherwise).
pub fn ndjson(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "netlab failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&String::from_utf8_lossy(&out.stdout))
}

pub fn netlab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_netlab"));
    c.env_remove("NO_COLOR");
    c
}

pub fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// `netlab` run as user `nobody` with no capabilities (through util-linux's
/// `setpriv`): for the errors a learner without privileges meets. The caller must be
/// root to switch users.
pub fn netlab_unprivileged() -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ])
    .arg(env!("CARGO_BIN_EXE_netlab"))
    .env_remove("NO_COLOR");
    c
}

/// A privileged command refused: exit 1, one `netlab: error:` line naming `cap` and the
/// `setcap` remedy.
pub fn assert_privilege_error(out: &std::process::Output, cap: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("netlab: error: "), "{err}");
    assert!(
        err.contains(cap) && err.contains("sudo setcap cap_net_admin,cap_net_raw+ep"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Something a test needs that a machine may lack.
#[derive(Debug, Clone)]
pub enum Need {
    /// Root: network namespaces, TUN devices, packet sockets, a switch to `nobody`.
    /// The text says what for.
    Root(&'static str),
    /// A real peer or a feature of the machine that `scripts/test.sh` installs or
    /// expects (node and the official socket.io packages, Python `websockets`,
    /// Chromium, Python 2.7 for Autobahn, the IPv6 loopback): what, and whether it is
    /// here.
    Peer(String, bool),
}

fn set(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| v == "1")
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether a test may run. When what it needs is missing it prints `SKIPPED: …` and
/// returns false; but where CI asked for it — `NETLAB_REQUIRE_ROOT=1` for root,
/// `NETLAB_REQUIRE_PEERS=1` for peers, which `scripts/test.sh` exports once it has
/// installed them — a skip is a failure: the test panics instead.
pub fn available(need: Need) -> bool {
    let (ok, what, var) = match &need {
        Need::Root(why) => (is_root(), format!("root ({why})"), "NETLAB_REQUIRE_ROOT"),
        Need::Peer(what, here) => (*here, what.clone(), "NETLAB_REQUIRE_PEERS"),
    };
    if ok {
        return true;
    }
    assert!(
        !set(var),
        "this test needs {what}, which is missing, and {var}=1 says it must run"
    );
    eprintln!("SKIPPED: this test needs {what} (./scripts/test.sh provides it; CI runs it)");
    false
}

/// Returns from the test when [`available`] says it cannot run here:
/// `require!(Need::Root("CAP_NET_RAW for a packet socket"));`.
macro_rules! require {
    ($need:expr) => {
        if !$crate::common::available($need) {
            return;
        }
    };
}
pub(crate) use require;

/// node with the official `socket.io` and `socket.io-client` in `tests/node`.
pub fn node() -> Need {
    let dir = root().join("tests/node/node_modules");
    let here = dir.join("socket.io/package.json").exists()
        && dir.join("socket.io-client/package.json").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    Need::Peer(
        "node and tests/node/node_modules (socket.io, socket.io-client)".into(),
        here,
    )
}

/// `python3` able to import the `websockets` package (scripts/test.sh puts `.venv/bin`
/// first on PATH).
pub fn python_websockets() -> Need {
    let here = Command::new("python3")
        .args(["-c", "import websockets"])
        .output()
        .is_ok_and(|o| o.status.success());
    Need::Peer("python3 with the websockets package (.venv)".into(), here)
}

/// Headless Chromium.
pub fn chromium() -> Need {
    const CHROMIUM: &str = "/usr/bin/chromium";
    Need::Peer(CHROMIUM.into(), Path::new(CHROMIUM).exists())
}

/// The IPv6 loopback address `::1`, bindable.
pub fn ipv6_loopback() -> Need {
    let here = std::net::TcpListener::bind("[::1]:0").is_ok();
    Need::Peer("the IPv6 loopback address ::1".into(), here)
}

/// A server started on port 0 that printed where it listens (`listening on
/// ws://ADDR/…` or `http://ADDR/…`): the kernel chose the port when the server bound
/// it, so no other test can take it in between. Everything it prints is kept; the
/// process is killed when this is dropped.
pub struct Listening {
    child: Option<std::process::Child>,
    /// `127.0.0.1:PORT` or `[::1]:PORT`.
    pub addr: String,
    printed: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Listening {
    /// Spawns `cmd` (which must bind port 0 and print its address on stdout) and waits
    /// for the line that names the address.
    pub fn start(mut cmd: Command) -> Listening {
        use std::io::{BufRead, BufReader};
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        let printed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut addr = None;
        let mut line = String::new();
        while addr.is_none() {
            line.clear();
            if lines.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{cmd:?} exited without saying where it listens");
            }
            printed.lock().unwrap().push_str(&line);
            addr = listening_addr(&line);
        }
        // Keep reading, so the server never blocks on a full pipe.
        let sink = printed.clone();
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            while lines.read_line(&mut line).unwrap_or(0) > 0 {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Listening {
            child: Some(child),
            addr: addr.unwrap(),
            printed,
            reader: Some(reader),
        }
    }

    /// Waits (at most `within`) until the server has printed `needle`; returns whether
    /// it did.
    pub fn wait_for(&self, needle: &str, within: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if self.printed.lock().unwrap().contains(needle) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// Stops the server and returns everything it printed.
    pub fn output(mut self) -> String {
        self.stop();
        self.printed.lock().unwrap().clone()
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `ADDR` of `… listening on ws://ADDR/…` or `http://ADDR/…`.
fn listening_addr(line: &str) -> Option<String> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let rest = rest
        .strip_prefix("ws://")
        .or_else(|| rest.strip_prefix("http://"))?;
    Some(rest[..rest.find('/')?].to_string())
}

/// A TCP port nobody listens on, held for the test: the socket is bound but does not
/// listen, so a connection to it is refused (RST) and no other test can take the port
/// until the returned socket is dropped.
pub fn refused_port() -> (socket2::Socket, u16) {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let port = s.local_addr().unwrap().as_socket().unwrap().port();
    (s, port)
}

/// What `/dev/net/tun` looks like to a [`Learner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tun {
    /// A distribution default: a 0666 node bound over `/dev/net/tun` in a private mount
    /// namespace (Debian, Fedora and Arch ship it so).
    Open,
    /// A 0600 node bound the same way: a system where the way without root is closed.
    Closed,
    /// The host's own device, as it is.
    Host,
}

/// An ordinary user, played by root: `unshare -m --propagation private` (a mount
/// namespace of the test's own), a fresh tmpfs holding a TUN node made with `mknod`
/// and bind-mounted over `/dev/net/tun` — only that mount namespace sees it, the host's
/// device keeps its mode — then `setpriv` to `nobody` with no capabilities left, the
/// same way as [`netlab_unprivileged`]. Its directories vanish with it.
pub struct Learner {
    dir: tempfile::TempDir,
    tun: Tun,
    private_tmp: bool,
}

/// Runs in the new mount namespace: $1 the tmpfs mount point, $2 the node's mode,
/// $3 "1" for a private /tmp, $4 a directory under /tmp that must stay visible through
/// it (the build's target/ when the checkout lives in /tmp: the binary and the
/// learner's out/ are there), or ""; then the command. The kept directory is opened
/// before the tmpfs covers it and bound back through its descriptor.
const LEARNER_SETUP: &str = r#"set -e
mount -t tmpfs -o size=64k,mode=0755 netlab-learner "$1"
mknod -m "$2" "$1/tun" c 10 200
mount --bind "$1/tun" /dev/net/tun
if [ "$3" = 1 ]; then
  if [ -n "$4" ]; then exec 9<"$4"; fi
  mount -t tmpfs -o size=256m,mode=1777 netlab-tmp /tmp
  if [ -n "$4" ]; then
    mkdir -p "$4"
    mount --no-canonicalize --bind /proc/self/fd/9 "$4"
    exec 9<&-
  fi
fi
shift 4
exec "$@""#;

/// The build's target/ directory when it lies under /tmp (a checkout there), which a
/// private /tmp would hide; else "".
fn kept_under_tmp() -> String {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside target/");
    if target.starts_with("/tmp") {
        target.to_string_lossy().into_owned()
    } else {
        String::new()
    }
}

impl Learner {
    pub fn new(tun: Tun) -> Learner {
        use std::os::unix::fs::PermissionsExt;
        // Under target/ rather than /tmp, which a learner may get a private one of.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary directory");
        // nobody must reach out/ (its -w files) through it.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for (sub, mode) in [("mnt", 0o755), ("out", 0o777)] {
            let p = dir.path().join(sub);
            std::fs::create_dir(&p).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        Learner {
            dir,
            tun,
            private_tmp: false,
        }
    }

    /// Gives the learner a /tmp of its own (a tmpfs in its mount namespace), for
    /// commands that write fixed paths there (the lessons).
    pub fn with_private_tmp(mut self) -> Learner {
        self.private_tmp = true;
        self
    }

    /// A directory the learner may write into (for `-w` files the test reads back).
    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// `program` run as the learner.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let setpriv = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ];
        let mut c = match self.tun {
            Tun::Host => {
                let mut c = Command::new(setpriv[0]);
                c.args(&setpriv[1..]);
                c
            }
            Tun::Open | Tun::Closed => {
                let mut c = Command::new("unshare");
                c.args([
                    "-m",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    LEARNER_SETUP,
                    "sh",
                ])
                .arg(self.dir.path().join("mnt"))
                .arg(if self.tun == Tun::Open { "666" } else { "600" })
                .arg(if self.private_tmp { "1" } else { "0" })
                .arg(kept_under_tmp())
                .args(setpriv);
                c
            }
        };
        c.arg(program).env_remove("NO_COLOR");
        c
    }

    /// `netlab` run as the learner.
    pub fn netlab(&self) -> Command {
        self.command(env!("CARGO_BIN_EXE_netlab"))
    }
}
