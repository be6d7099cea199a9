//! Plain data that crosses the boundary.
//!
//! These structs are `#[repr(C)]` and checked field by field when a library
//! loads, so they can never gain fields. Anything that evolves quickly travels
//! as protobuf bytes of the Mesos v1 message beside the stable fields (see
//! [`crate::hook::TaskView::task_info`]).

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

/// A key and a value: module parameters, task labels, environment variables.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyValue {
    pub key: RString,
    pub value: RString,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue {
            key: RString::from(key.into()),
            value: RString::from(value.into()),
        }
    }
}

/// An inclusive range of integers, as in Mesos' `Value.Range` (ports).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueRange {
    pub begin: u64,
    pub end: u64,
}

/// The value of a resource: Mesos' `Value` types that resources use.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub enum ResourceValue {
    Scalar(f64),
    Ranges(RVec<ValueRange>),
    Set(RVec<RString>),
}

/// One named resource (`cpus`, `mem`, `disk`, `ports`, ...) reserved for a
/// role (`*` when unreserved).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Resource {
    pub name: RString,
    pub role: RString,
    pub value: ResourceValue,
}

/// The sum of the scalar resources called `name` (every role), `None` when
/// there is none. A helper for modules; it does not cross the boundary.
pub fn scalar_sum(resources: &[Resource], name: &str) -> Option<f64> {
    resources
        .iter()
        .filter(|r| r.name.as_str() == name)
        .filter_map(|r| match r.value {
            ResourceValue::Scalar(value) => Some(value),
            _ => None,
        })
        .reduce(|a, b| a + b)
}

/// Every range of the range resources called `name` (every role), as
/// `(begin, end)` pairs, inclusive. A helper for modules.
pub fn ranges_of(resources: &[Resource], name: &str) -> Vec<(u64, u64)> {
    resources
        .iter()
        .filter(|r| r.name.as_str() == name)
        .filter_map(|r| r.value.as_ranges())
        .flatten()
        .map(|r| (r.begin, r.end))
        .collect()
}

/// The value of `key` in a list of key/value pairs (the first one), as in
/// labels, environments and parameters. A helper for modules.
pub fn lookup<'a>(list: &'a [KeyValue], key: &str) -> Option<&'a str> {
    list.iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str())
}

/// A list of key/value pairs from anything that yields pairs, e.g.
/// `key_values([("team", "infra")])` as a decorator's answer.
pub fn key_values<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> RVec<KeyValue>
where
    K: Into<String>,
    V: Into<String>,
{
    pairs
        .into_iter()
        .map(|(k, v)| KeyValue::new(k, v))
        .collect()
}

impl<K: Into<String>, V: Into<String>> From<(K, V)> for KeyValue {
    fn from((key, value): (K, V)) -> Self {
        KeyValue::new(key, value)
    }
}

impl ResourceValue {
    pub fn as_scalar(&self) -> Option<f64> {
        match self {
            ResourceValue::Scalar(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_ranges(&self) -> Option<&[ValueRange]> {
        match self {
            ResourceValue::Ranges(r) => Some(r.as_slice()),
            _ => None,
        }
    }

    pub fn as_set(&self) -> Option<&[RString]> {
        match self {
            ResourceValue::Set(items) => Some(items.as_slice()),
            _ => None,
        }
    }
}

impl Resource {
    /// An unreserved scalar resource such as `cpus:2`.
    pub fn scalar(name: impl Into<String>, value: f64) -> Self {
        Resource {
            name: RString::from(name.into()),
            role: RString::from("*"),
            value: ResourceValue::Scalar(value),
        }
    }

    /// An unreserved range resource such as `ports:[31000-31010]`, from
    /// inclusive `(begin, end)` pairs.
    pub fn ranges(name: impl Into<String>, ranges: &[(u64, u64)]) -> Self {
        Resource {
            name: RString::from(name.into()),
            role: RString::from("*"),
            value: ResourceValue::Ranges(
                ranges
                    .iter()
                    .map(|&(begin, end)| ValueRange { begin, end })
                    .collect(),
            ),
        }
    }

    /// An unreserved set resource such as `disks:{a,b}`.
    pub fn set<S: Into<String>>(
        name: impl Into<String>,
        items: impl IntoIterator<Item = S>,
    ) -> Self {
        Resource {
            name: RString::from(name.into()),
            role: RString::from("*"),
            value: ResourceValue::Set(items.into_iter().map(|i| RString::from(i.into())).collect()),
        }
    }

    /// The same resource reserved for `role`.
    pub fn with_role(self, role: impl Into<String>) -> Self {
        Resource {
            role: RString::from(role.into()),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_read_like_rust() {
        let offer = [
            Resource::scalar("cpus", 1.5),
            Resource::scalar("cpus", 0.5).with_role("web"),
            Resource::ranges("ports", &[(31000, 31002), (32000, 32000)]),
            Resource::set("disks", ["a", "b"]),
        ];
        assert_eq!(scalar_sum(&offer, "cpus"), Some(2.0));
        assert_eq!(offer[1].role.as_str(), "web");
        assert_eq!(ranges_of(&offer, "ports"), [(31000, 31002), (32000, 32000)]);
        assert_eq!(ranges_of(&offer, "cpus"), []);
        let disks: Vec<&str> = offer[3]
            .value
            .as_set()
            .unwrap()
            .iter()
            .map(RString::as_str)
            .collect();
        assert_eq!(disks, ["a", "b"]);
        assert_eq!(offer[0].value.as_scalar(), Some(1.5));
        assert_eq!(offer[2].value.as_scalar(), None);
    }

    #[test]
    fn key_value_lists_from_pairs_and_lookups() {
        let labels = key_values([("team", "infra"), ("tier", "web"), ("team", "other")]);
        assert_eq!(lookup(&labels, "team"), Some("infra"));
        assert_eq!(lookup(&labels, "absent"), None);
        assert_eq!(KeyValue::from(("a", "b")), KeyValue::new("a", "b"));
    }
}
