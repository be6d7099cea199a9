//! Ids that become directory and cgroup names: the one rule they must
//! follow ([`validate_id`], Mesos' `validateID`) and the one function
//! every path built from them goes through ([`path_under`]).
//!
//! Framework, executor, task, agent and container ids name sandboxes
//! (`<work_dir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<container>`),
//! and container ids name cgroups. An id that is `..`, absolute or holds a
//! `/` would put the sandbox, and everything the task writes as root,
//! outside the work dir; so the rule is a security boundary, checked where
//! ids arrive (the APIs) and again where paths are made.

use std::{
    fmt,
    path::{Component, Path, PathBuf},
};

/// The longest id, in bytes: a file name's limit (`NAME_MAX`), as in Mesos.
pub const MAX_ID_BYTES: usize = 255;

/// What an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Framework,
    Executor,
    Task,
    Agent,
    Container,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::Framework => "framework id",
            IdKind::Executor => "executor id",
            IdKind::Task => "task id",
            IdKind::Agent => "agent id",
            IdKind::Container => "container id",
        })
    }
}

/// The rule an id breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdRule {
    Empty,
    TooLong { bytes: usize },
    Dots,
    Separator,
    Control,
    Whitespace,
}

impl fmt::Display for IdRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdRule::Empty => f.write_str("it must not be empty"),
            IdRule::TooLong { bytes } => write!(
                f,
                "it is {bytes} bytes long, more than the {MAX_ID_BYTES} allowed"
            ),
            IdRule::Dots => f.write_str("'.' and '..' are not allowed"),
            IdRule::Separator => f.write_str("it must not contain '/' or '\\'"),
            IdRule::Control => f.write_str("it must not contain control characters (NUL included)"),
            IdRule::Whitespace => f.write_str("it must not contain whitespace"),
        }
    }
}

/// An id that breaks the rule; the message quotes it (control characters
/// escaped, a long one shortened) and names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} '{}' is invalid: {rule}", shown(id))]
pub struct IdError {
    pub kind: IdKind,
    pub id: String,
    pub rule: IdRule,
}

/// How an id is quoted in messages: escaped, and at most 64 characters.
fn shown(id: &str) -> String {
    const SHOWN: usize = 64;
    let escaped: String = id.escape_debug().collect();
    if escaped.chars().count() <= SHOWN {
        return escaped;
    }
    let head: String = escaped.chars().take(SHOWN).collect();
    format!("{head}...")
}

/// Mesos' `validateID`, plus no whitespace: non-empty, at most
/// [`MAX_ID_BYTES`] bytes, not `.` or `..`, no `/` or `\`, no control
/// characters (NUL included), no whitespace.
pub fn validate_id(kind: IdKind, id: &str) -> Result<(), IdError> {
    let rule = if id.is_empty() {
        Some(IdRule::Empty)
    } else if id.len() > MAX_ID_BYTES {
        Some(IdRule::TooLong { bytes: id.len() })
    } else if id == "." || id == ".." {
        Some(IdRule::Dots)
    } else if id.contains(['/', '\\']) {
        Some(IdRule::Separator)
    } else if id.chars().any(char::is_control) {
        Some(IdRule::Control)
    } else if id.chars().any(char::is_whitespace) {
        Some(IdRule::Whitespace)
    } else {
        None
    };
    match rule {
        None => Ok(()),
        Some(rule) => Err(IdError {
            kind,
            id: id.to_owned(),
            rule,
        }),
    }
}

