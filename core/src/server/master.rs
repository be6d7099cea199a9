//! A master serving on a listener.

use std::{future::Future, sync::Arc};

use tokio::net::TcpListener;

use crate::{
    api::master_routes,
    master::{self, MasterConfig, MasterModules},
};

/// Runs a master on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: MasterConfig,
    modules: MasterModules,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    let tls = super::tls::acceptor_for(config.tls.as_ref())?;
    let running = Arc::new(master::start(&config, modules, port).map_err(std::io::Error::other)?);
    let router = master_routes::router(running.master.clone(), &config.http, &config.auth);
    let stopping = running.clone();
    let served = super::serve::serve(
        listener,
        router,
        &config.http,
        master_routes::reserved,
        tls,
        async move {
            shutdown.await;
            stopping.stop();
        },
    )
    .await;
    running.stop();
    served
}
