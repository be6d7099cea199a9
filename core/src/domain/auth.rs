//! Who may call: credentials in Mesos' formats, checked in constant time,
//! and the per-executor tokens an agent derives from a secret of its own.
//!
//! - `--credentials` (master; agent `http_credentials`):
//!   `{"credentials": [{"principal": "p", "secret": "s"}, ...]}`, or Mesos'
//!   text form, one `principal secret` pair per line.
//! - `--credential` (an agent's own): `{"principal": "p", "secret": "s"}`,
//!   or one `principal secret` line.
//!
//! Secrets never appear in `Debug` output, logs or errors.

use std::{collections::BTreeMap, fmt, path::Path};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A credential file that cannot be used, naming the file and why.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read the credentials file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the credentials file {path} is neither Mesos' JSON ({json}) nor 'principal secret' lines"
    )]
    Format { path: String, json: String },
    #[error("the credentials file {path} holds no credential")]
    Empty { path: String },
    #[error("the credentials file {path} has an empty principal or secret (entry {entry})")]
    EmptyField { path: String, entry: usize },
    #[error("the credentials file {path} names principal '{principal}' twice")]
    Duplicate { path: String, principal: String },
}

/// One principal and its secret.
#[derive(Clone, Deserialize, PartialEq, Eq)]
pub struct Credential {
    pub principal: String,
    pub secret: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("principal", &self.principal)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct CredentialsFile {
    credentials: Vec<Credential>,
}

/// The principals that may authenticate, with their secrets.
#[derive(Clone, Default)]
pub struct Credentials {
    by_principal: BTreeMap<String, String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("principals", &self.by_principal.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `principal secret` lines (blank lines and `#` comments skipped).
fn text_pairs(text: &str) -> Option<Vec<Credential>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let (principal, secret) = (parts.next()?, parts.next()?);
            parts.next().is_none().then(|| Credential {
                principal: principal.to_owned(),
                secret: secret.to_owned(),
            })
        })
        .collect()
}

impl Credentials {
    /// Reads a credentials file (blocking: at start only).
    pub fn load(path: &Path) -> Result<Credentials, CredentialsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
            path: shown.clone(),
            source,
        })?;
        Credentials::parse(&text, &shown)
    }

    /// Credentials from the text of the file `path` (named in errors).
    pub fn parse(text: &str, path: &str) -> Result<Credentials, CredentialsError> {
        let list = if text.trim_start().starts_with('{') {
            serde_json::from_str::<CredentialsFile>(text)
                .map_err(|e| CredentialsError::Format {
                    path: path.to_owned(),
                    json: e.to_string(),
                })?
                .credentials
        } else {
            text_pairs(text).ok_or_else(|| CredentialsError::Format {
                path: path.to_owned(),
                json: "not JSON".to_owned(),
            })?
        };
        if list.is_empty() {
            return Err(CredentialsError::Empty {
                path: path.to_owned(),
            });
        }
        let mut by_principal = BTreeMap::new();
        for (entry, c) in list.into_iter().enumerate() {
            if c.principal.is_empty() || c.secret.is_empty() {
                return Err(CredentialsError::EmptyField {
                    path: path.to_owned(),
                    entry,
                });
            }
            if by_principal.insert(c.principal.clone(), c.secret).is_some() {
                return Err(CredentialsError::Duplicate {
                    path: path.to_owned(),
                    principal: c.principal,
                });
            }
        }
        Ok(Credentials { by_principal })
    }

    /// Whether `secret` is `principal`'s (compared in constant time).
    pub fn verify(&self, principal: &str, secret: &str) -> bool {
        match self.by_principal.get(principal) {
            Some(known) => bool::from(known.as_bytes().ct_eq(secret.as_bytes())),
            None => {
                // As long as a wrong secret for a known principal.
                let _ = secret.as_bytes().ct_eq(secret.as_bytes());
                false
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_principal.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_principal.is_empty()
    }
}

impl Credential {
    /// Reads an agent's own credential file (blocking: at start only).
    pub fn load(path: &Path) -> Result<Credential, CredentialsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
            path: shown.clone(),
            source,
        })?;
        let c = if text.trim_start().starts_with('{') {
            serde_json::from_str::<Credential>(&text).map_err(|e| CredentialsError::Format {
                path: shown.clone(),
                json: e.to_string(),
            })?
        } else {
            let mut pairs = text_pairs(&text).ok_or_else(|| CredentialsError::Format {
                path: shown.clone(),
                json: "not JSON".to_owned(),
            })?;
            if pairs.len() != 1 {
                return Err(CredentialsError::Empty { path: shown });
            }
            pairs.remove(0)
        };
        if c.principal.is_empty() || c.secret.is_empty() {
            return Err(CredentialsError::EmptyField {
                path: shown,
                entry: 0,
            });
        }
        Ok(c)
    }
}

