//! Reading a module's parameters.

use std::str::FromStr;

use abi_stable::std_types::RVec;

use crate::{error::ModuleError, types::KeyValue};

/// The `parameters` table a manifest gave a module, in manifest order.
#[derive(Debug, Clone, Default)]
pub struct Params {
    entries: Vec<(String, String)>,
}

impl Params {
    pub fn new(entries: impl IntoIterator<Item = (String, String)>) -> Self {
        Params {
            entries: entries.into_iter().collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or an invalid-parameters error naming it.
    pub fn require(&self, key: &str) -> Result<&str, ModuleError> {
        self.get(key)
            .ok_or_else(|| ModuleError::invalid_parameters(format!("missing parameter '{key}'")))
    }

    /// The value of `key` parsed as `T`, `None` when absent.
    pub fn parse<T>(&self, key: &str) -> Result<Option<T>, ModuleError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.get(key)
            .map(|raw| {
                raw.parse().map_err(|e| {
                    ModuleError::invalid_parameters(format!("parameter '{key}' = '{raw}': {e}"))
                })
            })
            .transpose()
    }

    /// Fails naming the first key that is not in `known`.
    pub fn reject_unknown(&self, known: &[&str]) -> Result<(), ModuleError> {
        match self
            .entries
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            Some((k, _)) => Err(ModuleError::invalid_parameters(format!(
                "unknown parameter '{k}' (known: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))),
            None => Ok(()),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl From<RVec<KeyValue>> for Params {
    fn from(list: RVec<KeyValue>) -> Self {
        Params::new(
            list.into_iter()
                .map(|kv| (kv.key.into_string(), kv.value.into_string())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params::new([
            ("label".to_owned(), "a=b".to_owned()),
            ("count".to_owned(), "x".to_owned()),
        ])
    }

    #[test]
    fn lookups_and_errors_name_the_key() {
        let p = params();
        assert_eq!(p.get("label"), Some("a=b"));
        assert_eq!(
            p.require("nope").unwrap_err().to_string(),
            "missing parameter 'nope'"
        );
        let err = p.parse::<u32>("count").unwrap_err().to_string();
        assert!(err.starts_with("parameter 'count' = 'x': "), "{err}");
        assert_eq!(p.parse::<u32>("absent").unwrap(), None);
        let err = p.reject_unknown(&["label"]).unwrap_err().to_string();
        assert_eq!(err, "unknown parameter 'count' (known: label)");
    }
}
