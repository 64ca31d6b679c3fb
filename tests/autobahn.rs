//! The Autobahn|Testsuite against `netlab ws serve --echo` (cases 1.* to 10.*): every case
//! OK, NON-STRICT or INFORMATIONAL, none FAILED. The report's summary is printed.
//! Where no Python 2.7 exists the script says so and this test reports it as skipped.

use std::process::Command;

use crate::common::root;

#[test]
fn autobahn_fuzzingclient_finds_no_failure() {
    let out = Command::new(root().join("scripts/autobahn.sh"))
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .output()
        .expect("run scripts/autobahn.sh");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    if out.status.code() == Some(77) {
        eprintln!("SKIPPED: {}", text.trim());
        return;
    }
    assert!(out.status.success(), "Autobahn found failures:\n{text}");
    assert!(text.contains("none FAILED"), "{text}");
}
