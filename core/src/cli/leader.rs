//! Following the leading master through a detector module when a master
//! is given as a `zk://` URL: the agent follows it for as long as it runs,
//! the operator commands resolve it once.

use std::{path::Path, sync::Arc, time::Duration};

use tokio::sync::watch;

use crate::{
    config::{DEFAULT_MASTER_DETECTOR, EMBEDDED_MANIFEST},
    domain::master_detection::{self, MasterInfo, ZkUrl},
    extension::{LeaderListener, MasterDetectorPlugin},
    module_host::{self, Manifest, ModuleRegistry},
};

/// Whether a master is given as a URL to detect the leader at.
pub fn is_detected(master: &str) -> bool {
    master.starts_with("zk://")
}

/// A leader followed: `host:port` of the leading master, or `None` while
/// no master leads. Following stops when this is dropped.
pub struct Followed {
    _detector: Box<dyn MasterDetectorPlugin>,
    pub leader: watch::Receiver<Option<String>>,
}

impl std::fmt::Debug for Followed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Followed")
            .field("leader", &*self.leader.borrow())
            .finish_non_exhaustive()
    }
}

struct Sink(watch::Sender<Option<String>>);

impl LeaderListener for Sink {
    fn leader_changed(&self, leader: Option<String>) {
        let endpoint = leader.and_then(|json| match serde_json::from_str::<MasterInfo>(&json) {
            Ok(info) => Some(info.endpoint()),
            Err(e) => {
                tracing::warn!(error = %e, "the leader's MasterInfo does not parse");
                None
            }
        });
        self.0.send_replace(endpoint);
    }
}

/// Starts following the leader at `url` through the detector module
/// `name` of `registry` (`source` says where the name was set).
pub async fn follow(
    registry: &ModuleRegistry,
    name: &str,
    source: &str,
    url: &str,
) -> Result<Followed, String> {
    ZkUrl::parse(url).map_err(|e| format!("{}: {e}", master_detection::shown(url)))?;
    let mut detector = registry
        .create_master_detector(name, source)
        .map_err(|e| e.to_string())?;
    let (tx, leader) = watch::channel(None);
    let url = url.to_owned();
    // Connecting blocks: off the runtime.
    let detector = tokio::task::spawn_blocking(move || {
        detector.detect(&url, Arc::new(Sink(tx))).map(|()| detector)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot find the leading master: {e}"))?;
    Ok(Followed {
        _detector: detector,
        leader,
    })
}

/// `host:port` of the master that leads at `url` now, waiting up to
/// `wait` for one; through the shipped detector of the embedded manifest.
pub async fn resolve(url: &str, wait: Duration) -> Result<String, String> {
    let manifest = Manifest::parse(
        EMBEDDED_MANIFEST,
        Path::new("<embedded>/config/modules.toml"),
        Path::new("."),
    )
    .map_err(|e| e.to_string())?;
    let (registry, errors) = module_host::load(&manifest, &module_host::default_search_paths());
    if registry.get(DEFAULT_MASTER_DETECTOR).is_none() {
        let why: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(format!(
            "cannot load the master detector module {DEFAULT_MASTER_DETECTOR}: {}",
            why.join("; ")
        ));
    }
    let mut followed = follow(&registry, DEFAULT_MASTER_DETECTOR, "--master", url).await?;
    let found = tokio::time::timeout(wait, followed.leader.wait_for(Option::is_some)).await;
    match found {
        Ok(Ok(leader)) => Ok(leader.clone().unwrap_or_default()),
        _ => Err(format!(
            "no master leads at {} (waited {wait:?})",
            master_detection::shown(url)
        )),
    }
}
