//! A real browser against `netlab ws serve`: headless Chromium loads `/?selftest`, whose
//! script (the page in src/commands/ws.rs) sends a text and a 300-byte binary message
//! through the browser's own WebSocket API, checks both echoes and writes its verdict
//! into the DOM. Everything runs on 127.0.0.1. Chromium is installed by
//! `./scripts/test.sh` (Debian package `chromium`).

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Listening, chromium, netlab, require};

const CHROMIUM: &str = "/usr/bin/chromium";
/// How long Chromium may take before it is killed.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

/// A spawned process, killed when the test ends however it ends.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` to completion with its stdout in `out`, killing it after `limit`.
fn run_with_timeout(mut cmd: Command, out: &Path, limit: Duration) -> std::process::ExitStatus {
    let child = cmd
        .stdout(File::create(out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut child = Spawned(child);
    let start = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < limit,
            "Chromium did not finish within {} s (killed)",
            limit.as_secs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn chromium_selftest_page_gets_its_text_and_binary_echoes() {
    require!(chromium());
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = netlab();
    cmd.args(["ws", "serve", "--echo", "--trace", "--addr", "127.0.0.1:0"]);
    let server = Listening::start(cmd);
    let addr = server.addr.clone();

    let profile = dir.path().join("profile");
    let dom = dir.path().join("dom.html");
    let mut chromium = Command::new(CHROMIUM);
    chromium.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        &format!("--user-data-dir={}", profile.display()),
        "--virtual-time-budget=10000",
        "--dump-dom",
        &format!("http://{addr}/?selftest"),
    ]);
    let status = run_with_timeout(chromium, &dom, BROWSER_TIMEOUT);
    let dom = std::fs::read_to_string(&dom).unwrap();
    assert!(status.success(), "Chromium failed ({status}); DOM:\n{dom}");
    // The browser has closed; give the server a moment to log the closing handshake.
    std::thread::sleep(Duration::from_millis(300));
    let log = server.output();
    println!("server trace:\n{log}");

    assert!(
        dom.contains(r#"<pre id="result">selftest: text ok, binary ok</pre>"#),
        "the selftest page did not report success; DOM:\n{dom}\nserver:\n{log}"
    );
    assert!(log.contains("GET /?selftest (plain HTTP) → 200"), "{log}");
    assert!(log.contains("open: GET / → 101"), "{log}");
    // The browser's frames, masked as a client's must be (RFC 6455 § 5.3) ...
    assert!(
        log.contains("← frame FIN=1 RSV=000 opcode=0x1 (Text) MASK=1 len=31"),
        "no masked text frame from the browser:\n{log}"
    );
    assert!(
        log.contains("← frame FIN=1 RSV=000 opcode=0x2 (Binary) MASK=1 len=300 (7+16-bit)"),
        "no masked binary frame from the browser:\n{log}"
    );
    // ... and the server's echoes, unmasked.
    assert!(
        log.contains("→ frame FIN=1 RSV=000 opcode=0x1 (Text) MASK=0 len=31"),
        "{log}"
    );
    assert!(
        log.contains("→ frame FIN=1 RSV=000 opcode=0x2 (Binary) MASK=0 len=300"),
        "{log}"
    );
}
