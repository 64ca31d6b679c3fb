//! The course on a terminal: a lesson's prose (through [`super::markdown`]), its steps
//! and questions, the look-for text highlighted in a step's output, the lesson list with
//! its progress bar.
//!
//! Imports: `course`'s lesson model and progress status, [`super::markdown`].

use std::fmt::Write as _;
use std::ops::Range;

use super::markdown::{self, Layout, inline, styled};
use crate::course::lesson::{Answer, Check, Lesson, Part, Step};
use crate::course::progress::Status;

/// A lesson's prose between two steps or questions.
pub fn prose(lesson: &Lesson, range: &Range<usize>, layout: Layout) -> String {
    markdown::render(
        lesson.prose(range),
        crate::course::lesson::markdown_options(),
        layout,
    )
}

/// A line across the width with a label in it: `── Step 2 of 9 ──────`.
fn banner(label: &str, layout: Layout) -> String {
    let used = markdown::visible_width(label) + 4;
    let rest = layout.width.min(78).saturating_sub(used);
    format!(
        "{} {} {}",
        styled(layout.style, inline::DIM, "──"),
        styled(layout.style, inline::BOLD, label),
        styled(layout.style, inline::DIM, &"─".repeat(rest))
    )
}

/// A step as shown before it runs: its number, the command, what it needs, what to look
/// for. `root`: whether this netlab runs as root.
pub fn step(lesson: &Lesson, step: &Step, root: bool, layout: Layout) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}",
        banner(
            &format!("Step {} of {}", step.number, lesson.steps.len()),
            layout
        )
    );
    let _ = writeln!(
        s,
        "{}",
        styled(
            layout.style,
            inline::BOLD,
            &format!("$ {}", step.command.text)
        )
    );
    if step.command.sudo {
        let why = if root {
            "needs root: you are root, so it runs as it is".to_string()
        } else {
            "needs root (network namespaces, TUN devices or raw sockets)".to_string()
        };
        s.push_str(&note(&why, layout));
        if let Some(u) = &step.unprivileged {
            s.push_str(&note(&format!("without root: {}", u.text), layout));
        }
    }
    if !step.look_for.is_empty() {
        let items: Vec<String> = step
            .look_for
            .iter()
            .map(|l| styled(layout.style, inline::CODE, l.label()))
            .collect();
        s.push_str(&wrapped_list("Look for: ", &items, layout));
    }
    s
}

/// `label item · item · item`, wrapped under itself (the label in bold).
pub fn wrapped_list(label: &str, items: &[String], layout: Layout) -> String {
    let mut s = String::new();
    let mut line = styled(layout.style, inline::BOLD, label);
    let indent = markdown::visible_width(label);
    let mut used = indent;
    for (i, item) in items.iter().enumerate() {
        let w = markdown::visible_width(item);
        let sep = if i == 0 { "" } else { " · " };
        if i > 0 && used + 3 + w > layout.width {
            let _ = writeln!(s, "{line}");
            line = " ".repeat(indent);
            used = indent;
            line.push_str(item);
            used += w;
        } else {
            line.push_str(sep);
            line.push_str(item);
            used += sep.chars().count() + w;
        }
    }
    let _ = writeln!(s, "{line}");
    s
}

/// A dim note, wrapped, indented by two.
pub fn note(text: &str, layout: Layout) -> String {
    let md = markdown::render(
        &escape(text),
        pulldown_cmark::Options::empty(),
        Layout {
            width: layout.width.saturating_sub(2),
            style: Style { color: false },
        },
    );
    md.lines()
        .map(|l| format!("  {}\n", styled(layout.style, inline::DIM, l)))
        .collect()
}

use super::Style;

/// Markdown-escapes plain text.
fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_[]<>#!|".contains(c) {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// A question as asked: its number, the text, the choices.
pub fn question(lesson: &Lesson, check: &Check, layout: Layout) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}",
        banner(
            &format!("Question {} of {}", check.number, lesson.checks.len()),
            layout
        )
    );
    s.push_str(&markdown::render(
        &check.question,
        crate::course::lesson::markdown_options(),
        layout,
    ));
    if let Answer::Choice { choices, .. } = &check.answer {
        for (i, c) in choices.iter().enumerate() {
            let letter = (b'a' + i as u8) as char;
            let md = format!("{letter}) {c}");
            for (n, l) in markdown::render(
                &md,
                pulldown_cmark::Options::empty(),
                Layout {
                    width: layout.width.saturating_sub(5),
                    ..layout
                },
            )
            .lines()
            .enumerate()
            {
                let pad = if n == 0 { "  " } else { "     " };
                let _ = writeln!(s, "{pad}{l}");
            }
        }
    }
    s
}

