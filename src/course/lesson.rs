//! One lesson file: CommonMark with a front matter and fenced blocks that mean something.
//!
//! - ```` ```console ```` — a step: one line `$ netlab …` (or `$ sudo netlab …` when it
//!   needs root, optionally followed by `# without root: netlab …`, the unprivileged way);
//! - ```` ```expect ```` — right after a step: what to look for in its output, one item a
//!   line, a substring or `/regex/` (flags after it: `i` ignores case, `m` anchors `^`
//!   and `$` at every line, `s` lets `.` match a newline); `hint: …` lines help;
//! - ```` ```check ```` — a question: `q:`, then `answer:` (one line per accepted answer;
//!   with `choice:` lines, the right choice), or `run:` (`netlab …`, or `last`: the
//!   learner's saved run of the step before, or of `step: K`) with one of `field:` (a
//!   Wireshark field of `--json`, with `packet: N|first|last` or `reduce:
//!   count|distinct|sum|min|max|spacing`), `json:` (a JSON pointer, with `select: key=value, …`
//!   to pick a line of NDJSON) or `match: /regex/` (its first group); `tolerance:` for
//!   numbers; `hint:` lines, revealed one by one; `explain:`, the why. An indented line
//!   continues the value above it.
//!
//! Everything else is prose, rendered for the terminal by `render::markdown`. The blocks
//! above must stand at the top level (not in a list or a quote). A lesson that breaks
//! these rules is a [`LessonError`] naming its file and line.

use std::fmt;
use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use regex::Regex;
use sha1::{Digest, Sha1};

use super::front_matter::{self, FrontMatter, Privileges};

/// The Markdown extensions lessons may use (the same the renderer understands).
pub fn markdown_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// A lesson file that breaks the format: `lessons/01-onion.md:12: …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonError {
    pub path: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LessonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.message)
    }
}

impl std::error::Error for LessonError {}

#[derive(Debug, Clone)]
pub struct Lesson {
    /// Where it came from, for messages: `lessons/01-onion.md`.
    pub path: String,
    pub text: String,
    pub meta: FrontMatter,
    /// SHA-1 of the whole file: progress remembers it to notice an edited lesson.
    pub hash: String,
    /// The lesson in reading order.
    pub parts: Vec<Part>,
    pub steps: Vec<Step>,
    pub checks: Vec<Check>,
}

/// A piece of the lesson in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Markdown: this byte range of [`Lesson::text`] (whole top-level blocks).
    Prose(Range<usize>),
    /// [`Lesson::steps`]`[i]`.
    Step(usize),
    /// [`Lesson::checks`]`[i]`.
    Check(usize),
}

/// A runnable step: a `$ netlab …` line.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based.
    pub number: usize,
    pub line: usize,
    pub command: CommandLine,
    /// `# without root: netlab …`: what a learner without root runs instead.
    pub unprivileged: Option<CommandLine>,
    pub look_for: Vec<LookFor>,
    pub hints: Vec<String>,
    /// SHA-1 of the step's blocks: a mark stays valid while they do not change.
    pub hash: String,
}

/// `netlab ARGS…` as written in a lesson, split as a shell would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// Written with `sudo`: needs root.
    pub sudo: bool,
    /// The arguments after `netlab`.
    pub args: Vec<String>,
    /// The text after `$ `, as the learner sees it.
    pub text: String,
}

/// Text to look for in a step's output.
#[derive(Debug, Clone)]
pub enum LookFor {
    Text(String),
    Regex { source: String, re: Regex },
}

impl LookFor {
    /// Where it first occurs in `text`.
    pub fn find(&self, text: &str) -> Option<Range<usize>> {
        match self {
            LookFor::Text(t) => text.find(t.as_str()).map(|i| i..i + t.len()),
            LookFor::Regex { re, .. } => re.find(text).map(|m| m.range()),
        }
    }

    /// Every non-empty occurrence in `line` (to highlight it).
    pub fn find_all(&self, line: &str) -> Vec<Range<usize>> {
        match self {
            LookFor::Text(t) if !t.is_empty() => line
                .match_indices(t.as_str())
                .map(|(i, s)| i..i + s.len())
                .collect(),
            LookFor::Text(_) => Vec::new(),
            LookFor::Regex { re, .. } => re
                .find_iter(line)
                .filter(|m| !m.is_empty())
                .map(|m| m.range())
                .collect(),
        }
    }

    /// As the lesson wrote it.
    pub fn label(&self) -> &str {
        match self {
            LookFor::Text(t) => t,
            LookFor::Regex { source, .. } => source,
        }
    }
}

