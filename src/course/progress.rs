//! Where a learner's progress lives, and what it holds.
//!
//! The state folder is `$NETLAB_STATE_DIR` if set, else `$XDG_STATE_HOME/netlab`, else
//! `~/.local/state/netlab` (XDG Base Directory). Under `sudo` it is the invoking user's
//! (from `SUDO_UID`), and everything netlab creates there is given to that user
//! (`SUDO_UID`/`SUDO_GID`), so a privileged step never leaves root-owned files behind.
//!
//! ```text
//! progress.json         steps done, questions answered, hints seen; per lesson its hash
//! runs/ID/step-K.out    the learner's last run of step K (plain text), .err, .json (meta)
//! work/                 where steps run; work/captures/ holds the captures they read
//! ```
//!
//! Marks are kept by the SHA-1 of the step's or question's own blocks: editing a lesson
//! keeps the marks of what did not change, and the lesson's hash tells that it changed.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::lesson::{Lesson, Step};

/// The state folder and who should own what is written there.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
    /// How it was chosen (for `netlab lesson where`).
    pub why: String,
    /// Under sudo: the invoking user's uid and gid.
    owner: Option<(u32, u32)>,
}

/// The user who ran `sudo`, when we are root because of it.
fn sudo_owner() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let uid: u32 = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    let gid: u32 = std::env::var("SUDO_GID").ok()?.parse().ok()?;
    (uid != 0).then_some((uid, gid))
}

/// The home folder of `uid`, from the password database.
fn home_of(uid: u32) -> Option<PathBuf> {
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: a zeroed passwd is a valid out-parameter; getpwuid_r writes into `pwd` and
    // `buf` (whose length we pass) and sets `result` to `&pwd` or null.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() || pwd.pw_dir.is_null() {
            return None;
        }
        let dir = std::ffi::CStr::from_ptr(pwd.pw_dir);
        use std::os::unix::ffi::OsStringExt;
        Some(PathBuf::from(OsString::from_vec(dir.to_bytes().to_vec())))
    }
}

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

impl StateDir {
    /// Finds the state folder (it is created on the first write).
    pub fn locate() -> io::Result<StateDir> {
        let owner = sudo_owner();
        let (root, why) = if let Some(d) = env_dir("NETLAB_STATE_DIR") {
            (d, "NETLAB_STATE_DIR".to_string())
        } else if let Some((uid, _)) = owner {
            let base = match env_dir("XDG_STATE_HOME") {
                Some(x) => x,
                None => home_of(uid)
                    .ok_or_else(|| io::Error::other(format!("no home folder for SUDO_UID {uid}")))?
                    .join(".local/state"),
            };
            (
                base.join("netlab"),
                format!("under sudo: the state of the user with uid {uid}"),
            )
        } else if let Some(x) = env_dir("XDG_STATE_HOME") {
            (x.join("netlab"), "$XDG_STATE_HOME/netlab".to_string())
        } else if let Some(h) = env_dir("HOME") {
            (
                h.join(".local/state/netlab"),
                "the default, ~/.local/state/netlab".to_string(),
            )
        } else {
            return Err(io::Error::other(
                "no HOME to keep lesson progress in: set NETLAB_STATE_DIR to a folder",
            ));
        };
        Ok(StateDir { root, why, owner })
    }

    /// A state folder at `root` (tests).
    pub fn at(root: PathBuf) -> StateDir {
        StateDir {
            root,
            why: "given".into(),
            owner: None,
        }
    }

