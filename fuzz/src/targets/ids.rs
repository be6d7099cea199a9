//! Ids that become directory and cgroup names (`corral::domain::ids`):
//! [`validate_id`] never panics and accepts only Mesos' rule (non-empty,
//! not `.` or `..`, at most `MAX_ID_BYTES` bytes, no `/`, `\`, NUL, other
//! control character or whitespace), and [`path_under`] builds, from ids it
//! accepts, only paths strictly under its root.

use std::path::{Component, Path};

use corral::domain::ids::{path_under, validate_id, IdKind, Part, MAX_ID_BYTES};

use crate::{Check, Target, Verdict};

fn check(input: &[u8]) -> Verdict {
    let Ok(id) = std::str::from_utf8(input) else {
        return Verdict::Rejected;
    };
    let verdict = validate_id(IdKind::Executor, id);
    let follows_rule = !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id != "."
        && id != ".."
        && !id.contains(['/', '\\'])
        && !id.chars().any(|c| c.is_control() || c.is_whitespace());
    assert_eq!(
        verdict.is_ok(),
        follows_rule,
        "validate_id({id:?}) = {verdict:?}"
    );
    if let Err(e) = &verdict {
        let message = e.to_string();
        assert!(
            message.starts_with("executor id '"),
            "{message:?} does not name the id"
        );
    }
    let root = Path::new("/work/slaves");
    let built = path_under(
        root,
        &[
            Part::Fixed("frameworks"),
            Part::Id(IdKind::Framework, id),
            Part::Fixed("executors"),
            Part::Id(IdKind::Executor, id),
        ],
    );
    assert_eq!(built.is_ok(), verdict.is_ok(), "path_under for {id:?}");
    let Ok(path) = built else {
        return Verdict::Rejected;
    };
    let rest = path
        .strip_prefix(root)
        .expect("the path starts at its root");
    let names: Vec<_> = rest.components().collect();
    assert_eq!(names.len(), 4, "{path:?} is not four names under the root");
    assert!(
        names.iter().all(|c| matches!(c, Component::Normal(_))),
        "{path:?} leaves its root"
    );
    Verdict::Accepted
}

pub fn target() -> Target {
    Target {
        name: "id-validation",
        about: "framework, executor, task, agent and container ids (Mesos' validateID) and the paths built from them",
        seeds: || {
            [
                "t",
                "my-task.1",
                "20240101-0000-S1",
                "...",
                ".hidden",
                ".",
                "..",
                "../../etc",
                "/tmp/escape",
                "a\\b",
                "a\0b",
                "a b",
                "a\u{a0}b",
                "ünïcode",
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .chain([vec![b'x'; MAX_ID_BYTES], "é".repeat(128).into_bytes()])
            .collect()
        },
        generate: None,
        dictionary: || {
            [
                ".", "..", "/", "\\", "\0", " ", "\t", "\n", "\u{7f}", "\u{85}", "\u{a0}",
                "\u{2028}", "\u{3000}", "é",
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect()
        },
        setup: || -> Check { Box::new(check) },
        max_len: 2 * MAX_ID_BYTES,
    }
}
