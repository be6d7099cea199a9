//! The allocator module runs on a thread of its own: the master sends it
//! notifications in order, without waiting, and asks it for an allocation
//! once per cycle. Module calls never run on the async runtime.

use std::{sync::mpsc, thread};

use tokio::sync::oneshot;

use crate::extension::{
    AgentEntry, Allocation, AllocatorPlugin, FrameworkEntry, OfferMade, Recovered,
};

/// What the master tells or asks the allocator.
#[derive(Debug)]
pub enum AllocatorCommand {
    AddFramework(FrameworkEntry),
    RemoveFramework(String),
    SetFrameworkActive(String, bool),
    AddAgent(AgentEntry),
    RemoveAgent(String),
    SetAgentActive(String, bool),
    Recover(Recovered, u64),
    Revive(String),
    Suppress(String),
    Allocate(u64, oneshot::Sender<Vec<Allocation>>),
    /// The offers made from the latest allocation.
    OffersMade(Vec<OfferMade>),
}

/// The master's handle on the allocator thread.
#[derive(Debug, Clone)]
pub struct AllocatorHandle {
    tx: mpsc::Sender<AllocatorCommand>,
}

impl AllocatorHandle {
    /// Starts the thread that owns `plugin`.
    pub fn spawn(mut plugin: Box<dyn AllocatorPlugin>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<AllocatorCommand>();
        thread::Builder::new()
            .name("allocator".into())
            .spawn(move || {
                for command in rx {
                    run(plugin.as_mut(), command);
                }
            })?;
        Ok(AllocatorHandle { tx })
    }

    /// Queues a notification; the allocator applies them in order.
    pub fn send(&self, command: AllocatorCommand) {
        // The thread only stops when every handle is gone.
        let _ = self.tx.send(command);
    }

    /// Runs one allocation cycle at `now_ms`.
    pub async fn allocate(&self, now_ms: u64) -> Vec<Allocation> {
        let (reply, answer) = oneshot::channel();
        self.send(AllocatorCommand::Allocate(now_ms, reply));
        answer.await.unwrap_or_default()
    }
}

fn run(plugin: &mut dyn AllocatorPlugin, command: AllocatorCommand) {
    let result = match command {
        AllocatorCommand::AddFramework(f) => plugin.add_framework(&f),
        AllocatorCommand::RemoveFramework(id) => plugin.remove_framework(&id),
        AllocatorCommand::SetFrameworkActive(id, active) => {
            plugin.set_framework_active(&id, active)
        }
        AllocatorCommand::AddAgent(a) => plugin.add_agent(&a),
        AllocatorCommand::RemoveAgent(id) => plugin.remove_agent(&id),
        AllocatorCommand::SetAgentActive(id, active) => plugin.set_agent_active(&id, active),
        AllocatorCommand::Recover(r, now) => plugin.recover_resources(&r, now),
        AllocatorCommand::Revive(id) => plugin.revive_offers(&id),
        AllocatorCommand::Suppress(id) => plugin.suppress_offers(&id),
        AllocatorCommand::OffersMade(offers) => plugin.offers_made(&offers),
        AllocatorCommand::Allocate(now, reply) => match plugin.allocate(now) {
            Ok(grants) => {
                let _ = reply.send(grants);
                Ok(())
            }
            Err(e) => {
                let _ = reply.send(Vec::new());
                Err(e)
            }
        },
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "allocator call failed");
    }
}
