//! `corral allocator simulate`: an allocator module on a synthetic cluster,
//! without a master: rounds of offers, frameworks that launch what fits and
//! decline the rest, tasks that end after a few rounds. Prints each round's
//! grants and the frameworks' dominant shares, so a policy (a Lua script
//! above all) can be tried before it runs a cluster.

use std::{collections::BTreeMap, io::Write, path::PathBuf};

use clap::{Args, Subcommand};

use crate::{
    domain::{format_resources, parse_resources, Resource, ResourceBag},
    extension::{AgentEntry, Allocation, AllocatorPlugin, FrameworkEntry, Recovered, ReturnReason},
    module_host::{self, default_search_paths, Manifest},
};

#[derive(Debug, Subcommand)]
pub enum AllocatorCommand {
    /// Run an allocator module on a synthetic cluster and print its grants.
    Simulate(SimulateArgs),
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A Lua policy script, run by org_corral_allocator_lua (found like the
    /// embedded modules: $CORRAL_MODULE_PATH, then beside corral).
    #[arg(long, conflicts_with_all = ["manifest", "allocator"])]
    pub script: Option<PathBuf>,
    /// A module manifest holding the allocator to run.
    #[arg(long, requires = "allocator")]
    pub manifest: Option<PathBuf>,
    /// The allocator module's name in --manifest.
    #[arg(long)]
    pub allocator: Option<String>,
    #[arg(long, default_value_t = 8)]
    pub agents: usize,
    #[arg(long, default_value_t = 3)]
    pub frameworks: usize,
    /// Roles, given to the frameworks in turn.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub roles: Vec<String>,
    /// What every agent has.
    #[arg(long, default_value = "cpus:4;mem:8192")]
    pub agent_resources: String,
    /// What one task uses; frameworks launch as many as fit in an offer.
    #[arg(long, default_value = "cpus:1;mem:1024")]
    pub task: String,
    /// Most tasks a framework launches from one offer.
    #[arg(long, default_value_t = 2)]
    pub tasks_per_offer: usize,
    /// Rounds a task runs before it ends.
    #[arg(long, default_value_t = 3)]
    pub task_rounds: u64,
    /// Allocation rounds, one simulated second apart.
    #[arg(long, default_value_t = 6)]
    pub rounds: u64,
}

struct Task {
    framework: String,
    agent: String,
    resources: Vec<Resource>,
    ends: u64,
    id: String,
}

fn allocator(args: &SimulateArgs) -> Result<Box<dyn AllocatorPlugin>, String> {
    let (manifest, name) = match (&args.script, &args.manifest, &args.allocator) {
        (Some(script), _, _) => {
            let script = std::fs::canonicalize(script)
                .map_err(|e| format!("the script {}: {e}", script.display()))?;
            let text = format!(
                "[[library]]\nname = \"corral_allocator_lua\"\n  [[library.module]]\n  name = \"org_corral_allocator_lua\"\n  parameters = {{ script = {:?}, reload = false }}\n",
                script.display().to_string()
            );
            let manifest = Manifest::parse(
                &text,
                std::path::Path::new("<simulate>"),
                std::path::Path::new("."),
            )
            .map_err(|e| e.to_string())?;
            (manifest, "org_corral_allocator_lua".to_owned())
        }
        (None, Some(path), Some(name)) => (
            Manifest::load(path).map_err(|e| e.to_string())?,
            name.clone(),
        ),
        _ => return Err("give --script FILE, or --manifest FILE --allocator NAME".to_owned()),
    };
    let (registry, errors) = module_host::load(&manifest, &default_search_paths());
    if let Some(e) = errors.first() {
        return Err(e.to_string());
    }
    registry
        .create_allocator(&name, "corral allocator simulate")
        .map_err(|e| e.to_string())
}

/// `corral allocator simulate`.
pub fn run(
    command: AllocatorCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<bool> {
    let AllocatorCommand::Simulate(args) = command;
    match simulate(&args, out) {
        Ok(()) => Ok(true),
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(false)
        }
    }
}

fn simulate(args: &SimulateArgs, out: &mut dyn Write) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let total =
        parse_resources(&args.agent_resources).map_err(|e| format!("--agent-resources: {e}"))?;
    let task = ResourceBag::new(&parse_resources(&args.task).map_err(|e| format!("--task: {e}"))?);
    if args.roles.is_empty() || args.frameworks == 0 || args.agents == 0 {
        return Err("--agents, --frameworks and --roles must not be empty".to_owned());
    }
    let mut a = allocator(args)?;
    let call = |r: Result<(), crate::extension::ModuleCallError>| r.map_err(|e| e.to_string());
    let mut roles = BTreeMap::new();
    for i in 0..args.frameworks {
        let role = args.roles[i % args.roles.len()].clone();
        let id = format!("fw-{i}");
        call(a.add_framework(&FrameworkEntry {
            id: id.clone(),
            name: id.clone(),
            role: role.clone(),
            roles: vec![role.clone()],
            weight: 1.0,
            active: true,
            user: "simulate".to_owned(),
            ..FrameworkEntry::default()
        }))?;
        roles.insert(id, role);
    }
    for i in 0..args.agents {
        call(a.add_agent(&AgentEntry {
            id: format!("agent-{i}"),
            hostname: format!("agent-{i}"),
            total: total.clone(),
            used: Vec::new(),
            active: true,
        }))?;
    }
    let cluster = {
        let mut bag = ResourceBag::default();
        for _ in 0..args.agents {
            bag.add(&ResourceBag::new(&total));
        }
        bag
    };
    writeln!(
        out,
        "{} agents ({}), {} frameworks (roles {}), tasks of {}",
        args.agents,
        args.agent_resources,
        args.frameworks,
        args.roles.join(","),
        args.task
    )
    .map_err(io)?;
    let mut running: Vec<Task> = Vec::new();
    let mut next_task = 0;
    for round in 1..=args.rounds {
        let now_ms = (round - 1) * 1_000;
        // Tasks that end now give their resources back.
        let (ended, still): (Vec<Task>, Vec<Task>) =
            running.drain(..).partition(|t| t.ends <= round);
        running = still;
        for t in ended {
            call(a.recover_resources(
                &Recovered {
                    allocation: Allocation {
                        framework_id: t.framework,
                        agent_id: t.agent,
                        resources: t.resources,
                    },
                    reason: ReturnReason::TaskEnded,
                    task_id: Some(t.id),
                    ..Recovered::default()
                },
                now_ms,
            ))?;
        }
        let grants = a.allocate(now_ms).map_err(|e| e.to_string())?;
        writeln!(
            out,
            "\nround {round} (t = {} s): {} offers",
            now_ms / 1000,
            grants.len()
        )
        .map_err(io)?;
        for g in grants {
            let mut left = ResourceBag::new(&g.resources);
            let mut launched = 0;
            while launched < args.tasks_per_offer && left.contains(&task) {
                left.subtract(&task);
                launched += 1;
                next_task += 1;
                running.push(Task {
                    framework: g.framework_id.clone(),
                    agent: g.agent_id.clone(),
                    resources: task.to_list(),
                    ends: round + args.task_rounds,
                    id: format!("task-{next_task}"),
                });
            }
            writeln!(
                out,
                "  {} ({}) on {}: {} -> {launched} task(s)",
                g.framework_id,
                roles.get(&g.framework_id).map_or("?", String::as_str),
                g.agent_id,
                format_resources(&g.resources)
            )
            .map_err(io)?;
            if !left.is_empty() {
                call(a.recover_resources(
                    &Recovered {
                        allocation: Allocation {
                            resources: left.to_list(),
                            ..g
                        },
                        refuse_seconds: Some(5.0),
                        reason: if launched == 0 {
                            ReturnReason::Declined
                        } else {
                            ReturnReason::Unused
                        },
                        ..Recovered::default()
                    },
                    now_ms,
                ))?;
            }
        }
        let mut used: BTreeMap<&str, ResourceBag> = BTreeMap::new();
        for t in &running {
            used.entry(t.framework.as_str())
                .or_default()
                .add(&ResourceBag::new(&t.resources));
        }
        let shares: Vec<String> = roles
            .keys()
            .map(|f| {
                let bag = used.get(f.as_str()).cloned().unwrap_or_default();
                let share = ["cpus", "mem", "disk", "gpus"]
                    .iter()
                    .filter(|n| cluster.scalar(n) > 0.0)
                    .map(|n| bag.scalar(n) / cluster.scalar(n))
                    .fold(0.0, f64::max);
                format!("{f} {share:.2}")
            })
            .collect();
        writeln!(
            out,
            "  running tasks: {}; dominant shares: {}",
            running.len(),
            shares.join(", ")
        )
        .map_err(io)?;
    }
    Ok(())
}
