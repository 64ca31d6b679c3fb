//! `netlab tcp`, `netlab udp` and `netlab ports` with real kernel sockets on loopback:
//! netlab runs as a child process, against itself or against sockets this test opens.
//! Every port is picked by the kernel at run time (port 0), so tests run in parallel.
//! Tests that need root (a user switch, an empty network namespace) say they are
//! skipped without it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, Need, ipv6_loopback, netlab, require};

/// A netlab server (`tcp serve` / `udp serve`) as a child, killed when dropped.
struct Server {
    child: Child,
    events: mpsc::Receiver<Value>,
    seen: Vec<Value>,
    addr: SocketAddr,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = netlab()
            .args(args)
            .arg("--json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run netlab");
        let out = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let v: Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let mut s = Server {
            child,
            events,
            seen: Vec::new(),
            addr: "0.0.0.0:0".parse().unwrap(),
        };
        let listening = s.wait_for(|e| e["event"] == "listening");
        s.addr = listening["local"].as_str().unwrap().parse().unwrap();
        s
    }

    /// Events until one matches (at most 20 s: a hang fails the test, never blocks it).
    fn wait_for(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(e) = self.seen.iter().find(|e| pred(e)) {
            return e.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => {
                    self.seen.push(e.clone());
                    if pred(&e) {
                        return e;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    let mut err = String::new();
                    if let Some(mut s) = self.child.stderr.take() {
                        let _ = s.read_to_string(&mut err);
                    }
                    panic!(
                        "the server never printed the awaited event; stderr: {err}; events: {:?}",
                        self.seen
                    );
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs netlab to the end; returns its output.
fn run(args: &[&str]) -> Output {
    netlab().args(args).output().expect("run netlab")
}

/// Runs `netlab ARGS --json`, which must succeed; returns the events.
fn events(args: &[&str]) -> Vec<Value> {
    let out = netlab()
        .args(args)
        .arg("--json")
        .output()
        .expect("run netlab");
    assert!(
        out.status.success(),
        "netlab {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&out.stdout)
}

fn parse(stdout: &[u8]) -> Vec<Value> {
    common::json_lines(&String::from_utf8_lossy(stdout))
}

fn of<'a>(ev: &'a [Value], who: &str, event: &str) -> Vec<&'a Value> {
    ev.iter()
        .filter(|e| e["who"] == who && e["event"] == event)
        .collect()
}

fn texts(ev: &[&Value]) -> String {
    ev.iter().filter_map(|e| e["text"].as_str()).collect()
}

fn one<'a>(ev: &'a [Value], who: &str, event: &str) -> &'a Value {
    let v = of(ev, who, event);
    assert_eq!(v.len(), 1, "one {who} {event} expected in {ev:?}");
    v[0]
}

/// A one-line `netlab: error: …` and exit status 1.
fn assert_error(out: &Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("netlab: error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
    err
}

fn ephemeral_range() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let v: Vec<u64> = text
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    (v[0], v[1])
}

fn fionread(fd: &impl AsRawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through a valid pointer.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n as *mut libc::c_int) };
    assert_eq!(rc, 0);
    n as usize
}

