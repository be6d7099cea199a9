//! The web UI's reads (`/ui/api/*`): small, paged and filtered on the
//! server, so a page of a cluster with 10k agents and 100k tasks costs a
//! page of JSON, not the whole of `/master/state`. Every list shows only
//! what the caller may view ([`Viewer`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::{json, Value};

use super::master_state::{resources_object, task_json, Viewer};
use crate::{
    domain::{
        convert::resources_from_proto,
        metrics::terminal_metric,
        status::{is_terminal, state_of},
        Resource, ResourceValue,
    },
    master::{FrameworkState, MasterSnapshot, OfferView, TaskEntry},
    proto::v1::TaskState,
};

/// Rows a page holds unless the query says otherwise, and at most.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

/// Task state changes the overview lists.
const RECENT_CHANGES: usize = 15;

/// Longest message a list row carries (the task's page has it whole).
const ROW_MESSAGE: usize = 200;

/// A list query: `q` filters (a substring of ids, names, hostnames,
/// users and roles), `sort` and `order` order, `offset`/`limit` page.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub q: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub offset: Option<usize>,
    pub limit: Option<usize>,
    /// Frameworks: the completed ones instead of the live ones.
    pub completed: Option<bool>,
    /// Tasks: a state (`TASK_FAILED`), or `live` or `terminal`.
    pub state: Option<String>,
    pub framework_id: Option<String>,
    pub agent_id: Option<String>,
}

/// A query the UI's reads refuse (a 400 naming the parameter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UiQueryError {
    #[error("'sort' must be one of {allowed}, not '{given}'")]
    Sort {
        allowed: &'static str,
        given: String,
    },
    #[error("'order' must be 'asc' or 'desc', not '{0}'")]
    Order(String),
    #[error("'state' must be 'live', 'terminal' or a task state such as TASK_FAILED, not '{0}'")]
    State(String),
}

impl ListQuery {
    fn page<T>(&self, rows: Vec<T>, row: impl Fn(T) -> Value) -> Value {
        let total = rows.len();
        let offset = self.offset.unwrap_or(0);
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let items: Vec<Value> = rows.into_iter().skip(offset).take(limit).map(row).collect();
        json!({"total": total, "offset": offset, "limit": limit, "items": items})
    }

    /// The `q` filter, lower-cased once for the whole list.
    fn text_filter(&self) -> TextFilter {
        TextFilter(
            self.q
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_lowercase),
        )
    }

    fn descending(&self, default_descending: bool) -> Result<bool, UiQueryError> {
        match self.order.as_deref() {
            None | Some("") => Ok(default_descending),
            Some("desc") => Ok(true),
            Some("asc") => Ok(false),
            Some(other) => Err(UiQueryError::Order(other.to_owned())),
        }
    }
}

/// A list's `q`: rows match when one of their fields holds it, case
/// ignored (every row matches without one).
struct TextFilter(Option<String>);

impl TextFilter {
    fn matches(&self, fields: &[&str]) -> bool {
        self.0
            .as_deref()
            .is_none_or(|n| fields.iter().any(|f| f.to_lowercase().contains(n)))
    }
}

/// The scalars the UI shows of used and offered resources, summed.
#[derive(Debug, Default, Clone, Copy)]
struct Scalars {
    cpus: f64,
    mem: f64,
    disk: f64,
    gpus: f64,
}

impl Scalars {
    fn add(&mut self, list: &[Resource]) {
        for r in list {
            if let ResourceValue::Scalar(v) = r.value {
                match r.name.as_str() {
                    "cpus" => self.cpus += v,
                    "mem" => self.mem += v,
                    "disk" => self.disk += v,
                    "gpus" => self.gpus += v,
                    _ => {}
                }
            }
        }
    }

    /// The scalars of an agent's advertised resources, read off the
    /// protobuf without converting the rest.
    fn of_proto(list: &[crate::proto::v1::Resource]) -> Scalars {
        let mut sums = Scalars::default();
        for r in list {
            let Some(v) = r.scalar.as_ref().map(|s| s.value) else {
                continue;
            };
            match r.name.as_str() {
                "cpus" => sums.cpus += v,
                "mem" => sums.mem += v,
                "disk" => sums.disk += v,
                "gpus" => sums.gpus += v,
                _ => {}
            }
        }
        sums
    }

