//! Imports in `core/src` run one way, down the layers ARCHITECTURE.md
//! lists: a module may use a lower layer, never a higher one, and of its
//! own layer only what is listed in `SIDEWAYS`.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

/// Top-level modules of `core/src` and their layer, lowest first.
const LAYERS: &[(&str, u8)] = &[
    ("proto", 0),
    ("wire", 1),
    ("domain", 2),
    ("extension", 3),
    ("module_host", 4),
    ("containerizer", 4),
    ("master", 4),
    ("agent", 4),
    ("executor", 4),
    ("api", 5),
    ("server", 6),
    ("config", 7),
    ("cli", 8),
];

/// Imports allowed within one layer.
const SIDEWAYS: &[(&str, &str)] = &[("agent", "containerizer")];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("core/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules `text` names through `crate::`, including the
/// members of `use crate::{...}` groups.
fn crate_modules(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            found.insert(first_segment(&item));
        } else {
            found.insert(first_segment(rest));
        }
    }
    found.remove("");
    found
}

fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The file without its `#[cfg(test)]` modules and comments.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn core_imports_run_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "bin" || relative.ends_with("tests.rs") {
            continue;
        }
        let Some(own) = layer(&top) else {
            wrong.push(format!(
                "{}: module `{top}` has no layer in LAYERS",
                relative.display()
            ));
            continue;
        };
        seen.insert(top.clone());
        let text = std::fs::read_to_string(file).unwrap();
        for used in crate_modules(&code_of(&text)) {
            if used == top || used == "VERSION" {
                continue;
            }
            let Some(theirs) = layer(&used) else {
                continue;
            };
            let sideways = theirs == own && SIDEWAYS.contains(&(top.as_str(), used.as_str()));
            if theirs > own || (theirs == own && !sideways) {
                wrong.push(format!(
                    "{}: `{top}` (layer {own}) uses `crate::{used}` (layer {theirs})",
                    relative.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
    let missing: Vec<_> = LAYERS.iter().filter(|(m, _)| !seen.contains(*m)).collect();
    assert!(
        missing.is_empty(),
        "LAYERS names modules core/src no longer has: {missing:?}"
    );
}

#[test]
fn the_import_scanner_sees_groups_and_paths() {
    let found = crate_modules(
        "use crate::{\n    api::http::error,\n    master::{lock, SharedMaster},\n};\nlet x = crate::domain::status::now();",
    );
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["api", "domain", "master"]
    );
}
