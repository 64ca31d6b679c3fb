//! "Layers never look up": a module may import only the modules below it.
//! wire → capture / dissect → render → commands → cli/main; course (lessons, progress)
//! below render and commands, importing no other netlab module.

use crate::common::root;

/// For each module, the `crate::` modules it must not name.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("wire", &["capture", "dissect", "render", "commands", "cli"]),
    ("capture", &["dissect", "render", "commands", "cli"]),
    ("dissect", &["capture", "render", "commands", "cli"]),
    ("render", &["capture", "commands", "cli"]),
    (
        "course",
        &[
            "wire", "capture", "dissect", "render", "tcp", "ws", "socketio", "net", "commands",
            "cli",
        ],
    ),
    (
        "tcp",
        &["capture", "dissect", "render", "commands", "cli", "net"],
    ),
    (
        "ws",
        &["capture", "dissect", "render", "commands", "cli", "net"],
    ),
    (
        "socketio",
        &["capture", "dissect", "render", "commands", "cli", "net"],
    ),
    ("commands", &[]),
];

fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn modules_never_import_upwards() {
    let mut bad = Vec::new();
    let mut checked = 0;
    for (module, forbidden) in FORBIDDEN {
        let mut v = Vec::new();
        files(&root().join("src").join(module), &mut v);
        for f in v {
            let text = std::fs::read_to_string(&f).unwrap();
            checked += 1;
            for (n, line) in text.lines().enumerate() {
                for up in *forbidden {
                    if line.contains(&format!("crate::{up}::"))
                        || line.contains(&format!("crate::{up}}}"))
                        || line.contains(&format!("crate::{{{up}"))
                    {
                        bad.push(format!(
                            "{}:{}: {} imports {up}",
                            f.display(),
                            n + 1,
                            module
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} files checked");
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
}
