//! No sudo: every sandboxed command as an ordinary user, on the real kernel stack,
//! through a user namespace netlab makes itself.
//!
//! Root plays the learner ([`Learner`]): a private mount namespace where a 0666 TUN node
//! is bound over `/dev/net/tun` (a distribution default; the host's device keeps its
//! mode), then `setpriv` to `nobody` with no capabilities. Every run is watched
//! ([`run_watched`]): the namespaces netlab's threads and children were seen in must all
//! be gone afterwards, with no process left, no link on the host, and the host's
//! `/dev/net/tun` unchanged. Without root, or where this machine closes user namespaces
//! to ordinary users, the tests say they are skipped.

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, Learner, Tun};
use crate::handshake::{ACK, SYN, assert_handshake, delivered_text, flags, packets, summary};

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<&'static str> {
    static WHY: OnceLock<Option<&'static str>> = OnceLock::new();
    *WHY.get_or_init(|| {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Some("playing the ordinary user needs root (mount namespace, mknod, setpriv); CI runs as root");
        }
        // util-linux's unshare, not netlab: is the way open on this machine at all?
        let open = Learner::new(Tun::Open)
            .command("unshare")
            .args(["-Urn", "true"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        (!open).then_some(
            "this machine forbids ordinary users user namespaces (`unshare -Urn true` as nobody failed)",
        )
    })
}

/// Returns from the test when it cannot run here (through `common::available`: where CI
/// requires root or the machine's features, a skip is a failure).
macro_rules! as_learner {
    () => {
        crate::common::require!(crate::common::Need::Root(
            "playing the ordinary user (mount namespace, mknod, setpriv)"
        ));
        if let Some(why) = skip_reason() {
            crate::common::require!(crate::common::Need::Peer(why.to_string(), false));
        }
    };
}

// ---------------------------------------------------------------------------------------
// Watching a run, and checking that nothing is left
// ---------------------------------------------------------------------------------------

/// The host as the test found it.
struct Host {
    tun: (u32, u64),
    own_ns: BTreeSet<String>,
}

const NS_KINDS: [&str; 4] = ["net", "user", "pid", "mnt"];

fn ns_links(dir: &Path) -> Vec<String> {
    NS_KINDS
        .iter()
        .filter_map(|k| std::fs::read_link(dir.join("ns").join(k)).ok())
        .map(|l| l.to_string_lossy().into_owned())
        .collect()
}

fn tun_stat() -> (u32, u64) {
    let m = std::fs::metadata("/dev/net/tun").expect("/dev/net/tun");
    (m.mode(), m.rdev())
}

impl Host {
    fn now() -> Host {
        Host {
            tun: tun_stat(),
            own_ns: ns_links(Path::new("/proc/self")).into_iter().collect(),
        }
    }
}

fn numeric_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Every namespace `pid`, its threads and its descendants are in now (the host's own
/// left out).
fn record(pid: u32, host: &Host, seen: &mut BTreeSet<String>) {
    for task in numeric_dirs(&Path::new("/proc").join(pid.to_string()).join("task")) {
        for l in ns_links(&task) {
            if !host.own_ns.contains(&l) {
                seen.insert(l);
            }
        }
        if let Ok(children) = std::fs::read_to_string(task.join("children")) {
            for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                record(c, host, seen);
            }
        }
    }
}