/// A round trip through `tcp serve` and `tcp connect`, checked on both sides.
fn echo_round_trip(listen: &str) {
    let mut server = Server::start(&["tcp", "serve", "--addr", listen]);
    let addr = server.addr.to_string();
    assert_ne!(server.addr.port(), 0);
    let ev = events(&[
        "tcp", "connect", &addr, "--send", "hello", "--send", "world",
    ]);

    // The client: socket, connect, the ephemeral port from the kernel's range, the 4-tuple.
    assert_eq!(one(&ev, "client", "connect")["result"], "0");
    let name = one(&ev, "client", "getsockname");
    let port = name["ephemeral_port"].as_u64().unwrap();
    let (lo, hi) = ephemeral_range();
    assert!((lo..=hi).contains(&port), "{port} not in {lo}-{hi}");
    assert_eq!(name["ephemeral_range"], serde_json::json!([lo, hi]));
    let tuple = one(&ev, "client", "connection");
    assert_eq!(tuple["local"], name["local"]);
    assert_eq!(tuple["peer"].as_str().unwrap(), addr);
    assert_eq!(texts(&of(&ev, "client", "send")), "helloworld");
    assert_eq!(texts(&of(&ev, "client", "recv")), "helloworld");
    let summary = one(&ev, "client", "summary");
    assert_eq!(
        (summary["sent"].as_u64(), summary["received"].as_u64()),
        (Some(10), Some(10))
    );
    assert_eq!(one(&ev, "client", "close")["result"], "0");
    // The last recv() is the server's FIN: 0 bytes.
    assert_eq!(of(&ev, "client", "recv").last().unwrap()["bytes"], 0);

    // The server accepted exactly this client and read what it sent.
    let accept = server.wait_for(|e| e["event"] == "accept" && e["peer"] == name["local"]);
    assert!(accept["conn_fd"].as_u64().unwrap() > accept["fd"].as_u64().unwrap());
    server.wait_for(|e| e["who"] == "conn 1" && e["event"] == "close");
    let seen = server.seen.clone();
    assert_eq!(texts(&of(&seen, "conn 1", "recv")), "helloworld");
    assert_eq!(one(&seen, "conn 1", "summary")["bytes"], 10);
    let four = one(&seen, "conn 1", "connection");
    assert_eq!(
        (&four["local"], &four["peer"]),
        (&tuple["peer"], &tuple["local"])
    );
}

#[test]
fn tcp_echo_round_trip() {
    echo_round_trip("127.0.0.1:0");
}

#[test]
fn tcp_echo_round_trip_ipv6() {
    require!(ipv6_loopback());
    echo_round_trip("[::1]:0");
}

#[test]
fn tcp_info_figures_are_present_and_plausible() {
    let ev = events(&["tcp", "connect", "--own-server", "--send", "ping"]);
    let infos = of(&ev, "client", "tcp_info");
    assert_eq!(
        infos.len(),
        3,
        "after the handshake, the exchange, both FINs"
    );
    let handshake = infos[0];
    assert_eq!(handshake["when"], "after the handshake");
    assert_eq!(handshake["state"], "ESTABLISHED");
    if let Some(acked) = handshake["bytes_acked"].as_u64() {
        assert_eq!(acked, 1, "only the SYN is acknowledged: {handshake}");
    }
    let x = infos[1];
    assert_eq!(x["state"], "ESTABLISHED");
    let rtt = x["rtt_us"].as_u64().unwrap();
    assert!(rtt > 0 && rtt < 1_000_000, "loopback RTT {rtt} µs");
    assert!(x["rttvar_us"].as_u64().is_some());
    assert!(x["snd_mss"].as_u64().unwrap() >= 536, "{x}");
    assert!(x["snd_cwnd"].as_u64().unwrap() >= 1, "{x}");
    assert!(x["total_retrans"].as_u64().is_some());
    if let Some(sent) = x["bytes_sent"].as_u64() {
        assert_eq!(sent, 4, "{x}");
    }
    if let Some(acked) = x["bytes_acked"].as_u64() {
        assert_eq!(acked, 5, "the SYN and 4 bytes: {x}");
    }
    if let Some(received) = x["bytes_received"].as_u64() {
        assert_eq!(received, 4, "the echo: {x}");
    }
    // The server's connection reports its own view too.
    assert!(!of(&ev, "conn 1", "tcp_info").is_empty());
    assert_ne!(infos[2]["state"], "ESTABLISHED", "{}", infos[2]);
}

