//! The course: lessons compiled into the binary (or read from `$NETLAB_LESSONS_DIR`
//! while writing one), their steps and questions, the learner's progress.
//!
//! - [`front_matter`], [`lesson`]: the lesson format, parsed with pulldown-cmark;
//! - [`check`]: right answers and the judgement of an answer (I/O-free);
//! - [`progress`]: the state folder, progress and saved runs;
//! - [`runner`]: runs a step's `netlab …` (the same binary) and passes its lines on.
//!
//! Imports: std and its crates only; no other netlab module (the renderer and the
//! `lesson` command sit above it).

pub mod check;
pub mod front_matter;
pub mod lesson;
pub mod progress;
pub mod runner;

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};

pub use lesson::{Lesson, LessonError};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/course_files.rs"));
}

/// Where the lessons came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into this binary.
    BuiltIn,
    /// `$NETLAB_LESSONS_DIR` (captures from the `captures/` beside it, else built in).
    Dir(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Course {
    pub origin: Origin,
    /// In course order (by `order:`).
    pub lessons: Vec<Lesson>,
}

/// An error while loading the course: a broken lesson, or files that cannot be read.
#[derive(Debug)]
pub enum LoadError {
    Lesson(LessonError),
    Io(PathBuf, io::Error),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Lesson(e) => e.fmt(f),
            LoadError::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for LoadError {}

impl Course {
    /// The course: `$NETLAB_LESSONS_DIR` when set, else the built-in lessons.
    pub fn load() -> Result<Course, LoadError> {
        match std::env::var_os("NETLAB_LESSONS_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => Course::from_dir(Path::new(&dir)),
            None => Course::built_in(),
        }
    }

    pub fn built_in() -> Result<Course, LoadError> {
        let files = embedded::LESSONS
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string()));
        Course::from_files(Origin::BuiltIn, files)
    }

    /// Every `*.md` in `dir`.
    pub fn from_dir(dir: &Path) -> Result<Course, LoadError> {
        let io_err = |e| LoadError::Io(dir.to_path_buf(), e);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        paths.sort();
        let mut files = Vec::new();
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|e| LoadError::Io(p.clone(), e))?;
            files.push((p.display().to_string(), text));
        }
        Course::from_files(Origin::Dir(dir.to_path_buf()), files)
    }

    fn from_files(
        origin: Origin,
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Course, LoadError> {
        let mut lessons = Vec::new();
        for (path, text) in files {
            lessons.push(Lesson::parse(&path, &text).map_err(LoadError::Lesson)?);
        }
        lessons.sort_by_key(|l| l.meta.order);
        // Numbers 1, 2, 3… and ids, each once.
        for (i, l) in lessons.iter().enumerate() {
            let fail = |message: String| {
                LoadError::Lesson(LessonError {
                    path: l.path.clone(),
                    line: l
                        .text
                        .lines()
                        .position(|x| x.starts_with("order:"))
                        .map_or(1, |n| n + 1),
                    message,
                })
            };
            if l.meta.order as usize != i + 1 {
                return Err(fail(format!(
                    "`order: {}`: lessons are numbered 1, 2, 3… without gaps or repeats \
                     (this one should be {})",
                    l.meta.order,
                    i + 1
                )));
            }
            if let Some(other) = lessons[..i].iter().find(|o| o.id() == l.id()) {
                return Err(fail(format!("`id: {}` is taken by {}", l.id(), other.path)));
            }
        }
        let course = Course { origin, lessons };
        for l in &course.lessons {
            for c in &l.meta.captures {
                if course.capture(c).is_none() {
                    return Err(LoadError::Lesson(LessonError {
                        path: l.path.clone(),
                        line: l
                            .text
                            .lines()
                            .position(|x| x.starts_with("captures:"))
                            .map_or(1, |n| n + 1),
                        message: format!("`captures:` names {c}, which is not in captures/"),
                    }));
                }
            }
        }
        Ok(course)
    }

    /// A lesson by its number (`2`) or id (`tcp-handshake`).
    pub fn find(&self, key: &str) -> Option<&Lesson> {
        let key = key.trim();
        match key.parse::<u32>() {
            Ok(n) => self.lessons.iter().find(|l| l.meta.order == n),
            Err(_) => self
                .lessons
                .iter()
                .find(|l| l.id().eq_ignore_ascii_case(key)),
        }
    }

    /// The bytes of a capture a lesson names.
    pub fn capture(&self, name: &str) -> Option<Cow<'static, [u8]>> {
        if let Origin::Dir(dir) = &self.origin
            && let Some(parent) = dir.parent()
            && let Ok(bytes) = std::fs::read(parent.join("captures").join(name))
        {
            return Some(Cow::Owned(bytes));
        }
        embedded::CAPTURES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| Cow::Borrowed(*b))
    }

    /// Lays out the workspace steps run in: `work/captures/` with every capture the
    /// lessons read (rewritten only when different).
    pub fn prepare_workspace(&self, state: &progress::StateDir) -> io::Result<PathBuf> {
        let work = state.work_dir();
        let captures = work.join("captures");
        state.create_dir(&captures)?;
        for l in &self.lessons {
            for name in &l.meta.captures {
                let Some(bytes) = self.capture(name) else {
                    continue;
                };
                let path = captures.join(name);
                if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
                    state.write(&path, &bytes)?;
                }
            }
        }
        Ok(work)
    }
}

/// `1`, `onion`, `2`, … for the built-in lessons (shell completion); empty if they do
/// not parse (the command then says why).
pub fn built_in_refs() -> Vec<(String, String)> {
    embedded::LESSONS
        .iter()
        .filter_map(|(_, text)| front_matter::parse(text).ok())
        .map(|fm| (fm.order.to_string(), fm.id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_course_parses_and_finds_lessons() {
        let c = Course::built_in().unwrap();
        assert!(!c.lessons.is_empty());
        let first = &c.lessons[0];
        assert_eq!(c.find("1").unwrap().id(), first.id());
        assert_eq!(c.find(first.id()).unwrap().number(), 1);
        assert!(c.find("99").is_none());
        assert!(c.find("no-such-lesson").is_none());
        for l in &c.lessons {
            for cap in &l.meta.captures {
                assert!(c.capture(cap).is_some_and(|b| b.len() > 24), "{cap}");
            }
        }
        assert_eq!(built_in_refs().len(), c.lessons.len());
    }
}