/// Processes whose environment carries `tag`.
fn tagged(tag: &str) -> Vec<u32> {
    let needle = format!("NETLAB_TEST_TAG={tag}");
    numeric_dirs(Path::new("/proc"))
        .into_iter()
        .filter(|p| {
            std::fs::read(p.join("environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
        })
        .filter_map(|p| p.file_name()?.to_str()?.parse().ok())
        .collect()
}

/// Namespaces of `seen` that some process still holds (as a member, or through a
/// descriptor).
fn still_held(seen: &BTreeSet<String>) -> Vec<String> {
    let mut held = Vec::new();
    for p in numeric_dirs(Path::new("/proc")) {
        let mut links: Vec<String> = Vec::new();
        for task in numeric_dirs(&p.join("task")) {
            links.extend(ns_links(&task));
        }
        if let Ok(fds) = std::fs::read_dir(p.join("fd")) {
            links.extend(
                fds.filter_map(|e| e.ok())
                    .filter_map(|e| std::fs::read_link(e.path()).ok())
                    .map(|l| l.to_string_lossy().into_owned()),
            );
        }
        for l in links {
            if seen.contains(&l) {
                held.push(format!("{l} held by {}", p.display()));
            }
        }
    }
    held
}

fn host_links() -> String {
    let out = Command::new("ip").args(["-o", "link"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Nothing of the run is left: no process, no namespace, no link on the host, and the
/// host's /dev/net/tun as it was.
fn assert_clean(tag: &str, seen: &BTreeSet<String>, host: &Host) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while !tagged(tag).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = tagged(tag);
    for &pid in &left {
        // SAFETY: processes this test started (they carry its tag): not left behind by
        // the test either.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    assert_eq!(left, Vec::<u32>::new(), "processes of the run left");
    // A process that has just exited may hold its namespaces for a moment longer (on a
    // loaded machine, long enough to be seen): give them the same 3 s.
    let deadline = Instant::now() + Duration::from_secs(3);
    while !still_held(seen).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(still_held(seen), Vec::<String>::new(), "namespaces left");
    let links = host_links();
    for name in ["netlab0", "race-a", "race-b"] {
        assert!(
            !links.contains(&format!(": {name}")),
            "{name} on the host: {links}"
        );
    }
    assert_eq!(tun_stat(), host.tun, "the host's /dev/net/tun changed");
}

fn read_all(r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut r = r;
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// A learner's run, watched.
struct Run {
    child: Child,
    tag: String,
    host: Host,
    seen: BTreeSet<String>,
    out: Option<std::thread::JoinHandle<Vec<u8>>>,
    err: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Run {
    fn start(mut cmd: Command) -> Run {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let tag = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let host = Host::now();
        let mut child = cmd
            .env("NETLAB_TEST_TAG", &tag)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare and setpriv (util-linux)");
        let out = Some(read_all(child.stdout.take().unwrap()));
        let err = Some(read_all(child.stderr.take().unwrap()));
        Run {
            child,
            tag,
            host,
            seen: BTreeSet::new(),
            out,
            err,
        }
    }

    /// Watches for `d` (or until the run ends).
    fn watch_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until && self.child.try_wait().unwrap().is_none() {
            record(self.child.id(), &self.host, &mut self.seen);
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child (unshare and setpriv exec in place: netlab).
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for the end, then checks that nothing is left.
    fn finish(mut self) -> (Output, BTreeSet<String>) {
        self.watch_for(Duration::from_secs(120));
        let status = self.child.wait().unwrap();
        // Before reading the output to its end: a process left behind would hold the
        // pipes open.
        assert_clean(&self.tag, &self.seen, &self.host);
        let output = Output {
            status,
            stdout: self.out.take().unwrap().join().unwrap(),
            stderr: self.err.take().unwrap().join().unwrap(),
        };
        (output, self.seen)
    }
}

/// Runs `cmd` to its end, watched; nothing may be left afterwards.
fn run_watched(cmd: Command) -> (Output, BTreeSet<String>) {
    Run::start(cmd).finish()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}\n{}", text(&out.stderr));
    text(&out.stdout)
}

fn ndjson(out: &Output) -> Vec<Value> {
    common::ndjson(out)
}

fn has_ns(seen: &BTreeSet<String>, kind: &str) -> usize {
    seen.iter()
        .filter(|l| l.starts_with(&format!("{kind}:")))
        .count()
}

// ---------------------------------------------------------------------------------------
// tcp-handshake
// ---------------------------------------------------------------------------------------

#[test]
fn handshake_as_a_learner_with_a_pcap_tshark_reads() {
    as_learner!();
    let learner = Learner::new(Tun::Open);
    let pcap = learner.out().join("hs.pcap");
    let mut cmd = learner.netlab();
    cmd.args(["tcp-handshake", "--json", "--send", "no sudo", "-w"])
        .arg(&pcap);
    let (out, seen) = run_watched(cmd);
    let ev = ndjson(&out);
    assert_handshake(&ev, true);
    assert_eq!(delivered_text(&ev), "no sudo", "the kernel echoed");
    assert_eq!(summary(&ev)["state"], "CLOSED");
    // It ran inside a user and a network namespace of its own (TIME-WAIT keeps it 2 s).
    assert!(
        has_ns(&seen, "user") >= 1 && has_ns(&seen, "net") >= 1,
        "{seen:?}"
    );
    // The file is the learner's, and tshark reads exactly the delivered packets.
    assert_eq!(std::fs::metadata(&pcap).unwrap().uid(), 65534);
    let delivered: Vec<&Value> = packets(&ev)
        .into_iter()
        .filter(|p| p["dropped"] == false)
        .collect();
    let t = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "tcp.flags",
            "-e",
            "tcp.seq_raw",
            "-e",
            "tcp.len",
        ])
        .output()
        .expect("tshark");
    let rows: Vec<Vec<u64>> = text(&t.stdout)
        .lines()
        .map(|l| {
            l.split('\t')
                .map(|v| match v.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16).unwrap(),
                    None => v.parse().unwrap(),
                })
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), delivered.len(), "{}", text(&t.stderr));
    for (r, p) in rows.iter().zip(&delivered) {
        assert_eq!(
            (r[0], r[1], r[2]),
            (
                flags(p),
                p["seq_raw"].as_u64().unwrap(),
                p["len"].as_u64().unwrap()
            ),
            "{p}"
        );
    }
}

#[test]
fn handshake_as_a_learner_passive_open() {
    as_learner!();
    let learner = Learner::new(Tun::Open);
    let mut cmd = learner.netlab();
    cmd.args([
        "tcp-handshake",
        "--json",
        "--role",
        "server",
        "--send",
        "hi",
    ]);
    let ev = ndjson(&run_watched(cmd).0);
    assert_handshake(&ev, false);
    assert_eq!(delivered_text(&ev), "hi");
}

#[test]
fn handshake_as_a_learner_kernel_retransmits_a_dropped_syn_ack() {
    as_learner!();
    let learner = Learner::new(Tun::Open);
    let mut cmd = learner.netlab();
    cmd.args(["tcp-handshake", "--json", "--drop", "syn-ack"]);
    let ev = ndjson(&run_watched(cmd).0);
    let synacks: Vec<&Value> = packets(&ev)
        .into_iter()
        .filter(|p| flags(p) & (SYN | ACK) == SYN | ACK)
        .collect();
    assert!(
        synacks.len() >= 2 && synacks[0]["dropped"] == true,
        "{ev:?}"
    );
    let gap = synacks[1]["t_ms"].as_f64().unwrap() - synacks[0]["t_ms"].as_f64().unwrap();
    assert!(gap > 900.0, "the kernel's RTO is about 1 s, got {gap} ms");
    assert!(summary(&ev)["peer_retransmissions"].as_u64().unwrap() >= 1);
}

#[test]
fn ctrl_c_as_a_learner_leaves_nothing_behind() {
    as_learner!();
    let learner = Learner::new(Tun::Open);
    let mut cmd = learner.netlab();
    cmd.args(["tcp-handshake", "--delay", "3000", "--send", "slow"]);
    let mut run = Run::start(cmd);
    run.watch_for(Duration::from_millis(800));
    run.signal(libc::SIGINT);
    let (out, seen) = run.finish();
    assert!(!out.status.success(), "interrupted: {out:?}");
    assert!(has_ns(&seen, "net") >= 1, "seen while it ran: {seen:?}");
}

// ---------------------------------------------------------------------------------------
// race
// ---------------------------------------------------------------------------------------

#[test]
fn race_as_a_learner_tcp_delivers_all_in_order_udp_loses() {
    as_learner!();
    let learner = Learner::new(Tun::Open);
    let pcap = learner.out().join("race.pcap");
    let mut cmd = learner.netlab();
    cmd.args([
        "race", "--json", "--loss", "20%", "--count", "100", "--seed", "1", "-w",
    ])
    .arg(&pcap);
    let mut run = Run::start(cmd);
    // While it runs: every thread in one user namespace, not the host's, where nobody
    // (65534) is root.
    let mut users = BTreeSet::new();
    let mut uid_map = String::new();
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until && run.child.try_wait().unwrap().is_none() {
        let pid = run.child.id();
        for task in numeric_dirs(&Path::new("/proc").join(pid.to_string()).join("task")) {
            if let Ok(l) = std::fs::read_link(task.join("ns/user")) {
                users.insert(l.to_string_lossy().into_owned());
            }
        }
        if let Ok(m) = std::fs::read_to_string(format!("/proc/{pid}/uid_map")) {
            uid_map = m;
        }
        run.watch_for(Duration::from_millis(5));
    }
    let (out, seen) = run.finish();
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    let n = |s: &Value, k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k}: {v}"));
    let (tcp, udp) = (&v["tcp"], &v["udp"]);
    assert_eq!(tcp["finished"], true, "{v}");
    assert_eq!(
        (n(tcp, "delivered"), n(tcp, "in_order"), n(tcp, "lost")),
        (100, 100, 0),
        "{v}"
    );
    assert!(n(udp, "lost") > 0, "{v}");
    assert_eq!(n(udp, "lost"), n(&v["wire"]["udp"], "dropped"), "{v}");
    users.retain(|u| !Host::now().own_ns.contains(u));
    assert_eq!(users.len(), 1, "one user namespace: {users:?}");
    assert_eq!(
        uid_map.split_whitespace().collect::<Vec<_>>(),
        ["0", "65534", "1"],
        "root inside is nobody outside"
    );
    assert!(has_ns(&seen, "net") >= 1, "{seen:?}");
    // The wire's pcap, read by tshark: UDP datagrams and TCP segments both ways.
    let t = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args(["-T", "fields", "-e", "ip.src", "-e", "ip.proto"])
        .output()
        .expect("tshark");
    let rows = text(&t.stdout);
    for want in ["10.0.0.2\t17", "10.0.0.2\t6", "10.0.0.1\t6"] {
        assert!(rows.lines().any(|l| l == want), "no {want:?} in {rows}");
    }
}

// ---------------------------------------------------------------------------------------
// socketio demo and capture -- CMD: no TUN device needed, so they run with the host's
// /dev/net/tun as it is (0600 here).
// ---------------------------------------------------------------------------------------

#[test]
fn socketio_demo_as_a_learner_shows_the_tcp_ip_layers() {
    as_learner!();
    let learner = Learner::new(Tun::Host);
    let mut cmd = learner.netlab();
    cmd.args(["socketio", "demo"]);
    let (out, _) = run_watched(cmd);
    let t = ok(&out);
    for needle in [
        "in a private network namespace",
        "trace: TCP/IP/link layers from a packet socket on lo",
        r#"→ emit("chat", "hi", ack => {…})"#,
        "└─ TCP segment #",
        "└─ IPv4 127.0.0.1 → 127.0.0.1",
        "└─ Ethernet II on lo 00:00:00:00:00:00 → 00:00:00:00:00:00",
        r#"← ack #0 for "chat": ("hi")"#,
    ] {
        assert!(t.contains(needle), "no {needle:?} in:\n{t}");
    }
    assert!(!t.contains("no CAP_NET_RAW"), "{t}");
}

/// A loopback exchange for `capture -- CMD`: a TCP server and client in one Python
/// process, then its identity and its interfaces on standard error.
const EXCHANGE: &str = r#"
import os, socket, sys
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
cli = socket.create_connection(srv.getsockname())
conn, _ = srv.accept()
cli.sendall(b"hello from inside"); assert conn.recv(100) == b"hello from inside"
conn.sendall(b"and back"); assert cli.recv(100) == b"and back"
cli.close(); conn.close(); srv.close()
print("uid", os.getuid(), "ifaces", sorted(n for _, n in socket.if_nameindex()), file=sys.stderr)
sys.exit(3)
"#;

#[test]
fn capture_cmd_as_a_learner_explains_and_saves_its_packets() {
    as_learner!();
    let learner = Learner::new(Tun::Host);
    let pcap = learner.out().join("cmd.pcap");
    let mut cmd = learner.netlab();
    cmd.args(["capture", "--json", "-w"])
        .arg(&pcap)
        .args(["--", "python3", "-c", EXCHANGE]);
    let (out, _) = run_watched(cmd);
    let err = text(&out.stderr);
    // CMD's status is netlab's, and it ran as the learner, seeing lo alone.
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("uid 65534 ifaces ['lo']"), "{err}");
    assert!(err.contains("`python3` exited with status 3"), "{err}");
    let packets = common::json_lines(&text(&out.stdout));
    // The handshake, both payloads and the teardown, each packet once.
    let f = |p: &Value, k: &str| p["fields"][k].clone();
    let syns = packets
        .iter()
        .filter(|p| f(p, "tcp.flags.syn") == true)
        .count();
    assert_eq!(syns, 2, "SYN and SYN-ACK: {packets:?}");
    let payload_lens: Vec<u64> = packets
        .iter()
        .filter_map(|p| f(p, "tcp.len").as_u64())
        .filter(|&n| n > 0)
        .collect();
    assert_eq!(payload_lens, [17, 8], "{packets:?}");
    assert!(
        packets
            .iter()
            .filter(|p| f(p, "tcp.flags.fin") == true)
            .count()
            >= 2,
        "{packets:?}"
    );
    assert!(
        err.contains(&format!("{} packets captured", packets.len())),
        "{err}"
    );
    // The file holds the same packets; tshark reads them (Ethernet, as lo records).
    let t = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "tcp.len",
            "-e",
            "data.text",
            "-o",
            "data.show_as_text:TRUE",
        ])
        .output()
        .expect("tshark");
    let rows = text(&t.stdout);
    assert_eq!(
        rows.lines().count(),
        packets.len(),
        "{rows}{}",
        text(&t.stderr)
    );
    assert!(rows.contains("hello from inside"), "{rows}");
}

