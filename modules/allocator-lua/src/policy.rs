//! [`LuaPolicy`]: the kit's `Policy`, answered by the script.

use std::{collections::HashMap, path::PathBuf, time::SystemTime};

use corral_allocator_kit::{Agent, Choice, Cluster, Framework, Params, Policy, Resources};
use corral_module_api::{Host, ModuleError, ParamKind, ParamSpec};
use mlua::Value;

use crate::{
    script::{Limits, Script},
    views::{self, key_cmp, key_of, FrameworkView, KeyPart},
};

/// The module's name, in its log lines.
pub const MODULE: &str = "org_corral_allocator_lua";

/// When the script file last changed, as far as we can tell.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &std::path::Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The policy of the script at `path`.
pub struct LuaPolicy {
    /// For counters in the daemon's `/metrics/snapshot`.
    host: Host,
    path: PathBuf,
    reload: bool,
    limits: Limits,
    script: Script,
    /// The file's stamp when `script` (or a failed attempt) was read.
    seen: Stamp,
    /// Framework tables of the current script, by framework id.
    frameworks: HashMap<String, FrameworkView>,
    /// The first error of this round: the round is voided.
    failure: Option<String>,
    rounds_voided: u64,
    reloads: u64,
}

impl std::fmt::Debug for LuaPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaPolicy")
            .field("path", &self.path)
            .field("script", &self.script)
            .field("rounds_voided", &self.rounds_voided)
            .field("reloads", &self.reloads)
            .finish()
    }
}

impl LuaPolicy {
    /// How many rounds a script error or limit voided, and how many times
    /// the script was reloaded.
    pub fn counts(&self) -> (u64, u64) {
        (self.rounds_voided, self.reloads)
    }

    fn fail(&mut self, what: String) {
        if self.failure.is_none() {
            self.failure = Some(what);
        }
    }

    /// Reloads the script if its file changed; a script that fails to load
    /// is logged and the last good one kept.
    fn maybe_reload(&mut self) {
        if !self.reload {
            return;
        }
        let now = stamp(&self.path);
        if now == self.seen {
            return;
        }
        self.seen = now;
        match Script::load(&self.path, self.limits, MODULE) {
            Ok(script) => {
                self.script = script;
                self.frameworks.clear();
                self.reloads += 1;
                self.host.count("reloads".into(), 1);
                tracing::info!(script = %self.path.display(), "policy script reloaded");
            }
            Err(e) => {
                self.host.count("reload_failures".into(), 1);
                tracing::error!(
                    script = %self.path.display(),
                    error = %e,
                    "the changed policy script does not load; the last good one keeps running"
                )
            }
        }
    }

    fn framework_view(&mut self, f: &Framework) -> mlua::Result<&mut FrameworkView> {
        if !self.frameworks.contains_key(f.id()) {
            let view = FrameworkView::new(self.script.lua(), f)?;
            self.frameworks.insert(f.id().to_owned(), view);
        }
        Ok(self.frameworks.get_mut(f.id()).expect("just made"))
    }

    fn framework_keys(
        &mut self,
        cluster: &Cluster<'_>,
        frameworks: &[&Framework],
    ) -> Result<Vec<Vec<KeyPart>>, String> {
        let key = self.script.functions.key.clone();
        if key.is_none() && self.script.functions.choose.is_none() {
            return Ok(Vec::new());
        }
        let role_share = cluster.role_shares(frameworks);
        if self.frameworks.len() > 2 * frameworks.len() + 16 {
            self.frameworks.clear();
        }
        let mut keys = Vec::with_capacity(frameworks.len());
        let lua = self.script.lua().clone();
        for f in frameworks {
            let share = cluster.dominant_share(f.allocated());
            let view = self.framework_view(f).map_err(|e| e.to_string())?;
            view.refresh(&lua, f, share, role_share[f.role()])
                .map_err(|e| e.to_string())?;
            if let Some(key) = &key {
                let values = key.call(&view.table).map_err(|e| e.to_string())?;
                keys.push(key_of("key", values)?);
            }
        }
        Ok(keys)
    }

    fn agent_keys(&self, agents: &[&Agent]) -> Result<Vec<Vec<KeyPart>>, String> {
        let Some(key) = self.script.functions.agent_key.clone() else {
            return Ok(Vec::new());
        };
        agents
            .iter()
            .map(|a| {
                let t = views::agent(self.script.lua(), a).map_err(|e| e.to_string())?;
                key_of("agent_key", key.call(t).map_err(|e| e.to_string())?)
            })
            .collect()
    }

    /// What `choose` answered, as the kit's choice (framework tables were
    /// brought up to date by the round's latest `order`).
    fn choice(&self, answer: Value, offerable: &Resources) -> Result<Choice, String> {
        let at = &self.script.choose_at;
        match answer {
            Value::Nil | Value::Boolean(true) => Ok(Choice::All),
            Value::Boolean(false) => Ok(Choice::Pass),
            Value::Table(caps) => {
                let mut part = offerable.clone();
                for pair in caps.pairs::<String, f64>() {
                    let (name, most) = pair.map_err(|e| {
                        format!("choose ({at}) returned a table that is not name = number: {e}")
                    })?;
                    let has = offerable.scalar(&name);
                    if !(most.is_finite() && most >= 0.0 && most <= has + 1e-9) {
                        tracing::warn!(
                            choose = %at,
                            resource = %name,
                            asked = most,
                            offerable = has,
                            "choose asked for more than is offerable; framework passed over"
                        );
                        return Ok(Choice::Pass);
                    }
                    part = part.capped(&name, most);
                }
                Ok(Choice::Part(part))
            }
            other => Err(format!(
                "choose ({at}) returned a {} (nil, a boolean or a table of amounts)",
                other.type_name()
            )),
        }
    }
}

