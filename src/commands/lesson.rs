//! `netlab lesson`: the course on the command line. Glue between the course
//! (`crate::course`: lessons, checks, progress, the step runner), the terminal renderer
//! (`crate::render::course`) and the learner's keyboard.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::json;

use crate::cli::{LessonArgs, LessonCommand};
use crate::course::check::{self, Expected, Verdict};
use crate::course::lesson::{Answer, Check, Lesson, Part, Source, Step};
use crate::course::progress::{SavedRun, StateDir};
use crate::course::runner::{self, Invocation, Stream};
use crate::course::{Course, Origin};
use crate::render::Output;
use crate::render::course as view;
use crate::render::markdown::{Layout, inline, styled};

/// How a lesson command ended (the exit status: 0 or 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// A step failed or missed its look-for text (`run --yes`), or an answer was not
    /// right (`check`).
    NotAllRight,
}

/// How long a step may run before it is stopped.
const STEP_TIMEOUT: Duration = Duration::from_secs(300);

struct Ctx {
    course: Course,
    state: StateDir,
    layout: Layout,
    root: bool,
    exe: PathBuf,
}

/// Where [`out`] writes: the command's [`Output`] (a closed pipe marks it, and `main`
/// then ends quietly).
static OUTPUT: std::sync::OnceLock<Output> = std::sync::OnceLock::new();

pub fn run(args: &LessonArgs, output: &Output) -> anyhow::Result<Outcome> {
    let style = output.style;
    let _ = OUTPUT.set(output.clone());
    let course = Course::load()?;
    let state = StateDir::locate()?;
    let ctx = Ctx {
        course,
        state,
        layout: Layout {
            width: width(),
            style,
        },
        // SAFETY: geteuid has no preconditions.
        root: unsafe { libc::geteuid() } == 0,
        exe: std::env::current_exe().context("cannot find the netlab binary to run the steps")?,
    };
    match &args.command {
        None => next(&ctx),
        Some(LessonCommand::List { json }) => list(&ctx, *json),
        Some(LessonCommand::Show { lesson }) => show(&ctx, find(&ctx, lesson)?),
        Some(LessonCommand::Run { lesson, step, yes }) => {
            run_lesson(&ctx, find(&ctx, lesson)?, step.map(|s| s as usize), *yes)
        }
        Some(LessonCommand::Check { lesson, answers }) => {
            check_lesson(&ctx, find(&ctx, lesson)?, answers.as_ref())
        }
        Some(LessonCommand::Hint { lesson, question }) => {
            hint(&ctx, find(&ctx, lesson)?, *question as usize)
        }
        Some(LessonCommand::Reset { lesson, all, yes }) => {
            let which = match lesson {
                Some(l) if !*all => Some(find(&ctx, l)?),
                _ => None,
            };
            reset(&ctx, which, *yes)
        }
        Some(LessonCommand::Where) => where_(&ctx),
    }
}

/// Columns to lay text out in: the terminal's, else `$COLUMNS`, else 80; at most 100
/// (longer lines read badly).
fn width() -> usize {
    let w = terminal_size::terminal_size_of(io::stdout())
        .map(|(w, _)| w.0 as usize)
        .or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()))
        .unwrap_or(80);
    w.clamp(40, 100)
}

fn out(text: &str) -> io::Result<()> {
    match OUTPUT.get() {
        Some(o) => o.print(text),
        None => {
            let mut o = io::stdout().lock();
            o.write_all(text.as_bytes())?;
            o.flush()
        }
    }
}

fn find<'c>(ctx: &'c Ctx, key: &str) -> anyhow::Result<&'c Lesson> {
    ctx.course.find(key).ok_or_else(|| {
        let ids: Vec<&str> = ctx.course.lessons.iter().map(|l| l.id()).collect();
        anyhow!(
            "no lesson `{key}`: the lessons are 1–{} or {} (netlab lesson list)",
            ctx.course.lessons.len(),
            ids.join(", ")
        )
    })
}

/// One line typed by the learner; `None` at the end of input.
fn ask(prompt: &str) -> io::Result<Option<String>> {
    out(prompt)?;
    let mut line = String::new();
    if io::stdin().lock().read_line(&mut line)? == 0 {
        out("\n")?;
        return Ok(None);
    }
    Ok(Some(line.trim().to_string()))
}

