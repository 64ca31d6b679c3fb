//! CommonMark → terminal text: headings, paragraphs wrapped to a width, emphasis, code,
//! links, lists, quotes, code blocks, tables and rules. With colours off the result is
//! plain text (no escape sequences), and fences or markup characters never show (inline
//! code keeps its backticks then, so a command still stands out).
//!
//! Imports: pulldown-cmark, unicode-width, [`super::Style`]. Lesson-specific blocks
//! (steps, questions) are cut out by `course::lesson` and laid out by
//! [`super::course`]; this renders the prose between them.

use pulldown_cmark::{Alignment, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use unicode_width::UnicodeWidthStr;

use super::Style;

/// How to lay the text out.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Columns to wrap at.
    pub width: usize,
    pub style: Style,
}

/// Renders `markdown` (parsed with `options`).
pub fn render(markdown: &str, options: Options, layout: Layout) -> String {
    let mut r = Renderer {
        layout,
        out: String::new(),
        stack: Vec::new(),
        marker: None,
        inline: Vec::new(),
        flags: 0,
        links: Vec::new(),
        heading: None,
        code: None,
        table: None,
        need_blank: false,
    };
    for event in Parser::new_ext(markdown, options) {
        r.event(event);
    }
    r.flush();
    r.out
}

// Inline styles, as bits.
const BOLD: u8 = 1;
const ITALIC: u8 = 2;
const CODE: u8 = 4;
const STRIKE: u8 = 8;
const LINK: u8 = 16;
const DIM: u8 = 32;

/// The escape sequence that starts `flags` (colours on).
fn sgr(flags: u8) -> String {
    let mut codes = Vec::new();
    if flags & BOLD != 0 {
        codes.push("1");
    }
    if flags & DIM != 0 {
        codes.push("2");
    }
    if flags & ITALIC != 0 {
        codes.push("3");
    }
    if flags & LINK != 0 {
        codes.push("4");
    }
    if flags & STRIKE != 0 {
        codes.push("9");
    }
    if flags & CODE != 0 {
        codes.push("36");
    }
    format!("\x1b[{}m", codes.join(";"))
}

/// `text` in `flags`, with colours on or off.
pub fn styled(style: Style, flags: u8, text: &str) -> String {
    if style.color && flags != 0 && !text.is_empty() {
        format!("{}{text}\x1b[0m", sgr(flags))
    } else {
        text.to_string()
    }
}

/// Public names of the inline styles, for the course renderer.
pub mod inline {
    pub const BOLD: u8 = super::BOLD;
    pub const ITALIC: u8 = super::ITALIC;
    pub const CODE: u8 = super::CODE;
    pub const DIM: u8 = super::DIM;
    pub const UNDERLINE: u8 = super::LINK;
}

enum Container {
    Quote,
    List {
        next: Option<u64>,
    },
    /// Text inside an item is indented by this many columns.
    Item {
        indent: usize,
    },
}

struct Table {
    align: Vec<Alignment>,
    rows: Vec<Vec<String>>,
    head_rows: usize,
    cell: String,
    in_head: bool,
}

struct Renderer {
    layout: Layout,
    out: String,
    stack: Vec<Container>,
    /// An item's bullet or number, waiting for the item's first line.
    marker: Option<String>,
    /// The current paragraph: text pieces and their styles.
    inline: Vec<(String, u8)>,
    flags: u8,
    links: Vec<String>,
    heading: Option<HeadingLevel>,
    code: Option<String>,
    table: Option<Table>,
    need_blank: bool,
}

