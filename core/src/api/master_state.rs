//! The master's operator views in Mesos' JSON shapes (`/master/state`,
//! `/master/frameworks`, `/master/slaves`, `/master/tasks`,
//! `/master/flags`, `/metrics/snapshot`), built from a locked [`MasterSnapshot`].

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::{
    domain::{
        convert::resources_from_proto,
        metrics::{live_metric, terminal_metric, usage_figures},
        status::{is_terminal, state_of},
        Resource, ResourceBag, ResourceValue,
    },
    master::{FrameworkState, MasterSnapshot, OfferView, TaskEntry},
    proto::v1::TaskState,
};

/// Resources as Mesos' v0 endpoints write them: an object with scalars
/// summed (always `cpus`, `gpus`, `mem`, `disk`), ranges and sets as strings.
pub fn resources_object(list: &[Resource]) -> Value {
    serde_json::to_value(resources_view(list)).expect("resources are valid JSON")
}

/// A task in Mesos' JSON shape, serialized straight from the master's
/// state (a `/master/state` of 100k tasks built as a `serde_json::Value`
/// tree spent seconds allocating).
#[derive(Debug, Serialize)]
struct TaskView<'a> {
    id: &'a str,
    name: &'a str,
    framework_id: &'a str,
    /// Mesos leaves this empty for tasks of the command executor.
    executor_id: &'a str,
    slave_id: &'a str,
    state: &'static str,
    resources: ResourcesView,
    /// The role its resources are allocated to (its framework's).
    role: &'a str,
    /// The statuses it went through, oldest first (its latest alone when
    /// none came from its agent yet).
    statuses: Vec<StatusView<'a>>,
    labels: Vec<LabelView>,
}

#[derive(Debug, Serialize)]
struct StatusView<'a> {
    state: &'static str,
    timestamp: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container_status: Option<ContainerStatusView<'a>>,
}

/// `{"container_id": {"value": ...}}`, as Mesos writes a status's container.
#[derive(Debug, Serialize)]
struct ContainerStatusView<'a> {
    container_id: IdView<'a>,
}

#[derive(Debug, Serialize)]
struct IdView<'a> {
    value: &'a str,
}

#[derive(Debug, Serialize)]
struct LabelView {
    key: String,
    value: String,
}

/// Resources as `resources_object` writes them.
type ResourcesView = BTreeMap<String, Amount>;

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Amount {
    Number(f64),
    Text(String),
}

fn resources_view(list: &[Resource]) -> ResourcesView {
    let mut map: ResourcesView = ["cpus", "gpus", "mem", "disk"]
        .into_iter()
        .map(|name| (name.to_owned(), Amount::Number(0.0)))
        .collect();
    for r in ResourceBag::new(list).to_list() {
        let value = match r.value {
            ResourceValue::Scalar(v) => match map.get(&r.name) {
                Some(Amount::Number(sum)) => Amount::Number(sum + v),
                _ => Amount::Number(v),
            },
            ResourceValue::Ranges(_) | ResourceValue::Set(_) => Amount::Text(r.value.to_string()),
        };
        map.insert(r.name, value);
    }
    map
}

impl<'a> StatusView<'a> {
    fn of(status: &'a crate::proto::v1::TaskStatus) -> Self {
        use crate::proto::v1::task_status::{Reason, Source};
        StatusView {
            state: state_of(status).as_str_name(),
            timestamp: status.timestamp.unwrap_or_default(),
            message: status.message.as_deref(),
            source: status
                .source
                .and_then(|s| Source::try_from(s).ok())
                .map(|s| s.as_str_name()),
            reason: status
                .reason
                .and_then(|r| Reason::try_from(r).ok())
                .map(|r| r.as_str_name()),
            container_status: status
                .container_status
                .as_ref()
                .and_then(|c| c.container_id.as_ref())
                .map(|id| ContainerStatusView {
                    container_id: IdView { value: &id.value },
                }),
        }
    }
}

impl<'a> TaskView<'a> {
    fn of(task: &'a TaskEntry, role: &'a str) -> Self {
        let state = state_of(&task.status).as_str_name();
        TaskView {
            id: &task.info.task_id.value,
            name: &task.info.name,
            framework_id: &task.framework_id,
            executor_id: task
                .info
                .executor
                .as_ref()
                .map_or("", |e| e.executor_id.value.as_str()),
            slave_id: &task.agent_id,
            state,
            resources: resources_view(&task.resources),
            role,
            statuses: if task.history.is_empty() {
                vec![StatusView::of(&task.status)]
            } else {
                task.history.iter().map(StatusView::of).collect()
            },
            labels: crate::domain::convert::labels_from_proto(task.info.labels.as_ref())
                .into_iter()
                .map(|kv| LabelView {
                    key: kv.key,
                    value: kv.value,
                })
                .collect(),
        }
    }
}