fn next(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let p = ctx.state.load()?;
    let st = ctx.layout.style;
    let pending = ctx
        .course
        .lessons
        .iter()
        .map(|l| (l, p.status(l)))
        .find(|(_, s)| !s.complete());
    let Some((l, s)) = pending else {
        out(&format!(
            "{} All {} lessons are done. `netlab lesson list` shows them; `netlab lesson reset --all` starts again.\n",
            styled(st, inline::BOLD, "✓"),
            ctx.course.lessons.len()
        ))?;
        return Ok(Outcome::Done);
    };
    let mut s_ = format!(
        "Next: {} {} — {}\n",
        styled(st, inline::BOLD, &format!("lesson {}", l.number())),
        l.id(),
        styled(st, inline::BOLD, l.title())
    );
    s_.push_str(&format!(
        "  about {} min; done so far: {}/{} steps, {}/{} questions{}\n\n",
        l.meta.minutes,
        s.steps_done,
        s.steps,
        s.checks_done,
        s.checks,
        if s.changed && s.started() {
            " (the lesson changed since)"
        } else {
            ""
        }
    ));
    let n = l.number();
    for (cmd, what) in [
        (format!("netlab lesson show {n}"), "read it"),
        (format!("netlab lesson run {n}"), "run its steps"),
        (format!("netlab lesson check {n}"), "answer its questions"),
    ] {
        s_.push_str(&format!(
            "  {}  {what}\n",
            styled(st, inline::CODE, &format!("{cmd:<24}"))
        ));
    }
    s_.push_str("\n`netlab lesson list` shows the whole course.\n");
    out(&s_)?;
    Ok(Outcome::Done)
}

fn list(ctx: &Ctx, json: bool) -> anyhow::Result<Outcome> {
    let p = ctx.state.load()?;
    let rows: Vec<_> = ctx
        .course
        .lessons
        .iter()
        .map(|l| (l, p.status(l)))
        .collect();
    if json {
        let mut s = String::new();
        for (l, st) in &rows {
            let v = json!({
                "number": l.number(),
                "id": l.id(),
                "title": l.title(),
                "minutes": l.meta.minutes,
                "privileges": l.meta.privileges.as_str(),
                "captures": l.meta.captures,
                "steps": { "done": st.steps_done, "total": st.steps },
                "questions": { "right": st.checks_done, "total": st.checks },
                "complete": st.complete(),
                "changed": st.changed && st.started(),
            });
            s.push_str(&v.to_string());
            s.push('\n');
        }
        out(&s)?;
    } else {
        out(&view::list(&rows, ctx.layout))?;
    }
    Ok(Outcome::Done)
}

fn show(ctx: &Ctx, lesson: &Lesson) -> anyhow::Result<Outcome> {
    let status = ctx.state.load()?.status(lesson);
    let text = view::lesson(lesson, &status, ctx.root, ctx.layout);
    if io::stdout().is_terminal() {
        page(&text)?;
    } else {
        out(&text)?;
    }
    Ok(Outcome::Done)
}

/// Shows `text` in `$PAGER` (else `less -R`); prints it if no pager starts.
fn page(text: &str) -> io::Result<()> {
    let pager = std::env::var("PAGER").ok().filter(|p| !p.trim().is_empty());
    let mut cmd = match &pager {
        Some(p) => {
            let mut c = std::process::Command::new("sh");
            c.arg("-c").arg(p);
            c
        }
        None => {
            let mut c = std::process::Command::new("less");
            c.arg("-R");
            if std::env::var_os("LESS").is_none() {
                // Quit at once when it fits on one screen, and leave it there (as git does).
                c.env("LESS", "FRX");
            }
            c
        }
    };
    match cmd.stdin(std::process::Stdio::piped()).spawn() {
        Ok(mut child) => {
            if let Some(mut stdin) = child.stdin.take() {
                // The reader may quit before the end: that is no error.
                let _ = stdin.write_all(text.as_bytes());
            }
            child.wait()?;
            Ok(())
        }
        Err(_) => out(text),
    }
}

/// How a step went.
enum StepResult {
    /// Ran, and every look-for text was there.
    Done,
    /// Ran but failed, or something to look for was missing.
    Failed,
    Skipped,
    Quit,
}

