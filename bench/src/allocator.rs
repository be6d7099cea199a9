//! Mesos' `HierarchicalAllocator_BENCHMARK_Test` scenarios `DeclineOffers`
//! and `AddAndUpdateSlave`, run against the DRF allocator twice in the same
//! process: through its cdylib (core's module host, the ABI, the panic
//! guard) and linked in as an rlib (`DrfAllocator` called directly).

use std::time::Instant;

use anyhow::{anyhow, Result};
use corral::{
    domain::{Resource as CoreResource, ResourceValue as CoreValue},
    extension::{
        AgentEntry as CoreAgentEntry, Allocation, AllocatorPlugin,
        FrameworkEntry as CoreFrameworkEntry, Recovered as CoreRecovered,
    },
    module_host::ModuleRegistry,
};
use corral_allocator_drf::DrfAllocator;
use corral_module_api::{
    allocator::{
        AgentEntry, Allocation as ApiAllocation, FrameworkEntry, Recovered as ApiRecovered,
    },
    guest::{null_host, AllocatorModule, Params},
    types::{ResourceValue as ApiValue, ValueRange},
    ROption, RString, RVec, Resource as ApiResource,
};

use crate::stats::{fmt_ms, median, ms, p99, Table};

/// Mesos' anchor (MESOS-4694): one DeclineOffers round at 2,000 agents ×
/// 200 frameworks took about 2.9 s.
pub const MESOS_ANCHOR_MS: f64 = 2_900.0;
/// Decline filter: refuse for an hour (Mesos uses `INT_MAX` seconds; the
/// DRF allocator caps filters at a year, so an hour is just as "long").
const REFUSE_SECONDS: f64 = 3_600.0;

/// A resource in neutral form, converted to each side's own type before
/// anything is timed.
#[derive(Debug, Clone)]
pub enum Res {
    Scalar(&'static str, f64),
    Ports(Vec<(u64, u64)>),
}

fn core_resources(list: &[Res]) -> Vec<CoreResource> {
    list.iter()
        .map(|r| match r {
            Res::Scalar(name, v) => CoreResource::scalar(name, *v),
            Res::Ports(ranges) => CoreResource {
                name: "ports".into(),
                role: "*".into(),
                value: CoreValue::Ranges(ranges.clone()),
            },
        })
        .collect()
}

fn api_resources(list: &[Res]) -> RVec<ApiResource> {
    list.iter()
        .map(|r| match r {
            Res::Scalar(name, v) => ApiResource::scalar(*name, *v),
            Res::Ports(ranges) => ApiResource {
                name: "ports".into(),
                role: "*".into(),
                value: ApiValue::Ranges(
                    ranges
                        .iter()
                        .map(|&(begin, end)| ValueRange { begin, end })
                        .collect(),
                ),
            },
        })
        .collect()
}

/// What each side needs, prebuilt in its own types.
pub trait Target {
    type Framework;
    type Agent;
    type Decline;
    type Total;
    fn framework(id: &str) -> Self::Framework;
    fn agent(id: &str, total: &[Res], used: Option<(&str, &[Res])>) -> Self::Agent;
    fn decline(framework: &str, agent: &str, resources: &[Res]) -> Self::Decline;
    fn total(resources: &[Res]) -> Self::Total;
    fn add_framework(&mut self, f: &Self::Framework) -> Result<()>;
    fn add_agent(&mut self, a: &Self::Agent) -> Result<()>;
    fn update_agent(&mut self, id: &str, total: &Self::Total) -> Result<()>;
    fn decline_offer(&mut self, d: &Self::Decline, now_ms: u64) -> Result<()>;
    /// One allocation round; returns the number of offers made.
    fn allocate(&mut self, now_ms: u64) -> Result<usize>;
}

/// The DRF allocator as the master uses it: loaded from its cdylib.
pub struct Cdylib(pub Box<dyn AllocatorPlugin>);

impl Target for Cdylib {
    type Framework = CoreFrameworkEntry;
    type Agent = CoreAgentEntry;
    type Decline = CoreRecovered;
    type Total = Vec<CoreResource>;

