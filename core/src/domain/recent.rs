//! Bounded history: the last N of something (completed tasks, completed
//! frameworks, finished executors), oldest dropped first.

use std::collections::{vec_deque, VecDeque};

/// At most `capacity` items, in the order they were pushed; pushing onto a
/// full one drops the oldest.
#[derive(Debug, Clone)]
pub struct Recent<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> Recent<T> {
    pub fn new(capacity: usize) -> Self {
        Recent {
            items: VecDeque::new(),
            capacity,
        }
    }

    /// Adds `item` as the newest, dropping the oldest past the capacity.
    pub fn push(&mut self, item: T) {
        if self.capacity == 0 {
            return;
        }
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Oldest first.
    pub fn iter(&self) -> vec_deque::Iter<'_, T> {
        self.items.iter()
    }

    /// Keeps only the items `keep` accepts.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep);
    }
}

impl<'a, T> IntoIterator for &'a Recent<T> {
    type Item = &'a T;
    type IntoIter = vec_deque::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_up_to_its_capacity() {
        let mut recent = Recent::new(3);
        for i in 0..10 {
            recent.push(i);
        }
        assert_eq!(recent.len(), 3);
        assert_eq!(recent.iter().copied().collect::<Vec<_>>(), [7, 8, 9]);
    }

    #[test]
    fn a_zero_capacity_keeps_nothing() {
        let mut recent = Recent::new(0);
        recent.push("a");
        assert!(recent.is_empty());
    }
}
