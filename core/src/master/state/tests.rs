//! The master's state on its own, without HTTP or modules.

use std::time::Duration;

use super::{Master, MasterSettings, COMPLETED_TASKS_KEPT};
use crate::wire::{
    codec::{decode, Encoding},
    recordio::RecordReader,
};
use crate::{
    domain::Resource,
    extension::{
        AgentEntry, Allocation, AllocatorPlugin, FrameworkEntry, ModuleCallError, Recovered,
    },
    master::AllocatorHandle,
    proto::{
        agent as ap,
        v1::{self, scheduler::call, TaskState},
    },
};

/// An allocator that offers nothing.
struct Idle;

impl AllocatorPlugin for Idle {
    fn name(&self) -> &str {
        "idle"
    }
    fn add_framework(&mut self, _: &FrameworkEntry) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn remove_framework(&mut self, _: &str) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn set_framework_active(&mut self, _: &str, _: bool) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn add_agent(&mut self, _: &AgentEntry) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn update_agent(&mut self, _: &str, _: &[Resource]) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn remove_agent(&mut self, _: &str) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn set_agent_active(&mut self, _: &str, _: bool) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn recover_resources(&mut self, _: &Recovered, _: u64) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn revive_offers(&mut self, _: &str) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn suppress_offers(&mut self, _: &str) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn allocate(&mut self, _: u64) -> Result<Vec<Allocation>, ModuleCallError> {
        Ok(Vec::new())
    }
}

fn master() -> Master {
    master_with(crate::domain::events::OBSERVER_QUEUE_BYTES)
}

/// A master whose operator streams hold `observer_queue_bytes` beyond their
/// snapshot.
fn master_with(observer_queue_bytes: usize) -> Master {
    let settings = MasterSettings {
        master_id: "test-master".into(),
        hostname: "127.0.0.1".into(),
        port: 5050,
        heartbeat_interval: Duration::from_secs(15),
        agent_ping_interval: Duration::from_secs(15),
        agent_timeout: Duration::from_secs(75),
        flags: Default::default(),
        recovery_agent_removal_limit: 1.0,
        framework_queue_bytes: crate::domain::events::FRAMEWORK_QUEUE_BYTES,
        agent_queue_bytes: crate::domain::events::AGENT_QUEUE_BYTES,
        observer_queue_bytes,
        acls: None,
    };
    let allocator = AllocatorHandle::spawn(Box::new(Idle)).expect("allocator thread starts");
    Master::new(settings, allocator, Default::default())
}

/// Subscribes a framework (checkpointing or not); returns its id.
fn framework(master: &mut Master, checkpoint: bool) -> v1::FrameworkInfo {
    let info = v1::FrameworkInfo {
        user: "tester".into(),
        name: "bounded".into(),
        checkpoint: Some(checkpoint),
        ..Default::default()
    };
    let (id, _, _) = master
        .subscribe(
            None,
            call::Subscribe {
                framework_info: info.clone(),
                ..Default::default()
            },
            None,
        )
        .expect("subscribes");
    v1::FrameworkInfo {
        id: Some(v1::FrameworkId { value: id }),
        ..info
    }
}

fn running_task(framework: &v1::FrameworkInfo, n: usize, state: TaskState) -> ap::RunningTask {
    ap::RunningTask {
        framework_info: framework.clone(),
        task: v1::TaskInfo {
            name: format!("task-{n}"),
            task_id: v1::TaskId {
                value: format!("task-{n}"),
            },
            ..Default::default()
        },
        state: state as i32,
    }
}

fn agent_reporting(tasks: Vec<ap::RunningTask>) -> ap::Subscribe {
    ap::Subscribe {
        protocol_version: 1,
        agent_info: v1::AgentInfo {
            hostname: "agent".into(),
            ..Default::default()
        },
        tasks,
        endpoint: "127.0.0.1:5051".into(),
    }
}

