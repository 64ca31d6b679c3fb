//! The application protocols (DNS, TLS, FTP, SMTP, IMF, SSH) against tshark, **both
//! ways**: for every capture, the fields compared are every field of those protocols that
//! tshark shows (read from its PDML) *and* every one netlab's `--json` has. A field
//! tshark has and netlab lacks fails, and so does the reverse; then every occurrence of
//! every such field must agree, packet by packet (`tshark -T fields -E occurrence=a`).
//!
//! Left out, each for a stated reason ([`NOT_COMPARED`]): fields that point forward in
//! the capture (netlab reads it once, as tshark's default single pass does for the fields
//! `-T fields` prints — but tshark's PDML shows some of them anyway), hashes over values
//! netlab does show (JA3, HASSH), and tshark's tree headings without a value
//! (`FT_NONE`).
//!
//! `NETLAB_ORACLE_DIR=/some/dir` runs the comparison over that directory's captures
//! instead of `captures/` (for captures made while developing a dissector).
//! Where a capture uses ports tshark does not associate with the protocol, [`DECODE_AS`]
//! gives both programs the same `-d` rules.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{self, captures, name, netlab};
use crate::oracle::{AGG, compare};

/// The protocols compared both ways, by field-name prefix.
const PREFIXES: &[&str] = &["dns.", "tls.", "ftp.", "ftp-data.", "smtp.", "imf.", "ssh."];

/// `-d` rules per capture file, given to tshark and netlab alike.
const DECODE_AS: &[(&str, &[&str])] = &[];

/// Fields not compared, with why: tshark shows them and netlab does not, or netlab shows
/// them and tshark 4.0 (Debian 12's) does not.
const NOT_COMPARED: &[(&str, &str)] = &[
    (
        "dns.response_in",
        "points forward to a later frame: needs a second pass over the capture (tshark -2)",
    ),
    (
        "ftp-data.command",
        "tshark 4.0 keeps the first command after PASV/EPSV (often TYPE); Wireshark 4.2 and netlab keep the command whose answer the connection carries (LIST, RETR)",
    ),
    ("ftp-data.command-frame", "as ftp-data.command"),
    (
        "ssh.seq_num",
        "tshark 4.0 miscounts (the client's second packet shows 2); netlab counts per RFC 4253 § 6.4, from 0 per direction",
    ),
    (
        "ssh.encrypted_packet",
        "tshark 4.0 shows an encrypted SSH packet only as a heading (\"SSH Version 2 (encryption:…)\"); later Wireshark, like netlab, shows its bytes",
    ),
    ("ssh.packet_length_encrypted", "as ssh.encrypted_packet"),
    ("ssh.mac", "as ssh.encrypted_packet"),
    (
        "ssh.host_sig.data",
        "tshark 4.0 stops after an Ed25519 signature's type (\"Decoded 19 bytes, but packet length is 83 bytes\"); netlab shows the signature",
    ),
];

/// The same bytes under other names: tshark 4.0 does not know the sntrup761x25519-sha512
/// key exchange (Wireshark 4.2 does) and reads its public keys as Diffie-Hellman mpints;
/// netlab reads them as the strings the method defines (Q_C, Q_S). The values must
/// still agree: (netlab's name, tshark 4.0's name).
const SAME_BYTES: &[(&str, &str)] = &[
    ("ssh.ecdh.q_c", "ssh.dh.e"),
    ("ssh.ecdh.q_c_length", "ssh.mpint_length"),
    ("ssh.ecdh.q_s", "ssh.dh.f"),
    ("ssh.ecdh.q_s_length", "ssh.mpint_length"),
];

fn decode_as(file: &Path) -> &'static [&'static str] {
    let n = name(file);
    DECODE_AS
        .iter()
        .find(|(f, _)| *f == n)
        .map_or(&[], |(_, r)| r)
}

fn mine(field: &str) -> bool {
    PREFIXES.iter().any(|p| field.starts_with(p))
}

fn files() -> Vec<PathBuf> {
    let Some(dir) = std::env::var_os("NETLAB_ORACLE_DIR") else {
        return captures();
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("NETLAB_ORACLE_DIR={}: {e}", dir.to_string_lossy()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    v.sort();
    v
}

fn tshark() -> Command {
    let mut c = Command::new("tshark");
    c.arg("-n");
    c
}

fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("tshark is needed for this test ({e}); ./scripts/test.sh installs it")
    });
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every field tshark knows, with its type (`FT_UINT16`, `FT_NONE`…).
fn field_types() -> HashMap<String, String> {
    // `-G` must come first.
    let mut cmd = Command::new("tshark");
    cmd.args(["-G", "fields"]);
    run(cmd, "tshark -G fields")
        .lines()
        .filter_map(|l| {
            let mut p = l.split('\t');
            (p.next()? == "F").then_some(())?;
            p.next()?;
            let key = p.next()?;
            let ty = p.next()?;
            Some((key.to_string(), ty.to_string()))
        })
        .collect()
}