/// A question and how its answer is known.
#[derive(Debug, Clone)]
pub struct Check {
    /// 1-based, in the lesson's order.
    pub number: usize,
    pub line: usize,
    pub question: String,
    pub answer: Answer,
    /// Numbers within this distance of the right one are right too.
    pub tolerance: Option<f64>,
    pub hints: Vec<String>,
    pub explain: String,
    pub hash: String,
}

#[derive(Debug, Clone)]
pub enum Answer {
    /// Any of these (the first is the one shown).
    Literal(Vec<String>),
    /// One of `choices` (by its letter or its text) is right.
    Choice { choices: Vec<String>, right: usize },
    /// Read from netlab's own output.
    Computed { source: Source, extract: Extract },
}

/// Whose output a computed answer is read from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A fresh run of this command.
    Run(CommandLine),
    /// The learner's saved run of this step (0-based index into [`Lesson::steps`]).
    Last { step: usize },
}

#[derive(Debug, Clone)]
pub enum Extract {
    /// A Wireshark field in `netlab dissect --json`'s NDJSON, in one packet…
    Field { name: String, packet: PacketSel },
    /// …or over all packets that have it.
    Reduce { name: String, reduce: Reduce },
    /// A JSON pointer into the output (one JSON document, or the first NDJSON line where
    /// it resolves among those that match `select`).
    Json {
        pointer: String,
        select: Vec<(String, String)>,
    },
    /// The first capture group (or the whole match) of a regex on the text output.
    Match { source: String, re: Regex },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketSel {
    /// The packet whose `number` is this (1-based, as `netlab dissect` numbers them).
    Number(u64),
    First,
    Last,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// How many packets have the field.
    Count,
    /// How many different values it takes.
    Distinct,
    Sum,
    Min,
    Max,
    /// The mean gap between consecutive values (seconds between packets, with `time`).
    Spacing,
}

/// SHA-1 of `s`, in hex.
pub fn sha1_hex(s: &str) -> String {
    Sha1::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Lesson {
    /// Parses a lesson; `path` names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<Lesson, LessonError> {
        let fail = |line: usize, message: String| LessonError {
            path: path.to_string(),
            line,
            message,
        };
        let meta = front_matter::parse(text).map_err(|e| fail(e.line, e.message))?;
        let mut b = Builder {
            text,
            meta: &meta,
            parts: Vec::new(),
            steps: Vec::new(),
            checks: Vec::new(),
            prose_start: meta.body_offset,
            last_block_end: None,
        };
        b.walk().map_err(|(line, m)| fail(line, m))?;
        b.finish().map_err(|(line, m)| fail(line, m))?;
        let (parts, steps, checks) = (b.parts, b.steps, b.checks);
        Ok(Lesson {
            path: path.to_string(),
            text: text.to_string(),
            hash: sha1_hex(text),
            meta,
            parts,
            steps,
            checks,
        })
    }

    pub fn number(&self) -> u32 {
        self.meta.order
    }

    pub fn id(&self) -> &str {
        &self.meta.id
    }

    pub fn title(&self) -> &str {
        &self.meta.title
    }

    /// The Markdown of a [`Part::Prose`].
    pub fn prose(&self, range: &Range<usize>) -> &str {
        &self.text[range.clone()]
    }
}

type Failure = (usize, String);

struct Builder<'a> {
    text: &'a str,
    meta: &'a FrontMatter,
    parts: Vec<Part>,
    steps: Vec<Step>,
    checks: Vec<Check>,
    /// Where the prose since the last special block began.
    prose_start: usize,
    /// Where the last ```console (or its ```expect) block ended, while an ```expect may
    /// still follow it.
    last_block_end: Option<usize>,
}

/// Which special block a fence opens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Console,
    Expect,
    Check,
}

