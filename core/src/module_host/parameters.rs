//! Parameters a module declares, as the host keeps them, and the check of a
//! manifest's `parameters` against them before the constructor runs.

use corral_module_api::ParamSpec;

/// One declared parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredParam {
    pub name: String,
    /// `text`, `integer`, `number`, `boolean` or `path`.
    pub kind: &'static str,
    pub default: Option<String>,
    pub description: String,
    spec: ParamSpec,
}

impl From<&ParamSpec> for DeclaredParam {
    fn from(spec: &ParamSpec) -> Self {
        DeclaredParam {
            name: spec.name.to_string(),
            kind: spec.kind.name(),
            default: spec.default.as_ref().map(|d| d.to_string()).into_option(),
            description: spec.description.to_string(),
            spec: spec.clone(),
        }
    }
}

/// `given` checked against `declared` (module-api's
/// [`corral_module_api::parameters::check`], the one implementation).
pub fn checked_parameters(
    declared: &[DeclaredParam],
    given: &[(String, String)],
) -> Result<Vec<(String, String)>, String> {
    let specs: Vec<ParamSpec> = declared.iter().map(|p| p.spec.clone()).collect();
    corral_module_api::parameters::check(&specs, given)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_module_api::ParamKind;

    fn declared() -> Vec<DeclaredParam> {
        [
            ParamSpec::new("min_cpus", ParamKind::Number, "smallest offer's cpus")
                .default_value("0.01"),
            ParamSpec::new("rounds", ParamKind::Integer, "rounds per cycle"),
            ParamSpec::new("strict", ParamKind::Boolean, "refuse more"),
            ParamSpec::new("script", ParamKind::Path, "the policy"),
        ]
        .iter()
        .map(DeclaredParam::from)
        .collect()
    }

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_of_their_kind_pass_and_defaults_fill_in() {
        let checked = checked_parameters(
            &declared(),
            &given(&[("rounds", "-3"), ("strict", "true"), ("script", "a.lua")]),
        )
        .unwrap();
        assert_eq!(
            checked,
            given(&[
                ("rounds", "-3"),
                ("strict", "true"),
                ("script", "a.lua"),
                ("min_cpus", "0.01")
            ])
        );
        // A value given is not replaced by the default.
        let checked = checked_parameters(&declared(), &given(&[("min_cpus", "1e3")])).unwrap();
        assert_eq!(checked, given(&[("min_cpus", "1e3")]));
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_named() {
        let err =
            |pairs: &[(&str, &str)]| checked_parameters(&declared(), &given(pairs)).unwrap_err();
        assert_eq!(
            err(&[("min_cpu", "1")]),
            "unknown parameter 'min_cpu' (it takes: min_cpus, rounds, strict, script)"
        );
        assert_eq!(
            err(&[("rounds", "2.5")]),
            "parameter 'rounds' = '2.5' is not an integer (rounds per cycle)"
        );
        assert_eq!(
            err(&[("min_cpus", "lots")]),
            "parameter 'min_cpus' = 'lots' is not a number (smallest offer's cpus)"
        );
        assert_eq!(
            err(&[("min_cpus", "inf")]),
            "parameter 'min_cpus' = 'inf' is not a number (smallest offer's cpus)"
        );
        assert_eq!(
            err(&[("strict", "yes")]),
            "parameter 'strict' = 'yes' is not a boolean (refuse more)"
        );
        assert_eq!(
            checked_parameters(&[], &given(&[("x", "1")])).unwrap_err(),
            "unknown parameter 'x' (it takes: none)"
        );
    }
}