#[tokio::test]
async fn ended_tasks_an_agent_reports_are_kept_up_to_the_limit() {
    let mut master = master();
    let info = framework(&mut master, false);
    let reported = COMPLETED_TASKS_KEPT + 500;
    let tasks = (0..reported)
        .map(|n| running_task(&info, n, TaskState::TaskFinished))
        .collect();
    master.agent_subscribe(agent_reporting(tasks), None);

    let framework = &master.frameworks[&info.id.as_ref().unwrap().value];
    assert_eq!(framework.completed.len(), COMPLETED_TASKS_KEPT);
    let oldest = &framework
        .completed
        .iter()
        .next()
        .unwrap()
        .info
        .task_id
        .value;
    assert_eq!(oldest, &format!("task-{}", reported - COMPLETED_TASKS_KEPT));
}

#[tokio::test]
async fn tasks_lost_with_their_agent_are_kept_up_to_the_limit() {
    let mut master = master();
    let info = framework(&mut master, false);
    let tasks = (0..COMPLETED_TASKS_KEPT + 200)
        .map(|n| running_task(&info, n, TaskState::TaskRunning))
        .collect();
    let (agent_id, connection, _events) = master.agent_subscribe(agent_reporting(tasks), None);
    let framework_id = info.id.as_ref().unwrap().value.clone();
    assert_eq!(
        master.frameworks[&framework_id].tasks.len(),
        COMPLETED_TASKS_KEPT + 200
    );

    master.agent_disconnected(&agent_id, connection);

    let framework = &master.frameworks[&framework_id];
    assert!(framework.tasks.is_empty(), "every task was lost");
    assert_eq!(framework.completed.len(), COMPLETED_TASKS_KEPT);
    assert!(framework
        .completed
        .iter()
        .all(|t| t.status.state == TaskState::TaskLost as i32));
}