    fn framework(id: &str) -> CoreFrameworkEntry {
        CoreFrameworkEntry {
            id: id.to_owned(),
            role: "*".to_owned(),
            weight: 1.0,
            active: true,
            ..CoreFrameworkEntry::default()
        }
    }
    fn agent(id: &str, total: &[Res], used: Option<(&str, &[Res])>) -> CoreAgentEntry {
        CoreAgentEntry {
            id: id.to_owned(),
            hostname: id.to_owned(),
            total: core_resources(total),
            used: used
                .map(|(f, r)| Allocation {
                    framework_id: f.to_owned(),
                    agent_id: id.to_owned(),
                    resources: core_resources(r),
                })
                .into_iter()
                .collect(),
            active: true,
        }
    }
    fn decline(framework: &str, agent: &str, resources: &[Res]) -> CoreRecovered {
        CoreRecovered {
            allocation: Allocation {
                framework_id: framework.to_owned(),
                agent_id: agent.to_owned(),
                resources: core_resources(resources),
            },
            refuse_seconds: Some(REFUSE_SECONDS),
            ..CoreRecovered::default()
        }
    }
    fn total(resources: &[Res]) -> Vec<CoreResource> {
        core_resources(resources)
    }
    fn add_framework(&mut self, f: &CoreFrameworkEntry) -> Result<()> {
        Ok(self.0.add_framework(f)?)
    }
    fn add_agent(&mut self, a: &CoreAgentEntry) -> Result<()> {
        Ok(self.0.add_agent(a)?)
    }
    fn update_agent(&mut self, id: &str, total: &Vec<CoreResource>) -> Result<()> {
        Ok(self.0.update_agent(id, total)?)
    }
    fn decline_offer(&mut self, d: &CoreRecovered, now_ms: u64) -> Result<()> {
        Ok(self.0.recover_resources(d, now_ms)?)
    }
    fn allocate(&mut self, now_ms: u64) -> Result<usize> {
        Ok(self.0.allocate(now_ms)?.len())
    }
}

/// The same allocator linked in: `DrfAllocator` called directly.
pub struct InProcess(pub DrfAllocator);

impl InProcess {
    pub fn new() -> Result<Self> {
        let params = Params::new(Vec::<(String, String)>::new());
        Ok(InProcess(
            DrfAllocator::new(&params, &null_host()).map_err(|e| anyhow!("{e}"))?,
        ))
    }
}

fn api<T>(r: Result<T, corral_module_api::ModuleError>) -> Result<T> {
    r.map_err(|e| anyhow!("{e}"))
}

impl Target for InProcess {
    type Framework = FrameworkEntry;
    type Agent = AgentEntry;
    type Decline = ApiRecovered;
    type Total = RVec<ApiResource>;

