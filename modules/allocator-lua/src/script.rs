//! One loaded policy script: a sandboxed Lua 5.4 state with the host's
//! limits, and the policy functions it defines.

use std::{
    path::Path,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
};

use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};

/// Instructions between two checks of the round's budget.
const HOOK_EVERY: u32 = 1_000;

/// What one script may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Lua instructions per allocation round (and for loading the script).
    pub instructions: i64,
    /// Bytes the Lua state may hold.
    pub memory: usize,
}

/// The policy functions a script may define (`key` orders frameworks,
/// `agent_key` agents, `choose` decides an offer, `round` is told a round
/// starts).
#[derive(Debug)]
pub struct Functions {
    pub key: Option<Function>,
    pub agent_key: Option<Function>,
    pub choose: Option<Function>,
    pub round: Option<Function>,
}

/// A script, loaded.
pub struct Script {
    lua: Lua,
    /// Instructions left in this round.
    budget: Arc<AtomicI64>,
    limits: Limits,
    pub functions: Functions,
    /// `path:line` of `choose`'s definition, for messages about its answers.
    pub choose_at: String,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script")
            .field("limits", &self.limits)
            .field("functions", &self.functions)
            .finish()
    }
}

/// The globals a sandboxed script does not get besides the libraries that
/// are not opened at all (`io`, `os`, `package`, `debug`, `coroutine`,
/// `utf8`): loading code or files, and the collector's controls.
const REMOVED_GLOBALS: [&str; 6] = [
    "dofile",
    "loadfile",
    "load",
    "require",
    "collectgarbage",
    "print",
];

fn sandbox(lua: &Lua, module: &str) -> mlua::Result<()> {
    let globals = lua.globals();
    for name in REMOVED_GLOBALS {
        globals.raw_set(name, Value::Nil)?;
    }
    // Bytecode is never loaded; neither is it made.
    let string: Table = globals.get("string")?;
    string.raw_set("dump", Value::Nil)?;
    let tag = module.to_owned();
    let log = lua.create_function(move |_, message: String| {
        tracing::info!(module = %tag, "{message}");
        Ok(())
    })?;
    let corral = lua.create_table()?;
    corral.raw_set("log", log.clone())?;
    globals.raw_set("corral", corral)?;
    // `print` goes to the master's log too.
    globals.raw_set("print", log)?;
    Ok(())
}

fn function(globals: &Table, name: &str) -> Result<Option<Function>, String> {
    match globals.get::<Value>(name) {
        Ok(Value::Nil) => Ok(None),
        Ok(Value::Function(f)) => Ok(Some(f)),
        Ok(other) => Err(format!(
            "'{name}' must be a function, the script makes it a {}",
            other.type_name()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Where a function was defined, as `path:line`.
fn defined_at(f: &Function, path: &Path) -> String {
    let line = f.info().line_defined.unwrap_or(0);
    format!("{}:{line}", path.display())
}

impl Script {
    /// Reads and runs the script at `path` in a fresh sandboxed state. The
    /// error names the file and line, as Lua reports them.
    pub fn load(path: &Path, limits: Limits, module: &str) -> Result<Script, String> {
        let source = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the script {}: {e}", path.display()))?;
        let lua = Lua::new_with(
            StdLib::STRING | StdLib::TABLE | StdLib::MATH,
            LuaOptions::default(),
        )
        .map_err(|e| e.to_string())?;
        sandbox(&lua, module).map_err(|e| e.to_string())?;
        lua.set_memory_limit(limits.memory)
            .map_err(|e| e.to_string())?;
        let budget = Arc::new(AtomicI64::new(limits.instructions));
        let left = Arc::clone(&budget);
        let limit = limits.instructions;
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if left.fetch_sub(i64::from(HOOK_EVERY), Ordering::Relaxed) <= 0 {
                    return Err(mlua::Error::RuntimeError(format!(
                        "instruction limit exceeded ({limit} per round)"
                    )));
                }
                Ok(VmState::Continue)
            },
        );
        lua.load(source.as_str())
            .set_name(format!("@{}", path.display()))
            .exec()
            .map_err(|e| e.to_string())?;
        let globals = lua.globals();
        let functions = Functions {
            key: function(&globals, "key")?,
            agent_key: function(&globals, "agent_key")?,
            choose: function(&globals, "choose")?,
            round: function(&globals, "round")?,
        };
        if functions.key.is_none() && functions.choose.is_none() && functions.agent_key.is_none() {
            return Err(format!(
                "{} defines none of the policy functions key, agent_key, choose",
                path.display()
            ));
        }
        let choose_at = functions
            .choose
            .as_ref()
            .map(|f| defined_at(f, path))
            .unwrap_or_default();
        drop(globals);
        Ok(Script {
            lua,
            budget,
            limits,
            functions,
            choose_at,
        })
    }

    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// A new round: a full instruction budget.
    pub fn refill(&self) {
        self.budget
            .store(self.limits.instructions, Ordering::Relaxed);
    }
}
