//! One of several masters (`--zk`): joins the election through the
//! contender module and follows the leader through the detector module.
//! Until elected it answers as a follower (`api::follower_routes`); once
//! elected it reads the registry from the election's store and serves as
//! a master recovering from a failover. Losing the candidacy, or letting
//! the leadership lease run out, ends the process at once, as Mesos'
//! masters do ("lost leadership, committing suicide"): a restarted master
//! joins as a follower, and no two masters ever act as leader.

use std::{
    future::Future,
    net::Ipv4Addr,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use axum::{extract::Request, response::IntoResponse, Router};
use tokio::{net::TcpListener, sync::mpsc};
use tower::ServiceExt;

use crate::{
    api::{follower_routes, master_routes},
    domain::{
        lease::{self, Lease},
        master_detection::{self, MasterInfo},
    },
    extension::{ElectionListener, LeaderListener, MasterContenderPlugin, MasterDetectorPlugin},
    master::{self, MasterConfig, MasterModules},
};

/// The election a master joins, and the modules it joins it through.
pub struct Election {
    /// `zk://...` as given.
    pub url: String,
    pub contender: Box<dyn MasterContenderPlugin>,
    pub detector: Box<dyn MasterDetectorPlugin>,
}

impl std::fmt::Debug for Election {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Election")
            .field("contender", &self.contender.name())
            .field("detector", &self.detector.name())
            .finish_non_exhaustive()
    }
}

/// How long an elected master waits for its first lease before serving.
const FIRST_LEASE_WAIT: Duration = Duration::from_secs(30);
/// How often the watchdog looks at the lease.
const WATCHDOG_EVERY: Duration = Duration::from_millis(10);

/// Ends the process: leadership (or the candidacy) is over.
fn commit_suicide(why: &str) -> ! {
    tracing::error!(
        reason = why,
        "lost leadership or candidacy: exiting so that no two masters act"
    );
    eprintln!("corral master: {why}: exiting (a restarted master joins as a follower)");
    std::process::exit(1)
}

struct ElectionSink {
    elected: mpsc::Sender<()>,
    lease: &'static Lease,
}

impl ElectionListener for ElectionSink {
    fn elected(&self) {
        let _ = self.elected.try_send(());
    }
    fn confirmed(&self, valid_for: Duration) {
        self.lease.extend(valid_for);
    }
    fn lost(&self, reason: &str) {
        self.lease.revoke();
        commit_suicide(reason);
    }
}

struct LeaderSink(Arc<follower_routes::FollowerView>);

impl LeaderListener for LeaderSink {
    fn leader_changed(&self, leader: Option<String>) {
        let info = leader.and_then(|json| match serde_json::from_str::<MasterInfo>(&json) {
            Ok(info) => Some(info),
            Err(e) => {
                tracing::warn!(error = %e, "the leader's MasterInfo does not parse; treating it as no leader");
                None
            }
        });
        match &info {
            Some(l) => tracing::info!(leader = %l.pid, "leading master detected"),
            None => tracing::info!("no leading master"),
        }
        *self
            .0
            .leader
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = info;
    }
}

/// The IPv4 address this master advertises: its hostname when that is an
/// address, else the one it listens on, else loopback.
fn advertised_ip(hostname: &str, listening: std::net::IpAddr) -> Ipv4Addr {
    hostname
        .parse::<Ipv4Addr>()
        .ok()
        .or(match listening {
            std::net::IpAddr::V4(ip) if !ip.is_unspecified() => Some(ip),
            _ => None,
        })
        .unwrap_or(Ipv4Addr::LOCALHOST)
}