    fn plus(mut self, other: Scalars) -> Scalars {
        self.cpus += other.cpus;
        self.mem += other.mem;
        self.disk += other.disk;
        self.gpus += other.gpus;
        self
    }

    fn json(self) -> Value {
        json!({"cpus": self.cpus, "mem": self.mem, "disk": self.disk, "gpus": self.gpus})
    }
}

/// What live tasks use and offers hold, by agent and by framework,
/// summed in one pass over the tasks without copying their resources
/// (this runs under the master's lock, at every refresh of a page).
struct Usage<'a> {
    used_by_agent: HashMap<&'a str, Scalars>,
    used_by_framework: HashMap<&'a str, Scalars>,
    offers: Vec<OfferView>,
    offered_by_agent: HashMap<String, Scalars>,
    offered_by_framework: HashMap<String, Scalars>,
}

impl<'a> Usage<'a> {
    fn new(master: &'a MasterSnapshot) -> Usage<'a> {
        let mut usage = Usage {
            used_by_agent: HashMap::new(),
            used_by_framework: HashMap::new(),
            offers: master.outstanding_offers(),
            offered_by_agent: HashMap::new(),
            offered_by_framework: HashMap::new(),
        };
        for f in master.frameworks().values() {
            let mut framework = Scalars::default();
            for t in f.tasks.values().filter(|t| is_live(t)) {
                framework.add(&t.resources);
                usage
                    .used_by_agent
                    .entry(t.agent_id.as_str())
                    .or_default()
                    .add(&t.resources);
            }
            usage.used_by_framework.insert(f.id.as_str(), framework);
        }
        for o in &usage.offers {
            usage
                .offered_by_agent
                .entry(o.agent_id.clone())
                .or_default()
                .add(&o.resources);
            usage
                .offered_by_framework
                .entry(o.framework_id.clone())
                .or_default()
                .add(&o.resources);
        }
        usage
    }

    fn used_by_framework(&self, id: &str) -> Scalars {
        self.used_by_framework.get(id).copied().unwrap_or_default()
    }

    fn offered_to_framework(&self, id: &str) -> Scalars {
        self.offered_by_framework
            .get(id)
            .copied()
            .unwrap_or_default()
    }
}

fn is_live(t: &TaskEntry) -> bool {
    !is_terminal(state_of(&t.status))
}

fn latest_time(t: &TaskEntry) -> f64 {
    t.status.timestamp.unwrap_or_default()
}

fn short(message: Option<&str>) -> Option<String> {
    message.map(|m| {
        if m.len() <= ROW_MESSAGE {
            m.to_owned()
        } else {
            let mut end = ROW_MESSAGE;
            while !m.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &m[..end])
        }
    })
}

/// A task as a list row.
fn task_row(f: &FrameworkState, t: &TaskEntry) -> Value {
    use crate::proto::v1::task_status::Reason;
    let mut resources = Scalars::default();
    resources.add(&t.resources);
    json!({
        "id": t.info.task_id.value,
        "name": t.info.name,
        "framework_id": f.id,
        "framework_name": f.info.name,
        "agent_id": t.agent_id,
        "state": state_of(&t.status).as_str_name(),
        "timestamp": latest_time(t),
        "reason": t.status.reason.and_then(|r| Reason::try_from(r).ok()).map(|r| r.as_str_name()),
        "message": short(t.status.message.as_deref()),
        "cpus": resources.cpus,
        "mem": resources.mem,
    })
}

/// Every framework the caller may view, live then completed.
fn visible_frameworks<'a>(
    master: &'a MasterSnapshot,
    viewer: Viewer<'a>,
) -> impl Iterator<Item = &'a FrameworkState> + 'a {
    master
        .frameworks()
        .values()
        .chain(master.completed_frameworks().iter())
        .filter(move |f| viewer.framework(f))
}

