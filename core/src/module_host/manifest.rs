//! The module manifest (`config/modules.toml`): which libraries to load and
//! which modules, with which parameters, to take from each.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
};

use serde::Deserialize;

use super::error::LoadError;

/// Points at one `[[library]]` entry of a manifest, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRef {
    pub manifest: Arc<Path>,
    /// 1-based position among the manifest's `[[library]]` entries.
    pub index: usize,
    /// `path = "..."` or `name = "..."` as written.
    pub spec: Arc<str>,
}

impl fmt::Display for EntryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: library #{} ({})",
            self.manifest.display(),
            self.index,
            self.spec
        )
    }
}

/// Where a library comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibrarySource {
    /// A path, already joined to the manifest's folder if it was relative.
    Path(PathBuf),
    /// A name: `lib<name>.so` in the search paths.
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleEntry {
    pub name: String,
    pub parameters: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryEntry {
    pub at: EntryRef,
    pub source: LibrarySource,
    pub modules: Vec<ModuleEntry>,
}

/// A parsed manifest. Problems in single entries are kept in `errors` so
/// that every one of them is reported, not only the first.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// The folder relative paths are taken from (the manifest's own): of
    /// libraries, search paths, and parameters declared as paths.
    pub base: PathBuf,
    /// Folders searched for `name = ...` libraries, in order.
    pub search_paths: Vec<PathBuf>,
    pub libraries: Vec<LibraryEntry>,
    pub errors: Vec<LoadError>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    search_paths: Vec<PathBuf>,
    #[serde(default, rename = "library")]
    libraries: Vec<RawLibrary>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLibrary {
    path: Option<PathBuf>,
    name: Option<String>,
    #[serde(default, rename = "module")]
    modules: Vec<RawModule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModule {
    name: String,
    #[serde(default)]
    parameters: toml::Table,
}

impl Manifest {
    /// Reads and parses the manifest at `path`.
    pub fn load(path: &Path) -> Result<Manifest, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::ManifestUnreadable {
            manifest: path.to_owned(),
            reason: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, path, base)
    }

    /// Parses manifest `text`; `source` names it in errors and relative
    /// paths are taken from `base`.
    pub fn parse(text: &str, source: &Path, base: &Path) -> Result<Manifest, LoadError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| LoadError::ManifestInvalid {
            manifest: source.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let mut manifest = Manifest {
            base: base.to_owned(),
            search_paths: raw.search_paths.iter().map(|p| base.join(p)).collect(),
            ..Manifest::default()
        };
        for (i, lib) in raw.libraries.into_iter().enumerate() {
            let spec = match (&lib.path, &lib.name) {
                (Some(p), None) => format!("path = {:?}", p.display().to_string()),
                (None, Some(n)) => format!("name = {n:?}"),
                (Some(_), Some(_)) => "both path and name".to_owned(),
                (None, None) => "neither path nor name".to_owned(),
            };
            let at = EntryRef {
                manifest: Arc::from(source),
                index: i + 1,
                spec: Arc::from(spec),
            };
            let source = match (lib.path, lib.name) {
                (Some(p), None) => LibrarySource::Path(base.join(p)),
                (None, Some(n)) if !n.is_empty() && !n.contains('/') => LibrarySource::Name(n),
                _ => {
                    manifest.errors.push(LoadError::LibraryUnspecified { at });
                    continue;
                }
            };
            let mut modules = Vec::new();
            for module in lib.modules {
                match parameters(module.parameters) {
                    Ok(parameters) => modules.push(ModuleEntry {
                        name: module.name,
                        parameters,
                    }),
                    Err(NotScalar { key }) => manifest.errors.push(LoadError::BadParameter {
                        at: at.clone(),
                        module: module.name,
                        key,
                    }),
                }
            }
            if modules.is_empty() {
                manifest.errors.push(LoadError::NoModulesListed { at });
                continue;
            }
            manifest.libraries.push(LibraryEntry {
                at,
                source,
                modules,
            });
        }
        Ok(manifest)
    }
}

/// A module parameter whose value is not a string, number or boolean.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter '{key}' must be a string, number or boolean")]
struct NotScalar {
    key: String,
}

/// Converts a parameters table to strings; scalars are written as TOML
/// writes them. Fails on the first key whose value is not a scalar.
fn parameters(table: toml::Table) -> Result<Vec<(String, String)>, NotScalar> {
    table
        .into_iter()
        .map(|(key, value)| match value {
            toml::Value::String(s) => Ok((key, s)),
            toml::Value::Integer(i) => Ok((key, i.to_string())),
            toml::Value::Float(f) => Ok((key, f.to_string())),
            toml::Value::Boolean(b) => Ok((key, b.to_string())),
            _ => Err(NotScalar { key }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, LoadError> {
        Manifest::parse(text, Path::new("conf/modules.toml"), Path::new("conf"))
    }

    #[test]
    fn a_full_manifest_parses_with_paths_joined_to_its_folder() {
        let m = parse(
            r#"
            search_paths = ["lib"]
            [[library]]
            path = "../build/libx.so"
              [[library.module]]
              name = "org_x_a"
              parameters = { depth = 3, verbose = true, label = "a=b" }
              [[library.module]]
              name = "org_x_b"
            [[library]]
            name = "y"
              [[library.module]]
              name = "org_y"
            "#,
        )
        .unwrap();
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        assert_eq!(m.search_paths, [PathBuf::from("conf/lib")]);
        assert_eq!(
            m.libraries[0].source,
            LibrarySource::Path("conf/../build/libx.so".into())
        );
        assert_eq!(
            m.libraries[0].modules[0].parameters,
            [
                ("depth".into(), "3".into()),
                ("label".into(), "a=b".into()),
                ("verbose".into(), "true".into())
            ]
        );
        assert_eq!(m.libraries[1].source, LibrarySource::Name("y".into()));
        assert_eq!(
            m.libraries[1].at.to_string(),
            "conf/modules.toml: library #2 (name = \"y\")"
        );
    }

    #[test]
    fn every_bad_entry_is_reported_not_only_the_first() {
        let m = parse(
            r#"
            [[library]]
              [[library.module]]
              name = "a"
            [[library]]
            path = "x.so"
            name = "x"
            [[library]]
            path = "z.so"
              [[library.module]]
              name = "z"
              parameters = { list = [1, 2] }
            "#,
        )
        .unwrap();
        let messages: Vec<String> = m.errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 4, "{messages:#?}");
        assert!(
            messages[0].contains("library #1 (neither path nor name)"),
            "{}",
            messages[0]
        );
        assert!(
            messages[1].contains("library #2 (both path and name)"),
            "{}",
            messages[1]
        );
        assert!(messages[2].contains("parameter 'list'"), "{}", messages[2]);
        assert!(
            messages[3].contains("library #3") && messages[3].contains("lists no modules"),
            "{}",
            messages[3]
        );
    }

    #[test]
    fn syntax_errors_and_unknown_keys_name_the_file_and_line() {
        let err = parse("[[library]]\npath = \"a.so\"\nflavour = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("conf/modules.toml: "), "{err}");
        assert!(err.contains("line 3") && err.contains("flavour"), "{err}");
    }
}