impl Renderer {
    fn event(&mut self, event: Event) {
        if let Some(code) = &mut self.code {
            match event {
                Event::Text(t) => code.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    let code = self.code.take().unwrap_or_default();
                    self.code_block(&code);
                }
                _ => {}
            }
            return;
        }
        if let Some(table) = &mut self.table {
            match event {
                Event::Start(Tag::TableHead) => table.in_head = true,
                Event::End(TagEnd::TableHead) => {
                    table.in_head = false;
                    table.head_rows = table.rows.len();
                }
                Event::Start(Tag::TableRow) => table.rows.push(Vec::new()),
                Event::Start(Tag::TableCell) => {
                    if table.in_head && table.rows.len() == table.head_rows {
                        table.rows.push(Vec::new());
                    }
                    table.cell.clear();
                }
                Event::End(TagEnd::TableCell) => {
                    let cell = std::mem::take(&mut table.cell);
                    if let Some(row) = table.rows.last_mut() {
                        row.push(cell);
                    }
                }
                Event::Text(t) | Event::Code(t) => table.cell.push_str(&t),
                Event::SoftBreak | Event::HardBreak => table.cell.push(' '),
                Event::End(TagEnd::Table) => {
                    let t = self.table.take();
                    if let Some(t) = t {
                        self.write_table(t);
                    }
                }
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.push_text(&t, self.flags),
            Event::Code(t) => {
                let t = if self.layout.style.color {
                    t.to_string()
                } else {
                    format!("`{t}`")
                };
                self.push_text(&t, self.flags | CODE)
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => self.push_text(&t, self.flags),
            Event::Html(t) | Event::InlineHtml(t) => self.push_text(&t, self.flags),
            Event::SoftBreak => self.push_text(" ", self.flags),
            Event::HardBreak => self.inline.push(("\n".into(), 0)),
            Event::Rule => {
                self.flush();
                self.blank_if_needed();
                let w = self.layout.width.saturating_sub(self.prefix_width()).max(3);
                let line = styled(self.layout.style, DIM, &"─".repeat(w));
                self.write_line(&line);
                self.need_blank = true;
            }
            Event::TaskListMarker(done) => self.push_text(if done { "[x] " } else { "[ ] " }, 0),
            Event::FootnoteReference(n) => self.push_text(&format!("[{n}]"), self.flags),
        }
    }

    fn start(&mut self, tag: Tag) {
        match tag {
            Tag::Paragraph => {
                self.flush();
                self.blank_if_needed();
            }
            Tag::Heading { level, .. } => {
                self.flush();
                self.blank_if_needed();
                self.heading = Some(level);
                self.flags |= BOLD;
            }
            Tag::BlockQuote(_) => {
                self.flush();
                self.blank_if_needed();
                self.stack.push(Container::Quote);
            }
            Tag::CodeBlock(_) => {
                self.flush();
                self.blank_if_needed();
                self.code = Some(String::new());
            }
            Tag::List(start) => {
                self.flush();
                // A list inside an item follows the item's text without a blank line.
                if !matches!(self.stack.last(), Some(Container::Item { .. })) {
                    self.blank_if_needed();
                }
                self.stack.push(Container::List { next: start });
            }
            Tag::Item => {
                self.flush();
                let depth = self
                    .stack
                    .iter()
                    .filter(|c| matches!(c, Container::List { .. }))
                    .count();
                let marker = match self.stack.last_mut() {
                    Some(Container::List { next: Some(n) }) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => if depth > 1 { "◦ " } else { "• " }.to_string(),
                };
                let indent = marker.width();
                self.blank_if_needed();
                self.marker = Some(marker);
                self.stack.push(Container::Item { indent });
            }
            Tag::Emphasis => self.flags |= ITALIC,
            Tag::Strong => self.flags |= BOLD,
            Tag::Strikethrough => self.flags |= STRIKE,
            Tag::Link { dest_url, .. } => {
                self.links.push(dest_url.to_string());
                self.flags |= LINK;
            }
            Tag::Image { dest_url, .. } => {
                self.links.push(dest_url.to_string());
                self.push_text("[image: ", self.flags);
            }
            Tag::Table(align) => {
                self.flush();
                self.blank_if_needed();
                self.table = Some(Table {
                    align,
                    rows: Vec::new(),
                    head_rows: 0,
                    cell: String::new(),
                    in_head: false,
                });
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                self.flush();
                self.need_blank = true;
            }
            TagEnd::Heading(_) => {
                self.flags &= !BOLD;
                let level = self.heading.take();
                let text: String = self.inline.iter().map(|(t, _)| t.as_str()).collect();
                self.flush();
                let rule = match level {
                    Some(HeadingLevel::H1) => Some('═'),
                    Some(HeadingLevel::H2) => Some('─'),
                    _ => None,
                };
                if let Some(c) = rule {
                    let w = text
                        .trim()
                        .width()
                        .min(self.layout.width.saturating_sub(self.prefix_width()));
                    let line = styled(self.layout.style, DIM, &c.to_string().repeat(w.max(1)));
                    self.write_line(&line);
                }
                self.need_blank = true;
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.stack.pop();
                self.need_blank = true;
            }
            TagEnd::List(_) => {
                self.flush();
                self.stack.pop();
                // A list nested in an item: the next item follows without a blank line
                // (unless a loose item's paragraph asked for one).
                if !matches!(self.stack.last(), Some(Container::Item { .. })) {
                    self.need_blank = true;
                }
            }
            TagEnd::Item => {
                // Tight items follow each other; a loose item's paragraphs asked for a
                // blank line themselves.
                self.flush();
                self.marker = None;
                self.stack.pop();
            }
            TagEnd::Emphasis => self.flags &= !ITALIC,
            TagEnd::Strong => self.flags &= !BOLD,
            TagEnd::Strikethrough => self.flags &= !STRIKE,
            TagEnd::Link => {
                self.flags &= !LINK;
                let url = self.links.pop().unwrap_or_default();
                // The text of the link so far, to see if it just repeats the address.
                let text = self.inline_tail_text(&url);
                if !url.is_empty()
                    && !url.starts_with('#')
                    && text != url
                    && format!("mailto:{text}") != url
                {
                    self.push_text(" (", self.flags);
                    self.push_text(&url, self.flags | DIM);
                    self.push_text(")", self.flags);
                }
            }
            TagEnd::Image => {
                let url = self.links.pop().unwrap_or_default();
                self.push_text(&format!("]({url})"), self.flags);
            }
            _ => {}
        }
    }

    /// Whether the inline text ends with `url` (an autolink shows its address as text).
    fn inline_tail_text(&self, url: &str) -> String {
        let all: String = self.inline.iter().map(|(t, _)| t.as_str()).collect();
        if all.ends_with(url) {
            url.to_string()
        } else {
            all
        }
    }

    fn push_text(&mut self, t: &str, flags: u8) {
        if t.is_empty() {
            return;
        }
        match self.inline.last_mut() {
            Some((last, f)) if *f == flags && last != "\n" => last.push_str(t),
            _ => self.inline.push((t.to_string(), flags)),
        }
    }

    fn blank_if_needed(&mut self) {
        if self.need_blank && !self.out.is_empty() {
            let prefix = self.prefix(false);
            let line = prefix.trim_end().to_string();
            self.out.push_str(&line);
            self.out.push('\n');
        }
        self.need_blank = false;
    }

    fn prefix_width(&self) -> usize {
        self.stack
            .iter()
            .map(|c| match c {
                Container::Quote => 2,
                Container::List { .. } => 0,
                Container::Item { indent } => *indent,
            })
            .sum()
    }

    /// The left margin of a line: quote bars and item indents; for an item's first line
    /// (`take_marker`), its bullet.
    fn prefix(&mut self, take_marker: bool) -> String {
        let mut p = String::new();
        let last_item = self
            .stack
            .iter()
            .rposition(|c| matches!(c, Container::Item { .. }));
        let marker = if take_marker {
            self.marker.take()
        } else {
            None
        };
        for (i, c) in self.stack.iter().enumerate() {
            match c {
                Container::Quote => p.push_str(&styled(self.layout.style, DIM, "│ ")),
                Container::List { .. } => {}
                Container::Item { indent } => match (&marker, Some(i) == last_item) {
                    (Some(m), true) => p.push_str(m),
                    _ => p.push_str(&" ".repeat(*indent)),
                },
            }
        }
        p
    }

    fn write_line(&mut self, content: &str) {
        let prefix = self.prefix(true);
        let line = format!("{prefix}{content}");
        self.out.push_str(line.trim_end_matches(' '));
        self.out.push('\n');
    }

    /// Wraps the inline text gathered so far and writes it.
    fn flush(&mut self) {
        if self.inline.iter().all(|(t, _)| t.trim().is_empty()) {
            self.inline.clear();
            return;
        }
        let width = self
            .layout
            .width
            .saturating_sub(self.prefix_width())
            .max(20);
        let pieces = std::mem::take(&mut self.inline);
        for line in wrap(&pieces, width) {
            let mut s = String::new();
            for (text, flags) in line {
                s.push_str(&styled(self.layout.style, flags, &text));
            }
            self.write_line(&s);
        }
    }

    fn code_block(&mut self, code: &str) {
        for line in code.trim_end_matches('\n').lines() {
            let text = format!("    {}", line.replace('\t', "    "));
            let s = styled(self.layout.style, CODE, &text);
            self.write_line(&s);
        }
        self.need_blank = true;
    }

    fn write_table(&mut self, t: Table) {
        let cols = t.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; cols];
        for row in &t.rows {
            for (i, c) in row.iter().enumerate() {
                widths[i] = widths[i].max(c.width());
            }
        }
        // Too wide for the line: narrow the widest column (down to 8) and wrap its cells.
        let room = self.layout.width.saturating_sub(self.prefix_width());
        let total = |w: &[usize]| w.iter().sum::<usize>() + 3 * w.len().saturating_sub(1);
        while total(&widths) > room {
            let (i, &w) = widths
                .iter()
                .enumerate()
                .max_by_key(|(_, w)| **w)
                .unwrap_or((0, &0));
            if w <= 8 {
                break;
            }
            widths[i] -= 1;
        }
        for (r, row) in t.rows.iter().enumerate() {
            // Each cell as lines of at most its column's width.
            let cells: Vec<Vec<String>> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let cell = row.get(i).map_or("", String::as_str);
                    wrap(&[(cell.to_string(), 0)], *w)
                        .into_iter()
                        .map(|l| l.into_iter().map(|(t, _)| t).collect::<String>())
                        .collect()
                })
                .collect();
            let height = cells.iter().map(Vec::len).max().unwrap_or(1);
            for n in 0..height {
                let mut s = String::new();
                for (i, w) in widths.iter().enumerate() {
                    let cell = cells[i].get(n).map_or("", String::as_str);
                    let pad = w.saturating_sub(cell.width());
                    let (left, right) = match t.align.get(i) {
                        Some(Alignment::Right) => (pad, 0),
                        Some(Alignment::Center) => (pad / 2, pad - pad / 2),
                        _ => (0, pad),
                    };
                    if i > 0 {
                        s.push_str(&styled(self.layout.style, DIM, " │ "));
                    }
                    let text = format!("{}{cell}{}", " ".repeat(left), " ".repeat(right));
                    s.push_str(&styled(
                        self.layout.style,
                        if r < t.head_rows { BOLD } else { 0 },
                        &text,
                    ));
                }
                self.write_line(&s);
            }
            if r + 1 == t.head_rows {
                let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
                let line = styled(self.layout.style, DIM, &rule.join("─┼─"));
                self.write_line(&line);
            }
        }
        self.need_blank = true;
    }
}