/// `GET /ui/api/overview`: the cluster at a glance.
pub fn overview(master: &MasterSnapshot, viewer: Viewer<'_>) -> Value {
    let usage = Usage::new(master);
    let active = master.agents().values().filter(|a| a.connected()).count();
    let total = master
        .agents()
        .values()
        .map(|a| Scalars::of_proto(&a.info.resources))
        .fold(Scalars::default(), Scalars::plus);
    let sum = |map: &mut dyn Iterator<Item = Scalars>| map.fold(Scalars::default(), Scalars::plus);
    let used = sum(&mut usage.used_by_agent.values().copied());
    let offered = sum(&mut usage.offered_by_agent.values().copied());
    let figures = |pick: fn(&Scalars) -> f64| json!({"total": pick(&total), "used": pick(&used), "offered": pick(&offered)});
    // Live states are counted from the tasks; terminal ones from the
    // counters, which outlive the bounded lists of completed tasks.
    let mut tasks: BTreeMap<&str, u64> = BTreeMap::new();
    let mut recent: Vec<(&FrameworkState, &TaskEntry)> = Vec::new();
    for f in visible_frameworks(master, viewer) {
        for t in f.tasks.values().chain(f.completed_tasks()) {
            if !viewer.task(f, t) {
                continue;
            }
            if is_live(t) {
                *tasks.entry(state_of(&t.status).as_str_name()).or_default() += 1;
            }
            recent.push((f, t));
        }
    }
    for state in [
        TaskState::TaskFinished,
        TaskState::TaskFailed,
        TaskState::TaskKilled,
        TaskState::TaskLost,
        TaskState::TaskError,
    ] {
        let key = format!("tasks_{}", terminal_metric(state).unwrap_or_default());
        tasks.insert(state.as_str_name(), master.counters().get(&key));
    }
    let newest = recent.len().saturating_sub(RECENT_CHANGES);
    if newest > 0 {
        recent.select_nth_unstable_by(newest, |(_, a), (_, b)| {
            latest_time(a).total_cmp(&latest_time(b))
        });
        recent.drain(..newest);
    }
    recent.sort_by(|(_, a), (_, b)| latest_time(b).total_cmp(&latest_time(a)));
    let frameworks_active = master
        .frameworks()
        .values()
        .filter(|f| viewer.framework(f) && f.connected())
        .count();
    let frameworks_live = master
        .frameworks()
        .values()
        .filter(|f| viewer.framework(f))
        .count();
    let completed_frameworks = master
        .completed_frameworks()
        .iter()
        .filter(|f| viewer.framework(f))
        .count();
    json!({
        "hostname": master.settings().hostname,
        "leader": format!("master@{}:{}", master.settings().hostname, master.settings().port),
        "master_id": master.settings().master_id,
        "version": crate::VERSION,
        "corral_version": env!("CARGO_PKG_VERSION"),
        "start_time": master.start_time(),
        "uptime_secs": master.uptime_secs(),
        "agents": {
            "active": active,
            "inactive": master.agents().len() - active,
            "recovering": master.recovering_agent_count(),
            "removed": master.removed_agent_count(),
        },
        "frameworks": {
            "active": frameworks_active,
            "inactive": frameworks_live - frameworks_active,
            "completed": completed_frameworks,
        },
        "tasks": tasks,
        "resources": {
            "cpus": figures(|s| s.cpus), "mem": figures(|s| s.mem),
            "disk": figures(|s| s.disk), "gpus": figures(|s| s.gpus),
        },
        "offers": usage.offers.len(),
        "recent": recent.into_iter().map(|(f, t)| task_row(f, t)).collect::<Vec<_>>(),
    })
}

/// A framework as a list row.
fn framework_row(usage: &Usage<'_>, f: &FrameworkState, viewer: Viewer<'_>) -> Value {
    let running = f
        .tasks
        .values()
        .filter(|t| is_live(t) && viewer.task(f, t))
        .count();
    json!({
        "id": f.id,
        "name": f.info.name,
        "user": f.info.user,
        "principal": f.info.principal,
        "roles": if f.info.roles.is_empty() { vec![f.role.clone()] } else { f.info.roles.clone() },
        "active": f.connected(),
        "registered_time": f.registered_time,
        "reregistered_time": f.reregistered_time,
        "tasks_running": running,
        "tasks_completed": f.completed.len(),
        "used": usage.used_by_framework(&f.id).json(),
        "offered": usage.offered_to_framework(&f.id).json(),
        "checkpoint": f.info.checkpoint.unwrap_or(false),
        "failover_timeout": f.info.failover_timeout.unwrap_or(0.0),
        "webui_url": f.info.webui_url,
        "hostname": f.info.hostname,
    })
}