/// The names of the fields tshark shows anywhere in the capture (from its PDML).
fn tshark_present(file: &Path, rules: &[&str]) -> BTreeSet<String> {
    let mut cmd = tshark();
    cmd.arg("-r").arg(file).args(["-T", "pdml"]);
    for r in rules {
        cmd.args(["-d", r]);
    }
    let pdml = run(cmd, &format!("tshark -T pdml {}", name(file)));
    let mut set = BTreeSet::new();
    for part in pdml.split("<field name=\"").skip(1) {
        if let Some(end) = part.find('"') {
            set.insert(part[..end].to_string());
        }
    }
    set
}

fn tshark_values(file: &Path, rules: &[&str], fields: &[String]) -> Vec<BTreeMap<String, String>> {
    let mut cmd = tshark();
    cmd.arg("-r").arg(file);
    for r in rules {
        cmd.args(["-d", r]);
    }
    cmd.args(["-T", "fields", "-E", "occurrence=a", "-E", "separator=/t"]);
    cmd.args(["-E", &format!("aggregator={AGG}")]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    run(cmd, &format!("tshark -T fields {}", name(file)))
        .lines()
        .map(|line| {
            fields
                .iter()
                .zip(line.split('\t'))
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect()
        })
        .collect()
}

fn netlab_values(file: &Path, rules: &[&str]) -> Vec<serde_json::Value> {
    let mut cmd = netlab();
    cmd.args(["dissect", "--json"]);
    for r in rules {
        cmd.args(["-d", r]);
    }
    let out = cmd.arg(file).output().expect("run netlab");
    assert!(
        out.status.success(),
        "netlab failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    common::json_lines(std::str::from_utf8(&out.stdout).expect("utf-8"))
}

#[test]
fn application_fields_agree_with_tshark_both_ways() {
    let types = field_types();
    let skipped: BTreeMap<&str, &str> = NOT_COMPARED.iter().copied().collect();
    let mut mismatches = Vec::new();
    let mut per_field: BTreeMap<String, usize> = BTreeMap::new();
    let mut compared = 0usize;
    for file in files() {
        let rules = decode_as(&file);
        let ours = netlab_values(&file, rules);
        let present = tshark_present(&file, rules);
        let mut fields: BTreeSet<String> = present
            .iter()
            .filter(|f| mine(f) && !skipped.contains_key(f.as_str()))
            .cloned()
            .collect();
        for pkt in &ours {
            if let Some(obj) = pkt["fields"].as_object() {
                for k in obj
                    .keys()
                    .filter(|k| mine(k) && !skipped.contains_key(k.as_str()))
                {
                    if !types.contains_key(k) {
                        mismatches.push(format!(
                            "{}: netlab writes {k}, a name tshark does not know",
                            name(&file)
                        ));
                    } else {
                        fields.insert(k.clone());
                    }
                }
            }
        }
        // Tree headings have no value to compare.
        let mut fields: Vec<String> = fields
            .into_iter()
            .filter(|f| {
                types
                    .get(f)
                    .is_some_and(|t| t != "FT_NONE" && t != "FT_PROTOCOL")
            })
            .collect();
        if fields.is_empty() {
            continue;
        }
        // And the protocol stack of every packet of such a capture.
        fields.push("frame.protocols".into());
        let theirs = tshark_values(&file, rules, &fields);
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{}: netlab shows {} packets, tshark {}",
            name(&file),
            ours.len(),
            theirs.len()
        );
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            let mut done: BTreeSet<&str> = BTreeSet::new();
            for (a, b) in SAME_BYTES {
                let (oa, ob) = (o["fields"].get(*a), o["fields"].get(*b));
                let (ta, tb) = (t.get(*a), t.get(*b));
                if oa.is_some() && ob.is_none() && ta.is_none() && tb.is_some() {
                    compared += 1;
                    if let Some(why) = compare(a, oa, tb) {
                        mismatches.push(format!(
                            "{} packet {}: {a} (tshark 4.0: {b}): {why}",
                            name(&file),
                            i + 1
                        ));
                    }
                    done.insert(a);
                    done.insert(b);
                }
            }
            for f in &fields {
                if done.contains(f.as_str()) {
                    continue;
                }
                let ov = o["fields"].get(f.as_str());
                let tv = t.get(f);
                if ov.is_some() || tv.is_some() {
                    compared += 1;
                    *per_field.entry(f.clone()).or_default() += 1;
                }
                // tshark writes an empty string as nothing (an empty SSH name-list).
                let empty = |v: &serde_json::Value| match v {
                    serde_json::Value::String(s) => s.is_empty(),
                    serde_json::Value::Array(a) => a.iter().all(|x| x.as_str() == Some("")),
                    _ => false,
                };
                if tv.is_none() && ov.is_some_and(empty) && present.contains(f) {
                    continue;
                }
                if let Some(why) = compare(f, ov, tv) {
                    mismatches.push(format!("{} packet {}: {f}: {why}", name(&file), i + 1));
                }
            }
        }
    }
    println!(
        "application oracle: {compared} packet-field values compared both ways, {} mismatches",
        mismatches.len()
    );
    for (f, n) in &per_field {
        println!("  {f:<56} {n:>5}");
    }
    assert!(
        mismatches.is_empty(),
        "{} disagreements with tshark, first ones:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        compared > 0,
        "no application field in any capture: nothing was compared"
    );
}