/// One component of a path built by [`path_under`].
#[derive(Debug, Clone, Copy)]
pub enum Part<'a> {
    /// A name of the code's own (`slaves`, `runs`).
    Fixed(&'static str),
    /// An id, checked with [`validate_id`].
    Id(IdKind, &'a str),
}

/// A path that would not stay under its root, refused before anything is
/// created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("{0}")]
    Id(#[from] IdError),
    #[error("'{part}' is not a single directory name under {}", root.display())]
    NotAName { root: PathBuf, part: String },
}

/// `root` joined with `parts`, each of them one plain directory name (ids
/// must pass [`validate_id`]): the result is always strictly under `root`.
/// Every path the agent and the containerizer make from ids is built here.
pub fn path_under(root: &Path, parts: &[Part<'_>]) -> Result<PathBuf, PathError> {
    let mut path = root.to_path_buf();
    for part in parts {
        let name = match *part {
            Part::Fixed(name) => name,
            Part::Id(kind, id) => {
                validate_id(kind, id)?;
                id
            }
        };
        let mut components = Path::new(name).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(n)), None) if n == name => path.push(n),
            _ => {
                return Err(PathError::NotAName {
                    root: root.to_path_buf(),
                    part: name.to_owned(),
                })
            }
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_of(id: &str) -> Option<IdRule> {
        validate_id(IdKind::Task, id).err().map(|e| e.rule)
    }

    #[test]
    fn ordinary_ids_pass() {
        for id in [
            "t",
            "my-task.1",
            "20240101-0000-S1",
            "a:b@c",
            "...",
            ".hidden",
            "ünïcode",
            &"x".repeat(MAX_ID_BYTES),
        ] {
            assert_eq!(validate_id(IdKind::Task, id), Ok(()), "{id}");
        }
    }

    #[test]
    fn each_rule_is_named() {
        assert_eq!(rule_of(""), Some(IdRule::Empty));
        assert_eq!(rule_of("."), Some(IdRule::Dots));
        assert_eq!(rule_of(".."), Some(IdRule::Dots));
        assert_eq!(rule_of("/tmp/escape"), Some(IdRule::Separator));
        assert_eq!(rule_of("../../x"), Some(IdRule::Separator));
        assert_eq!(rule_of("a\\b"), Some(IdRule::Separator));
        assert_eq!(rule_of("a\0b"), Some(IdRule::Control));
        assert_eq!(rule_of("a\u{7f}"), Some(IdRule::Control));
        assert_eq!(rule_of("a\nb"), Some(IdRule::Control));
        assert_eq!(rule_of("a b"), Some(IdRule::Whitespace));
        assert_eq!(rule_of("a\u{a0}b"), Some(IdRule::Whitespace));
        assert_eq!(
            rule_of(&"x".repeat(256)),
            Some(IdRule::TooLong { bytes: 256 })
        );
        // Bytes, not characters: 128 two-byte characters are 256 bytes.
        assert_eq!(
            rule_of(&"é".repeat(128)),
            Some(IdRule::TooLong { bytes: 256 })
        );
    }

    #[test]
    fn messages_quote_the_id_escaped_and_name_the_rule() {
        let e = |kind, id: &str| validate_id(kind, id).unwrap_err().to_string();
        assert_eq!(
            e(IdKind::Executor, "/tmp/escape"),
            "executor id '/tmp/escape' is invalid: it must not contain '/' or '\\'"
        );
        assert_eq!(
            e(IdKind::Task, ".."),
            "task id '..' is invalid: '.' and '..' are not allowed"
        );
        assert_eq!(
            e(IdKind::Framework, "a\0b"),
            "framework id 'a\\0b' is invalid: it must not contain control characters (NUL included)"
        );
        assert_eq!(
            e(IdKind::Agent, ""),
            "agent id '' is invalid: it must not be empty"
        );
        let long = e(IdKind::Container, &"y".repeat(300));
        assert_eq!(
            long,
            format!(
                "container id '{}...' is invalid: it is 300 bytes long, more than the 255 allowed",
                "y".repeat(64)
            )
        );
    }

    #[test]
    fn paths_stay_under_their_root() {
        let root = Path::new("/work");
        let sandbox = path_under(
            root,
            &[
                Part::Fixed("slaves"),
                Part::Id(IdKind::Agent, "S1"),
                Part::Fixed("frameworks"),
                Part::Id(IdKind::Framework, "F1"),
            ],
        )
        .unwrap();
        assert_eq!(sandbox, Path::new("/work/slaves/S1/frameworks/F1"));
        for bad in ["..", ".", "/tmp/escape", "../../x", "a/b", "", "a\0b"] {
            let refused = path_under(root, &[Part::Id(IdKind::Executor, bad)]);
            assert!(
                matches!(refused, Err(PathError::Id(_))),
                "{bad:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn fixed_parts_must_be_single_names_too() {
        for bad in ["..", "a/b", "/abs", ".", ""] {
            let refused = path_under(Path::new("/work"), &[Part::Fixed(bad)]);
            assert!(
                matches!(refused, Err(PathError::NotAName { .. })),
                "{bad:?}: {refused:?}"
            );
        }
    }
}
