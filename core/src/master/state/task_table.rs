//! A framework's tasks, kept so that a snapshot of them costs a pointer
//! copy: a persistent ordered map (`imbl::OrdMap`) of shared entries. A
//! change made while a snapshot is alive copies only the tree path it
//! touches and the one entry it changes; with no snapshot alive nothing is
//! copied. Operators' views serialize snapshots off the master's lock.

use std::sync::Arc;

use imbl::OrdMap;

use super::TaskEntry;

/// Tasks by id, in id order.
#[derive(Debug, Clone, Default)]
pub struct TaskTable {
    entries: OrdMap<String, Arc<TaskEntry>>,
}

impl TaskTable {
    pub fn new() -> Self {
        TaskTable::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains_key(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    pub fn get(&self, id: &str) -> Option<&TaskEntry> {
        self.entries.get(id).map(|t| &**t)
    }

    /// The entry to change, copied first if a snapshot shares it.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut TaskEntry> {
        self.entries.get_mut(id).map(Arc::make_mut)
    }

    pub fn insert(&mut self, id: String, task: TaskEntry) {
        self.entries.insert(id, Arc::new(task));
    }

    /// Takes the entry out (copied if a snapshot still shares it).
    pub fn remove(&mut self, id: &str) -> Option<TaskEntry> {
        self.entries.remove(id).map(Arc::unwrap_or_clone)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &TaskEntry> + '_ {
        self.entries.values().map(|t| &**t)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&String, &TaskEntry)> + '_ {
        self.entries.iter().map(|(id, t)| (id, &**t))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + '_ {
        self.entries.keys()
    }
}

impl IntoIterator for TaskTable {
    type Item = (String, TaskEntry);
    type IntoIter = Box<dyn Iterator<Item = (String, TaskEntry)>>;

    /// Every entry, in id order (each copied only if a snapshot shares it).
    fn into_iter(self) -> Self::IntoIter {
        Box::new(
            self.entries
                .into_iter()
                .map(|(id, t)| (id, Arc::unwrap_or_clone(t))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1;

    fn task(id: &str) -> TaskEntry {
        TaskEntry {
            info: v1::TaskInfo {
                task_id: v1::TaskId { value: id.into() },
                ..Default::default()
            },
            framework_id: "f".into(),
            agent_id: "a".into(),
            executor_id: None,
            status: v1::TaskStatus::default(),
            resources: Vec::new(),
            resources_recovered: false,
            history: Vec::new(),
        }
    }

    #[test]
    fn a_snapshot_keeps_what_it_saw_while_the_table_changes() {
        let mut table = TaskTable::new();
        for id in ["b", "a", "c"] {
            table.insert(id.into(), task(id));
        }
        let snapshot = table.clone();
        table.get_mut("a").unwrap().agent_id = "moved".into();
        table.remove("b");
        table.insert("d".into(), task("d"));

        let seen: Vec<_> = snapshot
            .iter()
            .map(|(id, t)| (id.as_str(), t.agent_id.as_str()))
            .collect();
        assert_eq!(seen, [("a", "a"), ("b", "a"), ("c", "a")]);
        let now: Vec<_> = table
            .iter()
            .map(|(id, t)| (id.as_str(), t.agent_id.as_str()))
            .collect();
        assert_eq!(now, [("a", "moved"), ("c", "a"), ("d", "a")]);
    }

    #[test]
    fn without_a_snapshot_changes_are_made_in_place() {
        let mut table = TaskTable::new();
        table.insert("a".into(), task("a"));
        let before: *const TaskEntry = table.get("a").unwrap();
        table.get_mut("a").unwrap().agent_id = "x".into();
        assert!(std::ptr::eq(before, table.get("a").unwrap()));
    }
}
