//! The master's registry: what must survive a master restart, kept in an
//! embedded database (redb). Admitted agents (so that they may re-register
//! with their ids and tasks), removed agents (so that they may not, for
//! two weeks) and frameworks with their failover deadlines
//! (going beyond Mesos, which lost frameworks on failover: MESOS-4659).
//! Tasks are not stored: agents report them when they re-register.
//!
//! With `--zk` the same records live in the election's store instead (one
//! record per agent or framework, written through the contender module,
//! each write fenced by its candidacy).

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use prost::Message;
use redb::{Database, ReadableTable, TableDefinition, TableHandle};
use thiserror::Error;

use crate::{extension::MasterContenderPlugin, proto::v1};

/// redb's page cache (its default is 1 GiB); the registry holds only
/// agent and framework records, a few MiB at 10k agents.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

const AGENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("agents");
const FRAMEWORKS: TableDefinition<&str, &[u8]> = TableDefinition::new("frameworks");
const REMOVED: TableDefinition<&str, &[u8]> = TableDefinition::new("removed_agents");

/// Removed agents are remembered this long (Mesos'
/// `--registry_max_agent_age`, two weeks), so the table stays bounded.
pub const REMOVED_AGENT_AGE_SECS: f64 = 14.0 * 24.0 * 3600.0;

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("registry {path}: {message}")]
    Open { path: String, message: String },
    #[error("registry: {0}")]
    Store(String),
    #[error("registry: entry '{key}' in table '{table}' is corrupt: {source}")]
    Corrupt {
        table: &'static str,
        key: String,
        source: RecordError,
    },
}

/// Why a stored record does not decode.
#[derive(Debug, Error)]
pub enum RecordError {
    #[error("too short")]
    TooShort,
    #[error("endpoint cut short")]
    EndpointCutShort,
    #[error("principal cut short")]
    PrincipalCutShort,
    #[error("{0}")]
    Endpoint(#[from] std::string::FromUtf8Error),
    #[error("{0}")]
    Info(#[from] prost::DecodeError),
}

fn store<E: std::fmt::Display>(e: E) -> RegistryError {
    RegistryError::Store(e.to_string())
}

/// An admitted agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRecord {
    pub info: v1::AgentInfo,
    /// `host:port` of its HTTP endpoints.
    pub endpoint: String,
    /// The principal that registered it: only it may re-register the id.
    pub principal: Option<String>,
}

/// A framework and, while it is disconnected, when it is removed.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameworkRecord {
    pub info: v1::FrameworkInfo,
    /// Seconds since the epoch; `None` while connected.
    pub failover_deadline: Option<f64>,
}

/// Everything the registry held when the master started.
#[derive(Debug, Default)]
pub struct Recovered {
    pub agents: Vec<(String, AgentRecord)>,
    pub frameworks: Vec<(String, FrameworkRecord)>,
    /// Removed agents and when (seconds since the epoch).
    pub removed_agents: Vec<(String, f64)>,
}

fn decode_removed(bytes: &[u8]) -> Result<f64, RecordError> {
    let (when, _) = bytes
        .split_first_chunk::<8>()
        .ok_or(RecordError::TooShort)?;
    Ok(f64::from_le_bytes(*when))
}

/// A contender module shared by the election and the registry.
pub type SharedContender = Arc<Mutex<Box<dyn MasterContenderPlugin>>>;

/// The registry: a file, or the store of the election this master won.
pub struct Registry {
    store: Store,
}

enum Store {
    File(Database),
    Elected(SharedContender),
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

// A record is a small fixed header followed by the protobuf encoding of the
// Mesos info message, which evolves compatibly on its own.
//
// Agent record: [`PRINCIPAL_MARK`, principal length, principal]? then
// endpoint length, endpoint, `AgentInfo`. Lengths are u32 little endian;
// records written before principals were kept start with the endpoint's
// length, which is never `PRINCIPAL_MARK`.

const PRINCIPAL_MARK: u32 = u32::MAX;

fn encode_agent(record: &AgentRecord) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(principal) = &record.principal {
        out.extend_from_slice(&PRINCIPAL_MARK.to_le_bytes());
        put_field(&mut out, principal.as_bytes());
    }
    put_field(&mut out, record.endpoint.as_bytes());
    out.extend_from_slice(&record.info.encode_to_vec());
    out
}

fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A length-prefixed field at the head of `bytes`, and the rest.
fn take_field(bytes: &[u8], cut: RecordError) -> Result<(&[u8], &[u8]), RecordError> {
    let (len, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or(RecordError::TooShort)?;
    rest.split_at_checked(u32::from_le_bytes(*len) as usize)
        .ok_or(cut)
}

fn decode_agent(bytes: &[u8]) -> Result<AgentRecord, RecordError> {
    let (principal, bytes) = match bytes.split_first_chunk::<4>() {
        Some((mark, rest)) if u32::from_le_bytes(*mark) == PRINCIPAL_MARK => {
            let (principal, rest) = take_field(rest, RecordError::PrincipalCutShort)?;
            (Some(String::from_utf8(principal.to_vec())?), rest)
        }
        _ => (None, bytes),
    };
    let (endpoint, info) = take_field(bytes, RecordError::EndpointCutShort)?;
    Ok(AgentRecord {
        endpoint: String::from_utf8(endpoint.to_vec())?,
        info: v1::AgentInfo::decode(info)?,
        principal,
    })
}

fn encode_framework(record: &FrameworkRecord) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&record.failover_deadline.unwrap_or(-1.0).to_le_bytes());
    out.extend_from_slice(&record.info.encode_to_vec());
    out
}

fn decode_framework(bytes: &[u8]) -> Result<FrameworkRecord, RecordError> {
    let (deadline, info) = bytes
        .split_first_chunk::<8>()
        .ok_or(RecordError::TooShort)?;
    let deadline = f64::from_le_bytes(*deadline);
    Ok(FrameworkRecord {
        failover_deadline: (deadline >= 0.0).then_some(deadline),
        info: v1::FrameworkInfo::decode(info)?,
    })
}

/// One table's records as a backend holds them.
type Raw = Vec<(String, Vec<u8>)>;

/// Every table read with `read` and decoded; a record that does not decode
/// is an error naming its table and key.
fn decode_all(
    mut read: impl FnMut(TableDefinition<&str, &[u8]>) -> Result<Raw, RegistryError>,
) -> Result<Recovered, RegistryError> {
    Ok(Recovered {
        agents: decoded("agents", read(AGENTS)?, decode_agent)?,
        frameworks: decoded("frameworks", read(FRAMEWORKS)?, decode_framework)?,
        removed_agents: decoded("removed_agents", read(REMOVED)?, decode_removed)?,
    })
}

fn decoded<T>(
    table: &'static str,
    raw: Raw,
    decode: fn(&[u8]) -> Result<T, RecordError>,
) -> Result<Vec<(String, T)>, RegistryError> {
    raw.into_iter()
        .map(|(key, value)| match decode(&value) {
            Ok(record) => Ok((key, record)),
            Err(source) => Err(RegistryError::Corrupt { table, key, source }),
        })
        .collect()
}

