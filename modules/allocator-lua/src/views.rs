//! What a script sees: frameworks, agents and resources as Lua tables, and
//! the sort keys it returns.

use std::cmp::Ordering;

use corral_allocator_kit::{Agent, Framework, Resources};
use mlua::{Lua, MultiValue, Table, Value};

/// Scalar resources by name (every role), as a table `{cpus = 2, mem = 512}`.
pub fn scalars(lua: &Lua, r: &Resources) -> mlua::Result<Table> {
    let scalars = r.scalars();
    let t = lua.create_table_with_capacity(0, scalars.len())?;
    for (name, value) in scalars {
        t.raw_set(name, value)?;
    }
    Ok(t)
}

fn strings(lua: &Lua, list: &[String]) -> mlua::Result<Table> {
    lua.create_sequence_from(list.iter().map(String::as_str))
}

/// The parts of a framework that do not change while it exists.
pub fn new_framework(lua: &Lua, f: &Framework) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 12)?;
    t.raw_set("id", f.id())?;
    t.raw_set("name", f.name())?;
    t.raw_set("role", f.role())?;
    t.raw_set("roles", strings(lua, f.roles())?)?;
    t.raw_set("capabilities", strings(lua, f.capabilities())?)?;
    t.raw_set("weight", f.weight())?;
    Ok(t)
}

/// A framework's table and what it last showed, so that a refresh writes
/// only what changed (a round asks for the order again after every grant,
/// and a grant changes one framework's allocation).
#[derive(Debug)]
pub struct FrameworkView {
    pub table: Table,
    shown: Option<(f64, f64, u64, Resources)>,
}

impl FrameworkView {
    pub fn new(lua: &Lua, f: &Framework) -> mlua::Result<Self> {
        Ok(FrameworkView {
            table: new_framework(lua, f)?,
            shown: None,
        })
    }

    /// Brings the parts that change with allocations up to date.
    pub fn refresh(
        &mut self,
        lua: &Lua,
        f: &Framework,
        share: f64,
        role_share: f64,
    ) -> mlua::Result<()> {
        let t = &self.table;
        let (old_share, old_role_share, old_offers, old_allocated) = match &self.shown {
            Some((s, r, o, a)) => (Some(*s), Some(*r), Some(*o), Some(a)),
            None => (None, None, None, None),
        };
        if old_share != Some(share) {
            t.raw_set("share", share)?;
        }
        if old_role_share != Some(role_share) {
            t.raw_set("role_share", role_share)?;
        }
        if old_offers != Some(f.offers_made()) {
            t.raw_set("offers", f.offers_made())?;
        }
        let allocated_changed = old_allocated != Some(f.allocated());
        if allocated_changed {
            t.raw_set("allocated", scalars(lua, f.allocated())?)?;
        }
        let allocated = match self.shown.take() {
            Some((_, _, _, a)) if !allocated_changed => a,
            _ => f.allocated().clone(),
        };
        self.shown = Some((share, role_share, f.offers_made(), allocated));
        Ok(())
    }
}

/// An agent: id, hostname, and its total, free and used scalars.
pub fn agent(lua: &Lua, a: &Agent) -> mlua::Result<Table> {
    let free = a.available();
    let mut used = a.total().clone();
    used.subtract(&free);
    let t = lua.create_table_with_capacity(0, 5)?;
    t.raw_set("id", a.id())?;
    t.raw_set("hostname", a.hostname())?;
    t.raw_set("total", scalars(lua, a.total())?)?;
    t.raw_set("free", scalars(lua, &free)?)?;
    t.raw_set("used", scalars(lua, &used)?)?;
    Ok(t)
}

/// One part of a sort key: numbers before strings, numbers by value,
/// strings by their bytes.
#[derive(Debug, Clone)]
pub enum KeyPart {
    Num(f64),
    Str(mlua::String),
}

fn part_cmp(a: &KeyPart, b: &KeyPart) -> Ordering {
    match (a, b) {
        (KeyPart::Num(x), KeyPart::Num(y)) => x.total_cmp(y),
        (KeyPart::Str(x), KeyPart::Str(y)) => x.as_bytes().cmp(&y.as_bytes()),
        (KeyPart::Num(_), KeyPart::Str(_)) => Ordering::Less,
        (KeyPart::Str(_), KeyPart::Num(_)) => Ordering::Greater,
    }
}

/// Keys compare part by part; a shorter key that is a prefix comes first.
pub fn key_cmp(a: &[KeyPart], b: &[KeyPart]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match part_cmp(x, y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

/// The values a key function returned, as a key.
pub fn key_of(function: &str, values: MultiValue) -> Result<Vec<KeyPart>, String> {
    if values.is_empty() {
        return Err(format!("{function} returned nothing"));
    }
    values
        .into_iter()
        .map(|v| match v {
            Value::Number(n) => Ok(KeyPart::Num(n)),
            Value::Integer(i) => Ok(KeyPart::Num(i as f64)),
            Value::Boolean(b) => Ok(KeyPart::Num(f64::from(u8::from(b)))),
            Value::String(s) => Ok(KeyPart::Str(s)),
            other => Err(format!(
                "{function} returned a {} (keys are numbers, strings or booleans)",
                other.type_name()
            )),
        })
        .collect()
}
