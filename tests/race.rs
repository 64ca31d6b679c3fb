//! `netlab race`: real kernel TCP and UDP sockets in two private namespaces, with netlab
//! as the lossy wire between them. Needs root (CI runs as root; elsewhere the tests say
//! they are skipped), except the argument and privilege checks.

use std::process::Command;

use serde_json::Value;

use crate::common::netlab;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

macro_rules! need_root {
    () => {
        if !is_root() {
            eprintln!(
                "SKIPPED: this test needs root (CAP_NET_ADMIN for two network namespaces and TUN devices); CI runs as root"
            );
            return;
        }
    };
}

/// Runs `netlab race --json ARGS`: the one JSON object it prints.
fn race(args: &[&str]) -> Value {
    let out = netlab()
        .arg("race")
        .arg("--json")
        .args(args)
        .output()
        .expect("run netlab");
    assert!(
        out.status.success(),
        "netlab race {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "exactly one JSON object: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` missing in {v}"))
}

#[test]
fn under_loss_tcp_delivers_everything_in_order_and_udp_loses_some() {
    need_root!();
    let v = race(&["--loss", "20%", "--count", "100", "--seed", "1"]);
    let (tcp, udp, wire) = (&v["tcp"], &v["udp"], &v["wire"]);
    for side in [tcp, udp] {
        for key in [
            "sent",
            "delivered",
            "in_order",
            "lost",
            "duplicates",
            "retransmissions",
        ] {
            n(side, key);
        }
        assert!(side["seconds"].as_f64().unwrap() > 0.0, "{side}");
        assert_eq!(n(side, "sent"), 100);
    }
    // TCP: every message, in order, once — paid for with retransmissions.
    assert_eq!(tcp["finished"], true, "{v}");
    assert_eq!(
        (
            n(tcp, "delivered"),
            n(tcp, "in_order"),
            n(tcp, "lost"),
            n(tcp, "duplicates")
        ),
        (100, 100, 0, 0),
        "{v}"
    );
    let tcp_wire = &wire["tcp"];
    assert!(
        n(tcp_wire, "dropped") > 0,
        "20% loss dropped no TCP packet: {v}"
    );
    if n(&tcp_wire["forward"], "dropped") > 0 {
        // Whatever the sender's kernel lost on the way (SYN, data or FIN) it sent again.
        assert!(n(tcp, "retransmissions_sender") >= 1, "{v}");
    }
    assert_eq!(
        n(tcp, "retransmissions"),
        n(tcp, "retransmissions_sender") + n(tcp, "retransmissions_receiver")
    );
    // UDP: every datagram the wire dropped is a lost message; nothing is resent.
    let udp_wire = &wire["udp"];
    assert!(n(udp, "lost") > 0, "{v}");
    assert_eq!(n(udp, "lost") + n(udp, "delivered"), n(udp, "sent"), "{v}");
    assert_eq!(n(udp, "lost"), n(udp_wire, "dropped"), "{v}");
    assert_eq!(n(&udp_wire["forward"], "packets"), 100, "{v}");
    assert_eq!(
        n(&udp_wire["reverse"], "packets"),
        0,
        "UDP has no ACKs: {v}"
    );
    assert_eq!(n(udp, "retransmissions"), 0);
    assert_eq!(wire["seed"], 1);
    assert_eq!(wire["loss"].as_f64(), Some(0.2));
}

#[test]
fn a_perfect_wire_delivers_everything_over_both() {
    need_root!();
    let v = race(&["--loss", "0%", "--count", "100"]);
    for p in ["tcp", "udp"] {
        let s = &v[p];
        assert_eq!(
            (
                n(s, "delivered"),
                n(s, "in_order"),
                n(s, "lost"),
                n(s, "duplicates"),
                n(s, "out_of_order"),
            ),
            (100, 100, 0, 0, 0),
            "{p}: {v}"
        );
        assert_eq!(n(&v["wire"][p], "dropped"), 0, "{v}");
    }
    assert_eq!(v["tcp"]["closed"], true, "{v}");
    assert_eq!(n(&v["udp"], "retransmissions"), 0);
    // Nothing was lost, so TCP had nothing to repair. (A loaded machine can still delay
    // an ACK past Linux's tail-loss-probe timer, ~10 ms, which then resends the last
    // segment once: a few spurious retransmissions are possible, never many.)
    assert!(n(&v["tcp"], "retransmissions") <= 3, "{v}");
    // TCP needs more packets than messages: the handshake, ACKs, the FINs.
    assert!(n(&v["wire"]["tcp"], "packets") > 100, "{v}");
    assert_eq!(n(&v["wire"]["udp"], "packets"), 100, "{v}");
}

#[test]
fn the_pcap_holds_what_the_wire_delivered() {
    need_root!();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("race.pcap");
    let v = race(&[
        "--loss",
        "0%",
        "--count",
        "20",
        "-w",
        pcap.to_str().unwrap(),
    ]);
    let out = Command::new("tshark")
        .args(["-r", pcap.to_str().unwrap(), "-T", "fields"])
        .args(["-e", "ip.proto", "-e", "udp.payload", "-e", "tcp.len"])
        .output()
        .expect("tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    // UDP: the 20 messages, in order, byte for byte.
    let udp: Vec<&str> = rows.iter().filter(|r| r[0] == "17").map(|r| r[1]).collect();
    let want: Vec<String> = (0..20)
        .map(|i| {
            format!("msg {i:04}\n")
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect();
    assert_eq!(udp, want);
    // TCP: every packet the wire counted, and the 20 messages' bytes (180) in data.
    let tcp: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == "6").collect();
    assert_eq!(tcp.len() as u64, n(&v["wire"]["tcp"], "packets"), "{v}");
    let data: u64 = tcp.iter().map(|r| r[2].parse::<u64>().unwrap()).sum();
    assert_eq!(data, 20 * 9);
}

#[test]
fn the_same_seed_loses_the_same_udp_messages() {
    need_root!();
    let args = [
        "--loss",
        "30%",
        "--count",
        "60",
        "--seed",
        "99",
        "--timeout",
        "30",
    ];
    let (a, b) = (race(&args), race(&args));
    assert_eq!(a["udp"]["delivered"], b["udp"]["delivered"]);
    assert_eq!(a["udp"]["lost"], b["udp"]["lost"]);
    assert_eq!(a["wire"]["udp"], b["wire"]["udp"], "same dice, same fate");
    let c = race(&[
        "--loss",
        "30%",
        "--count",
        "60",
        "--seed",
        "100",
        "--timeout",
        "30",
    ]);
    // Another seed: other dice (the chance that 60 draws fall identically is negligible).
    assert_ne!(a["wire"]["udp"]["forward"], c["wire"]["udp"]["forward"]);
}

#[test]
fn reordering_reaches_udp_applications_but_not_tcp_ones() {
    need_root!();
    let v = race(&[
        "--loss",
        "0%",
        "--reorder",
        "30%",
        "--delay",
        "5ms",
        "--count",
        "100",
        "--seed",
        "7",
        "--ipv6",
    ]);
    let (tcp, udp, wire) = (&v["tcp"], &v["udp"], &v["wire"]);
    // Each datagram the wire held back was overtaken by exactly one later one.
    assert!(n(&wire["udp"], "reordered") > 0, "{v}");
    assert_eq!(
        n(udp, "out_of_order"),
        n(&wire["udp"]["forward"], "reordered"),
        "{v}"
    );
    assert_eq!(n(udp, "delivered"), 100, "{v}");
    // TCP puts the bytes back in order before the application reads them.
    assert_eq!(
        (
            n(tcp, "delivered"),
            n(tcp, "in_order"),
            n(tcp, "out_of_order")
        ),
        (100, 100, 0),
        "{v}"
    );
    assert!(n(&wire["tcp"], "reordered") > 0, "{v}");
}

#[test]
fn the_human_table_names_both_protocols() {
    need_root!();
    let out = netlab()
        .args([
            "--color", "never", "race", "--loss", "20%", "--count", "30", "--seed", "5",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().eq(["TCP", "UDP"])),
        "no table header: {text}"
    );
    for row in ["sent", "delivered", "lost", "retransmissions", "time"] {
        assert!(
            text.lines().any(|l| l.starts_with(row)),
            "no `{row}` row: {text}"
        );
    }
    assert!(text.contains("UDP lost"), "{text}");
    assert!(!text.contains('\x1b'), "colour with --color never");
}

#[test]
fn bad_settings_are_usage_errors() {
    for args in [
        &["--loss", "120%"][..],
        &["--reorder", "-1%"],
        &["--delay", "fast"],
        &["--count", "0"],
    ] {
        let out = netlab().arg("race").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error:"), "{args:?}: {err}");
    }
}

#[test]
fn help_shows_pasteable_examples() {
    for (cmd, example) in [
        ("race", "\n  netlab race --loss 0%"),
        (
            "capture",
            "netlab capture -- netlab tcp connect --own-server",
        ),
        (
            "capture",
            "sudo netlab capture -i lo --filter 'tcp.port == 7000'",
        ),
    ] {
        let out = netlab().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("Examples:") && text.contains(example),
            "{cmd}: {text}"
        );
    }
}

#[test]
fn ctrl_c_ends_the_race_at_once_and_leaves_nothing_behind() {
    need_root!();
    use std::os::unix::process::ExitStatusExt;
    let mut child = netlab()
        .args(["race", "--loss", "60%", "--count", "50", "--timeout", "300"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("netlab race ignored SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // The default action: the process ends, and with it its anonymous namespaces, TUN
    // devices and sockets. The host never had any of them.
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&links.stdout).contains("race-"));
}
