//! A closed pipe (`netlab … | head -1`: the reader left) ends every subcommand quietly
//! with status 0: no error, no panic, no backtrace. (`dissect` after its first line:
//! `cli::closed_pipe_exits_quietly`.)
//!
//! Two ways to close it:
//! - before the command writes anything: standard output is a pipe whose reading end
//!   is already closed, so its very first write fails (deterministic, whatever its
//!   speed);
//! - for the servers, after the line that says where they listen: the test closes the
//!   pipe, then connects, so the write that fails happens in a connection's thread, and
//!   the server must still end.
//!
//! The subcommands that need root (`capture`, `race`, `tcp-handshake` against the
//! kernel) run as root in CI; `tcp-handshake --simulate` needs nothing.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::fd::FromRawFd;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Listening, Need, netlab, require, root};

/// How long a command may take to notice and end.
const LIMIT: Duration = Duration::from_secs(30);

/// The writing end of a pipe whose reading end is closed: every write to it fails with
/// EPIPE.
fn closed_pipe() -> File {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 returns.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors are ours; the reading end is closed once, here.
    unsafe {
        libc::close(fds[0]);
        File::from_raw_fd(fds[1])
    }
}

/// Waits for `child` (killing it after [`LIMIT`]) and returns its status and stderr.
fn finish(mut child: Child, what: &str) -> (ExitStatus, String) {
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}: still running {} s after its output closed",
                LIMIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status, err)
}

/// Runs `netlab ARGS` with its standard output already closed: it must end with 0 and
/// say nothing on standard error (beyond the lines in `allowed`).
fn quiet_from_the_start(args: &[&str], allowed: &[&str]) {
    let child = netlab()
        .current_dir(root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check(args, finish(child, &args.join(" ")), allowed);
}

fn check(args: &[&str], (status, err): (ExitStatus, String), allowed: &[&str]) {
    let said: Vec<&str> = err
        .lines()
        .filter(|l| !allowed.iter().any(|a| l.contains(a)))
        .collect();
    assert!(
        status.success() && said.is_empty(),
        "netlab {}: {status}, stderr:\n{err}",
        args.join(" ")
    );
}

/// Starts a server whose first lines say where it listens (the line holding `marker`,
/// returned), then closes its standard output.
fn server_then_close(args: &[&str], marker: &str) -> (Child, String) {
    let mut child = netlab()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            lines.read_line(&mut line).unwrap() > 0,
            "netlab {}: no {marker:?} line",
            args.join(" ")
        );
        if line.contains(marker) {
            break;
        }
    }
    drop(lines); // the reading end closes, like `| head -1`
    (child, line)
}

/// `host:port` after `prefix` in `line`.
fn addr_after(line: &str, prefix: &str) -> String {
    let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
    rest.split(['/', ' ', ';'])
        .next()
        .unwrap()
        .trim_end_matches(['.', ','])
        .to_string()
}