/// Greedy word wrap of styled pieces to `width` columns; a `"\n"` piece breaks the line.
/// Words longer than the width get a line of their own.
fn wrap(pieces: &[(String, u8)], width: usize) -> Vec<Vec<(String, u8)>> {
    // Words: runs of non-space characters, each a list of styled parts.
    enum Tok {
        Word(Vec<(String, u8)>),
        Space,
        Break,
    }
    let mut toks: Vec<Tok> = Vec::new();
    let mut word: Vec<(String, u8)> = Vec::new();
    for (text, flags) in pieces {
        if text == "\n" {
            if !word.is_empty() {
                toks.push(Tok::Word(std::mem::take(&mut word)));
            }
            toks.push(Tok::Break);
            continue;
        }
        let mut cur = String::new();
        for c in text.chars() {
            if c == ' ' || c == '\n' {
                if !cur.is_empty() {
                    word.push((std::mem::take(&mut cur), *flags));
                }
                if !word.is_empty() {
                    toks.push(Tok::Word(std::mem::take(&mut word)));
                }
                toks.push(Tok::Space);
            } else {
                cur.push(c);
            }
        }
        if !cur.is_empty() {
            word.push((cur, *flags));
        }
    }
    if !word.is_empty() {
        toks.push(Tok::Word(word));
    }

    let mut lines: Vec<Vec<(String, u8)>> = vec![Vec::new()];
    let mut used = 0;
    let mut space_pending = false;
    for tok in toks {
        match tok {
            Tok::Space => space_pending = used > 0,
            Tok::Break => {
                lines.push(Vec::new());
                used = 0;
                space_pending = false;
            }
            Tok::Word(parts) => {
                let w: usize = parts.iter().map(|(t, _)| t.width()).sum();
                let line = lines.last_mut().expect("one line at least");
                if used > 0 && used + usize::from(space_pending) + w > width {
                    lines.push(Vec::new());
                    used = 0;
                } else if space_pending {
                    // The space takes the style of the word before it when both share
                    // one (an underlined link stays one underline).
                    let f = match (line.last(), parts.first()) {
                        (Some((_, a)), Some((_, b))) if a == b => *a,
                        _ => 0,
                    };
                    line.push((" ".into(), f));
                    used += 1;
                }
                space_pending = false;
                let line = lines.last_mut().expect("one line at least");
                used += w;
                for (t, f) in parts {
                    match line.last_mut() {
                        Some((last, lf)) if *lf == f => last.push_str(&t),
                        _ => line.push((t, f)),
                    }
                }
            }
        }
    }
    lines
}

