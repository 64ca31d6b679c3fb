//! "Layers never look up" (STYLE.md), checked on the source: every file of `src/`
//! belongs to a floor with a rule saying which floors it may name, every path it names
//! is read (`use crate::a::b`, grouped `use crate::{a, b::{c, d}}`, `use super::…`,
//! `pub use` re-exports followed to the file that defines the item, and paths written
//! inline in code, `crate::net::sockio::is_timeout(…)`), and no circle may join the
//! files of one floor.
//!
//! A floor's `mod.rs` is its common ground — shared helpers its parts use, the entry
//! that calls its parts, re-exports — and is left out of the circle check; a circle
//! between two of its other files (`commands/onion.rs` ↔ `commands/socketio.rs` once)
//! means what they share belongs in a file of its own, or a floor lower.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::common::root;

/// Each floor and the floors it may name (besides itself). A module path maps to the
/// floor with the longest matching prefix.
const RULES: &[(&str, &[&str])] = &[
    // Pure codecs and field knowledge.
    ("wire", &[]),
    // Where random numbers come from (the OS's CSPRNG, seeded runs).
    ("random", &[]),
    // The simulated wire: delay, loss, reordering, a bottleneck (I/O-free, seeded).
    ("wiremodel", &["random"]),
    // The trace's hook: what a traced server reports its units through.
    ("trace", &[]),
    ("capture", &["wire"]),
    // (`random` for its mutation tests' seeded edits.)
    ("dissect", &["wire", "random"]),
    // The trace's model: the lower onion as data, over the dissection model.
    ("trace::model", &["trace", "dissect"]),
    // I/O-free protocol engines (their servers, on the event loop, and the WebSocket
    // client may add `net`).
    ("tcp", &["wire", "random", "wiremodel"]),
    ("ws", &["wire", "random", "trace"]),
    ("ws::server", &["ws", "wire", "random", "trace", "net"]),
    ("ws::client", &["ws", "wire", "random", "trace", "net"]),
    ("socketio", &["wire", "random", "trace", "ws"]),
    (
        "socketio::server",
        &["socketio", "wire", "random", "trace", "ws", "net"],
    ),
    (
        "socketio::connect",
        &["socketio", "wire", "random", "trace", "ws", "net"],
    ),
    // The course: the lesson format, checks, progress, the step runner (it runs this
    // binary as a child process, so it needs no other netlab module).
    ("course", &[]),
    // Model -> text (the course's model included: lessons on the terminal).
    (
        "render",
        &["dissect", "wire", "trace", "trace::model", "course"],
    ),
    // The I/O.
    ("net", &["wire", "random", "trace", "wiremodel", "capture"]),
    // The trace's implementation: a watch on lo and TCP_INFO, rendered.
    (
        "trace::onion",
        &["trace", "trace::model", "net", "dissect", "render", "wire"],
    ),
    // One file per subcommand: glue over everything below.
    (
        "commands",
        &[
            "cli",
            "wire",
            "random",
            "wiremodel",
            "capture",
            "dissect",
            "tcp",
            "ws",
            "ws::server",
            "ws::client",
            "socketio",
            "socketio::server",
            "socketio::connect",
            "render",
            "net",
            "trace",
            "trace::model",
            "trace::onion",
            "course",
        ],
    ),
    // Argument definitions only (and the built-in lesson ids, offered to completion).
    ("cli", &["course"]),
    // The entry: parse, run, map the error.
    ("main", &["cli", "commands", "render"]),
];

/// A source file: its path and the module it is (`["wire", "websocket", "frame"]`).
#[derive(Debug, Clone)]
struct Source {
    path: PathBuf,
    module: Vec<String>,
}

fn sources() -> Vec<Source> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let src = root().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&src).unwrap().with_extension("");
            let mut module: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|l| l == "mod" || l == "lib") {
                module.pop();
            }
            Source { path, module }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// A small Rust lexer: enough to find paths, outside comments and literals.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