    pub fn progress_file(&self) -> PathBuf {
        self.root.join("progress.json")
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    pub fn work_dir(&self) -> PathBuf {
        self.root.join("work")
    }

    /// Creates `dir` and its missing parents, given to the sudo user.
    pub fn create_dir(&self, dir: &Path) -> io::Result<()> {
        let mut missing = Vec::new();
        let mut p = dir;
        while !p.exists() {
            missing.push(p.to_path_buf());
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        fs::create_dir_all(dir)?;
        for m in missing.iter().rev() {
            self.give(m)?;
        }
        Ok(())
    }

    /// Writes `path` whole (a temporary file renamed over it: never half a file).
    pub fn write(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            self.create_dir(dir)?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        fs::write(&tmp, bytes)?;
        self.give(&tmp)?;
        fs::rename(&tmp, path)
    }

    /// Under sudo: gives `path` to the invoking user.
    fn give(&self, path: &Path) -> io::Result<()> {
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
        }
        Ok(())
    }

    /// Under sudo: gives everything under `dir` that root owns to the invoking user
    /// (files a privileged step wrote into the workspace).
    pub fn give_tree(&self, dir: &Path) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        if self.owner.is_none() {
            return Ok(());
        }
        for e in fs::read_dir(dir)? {
            let e = e?;
            let meta = e.metadata()?;
            if meta.uid() == 0 {
                self.give(&e.path())?;
            }
            if meta.is_dir() {
                self.give_tree(&e.path())?;
            }
        }
        Ok(())
    }

