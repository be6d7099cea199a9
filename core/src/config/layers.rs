//! Values laid over a configuration file: `CORRAL_*` environment variables,
//! then command-line flags. Each is text, converted to the TOML value its
//! key takes and checked on its own, so an error names the variable or flag
//! and the key.

use std::{ffi::OsString, fmt};

use super::{
    keys::{key, keys_of, Key, Section},
    ConfigError, DaemonConfig,
};

/// Where an override comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An environment variable, e.g. `CORRAL_MASTER_PORT`.
    Env(String),
    /// A long flag, without its dashes, e.g. `port`.
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env(var) => f.write_str(var),
            Origin::Flag(flag) => write!(f, "--{flag}"),
        }
    }
}

/// One key set from outside the file.
#[derive(Debug, Clone)]
pub struct Override {
    pub origin: Origin,
    pub key: &'static Key,
    /// The text as given.
    pub raw: String,
}

impl fmt::Display for Override {
    /// `CORRAL_MASTER_PORT='5050'`; a `zk://` URL's password is hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = crate::domain::master_detection::shown(&self.raw);
        write!(f, "{}='{shown}'", self.origin)
    }
}

impl Override {
    /// `--<flag> <raw>` setting `key`.
    pub fn flag(flag: &'static str, key: &'static Key, raw: impl Into<String>) -> Override {
        Override {
            origin: Origin::Flag(flag),
            key,
            raw: raw.into(),
        }
    }

    /// The `CORRAL_MODULES_*`, `CORRAL_MASTER_*` and `CORRAL_AGENT_*`
    /// variables among `vars` (other variables are ignored), sorted by name.
    /// A variable naming no key is an error, like an unknown key in a file.
    pub fn from_env<I, N, V>(vars: I) -> Result<Vec<Override>, ConfigError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<OsString>,
        V: Into<OsString>,
    {
        let mut found = Vec::new();
        for (name, value) in vars {
            let Ok(var) = name.into().into_string() else {
                continue;
            };
            let Some(section) = Section::of_env_var(&var) else {
                continue;
            };
            let Some(key) = keys_of(section).find(|k| k.env_var() == var) else {
                return Err(ConfigError::UnknownVariable {
                    known: keys_of(section).map(|k| k.env_var()).collect(),
                    var,
                    section,
                });
            };
            let raw = value
                .into()
                .into_string()
                .map_err(|_| ConfigError::NotUnicode { var: var.clone() })?;
            found.push(Override {
                origin: Origin::Env(var),
                key,
                raw,
            });
        }
        found.sort_by_key(|o| o.origin.to_string());
        Ok(found)
    }

    /// The TOML value this override sets, checked as its key's type would
    /// be in a file.
    pub fn value(&self) -> Result<toml::Value, ConfigError> {
        let error = |message: String| ConfigError::Override {
            origin: self.origin.to_string(),
            value: self.raw.clone(),
            key: self.key.to_string(),
            message,
        };
        let value = self.key.parse_text(&self.raw).map_err(error)?;
        let mut table = toml::Table::new();
        table.insert(self.key.name.to_owned(), value.clone());
        check_section(self.key.section.name(), table)
            .map_err(|e| error(e.message().trim_end().to_owned()))?;
        Ok(value)
    }
}

/// Deserializes a configuration holding just `table` as `section`.
pub(super) fn check_section(section: &str, table: toml::Table) -> Result<(), toml::de::Error> {
    let mut top = toml::Table::new();
    top.insert(section.to_owned(), toml::Value::Table(table));
    toml::Value::Table(top)
        .try_into::<DaemonConfig>()
        .map(|_| ())
}

/// The first key of `file` that does not deserialize on its own, as
/// `[section] key` (or `[section]` for a bad table), and why.
pub(super) fn locate_bad_key(file: &toml::Table) -> Option<(String, String)> {
    let why = |e: toml::de::Error| e.message().trim_end().to_owned();
    for (section, value) in file {
        let mut top = toml::Table::new();
        top.insert(section.clone(), value.clone());
        let toml::Value::Table(table) = value else {
            match toml::Value::Table(top).try_into::<DaemonConfig>() {
                Ok(_) => continue,
                Err(e) => return Some((format!("[{section}]"), why(e))),
            }
        };
        if let Err(e) = check_section(section, toml::Table::new()) {
            return Some((format!("[{section}]"), why(e)));
        }
        for (name, value) in table {
            let mut single = toml::Table::new();
            single.insert(name.clone(), value.clone());
            if let Err(e) = check_section(section, single) {
                return Some((format!("[{section}] {name}"), why(e)));
            }
        }
    }
    None
}

/// The first value of `file` its key's checks refuse (see [`Key::check`]),
/// as the key and why.
pub(super) fn check_values(file: &toml::Table) -> Option<(&'static Key, String)> {
    for section in Section::ALL {
        let Some(toml::Value::Table(table)) = file.get(section.name()) else {
            continue;
        };
        for (name, value) in table {
            if let Some(key) = key(section, name) {
                if let Err(why) = key.check(value) {
                    return Some((key, why));
                }
            }
        }
    }
    None
}
