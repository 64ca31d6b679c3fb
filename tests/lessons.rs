//! Every `$ netlab …` step of every lesson runs, succeeds and prints something: the
//! course stays true to the binary.

use crate::common::{netlab, root};

/// Splits a command line on spaces, honouring single quotes (all the lessons use).
pub(crate) fn split(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    args.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        args.push(cur);
    }
    args
}

/// `PATH` with the tested binary's directory first: a step may run `netlab` itself as a
/// command (`netlab capture -- netlab tcp connect …`).
pub(crate) fn path_with_netlab() -> std::ffi::OsString {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_netlab"))
        .parent()
        .unwrap()
        .to_path_buf();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&rest))).unwrap()
}

#[test]
fn every_lesson_step_runs() {
    let mut steps = 0;
    let mut dir: Vec<_> = std::fs::read_dir(root().join("lessons"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dir.sort();
    for lesson in dir {
        let text = std::fs::read_to_string(&lesson).unwrap();
        for raw in text.lines() {
            // `$ sudo netlab …` steps need root: run them as root, else say they are skipped.
            let (line, needs_root) = match (
                raw.strip_prefix("$ netlab "),
                raw.strip_prefix("$ sudo netlab "),
            ) {
                (Some(l), _) => (l, false),
                (_, Some(l)) => (l, true),
                _ => continue,
            };
            // SAFETY: geteuid has no preconditions.
            if needs_root && unsafe { libc::geteuid() } != 0 {
                eprintln!("SKIPPED (needs root): {}: `{raw}`", lesson.display());
                continue;
            }
            let args = split(line);
            let out = netlab()
                .current_dir(root())
                .env("PATH", path_with_netlab())
                .args(&args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: `netlab {line}` failed: {}",
                lesson.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.stdout.is_empty(), "`netlab {line}` printed nothing");
            steps += 1;
        }
    }
    assert!(steps >= 10, "only {steps} lesson steps found");
    println!("{steps} lesson steps ran");
}