/// A label and Markdown text after it (`Hint 1 of 2: …`), wrapped.
pub fn labelled(label: &str, text: &str, flags: u8, layout: Layout) -> String {
    let body = markdown::render(text, crate::course::lesson::markdown_options(), layout);
    let mut out = styled(layout.style, flags, label);
    out.push(' ');
    // Fit the label on the first line when the text is one paragraph: wrap the text
    // behind a placeholder as wide as the label, then drop the placeholder.
    let lw = markdown::visible_width(label);
    if !body.trim_end().contains("\n\n") {
        let rewrapped = markdown::render(
            &format!("{} {text}", "x".repeat(lw)),
            crate::course::lesson::markdown_options(),
            layout,
        );
        let mut lines = rewrapped.lines();
        if let Some(first) = lines.next() {
            out.push_str(&skip_visible(first, lw + 1));
            out.push('\n');
            for l in lines {
                out.push_str(l);
                out.push('\n');
            }
            return out;
        }
    }
    out.push('\n');
    out.push_str(&body);
    out
}

/// `s` without its first `n` visible columns (which are the placeholder `x`s).
fn skip_visible(s: &str, n: usize) -> String {
    let mut seen = 0;
    let mut out = String::new();
    let mut in_esc = false;
    for c in s.chars() {
        if in_esc {
            out.push(c);
            if ('@'..='~').contains(&c) && c != '[' {
                in_esc = false;
            }
        } else if c == '\x1b' {
            in_esc = true;
            out.push(c);
        } else if seen < n {
            seen += 1;
        } else {
            out.push(c);
        }
    }
    out
}

/// The whole lesson for reading (`netlab lesson show`): prose, steps, and questions
/// without their answers.
pub fn lesson(lesson: &Lesson, status: &Status, root: bool, layout: Layout) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}",
        styled(
            layout.style,
            inline::DIM,
            &format!(
                "Lesson {} ({}) · about {} min · {} steps · {} questions{}{}",
                lesson.number(),
                lesson.id(),
                lesson.meta.minutes,
                lesson.steps.len(),
                lesson.checks.len(),
                if lesson.meta.privileges == crate::course::front_matter::Privileges::Root {
                    " · some steps need root"
                } else {
                    ""
                },
                if status.started() {
                    format!(
                        " · done: {}/{} steps, {}/{} questions",
                        status.steps_done, status.steps, status.checks_done, status.checks
                    )
                } else {
                    String::new()
                }
            )
        )
    );
    s.push('\n');
    for part in &lesson.parts {
        match part {
            Part::Prose(r) => s.push_str(&prose(lesson, r, layout)),
            Part::Step(i) => s.push_str(&step(lesson, &lesson.steps[*i], root, layout)),
            Part::Check(i) => {
                s.push_str(&question(lesson, &lesson.checks[*i], layout));
                s.push_str(&note(
                    &format!("Answer it with: netlab lesson check {}", lesson.number()),
                    layout,
                ));
            }
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "{}",
        styled(
            layout.style,
            inline::DIM,
            &format!(
                "Run it: netlab lesson run {n} · answer its questions: netlab lesson check {n}",
                n = lesson.number()
            )
        )
    );
    s
}

/// `line` (as printed, maybe coloured) with the `ranges` of its plain text in reverse
/// video. Without colours the line is left as it is.
pub fn highlight(line: &str, ranges: &[Range<usize>], style: Style) -> String {
    if !style.color || ranges.is_empty() {
        return line.to_string();
    }
    let mut ranges: Vec<Range<usize>> = ranges.to_vec();
    ranges.sort_by_key(|r| r.start);
    let inside = |pos: usize| ranges.iter().any(|r| r.contains(&pos));
    let mut out = String::with_capacity(line.len() + 16);
    let mut plain = 0;
    let mut on = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            out.push(c);
            if chars.peek() == Some(&'[') {
                for c in chars.by_ref() {
                    out.push(c);
                    if ('@'..='~').contains(&c) && c != '[' {
                        break;
                    }
                }
                if on {
                    // The sequence may have reset every attribute: reverse again.
                    out.push_str("\x1b[7m");
                }
            }
            continue;
        }
        let want = inside(plain);
        if want != on {
            out.push_str(if want { "\x1b[7m" } else { "\x1b[27m" });
            on = want;
        }
        out.push(c);
        plain += c.len_utf8();
    }
    if on {
        out.push_str("\x1b[27m");
    }
    out
}