#[test]
fn tcp_serves_several_clients_at_once() {
    let mut server = Server::start(&["tcp", "serve", "--addr", "127.0.0.1:0"]);
    // A first client connects and stays silent; a second one is still served.
    let idle = TcpStream::connect(server.addr).unwrap();
    let mut busy = TcpStream::connect(server.addr).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    busy.write_all(b"second").unwrap();
    let mut buf = [0u8; 6];
    busy.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"second");
    drop(idle);
    drop(busy);
    // And several netlab clients in parallel each get their own echo.
    let addr = server.addr.to_string();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let text = format!("client-{i}");
                let ev = events(&["tcp", "connect", &addr, "--send", &text]);
                assert_eq!(texts(&of(&ev, "client", "recv")), text);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Six connections, six accepted sockets, each from its own port.
    server.wait_for(|e| e["event"] == "accept" && e["id"] == 6);
    let peers: std::collections::HashSet<_> = of(&server.seen, "server", "accept")
        .iter()
        .map(|e| e["peer"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(peers.len(), 6);
}

/// netlab's client writes a, b, c; this test's own listener waits until the three
/// bytes are in its receive buffer, then one read returns all of them.
fn three_writes_one_read(nodelay: bool) -> Vec<Value> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut args = vec![
        "tcp", "connect", &addr, "--send", "a", "--send", "b", "--send", "c", "--json", "--wait",
        "20000",
    ];
    if nodelay {
        args.push("--nodelay");
    }
    let child = netlab()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while fionread(&conn) < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut buf = [0u8; 64];
    let n = conn.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"abc", "three send() calls, one recv()");
    let _ = conn.write_all(&buf[..n]);
    drop(conn);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = parse(&out.stdout);
    let sends = of(&ev, "client", "send");
    assert_eq!(sends.len(), 3, "{ev:?}");
    assert!(sends.iter().all(|s| s["bytes"] == 1));
    ev
}

#[test]
fn tcp_three_quick_writes_arrive_as_one_read() {
    let ev = three_writes_one_read(false);
    assert_eq!(one(&ev, "client", "nagle")["nodelay"], false);
    assert!(of(&ev, "client", "setsockopt").is_empty());
}

#[test]
fn tcp_nodelay_is_set_and_still_no_boundaries() {
    let ev = three_writes_one_read(true);
    let opt = one(&ev, "client", "setsockopt");
    assert_eq!(opt["option"], "TCP_NODELAY");
    assert_eq!(opt["readback"], true, "getsockopt reads TCP_NODELAY back");
}

#[test]
fn tcp_own_server_reads_three_writes_at_once() {
    let ev = events(&[
        "tcp",
        "connect",
        "--own-server",
        "--send",
        "a",
        "--send",
        "b",
        "--send",
        "c",
    ]);
    assert_eq!(of(&ev, "client", "send").len(), 3);
    assert_eq!(one(&ev, "conn 1", "ioctl")["queued"], 3);
    let reads = of(&ev, "conn 1", "recv");
    assert_eq!(reads[0]["bytes"], 3, "{reads:?}");
    assert_eq!(reads[0]["text"], "abc");
    assert_eq!(one(&ev, "conn 1", "summary")["reads"], 1);
}

/// Three datagrams, three receptions of one byte each, in both directions.
fn udp_boundaries(listen: &str) {
    let mut server = Server::start(&["udp", "serve", "--addr", listen]);
    let addr = server.addr.to_string();
    let ev = events(&["udp", "send", &addr, "a", "b", "c", "--wait", "10000"]);
    let sent = of(&ev, "client", "send");
    assert_eq!(sent.len(), 3);
    let back = of(&ev, "client", "recvfrom");
    assert_eq!(back.len(), 3, "{ev:?}");
    assert!(
        back.iter()
            .all(|e| e["bytes"] == 1 && e["from"] == addr.as_str())
    );
    let summary = one(&ev, "client", "summary");
    assert_eq!(
        (summary["sent"].as_u64(), summary["received"].as_u64()),
        (Some(3), Some(3))
    );
    let local = one(&ev, "client", "getsockname")["local"].clone();
    server.wait_for(|e| e["event"] == "sendto" && e["to"] == local && e["bytes"] == 1);
    server.wait_for(|e| e["event"] == "recvfrom" && e["text"] == "c");
    let got: Vec<&Value> = of(&server.seen, "server", "recvfrom")
        .into_iter()
        .filter(|e| e["from"] == local)
        .collect();
    assert_eq!(texts(&got), "abc");
    assert!(got.iter().all(|e| e["bytes"] == 1));
}

#[test]
fn udp_keeps_message_boundaries() {
    udp_boundaries("127.0.0.1:0");
}

#[test]
fn udp_keeps_message_boundaries_ipv6() {
    require!(ipv6_loopback());
    udp_boundaries("[::1]:0");
}