/// Runs one of several masters on `listener` until `shutdown` completes
/// (or leadership is lost, which ends the process).
pub async fn run(
    listener: TcpListener,
    config: MasterConfig,
    modules: MasterModules,
    election: Election,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let port = local.port();
    let tls = super::tls::acceptor_for(config.tls.as_ref())?;
    let master_id = uuid::Uuid::new_v4().to_string();
    let ip = advertised_ip(&config.hostname, local.ip());
    let me = MasterInfo::new(&master_id, ip, port, &config.hostname, crate::VERSION);
    let me_json = serde_json::to_string(&me).map_err(std::io::Error::other)?;
    let shown_url = master_detection::shown(&election.url);
    let view = Arc::new(follower_routes::FollowerView {
        me: me.clone(),
        leader: RwLock::new(None),
        flags: serde_json::json!({"flags": {
            "zk": shown_url,
            "hostname": config.hostname,
            "port": port.to_string(),
            "version": crate::VERSION,
        }}),
    });

    let lease = lease::install();
    let (elected_tx, mut elected_rx) = mpsc::channel(1);
    let Election {
        url,
        contender,
        mut detector,
    } = election;
    let contender = Arc::new(Mutex::new(contender));
    let _detector = {
        let (url, view) = (url.clone(), view.clone());
        let detector_ready = tokio::task::spawn_blocking(move || {
            detector
                .detect(&url, Arc::new(LeaderSink(view)))
                .map(|()| detector)
        });
        // Kept until the master stops: dropping it stops following.
        detector_ready
            .await
            .map_err(std::io::Error::other)?
            .map_err(|e| std::io::Error::other(format!("cannot follow the election: {e}")))?
    };
    {
        let (url, contender, sink) = (
            url.clone(),
            contender.clone(),
            Arc::new(ElectionSink {
                elected: elected_tx,
                lease,
            }),
        );
        tokio::task::spawn_blocking(move || {
            master::lock_contender(&contender).contend(&url, &me_json, sink)
        })
        .await
        .map_err(std::io::Error::other)?
        .map_err(|e| std::io::Error::other(format!("cannot join the election: {e}")))?;
    }
    tracing::info!(url = %shown_url, id = %master_id, port, "joined the election of masters; following until elected");

    let current = Arc::new(RwLock::new(follower_routes::router(
        view.clone(),
        &config.auth,
    )));
    let dispatch = {
        let current = current.clone();
        move |request: Request| {
            let router = current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            async move { router.oneshot(request).await.into_response() }
        }
    };
    let outer = Router::new().fallback(dispatch);

    let running: Arc<Mutex<Option<Arc<master::Running>>>> = Arc::default();
    let http = config.http.clone();
    let lead = {
        let (running, current, contender, view) = (
            running.clone(),
            current.clone(),
            contender.clone(),
            view.clone(),
        );
        async move {
            if elected_rx.recv().await.is_none() {
                return Ok::<(), std::io::Error>(());
            }
            let waited = std::time::Instant::now();
            while !lease.acting() {
                if waited.elapsed() > FIRST_LEASE_WAIT {
                    commit_suicide("elected, but the session was never confirmed");
                }
                tokio::time::sleep(WATCHDOG_EVERY).await;
            }
            std::thread::Builder::new()
                .name("leader-lease".into())
                .spawn(move || loop {
                    if !lease.acting() {
                        commit_suicide("the leadership lease ran out (no word from ZooKeeper)");
                    }
                    std::thread::sleep(WATCHDOG_EVERY);
                })?;
            let started = std::time::Instant::now();
            let registry =
                tokio::task::spawn_blocking(move || master::registry::Registry::elected(contender))
                    .await
                    .map_err(std::io::Error::other)?
                    .map_err(std::io::Error::other)?;
            tracing::info!(
                agents = registry.1.agents.len(),
                frameworks = registry.1.frameworks.len(),
                read_in_ms = started.elapsed().as_millis() as u64,
                "elected leading master: registry read, recovering"
            );
            *view
                .leader
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(view.me.clone());
            let started = Arc::new(
                master::start_with(&config, modules, port, master_id, Some(registry))
                    .map_err(std::io::Error::other)?,
            );
            *current
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                master_routes::router(started.master.clone(), &config.http, &config.auth);
            *running
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(started);
            Ok(())
        }
    };
    let leading = tokio::spawn(async move {
        if let Err(e) = lead.await {
            commit_suicide(&format!("cannot take over as leader: {e}"));
        }
    });
    let stopping = running.clone();
    let served = super::serve::serve(
        listener,
        outer,
        &http,
        master_routes::reserved,
        tls,
        async move {
            shutdown.await;
            if let Some(r) = stopping
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .as_ref()
            {
                r.stop();
            }
        },
    )
    .await;
    leading.abort();
    if let Some(r) = running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
    {
        r.stop();
    }
    if let Err(e) = master::lock_contender(&contender).withdraw() {
        tracing::warn!(error = %e, "cannot leave the election cleanly (the session's end removes the candidacy)");
    }
    served
}
