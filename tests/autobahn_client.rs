//! `netlab ws connect --echo` against the Autobahn|Testsuite's fuzzingserver (cases 1.*
//! to 10.*): every case OK, NON-STRICT or INFORMATIONAL, none FAILED. The report's summary
//! is printed. Where no Python 2.7 exists the script says so and this test reports it as
//! skipped.

#[test]
fn autobahn_fuzzingserver_finds_no_client_failure() {
    crate::autobahn::run_autobahn_script("scripts/autobahn-client.sh");
}

/// `--echo` without Python: a hand-made server sends a text and a binary message; the
/// client sends both back (masked), then answers the server's close.
#[test]
fn connect_echo_sends_every_message_back() {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    use netlab::wire::http;
    use netlab::wire::websocket::{self as ws, Frame, OpCode};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = crate::common::netlab()
        .args(["ws", "connect", "--echo", &format!("ws://{addr}/")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let (req, n) = loop {
        if let Some(r) = http::parse_request(&buf).unwrap() {
            break r;
        }
        let k = s.read(&mut chunk).unwrap();
        assert!(k > 0, "EOF during the handshake");
        buf.extend_from_slice(&chunk[..k]);
    };
    buf.drain(..n);
    let hs = ws::validate_client_request(&req).unwrap();
    s.write_all(&hs.accept_response(None).to_bytes()).unwrap();
    let data: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
    s.write_all(&Frame::text("echo me").encode()).unwrap();
    s.write_all(&Frame::binary(data.clone()).encode()).unwrap();
    let mut next = || {
        loop {
            if let Some((f, n)) = Frame::decode(&buf).unwrap() {
                buf.drain(..n);
                return f;
            }
            let k = s.read(&mut chunk).expect("a frame in time");
            assert!(k > 0, "EOF while waiting for a frame");
            buf.extend_from_slice(&chunk[..k]);
        }
    };
    let (text, bin) = (next(), next());
    assert_eq!(
        (text.opcode, text.payload.as_slice()),
        (OpCode::Text, &b"echo me"[..])
    );
    assert!(text.masking_key.is_some(), "a client's frames are masked");
    assert_eq!((bin.opcode, &bin.payload), (OpCode::Binary, &data));
    assert!(bin.masking_key.is_some());
    s.write_all(&Frame::close(Some(1000), "").encode()).unwrap();
    let out = client.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "← text \"echo me\"",
        "→ text \"echo me\"",
        "← binary 300 bytes",
        "→ binary 300 bytes",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
}
