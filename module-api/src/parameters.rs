//! The parameters a module declares (name, type, default, description), so
//! that the host checks a manifest's `parameters` before the constructor
//! runs and `corral modules list --verbose` can print them. Added in
//! module-api 1.1; a library that declares nothing is checked by its own
//! constructor only, as before.

use abi_stable::{
    std_types::{ROption, RString, RVec},
    StableAbi,
};

/// What a parameter's value must be. Values always reach the module as
/// text; the host only checks that the text is of the type.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Any text.
    Text,
    /// A whole number (`-3`, `42`).
    Integer,
    /// A number (`0.5`, `64`, `1e3`).
    Number,
    /// `true` or `false`.
    Boolean,
    /// A file or folder. A relative path is taken from the manifest's
    /// folder by the host, so the module receives it ready to open.
    Path,
}

impl ParamKind {
    pub fn name(self) -> &'static str {
        match self {
            ParamKind::Text => "text",
            ParamKind::Integer => "integer",
            ParamKind::Number => "number",
            ParamKind::Boolean => "boolean",
            ParamKind::Path => "path",
        }
    }

    /// Whether `value` is of this kind.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            ParamKind::Text | ParamKind::Path => true,
            ParamKind::Integer => value.parse::<i64>().is_ok(),
            ParamKind::Number => value.parse::<f64>().is_ok_and(f64::is_finite),
            ParamKind::Boolean => matches!(value, "true" | "false"),
        }
    }
}

/// One declared parameter.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: RString,
    pub kind: ParamKind,
    /// Given to the constructor when the manifest sets none; `RNone` for a
    /// parameter that is simply absent then.
    pub default: ROption<RString>,
    /// One line saying what it does.
    pub description: RString,
}

impl ParamSpec {
    pub fn new(name: &str, kind: ParamKind, description: &str) -> Self {
        ParamSpec {
            name: name.into(),
            kind,
            default: ROption::RNone,
            description: description.into(),
        }
    }

    /// The same parameter with a default value.
    pub fn default_value(self, value: &str) -> Self {
        ParamSpec {
            default: ROption::RSome(value.into()),
            ..self
        }
    }
}

/// The parameters one module of a library declares: the host refuses any
/// other key, and values not of their kind.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct ModuleParams {
    pub module: RString,
    pub params: RVec<ParamSpec>,
}

/// `given` checked against `declared`, as the host checks a manifest's
/// `parameters` before a module's constructor runs: every key declared,
/// every value of its kind; then the defaults of declared parameters not
/// given, appended in declaration order. The error names the first
/// problem. (`guest::testing` runs the same check.)
pub fn check(
    declared: &[ParamSpec],
    given: &[(String, String)],
) -> Result<Vec<(String, String)>, String> {
    for (key, value) in given {
        let Some(param) = declared.iter().find(|p| p.name.as_str() == key) else {
            let known: Vec<&str> = declared.iter().map(|p| p.name.as_str()).collect();
            return Err(format!(
                "unknown parameter '{key}' (it takes: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        };
        if !param.kind.accepts(value) {
            let kind = param.kind.name();
            let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            return Err(format!(
                "parameter '{key}' = '{value}' is not {article} {kind} ({})",
                param.description
            ));
        }
    }
    let mut parameters = given.to_vec();
    for param in declared {
        if let ROption::RSome(default) = &param.default {
            if !given.iter().any(|(k, _)| k == param.name.as_str()) {
                parameters.push((param.name.to_string(), default.to_string()));
            }
        }
    }
    Ok(parameters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("min_cpus", ParamKind::Number, "smallest offer's cpus")
                .default_value("0.01"),
            ParamSpec::new("rounds", ParamKind::Integer, "rounds per cycle"),
            ParamSpec::new("strict", ParamKind::Boolean, "refuse more"),
            ParamSpec::new("script", ParamKind::Path, "the policy"),
        ]
    }

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_of_their_kind_pass_and_defaults_fill_in() {
        let checked = check(
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
        let checked = check(&declared(), &given(&[("min_cpus", "1e3")])).unwrap();
        assert_eq!(checked, given(&[("min_cpus", "1e3")]));
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_named() {
        let err = |pairs: &[(&str, &str)]| check(&declared(), &given(pairs)).unwrap_err();
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
            check(&[], &given(&[("x", "1")])).unwrap_err(),
            "unknown parameter 'x' (it takes: none)"
        );
    }
}
