//! Parameters a module declares, as the host keeps them (for
//! `corral modules list --verbose`). The loader checks a manifest's
//! `parameters` with module-api's `parameters::check` before any
//! constructor runs.

use corral_module_api::ParamSpec;

/// One declared parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredParam {
    pub name: String,
    /// `text`, `integer`, `number`, `boolean` or `path`.
    pub kind: &'static str,
    pub default: Option<String>,
    pub description: String,
}

impl From<&ParamSpec> for DeclaredParam {
    fn from(spec: &ParamSpec) -> Self {
        DeclaredParam {
            name: spec.name.to_string(),
            kind: spec.kind.name(),
            default: spec.default.as_ref().map(|d| d.to_string()).into_option(),
            description: spec.description.to_string(),
        }
    }
}