fn run_lesson(
    ctx: &Ctx,
    lesson: &Lesson,
    from: Option<usize>,
    yes: bool,
) -> anyhow::Result<Outcome> {
    if let Some(k) = from
        && k > lesson.steps.len()
    {
        bail!(
            "lesson {} has {} steps, not {k}",
            lesson.number(),
            lesson.steps.len()
        );
    }
    let work = ctx.course.prepare_workspace(&ctx.state)?;
    let status = ctx.state.load()?.status(lesson);
    let st = ctx.layout.style;
    if status.changed && status.started() {
        out(&view::note(
            &if status.stale == 0 {
                "This lesson changed since you last worked on it; its steps and questions did not, so your marks still count.".to_string()
            } else {
                format!(
                    "This lesson changed since you last worked on it: the marks of the steps and questions that changed no longer count ({} of them).",
                    status.stale
                )
            },
            ctx.layout,
        ))?;
    }
    // Start at the prose just before step `from`.
    let start = match from {
        None => 0,
        Some(k) => {
            let at = lesson
                .parts
                .iter()
                .position(|p| *p == Part::Step(k - 1))
                .unwrap_or(0);
            if at > 0 && matches!(lesson.parts[at - 1], Part::Prose(_)) {
                at - 1
            } else {
                at
            }
        }
    };
    let (mut done, mut failed, mut skipped, mut asked) = (0, 0, Vec::new(), 0);
    for part in &lesson.parts[start..] {
        match part {
            Part::Prose(r) => out(&view::prose(lesson, r, ctx.layout))?,
            Part::Step(i) => {
                out("\n")?;
                let step = &lesson.steps[*i];
                out(&view::step(lesson, step, ctx.root, ctx.layout))?;
                match run_step(ctx, lesson, step, &work, yes)? {
                    StepResult::Done => done += 1,
                    StepResult::Failed => failed += 1,
                    StepResult::Skipped => skipped.push(step.number),
                    StepResult::Quit => {
                        out(
                            "Stopped. Your progress is kept: `netlab lesson` says what is next.\n",
                        )?;
                        return Ok(Outcome::Done);
                    }
                }
                out("\n")?;
            }
            Part::Check(i) => {
                let check = &lesson.checks[*i];
                out("\n")?;
                out(&view::question(lesson, check, ctx.layout))?;
                if yes {
                    out(&view::note(
                        &format!("Answer it with: netlab lesson check {}", lesson.number()),
                        ctx.layout,
                    ))?;
                } else {
                    asked += 1;
                    match ask_one(ctx, lesson, check)? {
                        Asked::Quit => {
                            out(
                                "Stopped. Your progress is kept: `netlab lesson` says what is next.\n",
                            )?;
                            return Ok(Outcome::Done);
                        }
                        Asked::Right | Asked::NotRight | Asked::Skipped => {}
                    }
                }
                out("\n")?;
            }
        }
    }
    let status = ctx.state.load()?.status(lesson);
    let mut summary = format!(
        "{} lesson {}: {done} step{} done now, {failed} failed",
        styled(st, inline::BOLD, "End of"),
        lesson.number(),
        if done == 1 { "" } else { "s" },
    );
    if !skipped.is_empty() {
        let list: Vec<String> = skipped.iter().map(|n| n.to_string()).collect();
        summary.push_str(&format!(", skipped: {}", list.join(", ")));
    }
    summary.push_str(&format!(
        ". In all: {}/{} steps, {}/{} questions.\n",
        status.steps_done, status.steps, status.checks_done, status.checks
    ));
    if status.checks_done < status.checks && (yes || asked == 0) {
        summary.push_str(&format!(
            "Now answer its questions: netlab lesson check {}\n",
            lesson.number()
        ));
    }
    if yes && skipped.iter().any(|n| lesson.steps[n - 1].command.sudo) && !ctx.root {
        summary.push_str(&format!(
            "Steps that need root were skipped: sudo netlab lesson run {} --yes runs them (your progress stays yours).\n",
            lesson.number()
        ));
    }
    out(&summary)?;
    Ok(if yes && failed > 0 {
        Outcome::NotAllRight
    } else {
        Outcome::Done
    })
}