/// The tokens of `text`, with comments, strings and character literals left out.
fn tokens(text: &str) -> Vec<Tok> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' || ((ch == 'r' || ch == 'b') && starts_raw_or_byte_string(&c, i)) {
            i = skip_string(&c, i);
        } else if ch == '\'' {
            // A character literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
            if at(i + 1) == '\\' {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
        } else if ch == ':' && at(i + 1) == ':' {
            out.push(Tok::Path);
            i += 2;
        } else {
            if !ch.is_whitespace() {
                out.push(Tok::Punct(ch));
            }
            i += 1;
        }
    }
    out
}

/// `r"…"`, `r#"…"#`, `b"…"`, `br#"…"#` start at `c[i]`.
fn starts_raw_or_byte_string(c: &[char], i: usize) -> bool {
    // Only at the start of a token: `bar"` is not a string prefix.
    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_') {
        return false;
    }
    let mut j = i;
    if c.get(j) == Some(&'b') {
        j += 1;
    }
    if c.get(j) == Some(&'r') {
        j += 1;
        while c.get(j) == Some(&'#') {
            j += 1;
        }
    }
    j > i && c.get(j) == Some(&'"')
}

/// Skips a string literal starting at `c[i]` (any prefix); returns the index after it.
fn skip_string(c: &[char], mut i: usize) -> usize {
    if c[i] == 'b' {
        i += 1;
    }
    if c[i] == 'r' {
        i += 1;
        let mut hashes = 0;
        while c[i] == '#' {
            hashes += 1;
            i += 1;
        }
        i += 1; // the opening quote
        while i < c.len() {
            if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                return i + 1 + hashes;
            }
            i += 1;
        }
        return i;
    }
    i += 1; // the opening quote
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

// ---------------------------------------------------------------------------------------
// Paths: use trees and inline paths, each with the module it was written in.
// ---------------------------------------------------------------------------------------

/// A path found in a file: its segments (the first is `crate`, `super`, `self` or the
/// crate's name), the module it was written in (inline `mod x {}` blocks included),
/// whether it is a `pub use` (a re-export), and the name it is bound to then.
#[derive(Debug, Clone)]
struct Found {
    segments: Vec<String>,
    module: Vec<String>,
    reexport: Option<String>,
}

const ROOTS: &[&str] = &["crate", "super", "self", "netlab"];

fn ident(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

/// Parses one use tree at `toks[*i]`, with `prefix` from the enclosing groups; pushes
/// every leaf path (and the name it binds) to `out`.
fn use_tree(toks: &[Tok], i: &mut usize, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(*i) {
            Some(Tok::Punct('{')) => {
                *i += 1;
                loop {
                    match toks.get(*i) {
                        Some(Tok::Punct('}')) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::Punct(',')) => *i += 1,
                        None => return,
                        _ => use_tree(toks, i, &path, out),
                    }
                }
            }
            Some(Tok::Punct('*')) => {
                *i += 1;
                out.push((path, "*".to_string()));
                return;
            }
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                *i += 1;
                if toks.get(*i) == Some(&Tok::Path) {
                    *i += 1;
                    path.push(s);
                    continue;
                }
                // A leaf: `name`, `name as other`, `self`.
                let mut bound = s.clone();
                if ident(toks.get(*i)) == Some("as") {
                    if let Some(n) = ident(toks.get(*i + 1)) {
                        bound = n.to_string();
                    }
                    *i += 2;
                }
                if s == "self" {
                    let b = if bound == "self" {
                        path.last().cloned().unwrap_or_default()
                    } else {
                        bound
                    };
                    out.push((path, b));
                } else {
                    path.push(s);
                    out.push((path, bound));
                }
                return;
            }
            Some(Tok::Path) => *i += 1, // a leading `::`
            _ => return,
        }
    }
}

