//! `netlab dissect -2`: a first pass learns links forward in time (`http.response_in`),
//! the second shows them — as `tshark -2` does, frame for frame.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::{self, netlab, root};

fn keepalive() -> std::path::PathBuf {
    root().join("captures").join("http-keepalive.pcap")
}

/// `http.response_in` of every frame, as `tshark -2` gives it (None when absent).
fn tshark_response_in(file: &std::path::Path) -> Vec<Option<u64>> {
    let out = Command::new("tshark")
        .args(["-n", "-2", "-r"])
        .arg(file)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "http.response_in",
        ])
        .output()
        .expect("tshark installed (./scripts/test.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut cols = l.split('\t');
            assert_eq!(cols.next(), Some((i + 1).to_string().as_str()), "{l}");
            cols.next()
                .filter(|v| !v.is_empty())
                .map(|v| v.parse().unwrap())
        })
        .collect()
}

fn netlab_json(args: &[&str], file: &std::path::Path) -> Vec<serde_json::Value> {
    common::ndjson(
        &netlab()
            .arg("dissect")
            .args(args)
            .arg("--json")
            .arg(file)
            .output()
            .unwrap(),
    )
}

fn response_in(pkt: &serde_json::Value) -> Option<u64> {
    pkt["fields"].get("http.response_in").map(|v| {
        v.as_u64()
            .unwrap_or_else(|| panic!("http.response_in {v} is not one frame number"))
    })
}

#[test]
fn response_in_agrees_with_tshark_two_pass() {
    let file = keepalive();
    let want = tshark_response_in(&file);
    let ours = netlab_json(&["-2"], &file);
    assert_eq!(ours.len(), want.len(), "frame counts");
    let got: Vec<Option<u64>> = ours.iter().map(response_in).collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "frame {}: netlab -2 vs tshark -2", i + 1);
    }
    assert!(
        want.iter().flatten().count() >= 5,
        "the capture's requests are answered"
    );
    // One pass (the default) shows no link forward, as tshark's single pass.
    let one = netlab_json(&[], &file);
    assert!(one.iter().all(|p| response_in(p).is_none()));
    // Apart from the new field, both passes dissect alike.
    for (mut a, b) in ours.into_iter().zip(one) {
        a["fields"]
            .as_object_mut()
            .unwrap()
            .remove("http.response_in");
        assert_eq!(a, b);
    }
}

#[test]
fn response_in_filters_and_shows_in_the_tree() {
    let file = keepalive();
    let frames: Vec<u64> = netlab_json(&["-2", "-Y", "http.response_in"], &file)
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = tshark_response_in(&file)
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_some())
        .map(|(i, _)| i as u64 + 1)
        .collect();
    assert_eq!(frames, want);
    let out = netlab()
        .args(["dissect", "-2", "-v", "-Y", "frame.number == 4"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[Response in frame: 8] — "), "{text}");
}

#[test]
fn two_pass_on_stdin_is_an_error() {
    let mut child = netlab()
        .args(["dissect", "-2", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The error comes before anything is read: a closed pipe is fine here.
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(keepalive()).unwrap());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.starts_with("netlab: error: -2 ") && err.contains("standard input"),
        "{err}"
    );
}
