//! Mesos' master-detection contract, which existing clients read: the
//! `zk://[user:pass@]host:port,host:port/path` URL, the `MasterInfo` JSON a
//! master publishes in its `<path>/json.info_<10-digit sequence>` znode.
//! What talks to ZooKeeper, and the rule that the smallest sequence leads,
//! are the contender and detector modules' business
//! (`modules/master-zookeeper`); the host builds and reads these documents.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// ZooKeeper's port when a URL names none.
const DEFAULT_ZK_PORT: u16 = 2181;

/// A parsed `zk://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkUrl {
    /// `host:port`, in the order given.
    pub servers: Vec<(String, u16)>,
    /// The detection path, absolute, without a trailing slash.
    pub path: String,
    /// `user:password` for ZooKeeper's digest scheme.
    pub auth: Option<(String, String)>,
}

/// A `zk://` URL that cannot be used, saying what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZkUrlError {
    #[error("'{0}' is not a ZooKeeper URL: it must start with zk://")]
    Scheme(String),
    #[error("'{0}' names no ZooKeeper server: expected zk://host:port[,host:port...]/path")]
    NoServer(String),
    #[error("'{url}': server '{server}' has no valid port (1-65535)")]
    Port { url: String, server: String },
    #[error("'{url}': credentials must be 'user:password@' with both parts non-empty")]
    Auth { url: String },
    #[error("'{url}': the path '{path}' is not a ZooKeeper path ({why})")]
    Path {
        url: String,
        path: String,
        why: &'static str,
    },
}

impl ZkUrl {
    pub fn parse(url: &str) -> Result<ZkUrl, ZkUrlError> {
        let rest = url
            .strip_prefix("zk://")
            .ok_or_else(|| ZkUrlError::Scheme(url.to_owned()))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (auth, hosts) = match authority.rsplit_once('@') {
            Some((credentials, hosts)) => {
                let (user, password) = credentials
                    .split_once(':')
                    .filter(|(u, p)| !u.is_empty() && !p.is_empty())
                    .ok_or_else(|| ZkUrlError::Auth { url: redacted(url) })?;
                (Some((user.to_owned(), password.to_owned())), hosts)
            }
            None => (None, authority),
        };
        let mut servers = Vec::new();
        for server in hosts.split(',').filter(|s| !s.is_empty()) {
            let (host, port) = match server.rsplit_once(':') {
                Some((host, port)) => {
                    let port = port
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or_else(|| ZkUrlError::Port {
                            url: redacted(url),
                            server: server.to_owned(),
                        })?;
                    (host, port)
                }
                None => (server, DEFAULT_ZK_PORT),
            };
            if host.is_empty() {
                return Err(ZkUrlError::NoServer(redacted(url)));
            }
            servers.push((host.to_owned(), port));
        }
        if servers.is_empty() {
            return Err(ZkUrlError::NoServer(redacted(url)));
        }
        let path = path.trim_end_matches('/');
        check_path(path).map_err(|why| ZkUrlError::Path {
            url: redacted(url),
            path: path.to_owned(),
            why,
        })?;
        Ok(ZkUrl {
            servers,
            path: path.to_owned(),
            auth,
        })
    }

    /// `host:port,host:port`, as ZooKeeper clients take it.
    pub fn connect_string(&self) -> String {
        self.servers
            .iter()
            .map(|(h, p)| format!("{h}:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The URL as logs and errors may show it: without its password.
impl std::fmt::Display for ZkUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "zk://")?;
        if let Some((user, _)) = &self.auth {
            write!(f, "{user}:***@")?;
        }
        write!(f, "{}{}", self.connect_string(), self.path)
    }
}

/// A master address as logs, errors and flags may show it: a `zk://` URL
/// without its password (parsed or not), anything else as it is.
pub fn shown(url: &str) -> String {
    ZkUrl::parse(url).map_or_else(|_| redacted(url), |u| u.to_string())
}

/// `url` with any password replaced, for error messages.
fn redacted(url: &str) -> String {
    let Some(rest) = url.strip_prefix("zk://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((credentials, _)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("zk://{user}:***@{}", &rest[credentials.len() + 1..])
        }
        None => url.to_owned(),
    }
}

/// ZooKeeper's rules for a node path (and the root is not a detection
/// path: masters would share it with everything else).
fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("a path such as /corral is needed");
    }
    if path.chars().any(|c| c == '\0' || c.is_control()) {
        return Err("it holds a control character");
    }
    if path == "/zookeeper" || path.starts_with("/zookeeper/") {
        return Err("/zookeeper is ZooKeeper's own");
    }
    for part in path[1..].split('/') {
        match part {
            "" => return Err("it has an empty segment"),
            "." | ".." => return Err("'.' and '..' are not allowed"),
            _ => {}
        }
    }
    Ok(())
}

/// An IPv4 address as Mesos' `MasterInfo.ip`: its four bytes in network
/// order read as a little-endian integer (127.0.0.1 is 16777343).
pub fn mesos_ip(ip: Ipv4Addr) -> u32 {
    u32::from_le_bytes(ip.octets())
}

/// The address in a Mesos `MasterInfo.ip`.
pub fn ip_of_mesos(ip: u32) -> Ipv4Addr {
    Ipv4Addr::from(ip.to_le_bytes())
}

