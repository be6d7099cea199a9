//! A third-party isolator: before a container starts, it writes the file
//! `<file>` into the sandbox (which exists and is absolute during
//! `prepare`) holding `<text>` and the container id, and gives the
//! container the variable `MARKER_FILE` naming it. Containers it prepared
//! are remembered until `cleanup`.

use std::{collections::HashSet, path::Path};

use corral_module_api::{
    guest::{self, IsolatorModule, Params},
    isolator::{ContainerConfig, LaunchSpec},
    types::key_values,
    Host, ModuleError, ParamKind, ParamSpec,
};

corral_module_api::export_modules![guest::isolator::<Marker>(
    "org_example_isolator_marker",
    "example isolator: writes a marker file into every sandbox"
)];

#[derive(Debug)]
pub struct Marker {
    file: String,
    text: String,
    /// Containers prepared and not yet cleaned up.
    live: HashSet<String>,
}

impl IsolatorModule for Marker {
    fn parameters() -> Option<Vec<ParamSpec>> {
        Some(vec![
            ParamSpec::new(
                "file",
                ParamKind::Text,
                "the marker's file name in the sandbox",
            )
            .default_value("corral-marker"),
            ParamSpec::new("text", ParamKind::Text, "what the marker says")
                .default_value("isolated by org_example_isolator_marker"),
        ])
    }

    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        let file = params.require("file")?.to_owned();
        if file.contains('/') || file == "." || file == ".." {
            return Err(ModuleError::invalid_parameters(format!(
                "parameter 'file' = '{file}' must be a plain file name"
            )));
        }
        Ok(Marker {
            file,
            text: params.require("text")?.to_owned(),
            live: HashSet::new(),
        })
    }

    fn prepare(&mut self, config: &ContainerConfig) -> Result<LaunchSpec, ModuleError> {
        let path = Path::new(config.sandbox.as_str()).join(&self.file);
        std::fs::write(&path, format!("{} {}\n", self.text, config.container_id))
            .map_err(|e| ModuleError::failed(format!("cannot write {}: {e}", path.display())))?;
        self.live.insert(config.container_id.to_string());
        Ok(LaunchSpec {
            environment: key_values([("MARKER_FILE", self.file.as_str())]),
            ..LaunchSpec::default()
        })
    }

    fn cleanup(&mut self, container_id: &str) -> Result<(), ModuleError> {
        // Also called for containers this isolator never saw: must succeed.
        self.live.remove(container_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_module_api::{guest::testing, types::lookup};

    #[test]
    fn prepare_writes_the_marker_into_the_sandbox() {
        let sandbox = testing::Sandbox::new();
        let mut marker = testing::isolator::<Marker>(&[("text", "hello")]).unwrap();
        let spec = marker.prepare(&sandbox.container("c-1")).unwrap();
        assert_eq!(
            lookup(&spec.environment, "MARKER_FILE"),
            Some("corral-marker")
        );
        assert_eq!(sandbox.read("corral-marker"), "hello c-1\n");
        marker.cleanup("c-1").unwrap();
        marker.cleanup("never-seen").unwrap();
        assert!(marker.live.is_empty());
    }

    #[test]
    fn a_file_name_with_a_slash_is_refused() {
        let err = testing::isolator::<Marker>(&[("file", "../x")]).unwrap_err();
        assert!(
            err.to_string().contains("must be a plain file name"),
            "{err}"
        );
    }
}
