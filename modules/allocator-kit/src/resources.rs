//! Resource arithmetic: bags of scalars, ranges and sets keyed by name and
//! role, with the addition, subtraction and containment the allocator needs.

use std::collections::{BTreeMap, BTreeSet};

use corral_module_api::{
    types::{ResourceValue, ValueRange},
    RString, Resource,
};

/// Below this, scalar leftovers from float arithmetic count as zero.
const EPSILON: f64 = 1e-9;

#[derive(Debug, Clone, PartialEq)]
enum Quantity {
    Scalar(f64),
    /// Disjoint, sorted, inclusive ranges.
    Ranges(Vec<(u64, u64)>),
    Set(BTreeSet<String>),
}

/// A bag of resources, keyed by (name, role).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    items: BTreeMap<(String, String), Quantity>,
}

fn normalise(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.retain(|(b, e)| b <= e);
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (b, e) in ranges {
        match out.last_mut() {
            Some(last) if b <= last.1.saturating_add(1) => last.1 = last.1.max(e),
            _ => out.push((b, e)),
        }
    }
    out
}

fn subtract_ranges(from: &[(u64, u64)], take: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for &(mut b, e) in from {
        let mut alive = true;
        for &(tb, te) in take {
            if !alive || te < b || tb > e {
                continue;
            }
            if tb > b {
                out.push((b, tb - 1));
            }
            if te >= e {
                alive = false;
            } else {
                b = te + 1;
            }
        }
        if alive {
            out.push((b, e));
        }
    }
    out
}

/// Both sides sorted and disjoint (as `normalise` leaves them): one pass.
fn ranges_contain(outer: &[(u64, u64)], inner: &[(u64, u64)]) -> bool {
    let mut outer = outer.iter().peekable();
    inner.iter().all(|&(b, e)| {
        while outer.next_if(|&&(_, oe)| oe < b).is_some() {}
        outer.peek().is_some_and(|&&(ob, oe)| ob <= b && e <= oe)
    })
}

impl Resources {
    pub fn from_api(list: &[Resource]) -> Self {
        let mut out = Resources::default();
        for r in list {
            let quantity = match &r.value {
                ResourceValue::Scalar(v) => Quantity::Scalar(*v),
                ResourceValue::Ranges(rs) => {
                    Quantity::Ranges(normalise(rs.iter().map(|r| (r.begin, r.end)).collect()))
                }
                ResourceValue::Set(items) => {
                    Quantity::Set(items.iter().map(|s| s.to_string()).collect())
                }
            };
            out.add_one((r.name.to_string(), r.role.to_string()), quantity);
        }
        out
    }

    pub fn to_api(&self) -> Vec<Resource> {
        self.items
            .iter()
            .map(|((name, role), q)| Resource {
                name: RString::from(name.as_str()),
                role: RString::from(role.as_str()),
                value: match q {
                    Quantity::Scalar(v) => ResourceValue::Scalar(*v),
                    Quantity::Ranges(rs) => ResourceValue::Ranges(
                        rs.iter()
                            .map(|&(begin, end)| ValueRange { begin, end })
                            .collect(),
                    ),
                    Quantity::Set(items) => ResourceValue::Set(
                        items.iter().map(|s| RString::from(s.as_str())).collect(),
                    ),
                },
            })
            .collect()
    }

    /// Adds `q` under `key`: one lookup, and no copy of the key when it is
    /// there already.
    fn add_one(&mut self, key: (String, String), q: Quantity) {
        match self.items.get_mut(&key) {
            Some(have) => {
                merge(have, &q);
                if is_empty(have) {
                    self.items.remove(&key);
                }
            }
            None if !is_empty(&q) => {
                self.items.insert(key, q);
            }
            None => {}
        }
    }

    pub fn add(&mut self, other: &Resources) {
        for (k, q) in &other.items {
            match self.items.get_mut(k) {
                Some(have) => {
                    merge(have, q);
                    if is_empty(have) {
                        self.items.remove(k);
                    }
                }
                None if !is_empty(q) => {
                    self.items.insert(k.clone(), q.clone());
                }
                None => {}
            }
        }
    }

    /// Removes `other` (saturating: nothing goes below empty).
    pub fn subtract(&mut self, other: &Resources) {
        for (k, take) in &other.items {
            let Some(have) = self.items.get_mut(k) else {
                continue;
            };
            match (have, take) {
                (Quantity::Scalar(a), Quantity::Scalar(b)) => *a = (*a - b).max(0.0),
                (Quantity::Ranges(a), Quantity::Ranges(b)) => *a = subtract_ranges(a, b),
                (Quantity::Set(a), Quantity::Set(b)) => a.retain(|i| !b.contains(i)),
                _ => {}
            }
            if is_empty(&self.items[k]) {
                self.items.remove(k);
            }
        }
    }

