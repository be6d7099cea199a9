//! What both modules are told: their common parameters, and the resources
//! of a container.

use std::path::{Component, Path, PathBuf};

use corral_module_api::{guest::Params, ModuleError};

/// Default of the `root` parameter.
pub const DEFAULT_ROOT: &str = "corral";
/// Default of the `hierarchy` parameter.
pub const DEFAULT_HIERARCHY: &str = "/sys/fs/cgroup";

/// The parameters both modules take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The cgroup (relative to each hierarchy's mount) holding the
    /// containers' cgroups.
    pub root: String,
    /// Only cgroup mounts at or below this directory are used.
    pub hierarchy: PathBuf,
}

impl Settings {
    /// Reads `root` and `hierarchy`, refusing any key that is neither those
    /// nor in `extra`.
    pub fn from_params(params: &Params, extra: &[&str]) -> Result<Settings, ModuleError> {
        let mut known = vec!["root", "hierarchy"];
        known.extend_from_slice(extra);
        params.reject_unknown(&known)?;

        let root = params.get("root").unwrap_or(DEFAULT_ROOT).trim_matches('/');
        let relative = Path::new(root)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if root.is_empty() || !relative {
            return Err(ModuleError::invalid_parameters(format!(
                "parameter 'root' = '{root}': must be a cgroup name such as 'corral', \
                 without '.' or '..'"
            )));
        }

        let hierarchy = params.get("hierarchy").unwrap_or(DEFAULT_HIERARCHY);
        if !Path::new(hierarchy).is_absolute() {
            return Err(ModuleError::invalid_parameters(format!(
                "parameter 'hierarchy' = '{hierarchy}': must be an absolute path"
            )));
        }
        Ok(Settings {
            root: root.to_owned(),
            hierarchy: PathBuf::from(hierarchy),
        })
    }
}

/// The sum of the scalar resources called `name`, `None` when there is none.
pub use corral_module_api::types::scalar_sum as scalar;

#[cfg(test)]
mod tests {
    use corral_module_api::Resource;

    use super::*;

    fn settings(entries: &[(&str, &str)], extra: &[&str]) -> Result<Settings, ModuleError> {
        Settings::from_params(
            &Params::new(entries.iter().map(|(k, v)| (k.to_string(), v.to_string()))),
            extra,
        )
    }

    #[test]
    fn defaults_apply_when_absent() {
        assert_eq!(
            settings(&[], &[]).unwrap(),
            Settings {
                root: "corral".to_owned(),
                hierarchy: PathBuf::from("/sys/fs/cgroup"),
            }
        );
        let s = settings(&[("root", "/agents/a1/"), ("hierarchy", "/cgroup")], &[]).unwrap();
        assert_eq!(s.root, "agents/a1");
        assert_eq!(s.hierarchy, Path::new("/cgroup"));
    }

    #[test]
    fn bad_and_unknown_parameters_are_refused_by_name() {
        let err = settings(&[("root", "../escape")], &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("parameter 'root' = '../escape'"), "{err}");
        let err = settings(&[("root", "")], &[]).unwrap_err().to_string();
        assert!(err.starts_with("parameter 'root' = ''"), "{err}");
        let err = settings(&[("hierarchy", "sys/fs")], &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("parameter 'hierarchy' = 'sys/fs'"), "{err}");
        let err = settings(&[("cfs_quota", "true")], &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unknown parameter 'cfs_quota' (known: root, hierarchy)"
        );
        assert!(settings(&[("cfs_quota", "true")], &["cfs_quota"]).is_ok());
    }

    #[test]
    fn scalars_are_summed_by_name() {
        let resources = [
            Resource::scalar("cpus", 1.5),
            Resource::scalar("mem", 128.0),
            Resource::scalar("cpus", 0.5),
        ];
        assert_eq!(scalar(&resources, "cpus"), Some(2.0));
        assert_eq!(scalar(&resources, "mem"), Some(128.0));
        assert_eq!(scalar(&resources, "disk"), None);
    }
}