/// `MasterInfo` as a master publishes it in its znode, in Mesos' JSON.
/// Fields Mesos adds later (e.g. `domain`) are ignored when read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterInfo {
    pub id: String,
    pub ip: u32,
    pub port: u32,
    #[serde(default)]
    pub pid: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<MasterAddress>,
    #[serde(default)]
    pub capabilities: Vec<Capability>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterAddress {
    pub hostname: String,
    pub ip: String,
    pub port: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capability {
    #[serde(rename = "type")]
    pub kind: String,
}

impl MasterInfo {
    /// The `MasterInfo` of a master listening on `ip:port`.
    pub fn new(id: &str, ip: Ipv4Addr, port: u16, hostname: &str, version: &str) -> Self {
        MasterInfo {
            id: id.to_owned(),
            ip: mesos_ip(ip),
            port: u32::from(port),
            pid: format!("master@{ip}:{port}"),
            hostname: hostname.to_owned(),
            version: version.to_owned(),
            address: Some(MasterAddress {
                hostname: hostname.to_owned(),
                ip: ip.to_string(),
                port: u32::from(port),
            }),
            capabilities: vec![Capability {
                kind: "AGENT_UPDATE".to_owned(),
            }],
        }
    }

    /// Where the master answers HTTP: its address's hostname, else its ip.
    pub fn endpoint(&self) -> String {
        match &self.address {
            Some(a) if !a.hostname.is_empty() => format!("{}:{}", a.hostname, a.port),
            Some(a) => format!("{}:{}", a.ip, a.port),
            None => format!("{}:{}", ip_of_mesos(self.ip), self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zk_urls_parse_as_mesos_writes_them() {
        let url = ZkUrl::parse("zk://h1:2181,h2:2182/mesos").unwrap();
        assert_eq!(
            url.servers,
            [("h1".to_owned(), 2181), ("h2".to_owned(), 2182)]
        );
        assert_eq!(url.path, "/mesos");
        assert_eq!(url.connect_string(), "h1:2181,h2:2182");
        let with_auth = ZkUrl::parse("zk://ops:s3cret@10.0.0.1/corral/ha/").unwrap();
        assert_eq!(with_auth.auth, Some(("ops".into(), "s3cret".into())));
        assert_eq!(with_auth.servers, [("10.0.0.1".to_owned(), 2181)]);
        assert_eq!(with_auth.path, "/corral/ha");
        assert_eq!(
            with_auth.to_string(),
            "zk://ops:***@10.0.0.1:2181/corral/ha"
        );
    }

    #[test]
    fn bad_zk_urls_say_what_is_wrong_and_never_show_the_password() {
        for (url, says) in [
            ("http://h:2181/mesos", "must start with zk://"),
            ("zk:///mesos", "names no ZooKeeper server"),
            ("zk://h:99999/mesos", "no valid port"),
            ("zk://h:0/mesos", "no valid port"),
            ("zk://h:2181", "a path such as /corral"),
            ("zk://h:2181/", "a path such as /corral"),
            ("zk://h:2181/a//b", "empty segment"),
            ("zk://h:2181/a/../b", "'..'"),
            ("zk://h:2181/zookeeper/x", "ZooKeeper's own"),
            ("zk://:pw@h/mesos", "credentials"),
        ] {
            let e = ZkUrl::parse(url).expect_err(url).to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
        let e = ZkUrl::parse("zk://ops:s3cret@h:0/mesos")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
        for url in ["zk://ops:s3cret@h:0/mesos", "zk://ops:s3cret@h:2181/mesos"] {
            assert!(!shown(url).contains("s3cret"), "{}", shown(url));
            assert!(shown(url).starts_with("zk://ops:***@h:"), "{}", shown(url));
        }
        assert_eq!(shown("10.0.0.1:5050"), "10.0.0.1:5050");
    }

    #[test]
    fn master_info_is_mesos_json_with_its_ip_quirk() {
        let info = MasterInfo::new("m-1", Ipv4Addr::new(127, 0, 0, 1), 5050, "m1", "1.0.0");
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["ip"], 16777343);
        assert_eq!(json["pid"], "master@127.0.0.1:5050");
        assert_eq!(json["address"]["ip"], "127.0.0.1");
        assert_eq!(json["capabilities"][0]["type"], "AGENT_UPDATE");
        assert_eq!(mesos_ip(Ipv4Addr::new(10, 0, 0, 1)), 16777226);
        assert_eq!(ip_of_mesos(16777226), Ipv4Addr::new(10, 0, 0, 1));
        // What a Mesos master writes reads back, extra fields and all.
        let mesos = r#"{"id":"x","ip":16777226,"port":5050,"pid":"master@10.0.0.1:5050",
            "hostname":"","version":"1.11.0","domain":{"fault_domain":{}},
            "address":{"hostname":"","ip":"10.0.0.1","port":5050},"capabilities":[]}"#;
        let read: MasterInfo = serde_json::from_str(mesos).unwrap();
        assert_eq!(read.endpoint(), "10.0.0.1:5050");
        let bare: MasterInfo =
            serde_json::from_str(r#"{"id":"y","ip":16777343,"port":5051}"#).unwrap();
        assert_eq!(bare.endpoint(), "127.0.0.1:5051");
    }
}