fn run_step(
    ctx: &Ctx,
    lesson: &Lesson,
    step: &Step,
    work: &std::path::Path,
    yes: bool,
) -> anyhow::Result<StepResult> {
    let needs_root = step.command.sudo && !ctx.root;
    let mut hints_shown = 0;
    // Which command, and whether through sudo.
    let (cmd, via_sudo) = loop {
        if yes {
            match (needs_root, &step.unprivileged) {
                (false, _) => break (&step.command, false),
                (true, Some(u)) => {
                    out(&view::note(
                        "not root: running the way without root",
                        ctx.layout,
                    ))?;
                    break (u, false);
                }
                (true, None) => {
                    out(&view::note(
                        "skipped: it needs root (run the lesson with sudo)",
                        ctx.layout,
                    ))?;
                    return Ok(StepResult::Skipped);
                }
            }
        }
        let mut keys = vec![if needs_root {
            "[Enter] run it with sudo"
        } else {
            "[Enter] run"
        }];
        if needs_root && step.unprivileged.is_some() {
            keys.push("u without root");
        }
        keys.extend(["s skip", "h hint", "q quit"]);
        let Some(answer) = ask(&format!("{} › ", keys.join(" · ")))? else {
            return Ok(StepResult::Quit);
        };
        match answer.to_lowercase().as_str() {
            "" => break (&step.command, needs_root),
            "u" if needs_root && step.unprivileged.is_some() => {
                break (step.unprivileged.as_ref().expect("checked above"), false);
            }
            "s" => return Ok(StepResult::Skipped),
            "q" => return Ok(StepResult::Quit),
            "h" => {
                let text = if hints_shown < step.hints.len() {
                    hints_shown += 1;
                    view::labelled(
                        &format!("Hint {} of {}:", hints_shown, step.hints.len()),
                        &step.hints[hints_shown - 1],
                        inline::BOLD,
                        ctx.layout,
                    )
                } else if step.look_for.is_empty() {
                    view::note(
                        "No hint for this step: run it and read what it prints.",
                        ctx.layout,
                    )
                } else {
                    view::note(
                        "The step is done when its output shows everything under \"Look for\": it is highlighted when it appears.",
                        ctx.layout,
                    )
                };
                out(&text)?;
            }
            other => out(&view::note(
                &format!("`{other}`? Press Enter to run the step, or s, h or q."),
                ctx.layout,
            ))?,
        }
    };

    let st = ctx.layout.style;
    // Say what runs when it is not the command shown above.
    if via_sudo || cmd.text != step.command.text {
        let shown = if via_sudo {
            format!("sudo {}", cmd.text.trim_start_matches("sudo "))
        } else {
            cmd.text.clone()
        };
        out(&format!(
            "{}\n",
            styled(st, inline::DIM, &format!("$ {shown}"))
        ))?;
    }
    let result = runner::run(
        &Invocation {
            exe: &ctx.exe,
            args: &cmd.args,
            dir: work,
            sudo: via_sudo,
            color: st.color,
            timeout: STEP_TIMEOUT,
            // Interactive: Ctrl-C ends a long step, and the lesson goes on.
            ctrl_c_stops_only_it: !yes,
        },
        |stream, line| {
            let shown = match stream {
                Stream::Out => {
                    let plain = runner::strip_ansi(line);
                    let ranges: Vec<_> = step
                        .look_for
                        .iter()
                        .flat_map(|l| l.find_all(&plain))
                        .collect();
                    view::highlight(line, &ranges, st)
                }
                Stream::Err => line.to_string(),
            };
            // A closed stdout ends the lesson at the next `out` anyway.
            let _ = out(&format!("{shown}\n"));
        },
    );
    let _ = ctx.state.give_tree(work);
    let finished = match result {
        Ok(f) => f,
        Err(e) => {
            out(&format!("{} {e}\n", styled(st, inline::BOLD, "✗")))?;
            return Ok(StepResult::Failed);
        }
    };
    let plain_out = runner::strip_ansi(&finished.stdout);
    let plain_err = runner::strip_ansi(&finished.stderr);
    let all = format!("{plain_out}\n{plain_err}");
    if finished.success() {
        ctx.state.save_run(
            lesson,
            step,
            &SavedRun {
                command: cmd.text.clone(),
                exit_code: finished.exit_code,
                unix_time: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                stdout: plain_out.clone(),
                stderr: plain_err.clone(),
            },
        )?;
    }
    let (found, missing): (Vec<_>, Vec<_>) =
        step.look_for.iter().partition(|l| l.find(&all).is_some());
    let mut report = String::new();
    if finished.timed_out {
        report.push_str(&format!(
            "{} it did not finish within {} s and was stopped\n",
            styled(st, inline::BOLD, "✗"),
            STEP_TIMEOUT.as_secs()
        ));
    } else if !finished.success() {
        report.push_str(&format!(
            "{} netlab {}\n",
            styled(st, inline::BOLD, "✗"),
            match finished.exit_code {
                Some(c) => format!("exited with status {c}"),
                None => "was stopped by a signal (Ctrl-C?)".to_string(),
            }
        ));
    }
    if !found.is_empty() {
        let items: Vec<String> = found
            .iter()
            .map(|l| styled(st, inline::CODE, l.label()))
            .collect();
        report.push_str(&view::wrapped_list("✓ found: ", &items, ctx.layout));
    }
    if !missing.is_empty() {
        let items: Vec<String> = missing
            .iter()
            .map(|l| styled(st, inline::CODE, l.label()))
            .collect();
        report.push_str(&view::wrapped_list("✗ not found: ", &items, ctx.layout));
        if let Some(h) = step.hints.first() {
            report.push_str(&view::labelled("Hint:", h, inline::BOLD, ctx.layout));
        }
    }
    let ok = finished.success() && missing.is_empty();
    if ok {
        report.push_str(&format!(
            "{} step {} done\n",
            styled(st, inline::BOLD, "✓"),
            step.number
        ));
        let mut p = ctx.state.load()?;
        p.lesson_mut(lesson).steps.insert(step.hash.clone());
        ctx.state.save(&p)?;
    }
    out(&report)?;
    Ok(if ok {
        StepResult::Done
    } else {
        StepResult::Failed
    })
}

