//! The master's state on its own, without HTTP or modules.

use std::time::Duration;

use super::{Master, MasterSettings, COMPLETED_TASKS_KEPT};
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
    master.agent_subscribe(agent_reporting(tasks));

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
    let (agent_id, connection, _events) = master.agent_subscribe(agent_reporting(tasks));
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