#[test]
fn capture_cmd_ends_what_it_left_running_and_passes_signals_on() {
    as_learner!();
    let learner = Learner::new(Tun::Host);
    // A server left in the background outlives the shell, but not the capture.
    let mut cmd = learner.netlab();
    cmd.args([
        "capture",
        "--",
        "sh",
        "-c",
        "python3 -c 'import socket,time; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(); time.sleep(600)' & sleep 0.3; exit 0",
    ]);
    let (out, seen) = run_watched(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        has_ns(&seen, "pid") >= 1,
        "CMD ran in a PID namespace: {seen:?}"
    );
    // SIGINT sent to netlab (not from a terminal) reaches CMD: ended by it, 128 + 2.
    let mut cmd = learner.netlab();
    cmd.args(["capture", "--", "sleep", "600"]);
    let mut run = Run::start(cmd);
    run.watch_for(Duration::from_millis(500));
    run.signal(libc::SIGINT);
    let (out, _) = run.finish();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("`sleep` was ended by signal 2 (SIGINT)"));
    // CMD gets SIGPIPE's default action back (Rust ignores it, and exec keeps that).
    let mut cmd = learner.netlab();
    cmd.args(["capture", "--", "grep", "SigIgn", "/proc/self/status"]);
    let (out, _) = run_watched(cmd);
    let ignored = text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|m| u64::from_str_radix(m.trim(), 16).unwrap())
        .unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!(
        ignored & (1 << (libc::SIGPIPE - 1)),
        0,
        "SIGPIPE ignored in CMD"
    );
    // A command that is nowhere: 127, as a shell says.
    let mut cmd = learner.netlab();
    cmd.args(["capture", "--", "netlab-no-such-command"]);
    let (out, _) = run_watched(cmd);
    assert_eq!(out.status.code(), Some(127));
    assert!(text(&out.stderr).contains("cannot run `netlab-no-such-command`: not found"));
}