    /// Whether every resource in `other` is in `self`.
    pub fn contains(&self, other: &Resources) -> bool {
        other
            .items
            .iter()
            .all(|(k, want)| match (self.items.get(k), want) {
                (Some(Quantity::Scalar(a)), Quantity::Scalar(b)) => a + EPSILON >= *b,
                (Some(Quantity::Ranges(a)), Quantity::Ranges(b)) => ranges_contain(a, b),
                (Some(Quantity::Set(a)), Quantity::Set(b)) => b.is_subset(a),
                _ => false,
            })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether nothing is reserved: every role may be offered all of it.
    pub fn is_unreserved(&self) -> bool {
        self.items.keys().all(|(_, role)| role == "*")
    }

    /// The resources usable by a framework of `role`: unreserved (`*`) ones
    /// and those reserved for `role`.
    pub fn offerable_to(&self, role: &str) -> Resources {
        Resources {
            items: self
                .items
                .iter()
                .filter(|((_, r), _)| r == "*" || r == role)
                .map(|(k, q)| (k.clone(), q.clone()))
                .collect(),
        }
    }

    /// The sum of scalar `name` over all roles.
    pub fn scalar(&self, name: &str) -> f64 {
        self.items
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(_, q)| if let Quantity::Scalar(v) = q { *v } else { 0.0 })
            .sum()
    }

    /// A copy with at most `max` of scalar `name` in all (taken from its
    /// roles in order: `*` last), everything else unchanged: what a policy
    /// that caps offers returns as [`crate::Choice::Part`].
    pub fn capped(&self, name: &str, max: f64) -> Resources {
        let mut out = self.clone();
        let mut budget = max.max(0.0);
        let mut keys: Vec<(String, String)> = self
            .items
            .keys()
            .filter(|(n, _)| n == name)
            .cloned()
            .collect();
        // Reserved resources first: they are of no use to anyone else.
        keys.sort_by_key(|(_, role)| role == "*");
        for key in keys {
            if let Some(Quantity::Scalar(v)) = out.items.get_mut(&key) {
                let kept = v.min(budget);
                budget -= kept;
                *v = kept;
            }
            if out.items.get(&key).is_some_and(is_empty) {
                out.items.remove(&key);
            }
        }
        out
    }

    /// Scalar totals by name, over all roles.
    pub fn scalars(&self) -> BTreeMap<&str, f64> {
        let mut out = BTreeMap::new();
        for ((name, _), q) in &self.items {
            if let Quantity::Scalar(v) = q {
                *out.entry(name.as_str()).or_insert(0.0) += v;
            }
        }
        out
    }
}

/// Adds `more` to `have` (a mismatched type under one name: the newer wins).
fn merge(have: &mut Quantity, more: &Quantity) {
    match (have, more) {
        (Quantity::Scalar(a), Quantity::Scalar(b)) => *a += b,
        (Quantity::Ranges(a), Quantity::Ranges(b)) => {
            let joined = [std::mem::take(a), b.clone()].concat();
            *a = normalise(joined);
        }
        (Quantity::Set(a), Quantity::Set(b)) => a.extend(b.iter().cloned()),
        (have, more) => *have = more.clone(),
    }
}

fn is_empty(q: &Quantity) -> bool {
    match q {
        Quantity::Scalar(v) => *v <= EPSILON,
        Quantity::Ranges(r) => r.is_empty(),
        Quantity::Set(s) => s.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(ranges: &[(u64, u64)]) -> Resources {
        Resources::from_api(&[Resource {
            name: "ports".into(),
            role: "*".into(),
            value: ResourceValue::Ranges(
                ranges
                    .iter()
                    .map(|&(begin, end)| ValueRange { begin, end })
                    .collect(),
            ),
        }])
    }

    #[test]
    fn scalars_add_subtract_and_vanish_at_zero() {
        let mut r = Resources::from_api(&[
            Resource::scalar("cpus", 2.0),
            Resource::scalar("mem", 100.0),
        ]);
        r.subtract(&Resources::from_api(&[Resource::scalar("cpus", 0.5)]));
        assert_eq!(r.scalar("cpus"), 1.5);
        r.subtract(&Resources::from_api(&[Resource::scalar("mem", 100.0)]));
        assert_eq!(r.to_api(), [Resource::scalar("cpus", 1.5)]);
    }

    #[test]
    fn ranges_split_merge_and_contain() {
        let mut r = ports(&[(31000, 31009)]);
        r.subtract(&ports(&[(31003, 31004)]));
        assert_eq!(r, ports(&[(31000, 31002), (31005, 31009)]));
        assert!(r.contains(&ports(&[(31005, 31006)])));
        assert!(!r.contains(&ports(&[(31002, 31003)])));
        r.add(&ports(&[(31003, 31004)]));
        assert_eq!(r, ports(&[(31000, 31009)]));
    }

    #[test]
    fn capping_a_scalar_keeps_reserved_first_and_the_rest_whole() {
        let r = Resources::from_api(&[
            Resource::scalar("cpus", 4.0),
            Resource::scalar("cpus", 1.0).with_role("web"),
            Resource::scalar("mem", 512.0),
        ]);
        let capped = r.capped("cpus", 2.5);
        assert_eq!(capped.scalar("cpus"), 2.5);
        assert_eq!(capped.offerable_to("other").scalar("cpus"), 1.5);
        assert_eq!(capped.scalar("mem"), 512.0);
        assert!(r.contains(&capped));
        assert_eq!(r.capped("cpus", 10.0), r);
        assert_eq!(r.capped("cpus", 0.0).scalar("cpus"), 0.0);
    }

    #[test]
    fn reserved_resources_are_offerable_only_to_their_role() {
        let mut reserved = Resource::scalar("cpus", 4.0);
        reserved.role = "web".into();
        let r = Resources::from_api(&[Resource::scalar("cpus", 1.0), reserved]);
        assert_eq!(r.offerable_to("web").scalar("cpus"), 5.0);
        assert_eq!(r.offerable_to("batch").scalar("cpus"), 1.0);
    }
}