impl Registry {
    /// Opens (or creates) the registry at `path` and reads it back.
    pub fn open(path: &Path) -> Result<(Registry, Recovered), RegistryError> {
        let open_error = |message: String| RegistryError::Open {
            path: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
        }
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| open_error(e.to_string()))?;
        let registry = Registry {
            store: Store::File(db),
        };
        let recovered = registry.read_file()?;
        Ok((registry, recovered))
    }

    /// The registry kept by the contender of an election this master won,
    /// read back. Blocks while the module reads.
    pub fn elected(contender: SharedContender) -> Result<(Registry, Recovered), RegistryError> {
        let recovered = decode_all(|table| {
            crate::master::lock_contender(&contender)
                .registry_read(table.name())
                .map_err(store)
        })?;
        Ok((
            Registry {
                store: Store::Elected(contender),
            },
            recovered,
        ))
    }

    fn read_file(&self) -> Result<Recovered, RegistryError> {
        let Store::File(db) = &self.store else {
            return Ok(Recovered::default());
        };
        // Make sure every table exists, so reading a fresh file works.
        let txn = db.begin_write().map_err(store)?;
        for table in [AGENTS, FRAMEWORKS, REMOVED] {
            txn.open_table(table).map_err(store)?;
        }
        txn.commit().map_err(store)?;
        let txn = db.begin_read().map_err(store)?;
        decode_all(|table| {
            let mut raw = Vec::new();
            for entry in txn
                .open_table(table)
                .map_err(store)?
                .iter()
                .map_err(store)?
            {
                let (key, value) = entry.map_err(store)?;
                raw.push((key.value().to_owned(), value.value().to_vec()));
            }
            Ok(raw)
        })
    }

    fn write(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(), RegistryError> {
        let db = match &self.store {
            Store::File(db) => db,
            Store::Elected(contender) => {
                if !crate::domain::lease::acting() {
                    return Err(RegistryError::Store(
                        "this master's leadership lease has run out: not writing".to_owned(),
                    ));
                }
                return crate::master::lock_contender(contender)
                    .registry_write(table.name(), key, value)
                    .map_err(store);
            }
        };
        let txn = db.begin_write().map_err(store)?;
        {
            let mut t = txn.open_table(table).map_err(store)?;
            match value {
                Some(v) => {
                    t.insert(key, v).map_err(store)?;
                }
                None => {
                    t.remove(key).map_err(store)?;
                }
            }
        }
        txn.commit().map_err(store)
    }

    pub fn admit_agent(&self, id: &str, record: &AgentRecord) -> Result<(), RegistryError> {
        self.write(AGENTS, id, Some(&encode_agent(record)))
    }

    pub fn remove_agent(&self, id: &str) -> Result<(), RegistryError> {
        self.write(AGENTS, id, None)
    }

    /// Remembers that agent `id` was removed at `when` (seconds since the
    /// epoch): it may not come back under that id.
    pub fn mark_removed(&self, id: &str, when: f64) -> Result<(), RegistryError> {
        self.write(REMOVED, id, Some(&when.to_le_bytes()))
    }

    /// Forgets a removed agent (it is older than [`REMOVED_AGENT_AGE_SECS`]).
    pub fn forget_removed(&self, id: &str) -> Result<(), RegistryError> {
        self.write(REMOVED, id, None)
    }

    pub fn put_framework(&self, id: &str, record: &FrameworkRecord) -> Result<(), RegistryError> {
        self.write(FRAMEWORKS, id, Some(&encode_framework(record)))
    }

    pub fn remove_framework(&self, id: &str) -> Result<(), RegistryError> {
        self.write(FRAMEWORKS, id, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_and_frameworks_survive_a_reopen_and_removals_stick() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.redb");
        let agent = AgentRecord {
            info: v1::AgentInfo {
                hostname: "node-1".into(),
                port: Some(5051),
                ..Default::default()
            },
            endpoint: "10.0.0.1:5051".into(),
            principal: None,
        };
        let bound = AgentRecord {
            principal: Some("agent-a".into()),
            ..agent.clone()
        };
        let framework = FrameworkRecord {
            info: v1::FrameworkInfo {
                name: "web".into(),
                failover_timeout: Some(60.0),
                ..Default::default()
            },
            failover_deadline: Some(1.0e9),
        };
        {
            let (registry, recovered) = Registry::open(&path).unwrap();
            assert!(recovered.agents.is_empty() && recovered.frameworks.is_empty());
            registry.admit_agent("S0", &agent).unwrap();
            registry.admit_agent("S1", &agent).unwrap();
            registry.admit_agent("S2", &bound).unwrap();
            registry.remove_agent("S1").unwrap();
            registry.mark_removed("S1", 1.5e9).unwrap();
            registry.mark_removed("S9", 1.0e9).unwrap();
            registry.forget_removed("S9").unwrap();
            registry.put_framework("F0", &framework).unwrap();
        }
        let (_registry, recovered) = Registry::open(&path).unwrap();
        assert_eq!(recovered.removed_agents, vec![("S1".to_owned(), 1.5e9)]);
        assert_eq!(
            recovered.agents,
            vec![("S0".to_owned(), agent), ("S2".to_owned(), bound)]
        );
        assert_eq!(recovered.frameworks, vec![("F0".to_owned(), framework)]);
    }

    #[test]
    fn a_record_that_does_not_decode_says_why() {
        assert!(matches!(decode_agent(&[1, 0]), Err(RecordError::TooShort)));
        let cut = [10, 0, 0, 0, b'h'];
        assert!(matches!(
            decode_agent(&cut),
            Err(RecordError::EndpointCutShort)
        ));
        let mut principal_cut = u32::MAX.to_le_bytes().to_vec();
        principal_cut.extend_from_slice(&[9, 0, 0, 0, b'a']);
        assert!(matches!(
            decode_agent(&principal_cut),
            Err(RecordError::PrincipalCutShort)
        ));
        assert!(matches!(
            decode_framework(&[0; 7]),
            Err(RecordError::TooShort)
        ));
        let mut garbage = (-1.0f64).to_le_bytes().to_vec();
        garbage.push(0xff);
        assert!(matches!(
            decode_framework(&garbage),
            Err(RecordError::Info(_))
        ));
    }

    #[test]
    fn a_file_that_is_not_a_registry_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.redb");
        std::fs::write(&path, b"definitely not a database").unwrap();
        let err = Registry::open(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
}
