//! The Autobahn|Testsuite against `netlab ws serve --echo` (cases 1.* to 10.*): every case
//! OK, NON-STRICT or INFORMATIONAL, none FAILED. The report's summary is printed.
//! Where no Python 2.7 exists the script says so (exit 77) and this test reports it as
//! skipped — a failure where CI requires the peers (`NETLAB_REQUIRE_PEERS=1`).

use std::process::Command;

use crate::common::{Need, available, root};

/// Runs one of the Autobahn scripts against this build of netlab and prints its summary.
/// Exit 77 means "no Python 2.7 here": a skip, through [`available`]. Shared with
/// `autobahn_client`.
pub fn run_autobahn_script(script: &str) {
    let out = Command::new(root().join(script))
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    if out.status.code() == Some(77) {
        let why = format!("Python 2.7 for the Autobahn|Testsuite ({})", text.trim());
        assert!(!available(Need::Peer(why, false)));
        return;
    }
    assert!(out.status.success(), "Autobahn found failures:\n{text}");
    assert!(text.contains("none FAILED"), "{text}");
}

#[test]
fn autobahn_fuzzingclient_finds_no_failure() {
    run_autobahn_script("scripts/autobahn.sh");
}