    /// Loads the progress file (empty if there is none yet).
    pub fn load(&self) -> io::Result<Progress> {
        match fs::read(self.progress_file()) {
            Ok(bytes) => Progress::from_json(&bytes).map_err(|e| {
                io::Error::other(format!(
                    "{} is damaged ({e}); move it away or run `netlab lesson reset --all`",
                    self.progress_file().display()
                ))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Progress::default()),
            Err(e) => Err(e),
        }
    }

    pub fn save(&self, p: &Progress) -> io::Result<()> {
        let mut text = serde_json::to_string_pretty(&p.to_json()).map_err(io::Error::other)?;
        text.push('\n');
        self.write(&self.progress_file(), text.as_bytes())
    }

    fn run_path(&self, lesson: &Lesson, step: &Step, ext: &str) -> PathBuf {
        self.runs_dir()
            .join(lesson.id())
            .join(format!("step-{}.{ext}", step.number))
    }

    /// Keeps the learner's run of a step for `run: last` questions.
    pub fn save_run(&self, lesson: &Lesson, step: &Step, run: &SavedRun) -> io::Result<()> {
        self.write(&self.run_path(lesson, step, "out"), run.stdout.as_bytes())?;
        self.write(&self.run_path(lesson, step, "err"), run.stderr.as_bytes())?;
        let meta = json!({
            "step_hash": step.hash,
            "command": run.command,
            "exit_code": run.exit_code,
            "unix_time": run.unix_time,
        });
        self.write(
            &self.run_path(lesson, step, "json"),
            format!("{meta}\n").as_bytes(),
        )
    }

    /// The learner's saved run of `step`, if there is one for this version of the step.
    pub fn saved_run(&self, lesson: &Lesson, step: &Step) -> io::Result<Option<SavedRun>> {
        let meta = match fs::read(self.run_path(lesson, step, "json")) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let Ok(meta) = serde_json::from_slice::<Value>(&meta) else {
            return Ok(None);
        };
        if meta["step_hash"].as_str() != Some(step.hash.as_str()) {
            return Ok(None);
        }
        let read = |ext| {
            fs::read(self.run_path(lesson, step, ext))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        Ok(Some(SavedRun {
            command: meta["command"].as_str().unwrap_or("").to_string(),
            exit_code: meta["exit_code"].as_i64().map(|c| c as i32),
            unix_time: meta["unix_time"].as_u64().unwrap_or(0),
            stdout: read("out")?,
            stderr: read("err")?,
        }))
    }

    /// Forgets the saved runs of a lesson.
    pub fn remove_runs(&self, lesson_id: &str) -> io::Result<()> {
        match fs::remove_dir_all(self.runs_dir().join(lesson_id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// One run of a step, as kept for `run: last`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedRun {
    pub command: String,
    pub exit_code: Option<i32>,
    pub unix_time: u64,
    /// Without colours.
    pub stdout: String,
    pub stderr: String,
}

/// Everything remembered, per lesson id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub lessons: BTreeMap<String, LessonProgress>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LessonProgress {
    /// The lesson's hash when the learner last worked on it.
    pub hash: String,
    /// Hashes of the steps done (ran, and showed what to look for).
    pub steps: BTreeSet<String>,
    /// Hashes of the questions answered right.
    pub checks: BTreeSet<String>,
    /// Per question hash, how many hints the learner has seen.
    pub hints: BTreeMap<String, usize>,
}

/// How far a learner is in one lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    pub steps_done: usize,
    pub steps: usize,
    pub checks_done: usize,
    pub checks: usize,
    /// The lesson changed since the learner last worked on it.
    pub changed: bool,
    /// Marks kept for steps or questions that are no longer in the lesson as they were.
    pub stale: usize,
}

impl Status {
    pub fn complete(&self) -> bool {
        self.steps_done == self.steps && self.checks_done == self.checks
    }
    pub fn started(&self) -> bool {
        self.steps_done + self.checks_done > 0
    }
}

impl Progress {
    pub fn status(&self, lesson: &Lesson) -> Status {
        let mut s = Status {
            steps: lesson.steps.len(),
            checks: lesson.checks.len(),
            ..Status::default()
        };
        let Some(p) = self.lessons.get(lesson.id()) else {
            return s;
        };
        s.steps_done = lesson
            .steps
            .iter()
            .filter(|st| p.steps.contains(&st.hash))
            .count();
        s.checks_done = lesson
            .checks
            .iter()
            .filter(|c| p.checks.contains(&c.hash))
            .count();
        s.changed = p.hash != lesson.hash;
        let step_hashes: BTreeSet<_> = lesson.steps.iter().map(|s| &s.hash).collect();
        let check_hashes: BTreeSet<_> = lesson.checks.iter().map(|c| &c.hash).collect();
        s.stale = p.steps.iter().filter(|h| !step_hashes.contains(h)).count()
            + p.checks
                .iter()
                .filter(|h| !check_hashes.contains(h))
                .count();
        s
    }

    /// The lesson's record, brought up to this version of the lesson (marks of what no
    /// longer exists are dropped).
    pub fn lesson_mut(&mut self, lesson: &Lesson) -> &mut LessonProgress {
        let p = self.lessons.entry(lesson.id().to_string()).or_default();
        if p.hash != lesson.hash {
            p.hash = lesson.hash.clone();
            p.steps
                .retain(|h| lesson.steps.iter().any(|s| &s.hash == h));
            p.checks
                .retain(|h| lesson.checks.iter().any(|c| &c.hash == h));
            p.hints
                .retain(|h, _| lesson.checks.iter().any(|c| &c.hash == h));
        }
        p
    }

    pub fn hints_seen(&self, lesson: &Lesson, check_hash: &str) -> usize {
        self.lessons
            .get(lesson.id())
            .and_then(|p| p.hints.get(check_hash))
            .copied()
            .unwrap_or(0)
    }

    fn to_json(&self) -> Value {
        let lessons: serde_json::Map<String, Value> = self
            .lessons
            .iter()
            .map(|(id, p)| {
                (
                    id.clone(),
                    json!({
                        "hash": p.hash,
                        "steps_done": p.steps,
                        "checks_right": p.checks,
                        "hints_seen": p.hints,
                    }),
                )
            })
            .collect();
        json!({ "version": 1, "lessons": lessons })
    }

    fn from_json(bytes: &[u8]) -> Result<Progress, String> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if v["version"] != 1 {
            return Err(format!("unknown version {}", v["version"]));
        }
        let mut p = Progress::default();
        let lessons = v["lessons"].as_object().ok_or("no `lessons` object")?;
        let strings = |v: &Value| -> Result<BTreeSet<String>, String> {
            v.as_array()
                .ok_or("expected a list")?
                .iter()
                .map(|s| {
                    s.as_str()
                        .map(String::from)
                        .ok_or_else(|| "expected a string".to_string())
                })
                .collect()
        };
        for (id, l) in lessons {
            let hints = l["hints_seen"]
                .as_object()
                .ok_or("no `hints_seen` object")?
                .iter()
                .map(|(k, n)| {
                    Ok((
                        k.clone(),
                        n.as_u64().ok_or("a hint count is not a number")? as usize,
                    ))
                })
                .collect::<Result<_, String>>()?;
            p.lessons.insert(
                id.clone(),
                LessonProgress {
                    hash: l["hash"].as_str().ok_or("no `hash`")?.to_string(),
                    steps: strings(&l["steps_done"])?,
                    checks: strings(&l["checks_right"])?,
                    hints,
                },
            );
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson(step_cmd: &str) -> Lesson {
        Lesson::parse(
            "t.md",
            &format!(
                "---\nid: t\ntitle: T\norder: 1\nminutes: 1\nprivileges: none\n---\n\
                 ```console\n$ netlab {step_cmd}\n```\n```console\n$ netlab b\n```\n\
                 ```check\nq: q\nanswer: 1\nhint: h\nexplain: e\n```\n"
            ),
        )
        .unwrap()
    }

    #[test]
    fn progress_survives_a_round_trip_and_an_edit_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path().join("state"));
        let l = lesson("a");
        let mut p = state.load().unwrap();
        assert_eq!(
            p.status(&l),
            Status {
                steps: 2,
                checks: 1,
                ..Status::default()
            }
        );
        let lp = p.lesson_mut(&l);
        lp.steps.insert(l.steps[0].hash.clone());
        lp.steps.insert(l.steps[1].hash.clone());
        lp.checks.insert(l.checks[0].hash.clone());
        lp.hints.insert(l.checks[0].hash.clone(), 1);
        state.save(&p).unwrap();
        let p = state.load().unwrap();
        let s = p.status(&l);
        assert!(s.complete() && !s.changed && s.stale == 0, "{s:?}");
        assert_eq!(p.hints_seen(&l, &l.checks[0].hash), 1);

        // Step 1 edited: its mark no longer counts; step 2 and the question keep theirs.
        let edited = lesson("a --changed");
        let s = p.status(&edited);
        assert!(s.changed, "{s:?}");
        assert_eq!((s.steps_done, s.checks_done, s.stale), (1, 1, 1));
        let mut p = p;
        p.lesson_mut(&edited);
        let s = p.status(&edited);
        assert_eq!((s.changed, s.stale, s.steps_done), (false, 0, 1));
    }

    #[test]
    fn saved_runs_belong_to_a_version_of_their_step() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path().to_path_buf());
        let l = lesson("a");
        let run = SavedRun {
            command: "netlab a".into(),
            exit_code: Some(0),
            unix_time: 5,
            stdout: "out\n".into(),
            stderr: String::new(),
        };
        state.save_run(&l, &l.steps[0], &run).unwrap();
        assert_eq!(state.saved_run(&l, &l.steps[0]).unwrap(), Some(run));
        assert_eq!(state.saved_run(&l, &l.steps[1]).unwrap(), None);
        let edited = lesson("a --changed");
        assert_eq!(state.saved_run(&edited, &edited.steps[0]).unwrap(), None);
        state.remove_runs("t").unwrap();
        assert_eq!(state.saved_run(&l, &l.steps[0]).unwrap(), None);
    }

    #[test]
    fn a_damaged_progress_file_is_an_error_that_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path().to_path_buf());
        fs::write(state.progress_file(), "{not json").unwrap();
        let e = state.load().unwrap_err().to_string();
        assert!(e.contains("damaged") && e.contains("reset --all"), "{e}");
    }
}
