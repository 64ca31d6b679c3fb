//! `netlab capture`: live packets on lo. Each test sends its own UDP datagrams to a port
//! it holds (so tests running in parallel, and other traffic on lo, never match its
//! filter), and starts sending only once netlab says it is capturing. Needs root
//! (CAP_NET_RAW) except the filter and privilege checks.

use std::io::{BufRead, BufReader, Read};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use serde_json::Value;

use crate::common::{Need, netlab, require};

/// What the tests that need root need it for.
const ROOT: &str = "CAP_NET_RAW for a packet socket";

/// A running `netlab capture`, its output lines arriving on channels.
struct Capture {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

fn lines(r: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Capture {
    /// Starts `netlab capture ARGS` and waits until it says it is capturing.
    fn start(args: &[&str]) -> Capture {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
            .arg("capture")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run netlab");
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        let mut c = Capture {
            child,
            stdout,
            stderr,
        };
        match c.stderr.recv_timeout(Duration::from_secs(10)) {
            Ok(l) if l.contains("capturing on lo") => {}
            other => {
                let _ = c.child.kill();
                panic!("netlab did not start capturing: {other:?}");
            }
        }
        c
    }

    /// The next `n` lines of standard output (at most 10 s for all).
    fn stdout_lines(&mut self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut v = Vec::new();
        while v.len() < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(l) => v.push(l),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("only {} of {n} lines came: {v:?}", v.len());
                }
            }
        }
        v
    }

    /// Everything netlab prints until it exits (at most 10 s).
    fn rest_of_stdout(&mut self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut text = String::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(l) => {
                    text.push_str(&l);
                    text.push('\n');
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return text,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("netlab capture did not end: {text}");
                }
            }
        }
    }

    /// Waits for the exit (killing netlab after 10 s); the status code and the rest
    /// of standard error.
    fn finish(mut self) -> (Option<i32>, String) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("netlab capture did not stop");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let err: Vec<String> = self.stderr.iter().collect();
        (status.code(), err.join("\n"))
    }
}

/// A UDP port on 127.0.0.1 that this test holds (the socket receives what we send).
fn held_port() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

fn send(port: u16, payloads: &[&[u8]]) {
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for p in payloads {
        tx.send_to(p, ("127.0.0.1", port)).unwrap();
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn sees_the_tests_own_datagrams_and_saves_them_for_tshark() {
    require!(Need::Root(ROOT));
    let (_rx, port) = held_port();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("lo.pcap");
    let filter = format!("udp.port == {port}");
    let mut cap = Capture::start(&[
        "-i",
        "lo",
        "--filter",
        &filter,
        "-c",
        "3",
        "--json",
        "-w",
        pcap.to_str().unwrap(),
    ]);
    let payloads: [&[u8]; 3] = [b"first datagram", b"second", b"third and last"];
    send(port, &payloads);
    let got = cap.stdout_lines(3);
    let (code, err) = cap.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("3 packets captured"), "{err}");
    for (line, payload) in got.iter().zip(payloads) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let f = &v["fields"];
        assert_eq!(f["udp.dstport"].as_u64(), Some(port as u64), "{line}");
        assert_eq!(f["ip.dst"], "127.0.0.1", "{line}");
        assert_eq!(
            f["data.data"].as_str(),
            Some(hex(payload).as_str()),
            "{line}"
        );
        assert_eq!(f["udp.length"].as_u64(), Some(8 + payload.len() as u64));
        // lo's frames carry an Ethernet header with zero addresses, each seen once.
        assert_eq!(v["layers"][0], "eth", "{line}");
    }
    // tshark reads the file: the same three frames, ports and payloads.
    let out = Command::new("tshark")
        .args(["-r", pcap.to_str().unwrap(), "-T", "fields"])
        .args([
            "-e",
            "frame.protocols",
            "-e",
            "udp.dstport",
            "-e",
            "data.data",
        ])
        .output()
        .expect("tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let want: Vec<String> = payloads
        .iter()
        .map(|p| format!("eth:ethertype:ip:udp:data\t{port}\t{}", hex(p)))
        .collect();
    assert_eq!(rows, want);
}

#[test]
fn ctrl_c_stops_cleanly_with_the_count() {
    require!(Need::Root(ROOT));
    let (_rx, port) = held_port();
    let filter = format!("udp.port == {port}");
    let mut cap = Capture::start(&["--filter", &filter]);
    send(port, &[b"one", b"two"]);
    let got = cap.stdout_lines(2);
    assert!(got.iter().all(|l| l.contains(&port.to_string())), "{got:?}");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(cap.child.id() as i32, libc::SIGINT) };
    let (code, err) = cap.finish();
    assert_eq!(code, Some(0), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("2 packets captured"), "{err}");
}

#[test]
fn verbose_and_hex_print_what_dissect_prints_for_the_saved_file() {
    require!(Need::Root(ROOT));
    let (_rx, port) = held_port();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("one.pcap");
    let filter = format!("udp.port == {port}");
    let args = [
        "--color",
        "never",
        "-v",
        "-x",
        "-c",
        "1",
        "--filter",
        &filter,
        "-w",
        pcap.to_str().unwrap(),
    ];
    let mut cap = Capture::start(&args);
    send(port, &[b"netlab-hex-check"]);
    let live = cap.rest_of_stdout();
    let (code, err) = cap.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        live.contains(&hex(b"netlab-hex-check")),
        "the payload: {live}"
    );
    assert!(live.contains("Legend:"), "the hex dump: {live}");
    assert!(live.contains(&format!("Dst Port: {port}")), "{live}");
    // One pipeline: the live text is the text `netlab dissect` prints for the saved
    // frame, but for the frame's number (frames on lo the filter left out count too).
    let out = netlab()
        .args(["--color", "never", "dissect", "-v", "-x"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(out.status.success());
    let from_file = String::from_utf8(out.stdout).unwrap();
    let unnumbered = |s: &str| s.split_once(':').map(|(_, rest)| rest.to_string()).unwrap();
    assert_eq!(unnumbered(&live), unnumbered(&from_file));
}

#[test]
fn a_bad_filter_is_reported_before_anything_else() {
    let out = netlab()
        .args(["capture", "--filter", "udp.port = = 9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("netlab: error: bad filter `udp.port = = 9`"),
        "{err}"
    );
    assert!(err.contains("column"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn an_unknown_interface_names_the_ones_there_are() {
    require!(Need::Root(ROOT));
    let out = netlab()
        .args(["capture", "-i", "netlab-no-such0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no interface `netlab-no-such0`") && err.contains("lo"),
        "{err}"
    );
}

#[test]
fn without_cap_net_raw_the_remedy_is_printed() {
    require!(Need::Root(ROOT));
    let out = crate::common::netlab_unprivileged()
        .args(["capture", "-c", "1"])
        .output()
        .expect("setpriv (util-linux)");
    crate::common::assert_privilege_error(&out, "CAP_NET_RAW");
}