pub fn task_json(task: &TaskEntry, role: &str) -> Value {
    serde_json::to_value(TaskView::of(task, role)).expect("a task view is valid JSON")
}

pub(super) fn live_resources<'a>(tasks: impl Iterator<Item = &'a TaskEntry>) -> Vec<Resource> {
    tasks
        .filter(|t| !is_terminal(state_of(&t.status)))
        .flat_map(|t| t.resources.iter().cloned())
        .collect()
}

/// Offers and live tasks grouped by framework and by agent, gathered in
/// one pass each, so a view of every agent or framework costs what the
/// cluster holds rather than agents × tasks.
#[derive(Default)]
pub(super) struct Index {
    pub offers_by_framework: HashMap<String, Vec<OfferView>>,
    pub offered_by_agent: HashMap<String, Vec<Resource>>,
    pub used_by_agent: HashMap<String, Vec<Resource>>,
}

impl Index {
    pub fn new(master: &MasterSnapshot) -> Index {
        let mut index = Index::default();
        for offer in master.outstanding_offers() {
            index
                .offered_by_agent
                .entry(offer.agent_id.clone())
                .or_default()
                .extend(offer.resources.iter().cloned());
            index
                .offers_by_framework
                .entry(offer.framework_id.clone())
                .or_default()
                .push(offer);
        }
        for task in master.frameworks().values().flat_map(|f| f.tasks.values()) {
            if !is_terminal(state_of(&task.status)) {
                index
                    .used_by_agent
                    .entry(task.agent_id.clone())
                    .or_default()
                    .extend(task.resources.iter().cloned());
            }
        }
        index
    }
}

/// What a caller may see (`view_frameworks`, `view_tasks`): everything
/// without ACLs.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    acls: Option<&'a crate::domain::acls::Acls>,
    principal: Option<&'a str>,
}

impl<'a> Viewer<'a> {
    pub fn new(master: &'a MasterSnapshot, principal: Option<&'a str>) -> Self {
        Viewer {
            acls: master.settings().acls.as_deref(),
            principal,
        }
    }

    pub fn framework(&self, f: &FrameworkState) -> bool {
        crate::domain::acls::allowed(
            self.acls,
            crate::domain::acls::Action::ViewFramework,
            self.principal,
            &f.info.user,
        )
    }

    /// An executor runs as its command's user, else its framework's.
    pub fn executor(&self, f: &FrameworkState, e: &crate::proto::v1::ExecutorInfo) -> bool {
        let user = crate::domain::convert::executor_user(e, &f.info.user);
        crate::domain::acls::allowed(
            self.acls,
            crate::domain::acls::Action::ViewExecutor,
            self.principal,
            &user,
        )
    }

    /// A task runs as its command's user, else its executor's, else its
    /// framework's.
    pub fn task(&self, f: &FrameworkState, t: &TaskEntry) -> bool {
        let Some(acls) = self.acls else {
            return true;
        };
        let user = crate::domain::convert::task_user(&t.info, None, &f.info.user);
        acls.allows(crate::domain::acls::Action::ViewTask, self.principal, &user)
    }
}

/// A framework: its small fields as JSON, its tasks serialized directly.
#[derive(Debug, Serialize)]
pub struct FrameworkView<'a> {
    #[serde(flatten)]
    head: Map<String, Value>,
    tasks: Vec<TaskView<'a>>,
    completed_tasks: Vec<TaskView<'a>>,
}

