//! Sandbox path resolution (`corral::agent::sandbox_files`), as
//! `/files/read`, `/files/browse` and `/files/download` take a client's
//! path, through `openat2` and through the walk that kernels without it
//! get: both accept the same paths. A work dir is laid out with one sandbox and, around it, files and
//! directories that must never be served: the input's first byte chooses a
//! prefix (the sandbox as configured or canonical, the work dir, none), the
//! rest is the path after it. Every file inside the sandbox holds
//! `inside:`; every file outside a sandbox holds `SECRET`, and every
//! directory outside has an entry no sandbox directory has, so a served
//! file or listing from outside shows.

use std::{collections::HashSet, os::unix::fs::symlink, path::PathBuf};

use corral::agent::sandbox_files::{list_dir, open_file, walking};

use crate::{Check, Target, Verdict};

const RUN: &str = "slaves/a/frameworks/f/executors/e/runs/c";

struct Fixture {
    _dir: tempfile::TempDir,
    work: PathBuf,
    prefixes: Vec<String>,
    inside_names: HashSet<String>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let work = dir.path().join("work");
    let sandbox = work.join(RUN);
    let write = |path: PathBuf, text: &str| {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("directories");
        std::fs::write(path, text).expect("a file");
    };
    for name in [
        "stdout",
        "stderr",
        "sub/dir/file",
        "sub/x",
        "empty-dir/.keep",
    ] {
        write(sandbox.join(name), &format!("inside:{name}"));
    }
    // Outside: beside the sandbox, above it, beside the work dir.
    write(work.join("secret"), "SECRET");
    write(work.join("slaves/a/secret"), "SECRET");
    write(
        work.join("slaves/a/frameworks/f/executors/e/runs/other/stdout"),
        "SECRET",
    );
    write(dir.path().join("outside-dir/secret"), "SECRET");
    write(work.join("meta/slaves/latest"), "SECRET");
    symlink("sub", sandbox.join("link")).expect("a symlink");
    symlink("/etc/passwd", sandbox.join("passwd")).expect("a symlink");
    symlink("../../../../../../..", sandbox.join("up")).expect("a symlink");
    symlink(dir.path().join("outside-dir"), sandbox.join("abs")).expect("a symlink");
    symlink(
        "c",
        work.join("slaves/a/frameworks/f/executors/e/runs/latest"),
    )
    .expect("a symlink");
    symlink("../../..", sandbox.join("sub/dir/back")).expect("a symlink");
    nix::unistd::mkfifo(
        &sandbox.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .expect("a FIFO");
    if nix::unistd::geteuid().is_root() {
        // Refused for a root-owned sandbox (what every task has today).
        std::fs::hard_link(work.join("secret"), sandbox.join("hard")).expect("a hard link");
    }
    let canonical = work.canonicalize().expect("the work dir canonicalises");
    let prefixes = vec![
        sandbox.display().to_string(),
        canonical.join(RUN).display().to_string(),
        work.display().to_string(),
        String::new(),
    ];
    let mut inside_names = HashSet::new();
    let mut stack = vec![sandbox.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("a sandbox directory") {
            let entry = entry.expect("an entry");
            inside_names.insert(entry.file_name().to_string_lossy().into_owned());
            if entry.file_type().expect("a type").is_dir() {
                stack.push(entry.path());
            }
        }
    }
    for outside in [
        "secret",
        "latest",
        "c",
        "runs",
        "meta",
        "slaves",
        "outside-dir",
    ] {
        assert!(
            !inside_names.contains(outside),
            "{outside} is also a sandbox name"
        );
    }
    Fixture {
        _dir: dir,
        work,
        prefixes,
        inside_names,
    }
}

fn setup() -> Check {
    let fixture = fixture();
    Box::new(move |input| {
        // The whole fixture, not just the fields used: its directory lives
        // as long as the check.
        let fixture = &fixture;
        let Some((&choice, rest)) = input.split_first() else {
            return Verdict::Rejected;
        };
        let Ok(rest) = std::str::from_utf8(rest) else {
            return Verdict::Rejected;
        };
        let prefix = &fixture.prefixes[usize::from(choice) % fixture.prefixes.len()];
        let path = format!("{prefix}{rest}");
        let mut accepted = false;
        let best = open_file(&fixture.work, &path);
        let walked = walking::open_file(&fixture.work, &path);
        assert_eq!(
            best.is_ok(),
            walked.is_ok(),
            "openat2 and the walk disagree on opening {path:?}: {:?} {:?}",
            best.as_ref().err(),
            walked.as_ref().err()
        );
        for file in [best, walked].into_iter().flatten() {
            let data = file.read_at(0, 64).expect("a served file reads");
            assert!(
                data.starts_with(b"inside:"),
                "{path:?} served a file from outside the sandbox: {:?}",
                String::from_utf8_lossy(&data)
            );
            accepted = true;
        }
        let best = list_dir(&fixture.work, &path);
        let walked = walking::list_dir(&fixture.work, &path);
        assert_eq!(
            best.as_ref().ok(),
            walked.as_ref().ok(),
            "openat2 and the walk disagree on listing {path:?}: {:?} {:?}",
            best.as_ref().err(),
            walked.as_ref().err()
        );
        if let Ok(entries) = best {
            for entry in entries {
                let name = entry.name.to_string_lossy();
                assert!(
                    fixture.inside_names.contains(name.as_ref()),
                    "{path:?} listed a directory outside the sandbox (it has {name:?})"
                );
            }
            accepted = true;
        }
        if accepted {
            Verdict::Accepted
        } else {
            Verdict::Rejected
        }
    })
}

pub fn target() -> Target {
    Target {
        name: "sandbox-path",
        about: "a client's sandbox path (/files/read, /files/browse, /files/download), resolved beneath the sandbox",
        seeds: || {
            let paths: &[(u8, &str)] = &[
                (0, "/stdout"),
                (0, ""),
                (0, "/sub/dir/file"),
                (0, "/./sub//dir/"),
                (1, "/stderr"),
                (0, "/link/dir/file"),
                (0, "/passwd"),
                (0, "/up/etc/passwd"),
                (0, "/abs/secret"),
                (0, "/../secret"),
                (0, "/../../secret"),
                (0, "/../../../../../../../secret"),
                (0, "/sub/dir/back/stdout"),
                (0, "/fifo"),
                (0, "/hard"),
                (2, "/secret"),
                (2, "/slaves/a/frameworks/f/executors/e/runs/latest/stdout"),
                (2, "/slaves/a/frameworks/f/executors/e/runs/secret"),
                (2, "/slaves/a/frameworks/f/executors/e/runs/secret/"),
                (2, "/slaves/a/frameworks/f/executors/e/secret"),
                (2, "/slaves/a/frameworks/f/executors/e/runs/c/stdout"),
                (2, "/slaves/a/frameworks/f/executors/e/runs"),
                (2, "//slaves/./a/frameworks/f/executors/e/runs/c/sub"),
                (3, "/etc/passwd"),
                (3, "relative/path"),
            ];
            paths
                .iter()
                .map(|(choice, path)| [&[*choice][..], path.as_bytes()].concat())
                .collect()
        },
        generate: None,
        dictionary: || {
            ["/", "..", "/..", ".", "//", "/./", "\0", "link", "up", "abs", "back", "latest",
             "sub", "dir", "file", "stdout", "fifo", "hard", "passwd", "c", "runs",
             "slaves", "secret", "%2e%2e", "\\", "/proc/self/root"]
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect()
        },
        setup,
        max_len: 512,
    }
}