/// The right answer of a question: computed from a fresh run or the saved one. `Err`
/// inside says why it cannot be known yet (no run of the step, a failed command); an
/// `Err` outside is a broken lesson.
fn expected(ctx: &Ctx, lesson: &Lesson, check: &Check) -> anyhow::Result<Result<Expected, String>> {
    let broken = |e: check::ComputeError| {
        anyhow!(
            "{}:{}: question {}: {e}",
            lesson.path,
            check.line,
            check.number
        )
    };
    match &check.answer {
        Answer::Computed {
            source: Source::Run(cmd),
            ..
        } => {
            let work = ctx.course.prepare_workspace(&ctx.state)?;
            let f = runner::run(
                &Invocation {
                    exe: &ctx.exe,
                    args: &cmd.args,
                    dir: &work,
                    sudo: false,
                    color: false,
                    timeout: STEP_TIMEOUT,
                    ctrl_c_stops_only_it: false,
                },
                |_, _| {},
            )?;
            if !f.success() {
                let why = f.stderr.lines().next().unwrap_or("no message").to_string();
                return Ok(Err(format!(
                    "This question is answered from `{}`, which failed: {why}. Have you run the lesson's steps? (netlab lesson run {})",
                    cmd.text,
                    lesson.number()
                )));
            }
            check::expected(check, Some(&f.stdout))
                .map(Ok)
                .map_err(broken)
        }
        Answer::Computed {
            source: Source::Last { step },
            ..
        } => {
            let step = &lesson.steps[*step];
            let again = format!(
                "{}netlab lesson run {} --step {}",
                if step.command.sudo { "sudo " } else { "" },
                lesson.number(),
                step.number
            );
            let Some(run) = ctx.state.saved_run(lesson, step)? else {
                return Ok(Err(format!(
                    "This question is about your own run of step {}, and there is none yet: {again}",
                    step.number
                )));
            };
            Ok(check::expected(check, Some(&run.stdout)).map_err(|e| {
                format!(
                    "Your run of step {} does not show the answer ({e}){}. Run it again: {again}",
                    step.number,
                    if step.command.sudo {
                        "; it needs root"
                    } else {
                        ""
                    }
                )
            }))
        }
        _ => check::expected(check, None).map(Ok).map_err(broken),
    }
}

