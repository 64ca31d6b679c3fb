//! `netlab tcp-handshake`: netlab's own TCP endpoint against the real Linux TCP stack in
//! a private namespace (needs root: CI runs as root; elsewhere those tests say they are
//! skipped), and against itself with `--simulate` (no privileges).

use std::process::Command;

use serde_json::Value;

use crate::common::{self, Need, netlab, require};

/// What the tests that need root need it for.
const ROOT: &str = "CAP_NET_ADMIN for a network namespace and a TUN device";

/// Runs `netlab tcp-handshake --json ARGS`; returns the events.
fn events(args: &[&str]) -> Vec<Value> {
    let out = netlab()
        .arg("tcp-handshake")
        .arg("--json")
        .args(args)
        .output()
        .expect("run netlab");
    common::ndjson(&out)
}

pub(crate) fn packets(ev: &[Value]) -> Vec<&Value> {
    ev.iter().filter(|e| e["event"] == "packet").collect()
}

pub(crate) fn summary(ev: &[Value]) -> &Value {
    ev.iter()
        .find(|e| e["event"] == "summary")
        .expect("a summary event")
}

pub(crate) const SYN: u64 = 0x02;
pub(crate) const RST: u64 = 0x04;
pub(crate) const ACK: u64 = 0x10;
pub(crate) const FIN: u64 = 0x01;

pub(crate) fn flags(p: &Value) -> u64 {
    p["flags"].as_u64().unwrap_or(0)
}

/// The handshake is the first three delivered segments: SYN out, SYN-ACK in, ACK out,
/// with the arithmetic of RFC 9293 on the raw numbers.
pub(crate) fn assert_handshake(ev: &[Value], netlab_opens: bool) {
    let p: Vec<&Value> = packets(ev)
        .into_iter()
        .filter(|p| p["dropped"] == false)
        .collect();
    assert!(p.len() >= 3, "{ev:?}");
    let (first, second) = if netlab_opens {
        ("out", "in")
    } else {
        ("in", "out")
    };
    assert_eq!(
        (p[0]["dir"].as_str().unwrap(), flags(p[0]) & (SYN | ACK)),
        (first, SYN)
    );
    assert_eq!(
        (p[1]["dir"].as_str().unwrap(), flags(p[1]) & (SYN | ACK)),
        (second, SYN | ACK)
    );
    assert_eq!(
        (p[2]["dir"].as_str().unwrap(), flags(p[2]) & (SYN | ACK)),
        (first, ACK)
    );
    let isn_a = p[0]["seq_raw"].as_u64().unwrap();
    let isn_b = p[1]["seq_raw"].as_u64().unwrap();
    assert_eq!(
        p[1]["ack_raw"].as_u64().unwrap(),
        (isn_a + 1) % (1 << 32),
        "SYN-ACK acks ISN+1"
    );
    assert_eq!(
        p[2]["ack_raw"].as_u64().unwrap(),
        (isn_b + 1) % (1 << 32),
        "ACK acks their ISN+1"
    );
    assert_eq!(
        (p[0]["seq"].as_u64(), p[2]["seq"].as_u64()),
        (Some(0), Some(1))
    );
}