    fn framework(id: &str) -> FrameworkEntry {
        FrameworkEntry {
            id: id.into(),
            role: "*".into(),
            weight: 1.0,
            active: true,
        }
    }
    fn agent(id: &str, total: &[Res], used: Option<(&str, &[Res])>) -> AgentEntry {
        AgentEntry {
            id: id.into(),
            hostname: id.into(),
            total: api_resources(total),
            used: used
                .map(|(f, r)| ApiAllocation {
                    framework_id: RString::from(f),
                    agent_id: RString::from(id),
                    resources: api_resources(r),
                })
                .into_iter()
                .collect(),
            active: true,
        }
    }
    fn decline(framework: &str, agent: &str, resources: &[Res]) -> ApiRecovered {
        ApiRecovered {
            allocation: ApiAllocation {
                framework_id: framework.into(),
                agent_id: agent.into(),
                resources: api_resources(resources),
            },
            refuse_seconds: ROption::RSome(REFUSE_SECONDS),
        }
    }
    fn total(resources: &[Res]) -> RVec<ApiResource> {
        api_resources(resources)
    }
    fn add_framework(&mut self, f: &FrameworkEntry) -> Result<()> {
        api(self.0.add_framework(f))
    }
    fn add_agent(&mut self, a: &AgentEntry) -> Result<()> {
        api(self.0.add_agent(a))
    }
    fn update_agent(&mut self, id: &str, total: &RVec<ApiResource>) -> Result<()> {
        // The module takes the list by value; the ABI path converts core's
        // list into a new one, so a clone here is the fair counterpart.
        api(self.0.update_agent(id, total.to_vec()))
    }
    fn decline_offer(&mut self, d: &ApiRecovered, now_ms: u64) -> Result<()> {
        api(self.0.recover_resources(d, now_ms))
    }
    fn allocate(&mut self, now_ms: u64) -> Result<usize> {
        Ok(api(self.0.allocate(now_ms))?.len())
    }
}

// ----- DeclineOffers ----------------------------------------------------------

/// Ports `[31000-32000]` cut into 16 used fragments of 32 ports, spread
/// over the range (Mesos: `fragment(createRange(31000, 32000), 16)`).
fn used_ports() -> Vec<(u64, u64)> {
    (0..16)
        .map(|i| (31_000 + 64 * i, 31_000 + 64 * i + 31))
        .collect()
}

fn free_ports() -> Vec<(u64, u64)> {
    let mut free = Vec::new();
    let mut next = 31_000;
    for (b, e) in used_ports() {
        if b > next {
            free.push((next, b - 1));
        }
        next = e + 1;
    }
    if next <= 32_000 {
        free.push((next, 32_000));
    }
    free
}

pub(crate) struct DeclineSetup {
    pub total: Vec<Res>,
    used: Vec<Res>,
    free: Vec<Res>,
}

pub(crate) fn decline_setup() -> DeclineSetup {
    DeclineSetup {
        total: vec![
            Res::Scalar("cpus", 24.0),
            Res::Scalar("mem", 4096.0),
            Res::Scalar("disk", 4096.0),
            Res::Ports(vec![(31_000, 32_000)]),
        ],
        used: vec![
            Res::Scalar("cpus", 16.0),
            Res::Scalar("mem", 2014.0),
            Res::Scalar("disk", 1024.0),
            Res::Ports(used_ports()),
        ],
        free: vec![
            Res::Scalar("cpus", 8.0),
            Res::Scalar("mem", 2082.0),
            Res::Scalar("disk", 3072.0),
            Res::Ports(free_ports()),
        ],
    }
}

pub(crate) fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:06}")).collect()
}

/// One repetition of DeclineOffers: builds the state in which every
/// framework has declined every agent with a long filter, then times the
/// first allocation round after the declines (every agent × framework pair
/// is looked at) and `rounds` more rounds in which nothing has changed.
pub(crate) fn decline_offers<T: Target>(
    target: &mut T,
    agents: usize,
    frameworks: usize,
    rounds: usize,
) -> Result<DeclineTimes> {
    let s = decline_setup();
    let fw_ids = ids("fw", frameworks);
    let ag_ids = ids("agent", agents);
    let setup = Instant::now();
    for f in &fw_ids {
        target.add_framework(&T::framework(f))?;
    }
    // The filtered state Mesos reaches after `frameworks` rounds of offers
    // and declines (each round offers every agent's free part to one more
    // framework) is built directly: agents join empty, every framework
    // declines every agent's free part with a 1 h filter, then the agents
    // join again with their used part charged round-robin to the
    // frameworks. Declining resources one never held leaves its allocation
    // at zero (subtraction saturates), so the state equals the offered-and-
    // declined one, minus the offer counters that only break DRF ties.
    for a in &ag_ids {
        target.add_agent(&T::agent(a, &s.total, None))?;
    }
    for f in &fw_ids {
        for a in &ag_ids {
            target.decline_offer(&T::decline(f, a, &s.free), 0)?;
        }
    }
    for (i, a) in ag_ids.iter().enumerate() {
        let owner = &fw_ids[i % frameworks];
        target.add_agent(&T::agent(a, &s.total, Some((owner, &s.used))))?;
    }
    let setup_ms = ms(setup.elapsed());
    // The first round after the declines, which also checks that every
    // offer is filtered.
    let start = Instant::now();
    let offers = target.allocate(1_000)?;
    let first_ms = ms(start.elapsed());
    if offers != 0 {
        anyhow::bail!("DeclineOffers setup is wrong: {offers} offers made after filtering");
    }
    let mut steady_ms = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let start = Instant::now();
        let offers = target.allocate(2_000 + r as u64 * 1_000)?;
        steady_ms.push(ms(start.elapsed()));
        if offers != 0 {
            anyhow::bail!("round {r}: {offers} offers made after filtering");
        }
    }
    Ok(DeclineTimes {
        first_ms,
        steady_ms,
        setup_ms,
    })
}