fn framework_view<'a>(
    index: &Index,
    f: &'a FrameworkState,
    viewer: Viewer<'_>,
) -> FrameworkView<'a> {
    let own_offers = index
        .offers_by_framework
        .get(&f.id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let offers: Vec<Value> = own_offers
        .iter()
        .map(|o| {
            json!({"id": o.id, "framework_id": o.framework_id, "slave_id": o.agent_id,
                   "allocation_info": {"role": f.role},
                   "resources": resources_object(&o.resources)})
        })
        .collect();
    let offered: Vec<Resource> = own_offers
        .iter()
        .flat_map(|o| o.resources.iter().cloned())
        .collect();
    let used = live_resources(f.tasks.values());
    let head = json!({
        "id": f.id,
        "name": f.info.name,
        "user": f.info.user,
        "hostname": f.info.hostname.clone().unwrap_or_default(),
        "role": f.role,
        "roles": if f.info.roles.is_empty() { vec![f.role.clone()] } else { f.info.roles.clone() },
        "capabilities": capability_names(&f.info),
        "registered_time": f.registered_time,
        // Mesos writes 0 while the framework is registered.
        "unregistered_time": 0.0,
        "principal": f.info.principal.clone().unwrap_or_default(),
        "webui_url": f.info.webui_url.clone().unwrap_or_default(),
        "failover_timeout": f.info.failover_timeout.unwrap_or(0.0),
        "checkpoint": f.info.checkpoint.unwrap_or(false),
        "active": f.connected(),
        "connected": f.connected(),
        "recovered": false,
        "used_resources": resources_object(&used),
        "resources": resources_object(&used),
        "offered_resources": resources_object(&offered),
        "unreachable_tasks": [],
        "offers": offers,
        "executors": executors_json(f, viewer),
    });
    let Value::Object(mut head) = head else {
        unreachable!("json! of an object is an object")
    };
    if let Some(t) = f.reregistered_time {
        head.insert("reregistered_time".into(), json!(t));
    }
    let role = f.role.as_str();
    FrameworkView {
        head,
        tasks: f
            .tasks
            .values()
            .filter(|t| viewer.task(f, t))
            .map(|t| TaskView::of(t, role))
            .collect(),
        completed_tasks: f
            .completed
            .iter()
            .rev()
            .filter(|t| viewer.task(f, t))
            .map(|t| TaskView::of(t, role))
            .collect(),
    }
}

/// The executors (other than the command executor) of a framework's live
/// tasks, once per agent, as Mesos' `ExecutorInfo` JSON with `slave_id`.
fn executors_json(f: &FrameworkState, viewer: Viewer<'_>) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    f.tasks
        .values()
        .filter(|t| !is_terminal(state_of(&t.status)))
        .filter_map(|t| Some((t, t.info.executor.as_ref()?)))
        .filter(|(_, e)| viewer.executor(f, e))
        .filter(|(t, e)| seen.insert((e.executor_id.value.as_str(), t.agent_id.as_str())))
        .map(|(t, e)| {
            let command = e.command.as_ref();
            json!({
                "executor_id": e.executor_id.value,
                "name": e.name.clone().unwrap_or_default(),
                "framework_id": f.id,
                "command": {
                    "value": command.and_then(|c| c.value.clone()).unwrap_or_default(),
                    "shell": command.and_then(|c| c.shell).unwrap_or(true),
                    "argv": command.map(|c| c.arguments.clone()).unwrap_or_default(),
                    "uris": command.map(|c| c.uris.iter().map(|u| json!({
                        "value": u.value, "executable": u.executable.unwrap_or(false)
                    })).collect::<Vec<_>>()).unwrap_or_default(),
                },
                "resources": resources_object(&resources_from_proto(&e.resources)),
                "slave_id": t.agent_id,
            })
        })
        .collect()
}

fn agent_json(master: &MasterSnapshot, index: &Index, id: &str) -> Option<Value> {
    let a = master.agents().get(id)?;
    let used = index
        .used_by_agent
        .get(id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let offered = index
        .offered_by_agent
        .get(id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let total = resources_from_proto(&a.info.resources);
    let mut agent = json!({
        "id": a.id,
        "hostname": a.info.hostname,
        "port": a.info.port.unwrap_or(5051),
        "pid": format!("slave(1)@{}", a.endpoint),
        "attributes": {},
        "active": a.connected(),
        "deactivated": !a.connected(),
        "version": crate::VERSION,
        "resources": resources_object(&total),
        "unreserved_resources": resources_object(&total),
        "reserved_resources": {},
        "used_resources": resources_object(used),
        "offered_resources": resources_object(offered),
        "registered_time": a.registered_time,
        "capabilities": [],
    });
    if let Some(t) = a.reregistered_time {
        agent["reregistered_time"] = json!(t);
    }
    Some(agent)
}

/// `{"frameworks": [...], "completed_frameworks": [...], ...}`, optionally one.
#[derive(Debug, Serialize)]
pub struct FrameworksView<'a> {
    frameworks: Vec<FrameworkView<'a>>,
    completed_frameworks: Vec<FrameworkView<'a>>,
    unregistered_frameworks: [(); 0],
}

pub fn frameworks<'a>(
    master: &'a MasterSnapshot,
    only: Option<&str>,
    viewer: Viewer<'_>,
) -> FrameworksView<'a> {
    let index = Index::new(master);
    let frameworks = master
        .frameworks()
        .values()
        .filter(|f| only.is_none_or(|o| o == f.id) && viewer.framework(f))
        .map(|f| framework_view(&index, f, viewer))
        .collect();
    let completed_frameworks = master
        .completed_frameworks()
        .iter()
        .rev()
        .filter(|f| only.is_none_or(|o| o == f.id) && viewer.framework(f))
        .map(|f| framework_view(&index, f, viewer))
        .collect();
    FrameworksView {
        frameworks,
        completed_frameworks,
        unregistered_frameworks: [],
    }
}

