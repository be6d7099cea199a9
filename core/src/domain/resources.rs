//! Resource arithmetic for the master: what an offer holds, what tasks
//! take from it, and what is left.

use std::collections::{BTreeMap, BTreeSet};

use super::{Resource, ResourceValue};

/// Leftovers of float arithmetic below this are zero.
const EPSILON: f64 = 1e-9;

/// A bag of resources keyed by (name, role).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceBag {
    scalars: BTreeMap<(String, String), f64>,
    ranges: BTreeMap<(String, String), Vec<(u64, u64)>>,
    sets: BTreeMap<(String, String), BTreeSet<String>>,
}

fn merge(mut list: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    list.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (b, e) in list.into_iter().filter(|(b, e)| b <= e) {
        match out.last_mut() {
            Some(last) if b <= last.1.saturating_add(1) => last.1 = last.1.max(e),
            _ => out.push((b, e)),
        }
    }
    out
}

/// Every value of `have` except those in `take` (`take` need not be inside).
fn remove_ranges(have: &[(u64, u64)], take: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = have.to_vec();
    for &(tb, te) in take {
        out = out
            .into_iter()
            .flat_map(|(b, e)| {
                let mut parts = Vec::with_capacity(2);
                if te < b || tb > e {
                    parts.push((b, e));
                } else {
                    if tb > b {
                        parts.push((b, tb - 1));
                    }
                    if te < e {
                        parts.push((te + 1, e));
                    }
                }
                parts
            })
            .collect();
    }
    out
}

impl ResourceBag {
    pub fn new(list: &[Resource]) -> Self {
        let mut bag = ResourceBag::default();
        for r in list {
            bag.add_one(r);
        }
        bag
    }

    fn add_one(&mut self, r: &Resource) {
        let key = (r.name.clone(), r.role.clone());
        match &r.value {
            ResourceValue::Scalar(v) => *self.scalars.entry(key).or_default() += v,
            ResourceValue::Ranges(list) => {
                let entry = self.ranges.entry(key).or_default();
                *entry = merge([entry.as_slice(), list].concat());
            }
            ResourceValue::Set(items) => self
                .sets
                .entry(key)
                .or_default()
                .extend(items.iter().cloned()),
        }
    }

    /// Whether `other` fits inside this bag.
    pub fn contains(&self, other: &ResourceBag) -> bool {
        other
            .scalars
            .iter()
            .all(|(k, v)| self.scalars.get(k).is_some_and(|have| have + EPSILON >= *v))
            && other.ranges.iter().all(|(k, want)| {
                let have = self.ranges.get(k).map(Vec::as_slice).unwrap_or(&[]);
                remove_ranges(want, have).is_empty()
            })
            && other
                .sets
                .iter()
                .all(|(k, want)| self.sets.get(k).is_some_and(|have| want.is_subset(have)))
    }

    /// Takes `other` out of this bag (nothing goes below empty).
    pub fn subtract(&mut self, other: &ResourceBag) {
        for (k, v) in &other.scalars {
            if let Some(have) = self.scalars.get_mut(k) {
                *have -= v;
                if *have <= EPSILON {
                    self.scalars.remove(k);
                }
            }
        }
        for (k, take) in &other.ranges {
            if let Some(have) = self.ranges.get_mut(k) {
                *have = remove_ranges(have, take);
            }
        }
        for (k, take) in &other.sets {
            if let Some(have) = self.sets.get_mut(k) {
                have.retain(|i| !take.contains(i));
            }
        }
        self.ranges.retain(|_, r| !r.is_empty());
        self.sets.retain(|_, s| !s.is_empty());
    }

    pub fn add(&mut self, other: &ResourceBag) {
        for r in other.to_list() {
            self.add_one(&r);
        }
    }

    /// The total of scalar `name` over all roles.
    pub fn scalar(&self, name: &str) -> f64 {
        self.scalars
            .iter()
            .filter(|((n, _), _)| n == name)
            // From +0.0: an empty `sum` of floats is -0.0, which reads badly.
            .fold(0.0, |total, (_, v)| total + v)
    }

    pub fn is_empty(&self) -> bool {
        self.scalars.is_empty() && self.ranges.is_empty() && self.sets.is_empty()
    }

    pub fn to_list(&self) -> Vec<Resource> {
        let scalars = self.scalars.iter().map(|((name, role), v)| Resource {
            name: name.clone(),
            role: role.clone(),
            value: ResourceValue::Scalar(*v),
        });
        let ranges = self.ranges.iter().map(|((name, role), r)| Resource {
            name: name.clone(),
            role: role.clone(),
            value: ResourceValue::Ranges(r.clone()),
        });
        let sets = self.sets.iter().map(|((name, role), s)| Resource {
            name: name.clone(),
            role: role.clone(),
            value: ResourceValue::Set(s.iter().cloned().collect()),
        });
        scalars.chain(ranges).chain(sets).collect()
    }
}

/// Renders resources as Mesos does: `cpus:0.5;mem:64;ports:[31000-31001]`.
pub fn format_resources(list: &[Resource]) -> String {
    list.iter()
        .map(|r| {
            let role = if r.role == "*" {
                String::new()
            } else {
                format!("({})", r.role)
            };
            format!("{}{role}:{}", r.name, r.value)
        })
        .collect::<Vec<_>>()
        .join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(list: &[(u64, u64)]) -> Resource {
        Resource {
            name: "ports".into(),
            role: "*".into(),
            value: ResourceValue::Ranges(list.to_vec()),
        }
    }

    #[test]
    fn tasks_fit_into_offers_and_leave_the_rest() {
        let mut offer = ResourceBag::new(&[
            Resource::scalar("cpus", 2.0),
            Resource::scalar("mem", 1024.0),
            ports(&[(31000, 31010)]),
        ]);
        let task = ResourceBag::new(&[Resource::scalar("cpus", 0.5), ports(&[(31005, 31005)])]);
        assert!(offer.contains(&task));
        offer.subtract(&task);
        assert_eq!(offer.scalar("cpus"), 1.5);
        assert!(!offer.contains(&ResourceBag::new(&[ports(&[(31005, 31005)])])));
        assert!(offer.contains(&ResourceBag::new(&[ports(&[(31006, 31010)])])));
        assert!(!offer.contains(&ResourceBag::new(&[Resource::scalar("gpus", 1.0)])));
        assert!(!offer.contains(&ResourceBag::new(&[Resource::scalar("cpus", 1.6)])));
    }
}