#[test]
fn udp_datagrams_queued_together_still_come_out_one_by_one() {
    // This test's socket receives netlab's three datagrams only after netlab exited, so
    // all three wait in its buffer together.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    let ev = events(&["udp", "send", &addr, "one", "two", "three", "--wait", "0"]);
    assert_eq!(of(&ev, "client", "send").len(), 3);
    assert_eq!(
        fionread(&sock),
        3,
        "FIONREAD: the size of the next datagram only"
    );
    let mut buf = [0u8; 64];
    for want in ["one", "two", "three"] {
        let n = sock.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], want.as_bytes());
    }
    // And netlab's own server shows the same.
    let ev = events(&["udp", "send", "--own-server", "x", "yy", "zzz"]);
    let got = of(&ev, "server", "recvfrom");
    let sizes: Vec<u64> = got.iter().map(|e| e["bytes"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [1, 2, 3]);
    assert_eq!(one(&ev, "server", "ioctl")["queued"], 1);
}

fn ports_json(args: &[&str]) -> Vec<Value> {
    let mut a = vec!["ports"];
    a.extend_from_slice(args);
    events(&a)
}

fn held_by_me(s: &Value) -> bool {
    s["processes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["pid"] == std::process::id() && !p["name"].as_str().unwrap().is_empty())
}

#[test]
fn ports_finds_this_tests_sockets_with_its_pid() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (tport, uport) = (
        tcp.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port(),
    );

    let t = tport.to_string();
    let found = ports_json(&["--listening", "--port", &t]);
    let me: Vec<&Value> = found
        .iter()
        .filter(|s| s["proto"] == "tcp" && s["local_port"] == tport)
        .collect();
    assert_eq!(me.len(), 1, "{found:?}");
    assert_eq!(me[0]["state"], "LISTEN");
    assert_eq!(me[0]["local"], tcp.local_addr().unwrap().to_string());
    assert_eq!(me[0]["peer"], "0.0.0.0:0");
    assert!(held_by_me(me[0]), "{:?}", me[0]);

    let u = uport.to_string();
    let found = ports_json(&["--udp", "--port", &u]);
    assert!(found.iter().all(|s| s["proto"] == "udp"));
    let me: Vec<&Value> = found.iter().filter(|s| s["local_port"] == uport).collect();
    assert_eq!(me.len(), 1, "{found:?}");
    assert_eq!(
        (me[0]["state"].as_str(), me[0]["listening"].as_bool()),
        (Some("UNCONN"), Some(true))
    );
    assert!(held_by_me(me[0]));
    assert!(
        ports_json(&["--tcp", "--port", &u])
            .iter()
            .all(|s| s["proto"] == "tcp")
    );

    // A connection shows both ends, each with its 4-tuple.
    let client = TcpStream::connect(tcp.local_addr().unwrap()).unwrap();
    let (_server_side, _) = tcp.accept().unwrap();
    let cport = client.local_addr().unwrap().port();
    let conns: Vec<Value> = ports_json(&["--tcp", "--port", &t])
        .into_iter()
        .filter(|s| s["state"] == "ESTABLISHED")
        .collect();
    assert_eq!(conns.len(), 2, "{conns:?}");
    assert!(
        conns
            .iter()
            .any(|s| s["local_port"] == cport && s["peer_port"] == tport)
    );
    assert!(
        conns
            .iter()
            .any(|s| s["local_port"] == tport && s["peer_port"] == cport)
    );
    assert!(conns.iter().all(held_by_me));

    // The text view explains the ranges and names this process.
    let out = run(&["ports", "--port", &t, "--color", "never"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("65,536"), "{text}");
    let (lo, hi) = ephemeral_range();
    assert!(text.contains(&format!("{lo}–{hi}")), "{text}");
    assert!(text.contains(&format!("{}/", std::process::id())), "{text}");
}

#[test]
fn address_in_use_names_the_holder() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = tcp.local_addr().unwrap().to_string();
    let me = format!("pid {}", std::process::id());
    assert_error(
        &run(&["tcp", "serve", "--addr", &addr]),
        &["address already in use", &me, "TCP port"],
    );
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = udp.local_addr().unwrap().to_string();
    assert_error(
        &run(&["udp", "serve", "--addr", &addr]),
        &["address already in use", &me, "UDP port"],
    );
}

/// A port nobody listens on (the kernel gave it to us, we let it go).
fn closed_tcp_port() -> String {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string()
}

