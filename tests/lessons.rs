//! The course cannot rot: every lesson runs straight through with
//! `netlab lesson run N --yes` (as root; the steps that need it are skipped, and said so,
//! otherwise), and every question is answered from a fresh run, with answers this test
//! works out on its own (from the `--json` output, the capture, or the learner's saved
//! run), right and then wrong. Every capture a lesson names dissects cleanly.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use netlab::course::Course;
use netlab::course::lesson::{Answer, Extract, Lesson, PacketSel, Reduce, Source};
use serde_json::Value;

use crate::common::netlab;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn lesson_cmd(state: &Path) -> Command {
    let mut c = netlab();
    c.env("NETLAB_STATE_DIR", state)
        .env_remove("NETLAB_LESSONS_DIR")
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .arg("lesson");
    c
}

fn with_stdin(mut c: Command, input: &str) -> Output {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The answer to a computed question, worked out here from the same output netlab reads.
fn computed(lesson: &Lesson, state: &Path, source: &Source, extract: &Extract) -> String {
    let out = match source {
        Source::Run(cmd) => {
            let o = netlab()
                .args(&cmd.args)
                .current_dir(state.join("work"))
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{}: `{}` failed: {}",
                lesson.path,
                cmd.text,
                text(&o.stderr)
            );
            text(&o.stdout)
        }
        Source::Last { step } => {
            let p = state
                .join("runs")
                .join(lesson.id())
                .join(format!("step-{}.out", step + 1));
            std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("{}: no saved run {}: {e}", lesson.path, p.display()))
        }
    };
    let lines = || -> Vec<Value> {
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let field = |p: &Value, name: &str| p["fields"].get(name).or(p.get(name)).cloned();
    let v: Value = match extract {
        Extract::Field { name, packet } => {
            let pkts = lines();
            let p = match packet {
                PacketSel::First => pkts.first(),
                PacketSel::Last => pkts.last(),
                PacketSel::Number(n) => pkts.iter().find(|p| p["number"] == *n),
            }
            .unwrap_or_else(|| panic!("{}: no packet {packet:?}", lesson.path));
            field(p, name).unwrap_or_else(|| panic!("{}: no {name}", lesson.path))
        }
        Extract::Reduce { name, reduce } => {
            let vals: Vec<Value> = lines().iter().filter_map(|p| field(p, name)).collect();
            let nums = || vals.iter().map(|v| v.as_f64().unwrap());
            match reduce {
                Reduce::Count => Value::from(vals.len()),
                Reduce::Distinct => {
                    let mut d: Vec<String> = vals.iter().map(|v| v.to_string()).collect();
                    d.sort();
                    d.dedup();
                    Value::from(d.len())
                }
                Reduce::Sum => Value::from(nums().sum::<f64>()),
                Reduce::Min => Value::from(nums().fold(f64::INFINITY, f64::min)),
                Reduce::Max => Value::from(nums().fold(f64::NEG_INFINITY, f64::max)),
                Reduce::Spacing => {
                    let n: Vec<f64> = nums().collect();
                    Value::from((n[n.len() - 1] - n[0]) / (n.len() - 1) as f64)
                }
            }
        }
        Extract::Json { pointer, select } => match serde_json::from_str::<Value>(out.trim()) {
            Ok(doc) => doc.pointer(pointer).cloned().unwrap(),
            Err(_) => lines()
                .into_iter()
                .filter(|l| {
                    select.iter().all(|(k, v)| match &l[k.as_str()] {
                        Value::String(s) => s == v,
                        other => serde_json::from_str::<Value>(v).ok().as_ref() == Some(other),
                    })
                })
                .find_map(|l| l.pointer(pointer).cloned())
                .unwrap_or_else(|| panic!("{}: nothing at {pointer}", lesson.path)),
        },
        Extract::Match { re, source } => {
            let c = re
                .captures(&out)
                .unwrap_or_else(|| panic!("{}: {source} does not match", lesson.path));
            Value::String(c.get(1).or(c.get(0)).unwrap().as_str().to_string())
        }
    };
    match v {
        Value::String(s) => s,
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
            format!("{}", n.as_f64().unwrap() as i64)
        }
        other => other.to_string(),
    }
}

/// A right and a wrong answer for each question of `lesson`.
fn answers(lesson: &Lesson, state: &Path) -> (Vec<String>, Vec<String>) {
    let mut right = Vec::new();
    let mut wrong = Vec::new();
    for c in &lesson.checks {
        let (r, w) = match &c.answer {
            Answer::Literal(a) => (a[0].clone(), "not the answer".to_string()),
            Answer::Choice { right, choices } => (
                ((b'a' + *right as u8) as char).to_string(),
                ((b'a' + ((*right + 1) % choices.len()) as u8) as char).to_string(),
            ),
            Answer::Computed { source, extract } => {
                let r = computed(lesson, state, source, extract);
                let w = match r.parse::<f64>() {
                    Ok(n) => format!("{}", n + 1000.5),
                    Err(_) => format!("{r}-wrong"),
                };
                (r, w)
            }
        };
        right.push(r);
        wrong.push(w);
    }
    (right, wrong)
}