pub(crate) fn delivered_text(ev: &[Value]) -> String {
    ev.iter()
        .filter(|e| e["event"] == "deliver")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn simulate_needs_no_privileges() {
    let ev = events(&["--simulate", "--send", "hello"]);
    assert_handshake(&ev, true);
    assert_eq!(delivered_text(&ev), "hello");
    let s = summary(&ev);
    assert_eq!(s["state"], "CLOSED");
    assert_eq!(s["retransmissions"], 0);
    // Teardown: FIN from each side.
    let fins = packets(&ev).iter().filter(|p| flags(p) & FIN != 0).count();
    assert_eq!(fins, 2);
    assert!(
        ev.iter()
            .any(|e| e["event"] == "state" && e["to"] == "TIME-WAIT")
    );
}

#[test]
fn simulate_dropped_data_is_retransmitted() {
    let ev = events(&["--simulate", "--drop", "data", "--send", "lost once"]);
    assert!(
        packets(&ev)
            .iter()
            .any(|p| p["dropped"] == true && p["len"] == 9)
    );
    assert!(ev.iter().any(|e| e["event"] == "retransmit"));
    assert!(summary(&ev)["retransmissions"].as_u64().unwrap() >= 1);
    assert_eq!(delivered_text(&ev), "lost once");
}

#[test]
fn simulate_server_role_and_reorder() {
    let ev = events(&[
        "--simulate",
        "--role",
        "server",
        "--send",
        "a",
        "--send",
        "b",
        "--reorder",
    ]);
    assert_handshake(&ev, false);
    assert_eq!(delivered_text(&ev), "ab");
    assert!(
        summary(&ev)["dup_acks_received"].as_u64().unwrap() >= 1,
        "{:?}",
        summary(&ev)
    );
}

#[test]
fn kernel_handshake_data_teardown_and_pcap_agree_with_tshark() {
    require!(Need::Root(ROOT));
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("hs.pcap");
    let ev = events(&["--send", "hello kernel", "-w", pcap.to_str().unwrap()]);
    assert_handshake(&ev, true);
    assert_eq!(delivered_text(&ev), "hello kernel", "the kernel echoed");
    assert_eq!(summary(&ev)["state"], "CLOSED");
    // The pcap holds exactly the delivered packets; tshark reads the same numbers.
    let delivered: Vec<&Value> = packets(&ev)
        .into_iter()
        .filter(|p| p["dropped"] == false)
        .collect();
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "tcp.flags",
            "-e",
            "tcp.seq",
            "-e",
            "tcp.ack",
            "-e",
            "tcp.seq_raw",
            "-e",
            "tcp.len",
        ])
        .output()
        .expect("tshark");
    let rows: Vec<Vec<u64>> = String::from_utf8_lossy(&out.stdout)
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
    assert_eq!(rows.len(), delivered.len());
    for (r, p) in rows.iter().zip(&delivered) {
        assert_eq!(r[0], flags(p), "{p}");
        assert_eq!(r[1], p["seq"].as_u64().unwrap(), "{p}");
        assert_eq!(r[2], p["ack"].as_u64().unwrap(), "{p}");
        assert_eq!(r[3], p["seq_raw"].as_u64().unwrap(), "{p}");
        assert_eq!(r[4], p["len"].as_u64().unwrap(), "{p}");
    }
    // And netlab dissects its own file.
    let out = netlab().args(["dissect"]).arg(&pcap).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        delivered.len()
    );
}

#[test]
fn kernel_passive_open_and_ipv6() {
    require!(Need::Root(ROOT));
    let ev = events(&["--role", "server", "--send", "hi"]);
    assert_handshake(&ev, false);
    assert_eq!(delivered_text(&ev), "hi");
    let ev = events(&["--ipv6", "--send", "over v6"]);
    assert_handshake(&ev, true);
    assert_eq!(delivered_text(&ev), "over v6");
    // IPv6 packets: 40-byte header, so the SYN is 20 bytes longer than over IPv4.
    assert!(packets(&ev)[0]["bytes"].as_u64().unwrap() >= 80);
}

#[test]
fn kernel_closed_port_answers_rst_ack() {
    require!(Need::Root(ROOT));
    let ev = events(&["--closed-port"]);
    let p = packets(&ev);
    assert_eq!(p.len(), 2, "{ev:?}");
    assert_eq!(flags(p[1]) & (RST | ACK), RST | ACK);
    assert_eq!(p[1]["seq_raw"], 0);
    assert_eq!(
        p[1]["ack_raw"].as_u64().unwrap(),
        (p[0]["seq_raw"].as_u64().unwrap() + 1) % (1 << 32)
    );
    assert_eq!(summary(&ev)["state"], "CLOSED");
}