/// One DeclineOffers repetition's timings.
pub(crate) struct DeclineTimes {
    /// The round right after every framework declined every agent.
    pub first_ms: f64,
    /// Later rounds, nothing changed in between.
    pub steady_ms: Vec<f64>,
    pub setup_ms: f64,
}

// ----- AddAndUpdateSlave ------------------------------------------------------

/// One repetition of AddAndUpdateSlave: (ms to add all agents, ms to
/// update all of them).
fn add_and_update<T: Target>(
    target: &mut T,
    agents: usize,
    frameworks: usize,
) -> Result<(f64, f64)> {
    let total = vec![
        Res::Scalar("cpus", 2.0),
        Res::Scalar("mem", 1024.0),
        Res::Scalar("disk", 4096.0),
        Res::Ports(vec![(31_000, 32_000)]),
    ];
    let used = vec![
        Res::Scalar("cpus", 1.0),
        Res::Scalar("mem", 128.0),
        Res::Scalar("disk", 1024.0),
        Res::Ports(vec![(31_000, 31_009), (31_100, 31_109), (31_500, 31_509)]),
    ];
    // Mesos adds 10 revocable cpus; the DRF allocator has no revocable
    // resources, so the update adds 10 cpus to the total.
    let updated = T::total(&[
        Res::Scalar("cpus", 12.0),
        Res::Scalar("mem", 1024.0),
        Res::Scalar("disk", 4096.0),
        Res::Ports(vec![(31_000, 32_000)]),
    ]);
    let fw_ids = ids("fw", frameworks);
    let ag_ids = ids("agent", agents);
    for f in &fw_ids {
        target.add_framework(&T::framework(f))?;
    }
    let specs: Vec<T::Agent> = ag_ids
        .iter()
        .enumerate()
        .map(|(i, a)| T::agent(a, &total, Some((&fw_ids[i % frameworks], &used))))
        .collect();
    let start = Instant::now();
    for spec in &specs {
        target.add_agent(spec)?;
    }
    let add_ms = ms(start.elapsed());
    let start = Instant::now();
    for a in &ag_ids {
        target.update_agent(a, &updated)?;
    }
    let update_ms = ms(start.elapsed());
    Ok((add_ms, update_ms))
}

// ----- the command ------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Decline,
    AddUpdate,
    Both,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Agent counts of the grid.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1_000, 5_000, 10_000])]
    pub agents: Vec<usize>,
    /// Framework counts of the grid.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 50, 200])]
    pub frameworks: Vec<usize>,
    /// Repetitions per cell and per side (cdylib, in-process), alternated.
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Timed allocation rounds per repetition (DeclineOffers).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    #[arg(long, value_enum, default_value_t = Scenario::Both)]
    pub scenario: Scenario,
    /// Also run Mesos' anchor cell, 2,000 agents × 200 frameworks.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub anchor: bool,
    /// Skip a cell when its estimated wall time (from the cells already
    /// run, scaled by agents × frameworks) exceeds this many seconds.
    #[arg(long, default_value_t = 30.0)]
    pub cell_budget_secs: f64,
}