/// Every crate path in a file.
fn paths(text: &str, module: &[String]) -> Vec<Found> {
    let toks = tokens(text);
    let mut found = Vec::new();
    // Inline modules: (name, the brace depth their block opened at).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    let here = |inline: &[(String, usize)]| {
        let mut m = module.to_vec();
        m.extend(inline.iter().map(|(n, _)| n.clone()));
        m
    };
    while i < toks.len() {
        match &toks[i] {
            Tok::Punct('{') => {
                depth += 1;
                if let Some(name) = pending_mod.take() {
                    inline.push((name, depth));
                }
                i += 1;
            }
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Punct(';') => {
                pending_mod = None;
                i += 1;
            }
            Tok::Ident(s) if s == "mod" => {
                pending_mod = ident(toks.get(i + 1)).map(str::to_string);
                i += 2;
            }
            Tok::Ident(s) if s == "use" => {
                // `pub use` / `pub(crate) use`: a re-export.
                let public = matches!(i.checked_sub(1).map(|k| &toks[k]), Some(Tok::Ident(p)) if p == "pub")
                    || matches!(i.checked_sub(1).map(|k| &toks[k]), Some(Tok::Punct(')')));
                i += 1;
                let mut leaves = Vec::new();
                use_tree(&toks, &mut i, &[], &mut leaves);
                // Paths not starting at a root are relative (`use frame::Frame` names a
                // child module) or name another crate (`std`): resolution tells.
                let m = here(&inline);
                for (segments, bound) in leaves {
                    found.push(Found {
                        segments,
                        module: m.clone(),
                        reexport: public.then(|| bound.clone()),
                    });
                }
            }
            Tok::Ident(s)
                if ROOTS.contains(&s.as_str())
                    && toks.get(i + 1) == Some(&Tok::Path)
                    && toks.get(i.wrapping_sub(1)) != Some(&Tok::Path) =>
            {
                // An inline path: `crate::net::sockio::is_timeout(…)`.
                let mut segments = vec![s.clone()];
                i += 1;
                while toks.get(i) == Some(&Tok::Path) {
                    match ident(toks.get(i + 1)) {
                        Some(n) => {
                            segments.push(n.to_string());
                            i += 2;
                        }
                        None => break,
                    }
                }
                found.push(Found {
                    segments,
                    module: here(&inline),
                    reexport: None,
                });
            }
            _ => i += 1,
        }
    }
    found
}

// ---------------------------------------------------------------------------------------
// Resolution: a path to the file that defines what it names.
// ---------------------------------------------------------------------------------------

/// Per file, the names it re-exports → the path each stands for and the module that
/// path is written in.
type Reexports = HashMap<PathBuf, HashMap<String, (Vec<String>, Vec<String>)>>;

struct Crate {
    /// Module path → its file.
    files: HashMap<Vec<String>, PathBuf>,
    /// Per file, the names it re-exports → the path they stand for (and the module
    /// that path is relative to).
    reexports: Reexports,
}

impl Crate {
    /// The file of the longest prefix of `module` that has one.
    fn file_of(&self, module: &[String]) -> Option<(PathBuf, usize)> {
        (0..=module.len())
            .rev()
            .find_map(|n| self.files.get(&module[..n]).map(|f| (f.clone(), n)))
    }

    /// The file that defines what `segments` (written in `module`) names.
    fn resolve(&self, segments: &[String], module: &[String], hops: usize) -> Option<PathBuf> {
        let first = segments.first()?;
        let mut base: Vec<String> = match first.as_str() {
            "crate" | "netlab" => Vec::new(),
            "self" => module.to_vec(),
            "super" => module.to_vec(),
            // A child module of the current one (`use frame::Frame` in a mod.rs), or
            // another crate, which is none of this test's business.
            _ if self
                .files
                .contains_key(&[module, &[first.clone()][..]].concat()) =>
            {
                let mut m = module.to_vec();
                m.push(first.clone());
                let (file, _) = self.file_of(&m)?;
                return match segments.get(1) {
                    Some(_) => self.resolve(
                        &[&["self".to_string()][..], segments].concat(),
                        module,
                        hops,
                    ),
                    None => Some(file),
                };
            }
            _ => return None,
        };
        let mut rest = &segments[1..];
        if segments[0] == "super" {
            base.pop();
        }
        while rest.first().is_some_and(|s| s == "super") {
            base.pop();
            rest = &rest[1..];
        }
        // Walk down as long as the segments name modules with files of their own.
        let mut cur = base;
        let mut k = 0;
        while k < rest.len()
            && self
                .files
                .contains_key(&[cur.clone(), vec![rest[k].clone()]].concat())
        {
            cur.push(rest[k].clone());
            k += 1;
        }
        let (file, _) = self.file_of(&cur)?;
        // The next segment is an item of that file: follow a re-export to its source.
        if let Some(item) = rest.get(k)
            && hops < 8
            && let Some((target, from)) = self.reexports.get(&file).and_then(|r| r.get(item))
        {
            let mut target = target.clone();
            target.extend(rest[k + 1..].iter().cloned());
            return self.resolve(&target, from, hops + 1).or(Some(file));
        }
        Some(file)
    }
}