/// Which switch guards a route group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The scheduler API (`authenticate_frameworks`).
    Frameworks,
    /// The agent protocol (`authenticate_agents`).
    Agents,
    /// Endpoints that read (`authenticate_http_readonly`).
    ReadOnly,
    /// Endpoints that change something (`authenticate_http_readwrite`).
    ReadWrite,
    /// Health checks and the like: never required.
    Open,
}

/// A daemon's authentication settings.
#[derive(Debug, Clone, Default)]
pub struct HttpAuth {
    pub credentials: Option<std::sync::Arc<Credentials>>,
    pub frameworks: bool,
    pub agents: bool,
    pub http_readonly: bool,
    pub http_readwrite: bool,
}

impl HttpAuth {
    pub fn required(&self, surface: Surface) -> bool {
        match surface {
            Surface::Frameworks => self.frameworks,
            Surface::Agents => self.agents,
            Surface::ReadOnly => self.http_readonly,
            Surface::ReadWrite => self.http_readwrite,
            Surface::Open => false,
        }
    }

    /// Whether any surface needs credentials.
    pub fn any(&self) -> bool {
        self.frameworks || self.agents || self.http_readonly || self.http_readwrite
    }
}

/// A daemon's certificate chain and key (PEM) for serving HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// An agent's key for executor tokens: a token is an HMAC of the executor's
/// framework and id, so the agent keeps no table of them and they survive
/// its restart (the key is kept in its work directory).
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl TokenKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        TokenKey(bytes)
    }

    fn mac(&self, framework_id: &str, executor_id: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any size");
        mac.update(framework_id.as_bytes());
        mac.update(&[0]);
        mac.update(executor_id.as_bytes());
        mac
    }

    /// The token of executor `executor_id` of `framework_id` (hex).
    pub fn token(&self, framework_id: &str, executor_id: &str) -> String {
        hex(&self.mac(framework_id, executor_id).finalize().into_bytes())
    }

    /// Whether `token` is that executor's (compared in constant time).
    pub fn verify(&self, token: &str, framework_id: &str, executor_id: &str) -> bool {
        let expected = self.token(framework_id, executor_id);
        bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesos_json_and_text_credentials_are_read_and_checked() {
        let json = r#"{"credentials": [{"principal": "marathon", "secret": "s3cret"},
                                        {"principal": "ops", "secret": "another"}]}"#;
        let c = Credentials::parse(json, "creds.json").unwrap();
        assert_eq!(c.len(), 2);
        assert!(c.verify("marathon", "s3cret"));
        assert!(!c.verify("marathon", "another"));
        assert!(!c.verify("nobody", "s3cret"));
        let text =
            Credentials::parse("# comment\nmarathon s3cret\n\nops another\n", "creds").unwrap();
        assert!(text.verify("ops", "another"));
        assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
    }

    #[test]
    fn bad_credentials_files_are_refused_naming_the_file() {
        for (text, want) in [
            (r#"{"credentials": []}"#, "holds no credential"),
            (
                r#"{"credentials": [{"principal": "", "secret": "x"}]}"#,
                "empty principal",
            ),
            (
                r#"{"credentials": [{"principal": "a", "secret": "x"}, {"principal": "a", "secret": "y"}]}"#,
                "twice",
            ),
            ("just-one-word", "neither"),
            (r#"{"credentials": [{"principal": "a"}]}"#, "missing field"),
        ] {
            let e = Credentials::parse(text, "/etc/corral/creds").unwrap_err();
            let message = e.to_string();
            assert!(message.contains("/etc/corral/creds"), "{message}");
            assert!(message.contains(want), "{text}: {message}");
        }
    }

    #[test]
    fn an_executor_token_is_its_own_and_no_other() {
        let key = TokenKey::new([7; 32]);
        let t = key.token("F1", "E1");
        assert_eq!(t.len(), 64);
        assert!(key.verify(&t, "F1", "E1"));
        assert!(!key.verify(&t, "F1", "E2"));
        assert!(!key.verify(&t, "F2", "E1"));
        assert!(!TokenKey::new([8; 32]).verify(&t, "F1", "E1"));
        assert!(!format!("{key:?}").contains('7'));
    }
}
