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