/// The floor a module belongs to: the longest rule prefix.
fn floor(module: &[String], is_main: bool) -> Option<&'static str> {
    if is_main {
        return Some("main");
    }
    let joined = module.join("::");
    RULES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| joined == *name || joined.starts_with(&format!("{name}::")))
        .max_by_key(|name| name.len())
}

fn allowed(from: &str) -> &'static [&'static str] {
    RULES
        .iter()
        .find(|(n, _)| *n == from)
        .map(|(_, a)| *a)
        .unwrap_or(&[])
}

/// Every file-to-file import: (from, to, the path as written).
fn edges() -> (Vec<Source>, Vec<(PathBuf, PathBuf, String)>) {
    let sources = sources();
    let mut files = HashMap::new();
    for s in &sources {
        if !s.path.ends_with("main.rs") {
            files.insert(s.module.clone(), s.path.clone());
        }
    }
    let mut found = BTreeMap::new();
    let mut reexports: Reexports = HashMap::new();
    for s in &sources {
        let text = std::fs::read_to_string(&s.path).unwrap();
        let module = if s.path.ends_with("main.rs") {
            Vec::new()
        } else {
            s.module.clone()
        };
        let f = paths(&text, &module);
        for p in &f {
            if let Some(name) = &p.reexport
                && name != "*"
            {
                reexports
                    .entry(s.path.clone())
                    .or_default()
                    .insert(name.clone(), (p.segments.clone(), p.module.clone()));
            }
        }
        found.insert(s.path.clone(), f);
    }
    let krate = Crate { files, reexports };
    let mut edges = Vec::new();
    for (path, f) in &found {
        for p in f {
            if let Some(to) = krate.resolve(&p.segments, &p.module, 0)
                && &to != path
                && !to.ends_with("lib.rs")
            {
                edges.push((path.clone(), to, p.segments.join("::")));
            }
        }
    }
    (sources, edges)
}

#[test]
fn the_parser_reads_every_form_of_path() {
    let text = r#"
        use crate::wire::{self, tcp::{Packet, flags as f}, udp};
        use super::onion::Onion;
        pub use frame::{Frame as F, parse_header};
        // use crate::commands::hidden;
        /* use crate::commands::hidden_too; */
        fn x() { let s = "crate::commands::in_a_string"; crate::net::sockio::is_timeout(&e); }
        mod tests { use super::*; use super::super::x::y; }
    "#;
    let m = vec!["a".to_string(), "b".to_string()];
    let got: Vec<(String, Vec<String>, Option<String>)> = paths(text, &m)
        .into_iter()
        .map(|p| (p.segments.join("::"), p.module, p.reexport))
        .collect();
    let names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "crate::wire",
            "crate::wire::tcp::Packet",
            "crate::wire::tcp::flags",
            "crate::wire::udp",
            "super::onion::Onion",
            "frame::Frame",
            "frame::parse_header",
            "crate::net::sockio::is_timeout",
            "super",
            "super::super::x::y",
        ],
        "{got:?}"
    );
    // `pub use` is a re-export, under the name it binds.
    let reexports: Vec<Option<&str>> = got.iter().map(|g| g.2.as_deref()).collect();
    assert_eq!(
        reexports,
        [
            None,
            None,
            None,
            None,
            None,
            Some("F"),
            Some("parse_header"),
            None,
            None,
            None
        ]
    );
    // Inside `mod tests`, `super` is the file's own module.
    assert_eq!(got[8].1, ["a", "b", "tests"]);
}