impl Builder<'_> {
    /// 1-based line of a byte offset in the file.
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset].matches('\n').count() + 1
    }

    fn walk(&mut self) -> Result<(), Failure> {
        let body_offset = self.meta.body_offset;
        let body = &self.text[body_offset..];
        let mut depth = 0usize;
        let mut open: Option<(Kind, usize, Range<usize>)> = None;
        let mut content = String::new();
        for (event, range) in Parser::new_ext(body, markdown_options()).into_offset_iter() {
            let range = range.start + body_offset..range.end + body_offset;
            match event {
                Event::Start(Tag::CodeBlock(kind)) => {
                    let lang = match &kind {
                        CodeBlockKind::Fenced(info) => {
                            info.split_whitespace().next().unwrap_or("").to_string()
                        }
                        CodeBlockKind::Indented => String::new(),
                    };
                    let special = match lang.as_str() {
                        "console" => Some(Kind::Console),
                        "expect" => Some(Kind::Expect),
                        "check" => Some(Kind::Check),
                        _ => None,
                    };
                    if let Some(k) = special {
                        if depth > 0 {
                            return Err((
                                self.line_of(range.start),
                                format!(
                                    "a ```{lang} block must stand at the top level, not \
                                     inside a list or a quote"
                                ),
                            ));
                        }
                        open = Some((k, self.line_of(range.start), range.clone()));
                        content.clear();
                    }
                    depth += 1;
                }
                Event::End(TagEnd::CodeBlock) => {
                    depth -= 1;
                    if let Some((kind, line, r)) = open.take() {
                        self.block(kind, line, r, &content)?;
                    }
                }
                Event::Text(t) if open.is_some() => content.push_str(&t),
                Event::Start(_) => {
                    if depth == 0 && self.last_block_end.is_some() {
                        // Prose came between a step and what follows: no expect may
                        // attach to that step any more.
                        self.last_block_end = None;
                    }
                    depth += 1;
                }
                Event::End(_) => depth -= 1,
                _ => {
                    if depth == 0 {
                        self.last_block_end = None;
                    }
                }
            }
        }
        Ok(())
    }

    fn push_prose(&mut self, until: usize) {
        let slice = &self.text[self.prose_start..until];
        if !slice.trim().is_empty() {
            self.parts.push(Part::Prose(self.prose_start..until));
        }
    }

    fn block(
        &mut self,
        kind: Kind,
        line: usize,
        r: Range<usize>,
        content: &str,
    ) -> Result<(), Failure> {
        // The block's own lines start one line below its opening fence.
        let first = line + 1;
        match kind {
            Kind::Console => {
                self.push_prose(r.start);
                let step = self.console(first, content, &self.text[r.clone()])?;
                self.steps.push(step);
                self.parts.push(Part::Step(self.steps.len() - 1));
                self.last_block_end = Some(r.end);
            }
            Kind::Expect => {
                let attached = self
                    .last_block_end
                    .is_some_and(|end| self.text[end..r.start].trim().is_empty());
                let Some(step) = self.steps.last_mut().filter(|_| attached) else {
                    return Err((
                        line,
                        "an ```expect block must come right after the ```console block of \
                         its step"
                            .into(),
                    ));
                };
                if !step.look_for.is_empty() || !step.hints.is_empty() {
                    return Err((line, "this step already has an ```expect block".into()));
                }
                let (look_for, hints) = expect(first, content)?;
                step.look_for = look_for;
                step.hints = hints;
                step.hash = sha1_hex(&format!("{}\n{}", step.hash, &self.text[r.clone()]));
                self.last_block_end = None;
            }
            Kind::Check => {
                self.push_prose(r.start);
                let number = self.checks.len() + 1;
                let check = self.check(number, line, content, &self.text[r.clone()])?;
                self.checks.push(check);
                self.parts.push(Part::Check(self.checks.len() - 1));
                self.last_block_end = None;
            }
        }
        self.prose_start = r.end;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Failure> {
        self.push_prose(self.text.len());
        let needs_root = self.steps.iter().find(|s| s.command.sudo);
        match (self.meta.privileges, needs_root) {
            (Privileges::None, Some(step)) => {
                return Err((
                    step.line,
                    "this step needs root (`sudo`) but the front matter says `privileges: none`"
                        .into(),
                ));
            }
            (Privileges::Root, None) => {
                return Err((
                    self.front_matter_line("privileges"),
                    "`privileges: root` but no step needs root (none is written `$ sudo netlab …`)"
                        .into(),
                ));
            }
            _ => {}
        }
        // Every capture a command reads must be compiled in: named in the front matter.
        let commands = self
            .steps
            .iter()
            .flat_map(|s| {
                std::iter::once((&s.command, s.line))
                    .chain(s.unprivileged.iter().map(|u| (u, s.line)))
            })
            .chain(self.checks.iter().filter_map(|c| match &c.answer {
                Answer::Computed {
                    source: Source::Run(cmd),
                    ..
                } => Some((cmd, c.line)),
                _ => None,
            }));
        for (cmd, line) in commands {
            for arg in &cmd.args {
                if let Some(name) = arg.strip_prefix("captures/")
                    && !self.meta.captures.iter().any(|c| c == name)
                {
                    return Err((
                        line,
                        format!(
                            "`{arg}` is not in the front matter's `captures:` (only the \
                             captures named there are compiled into netlab)"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn front_matter_line(&self, key: &str) -> usize {
        self.text
            .lines()
            .position(|l| l.starts_with(&format!("{key}:")))
            .map_or(1, |i| i + 1)
    }

    fn console(&self, first: usize, content: &str, block: &str) -> Result<Step, Failure> {
        let mut command: Option<(CommandLine, usize)> = None;
        let mut unprivileged = None;
        for (i, raw) in content.lines().enumerate() {
            let line = first + i;
            let l = raw.trim();
            if l.is_empty() {
                continue;
            }
            if let Some(rest) = l.strip_prefix("$ ") {
                if command.is_some() {
                    return Err((
                        line,
                        "a ```console block is one step: one `$ netlab …` line (make another \
                         block for the next command)"
                            .into(),
                    ));
                }
                let cmd = CommandLine::parse(rest).map_err(|m| (line, m))?;
                command = Some((cmd, line));
            } else if let Some(rest) = l.strip_prefix("# without root:") {
                let cmd = CommandLine::parse(rest.trim()).map_err(|m| (line, m))?;
                if cmd.sudo {
                    return Err((line, "the way without root cannot use sudo".into()));
                }
                unprivileged = Some(cmd);
            } else {
                return Err((
                    line,
                    format!(
                        "a ```console block holds `$ netlab …` (and `# without root: netlab …`), \
                         not `{l}` (show other commands in a ```sh block)"
                    ),
                ));
            }
        }
        let Some((command, line)) = command else {
            return Err((
                first - 1,
                "this ```console block has no `$ netlab …` line".into(),
            ));
        };
        if unprivileged.is_some() && !command.sudo {
            return Err((
                line,
                "`# without root:` only makes sense after a `$ sudo netlab …` step".into(),
            ));
        }
        Ok(Step {
            number: self.steps.len() + 1,
            line,
            command,
            unprivileged,
            look_for: Vec::new(),
            hints: Vec::new(),
            hash: sha1_hex(block),
        })
    }

    fn check(
        &self,
        number: usize,
        line: usize,
        content: &str,
        block: &str,
    ) -> Result<Check, Failure> {
        // (key, value, line); an indented line continues the value above.
        let mut pairs: Vec<(String, String, usize)> = Vec::new();
        for (i, raw) in content.lines().enumerate() {
            let at = line + 1 + i;
            if raw.trim().is_empty() {
                continue;
            }
            if raw.starts_with([' ', '\t']) {
                let Some(last) = pairs.last_mut() else {
                    return Err((
                        at,
                        "an indented line continues a value, but none came before".into(),
                    ));
                };
                last.1.push(' ');
                last.1.push_str(raw.trim());
                continue;
            }
            let Some((k, v)) = raw.split_once(':') else {
                return Err((at, format!("expected `key: value`, found `{}`", raw.trim())));
            };
            let key = k.trim();
            const KEYS: &[&str] = &[
                "q",
                "answer",
                "choice",
                "run",
                "step",
                "field",
                "packet",
                "reduce",
                "json",
                "select",
                "match",
                "tolerance",
                "hint",
                "explain",
            ];
            if !KEYS.contains(&key) {
                return Err((
                    at,
                    format!(
                        "unknown key `{key}` in a ```check block (known: {})",
                        KEYS.join(", ")
                    ),
                ));
            }
            pairs.push((key.to_string(), v.trim().to_string(), at));
        }
        let all = |key: &str| -> Vec<(&str, usize)> {
            pairs
                .iter()
                .filter(|(k, _, _)| k == key)
                .map(|(_, v, l)| (v.as_str(), *l))
                .collect()
        };
        let one = |key: &str| -> Result<Option<(&str, usize)>, Failure> {
            let v = all(key);
            if v.len() > 1 {
                return Err((v[1].1, format!("`{key}:` appears twice in one question")));
            }
            if let Some((val, l)) = v.first()
                && val.is_empty()
            {
                return Err((*l, format!("`{key}:` is empty")));
            }
            Ok(v.first().copied())
        };
        let question = one("q")?
            .ok_or((
                line,
                "a ```check block needs its question, `q: …`".to_string(),
            ))?
            .0
            .to_string();
        let explain = one("explain")?
            .ok_or((
                line,
                "a ```check block needs `explain: …` (the why, shown after a right answer)"
                    .to_string(),
            ))?
            .0
            .to_string();
        let hints: Vec<String> = all("hint").iter().map(|(v, _)| v.to_string()).collect();
        if hints.is_empty() {
            return Err((line, "a ```check block needs at least one `hint: …`".into()));
        }
        let tolerance = match one("tolerance")? {
            Some((v, l)) => Some(
                v.parse::<f64>()
                    .ok()
                    .filter(|t| *t >= 0.0)
                    .ok_or((l, format!("`tolerance:` is a number ≥ 0, not `{v}`")))?,
            ),
            None => None,
        };
        let answers = all("answer");
        let choices = all("choice");
        let run = one("run")?;
        let computed_keys = [
            "step", "field", "packet", "reduce", "json", "select", "match",
        ];
        let answer = if let Some((run, run_line)) = run {
            if let Some((_, l)) = answers.first().or(choices.first()) {
                return Err((
                    *l,
                    "a question with `run:` computes its answer: no `answer:` or `choice:`".into(),
                ));
            }
            let source = if run == "last" {
                let step = match one("step")? {
                    Some((v, l)) => {
                        let n: usize = v.parse().map_err(|_| (l, format!("`step:` is a step number, not `{v}`")))?;
                        if n == 0 || n > self.steps.len() {
                            return Err((
                                l,
                                format!("`step: {n}`: the lesson has {} steps before this question", self.steps.len()),
                            ));
                        }
                        n - 1
                    }
                    None => self.steps.len().checked_sub(1).ok_or((
                        run_line,
                        "`run: last` reads the saved run of the step before the question, but none comes before it"
                            .to_string(),
                    ))?,
                };
                Source::Last { step }
            } else {
                if let Some((_, l)) = one("step")? {
                    return Err((l, "`step:` goes with `run: last`".into()));
                }
                let cmd = CommandLine::parse(run).map_err(|m| (run_line, m))?;
                if cmd.sudo {
                    return Err((
                        run_line,
                        "a question's `run:` cannot need root: read a privileged step's output with `run: last`"
                            .into(),
                    ));
                }
                Source::Run(cmd)
            };
            let field = one("field")?;
            let json = one("json")?;
            let matcher = one("match")?;
            let extract = match (field, json, matcher) {
                (Some((name, _)), None, None) => {
                    if let Some((_, l)) = one("select")? {
                        return Err((l, "`select:` goes with `json:`".into()));
                    }
                    match (one("packet")?, one("reduce")?) {
                        (Some((_, l)), Some(_)) => {
                            return Err((l, "`packet:` and `reduce:` do not go together".into()));
                        }
                        (None, Some((r, l))) => Extract::Reduce {
                            name: name.to_string(),
                            reduce: match r {
                                "count" => Reduce::Count,
                                "distinct" => Reduce::Distinct,
                                "sum" => Reduce::Sum,
                                "min" => Reduce::Min,
                                "max" => Reduce::Max,
                                "spacing" => Reduce::Spacing,
                                _ => {
                                    return Err((
                                        l,
                                        format!("`reduce:` is count, distinct, sum, min, max or spacing, not `{r}`"),
                                    ));
                                }
                            },
                        },
                        (p, None) => Extract::Field {
                            name: name.to_string(),
                            packet: match p {
                                None | Some(("first", _)) => PacketSel::First,
                                Some(("last", _)) => PacketSel::Last,
                                Some((n, l)) => PacketSel::Number(n.parse().ok().filter(|n| *n > 0).ok_or((
                                    l,
                                    format!("`packet:` is a packet number (from 1), first or last, not `{n}`"),
                                ))?),
                            },
                        },
                    }
                }
                (None, Some((pointer, l)), None) => {
                    if !pointer.starts_with('/') {
                        return Err((
                            l,
                            format!(
                                "`json:` is a JSON pointer such as `/udp/lost`, not `{pointer}`"
                            ),
                        ));
                    }
                    for k in ["packet", "reduce"] {
                        if let Some((_, l)) = one(k)? {
                            return Err((l, format!("`{k}:` goes with `field:`")));
                        }
                    }
                    let mut select = Vec::new();
                    if let Some((s, l)) = one("select")? {
                        for cond in s.split(',').map(str::trim) {
                            let Some((k, v)) = cond.split_once('=') else {
                                return Err((
                                    l,
                                    format!("`select:` takes key=value pairs, not `{cond}`"),
                                ));
                            };
                            select.push((k.trim().to_string(), v.trim().to_string()));
                        }
                    }
                    Extract::Json {
                        pointer: pointer.to_string(),
                        select,
                    }
                }
                (None, None, Some((m, l))) => {
                    for k in ["packet", "reduce", "select"] {
                        if let Some((_, l)) = one(k)? {
                            return Err((l, format!("`{k}:` does not go with `match:`")));
                        }
                    }
                    let re = slash_regex(m)
                        .map_err(|e| (l, e))?
                        .ok_or((l, format!("`match:` is a /regex/, not `{m}`")))?;
                    Extract::Match {
                        source: m.to_string(),
                        re,
                    }
                }
                (None, None, None) => {
                    return Err((
                        run_line,
                        "a question with `run:` needs `field:`, `json:` or `match:`".into(),
                    ));
                }
                _ => {
                    return Err((
                        run_line,
                        "a question reads one of `field:`, `json:` or `match:`, not several".into(),
                    ));
                }
            };
            Answer::Computed { source, extract }
        } else {
            for k in computed_keys {
                if let Some((_, l)) = one(k)? {
                    return Err((l, format!("`{k}:` goes with `run:`")));
                }
            }
            if answers.is_empty() {
                return Err((
                    line,
                    "a ```check block needs `answer:` (or `run:` to compute it)".into(),
                ));
            }
            if let Some((_, l)) = answers.iter().find(|(a, _)| a.is_empty()) {
                return Err((*l, "`answer:` is empty".into()));
            }
            if choices.is_empty() {
                Answer::Literal(answers.iter().map(|(a, _)| a.to_string()).collect())
            } else {
                if choices.len() < 2 || choices.len() > 26 {
                    return Err((
                        choices[0].1,
                        "a choice question has 2 to 26 `choice:` lines".into(),
                    ));
                }
                if answers.len() > 1 {
                    return Err((answers[1].1, "a choice question has one `answer:`".into()));
                }
                let (a, l) = answers[0];
                let right = choices
                    .iter()
                    .position(|(c, _)| c.eq_ignore_ascii_case(a))
                    .or_else(|| choice_letter(a).filter(|i| *i < choices.len()))
                    .ok_or((
                        l,
                        format!("`answer: {a}` is none of the choices (give its text or letter)"),
                    ))?;
                Answer::Choice {
                    choices: choices.iter().map(|(c, _)| c.to_string()).collect(),
                    right,
                }
            }
        };
        Ok(Check {
            number,
            line,
            question,
            answer,
            tolerance,
            hints,
            explain,
            hash: sha1_hex(block),
        })
    }
}

/// `a`/`A`/`a)` → 0.
pub fn choice_letter(s: &str) -> Option<usize> {
    let s = s.trim().trim_end_matches(')');
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => {
            Some((c.to_ascii_lowercase() as u8 - b'a') as usize)
        }
        _ => None,
    }
}

/// `/re/` or `/re/FLAGS` (FLAGS of `i` ignore case, `m` `^`/`$` at each line, `s` `.`
/// matches a newline) → a regex; anything else → `None`.
fn slash_regex(s: &str) -> Result<Option<Regex>, String> {
    let Some(rest) = s.strip_prefix('/') else {
        return Ok(None);
    };
    let Some(end) = rest.rfind('/') else {
        return Ok(None);
    };
    let (body, flags) = (&rest[..end], &rest[end + 1..]);
    if !flags.chars().all(|c| "ims".contains(c)) {
        return Ok(None);
    }
    if body.is_empty() {
        return Err("an empty /regex/ matches everything".into());
    }
    regex::RegexBuilder::new(body)
        .case_insensitive(flags.contains('i'))
        .multi_line(flags.contains('m'))
        .dot_matches_new_line(flags.contains('s'))
        .build()
        .map(Some)
        .map_err(|e| format!("bad regex {s}: {e}"))
}

fn expect(first: usize, content: &str) -> Result<(Vec<LookFor>, Vec<String>), Failure> {
    let mut look_for = Vec::new();
    let mut hints = Vec::new();
    for (i, raw) in content.lines().enumerate() {
        let line = first + i;
        let l = raw.trim();
        if l.is_empty() {
            continue;
        }
        if let Some(h) = l.strip_prefix("hint:") {
            hints.push(h.trim().to_string());
        } else if let Some(re) = slash_regex(l).map_err(|e| (line, e))? {
            look_for.push(LookFor::Regex {
                source: l.to_string(),
                re,
            });
        } else {
            look_for.push(LookFor::Text(l.to_string()));
        }
    }
    if look_for.is_empty() {
        return Err((
            first - 1,
            "this ```expect block names nothing to look for".into(),
        ));
    }
    Ok((look_for, hints))
}

impl CommandLine {
    /// Splits `netlab …` or `sudo netlab …` as a POSIX shell would split words (single and
    /// double quotes, backslashes), refusing what only a shell could run (pipes,
    /// redirections, variables, several commands).
    pub fn parse(text: &str) -> Result<CommandLine, String> {
        let words = shell_words(text)?;
        let (sudo, rest) = match words.first().map(String::as_str) {
            Some("sudo") => (true, &words[1..]),
            _ => (false, &words[..]),
        };
        match rest.first().map(String::as_str) {
            Some("netlab") => {}
            _ => {
                return Err(format!(
                    "a step runs netlab: `netlab …` or `sudo netlab …`, not `{text}` (show other \
                     commands in a ```sh block)"
                ));
            }
        }
        if rest.len() < 2 {
            return Err("`netlab` alone is not a step: give it a subcommand".into());
        }
        Ok(CommandLine {
            sudo,
            args: rest[1..].to_vec(),
            text: text.trim().to_string(),
        })
    }
}

fn shell_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(format!("unclosed ' in `{s}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            cur.push(chars.next().unwrap_or('\\'));
                        }
                        Some('$' | '`') => {
                            return Err(format!(
                                "`{s}`: variables and $(…) need a shell; a step is one plain command"
                            ));
                        }
                        Some(c) => cur.push(c),
                        None => return Err(format!("unclosed \" in `{s}`")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err(format!("`{s}` ends with a backslash")),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '|' | '&' | ';' | '<' | '>' | '$' | '`' | '(' | ')' | '*' | '?' => {
                return Err(format!(
                    "`{s}`: `{c}` needs a shell (quote it if it is part of an argument); a step \
                     is one plain netlab command"
                ));
            }
            '#' if !in_word => break,
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "---\nid: t\ntitle: T\norder: 1\nminutes: 5\nprivileges: none\ncaptures: [http.pcap]\n---\n";

    fn lesson(body: &str) -> Result<Lesson, LessonError> {
        Lesson::parse("lessons/t.md", &format!("{HEAD}{body}"))
    }

    /// The line (in the whole file) of the `n`th line of the body (1-based).
    fn body_line(n: usize) -> usize {
        HEAD.lines().count() + n
    }

    #[test]
    fn steps_expects_and_checks_in_reading_order() {
        let l = lesson(
            "# Title\n\nIntro *text*.\n\n```console\n$ netlab dissect captures/http.pcap\n```\n\
             ```expect\n[SYN]\n/Len=\\d+/\nhint: the first line\n```\n\nMore prose.\n\n\
             ```check\nq: What TTL?\nrun: netlab dissect --json captures/http.pcap\n\
             field: ip.ttl\npacket: 1\nhint: look at IPv4\nhint: the TTL line\nexplain: Linux\n  starts at 64.\n```\n\
             ```check\nq: Which flag opens?\nchoice: SYN\nchoice: FIN\nanswer: a\nhint: h\nexplain: e\n```\n\
             ```check\nq: Port?\nrun: last\nmatch: /(\\d+) →/\nhint: h\nexplain: e\n```\nEnd.\n",
        )
        .unwrap();
        assert_eq!(l.steps.len(), 1);
        let s = &l.steps[0];
        assert_eq!(s.command.args, ["dissect", "captures/http.pcap"]);
        assert_eq!(s.line, body_line(6));
        assert_eq!(s.look_for.len(), 2);
        assert_eq!(s.look_for[0].label(), "[SYN]");
        assert_eq!(s.look_for[1].find("x Len=0 y"), Some(2..7));
        let re = |t: &str| slash_regex(t).unwrap().unwrap();
        assert!(re("/^lost +0/m").is_match("sent 1\nlost 0"));
        assert!(!re("/^lost +0/").is_match("sent 1\nlost 0"));
        assert!(re("/syn/i").is_match("[SYN]"));
        assert!(
            slash_regex("/usr/bin").unwrap().is_none(),
            "not a regex: a path"
        );
        assert_eq!(s.hints, ["the first line"]);
        assert_eq!(l.checks.len(), 3);
        assert_eq!(l.checks[0].explain, "Linux starts at 64.");
        assert_eq!(l.checks[0].hints.len(), 2);
        assert!(matches!(
            &l.checks[0].answer,
            Answer::Computed { source: Source::Run(_), extract: Extract::Field { name, packet: PacketSel::Number(1) } } if name == "ip.ttl"
        ));
        assert!(matches!(
            &l.checks[1].answer,
            Answer::Choice { right: 0, .. }
        ));
        assert!(matches!(
            &l.checks[2].answer,
            Answer::Computed {
                source: Source::Last { step: 0 },
                ..
            }
        ));
        let kinds: Vec<_> = l
            .parts
            .iter()
            .map(|p| match p {
                Part::Prose(r) => {
                    format!("prose:{}", l.text[r.clone()].trim().lines().next().unwrap())
                }
                Part::Step(i) => format!("step{i}"),
                Part::Check(i) => format!("check{i}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "prose:# Title",
                "step0",
                "prose:More prose.",
                "check0",
                "check1",
                "check2",
                "prose:End."
            ]
        );
    }

    #[test]
    fn command_lines_split_like_a_shell() {
        let c =
            CommandLine::parse("sudo netlab dissect --filter 'tcp.len > 0' \"a b\" c\\ d").unwrap();
        assert!(c.sudo);
        assert_eq!(c.args, ["dissect", "--filter", "tcp.len > 0", "a b", "c d"]);
        assert_eq!(
            CommandLine::parse("netlab socketio demo --json '{\"text\":\"hi\"}'")
                .unwrap()
                .args,
            ["socketio", "demo", "--json", "{\"text\":\"hi\"}"]
        );
        for bad in [
            "netlab race --json | jq .udp",
            "netlab x > out",
            "ls",
            "netlab",
            "netlab x 'open",
            "netlab a; netlab b",
        ] {
            assert!(CommandLine::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_broken_lesson_names_its_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("```console\nnetlab dissect x\n```\n", 2, "holds `$ netlab"),
            ("```console\n$ ls -l\n```\n", 2, "a step runs netlab"),
            ("```console\n$ netlab a\n$ netlab b\n```\n", 3, "one step"),
            ("```console\n```\n", 1, "no `$ netlab"),
            ("text\n\n```expect\nx\n```\n", 3, "right after"),
            (
                "```console\n$ netlab a\n```\n\nprose\n\n```expect\nx\n```\n",
                7,
                "right after",
            ),
            (
                "```console\n$ netlab a\n```\n```expect\n/(/\n```\n",
                5,
                "bad regex",
            ),
            (
                "```console\n$ netlab a\n```\n```expect\n```\n",
                4,
                "nothing to look for",
            ),
            (
                "- item\n\n  ```console\n  $ netlab a\n  ```\n",
                3,
                "top level",
            ),
            (
                "```check\nanswer: 1\nhint: h\nexplain: e\n```\n",
                1,
                "question",
            ),
            ("```check\nq: q\nanswer: 1\nexplain: e\n```\n", 1, "hint"),
            ("```check\nq: q\nanswer: 1\nhint: h\n```\n", 1, "explain"),
            (
                "```check\nq: q\nhint: h\nexplain: e\n```\n",
                1,
                "needs `answer:`",
            ),
            ("```check\nq: q\nanswr: 1\n```\n", 3, "unknown key `answr`"),
            (
                "```check\nq: q\nchoice: a\nchoice: b\nanswer: z\nhint: h\nexplain: e\n```\n",
                5,
                "none of the choices",
            ),
            (
                "```check\nq: q\nrun: last\nfield: ip.ttl\nhint: h\nexplain: e\n```\n",
                3,
                "none comes before",
            ),
            (
                "```check\nq: q\nrun: netlab dissect x\nhint: h\nexplain: e\n```\n",
                3,
                "needs `field:`",
            ),
            (
                "```check\nq: q\nrun: sudo netlab race --json\njson: /a\nhint: h\nexplain: e\n```\n",
                3,
                "cannot need root",
            ),
            (
                "```check\nq: q\nrun: netlab x\njson: a/b\nhint: h\nexplain: e\n```\n",
                4,
                "JSON pointer",
            ),
            (
                "```check\nq: q\nanswer: 1\nfield: x\nhint: h\nexplain: e\n```\n",
                4,
                "goes with `run:`",
            ),
            (
                "```console\n$ sudo netlab race\n```\n",
                2,
                "privileges: none",
            ),
            (
                "```console\n$ netlab dissect captures/dns.pcap\n```\n",
                2,
                "not in the front matter",
            ),
        ];
        for (body, line, what) in cases {
            let e = lesson(body).unwrap_err();
            assert_eq!(e.path, "lessons/t.md");
            assert_eq!(e.line, body_line(*line), "{body:?}: {e}");
            assert!(e.message.contains(what), "{body:?}: {e}");
        }
    }

    #[test]
    fn hashes_follow_each_block() {
        let a = lesson("```console\n$ netlab a\n```\n\nProse.\n").unwrap();
        let b = lesson("```console\n$ netlab a\n```\n\nOther prose.\n").unwrap();
        let c = lesson("```console\n$ netlab b\n```\n\nProse.\n").unwrap();
        assert_ne!(a.hash, b.hash);
        assert_eq!(
            a.steps[0].hash, b.steps[0].hash,
            "prose does not touch a step"
        );
        assert_ne!(a.steps[0].hash, c.steps[0].hash);
    }

    #[test]
    fn the_way_without_root() {
        let head = HEAD.replace("privileges: none", "privileges: root");
        let l = Lesson::parse(
            "x.md",
            &format!("{head}```console\n$ sudo netlab tcp-handshake\n# without root: netlab tcp-handshake --simulate\n```\n"),
        )
        .unwrap();
        assert!(l.steps[0].command.sudo);
        assert_eq!(
            l.steps[0].unprivileged.as_ref().unwrap().args,
            ["tcp-handshake", "--simulate"]
        );
        let e = Lesson::parse("x.md", &format!("{head}```console\n$ netlab a\n```\n")).unwrap_err();
        assert!(e.message.contains("no step needs root"), "{e}");
        assert_eq!(e.line, 6);
    }
}
