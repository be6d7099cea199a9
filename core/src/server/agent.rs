//! An agent serving on a listener.

use std::future::Future;

use tokio::net::TcpListener;

use crate::{
    agent::{self, AgentConfig, AgentModules},
    api::agent_routes,
};

/// Runs an agent on `listener` until `shutdown` completes; its executors
/// are then killed.
pub async fn run(
    listener: TcpListener,
    config: AgentConfig,
    modules: AgentModules,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    let tls = super::tls::acceptor_for(config.tls.as_ref())?;
    let running = std::sync::Arc::new(agent::start(config, modules, port).await?);
    let router = agent_routes::router(running.agent.clone());
    let stopping = running.clone();
    let limits = running.agent.config.http.clone();
    let served = super::serve::serve(
        listener,
        router,
        &limits,
        agent_routes::reserved,
        tls,
        async move {
            shutdown.await;
            stopping.stop().await;
        },
    )
    .await;
    running.stop().await;
    served
}