/// A framework's capabilities as Mesos spells them (`MULTI_ROLE`, ...).
fn capability_names(info: &crate::proto::v1::FrameworkInfo) -> Vec<String> {
    use crate::proto::v1::framework_info::capability::Type;
    info.capabilities
        .iter()
        .filter_map(|c| c.r#type)
        .map(|t| {
            Type::try_from(t)
                .map_or_else(|_| format!("UNKNOWN_{t}"), |t| t.as_str_name().to_owned())
        })
        .collect()
}

/// Counts of tasks by Mesos state name (`TASK_RUNNING` ...), every state
/// present with 0 when none.
fn state_counts<'a>(tasks: impl Iterator<Item = &'a TaskEntry>) -> Map<String, Value> {
    let mut counts: BTreeMap<&'static str, u64> = [
        "TASK_STAGING",
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_KILLING",
        "TASK_FINISHED",
        "TASK_KILLED",
        "TASK_FAILED",
        "TASK_LOST",
        "TASK_ERROR",
        "TASK_UNREACHABLE",
    ]
    .into_iter()
    .map(|s| (s, 0))
    .collect();
    for t in tasks {
        *counts.entry(state_of(&t.status).as_str_name()).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect()
}

/// `GET /master/state-summary`: agents and frameworks with task counts, in
/// Mesos' shape (what its web UI's overview reads).
pub fn state_summary(master: &MasterSnapshot) -> Value {
    let index = Index::new(master);
    let all_frameworks = || {
        master
            .frameworks()
            .values()
            .chain(master.completed_frameworks().iter())
    };
    let slaves: Vec<Value> = master
        .agents()
        .keys()
        .filter_map(|id| {
            let mut agent = agent_json(master, &index, id)?;
            let tasks = all_frameworks()
                .flat_map(|f| f.tasks.values().chain(f.completed_tasks()))
                .filter(|t| &t.agent_id == id);
            let frameworks: std::collections::BTreeSet<&str> = master
                .frameworks()
                .values()
                .filter(|f| f.tasks.values().any(|t| &t.agent_id == id))
                .map(|f| f.id.as_str())
                .collect();
            if let Value::Object(fields) = &mut agent {
                fields.extend(state_counts(tasks));
                fields.insert("framework_ids".into(), json!(frameworks));
            }
            Some(agent)
        })
        .collect();
    let frameworks: Vec<Value> = master
        .frameworks()
        .values()
        .map(|f| {
            let view = framework_view(&index, f, Viewer::new(master, None));
            let mut head = view.head;
            for key in ["offers", "executors", "unreachable_tasks"] {
                head.remove(key);
            }
            head.extend(state_counts(f.tasks.values().chain(f.completed_tasks())));
            let agents: std::collections::BTreeSet<&str> =
                f.tasks.values().map(|t| t.agent_id.as_str()).collect();
            head.insert("slave_ids".into(), json!(agents));
            Value::Object(head)
        })
        .collect();
    json!({
        "hostname": master.settings().hostname,
        "cluster": "",
        "slaves": slaves,
        "frameworks": frameworks,
    })
}

/// `GET /master/roles`: every role a framework uses, with its weight, its
/// frameworks and what they hold.
pub fn roles(master: &MasterSnapshot) -> Value {
    let list: Vec<Value> = role_usage(master)
        .into_iter()
        .map(|(name, (frameworks, used))| {
            json!({"name": name, "weight": 1.0, "frameworks": frameworks,
                   "resources": resources_object(&used)})
        })
        .collect();
    json!({ "roles": list })
}