fn run_lesson(lesson: &Lesson) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let n = lesson.number().to_string();
    let out = lesson_cmd(state)
        .args(["run", &n, "--yes"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{}: `netlab lesson run {n} --yes` failed ({}):\n{stdout}\n{}",
            lesson.path,
            out.status,
            text(&out.stderr)
        ));
    }
    let needs_root =
        |i: usize| lesson.steps[i].command.sudo && lesson.steps[i].unprivileged.is_none();
    for (i, step) in lesson.steps.iter().enumerate() {
        let done = format!("✓ step {} done", step.number);
        if !stdout.contains(&done) {
            if !is_root() && needs_root(i) {
                eprintln!(
                    "SKIPPED (needs root): {} step {}: `{}`",
                    lesson.path, step.number, step.command.text
                );
                continue;
            }
            return Err(format!(
                "{}: step {} not done:\n{stdout}",
                lesson.path, step.number
            ));
        }
    }
    assert!(!stdout.contains('\x1b'), "piped output has escape codes");
    assert!(!stdout.contains("```"), "a raw fence in the output");

    // Questions about a skipped step cannot be answered without root.
    let unanswerable = lesson.checks.iter().any(|c| {
        matches!(&c.answer, Answer::Computed { source: Source::Last { step }, .. } if !is_root() && needs_root(*step))
    });
    if unanswerable {
        eprintln!("SKIPPED (needs root): the questions of {}", lesson.path);
        return Ok(());
    }
    let (right, wrong) = answers(lesson, state);
    let out = with_stdin(
        {
            let mut c = lesson_cmd(state);
            c.args(["check", &n, "--answers", "-"]);
            c
        },
        &(right.join("\n") + "\n"),
    );
    let stdout = text(&out.stdout);
    let total = lesson.checks.len();
    if !out.status.success() || !stdout.contains(&format!("{total} of {total} right")) {
        return Err(format!(
            "{}: right answers {right:?} not all accepted:\n{stdout}\n{}",
            lesson.path,
            text(&out.stderr)
        ));
    }
    let out = with_stdin(
        {
            let mut c = lesson_cmd(state);
            c.args(["check", &n, "--answers", "-"]);
            c
        },
        &(wrong.join("\n") + "\n"),
    );
    let stdout = text(&out.stdout);
    if out.status.code() != Some(1)
        || !stdout.contains(&format!("0 of {total} right"))
        || stdout.matches("Hint 1 of").count() != total
    {
        return Err(format!(
            "{}: wrong answers {wrong:?} not all refused with a hint:\n{stdout}",
            lesson.path
        ));
    }
    let list = lesson_cmd(state).args(["list", "--json"]).output().unwrap();
    let row: Value = text(&list.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["id"] == lesson.id())
        .unwrap();
    assert_eq!(row["questions"]["right"], total, "{row}");
    if is_root() {
        assert_eq!(row["complete"], true, "{row}");
    }
    println!(
        "{}: {} steps, {total} questions right from a fresh run",
        lesson.path,
        lesson.steps.len()
    );
    Ok(())
}

#[test]
fn every_lesson_runs_and_every_question_is_answered_from_a_fresh_run() {
    let course = Course::built_in().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        course.lessons.len() >= 6,
        "{} lessons",
        course.lessons.len()
    );
    let mut failures = Vec::new();
    for lesson in &course.lessons {
        assert!(!lesson.steps.is_empty(), "{}: no steps", lesson.path);
        assert!(
            (2..=4).contains(&lesson.checks.len()),
            "{}: {} questions (2 to 4)",
            lesson.path,
            lesson.checks.len()
        );
        for s in &lesson.steps {
            assert!(
                !s.look_for.is_empty(),
                "{}: step {} has nothing to look for",
                lesson.path,
                s.number
            );
        }
        if let Err(e) = run_lesson(lesson) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_capture_a_lesson_names_dissects_cleanly() {
    let course = Course::built_in().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut seen = 0;
    for lesson in &course.lessons {
        for name in &lesson.meta.captures {
            let bytes = course.capture(name).unwrap();
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            let out = netlab().arg("dissect").arg(&path).output().unwrap();
            assert!(out.status.success(), "{name}: {}", text(&out.stderr));
            let s = text(&out.stdout);
            assert!(!s.is_empty() && !s.contains("[malformed"), "{name}:\n{s}");
            seen += 1;
        }
    }
    assert!(seen >= 5, "only {seen} captures named");
}

/// `PATH` with the tested binary's directory first: a step may run `netlab` itself as a
/// command (`netlab capture -- netlab tcp connect …`).
pub(crate) fn path_with_netlab() -> std::ffi::OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_netlab"))
        .parent()
        .unwrap()
        .to_path_buf();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&rest))).unwrap()
}