/// Wall time seen per agent×framework pair, for skipping cells.
#[derive(Default)]
struct Estimator {
    secs_per_pair: Option<f64>,
}

impl Estimator {
    fn estimate(&self, agents: usize, frameworks: usize) -> Option<f64> {
        self.secs_per_pair
            .map(|s| s * agents as f64 * frameworks as f64)
    }
    fn observe(&mut self, agents: usize, frameworks: usize, secs: f64) {
        let per = secs / (agents as f64 * frameworks as f64);
        self.secs_per_pair = Some(self.secs_per_pair.map_or(per, |p: f64| p.max(per)));
    }
}

fn cells(args: &Args) -> Vec<(usize, usize, bool)> {
    let mut cells: Vec<(usize, usize, bool)> = Vec::new();
    for &a in &args.agents {
        for &f in &args.frameworks {
            cells.push((a, f, false));
        }
    }
    if args.anchor && !cells.iter().any(|&(a, f, _)| a == 2_000 && f == 200) {
        cells.push((2_000, 200, true));
    }
    // Small cells first, so the estimator learns before the big ones.
    cells.sort_by_key(|&(a, f, _)| a * f);
    cells
}

fn new_cdylib(registry: &ModuleRegistry) -> Result<Cdylib> {
    Ok(Cdylib(
        registry
            .create_allocator("org_corral_allocator_drf", "corral-bench")
            .map_err(|e| anyhow!("{e}"))?,
    ))
}

pub fn run(args: &Args) -> Result<()> {
    let (registry, files) =
        crate::modules::registry(&[("corral_allocator_drf", "org_corral_allocator_drf")])?;
    println!("DRF allocator cdylib: {}", files[0].display());
    println!(
        "cdylib = core's module host → ABI → DrfAllocator; in-process = DrfAllocator called directly (rlib)."
    );
    println!(
        "medians over {} reps per side, cdylib and in-process alternated.",
        args.reps
    );
    if matches!(args.scenario, Scenario::Decline | Scenario::Both) {
        run_decline(args, &registry)?;
    }
    if matches!(args.scenario, Scenario::AddUpdate | Scenario::Both) {
        run_add_update(args, &registry)?;
    }
    Ok(())
}