enum Asked {
    Right,
    NotRight,
    Skipped,
    Quit,
}

/// Reveals the next hint of `check` (and remembers it); `None` when all were shown.
fn next_hint(ctx: &Ctx, lesson: &Lesson, check: &Check) -> anyhow::Result<Option<String>> {
    let mut p = ctx.state.load()?;
    let seen = p.hints_seen(lesson, &check.hash);
    if seen >= check.hints.len() {
        return Ok(None);
    }
    p.lesson_mut(lesson)
        .hints
        .insert(check.hash.clone(), seen + 1);
    ctx.state.save(&p)?;
    Ok(Some(view::labelled(
        &format!("Hint {} of {}:", seen + 1, check.hints.len()),
        &check.hints[seen],
        inline::BOLD,
        ctx.layout,
    )))
}

fn mark_right(ctx: &Ctx, lesson: &Lesson, check: &Check) -> anyhow::Result<()> {
    let mut p = ctx.state.load()?;
    p.lesson_mut(lesson).checks.insert(check.hash.clone());
    ctx.state.save(&p)?;
    Ok(())
}

/// Asks one question on the terminal until it is right, skipped, or out of hints.
fn ask_one(ctx: &Ctx, lesson: &Lesson, check: &Check) -> anyhow::Result<Asked> {
    let st = ctx.layout.style;
    let exp = match expected(ctx, lesson, check)? {
        Ok(e) => e,
        Err(why) => {
            out(&view::note(&why, ctx.layout))?;
            return Ok(Asked::Skipped);
        }
    };
    loop {
        let Some(a) = ask("answer (Enter skips · q quits) › ")? else {
            return Ok(Asked::Quit);
        };
        if a.is_empty() {
            return Ok(Asked::Skipped);
        }
        if a == "q" {
            return Ok(Asked::Quit);
        }
        match check::judge(&exp, &a, check.tolerance) {
            Verdict::Right => {
                mark_right(ctx, lesson, check)?;
                out(&view::labelled(
                    "✓ Right.",
                    &check.explain,
                    inline::BOLD,
                    ctx.layout,
                ))?;
                return Ok(Asked::Right);
            }
            Verdict::Wrong(why) => {
                out(&format!("{} {why}.\n", styled(st, inline::BOLD, "✗")))?;
                match next_hint(ctx, lesson, check)? {
                    Some(h) => out(&h)?,
                    None => {
                        out(&view::labelled(
                            "No more hints. The answer:",
                            &format!("{}. {}", exp.shown(), check.explain),
                            inline::BOLD,
                            ctx.layout,
                        ))?;
                        return Ok(Asked::NotRight);
                    }
                }
            }
        }
    }
}

fn check_lesson(ctx: &Ctx, lesson: &Lesson, answers: Option<&PathBuf>) -> anyhow::Result<Outcome> {
    let st = ctx.layout.style;
    if lesson.checks.is_empty() {
        out(&format!("Lesson {} has no questions.\n", lesson.number()))?;
        return Ok(Outcome::Done);
    }
    let given: Option<Vec<String>> = match answers {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(
            io::stdin()
                .lock()
                .lines()
                .collect::<Result<_, _>>()
                .context("reading answers from standard input")?,
        ),
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("reading answers from {}", p.display()))?
                .lines()
                .map(String::from)
                .collect(),
        ),
    };
    let mut right = 0;
    for check in &lesson.checks {
        out(&view::question(lesson, check, ctx.layout))?;
        match &given {
            None => match ask_one(ctx, lesson, check)? {
                Asked::Right => right += 1,
                Asked::NotRight | Asked::Skipped => {}
                Asked::Quit => break,
            },
            Some(lines) => {
                let a = lines.get(check.number - 1).map(|s| s.trim()).unwrap_or("");
                out(&format!("answer › {a}\n"))?;
                let exp = match expected(ctx, lesson, check)? {
                    Ok(e) => e,
                    Err(why) => {
                        out(&view::note(&why, ctx.layout))?;
                        out("\n")?;
                        continue;
                    }
                };
                match check::judge(&exp, a, check.tolerance) {
                    Verdict::Right => {
                        right += 1;
                        mark_right(ctx, lesson, check)?;
                        out(&view::labelled(
                            "✓ Right.",
                            &check.explain,
                            inline::BOLD,
                            ctx.layout,
                        ))?;
                    }
                    Verdict::Wrong(why) => {
                        out(&format!("{} {why}.\n", styled(st, inline::BOLD, "✗")))?;
                        match next_hint(ctx, lesson, check)? {
                            Some(h) => out(&h)?,
                            None => out(&view::labelled(
                                "No more hints.",
                                &check.explain,
                                inline::BOLD,
                                ctx.layout,
                            ))?,
                        }
                    }
                }
            }
        }
        out("\n")?;
    }
    let total = lesson.checks.len();
    out(&format!(
        "{} {right} of {total} right.{}\n",
        styled(st, inline::BOLD, if right == total { "✓" } else { "✗" }),
        if right == total {
            ""
        } else {
            " Try again: netlab lesson check N (a wrong answer shows the next hint)."
        }
    )
    .replace("check N", &format!("check {}", lesson.number())))?;
    Ok(if right == total {
        Outcome::Done
    } else {
        Outcome::NotAllRight
    })
}

