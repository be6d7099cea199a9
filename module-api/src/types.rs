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

impl Resource {
    /// An unreserved scalar resource such as `cpus:2`.
    pub fn scalar(name: impl Into<String>, value: f64) -> Self {
        Resource {
            name: RString::from(name.into()),
            role: RString::from("*"),
            value: ResourceValue::Scalar(value),
        }
    }
}
