//! Compiles the course into the binary: every `lessons/*.md`, and every file of
//! `captures/` a lesson's front matter names, so that a learner who ran `cargo install`
//! has the lessons and the captures they read.
//!
//! Writes `$OUT_DIR/course_files.rs` (included by `src/course/embedded.rs`). A lesson
//! whose front matter cannot be read, or a capture that is missing, does not stop the
//! build: `netlab lesson` and the tests report it with the file and line.

use std::fmt::Write as _;
use std::path::Path;

#[allow(dead_code)]
#[path = "src/course/front_matter.rs"]
mod front_matter;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&root);
    println!("cargo::rerun-if-changed=lessons");
    println!("cargo::rerun-if-changed=captures");
    println!("cargo::rerun-if-changed=src/course/front_matter.rs");

    let mut lessons: Vec<_> = std::fs::read_dir(root.join("lessons"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "md"))
                .collect()
        })
        .unwrap_or_default();
    lessons.sort();

    let mut captures = Vec::new();
    let mut out = String::from("/// Every `lessons/*.md`: (path in the repository, text).\n");
    out.push_str("pub static LESSONS: &[(&str, &str)] = &[\n");
    for path in &lessons {
        let name = path.file_name().unwrap().to_string_lossy();
        let _ = writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            format!("lessons/{name}"),
            path
        );
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Ok(fm) = front_matter::parse(&text) {
            for c in fm.captures {
                if root.join("captures").join(&c).is_file() && !captures.contains(&c) {
                    captures.push(c);
                }
            }
        }
    }
    out.push_str("];\n\n/// The captures the lessons name: (file name in captures/, bytes).\n");
    out.push_str("pub static CAPTURES: &[(&str, &[u8])] = &[\n");
    captures.sort();
    for c in &captures {
        let _ = writeln!(
            out,
            "    ({c:?}, include_bytes!({:?})),",
            root.join("captures").join(c)
        );
    }
    out.push_str("];\n");

    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("course_files.rs");
    std::fs::write(dest, out).expect("write course_files.rs");
}