/// `GET /ui/api/frameworks`: live (or, with `completed=true`, completed)
/// frameworks, filtered, sorted and paged.
pub fn frameworks(
    master: &MasterSnapshot,
    q: &ListQuery,
    viewer: Viewer<'_>,
) -> Result<Value, UiQueryError> {
    let text = q.text_filter();
    let usage = Usage::new(master);
    let source: Vec<&FrameworkState> = if q.completed.unwrap_or(false) {
        master.completed_frameworks().iter().rev().collect()
    } else {
        master.frameworks().values().collect()
    };
    let mut rows: Vec<(&FrameworkState, Value)> = source
        .into_iter()
        .filter(|f| viewer.framework(f))
        .filter(|f| text.matches(&[&f.id, &f.info.name, &f.info.user, &f.role]))
        .map(|f| (f, framework_row(&usage, f, viewer)))
        .collect();
    let sort = q.sort.as_deref().unwrap_or("registered");
    let key = |row: &Value, field: &str| row[field].as_f64().unwrap_or_default();
    let descending = q.descending(matches!(sort, "registered" | "tasks" | "cpus" | "mem"))?;
    match sort {
        "name" => rows.sort_by(|a, b| a.0.info.name.cmp(&b.0.info.name)),
        "id" => rows.sort_by(|a, b| a.0.id.cmp(&b.0.id)),
        "user" => rows.sort_by(|a, b| a.0.info.user.cmp(&b.0.info.user)),
        "registered" => rows.sort_by(|a, b| a.0.registered_time.total_cmp(&b.0.registered_time)),
        "tasks" => {
            rows.sort_by(|a, b| key(&a.1, "tasks_running").total_cmp(&key(&b.1, "tasks_running")))
        }
        "cpus" | "mem" => {
            rows.sort_by(|a, b| key(&a.1["used"], sort).total_cmp(&key(&b.1["used"], sort)))
        }
        other => {
            return Err(UiQueryError::Sort {
                allowed: "name, id, user, registered, tasks, cpus, mem",
                given: other.to_owned(),
            })
        }
    }
    if descending {
        rows.reverse();
    }
    Ok(q.page(rows, |(_, row)| row))
}

/// `GET /ui/api/frameworks/{id}`: one framework, with its offers; its
/// tasks are read page by page from [`tasks`].
pub fn framework(master: &MasterSnapshot, id: &str, viewer: Viewer<'_>) -> Option<Value> {
    let usage = Usage::new(master);
    let (f, completed) = match master.frameworks().get(id) {
        Some(f) => (f, false),
        None => (
            master.completed_frameworks().iter().find(|f| f.id == id)?,
            true,
        ),
    };
    if !viewer.framework(f) {
        return None;
    }
    let mut row = framework_row(&usage, f, viewer);
    row["completed"] = json!(completed);
    row["offers"] = usage
        .offers
        .iter()
        .filter(|o| o.framework_id == f.id)
        .map(|o| json!({"id": o.id, "agent_id": o.agent_id, "resources": resources_object(&o.resources)}))
        .collect();
    Some(row)
}

/// An agent as a list row.
fn agent_row(master: &MasterSnapshot, usage: &Usage<'_>, id: &str, tasks: usize) -> Option<Value> {
    let a = master.agents().get(id)?;
    let total = resources_from_proto(&a.info.resources);
    let used = usage.used_by_agent.get(id).copied().unwrap_or_default();
    let offered = usage.offered_by_agent.get(id).copied().unwrap_or_default();
    Some(json!({
        "id": a.id,
        "hostname": a.info.hostname,
        "endpoint": a.endpoint,
        "active": a.connected(),
        "version": crate::VERSION,
        "registered_time": a.registered_time,
        "reregistered_time": a.reregistered_time,
        "tasks": tasks,
        "resources": resources_object(&total),
        "used": used.json(),
        "offered": offered.json(),
    }))
}

/// Live tasks per agent that the caller may view.
fn tasks_per_agent<'a>(master: &'a MasterSnapshot, viewer: Viewer<'_>) -> HashMap<&'a str, usize> {
    let mut counts = HashMap::new();
    for f in master.frameworks().values().filter(|f| viewer.framework(f)) {
        for t in f.tasks.values().filter(|t| is_live(t) && viewer.task(f, t)) {
            *counts.entry(t.agent_id.as_str()).or_default() += 1;
        }
    }
    counts
}

/// An agent with what it is sorted by, computed once.
struct AgentSortRow<'a> {
    agent: &'a crate::master::KnownAgent,
    tasks: usize,
    cpus: f64,
    mem: f64,
}