#[test]
fn kernel_retransmits_a_dropped_syn_ack() {
    require!(Need::Root(ROOT));
    let ev = events(&["--drop", "syn-ack"]);
    let synacks: Vec<&Value> = packets(&ev)
        .into_iter()
        .filter(|p| flags(p) & (SYN | ACK) == SYN | ACK)
        .collect();
    assert!(
        synacks.len() >= 2 && synacks[0]["dropped"] == true,
        "{ev:?}"
    );
    assert_eq!(
        synacks[0]["seq_raw"], synacks[1]["seq_raw"],
        "the same SYN-ACK again"
    );
    let gap = synacks[1]["t_ms"].as_f64().unwrap() - synacks[0]["t_ms"].as_f64().unwrap();
    assert!(gap > 900.0, "the kernel's RTO is about 1 s, got {gap} ms");
    assert!(summary(&ev)["peer_retransmissions"].as_u64().unwrap() >= 1);
    assert_eq!(summary(&ev)["retransmissions"], 0, "netlab waited 3 s");
}

#[test]
fn kernel_sees_netlab_retransmit_dropped_syn_and_data() {
    require!(Need::Root(ROOT));
    // Packet numbers count both directions: 1 is netlab's SYN, 2 the kernel's SYN-ACK,
    // 3 netlab's ACK and 4 its data. (Dropping 2 would race netlab's 1 s SYN timer against
    // the kernel's 1 s SYN-ACK timer: which retransmits first depends on the load.)
    for spec in ["syn", "data", "4"] {
        let ev = events(&["--drop", spec, "--send", "x"]);
        assert_eq!(
            packets(&ev).iter().filter(|p| p["dropped"] == true).count(),
            1,
            "{spec}"
        );
        assert!(
            ev.iter().any(|e| e["event"] == "retransmit"),
            "{spec}: {ev:?}"
        );
        assert_eq!(delivered_text(&ev), "x", "{spec}");
    }
}

#[test]
fn kernel_reorder_shows_duplicate_ack_with_sack() {
    require!(Need::Root(ROOT));
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("ro.pcap");
    let ev = events(&[
        "--send",
        "a",
        "--send",
        "b",
        "--reorder",
        "-w",
        pcap.to_str().unwrap(),
    ]);
    assert_eq!(delivered_text(&ev), "ab", "in order");
    let out = netlab()
        .args(["dissect", "--json", "--filter", "tcp.options.sack_le"])
        .arg(&pcap)
        .output()
        .unwrap();
    let dup = common::json_lines(&String::from_utf8_lossy(&out.stdout));
    assert!(!dup.is_empty(), "the kernel sent a duplicate ACK with SACK");
    assert_eq!(
        dup[0]["fields"]["tcp.ack"], 1,
        "still asking for the first byte"
    );
    assert_eq!(
        dup[0]["fields"]["tcp.options.sack_le"], 2,
        "it has the second byte"
    );
}

#[test]
fn kernel_abort_with_rst() {
    require!(Need::Root(ROOT));
    let ev = events(&["--close", "rst", "--send", "bye"]);
    let last = packets(&ev).into_iter().last().unwrap();
    assert_eq!(
        (last["dir"].as_str(), flags(last) & RST),
        (Some("out"), RST)
    );
    assert_eq!(summary(&ev)["state"], "CLOSED");
}