/// Width of `s` on a terminal, escape sequences left out.
pub fn visible_width(s: &str) -> usize {
    let mut w = 0;
    let mut in_esc = false;
    let mut buf = [0u8; 4];
    for c in s.chars() {
        if in_esc {
            if ('@'..='~').contains(&c) && c != '[' {
                in_esc = false;
            }
        } else if c == '\x1b' {
            in_esc = true;
        } else {
            w += c.encode_utf8(&mut buf).width();
        }
    }
    w
}

/// Every line of `text` (plain) fits in `width` columns, apart from single long words.
#[cfg(test)]
fn fits(text: &str, width: usize) -> bool {
    text.lines()
        .all(|l| visible_width(l) <= width || !l.trim().contains(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(md: &str, width: usize) -> String {
        render(
            md,
            Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS,
            Layout {
                width,
                style: Style { color: false },
            },
        )
    }

    fn colour(md: &str) -> String {
        render(
            md,
            Options::empty(),
            Layout {
                width: 80,
                style: Style { color: true },
            },
        )
    }

    #[test]
    fn headings_paragraphs_and_wrapping() {
        let out = plain(
            "# Lesson 1 — The onion\n\nA packet is a *stack* of headers, each **added** by one layer on the way \
             down and read by the same layer on the way up: the onion.\n\n## 1. The list\n\nRun `netlab dissect`.\n",
            40,
        );
        assert_eq!(
            out,
            "Lesson 1 — The onion\n\
             ════════════════════\n\
             \n\
             A packet is a stack of headers, each\n\
             added by one layer on the way down and\n\
             read by the same layer on the way up:\n\
             the onion.\n\
             \n\
             1. The list\n\
             ───────────\n\
             \n\
             Run `netlab dissect`.\n"
        );
        assert!(fits(&out, 40));
    }

    #[test]
    fn lists_nest_and_wrap_under_their_text() {
        let out = plain(
            "- one\n- two is longer than the width allows here\n  - inner\n- three\n\n1. first\n2. second\n",
            30,
        );
        assert_eq!(
            out,
            "• one\n\
             • two is longer than the width\n  allows here\n  ◦ inner\n\
             • three\n\
             \n\
             1. first\n\
             2. second\n"
        );
    }

    #[test]
    fn code_blocks_lose_their_fences_and_quotes_get_a_bar() {
        let out = plain(
            "Before.\n\n```sh\nnetlab tcp serve   # comment\n```\n\n> quoted *text*\n",
            60,
        );
        assert_eq!(
            out,
            "Before.\n\n    netlab tcp serve   # comment\n\n│ quoted text\n"
        );
        assert!(!out.contains("```"));
    }

    #[test]
    fn links_tables_and_rules() {
        let out = plain(
            "See [the RFC](https://www.rfc-editor.org/rfc/rfc6455) and <https://example.test/>.\n\n\
             | a | bb |\n|---|--:|\n| 1 | 2 |\n\n---\n",
            80,
        );
        assert!(
            out.contains(
                "See the RFC (https://www.rfc-editor.org/rfc/rfc6455) and https://example.test/."
            ),
            "{out}"
        );
        assert!(out.contains("a │ bb\n──┼───\n1 │  2\n"), "{out}");
        assert!(out.contains("────"), "{out}");
        // A table wider than the line wraps its widest column.
        let out = plain(
            "| Layer | Its header says |\n|---|---|\n| Transport | which program on each machine: the source and destination port |\n",
            40,
        );
        assert!(fits(&out, 40), "{out}");
        assert!(
            out.contains("Transport │ which program on each\n          │ machine:"),
            "{out}"
        );
    }

    #[test]
    fn colours_only_when_asked() {
        let c = colour("Some **bold** and `code`.\n");
        assert!(c.contains("\x1b[1mbold\x1b[0m"), "{c:?}");
        assert!(c.contains("\x1b[36mcode\x1b[0m"), "{c:?}");
        let p = plain("Some **bold** and `code`.\n", 80);
        assert!(!p.contains('\x1b'));
        assert_eq!(
            visible_width(c.lines().next().unwrap()),
            "Some bold and code.".len()
        );
    }

    #[test]
    fn hard_breaks_and_task_lists() {
        assert_eq!(plain("one\\\ntwo\n", 80), "one\ntwo\n");
        assert_eq!(
            plain("- [x] done\n- [ ] todo\n", 80),
            "• [x] done\n• [ ] todo\n"
        );
    }
}