/// `GET /ui/api/agents`: registered agents, filtered, sorted and paged.
pub fn agents(
    master: &MasterSnapshot,
    q: &ListQuery,
    viewer: Viewer<'_>,
) -> Result<Value, UiQueryError> {
    let text = q.text_filter();
    let usage = Usage::new(master);
    let counts = tasks_per_agent(master, viewer);
    let mut rows: Vec<AgentSortRow> = master
        .agents()
        .values()
        .filter(|a| text.matches(&[&a.id, &a.info.hostname, &a.endpoint]))
        .map(|a| {
            let total = Scalars::of_proto(&a.info.resources);
            AgentSortRow {
                agent: a,
                tasks: counts.get(a.id.as_str()).copied().unwrap_or(0),
                cpus: total.cpus,
                mem: total.mem,
            }
        })
        .collect();
    let sort = q.sort.as_deref().unwrap_or("hostname");
    let descending = q.descending(matches!(sort, "registered" | "tasks" | "cpus" | "mem"))?;
    match sort {
        "hostname" => rows.sort_by(|a, b| {
            (&a.agent.info.hostname, &a.agent.id).cmp(&(&b.agent.info.hostname, &b.agent.id))
        }),
        "id" => rows.sort_by(|a, b| a.agent.id.cmp(&b.agent.id)),
        "registered" => {
            rows.sort_by(|a, b| a.agent.registered_time.total_cmp(&b.agent.registered_time))
        }
        "tasks" => rows.sort_by_key(|r| r.tasks),
        "cpus" => rows.sort_by(|a, b| a.cpus.total_cmp(&b.cpus)),
        "mem" => rows.sort_by(|a, b| a.mem.total_cmp(&b.mem)),
        other => {
            return Err(UiQueryError::Sort {
                allowed: "hostname, id, registered, tasks, cpus, mem",
                given: other.to_owned(),
            })
        }
    }
    if descending {
        rows.reverse();
    }
    Ok(q.page(rows, |r| {
        agent_row(master, &usage, &r.agent.id, r.tasks).unwrap_or(Value::Null)
    }))
}

/// `GET /ui/api/agents/{id}`: one agent and the frameworks on it.
pub fn agent(master: &MasterSnapshot, id: &str, viewer: Viewer<'_>) -> Option<Value> {
    let usage = Usage::new(master);
    let counts = tasks_per_agent(master, viewer);
    let mut row = agent_row(master, &usage, id, counts.get(id).copied().unwrap_or(0))?;
    let frameworks: BTreeSet<(&str, &str)> = master
        .frameworks()
        .values()
        .filter(|f| viewer.framework(f))
        .filter(|f| {
            f.tasks
                .values()
                .any(|t| t.agent_id == id && viewer.task(f, t))
        })
        .map(|f| (f.id.as_str(), f.info.name.as_str()))
        .collect();
    row["frameworks"] = frameworks
        .into_iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    Some(row)
}

/// Which tasks a `state` parameter selects.
#[derive(Debug, Clone, Copy)]
enum StateFilter {
    Any,
    Live,
    Terminal,
    Exactly(TaskState),
}

impl StateFilter {
    fn parse(wanted: Option<&str>) -> Result<Self, UiQueryError> {
        Ok(match wanted {
            None | Some("") => StateFilter::Any,
            Some("live") => StateFilter::Live,
            Some("terminal") => StateFilter::Terminal,
            Some(name) => StateFilter::Exactly(
                TaskState::from_str_name(name)
                    .ok_or_else(|| UiQueryError::State(name.to_owned()))?,
            ),
        })
    }

    fn matches(self, t: &TaskEntry) -> bool {
        let state = state_of(&t.status);
        match self {
            StateFilter::Any => true,
            StateFilter::Live => !is_terminal(state),
            StateFilter::Terminal => is_terminal(state),
            StateFilter::Exactly(s) => s == state,
        }
    }
}