// ---------------------------------------------------------------------------------------
// Where the way is closed
// ---------------------------------------------------------------------------------------

#[test]
fn with_a_0600_tun_device_the_error_names_it_and_the_remedies() {
    as_learner!();
    // The host's own device when it is 0600 (as on this project's CI machine), else a
    // 0600 node in the learner's mount namespace.
    let host_mode = tun_stat().0 & 0o777;
    let learner = Learner::new(if host_mode & 0o006 == 0 {
        Tun::Host
    } else {
        Tun::Closed
    });
    for (command, simulate) in [("tcp-handshake", true), ("race", false)] {
        let mut cmd = learner.netlab();
        cmd.arg(command);
        let (out, _) = run_watched(cmd);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(out.stdout.is_empty());
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("netlab: error: "), "{err}");
        for needle in [
            "/dev/net/tun is 0600",
            "most distributions ship 0666",
            &format!("sudo netlab {command} …"),
            "sudo chmod 0666 /dev/net/tun",
        ] {
            assert!(err.contains(needle), "no {needle:?} in {err}");
        }
        assert_eq!(err.contains("--simulate"), simulate, "{err}");
        // Reason first, then sudo, then the knob.
        let at = |s: &str| err.find(s).unwrap();
        assert!(at("/dev/net/tun is") < at("sudo netlab") && at("sudo netlab") < at("chmod"));
    }
}