/// `[██████░░░░░░░░] 42%`.
pub fn bar(done: usize, total: usize, cells: usize, style: Style) -> String {
    // An empty course counts as done.
    let filled = (done * cells).checked_div(total).unwrap_or(cells);
    let pct = (done * 100).checked_div(total).unwrap_or(100);
    format!(
        "[{}{}] {pct}%",
        styled(style, inline::BOLD, &"█".repeat(filled)),
        styled(style, inline::DIM, &"░".repeat(cells - filled))
    )
}

/// The course at a glance (`netlab lesson list`).
pub fn list(lessons: &[(&Lesson, Status)], layout: Layout) -> String {
    let style = layout.style;
    let (mut done, mut total, mut complete) = (0, 0, 0);
    for (_, st) in lessons {
        done += st.steps_done + st.checks_done;
        total += st.steps + st.checks;
        complete += usize::from(st.complete());
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}  {}  {} of {} lessons done",
        styled(style, inline::BOLD, "Course"),
        bar(done, total, 24, style),
        complete,
        lessons.len()
    );
    s.push('\n');
    for (l, st) in lessons {
        let mark = if st.complete() {
            styled(style, inline::BOLD, "✓")
        } else if st.started() {
            "◐".to_string()
        } else {
            "·".to_string()
        };
        let head = format!(
            "{mark} {:>2}  {} — {}",
            l.number(),
            styled(style, inline::CODE, l.id()),
            styled(style, inline::BOLD, l.title())
        );
        let _ = writeln!(s, "{head}");
        let mut facts = vec![
            format!("{}/{} steps", st.steps_done, st.steps),
            format!("{}/{} questions", st.checks_done, st.checks),
            format!("about {} min", l.meta.minutes),
        ];
        if l.meta.privileges == crate::course::front_matter::Privileges::Root {
            facts.push("some steps need root".into());
        }
        if st.changed && st.started() {
            facts.push("changed since you worked on it".into());
        }
        let _ = writeln!(
            s,
            "      {}",
            styled(style, inline::DIM, &facts.join(" · "))
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLOR: Style = Style { color: true };

    #[test]
    fn highlight_survives_the_colours_of_the_line() {
        let line = "\x1b[33mTCP\x1b[0m 80 → 5000 [SYN, ACK]";
        let at = "TCP 80 → 5000 [SYN, ACK]".find('[').unwrap();
        let h = highlight(line, &[at..at + 10, 0..0], COLOR);
        assert!(h.ends_with("\x1b[7m[SYN, ACK]\x1b[27m"), "{h:?}");
        // A match that spans a reset is reversed again after it.
        let h = highlight(line, &[0..6, 0..0], COLOR);
        assert_eq!(
            h,
            "\x1b[33m\x1b[7mTCP\x1b[0m\x1b[7m 80\x1b[27m → 5000 [SYN, ACK]"
        );
        assert_eq!(highlight(line, &[0..3, 0..0], Style { color: false }), line);
    }

    #[test]
    fn the_bar_fills_in_proportion() {
        let plain = Style { color: false };
        assert_eq!(bar(0, 4, 8, plain), "[░░░░░░░░] 0%");
        assert_eq!(bar(2, 4, 8, plain), "[████░░░░] 50%");
        assert_eq!(bar(4, 4, 8, plain), "[████████] 100%");
    }

    #[test]
    fn a_label_and_its_text_share_the_first_line() {
        let l = Layout {
            width: 30,
            style: Style { color: false },
        };
        let out = labelled(
            "Hint 1 of 2:",
            "look at the *IPv4* block of the first packet",
            0,
            l,
        );
        assert_eq!(
            out,
            "Hint 1 of 2: look at the IPv4\nblock of the first packet\n"
        );
    }
}