fn hint(ctx: &Ctx, lesson: &Lesson, q: usize) -> anyhow::Result<Outcome> {
    let check = lesson.checks.get(q.wrapping_sub(1)).ok_or_else(|| {
        anyhow!(
            "lesson {} has {} questions, not {q}",
            lesson.number(),
            lesson.checks.len()
        )
    })?;
    out(&view::question(lesson, check, ctx.layout))?;
    match next_hint(ctx, lesson, check)? {
        Some(h) => out(&h)?,
        None => {
            for (i, h) in check.hints.iter().enumerate() {
                out(&view::labelled(
                    &format!("Hint {} of {}:", i + 1, check.hints.len()),
                    h,
                    inline::BOLD,
                    ctx.layout,
                ))?;
            }
            out(&view::note(
                "That was the last hint; the explanation comes with the right answer.",
                ctx.layout,
            ))?;
        }
    }
    Ok(Outcome::Done)
}

fn reset(ctx: &Ctx, lesson: Option<&Lesson>, yes: bool) -> anyhow::Result<Outcome> {
    let mut p = ctx.state.load()?;
    let what = match lesson {
        Some(l) => {
            let s = p.status(l);
            format!(
                "your progress on lesson {} ({}: {} steps done, {} questions right) and its saved runs",
                l.number(),
                l.id(),
                s.steps_done,
                s.checks_done
            )
        }
        None => "your progress on every lesson and all saved runs".to_string(),
    };
    if !yes {
        let a = ask(&format!("Forget {what}? [y/N] "))?.unwrap_or_default();
        if !matches!(a.to_lowercase().as_str(), "y" | "yes") {
            out("Nothing was reset.\n")?;
            return Ok(Outcome::Done);
        }
    }
    match lesson {
        Some(l) => {
            p.lessons.remove(l.id());
            ctx.state.remove_runs(l.id())?;
        }
        None => {
            p.lessons.clear();
            for l in &ctx.course.lessons {
                ctx.state.remove_runs(l.id())?;
            }
        }
    }
    ctx.state.save(&p)?;
    out(&format!("Forgot {what}.\n"))?;
    Ok(Outcome::Done)
}

fn where_(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let lessons = match &ctx.course.origin {
        Origin::BuiltIn => format!(
            "built into this netlab: {} lessons (NETLAB_LESSONS_DIR=FOLDER reads them from a folder instead)",
            ctx.course.lessons.len()
        ),
        Origin::Dir(d) => format!(
            "{} (NETLAB_LESSONS_DIR): {} lessons",
            d.display(),
            ctx.course.lessons.len()
        ),
    };
    let s = ctx.state.root.display();
    let text = format!(
        "lessons    {lessons}\n\
         state      {s}/   ({})\n\
         progress   {}\n\
         runs       {}/   your last run of each step, read by questions about it\n\
         workspace  {}/   steps run here; its captures/ holds the captures they read\n",
        ctx.state.why,
        ctx.state.progress_file().display(),
        ctx.state.runs_dir().display(),
        ctx.state.work_dir().display(),
    );
    out(&text)?;
    Ok(Outcome::Done)
}