// ---------------------------------------------------------------------------------------
// The course
// ---------------------------------------------------------------------------------------

#[test]
fn every_lesson_step_runs_as_a_learner_without_sudo() {
    as_learner!();
    let course = netlab::course::Course::built_in().unwrap();
    let mut steps = 0;
    for lesson in &course.lessons {
        for step in &lesson.steps {
            assert!(
                !step.command.sudo,
                "{}: step {} still asks for sudo: {}",
                lesson.path, step.number, step.command.text
            );
            steps += 1;
        }
    }
    assert!(steps >= 20, "only {steps} steps");
    // One learner runs every lesson with `netlab lesson run N --yes` (the course's own
    // runner: each step, its look-for text, its saved run), the state folder in out/.
    let learner = Learner::new(Tun::Open).with_private_tmp();
    let out = learner.out();
    let mut script = String::new();
    for lesson in &course.lessons {
        let n = lesson.number();
        script.push_str(&format!(
            "NETLAB_STATE_DIR=\"$1/state\" netlab lesson run {n} --yes >\"$1/{n}.out\" 2>\"$1/{n}.err\" </dev/null; echo $? >\"$1/{n}.status\"\n"
        ));
    }
    let mut cmd = learner.command("sh");
    cmd.args(["-c", &script, "sh"])
        .arg(&out)
        .env("PATH", crate::lessons::path_with_netlab());
    let (done, _) = run_watched(cmd);
    assert!(done.status.success(), "{done:?}");
    for lesson in &course.lessons {
        let n = lesson.number();
        let read = |ext: &str| std::fs::read_to_string(out.join(format!("{n}.{ext}"))).unwrap();
        assert_eq!(
            read("status").trim(),
            "0",
            "{}: `netlab lesson run {n} --yes` failed as a learner:\n{}\n{}",
            lesson.path,
            read("out"),
            read("err")
        );
        for step in &lesson.steps {
            assert!(
                read("out").contains(&format!("✓ step {} done", step.number)),
                "{}: step {} (`{}`) not done as a learner:\n{}",
                lesson.path,
                step.number,
                step.command.text,
                read("out")
            );
        }
    }
}
