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
    /// A file or folder (text; relative paths are the module's business).
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
