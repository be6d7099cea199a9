//! The runtime each instance owns and connecting a ZooKeeper session.

use std::time::Duration;

use corral_module_api::{ErrorKind, ModuleError};
use zookeeper_client::{Acl, Acls, Client, CreateMode, CreateOptions, Permission};

use crate::url::ZkUrl;

/// A runtime of one thread for the instance's client: nothing async
/// crosses the ABI, and the host's runtime is not reachable from here.
pub fn runtime(name: &str) -> Result<tokio::runtime::Runtime, ModuleError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| failed(format!("cannot start the ZooKeeper client's thread: {e}")))
}

pub fn failed(message: impl Into<String>) -> ModuleError {
    ModuleError::new(ErrorKind::Failed, message.into())
}

/// Connects to `url`'s servers with `timeout` as the session timeout.
pub async fn connect(url: &ZkUrl, timeout: Duration) -> Result<Client, ModuleError> {
    let mut connector = Client::connector();
    connector.session_timeout(timeout);
    if let Some(c) = &url.credentials {
        connector.auth("digest".to_owned(), c.clone().into_bytes());
    }
    let connecting = connector.connect(&url.servers);
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(failed(format!("cannot connect to ZooKeeper at {url}: {e}"))),
        Err(_) => Err(failed(format!(
            "cannot connect to ZooKeeper at {url}: no session within {timeout:?}"
        ))),
    }
}

/// World-readable (existing Mesos clients read the election anonymously);
/// writable by anyone, or only by the authenticated user when the URL has
/// credentials.
pub fn acls(url: &ZkUrl) -> Acls<'static> {
    static READ_AUTHED_ALL: [Acl; 2] = [
        Acl::new_const(Permission::READ, "world", "anyone"),
        Acl::new_const(Permission::ALL, "auth", ""),
    ];
    if url.credentials.is_some() {
        Acls::new(&READ_AUTHED_ALL)
    } else {
        Acls::anyone_all()
    }
}

pub fn persistent(url: &ZkUrl) -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(acls(url))
}