/// Every role a framework uses: its frameworks and what their live tasks
/// hold.
pub(super) fn role_usage(master: &MasterSnapshot) -> BTreeMap<&str, (Vec<&str>, Vec<Resource>)> {
    let mut roles: BTreeMap<&str, (Vec<&str>, Vec<Resource>)> = BTreeMap::new();
    for f in master.frameworks().values() {
        let (ids, used) = roles.entry(f.role.as_str()).or_default();
        ids.push(f.id.as_str());
        used.extend(live_resources(f.tasks.values()));
    }
    roles
}

/// `{"slaves": [...], "recovered_slaves": []}`, optionally one.
pub fn slaves(master: &MasterSnapshot, only: Option<&str>) -> Value {
    let index = Index::new(master);
    let list: Vec<Value> = master
        .agents()
        .keys()
        .filter(|id| only.is_none_or(|o| o == id.as_str()))
        .filter_map(|id| agent_json(master, &index, id))
        .collect();
    json!({"slaves": list, "recovered_slaves": []})
}

/// Query of `/master/tasks`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct TasksQuery {
    pub framework_id: Option<String>,
    pub task_id: Option<String>,
    /// Most tasks to list (default 100); a negative one, as Mesos' `-1`,
    /// lists them all.
    pub limit: Option<i64>,
    pub offset: Option<usize>,
    pub order: Option<String>,
}

/// A `/master/tasks` query that cannot be answered (a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TasksQueryError {
    #[error("'order' must be 'asc' or 'desc', not '{0}'")]
    Order(String),
}

/// `{"tasks": [...]}`: live then completed tasks, filtered and paged as
/// Mesos does (default limit 100, newest first unless `order=asc`).
pub fn tasks(
    master: &MasterSnapshot,
    q: &TasksQuery,
    viewer: Viewer<'_>,
) -> Result<Value, TasksQueryError> {
    let ascending = match q.order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => return Err(TasksQueryError::Order(other.to_owned())),
    };
    let mut all: Vec<(&TaskEntry, &str)> = master
        .frameworks()
        .values()
        .chain(master.completed_frameworks().iter())
        .filter(|f| q.framework_id.as_deref().is_none_or(|id| id == f.id))
        .filter(|f| viewer.framework(f))
        .flat_map(|f| {
            f.tasks
                .values()
                .chain(f.completed_tasks())
                .filter(move |t| viewer.task(f, t))
                .map(move |t| (t, f.role.as_str()))
        })
        .filter(|(t, _)| {
            q.task_id
                .as_deref()
                .is_none_or(|id| id == t.info.task_id.value)
        })
        .collect();
    all.sort_by(|(a, _), (b, _)| {
        let (ta, tb) = (
            a.status.timestamp.unwrap_or_default(),
            b.status.timestamp.unwrap_or_default(),
        );
        ta.total_cmp(&tb)
    });
    if !ascending {
        all.reverse();
    }
    let list: Vec<Value> = all
        .into_iter()
        .skip(q.offset.unwrap_or(0))
        .take(match q.limit {
            None => 100,
            Some(n) if n < 0 => usize::MAX,
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        })
        .map(|(t, role)| task_json(t, role))
        .collect();
    Ok(json!({ "tasks": list }))
}

/// `/master/flags`: every setting, as strings.
pub fn flags(master: &MasterSnapshot) -> Value {
    let flags: Map<String, Value> = master
        .settings()
        .flags
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({ "flags": flags })
}

/// `/master/state`: the whole master, in Mesos' shape.
/// `/master/state`: the master's own fields as JSON, frameworks (and their
/// tasks) serialized directly.
#[derive(Debug, Serialize)]
pub struct StateView<'a> {
    #[serde(flatten)]
    head: Map<String, Value>,
    frameworks: Vec<FrameworkView<'a>>,
    completed_frameworks: Vec<FrameworkView<'a>>,
}