#[test]
fn ctrl_c_leaves_nothing_behind() {
    require!(Need::Root(ROOT));
    let before = Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap()
        .stdout;
    // Namespaces of other tests running in parallel (`nlt-…`) come and go; ignore them.
    let netns = || -> Vec<String> {
        let out = Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout;
        String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| !l.starts_with("nlt-"))
            .map(str::to_string)
            .collect()
    };
    let ns_before = netns();
    let mut child = netlab()
        .args(["tcp-handshake", "--delay", "3000", "--send", "slow"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(!status.success(), "interrupted");
    assert_eq!(netns(), ns_before);
    let after = Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(after, before, "no TUN device or link left on the host");
    assert!(!String::from_utf8_lossy(&after).contains("netlab0"));
}

/// Two network namespaces joined by a veth pair, made by the test and removed when
/// dropped: `a` (10.77.0.1, where netlab runs) and `b` (10.77.0.2, the listener).
/// Nothing touches the host's own interfaces.
struct TwoHosts {
    a: String,
    b: String,
    listener: Option<std::process::Child>,
}

impl TwoHosts {
    fn new(tag: &str) -> TwoHosts {
        let id = std::process::id();
        let (a, b) = (format!("nlt-{tag}-a-{id}"), format!("nlt-{tag}-b-{id}"));
        let ip = |args: &[&str]| {
            let ok = Command::new("ip").args(args).status().unwrap().success();
            assert!(ok, "ip {args:?}");
        };
        ip(&["netns", "add", &a]);
        ip(&["netns", "add", &b]);
        let hosts = TwoHosts {
            a: a.clone(),
            b: b.clone(),
            listener: None,
        };
        ip(&[
            "-n", &a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &b,
        ]);
        ip(&["-n", &a, "addr", "add", "10.77.0.1/24", "dev", "va"]);
        ip(&["-n", &b, "addr", "add", "10.77.0.2/24", "dev", "vb"]);
        for (ns, dev) in [(&a, "va"), (&b, "vb")] {
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        hosts
    }

    /// A kernel echo server on 10.77.0.2:9000 in `b`.
    fn listen(&mut self) {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.b, "python3", "-c"])
            .arg(
                "import socket\n\
                 s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                 s.bind(('10.77.0.2', 9000)); s.listen()\n\
                 print('ready', flush=True)\n\
                 while True:\n\
                 \x20   c,_=s.accept()\n\
                 \x20   try:\n\
                 \x20       d=c.recv(1000)\n\
                 \x20       c.sendall(d) if d else None\n\
                 \x20       c.recv(1000)\n\
                 \x20   except OSError: pass\n\
                 \x20   c.close()\n",
            )
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        self.listener = Some(child);
        let mut line = String::new();
        let out = self.listener.as_mut().unwrap().stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).unwrap();
        assert_eq!(line.trim(), "ready");
    }

    fn netlab_in_a(&self, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.a,
                env!("CARGO_BIN_EXE_netlab"),
                "tcp-handshake",
                "--json",
            ])
            .args(args)
            .output()
            .unwrap()
    }

    fn ruleset_in_a(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.a, "nft", "list", "ruleset"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        if let Some(mut c) = self.listener.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn parse_events(out: &std::process::Output) -> Vec<Value> {
    common::json_lines(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn raw_target_mode_shows_the_kernels_rst_and_can_suppress_it() {
    require!(Need::Root(ROOT));
    let mut hosts = TwoHosts::new("raw");
    hosts.listen();
    // Without the rule: the local kernel resets the connection netlab opened.
    let out = hosts.netlab_in_a(&["--target", "10.77.0.2:9000", "--send", "hi"]);
    let ev = parse_events(&out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kernel: Vec<&Value> = ev.iter().filter(|e| e["event"] == "kernel").collect();
    assert!(
        !kernel.is_empty(),
        "the local kernel's RST is shown: {ev:?}"
    );
    assert!(
        kernel[0]["summary"].as_str().unwrap().contains("[RST]"),
        "{kernel:?}"
    );
    // With the rule: a clean exchange, and the rule is gone afterwards.
    let out = hosts.netlab_in_a(&[
        "--target",
        "10.77.0.2:9000",
        "--send",
        "hi",
        "--suppress-kernel-rst",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = parse_events(&out);
    assert_handshake(&ev, true);
    assert_eq!(delivered_text(&ev), "hi");
    assert!(
        ev.iter().all(|e| e["event"] != "kernel"),
        "no kernel RST: {ev:?}"
    );
    assert!(!hosts.ruleset_in_a().contains("netlab_rst"), "rule removed");
}

#[test]
fn raw_target_rule_is_removed_after_ctrl_c() {
    require!(Need::Root(ROOT));
    let mut hosts = TwoHosts::new("int");
    hosts.listen();
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &hosts.a,
            env!("CARGO_BIN_EXE_netlab"),
            "tcp-handshake",
        ])
        .args([
            "--target",
            "10.77.0.2:9000",
            "--suppress-kernel-rst",
            "--delay",
            "3000",
            "--send",
            "x",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert!(
        hosts.ruleset_in_a().contains("netlab_rst"),
        "rule installed while running"
    );
    // SIGINT to netlab itself (the child of `ip netns exec` is exec'd in place).
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert!(
        !hosts.ruleset_in_a().contains("netlab_rst"),
        "rule removed after Ctrl-C"
    );
}

/// `--bulk` with one data segment dropped: the trace's congestion control, checked on
/// its own numbers.
fn assert_bulk_with_a_loss(ev: &[Value], bytes: u64) {
    let cc: Vec<&Value> = ev.iter().filter(|e| e["event"] == "cc").collect();
    assert_eq!(cc[0]["phase"], "slow start", "{cc:?}");
    assert_eq!(cc[0]["cwnd"], 14_480, "IW 10 × 1448");
    assert!(cc[0]["ssthresh"].is_null(), "no threshold before a loss");
    let fr = cc
        .iter()
        .find(|e| e["phase"] == "fast recovery")
        .unwrap_or_else(|| panic!("a fast recovery: {cc:?}"));
    let (flight, ssthresh, cwnd) = (
        fr["in_flight"].as_u64().unwrap(),
        fr["ssthresh"].as_u64().unwrap(),
        fr["cwnd"].as_u64().unwrap(),
    );
    // RFC 5681 § 3.2: ssthresh = max(FlightSize/2, 2 SMSS), cwnd = ssthresh + 3 SMSS.
    assert_eq!(ssthresh, (flight / 2).max(2 * 1448), "{fr}");
    assert_eq!(cwnd, ssthresh + 3 * 1448, "{fr}");
    assert!(
        fr["why"]
            .as_str()
            .unwrap()
            .starts_with("3 duplicate ACKs: fast retransmit"),
        "{fr}"
    );
    // Every data segment netlab sent carries its window, never more in flight than cwnd.
    let out: Vec<&Value> = packets(ev)
        .into_iter()
        .filter(|p| p["dir"] == "out" && p["len"].as_u64().unwrap_or(0) > 0)
        .collect();
    assert!(
        out.len() as u64 >= bytes / 1448,
        "{} data segments",
        out.len()
    );
    let mut seen = std::collections::HashSet::new();
    for p in &out {
        let (cwnd, fl) = (
            p["cwnd"].as_u64().unwrap(),
            p["in_flight"].as_u64().unwrap(),
        );
        // New data never exceeds the window (a retransmission may: fast recovery's
        // cwnd is below what is still outstanding).
        if seen.insert(p["seq"].as_u64().unwrap()) {
            assert!(fl <= cwnd, "{p}");
        }
        assert!(p["ssthresh"].is_number() || p["ssthresh"].is_null(), "{p}");
    }
    assert!(out.iter().filter(|p| p["dropped"] == true).count() == 1);
}

#[test]
fn simulate_bulk_shows_slow_start_and_fast_recovery() {
    let ev = events(&["--simulate", "--bulk", "60000", "--drop", "12"]);
    assert_bulk_with_a_loss(&ev, 60_000);
    assert!(
        ev.iter()
            .any(|e| e["event"] == "state" && e["to"] == "CLOSED")
    );
}

#[test]
fn kernel_bulk_through_the_tun_device() {
    require!(Need::Root(ROOT));
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("bulk.pcap");
    let ev = events(&[
        "--bulk",
        "200kB",
        "--drop",
        "data",
        "-w",
        pcap.to_str().unwrap(),
    ]);
    assert_bulk_with_a_loss(&ev, 200_000);
    // The kernel acknowledged every byte: the last ACK it sent covers them all.
    let last_in = packets(&ev)
        .into_iter()
        .rfind(|p| p["dir"] == "in")
        .unwrap()
        .clone();
    assert!(last_in["ack"].as_u64().unwrap() >= 200_001, "{last_in}");
    assert!(std::fs::metadata(&pcap).unwrap().len() > 200_000);
    let v6 = events(&["--ipv6", "--bulk", "50kB", "--delay", "5"]);
    assert!(v6.iter().any(|e| e["event"] == "cc"));
}