/// Opens connections to `addr` (each sending `hello`) until `child` ends, so that the
/// server has something to print.
fn poke_until_done(child: Child, addr: &str, hello: &[u8], what: &str) -> (ExitStatus, String) {
    let addr = addr.to_string();
    let hello = hello.to_vec();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(mut s) = TcpStream::connect(&addr) {
                    let _ = s.write_all(&hello);
                    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                    let _ = s.read(&mut [0u8; 512]);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let result = finish(child, what);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    poker.join().unwrap();
    result
}

#[test]
fn dissect_before_its_first_line() {
    quiet_from_the_start(&["dissect", "captures/http.pcap"], &[]);
    quiet_from_the_start(&["dissect", "--json", "captures/http.pcap"], &[]);
}

#[test]
fn completions_ports_and_ws_upgrade() {
    quiet_from_the_start(&["completions", "bash"], &[]);
    quiet_from_the_start(&["ports"], &[]);
    quiet_from_the_start(&["ports", "--json"], &[]);
    quiet_from_the_start(&["ws-upgrade"], &[]);
}

#[test]
fn tcp_handshake_simulated() {
    quiet_from_the_start(&["tcp-handshake", "--simulate", "--send", "hi"], &[]);
    quiet_from_the_start(&["tcp-handshake", "--simulate", "--json"], &[]);
}

#[test]
fn tcp_handshake_against_the_kernel() {
    require!(Need::Root("a network namespace and a TUN device"));
    quiet_from_the_start(&["tcp-handshake", "--send", "hi"], &[]);
}

#[test]
fn race() {
    require!(Need::Root("two network namespaces and TUN devices"));
    quiet_from_the_start(&["race", "--count", "20", "--seed", "1"], &[]);
}

#[test]
fn congestion_and_nagle() {
    require!(Need::Root("two network namespaces and TUN devices"));
    quiet_from_the_start(&["congestion", "--bytes", "200kB"], &[]);
    quiet_from_the_start(&["nagle", "--rounds", "3"], &[]);
}

#[test]
fn capture() {
    require!(Need::Root("a packet socket"));
    let target = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = target.local_addr().unwrap().port();
    let filter = format!("udp.port == {port}");
    let args = ["capture", "-i", "lo", "--filter", &filter];
    let child = netlab()
        .args(args)
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Datagrams to the filtered port until it has one to show, fails, and ends.
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = sender.send_to(b"hi", ("127.0.0.1", port));
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let result = finish(child, "capture");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    poker.join().unwrap();
    // Its status line (on standard error, like tcpdump's) is not an error.
    check(&args, result, &["netlab: capturing on lo"]);
}

#[test]
fn tcp_and_udp_clients_with_their_own_servers() {
    quiet_from_the_start(&["tcp", "connect", "--own-server", "--send", "a"], &[]);
    quiet_from_the_start(
        &["tcp", "connect", "--own-server", "--send", "a", "--json"],
        &[],
    );
    quiet_from_the_start(&["udp", "send", "--own-server", "a", "b"], &[]);
}

#[test]
fn tcp_serve_when_a_connection_prints() {
    quiet_from_the_start(&["tcp", "serve", "--addr", "127.0.0.1:0"], &[]);
    let (child, line) =
        server_then_close(&["tcp", "serve", "--addr", "127.0.0.1:0"], "listening on ");
    let addr = addr_after(&line, "listening on ");
    check(
        &["tcp", "serve"],
        poke_until_done(child, &addr, b"hello", "tcp serve"),
        &[],
    );
}

#[test]
fn udp_serve_when_a_datagram_comes() {
    quiet_from_the_start(&["udp", "serve", "--addr", "127.0.0.1:0"], &[]);
    let (child, line) = server_then_close(
        &["udp", "serve", "--addr", "127.0.0.1:0"],
        "waiting for datagrams on ",
    );
    let addr = addr_after(&line, "waiting for datagrams on ");
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = sender.send_to(b"hi", &addr);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let result = finish(child, "udp serve");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    poker.join().unwrap();
    check(&["udp", "serve"], result, &[]);
}

#[test]
fn ws_serve_when_a_connection_prints() {
    quiet_from_the_start(&["ws", "serve", "--addr", "127.0.0.1:0"], &[]);
    for mode in ["--echo", "--chat"] {
        let args = ["ws", "serve", mode, "--addr", "127.0.0.1:0"];
        let (child, line) = server_then_close(&args, "listening on ws://");
        let addr = addr_after(&line, "listening on ws://");
        // A plain HTTP request: the connection's thread prints a line about it.
        let get = b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n";
        check(&args, poke_until_done(child, &addr, get, "ws serve"), &[]);
    }
}

#[test]
fn ws_connect() {
    let mut cmd = netlab();
    cmd.args(["ws", "serve", "--echo", "--addr", "127.0.0.1:0"]);
    let server = Listening::start(cmd);
    let url = format!("ws://{}/", server.addr);
    quiet_from_the_start(&["ws", "connect", &url, "--send", "a", "--send", "b"], &[]);
    quiet_from_the_start(&["ws", "connect", &url, "--send", "a", "--trace"], &[]);
}

#[test]
fn socketio_serve_when_a_connection_prints() {
    quiet_from_the_start(&["socketio", "serve", "--addr", "127.0.0.1:0"], &[]);
    let args = ["socketio", "serve", "--addr", "127.0.0.1:0"];
    let (child, line) = server_then_close(&args, "listening on http://");
    let addr = addr_after(&line, "listening on http://");
    // A polling handshake: the server prints the new session.
    let get = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
    check(
        &args,
        poke_until_done(child, &addr, get, "socketio serve"),
        &[],
    );
}

#[test]
fn socketio_connect_and_demo() {
    let mut cmd = netlab();
    cmd.args(["socketio", "serve", "--addr", "127.0.0.1:0"]);
    let server = Listening::start(cmd);
    let url = format!("http://{}", server.addr);
    for transport in ["websocket", "polling"] {
        quiet_from_the_start(
            &[
                "socketio",
                "connect",
                &url,
                "--transport",
                transport,
                "--emit",
                "chat",
                "\"hi\"",
                "--ack",
            ],
            &[],
        );
    }
    quiet_from_the_start(&["socketio", "demo"], &[]);
    quiet_from_the_start(&["socketio", "demo", "--transport", "polling"], &[]);
}

/// The same, after some output was read: `| head -1` on a client that goes on printing.
#[test]
fn ws_connect_after_its_first_line() {
    let mut cmd = netlab();
    cmd.args(["ws", "serve", "--echo", "--addr", "127.0.0.1:0"]);
    let server = Listening::start(cmd);
    let url = format!("ws://{}/", server.addr);
    let many: Vec<String> = (0..200).map(|i| format!("message {i}")).collect();
    let mut args = vec!["ws", "connect", url.as_str()];
    for m in &many {
        args.extend(["--send", m.as_str()]);
    }
    let mut child = netlab()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("connected to ws://"), "{first}");
    check(&args, finish(child, "ws connect"), &[]);
}

#[test]
fn the_closed_pipe_helper_really_is_closed() {
    let mut f = closed_pipe();
    let e = f.write_all(b"x").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
}
