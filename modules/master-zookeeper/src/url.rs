//! `zk://[user:password@]host:port[,host:port...]/path`, as Mesos takes it.

use std::fmt;

/// A parsed ZooKeeper URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ZkUrl {
    /// `host:port,host:port`.
    pub servers: String,
    /// `user:password` for ZooKeeper's `digest` scheme.
    pub credentials: Option<String>,
    /// The election's path (absolute, not the root, no trailing slash).
    pub path: String,
}

impl fmt::Debug for ZkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for ZkUrl {
    /// The URL with its password hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.credentials {
            Some(c) => {
                let user = c.split(':').next().unwrap_or_default();
                write!(f, "zk://{user}:***@{}{}", self.servers, self.path)
            }
            None => write!(f, "zk://{}{}", self.servers, self.path),
        }
    }
}

impl ZkUrl {
    pub fn parse(url: &str) -> Result<ZkUrl, String> {
        let rest = url
            .strip_prefix("zk://")
            .ok_or_else(|| "a ZooKeeper URL starts with zk://".to_owned())?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => return Err("the URL has no path (zk://host:port/path)".to_owned()),
        };
        let (credentials, servers) = match authority.rsplit_once('@') {
            Some((c, s)) if c.contains(':') => (Some(c.to_owned()), s),
            Some(_) => return Err("credentials must be user:password".to_owned()),
            None => (None, authority),
        };
        if servers.is_empty() {
            return Err("the URL names no server".to_owned());
        }
        for server in servers.split(',') {
            let port = server.rsplit_once(':').map(|(_, p)| p);
            // No port is ZooKeeper's 2181 (the client's default, as Mesos').
            let bad_port = port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0));
            if server.is_empty() || bad_port {
                return Err(format!("'{server}' is not host:port"));
            }
        }
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            return Err("the path must not be the root".to_owned());
        }
        if path
            .split('/')
            .skip(1)
            .any(|c| c.is_empty() || c == "." || c == "..")
            || path.chars().any(char::is_control)
        {
            return Err(format!("'{path}' is not a ZooKeeper path"));
        }
        if path == "/zookeeper" || path.starts_with("/zookeeper/") {
            return Err("/zookeeper is ZooKeeper's own".to_owned());
        }
        Ok(ZkUrl {
            servers: servers.to_owned(),
            credentials,
            path: path.to_owned(),
        })
    }

    /// Where the registry lives: a sibling of the election's path, so that
    /// the election's path holds nothing but candidacies (clients take its
    /// smallest child as the leader).
    pub fn registry_root(&self) -> String {
        format!("{}-registry", self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_as_mesos_writes_them_and_bad_ones_say_why() {
        let u = ZkUrl::parse("zk://alice:s3cret@h1:2181,h2:2182/mesos/corral/").unwrap();
        assert_eq!(u.servers, "h1:2181,h2:2182");
        assert_eq!(u.credentials.as_deref(), Some("alice:s3cret"));
        assert_eq!(u.path, "/mesos/corral");
        assert_eq!(u.registry_root(), "/mesos/corral-registry");
        assert_eq!(u.to_string(), "zk://alice:***@h1:2181,h2:2182/mesos/corral");
        assert!(!format!("{u:?}").contains("s3cret"));
        for (bad, why) in [
            ("http://h:1/p", "zk://"),
            ("zk://h:1", "no path"),
            ("zk://h:1/", "root"),
            ("zk:///p", "no server"),
            ("zk://h:x/p", "host:port"),
            ("zk://h:0/p", "host:port"),
            ("zk://h:1/zookeeper/p", "ZooKeeper's own"),
            ("zk://h:1/a//b", "not a ZooKeeper path"),
            ("zk://bob@h:1/p", "user:password"),
        ] {
            let e = ZkUrl::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