#[test]
fn connection_refused_is_the_rst() {
    let addr = closed_tcp_port();
    assert_error(
        &run(&["tcp", "connect", &addr, "--send", "x"]),
        &["connection refused", "nobody listens", "RST"],
    );
    let addr = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    assert_error(
        &run(&["udp", "send", &addr, "x", "y", "--wait", "10000"]),
        &["connection refused", "ICMP", "port unreachable"],
    );
}

#[test]
fn ports_below_1024_need_privilege() {
    require!(Need::Root(
        "a network namespace of its own, and to run netlab as the unprivileged user nobody"
    ));
    // net.ipv4.ip_unprivileged_port_start is a setting of each network namespace: in a
    // namespace of its own the test sets the kernel's default, 1024, whatever the host
    // says (a host may have lowered it to 0, freeing every port).
    const SCRIPT: &str = "echo 1024 > /proc/sys/net/ipv4/ip_unprivileged_port_start \
        && ip link set lo up \
        && exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \"$@\"";
    for args in [
        ["tcp", "serve", "--addr", "127.0.0.1:1"],
        ["udp", "serve", "--addr", "127.0.0.1:1"],
    ] {
        let out = Command::new("unshare")
            .args(["-n", "sh", "-c", SCRIPT, "sh"])
            .arg(env!("CARGO_BIN_EXE_netlab"))
            .args(args)
            .env_remove("NO_COLOR")
            .output()
            .expect("unshare and setpriv (util-linux), ip (iproute2)");
        assert_error(
            &out,
            &[
                "permission denied",
                "CAP_NET_BIND_SERVICE",
                "ip_unprivileged_port_start",
            ],
        );
    }
}

/// netlab in a new, empty network namespace (`unshare -n`): even lo is down, so
/// nothing can leave and nothing can arrive.
fn in_empty_netns(args: &[&str]) -> Output {
    Command::new("unshare")
        .arg("-n")
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .args(args)
        .output()
        .expect("unshare (util-linux)")
}

#[test]
fn network_unreachable_in_an_empty_namespace() {
    require!(Need::Root("CAP_SYS_ADMIN for an empty network namespace"));
    assert_error(
        &in_empty_netns(&["tcp", "connect", "127.0.0.1:7000"]),
        &["network is unreachable", "127.0.0.1"],
    );
    assert_error(
        &in_empty_netns(&["udp", "send", "127.0.0.1:7001", "x"]),
        &["network is unreachable"],
    );
    // IPv6: with lo down, ::1 is no address of this (namespace's) machine.
    assert_error(
        &in_empty_netns(&["tcp", "connect", "[::1]:7000"]),
        &["cannot assign requested address"],
    );
}

#[test]
fn bad_udp_send_arguments() {
    assert_error(
        &run(&["udp", "send", "not-an-address", "x"]),
        &["is not an address"],
    );
    assert_error(
        &run(&["udp", "send", "127.0.0.1:7001"]),
        &["nothing to send"],
    );
    assert_eq!(
        run(&["tcp", "connect"]).status.code(),
        Some(2),
        "clap: ADDR required"
    );
}

#[test]
fn help_shows_pasteable_examples() {
    for cmd in [
        &["tcp", "serve"][..],
        &["tcp", "connect"],
        &["udp", "serve"],
        &["udp", "send"],
        &["ports"],
    ] {
        let out = netlab().args(cmd).arg("--help").output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let example = format!("netlab {}", cmd.join(" "));
        assert!(
            text.contains("Examples:") && text.contains(&example),
            "{cmd:?}: {text}"
        );
    }
}

#[test]
fn a_large_message_through_the_own_server_does_not_wait_for_itself() {
    // 10 × 20,000 bytes (one argument may not exceed 128 KiB).
    let big = "x".repeat(20_000);
    let mut args = vec!["tcp", "connect", "--own-server", "--wait", "20000"];
    for _ in 0..10 {
        args.extend(["--send", big.as_str()]);
    }
    let ev = events(&args);
    let back: u64 = of(&ev, "client", "recv")
        .iter()
        .map(|e| e["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(back, 200_000);
    // More than a receive buffer surely holds: the server read as the bytes came,
    // instead of waiting for all of them to be queued.
    assert!(
        of(&ev, "conn 1", "delay").is_empty(),
        "{:?}",
        of(&ev, "conn 1", "delay")
    );
    assert_eq!(one(&ev, "conn 1", "summary")["bytes"], 200_000);
}
