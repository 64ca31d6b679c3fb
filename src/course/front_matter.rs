//! A lesson's front matter: the few `key: value` lines between two `---` lines at the top
//! of the file, as GitHub shows them (a small table above the lesson).
//!
//! ```text
//! ---
//! id: onion
//! title: Peel the onion
//! order: 1
//! minutes: 20
//! privileges: none
//! captures: [http.pcap, ping4.pcap]
//! ---
//! ```
//!
//! Imports: std only. `build.rs` includes this file too (to learn which captures to
//! compile into the binary), so it must not name anything of the crate.

use std::fmt;

/// What a lesson needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privileges {
    /// Every step runs as an ordinary user.
    None,
    /// Some steps need root (they are written `$ sudo netlab …`).
    Root,
}

impl Privileges {
    pub fn as_str(self) -> &'static str {
        match self {
            Privileges::None => "none",
            Privileges::Root => "root",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontMatter {
    /// A short name for the command line (`netlab lesson show onion`): lowercase letters,
    /// digits and `-`.
    pub id: String,
    pub title: String,
    /// The lesson's number in the course, 1, 2, 3…
    pub order: u32,
    /// How long the lesson takes, about.
    pub minutes: u32,
    pub privileges: Privileges,
    /// The files of `captures/` the lesson reads (compiled into the binary with it).
    pub captures: Vec<String>,
    /// Where the Markdown after the closing `---` starts: byte offset and 1-based line.
    pub body_offset: usize,
    pub body_line: usize,
}

/// A lesson that breaks the format, and the 1-based line where it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

fn err(line: usize, message: impl Into<String>) -> FormatError {
    FormatError {
        line,
        message: message.into(),
    }
}

/// Reads the front matter at the top of `text`.
pub fn parse(text: &str) -> Result<FrontMatter, FormatError> {
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        return Err(err(
            1,
            "a lesson starts with its front matter: a line `---`, then `id:`, `title:`, \
             `order:`, `minutes:`, `privileges:`, `captures:`, then `---`",
        ));
    }
    let mut offset = first.len();
    let mut line_no = 1;
    let (mut id, mut title, mut order, mut minutes, mut privileges, mut captures) =
        (None, None, None, None, None, None);
    for line in lines {
        line_no += 1;
        offset += line.len();
        let l = line.trim_end();
        if l == "---" {
            let missing = |what: &str| err(line_no, format!("the front matter has no `{what}:`"));
            let fm = FrontMatter {
                id: id.ok_or_else(|| missing("id"))?,
                title: title.ok_or_else(|| missing("title"))?,
                order: order.ok_or_else(|| missing("order"))?,
                minutes: minutes.ok_or_else(|| missing("minutes"))?,
                privileges: privileges.ok_or_else(|| missing("privileges"))?,
                captures: captures.unwrap_or_default(),
                body_offset: offset,
                body_line: line_no + 1,
            };
            return Ok(fm);
        }
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let Some((key, value)) = l.split_once(':') else {
            return Err(err(line_no, format!("expected `key: value`, found `{l}`")));
        };
        // A value may be quoted as in YAML (a title with a colon must be).
        let value = unquote(value.trim());
        let value = value.as_str();
        let number = |what: &str| {
            value.parse::<u32>().map_err(|_| {
                err(
                    line_no,
                    format!("`{what}:` takes a whole number, not `{value}`"),
                )
            })
        };
        let seen = match key.trim() {
            "id" => {
                if value.is_empty()
                    || !value
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    || value.chars().all(|c| c.is_ascii_digit())
                {
                    return Err(err(
                        line_no,
                        format!(
                            "`id:` is a short name of lowercase letters, digits and `-` \
                             (not only digits), not `{value}`"
                        ),
                    ));
                }
                id.replace(value.to_string()).is_some()
            }
            "title" => {
                if value.is_empty() {
                    return Err(err(line_no, "`title:` is empty"));
                }
                title.replace(value.to_string()).is_some()
            }
            "order" => {
                let n = number("order")?;
                if n == 0 {
                    return Err(err(line_no, "`order:` counts from 1"));
                }
                order.replace(n).is_some()
            }
            "minutes" => minutes.replace(number("minutes")?).is_some(),
            "privileges" => {
                let p = match value {
                    "none" => Privileges::None,
                    "root" => Privileges::Root,
                    _ => {
                        return Err(err(
                            line_no,
                            format!(
                                "`privileges:` is `none` or `root` (some steps need root), \
                                 not `{value}`"
                            ),
                        ));
                    }
                };
                privileges.replace(p).is_some()
            }
            "captures" => {
                let list = value
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                    .unwrap_or(value);
                let mut names = Vec::new();
                for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    if name.contains('/') || name.starts_with('.') {
                        return Err(err(
                            line_no,
                            format!(
                                "`captures:` names files of captures/ (`http.pcap`), not `{name}`"
                            ),
                        ));
                    }
                    names.push(name.to_string());
                }
                captures.replace(names).is_some()
            }
            other => {
                return Err(err(
                    line_no,
                    format!(
                        "unknown front matter key `{other}` (known: id, title, order, minutes, \
                         privileges, captures)"
                    ),
                ));
            }
        };
        if seen {
            return Err(err(line_no, format!("`{}:` appears twice", key.trim())));
        }
    }
    Err(err(
        line_no,
        "the front matter is not closed: a line `---` must end it",
    ))
}

/// `"a \"b\""` → `a "b"`, `'it''s'` → `it's`; anything else as it is.
fn unquote(v: &str) -> String {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let mut out = String::new();
        let mut chars = v[1..v.len() - 1].chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        out
    } else if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        v[1..v.len() - 1].replace("''", "'")
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\nid: onion\ntitle: \"Peel the onion: \\\"layers\\\"\"\norder: 1\nminutes: 20\n\
                        privileges: none\ncaptures: [http.pcap, ping4.pcap]\n---\n# Body\n";

    #[test]
    fn reads_every_key_and_where_the_body_starts() {
        let fm = parse(GOOD).unwrap();
        assert_eq!(fm.id, "onion");
        assert_eq!(fm.title, "Peel the onion: \"layers\"");
        assert_eq!((fm.order, fm.minutes), (1, 20));
        assert_eq!(fm.privileges, Privileges::None);
        assert_eq!(fm.captures, ["http.pcap", "ping4.pcap"]);
        assert_eq!(&GOOD[fm.body_offset..], "# Body\n");
        assert_eq!(fm.body_line, 9);
    }

    #[test]
    fn errors_name_their_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("# no front matter\n", 1, "starts with its front matter"),
            ("---\nid: x\n", 2, "not closed"),
            ("---\nid: Onion\n---\n", 2, "lowercase"),
            ("---\nid: 12\n---\n", 2, "not only digits"),
            ("---\nid: a\nid: b\n---\n", 3, "twice"),
            ("---\nid: a\norder: one\n---\n", 3, "whole number"),
            (
                "---\nid: a\nprivileges: maybe\n---\n",
                3,
                "`none` or `root`",
            ),
            (
                "---\nid: a\ncolour: red\n---\n",
                3,
                "unknown front matter key",
            ),
            (
                "---\nid: a\ncaptures: ../etc/passwd\n---\n",
                3,
                "files of captures/",
            ),
            ("---\nid: a\njust words\n---\n", 3, "key: value"),
            ("---\nid: a\ntitle: t\n---\n", 4, "no `order:`"),
        ];
        for (text, line, what) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.message.contains(what), "{text:?}: {e}");
        }
    }
}