/// `GET /ui/api/tasks`: live and completed tasks, newest change first,
/// filtered by `state`, `framework_id`, `agent_id` and `q` (id or name).
pub fn tasks(
    master: &MasterSnapshot,
    q: &ListQuery,
    viewer: Viewer<'_>,
) -> Result<Value, UiQueryError> {
    let text = q.text_filter();
    let state = StateFilter::parse(q.state.as_deref())?;
    let mut rows: Vec<(&FrameworkState, &TaskEntry)> = Vec::new();
    for f in visible_frameworks(master, viewer)
        .filter(|f| q.framework_id.as_deref().is_none_or(|id| id == f.id))
    {
        for t in f.tasks.values().chain(f.completed_tasks()) {
            if q.agent_id.as_deref().is_some_and(|a| a != t.agent_id)
                || !state.matches(t)
                || !text.matches(&[&t.info.task_id.value, &t.info.name])
                || !viewer.task(f, t)
            {
                continue;
            }
            rows.push((f, t));
        }
    }
    let descending = q.descending(true)?;
    match q.sort.as_deref().unwrap_or("time") {
        "time" => rows.sort_by(|(_, a), (_, b)| latest_time(a).total_cmp(&latest_time(b))),
        "id" => rows.sort_by(|(_, a), (_, b)| a.info.task_id.value.cmp(&b.info.task_id.value)),
        "name" => rows.sort_by(|(_, a), (_, b)| a.info.name.cmp(&b.info.name)),
        other => {
            return Err(UiQueryError::Sort {
                allowed: "time, id, name",
                given: other.to_owned(),
            })
        }
    }
    if descending {
        rows.reverse();
    }
    Ok(q.page(rows, |(f, t)| task_row(f, t)))
}

/// `GET /ui/api/tasks/{framework_id}/{task_id}`: a task whole, with its
/// status history (source, reason, message of each).
pub fn task(
    master: &MasterSnapshot,
    framework_id: &str,
    task_id: &str,
    viewer: Viewer<'_>,
) -> Option<Value> {
    let f = visible_frameworks(master, viewer).find(|f| f.id == framework_id)?;
    let t = f.tasks.get(task_id).or_else(|| {
        f.completed_tasks()
            .rev()
            .find(|t| t.info.task_id.value == task_id)
    })?;
    if !viewer.task(f, t) {
        return None;
    }
    let mut view = task_json(t, &f.role);
    view["framework_name"] = json!(f.info.name);
    view["agent_hostname"] = json!(master.agents().get(&t.agent_id).map(|a| &a.info.hostname));
    view["agent_registered"] = json!(master.agents().contains_key(&t.agent_id));
    // The command executor's id is the task's (Mesos').
    view["sandbox_executor_id"] = json!(t.executor_id.as_deref().unwrap_or(task_id));
    view["user"] = json!(crate::domain::convert::task_user(
        &t.info,
        None,
        &f.info.user
    ));
    view["command"] = json!(t.info.command.as_ref().and_then(|c| c.value.clone()));
    Some(view)
}

/// `GET /ui/api/offers`: outstanding offers, paged.
pub fn offers(master: &MasterSnapshot, q: &ListQuery, viewer: Viewer<'_>) -> Value {
    let text = q.text_filter();
    let names: BTreeMap<&str, &str> = master
        .frameworks()
        .values()
        .filter(|f| viewer.framework(f))
        .map(|f| (f.id.as_str(), f.info.name.as_str()))
        .collect();
    let mut offers: Vec<_> = master
        .outstanding_offers()
        .into_iter()
        .filter(|o| names.contains_key(o.framework_id.as_str()))
        .filter(|o| text.matches(&[&o.id, &o.framework_id, &o.agent_id]))
        .collect();
    offers.sort_by(|a, b| a.id.cmp(&b.id));
    q.page(offers, |o| {
        json!({
            "id": o.id,
            "framework_id": o.framework_id,
            "framework_name": names.get(o.framework_id.as_str()),
            "agent_id": o.agent_id,
            "agent_hostname": master.agents().get(&o.agent_id).map(|a| &a.info.hostname),
            "resources": resources_object(&o.resources),
        })
    })
}

/// `GET /ui/api/roles`: every role in use, its weight and what it holds.
pub fn roles(master: &MasterSnapshot) -> Value {
    let usage = Usage::new(master);
    let mut roles: BTreeMap<&str, (Vec<&str>, Scalars, Scalars)> = BTreeMap::new();
    for f in master.frameworks().values() {
        let (ids, used, offered) = roles.entry(f.role.as_str()).or_default();
        ids.push(f.id.as_str());
        *used = used.plus(usage.used_by_framework(&f.id));
        *offered = offered.plus(usage.offered_to_framework(&f.id));
    }
    let items: Vec<Value> = roles
        .into_iter()
        .map(|(name, (frameworks, used, offered))| {
            json!({"name": name, "weight": 1.0, "frameworks": frameworks.len(),
                   "framework_ids": frameworks, "used": used.json(), "offered": offered.json()})
        })
        .collect();
    json!({ "items": items })
}