fn run_decline(args: &Args, registry: &ModuleRegistry) -> Result<()> {
    println!();
    println!(
        "DeclineOffers: agents cpus:24;mem:4096;disk:4096;ports:[31000-32000], cpus:16;mem:2014;disk:1024 + 16 port ranges used;"
    );
    println!(
        "every framework has declined every agent with a {REFUSE_SECONDS} s filter; time of one allocate() round."
    );
    println!(
        "first = the round right after the declines (every agent × framework pair checked), one per rep;"
    );
    println!(
        "steady = {} later rounds per rep with nothing changed (agents every framework passed over are skipped); {} reps per side.",
        args.rounds, args.reps
    );
    println!("Targets: cdylib/in-process ≤ 1.05; at 2,000 × 200 ≥ 100× faster than Mesos' ~2.9 s (MESOS-4694), i.e. ≤ 29 ms.");
    let mut table = Table::new(&[
        "agents",
        "frameworks",
        "first cdylib",
        "first in-proc",
        "first ratio",
        "steady cdylib",
        "steady p99",
        "steady in-proc",
        "steady ratio",
        "setup (cdylib)",
        "vs Mesos 2.9 s (first / steady)",
    ]);
    let mut est = Estimator::default();
    for (agents, frameworks, anchor) in cells(args) {
        let label_a = if anchor {
            format!("{agents} (anchor)")
        } else {
            agents.to_string()
        };
        if let Some(e) = est.estimate(agents, frameworks) {
            if e > args.cell_budget_secs {
                let mut row = vec![label_a, frameworks.to_string()];
                row.push(format!("skipped (est. {e:.0} s > --cell-budget-secs)"));
                table.row(row);
                continue;
            }
        }
        let wall = Instant::now();
        let (mut cf, mut pf, mut c, mut p, mut setups) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..args.reps {
            let mut cd = new_cdylib(registry)?;
            let t = decline_offers(&mut cd, agents, frameworks, args.rounds)?;
            cf.push(t.first_ms);
            c.extend(t.steady_ms);
            setups.push(t.setup_ms);
            drop(cd);
            let mut ip = InProcess::new()?;
            let t = decline_offers(&mut ip, agents, frameworks, args.rounds)?;
            pf.push(t.first_ms);
            p.extend(t.steady_ms);
        }
        est.observe(agents, frameworks, wall.elapsed().as_secs_f64());
        let (cfm, pfm, cm, pm) = (median(&cf), median(&pf), median(&c), median(&p));
        let vs_mesos = if agents == 2_000 && frameworks == 200 {
            let verdict =
                |x: f64| format!("{x:.0}× ({})", if x >= 100.0 { "met" } else { "MISSED" });
            format!(
                "{} / {}",
                verdict(MESOS_ANCHOR_MS / cfm),
                verdict(MESOS_ANCHOR_MS / cm)
            )
        } else {
            "-".to_owned()
        };
        table.row(vec![
            label_a,
            frameworks.to_string(),
            fmt_ms(cfm),
            fmt_ms(pfm),
            format!("{:.3}", cfm / pfm),
            fmt_ms(cm),
            fmt_ms(p99(&c)),
            fmt_ms(pm),
            format!("{:.3}", cm / pm),
            fmt_ms(median(&setups)),
            vs_mesos,
        ]);
        eprintln!(
            "  done {agents} × {frameworks} in {:.1} s",
            wall.elapsed().as_secs_f64()
        );
    }
    table.print();
    Ok(())
}

fn run_add_update(args: &Args, registry: &ModuleRegistry) -> Result<()> {
    println!();
    println!(
        "AddAndUpdateSlave: add N agents cpus:2;mem:1024;disk:4096;ports:[31000-32000] (cpus:1;mem:128;disk:1024 + 3 port ranges used,"
    );
    println!("charged round-robin to the frameworks), then update each agent's total (+10 cpus). Total time for all N agents.");
    let mut table = Table::new(&[
        "agents",
        "frameworks",
        "add cdylib",
        "add in-proc",
        "add ratio",
        "update cdylib",
        "update in-proc",
        "update ratio",
        "µs/agent add (cdylib)",
    ]);
    for &agents in &args.agents {
        for &frameworks in &args.frameworks {
            let (mut ca, mut cu, mut pa, mut pu) = (vec![], vec![], vec![], vec![]);
            for _ in 0..args.reps {
                let mut cd = new_cdylib(registry)?;
                let (a, u) = add_and_update(&mut cd, agents, frameworks)?;
                ca.push(a);
                cu.push(u);
                drop(cd);
                let mut ip = InProcess::new()?;
                let (a, u) = add_and_update(&mut ip, agents, frameworks)?;
                pa.push(a);
                pu.push(u);
            }
            let (cam, cum, pam, pum) = (median(&ca), median(&cu), median(&pa), median(&pu));
            table.row(vec![
                agents.to_string(),
                frameworks.to_string(),
                fmt_ms(cam),
                fmt_ms(pam),
                format!("{:.3}", cam / pam),
                fmt_ms(cum),
                fmt_ms(pum),
                format!("{:.3}", cum / pum),
                format!("{:.2}", cam * 1e3 / agents as f64),
            ]);
        }
    }
    table.print();
    Ok(())
}
