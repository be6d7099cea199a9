//! Leader election, master detection and the master's registry in
//! ZooKeeper, written the way Mesos writes them so that existing Mesos
//! clients find the leader: `<path>/json.info_<sequence>` znodes holding
//! `MasterInfo` JSON, the smallest sequence leading. The registry lives
//! beside the election, under `<path>-registry`.

mod contender;
mod detector;
mod election;
mod keys;
mod session;
mod url;

use std::time::Duration;

use corral_module_api::{
    guest::{master_contender, master_detector, Params},
    ErrorKind, ModuleError, ParamKind, ParamSpec,
};

pub use contender::ZkContender;
pub use detector::ZkDetector;

/// Mesos' default `--zk_session_timeout`.
const DEFAULT_SESSION_TIMEOUT_SECS: f64 = 10.0;

fn parameters() -> Vec<ParamSpec> {
    vec![ParamSpec::new(
        "session_timeout_secs",
        ParamKind::Number,
        "the ZooKeeper session timeout, seconds (Mesos' --zk_session_timeout, default 10)",
    )]
}

fn session_timeout(params: &Params) -> Result<Duration, ModuleError> {
    let secs = params
        .parse::<f64>("session_timeout_secs")?
        .unwrap_or(DEFAULT_SESSION_TIMEOUT_SECS);
    if !(0.5..=3600.0).contains(&secs) {
        return Err(ModuleError::new(
            ErrorKind::InvalidParameters,
            format!("session_timeout_secs must be between 0.5 and 3600, not {secs}"),
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

corral_module_api::export_modules![
    master_contender::<ZkContender>(
        "org_corral_master_zookeeper_contender",
        "joins the election of masters in ZooKeeper and keeps the registry there",
    ),
    master_detector::<ZkDetector>(
        "org_corral_master_zookeeper_detector",
        "finds the leading master in ZooKeeper, as Mesos clients do",
    ),
];