/// An allocator that records what the master tells it.
#[derive(Clone, Default)]
struct Recording {
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Recording {
    fn push(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl AllocatorPlugin for Recording {
    fn name(&self) -> &str {
        "recording"
    }
    fn add_framework(&mut self, f: &FrameworkEntry) -> Result<(), ModuleCallError> {
        self.push(format!(
            "add {} role={} roles={:?} capabilities={:?}",
            f.name, f.role, f.roles, f.capabilities
        ));
        Ok(())
    }
    fn remove_framework(&mut self, _: &str) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn set_framework_active(&mut self, _: &str, _: bool) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn add_agent(&mut self, _: &AgentEntry) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn update_agent(&mut self, _: &str, _: &[Resource]) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn remove_agent(&mut self, _: &str) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn set_agent_active(&mut self, _: &str, _: bool) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn recover_resources(&mut self, r: &Recovered, _: u64) -> Result<(), ModuleCallError> {
        self.push(format!(
            "returned {:?} offer={:?} task={:?} refuse={:?}",
            r.reason, r.offer_id, r.task_id, r.refuse_seconds
        ));
        Ok(())
    }
    fn revive_offers(&mut self, _: &str) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn suppress_offers(&mut self, _: &str) -> Result<(), ModuleCallError> {
        Ok(())
    }
    fn allocate(&mut self, _: u64) -> Result<Vec<Allocation>, ModuleCallError> {
        Ok(Vec::new())
    }
    fn offers_made(
        &mut self,
        offers: &[crate::extension::OfferMade],
    ) -> Result<(), ModuleCallError> {
        for o in offers {
            self.push(format!(
                "offer {} to {}",
                o.offer_id, o.allocation.framework_id
            ));
        }
        Ok(())
    }
}

/// The allocator learns each framework's name, roles and capabilities,
/// the ids of the offers made from its grants, and why resources come back.
#[tokio::test]
async fn the_allocator_is_told_who_frameworks_are_and_why_resources_return() {
    let recording = Recording::default();
    let mut master = master();
    master.allocator = AllocatorHandle::spawn(Box::new(recording.clone())).unwrap();
    let info = v1::FrameworkInfo {
        user: "tester".into(),
        name: "marathon".into(),
        roles: vec!["web".into(), "batch".into()],
        capabilities: vec![v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        }],
        ..Default::default()
    };
    let (framework_id, stream_id, _events) = master
        .subscribe(
            None,
            call::Subscribe {
                framework_info: info,
                ..Default::default()
            },
            None,
        )
        .expect("subscribes");
    let (agent_id, connection, _agent_events) =
        master.agent_subscribe(agent_reporting(vec![]), None);
    let grant = || Allocation {
        framework_id: framework_id.clone(),
        agent_id: agent_id.clone(),
        resources: vec![Resource::scalar("cpus", 1.0)],
    };
    master.apply_grants(vec![grant()]);
    let offer_id = master.frameworks[&framework_id]
        .offers
        .first()
        .unwrap()
        .clone();
    master
        .handle_call(
            &stream_id,
            v1::scheduler::Call {
                framework_id: Some(v1::FrameworkId {
                    value: framework_id.clone(),
                }),
                r#type: Some(call::Type::Decline as i32),
                decline: Some(call::Decline {
                    offer_ids: vec![v1::OfferId {
                        value: offer_id.clone(),
                    }],
                    filters: None,
                }),
                ..Default::default()
            },
        )
        .expect("declines");
    master.apply_grants(vec![grant()]);
    let second = master.frameworks[&framework_id]
        .offers
        .first()
        .unwrap()
        .clone();
    master.agent_disconnected(&agent_id, connection);
    // Every notification is in once the allocator answers a later call.
    master.allocator.allocate(0).await;
    assert_eq!(
        recording.take(),
        [
            "add marathon role=web roles=[\"web\", \"batch\"] capabilities=[\"MULTI_ROLE\"]"
                .to_owned(),
            format!("offer {offer_id} to {framework_id}"),
            format!("returned Declined offer=Some({offer_id:?}) task=None refuse=Some(5.0)"),
            format!("offer {second} to {framework_id}"),
            format!("returned Rescinded offer=Some({second:?}) task=None refuse=None"),
        ]
    );
}

#[tokio::test]
async fn an_operator_stream_that_falls_behind_is_dropped_and_one_that_reads_is_kept() {
    let mut m = master_with(64 * 1024);
    let mut slow = m.observe(Encoding::Protobuf, None);
    let mut reader = m.observe(Encoding::Json, None);
    assert_eq!(m.observer_count(), 2);
    let mut read = Vec::new();
    let mut added = 0;
    for _ in 0..1000 {
        framework(&mut m, false);
        // The reader drains its queue after every change; the slow one never.
        assert!(reader.take_ready(usize::MAX, &mut read) > 0);
        if m.observer_count() == 1 {
            break;
        }
        added += 1;
    }
    assert_eq!(
        m.observer_count(),
        1,
        "the stream nobody reads is dropped once past its bound"
    );
    assert!(added > 10, "the bound holds some events first: {added}");
    let mut got = Vec::new();
    assert!(
        !slow.recv(usize::MAX, &mut got).await,
        "the dropped stream ends"
    );
    assert!(got.is_empty(), "its queue was released at once");
    // The reader saw every FRAMEWORK_ADDED in order, as JSON records.
    let mut records = RecordReader::default();
    let read: Vec<v1::master::Event> = read
        .iter()
        .flat_map(|framed| records.push(framed).unwrap())
        .map(|r| decode(&r, Encoding::Json).unwrap())
        .collect();
    let added_ids: Vec<String> = read
        .iter()
        .map(|e| {
            let f = &e
                .framework_added
                .as_ref()
                .expect("FRAMEWORK_ADDED")
                .framework;
            f.framework_info.id.as_ref().unwrap().value.clone()
        })
        .collect();
    let known: Vec<String> = m.frameworks().keys().cloned().collect();
    assert_eq!(added_ids, known, "every framework, in the order they came");
    m.close_all();
    assert_eq!(m.observer_count(), 0);
}