pub fn state<'a>(master: &'a MasterSnapshot, viewer: Viewer<'_>) -> StateView<'a> {
    let agents = slaves(master, None);
    let frameworks = frameworks(master, None, viewer);
    let active = master.agents().values().filter(|a| a.connected()).count();
    let pid = format!(
        "master@{}:{}",
        master.settings().hostname,
        master.settings().port
    );
    let head = json!({
        "version": crate::VERSION,
        "corral_version": env!("CARGO_PKG_VERSION"),
        "build_date": "",
        "build_time": 0,
        "build_user": "",
        "start_time": master.start_time(),
        "elected_time": master.start_time(),
        "id": master.settings().master_id,
        "pid": pid,
        "hostname": master.settings().hostname,
        "activated_slaves": active,
        "deactivated_slaves": master.agents().len() - active,
        "unreachable_slaves": 0,
        "leader": pid,
        "leader_info": {
            "id": master.settings().master_id,
            "ip": master.ip_as_mesos_u32(),
            "hostname": master.settings().hostname,
            "port": master.settings().port,
            "pid": pid,
            "version": crate::VERSION,
            "address": {
                "hostname": master.settings().hostname,
                "ip": master.ip().map(|ip| ip.to_string()).unwrap_or_default(),
                "port": master.settings().port,
            },
        },
        "flags": flags(master)["flags"],
        "slaves": agents["slaves"],
        "recovered_slaves": [],
        "orphan_tasks": [],
        "unregistered_frameworks": [],
        "capabilities": [],
    });
    let Value::Object(head) = head else {
        unreachable!("json! of an object is an object")
    };
    StateView {
        head,
        frameworks: frameworks.frameworks,
        completed_frameworks: frameworks.completed_frameworks,
    }
}

/// `/metrics/snapshot`: Mesos' key names, flat.
pub fn metrics(master: &MasterSnapshot) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: f64| {
        m.insert(format!("master/{k}"), v);
    };
    put("uptime_secs", master.uptime_secs());
    put("elected", 1.0);
    let connected = master.agents().values().filter(|a| a.connected()).count() as f64;
    let agents = master.agents().len() as f64;
    put("slaves_connected", connected);
    put("slaves_disconnected", agents - connected);
    put("slaves_active", connected);
    put("slaves_inactive", agents - connected);
    put("slaves_unreachable", 0.0);
    let fw_connected = master
        .frameworks()
        .values()
        .filter(|f| f.connected())
        .count() as f64;
    let fws = master.frameworks().len() as f64;
    put("frameworks_connected", fw_connected);
    put("frameworks_disconnected", fws - fw_connected);
    put("frameworks_active", fw_connected);
    put("frameworks_inactive", fws - fw_connected);
    put(
        "outstanding_offers",
        master.outstanding_offers().len() as f64,
    );
    // Live states are gauges; terminal ones are counted as they happen.
    let mut live: BTreeMap<&str, f64> = BTreeMap::new();
    for state in [
        TaskState::TaskStaging,
        TaskState::TaskStarting,
        TaskState::TaskRunning,
        TaskState::TaskKilling,
        TaskState::TaskUnreachable,
    ] {
        live.insert(live_metric(state).unwrap_or_default(), 0.0);
    }
    for task in master.frameworks().values().flat_map(|f| f.tasks.values()) {
        if let Some(name) = live_metric(state_of(&task.status)) {
            *live.entry(name).or_default() += 1.0;
        }
    }
    for (name, count) in live {
        put(&format!("tasks_{name}"), count);
    }
    for state in [
        TaskState::TaskFinished,
        TaskState::TaskFailed,
        TaskState::TaskKilled,
        TaskState::TaskLost,
        TaskState::TaskError,
    ] {
        let name = format!("tasks_{}", terminal_metric(state).unwrap_or_default());
        put(&name, master.counters().get(&name) as f64);
    }
    for (key, count) in master.counters().iter() {
        put(key, *count as f64);
    }
    let total: Vec<Resource> = master
        .agents()
        .values()
        .flat_map(|a| resources_from_proto(&a.info.resources))
        .collect();
    let used = live_resources(master.frameworks().values().flat_map(|f| f.tasks.values()));
    for (key, value) in usage_figures(&total, &used, &["cpus", "mem", "disk", "gpus"]) {
        put(&key, value);
    }
    master.allocator_stats().snapshot(&mut m);
    // Not Mesos': what the event queues of frameworks and agents hold, and
    // how many were closed for overflowing (a client not reading).
    let queues = master.queue_stats();
    m.insert(
        "master/event_queue_bytes".to_owned(),
        queues.queued_bytes() as f64,
    );
    m.insert(
        "master/event_queue_overflows".to_owned(),
        queues.overflows() as f64,
    );
    m.insert(
        "master/operator_subscribers".to_owned(),
        master.observer_count() as f64,
    );
    for (name, value) in crate::module_host::module_counters() {
        m.insert(name, value as f64);
    }
    m
}
