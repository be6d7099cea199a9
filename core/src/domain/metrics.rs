//! The master's counters, named as Mesos' `/metrics/snapshot` keys. Gauges
//! (tasks running, agents connected, resources used, ...) are computed from
//! the state when a snapshot is taken; what cannot be recomputed (tasks that
//! ended, calls received) is counted here as it happens.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use crate::proto::v1::TaskState;

/// Counters kept by the master's state.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    counts: BTreeMap<String, u64>,
}

impl Counters {
    /// Adds one to `key` (a snapshot key without the `master/` prefix).
    pub fn bump(&mut self, key: impl Into<String>) {
        *self.counts.entry(key.into()).or_default() += 1;
    }

    pub fn get(&self, key: &str) -> u64 {
        self.counts.get(key).copied().unwrap_or(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &u64)> {
        self.counts.iter()
    }

    /// A task entered `state` (terminal states are counted; live ones are
    /// gauges).
    pub fn task_state(&mut self, state: TaskState) {
        if let Some(name) = terminal_metric(state) {
            self.bump(format!("tasks_{name}"));
        }
    }
}

/// The `tasks_<name>` counter of a terminal state.
pub fn terminal_metric(state: TaskState) -> Option<&'static str> {
    Some(match state {
        TaskState::TaskFinished => "finished",
        TaskState::TaskFailed => "failed",
        TaskState::TaskKilled => "killed",
        TaskState::TaskLost => "lost",
        TaskState::TaskError => "error",
        TaskState::TaskDropped => "dropped",
        TaskState::TaskGone => "gone",
        TaskState::TaskGoneByOperator => "gone_by_operator",
        _ => return None,
    })
}

/// The `tasks_<name>` gauge of a live state.
pub fn live_metric(state: TaskState) -> Option<&'static str> {
    Some(match state {
        TaskState::TaskStaging => "staging",
        TaskState::TaskStarting => "starting",
        TaskState::TaskRunning => "running",
        TaskState::TaskKilling => "killing",
        TaskState::TaskUnreachable => "unreachable",
        _ => return None,
    })
}

/// `<name>_total`, `<name>_used` and `<name>_percent` (a share, 0 to 1)
/// for each resource `name`.
pub fn usage_figures(
    total: &[crate::domain::Resource],
    used: &[crate::domain::Resource],
    names: &[&str],
) -> Vec<(String, f64)> {
    let (total, used) = (
        crate::domain::ResourceBag::new(total),
        crate::domain::ResourceBag::new(used),
    );
    names
        .iter()
        .flat_map(|name| {
            let (t, u) = (total.scalar(name), used.scalar(name));
            [
                (format!("{name}_total"), t),
                (format!("{name}_used"), u),
                (format!("{name}_percent"), if t > 0.0 { u / t } else { 0.0 }),
            ]
        })
        .collect()
}

/// Allocation cycles, shared with the allocation loop.
#[derive(Debug, Default)]
pub struct AllocatorStats {
    runs: AtomicU64,
    last_run_us: AtomicU64,
    total_run_us: AtomicU64,
}

impl AllocatorStats {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// One allocation cycle took `micros`.
    pub fn record(&self, micros: u64) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.last_run_us.store(micros, Ordering::Relaxed);
        self.total_run_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// `allocator/mesos/...` figures, as Mesos names them.
    pub fn snapshot(&self, out: &mut BTreeMap<String, f64>) {
        let runs = self.runs.load(Ordering::Relaxed);
        out.insert("allocator/mesos/allocation_runs".into(), runs as f64);
        out.insert(
            "allocator/mesos/allocation_run_ms".into(),
            self.last_run_us.load(Ordering::Relaxed) as f64 / 1000.0,
        );
        let mean = if runs == 0 {
            0.0
        } else {
            self.total_run_us.load(Ordering::Relaxed) as f64 / runs as f64 / 1000.0
        };
        out.insert("allocator/mesos/allocation_run_ms/mean".into(), mean);
    }
}

/// Renders a snapshot in the Prometheus text format: `master/tasks_running`
/// becomes `corral_master_tasks_running`.
pub fn prometheus(snapshot: &BTreeMap<String, f64>) -> String {
    let mut out = String::new();
    for (key, value) in snapshot {
        let name: String = format!("corral_{key}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        out.push_str(&format!("# TYPE {name} gauge\n{name} {value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_count_and_live_states_do_not() {
        let mut c = Counters::default();
        c.task_state(TaskState::TaskFinished);
        c.task_state(TaskState::TaskFinished);
        c.task_state(TaskState::TaskRunning);
        c.task_state(TaskState::TaskError);
        assert_eq!(c.get("tasks_finished"), 2);
        assert_eq!(c.get("tasks_error"), 1);
        assert_eq!(c.get("tasks_running"), 0);
    }

    #[test]
    fn prometheus_names_are_sanitised_and_typed() {
        let mut s = BTreeMap::new();
        s.insert("master/tasks_running".to_owned(), 3.0);
        s.insert("allocator/mesos/allocation_run_ms".to_owned(), 0.5);
        let text = prometheus(&s);
        assert!(
            text.contains(
                "# TYPE corral_master_tasks_running gauge\ncorral_master_tasks_running 3\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("corral_allocator_mesos_allocation_run_ms 0.5\n"),
            "{text}"
        );
    }
}