#[test]
fn every_file_has_a_floor_and_names_only_floors_below() {
    let (sources, edges) = edges();
    let module_of: HashMap<PathBuf, (Vec<String>, bool)> = sources
        .iter()
        .map(|s| {
            (
                s.path.clone(),
                (s.module.clone(), s.path.ends_with("main.rs")),
            )
        })
        .collect();
    let floor_of = |p: &PathBuf| {
        let (m, is_main) = &module_of[p];
        floor(m, *is_main)
    };
    let mut unruled = Vec::new();
    for s in &sources {
        if s.module.is_empty() && !s.path.ends_with("main.rs") {
            continue; // lib.rs: declarations only
        }
        if floor_of(&s.path).is_none() {
            unruled.push(s.path.display().to_string());
        }
    }
    assert!(
        unruled.is_empty(),
        "files of no floor (add a rule): {unruled:?}"
    );
    let mut bad = Vec::new();
    let mut checked = 0;
    for (from, to, path) in &edges {
        let (Some(a), Some(b)) = (floor_of(from), floor_of(to)) else {
            continue;
        };
        checked += 1;
        if a != b && !allowed(a).contains(&b) {
            bad.push(format!(
                "{}: {a} names {b} ({path})",
                from.strip_prefix(root()).unwrap().display()
            ));
        }
    }
    assert!(checked > 200, "only {checked} imports checked");
    bad.sort();
    bad.dedup();
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
}

#[test]
fn no_circle_between_the_files_of_a_floor() {
    let (sources, edges) = edges();
    let floor_of: HashMap<PathBuf, &str> = sources
        .iter()
        .filter_map(|s| {
            Some((
                s.path.clone(),
                floor(&s.module, s.path.ends_with("main.rs"))?,
            ))
        })
        .collect();
    let parts = |p: &PathBuf| !p.ends_with("mod.rs") && !p.ends_with("lib.rs");
    let mut graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (from, to, _) in &edges {
        if parts(from) && parts(to) && floor_of.get(from) == floor_of.get(to) {
            graph.entry(from.clone()).or_default().insert(to.clone());
            graph.entry(to.clone()).or_default();
        }
    }
    let circles: Vec<String> = strongly_connected(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            c.iter()
                .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
                .collect::<Vec<_>>()
                .join(" ↔ ")
        })
        .collect();
    assert!(
        circles.is_empty(),
        "circles between files:\n{}",
        circles.join("\n")
    );
    // The check sees the files it should: the WebSocket codec's parts import each other.
    let message = root().join("src/wire/websocket/message.rs");
    let frame = root().join("src/wire/websocket/frame.rs");
    assert!(
        graph.get(&message).is_some_and(|to| to.contains(&frame)),
        "{graph:?}"
    );
}

/// Tarjan's strongly connected components.
fn strongly_connected(g: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct State<'a> {
        g: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: HashMap<&'a PathBuf, usize>,
        low: HashMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        next: usize,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a PathBuf) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        for w in &s.g[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            s.out.push(comp);
        }
    }
    let mut s = State {
        g,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn a_circle_is_found() {
    let p = |s: &str| PathBuf::from(s);
    let mut g: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    g.insert(p("a"), [p("b")].into());
    g.insert(p("b"), [p("c")].into());
    g.insert(p("c"), [p("a")].into());
    g.insert(p("d"), [p("a")].into());
    let sccs = strongly_connected(&g);
    assert!(sccs.iter().any(|c| c.len() == 3), "{sccs:?}");
    assert_eq!(sccs.iter().filter(|c| c.len() > 1).count(), 1);
}
