//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

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
/// $3 "1" for a private /tmp; then the command.
const LEARNER_SETUP: &str = r#"set -e
mount -t tmpfs -o size=64k,mode=0755 netlab-learner "$1"
mknod -m "$2" "$1/tun" c 10 200
mount --bind "$1/tun" /dev/net/tun
if [ "$3" = 1 ]; then mount -t tmpfs -o size=256m,mode=1777 netlab-tmp /tmp; fi
shift 3
exec "$@""#;

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
