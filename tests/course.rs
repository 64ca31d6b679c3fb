//! `netlab lesson` as a learner meets it: real invocations with a fresh state folder.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::{netlab, netlab_unprivileged};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `netlab lesson ARGS…` with `state` as its state folder (and the built-in lessons).
fn lesson(state: &Path, args: &[&str]) -> Command {
    let mut c = netlab();
    c.env("NETLAB_STATE_DIR", state)
        .env_remove("NETLAB_LESSONS_DIR")
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .env_remove("PAGER")
        .arg("lesson")
        .args(args)
        .stdin(Stdio::null());
    c
}

fn feed(mut c: Command, input: &str) -> Output {
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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "{:?}\n{}\n{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

fn list_json(state: &Path) -> Vec<Value> {
    ok(lesson(state, &["list", "--json"]).output().unwrap())
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A lesson for tests, written to `dir/NAME.md`; its questions read a capture, a JSON
/// document, the saved run of its step, and a literal.
const TEST_LESSON: &str = "---
id: test
title: \"A test: of everything\"
order: 1
minutes: 1
privileges: none
captures: [http.pcap]
---
# A test lesson

Some *prose* first.

```console
$ netlab tcp connect --own-server --send hello
```

```expect
/getsockname\\(\\d+\\) = 127\\.0\\.0\\.1:\\d+/
hint: look at the client's lines
```

```check
q: Which port did your client get?
run: last
match: /client\\s+getsockname\\(\\d+\\) = [^ ]*:(\\d+)/
hint: getsockname
explain: the kernel picked it.
```

```check
q: The MSS of the first SYN?
run: netlab dissect --json captures/http.pcap
field: tcp.options.mss_val
packet: 1
hint: options
hint: kind 2
explain: 1460 = 1500 - 40.
```

```check
q: First port of the ephemeral range?
run: netlab tcp connect --own-server --send x --json
json: /ephemeral_range/0
select: event=getsockname
hint: the range
explain: ip_local_port_range.
```

```check
q: Two plus two?
answer: 4
hint: count
explain: arithmetic.
```
";

fn test_lessons(dir: &Path) -> std::path::PathBuf {
    let lessons = dir.join("lessons");
    std::fs::create_dir_all(&lessons).unwrap();
    std::fs::write(lessons.join("01-test.md"), TEST_LESSON).unwrap();
    lessons
}

#[test]
fn list_shows_every_lesson_and_the_bar_and_show_renders_without_fences() {
    let dir = tempfile::tempdir().unwrap();
    let s = ok(lesson(dir.path(), &["list"]).output().unwrap());
    assert!(s.starts_with("Course  [░░░░"), "{s}");
    assert!(s.contains(" lessons done"), "{s}");
    assert!(s.contains("·  1  onion — The onion"), "{s}");
    assert!(!s.contains('\x1b'), "escape codes in piped output: {s:?}");
    let rows = list_json(dir.path());
    assert!(rows.len() >= 6);
    assert_eq!(rows[0]["number"], 1);
    assert_eq!(rows[0]["steps"]["done"], 0);
    assert_eq!(rows[0]["complete"], false);

    let s = ok(lesson(dir.path(), &["show", "1"]).output().unwrap());
    assert!(s.contains("Lesson 1 — The onion"), "{s}");
    assert!(s.contains("── Step 1 of"), "{s}");
    assert!(s.contains("$ netlab dissect captures/http.pcap"), "{s}");
    assert!(s.contains("── Question 1 of"), "{s}");
    for raw in ["```", "\x1b", "\nanswer:", "\nexplain:", "\nq: ", "\nhint:"] {
        assert!(!s.contains(raw), "`{raw}` in show's output");
    }
    // The same by id; colours when asked for.
    let c = ok(lesson(dir.path(), &["--color", "always", "show", "onion"])
        .output()
        .unwrap());
    assert!(c.contains("\x1b[1m"), "no colours with --color always");
    // NO_COLOR and --color never keep it plain.
    let n = ok(lesson(dir.path(), &["--color", "never", "show", "onion"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap());
    assert!(!n.contains('\x1b'));

    let o = lesson(dir.path(), &["show", "99"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("netlab: error: no lesson `99`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn next_where_and_progress_that_survives_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let s = ok(lesson(dir.path(), &[]).output().unwrap());
    assert!(s.starts_with("Next: lesson 1 onion"), "{s}");
    let w = ok(lesson(dir.path(), &["where"]).output().unwrap());
    assert!(
        w.contains(&format!("{}/progress.json", dir.path().display())),
        "{w}"
    );
    assert!(
        w.contains("NETLAB_STATE_DIR") && w.contains("built into this netlab"),
        "{w}"
    );

    let s = ok(lesson(dir.path(), &["run", "1", "--step", "13", "--yes"])
        .output()
        .unwrap());
    assert!(s.contains("✓ step 13 done"), "{s}");
    assert!(s.contains("✓ found: Packets: 17"), "{s}");
    assert!(!s.contains("step 12 done"), "--step 13 starts at step 13");
    let rows = list_json(dir.path());
    assert_eq!(rows[0]["steps"]["done"], 1, "{}", rows[0]);
    // The run is kept for questions, in plain text.
    let saved = std::fs::read_to_string(dir.path().join("runs/onion/step-13.out")).unwrap();
    assert!(saved.contains("Packets: 17") && !saved.contains('\x1b'));
    // The workspace holds the captures.
    assert!(dir.path().join("work/captures/http.pcap").is_file());
    let s = ok(lesson(dir.path(), &["list"]).output().unwrap());
    assert!(s.contains("◐  1  onion") && s.contains("1/13 steps"), "{s}");

    let o = lesson(dir.path(), &["run", "1", "--step", "99", "--yes"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("has 13 steps, not 99"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_asks_before_each_step_and_offers_hints() {
    let dir = tempfile::tempdir().unwrap();
    // h: a hint (step 7 has none); Enter: run step 7; then q at step 8.
    let o = feed(lesson(dir.path(), &["run", "1", "--step", "7"]), "h\n\nq\n");
    let s = ok(o);
    assert!(
        s.contains("[Enter] run · s skip · h hint · q quit ›"),
        "{s}"
    );
    assert!(
        s.contains("The step is done when its output shows everything"),
        "{s}"
    );
    assert!(s.contains("✓ step 7 done"), "{s}");
    assert!(
        s.contains("── Step 8 of 13") && s.contains("Stopped. Your progress is kept"),
        "{s}"
    );
    assert!(!s.contains("step 8 done"));
    // End of input quits too.
    let s = ok(feed(lesson(dir.path(), &["run", "1"]), ""));
    assert!(s.contains("Stopped."), "{s}");
}

#[test]
fn check_judges_answers_gives_hints_and_remembers() {
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("answers.txt");
    std::fs::write(&answers, "63\nb\n56\nforty-two\n").unwrap();
    let o = lesson(dir.path(), &["check", "1", "--answers"])
        .arg(&answers)
        .output()
        .unwrap();
    let s = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("✗ `63` is not what the output says."), "{s}");
    assert!(
        s.contains("✗ `forty-two` is not a number, and the answer is one."),
        "{s}"
    );
    assert!(s.contains("✗ b) is not it."), "{s}");
    assert!(s.contains("✓ Right. 98 − 42 = 56"), "{s}");
    assert!(s.contains("Hint 1 of 2:"), "{s}");
    assert!(s.contains("✗ 1 of 4 right."), "{s}");
    // The next hint of question 1 is the second; then there are no more.
    let s = ok(lesson(dir.path(), &["hint", "1", "1"]).output().unwrap());
    assert!(
        s.contains("Hint 2 of 2: Look for the line \"Time to live\""),
        "{s}"
    );
    let s = ok(lesson(dir.path(), &["hint", "1", "1"]).output().unwrap());
    assert!(s.contains("That was the last hint"), "{s}");
    let o = lesson(dir.path(), &["hint", "1", "9"]).output().unwrap();
    assert!(stderr(&o).contains("has 4 questions, not 9"));

    let o = feed(
        lesson(dir.path(), &["check", "1", "--answers", "-"]),
        "64\nc\n56\n194\n",
    );
    assert!(stdout(&o).contains("✓ 4 of 4 right."), "{}", stdout(&o));
    assert!(o.status.success());
    assert_eq!(list_json(dir.path())[0]["questions"]["right"], 4);
}

#[test]
fn reset_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    ok(feed(
        lesson(dir.path(), &["check", "1", "--answers", "-"]),
        "64\nc\n56\n194\n",
    ));
    ok(lesson(dir.path(), &["run", "1", "--step", "13", "--yes"])
        .output()
        .unwrap());
    let s = ok(feed(lesson(dir.path(), &["reset", "1"]), "n\n"));
    assert!(
        s.contains("Forget your progress on lesson 1") && s.contains("Nothing was reset."),
        "{s}"
    );
    assert_eq!(list_json(dir.path())[0]["questions"]["right"], 4);
    let s = ok(feed(lesson(dir.path(), &["reset", "1"]), "y\n"));
    assert!(s.contains("Forgot"), "{s}");
    let rows = list_json(dir.path());
    assert_eq!(
        (
            rows[0]["questions"]["right"].as_u64(),
            rows[0]["steps"]["done"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert!(!dir.path().join("runs/onion").exists());
    let o = feed(
        lesson(dir.path(), &["check", "1", "--answers", "-"]),
        "64\n",
    );
    assert_eq!(o.status.code(), Some(1), "one of four right");
    assert_eq!(list_json(dir.path())[0]["questions"]["right"], 1);
    ok(lesson(dir.path(), &["reset", "--all", "--yes"])
        .output()
        .unwrap());
    assert_eq!(list_json(dir.path())[0]["questions"]["right"], 0);
    let o = lesson(dir.path(), &["reset"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "a lesson or --all is required");
}

#[test]
fn computed_answers_come_from_a_fresh_run_and_the_saved_one() {
    let dir = tempfile::tempdir().unwrap();
    let lessons = test_lessons(dir.path());
    let state = dir.path().join("state");
    let cmd = |args: &[&str]| {
        let mut c = lesson(&state, args);
        c.env("NETLAB_LESSONS_DIR", &lessons);
        c
    };
    // Before the step ran there is no saved run: the question says how to make one.
    let o = feed(
        cmd(&["check", "1", "--answers", "-"]),
        "1\n1460\n32768\n4\n",
    );
    let s = stdout(&o);
    assert!(s.contains("there is none yet: netlab"), "{s}");
    assert!(s.contains("lesson run 1 --step 1"), "{s}");
    assert_eq!(o.status.code(), Some(1));

    let s = ok(cmd(&["run", "1", "--yes"]).output().unwrap());
    assert!(s.contains("✓ step 1 done"), "{s}");
    let saved = std::fs::read_to_string(state.join("runs/test/step-1.out")).unwrap();
    let port = regex::Regex::new(r"client\s+getsockname\(\d+\) = [^ ]*:(\d+)")
        .unwrap()
        .captures(&saved)
        .unwrap()[1]
        .to_string();
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let first = range.split_whitespace().next().unwrap().to_string();
    let o = feed(
        cmd(&["check", "1", "--answers", "-"]),
        &format!("{port}\n1,460\n{first}\n4\n"),
    );
    assert!(stdout(&o).contains("✓ 4 of 4 right."), "{}", stdout(&o));
    // Another port is wrong: the answer is the learner's own.
    let other = (port.parse::<u32>().unwrap() + 1).to_string();
    let o = feed(
        cmd(&["check", "1", "--answers", "-"]),
        &format!("{other}\n1460\n{first}\n4\n"),
    );
    assert!(
        stdout(&o).contains(&format!("✗ `{other}` is not what the output says.")),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("✗ 3 of 4 right."));
}

#[test]
fn an_edited_lesson_is_noticed_and_unchanged_marks_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let lessons = test_lessons(dir.path());
    let state = dir.path().join("state");
    let cmd = |args: &[&str]| {
        let mut c = lesson(&state, args);
        c.env("NETLAB_LESSONS_DIR", &lessons);
        c
    };
    ok(cmd(&["run", "1", "--yes"]).output().unwrap());
    let o = feed(cmd(&["check", "1", "--answers", "-"]), "\n\n\n4\n");
    assert_eq!(o.status.code(), Some(1), "one of four right");
    let before = ok(cmd(&["list"]).output().unwrap());
    assert!(
        before.contains("1/1 steps · 1/4 questions") && !before.contains("changed"),
        "{before}"
    );

    // Edit the step: its mark no longer counts; the question that did not change keeps its.
    let edited = TEST_LESSON.replace("--send hello", "--send hello --send again");
    std::fs::write(lessons.join("01-test.md"), edited).unwrap();
    let after = ok(cmd(&["list"]).output().unwrap());
    assert!(
        after.contains("0/1 steps · 1/4 questions")
            && after.contains("changed since you worked on it"),
        "{after}"
    );
    let s = ok(cmd(&["run", "1", "--yes"]).output().unwrap());
    assert!(
        s.contains("This lesson changed since you last worked on it"),
        "{s}"
    );
    let again = ok(cmd(&["list"]).output().unwrap());
    assert!(
        again.contains("1/1 steps") && !again.contains("changed"),
        "{again}"
    );
}

#[test]
fn a_malformed_lesson_fails_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let lessons = test_lessons(dir.path());
    let broken = TEST_LESSON.replace("answer: 4", "answr: 4");
    std::fs::write(lessons.join("01-test.md"), &broken).unwrap();
    let line = broken.lines().position(|l| l == "answr: 4").unwrap() + 1;
    let o = lesson(&dir.path().join("state"), &["list"])
        .env("NETLAB_LESSONS_DIR", &lessons)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert_eq!(
        e.trim_end(),
        format!(
            "netlab: error: {}:{line}: unknown key `answr` in a ```check block (known: q, answer, choice, run, step, field, packet, reduce, json, select, match, tolerance, hint, explain)",
            lessons.join("01-test.md").display()
        )
    );
    // A step after its look-for text: also refused, with the line.
    let broken = TEST_LESSON.replacen("```console", "Text.\n\n```expect\nx\n```\n\n```console", 1);
    std::fs::write(lessons.join("01-test.md"), &broken).unwrap();
    let line = broken.lines().position(|l| l == "```expect").unwrap() + 1;
    let o = lesson(&dir.path().join("state"), &["show", "1"])
        .env("NETLAB_LESSONS_DIR", &lessons)
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains(&format!(
            "01-test.md:{line}: an ```expect block must come right after"
        )),
        "{}",
        stderr(&o)
    );
}

/// A lesson with privileged steps (the course has none now; the engine keeps the rule).
const ROOT_LESSON: &str = "---
id: rooted
title: Root
order: 1
minutes: 1
privileges: root
captures: []
---
# Needs root

```console
$ sudo netlab tcp connect --own-server --send root-only
# without root: netlab tcp connect --own-server --send as-you
```

```expect
/send\\(\\d+, \"(root-only|as-you)\"/
```

```console
$ sudo netlab ports --listening
```

```expect
proto state
```

```check
q: Two?
answer: 2
hint: h
explain: e
```
";

#[test]
fn steps_that_need_root_say_so_and_take_the_way_without_root() {
    if !is_root() {
        eprintln!("SKIPPED (needs root to play the ordinary user with setpriv)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lessons = dir.path().join("lessons");
    std::fs::create_dir(&lessons).unwrap();
    std::fs::write(lessons.join("01-rooted.md"), ROOT_LESSON).unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    for p in [dir.path(), &lessons, &state] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    }
    let as_nobody = |args: &[&str]| {
        let mut c = netlab_unprivileged();
        c.env("NETLAB_STATE_DIR", &state)
            .env("NETLAB_LESSONS_DIR", &lessons)
            .env_remove("SUDO_UID")
            .arg("lesson")
            .args(args)
            .stdin(Stdio::null());
        c.output().unwrap()
    };
    let o = as_nobody(&["run", "1", "--yes"]);
    let s = stdout(&o);
    assert!(o.status.success(), "{s}\n{}", stderr(&o));
    assert!(
        s.contains("needs root (network namespaces, TUN devices or raw sockets)"),
        "{s}"
    );
    assert!(
        s.contains("without root: netlab tcp connect --own-server --send as-you"),
        "{s}"
    );
    // The first step's way without root ran; the second has none: skipped, and said so.
    assert!(
        s.contains("not root: running the way without root") && s.contains("✓ step 1 done"),
        "{s}"
    );
    assert!(
        s.contains("\"as-you\"") && !s.contains("\"root-only\""),
        "{s}"
    );
    assert!(
        s.contains("skipped: it needs root") && !s.contains("step 2 done"),
        "{s}"
    );
    assert!(
        s.contains("sudo netlab lesson run 1 --yes runs them"),
        "{s}"
    );
    // As root, both run as written.
    let o = lesson(&dir.path().join("root-state"), &["run", "1", "--yes"])
        .env("NETLAB_LESSONS_DIR", &lessons)
        .output()
        .unwrap();
    let s = ok(o);
    assert!(
        s.contains("needs root: you are root") && s.contains("\"root-only\""),
        "{s}"
    );
    assert!(s.contains("✓ step 2 done"), "{s}");
}

#[test]
fn under_sudo_progress_belongs_to_the_invoking_user() {
    if !is_root() {
        eprintln!("SKIPPED (needs root to play sudo)");
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let o = lesson(&state, &["run", "1", "--step", "13", "--yes"])
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .output()
        .unwrap();
    ok(o);
    for p in [
        "",
        "progress.json",
        "runs",
        "runs/onion/step-13.out",
        "work",
        "work/captures/http.pcap",
    ] {
        let m = std::fs::metadata(state.join(p)).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            (65534, 65534),
            "{p} is not the sudo user's"
        );
    }
}

#[test]
fn the_state_folder_follows_xdg() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = netlab();
    c.env_remove("NETLAB_STATE_DIR")
        .env_remove("SUDO_UID")
        .env("XDG_STATE_HOME", dir.path())
        .args(["lesson", "where"]);
    let s = ok(c.output().unwrap());
    assert!(
        s.contains(&format!("{}/netlab/progress.json", dir.path().display())),
        "{s}"
    );
    let mut c = netlab();
    c.env_remove("NETLAB_STATE_DIR")
        .env_remove("SUDO_UID")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", dir.path())
        .args(["lesson", "where"]);
    let s = ok(c.output().unwrap());
    assert!(
        s.contains(&format!(
            "{}/.local/state/netlab/progress.json",
            dir.path().display()
        )),
        "{s}"
    );
}

#[test]
fn the_man_page_and_completions_know_the_course() {
    let man = ok(netlab().arg("man").output().unwrap());
    assert!(
        man.starts_with(".ie") || man.contains(".TH netlab"),
        "{}",
        &man[..200.min(man.len())]
    );
    assert!(
        man.contains("lesson"),
        "the man page lists the lesson subcommand"
    );
    let page = ok(netlab().args(["man", "lesson"]).output().unwrap());
    assert!(
        page.contains(".TH netlab-lesson"),
        "{}",
        &page[..300.min(page.len())]
    );
    assert!(page.contains("check"));
    let o = netlab().args(["man", "nosuch"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));

    let bash = ok(netlab().args(["completions", "bash"]).output().unwrap());
    assert!(bash.contains("lesson"), "bash completion knows `lesson`");
    for id in ["onion", "tcp", "socketio"] {
        assert!(
            bash.contains(id),
            "bash completion offers the lesson id {id}"
        );
    }
    let zsh = ok(netlab().args(["completions", "zsh"]).output().unwrap());
    assert!(
        zsh.contains("handshake"),
        "zsh completion offers lesson ids"
    );
    // The ids are offered, not imposed: help does not list them.
    let help = ok(netlab()
        .args(["lesson", "show", "--help"])
        .output()
        .unwrap());
    assert!(!help.contains("handshake"), "{help}");
}
