//! The detector: follows the election's children and reports the leader's
//! `MasterInfo` whenever it changes.

use std::time::Duration;

use corral_module_api::{
    guest::{MasterDetectorModule, Params},
    master::LeaderNotifier,
    Host, ModuleError, RNone, RSome, RString,
};
use zookeeper_client::{Client, Error as ZkError, OneshotWatcher};

use crate::{
    election::leader_of,
    session::{self, connect},
    url::ZkUrl,
};

pub struct ZkDetector {
    timeout: Duration,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for ZkDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZkDetector")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl MasterDetectorModule for ZkDetector {
    fn parameters() -> Option<Vec<corral_module_api::ParamSpec>> {
        Some(crate::parameters())
    }

    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        Ok(ZkDetector {
            timeout: crate::session_timeout(params)?,
            runtime: None,
        })
    }

    fn detect(&mut self, url: &str, listener: LeaderNotifier) -> Result<(), ModuleError> {
        let url = ZkUrl::parse(url).map_err(|e| session::failed(format!("{url}: {e}")))?;
        let runtime = session::runtime("corral-zk-detector")?;
        let client = runtime.block_on(connect(&url, self.timeout))?;
        runtime.spawn(follow(client, url, self.timeout, listener));
        self.runtime = Some(runtime);
        Ok(())
    }
}

/// Reports the leader until the instance is dropped, reconnecting when the
/// session ends.
async fn follow(mut client: Client, url: ZkUrl, timeout: Duration, listener: LeaderNotifier) {
    let mut reported: Option<Option<String>> = None;
    let mut report = |leader: Option<String>| {
        if reported.as_ref() != Some(&leader) {
            tracing::info!(
                leader = leader.as_deref().unwrap_or("none"),
                "leading master"
            );
            listener.leader_changed(match &leader {
                Some(json) => RSome(RString::from(json.as_str())),
                None => RNone,
            });
            reported = Some(leader);
        }
    };
    loop {
        match leader_and_watch(&client, &url.path).await {
            Ok((leader, watcher)) => {
                report(leader);
                if let Some(watcher) = watcher {
                    watcher.changed().await;
                }
            }
            Err(e) if client.state().is_terminated() => {
                tracing::warn!(error = %e, "ZooKeeper session over; reconnecting");
                report(None);
                client = reconnect(&url, timeout).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the election; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn reconnect(url: &ZkUrl, timeout: Duration) -> Client {
    loop {
        match connect(url, timeout).await {
            Ok(c) => return c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot reconnect to ZooKeeper");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The current leader and a watcher that fires when it may have changed
/// (none: look again at once).
async fn leader_and_watch(
    client: &Client,
    path: &str,
) -> Result<(Option<String>, Option<OneshotWatcher>), ZkError> {
    match client.list_and_watch_children(path).await {
        Ok((children, watcher)) => {
            let Some(node) = leader_of(children.iter().map(String::as_str)) else {
                return Ok((None, Some(watcher)));
            };
            match client.get_data(&format!("{path}/{node}")).await {
                Ok((data, _)) => Ok((
                    Some(String::from_utf8_lossy(&data).into_owned()),
                    Some(watcher),
                )),
                // Gone between the listing and the read: look again.
                Err(ZkError::NoNode) => Ok((None, None)),
                Err(e) => Err(e),
            }
        }
        // No master has ever run here: wait for the path to appear.
        Err(ZkError::NoNode) => match client.check_and_watch_stat(path).await {
            Ok((None, watcher)) => Ok((None, Some(watcher))),
            Ok((Some(_), _)) => Ok((None, None)),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    }
}