/// Sorts `items` by `keys` (stable: ties keep their order).
fn sort_by_keys<T: Copy>(items: &mut [T], keys: Vec<Vec<KeyPart>>) {
    let mut keyed: Vec<(Vec<KeyPart>, T)> = keys.into_iter().zip(items.iter().copied()).collect();
    keyed.sort_by(|a, b| key_cmp(&a.0, &b.0));
    for (slot, (_, item)) in items.iter_mut().zip(keyed) {
        *slot = item;
    }
}

impl Policy for LuaPolicy {
    fn parameters() -> Vec<ParamSpec> {
        vec![
            ParamSpec::new(
                "script",
                ParamKind::Path,
                "the policy script (relative to the manifest)",
            ),
            ParamSpec::new(
                "reload",
                ParamKind::Boolean,
                "reload the script when its file changes",
            )
            .default_value("true"),
            ParamSpec::new(
                "instruction_limit",
                ParamKind::Integer,
                "Lua instructions per allocation round",
            )
            .default_value("10000000"),
            ParamSpec::new(
                "memory_limit",
                ParamKind::Integer,
                "MiB the script's Lua state may hold",
            )
            .default_value("64"),
        ]
    }

    fn new(params: &Params, host: &Host) -> Result<Self, ModuleError> {
        let path = PathBuf::from(params.require("script")?);
        let positive = |key: &str, value: i64| {
            if value > 0 {
                Ok(value)
            } else {
                Err(ModuleError::invalid_parameters(format!(
                    "parameter '{key}' must be positive, not {value}"
                )))
            }
        };
        let limits = Limits {
            instructions: positive(
                "instruction_limit",
                params.parse("instruction_limit")?.unwrap_or(10_000_000),
            )?,
            memory: positive("memory_limit", params.parse("memory_limit")?.unwrap_or(64))? as usize
                * 1024
                * 1024,
        };
        let seen = stamp(&path);
        let script =
            Script::load(&path, limits, MODULE).map_err(ModuleError::invalid_parameters)?;
        tracing::info!(script = %path.display(), "Lua allocator ready");
        Ok(LuaPolicy {
            host: host.clone(),
            path,
            reload: params.parse("reload")?.unwrap_or(true),
            limits,
            script,
            seen,
            frameworks: HashMap::new(),
            failure: None,
            rounds_voided: 0,
            reloads: 0,
        })
    }

    fn begin_round(&mut self, now_ms: u64) {
        self.maybe_reload();
        self.failure = None;
        self.script.refill();
        if let Some(round) = self.script.functions.round.clone() {
            let called = self
                .script
                .lua()
                .create_table()
                .and_then(|t| {
                    t.raw_set("now_ms", now_ms)?;
                    Ok(t)
                })
                .and_then(|t| round.call::<()>(t));
            if let Err(e) = called {
                self.fail(e.to_string());
            }
        }
    }

    fn end_round(&mut self) -> Result<(), String> {
        match self.failure.take() {
            None => Ok(()),
            Some(e) => {
                self.rounds_voided += 1;
                self.host.count("rounds_voided".into(), 1);
                Err(format!(
                    "policy script {}: {e} (rounds voided so far: {})",
                    self.path.display(),
                    self.rounds_voided
                ))
            }
        }
    }

    fn order(&mut self, cluster: &Cluster<'_>, frameworks: &mut [&Framework]) {
        if self.failure.is_some() {
            return;
        }
        match self.framework_keys(cluster, frameworks) {
            Ok(keys) if keys.is_empty() => {}
            Ok(keys) => sort_by_keys(frameworks, keys),
            Err(e) => self.fail(e),
        }
    }

    fn orders_agents(&self) -> bool {
        self.script.functions.agent_key.is_some()
    }

    fn order_agents(&mut self, _cluster: &Cluster<'_>, agents: &mut [&Agent]) {
        if self.failure.is_some() {
            return;
        }
        match self.agent_keys(agents) {
            Ok(keys) if keys.is_empty() => {}
            Ok(keys) => sort_by_keys(agents, keys),
            Err(e) => self.fail(e),
        }
    }

    fn choose(&mut self, agent: &Agent, framework: &Framework, offerable: &Resources) -> Choice {
        if self.failure.is_some() {
            return Choice::Pass;
        }
        let Some(choose) = self.script.functions.choose.clone() else {
            return Choice::All;
        };
        let lua = self.script.lua().clone();
        let answer = (|| {
            let a = views::agent(&lua, agent)?;
            let f = self.framework_view(framework)?.table.clone();
            let o = views::scalars(&lua, offerable)?;
            choose.call::<Value>((a, f, o))
        })();
        match answer
            .map_err(|e| e.to_string())
            .and_then(|v| self.choice(v, offerable))
        {
            Ok(choice) => choice,
            Err(e) => {
                self.fail(e);
                Choice::Pass
            }
        }
    }
}
