//! Golden tests: every capture rendered as the packet list, and its first packets as a
//! tree and a hex dump, with `--color never`, compared with `tests/golden/NAME.txt`.
//! `NETLAB_BLESS=1 cargo test golden` rewrites the files; review the diff.

use crate::common::{captures, name, netlab, root};

fn render(file: &std::path::Path) -> String {
    let mut text = String::new();
    for args in [
        &["dissect", "--color", "never"][..],
        &["dissect", "--color", "never", "-v", "-x", "-c", "4"],
    ] {
        let out = netlab().args(args).arg(file).output().expect("run netlab");
        text.push_str(&format!("$ netlab {} {}\n", args.join(" "), name(file)));
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        text.push_str(&format!("[exit {}]\n\n", out.status.code().unwrap_or(-1)));
    }
    text
}

#[test]
fn every_capture_matches_its_golden_rendering() {
    let dir = root().join("tests/golden");
    let bless = std::env::var_os("NETLAB_BLESS").is_some();
    let mut stale = Vec::new();
    for file in captures() {
        let got = render(&file);
        let path = dir.join(format!("{}.txt", name(&file)));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == got => {}
            Ok(want) => {
                let line = want
                    .lines()
                    .zip(got.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(want.lines().count().min(got.lines().count()));
                stale.push(format!(
                    "{}: differs from line {}:\n  want: {}\n  got:  {}",
                    path.display(),
                    line + 1,
                    want.lines().nth(line).unwrap_or("<end>"),
                    got.lines().nth(line).unwrap_or("<end>")
                ));
            }
            Err(_) => stale.push(format!("{}: missing", path.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "golden files differ (NETLAB_BLESS=1 rewrites them):\n{}",
        stale.join("\n")
    );
}
