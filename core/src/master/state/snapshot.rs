//! A consistent copy of what operators read, taken under the master's lock
//! in time proportional to the frameworks and agents (tasks are shared,
//! `task_table.rs`), then read and serialized with the lock released: a
//! `/master/state` of 100k tasks no longer stops calls, updates and offers
//! while it is written.

use std::{collections::BTreeMap, sync::Arc};

use super::{FrameworkState, KnownAgent, Master, MasterSettings, OfferView};
use crate::domain::{
    events::QueueStats,
    metrics::{AllocatorStats, Counters},
    Recent,
};

/// The master as it was at one instant, for the operator views.
#[derive(Debug)]
pub struct MasterSnapshot {
    settings: MasterSettings,
    frameworks: BTreeMap<String, FrameworkState>,
    agents: BTreeMap<String, KnownAgent>,
    completed_frameworks: Recent<FrameworkState>,
    offers: Vec<OfferView>,
    counters: Counters,
    allocator_stats: Arc<AllocatorStats>,
    queue_stats: Arc<QueueStats>,
    observer_count: usize,
    ip: Option<std::net::Ipv4Addr>,
    start_time: f64,
    uptime_secs: f64,
    recovering_agent_count: usize,
    removed_agent_count: usize,
    master_info: crate::proto::v1::MasterInfo,
}

impl Master {
    /// A snapshot for reading off the lock.
    pub fn snapshot(&self) -> MasterSnapshot {
        let mut completed_frameworks = Recent::new(self.completed_frameworks.capacity());
        for f in &self.completed_frameworks {
            completed_frameworks.push(f.snapshot());
        }
        MasterSnapshot {
            settings: self.settings.clone(),
            frameworks: self
                .frameworks
                .iter()
                .map(|(id, f)| (id.clone(), f.snapshot()))
                .collect(),
            agents: self
                .agents
                .iter()
                .map(|(id, a)| (id.clone(), a.snapshot()))
                .collect(),
            completed_frameworks,
            offers: self.outstanding_offers(),
            counters: self.counters.clone(),
            allocator_stats: self.allocator_stats.clone(),
            queue_stats: self.queue_stats.clone(),
            observer_count: self.observer_count(),
            ip: self.ip,
            start_time: self.start_time,
            uptime_secs: self.uptime_secs(),
            recovering_agent_count: self.recovering.len(),
            removed_agent_count: self.removed_agents.len(),
            master_info: self.master_info(),
        }
    }
}

impl MasterSnapshot {
    pub fn settings(&self) -> &MasterSettings {
        &self.settings
    }

    pub fn frameworks(&self) -> &BTreeMap<String, FrameworkState> {
        &self.frameworks
    }

    pub fn agents(&self) -> &BTreeMap<String, KnownAgent> {
        &self.agents
    }

    /// Frameworks removed since the master started, newest last.
    pub fn completed_frameworks(&self) -> &Recent<FrameworkState> {
        &self.completed_frameworks
    }

    /// The offers outstanding.
    pub fn outstanding_offers(&self) -> Vec<OfferView> {
        self.offers.clone()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Allocation cycles (live figures, read when written).
    pub fn allocator_stats(&self) -> &Arc<AllocatorStats> {
        &self.allocator_stats
    }

    /// Every event queue's figures (live, read when written).
    pub fn queue_stats(&self) -> &QueueStats {
        &self.queue_stats
    }

    pub fn observer_count(&self) -> usize {
        self.observer_count
    }

    pub fn ip(&self) -> Option<std::net::Ipv4Addr> {
        self.ip
    }

    pub fn ip_as_mesos_u32(&self) -> u32 {
        self.ip.map_or(0, crate::domain::master_detection::mesos_ip)
    }

    pub fn master_info(&self) -> crate::proto::v1::MasterInfo {
        self.master_info.clone()
    }

    /// When the master started, in seconds since the epoch.
    pub fn start_time(&self) -> f64 {
        self.start_time
    }

    pub fn uptime_secs(&self) -> f64 {
        self.uptime_secs
    }

    pub fn recovering_agent_count(&self) -> usize {
        self.recovering_agent_count
    }

    pub fn removed_agent_count(&self) -> usize {
        self.removed_agent_count
    }
}
