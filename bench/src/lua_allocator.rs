//! The Lua allocator running `drf.lua` against the native DRF module, both
//! through their cdylibs as the master loads them: Mesos' DeclineOffers
//! cells and a full allocation round (no filters: every agent is granted).
//! The bench itself never links Lua.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{anyhow, Result};
use corral::module_host::{load, Manifest, ModuleRegistry};

use crate::{
    allocator::{decline_offers, decline_setup, ids, Cdylib, Target, MESOS_ANCHOR_MS},
    stats::{fmt_ms, median, ms, Table},
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// DeclineOffers cells, AGENTSxFRAMEWORKS.
    #[arg(long, value_delimiter = ',', default_values_t = vec!["2000x200".to_owned(), "2000x2000".to_owned()])]
    pub decline: Vec<String>,
    /// Full-round cells, AGENTSxFRAMEWORKS.
    #[arg(long, value_delimiter = ',', default_values_t = vec!["2000x200".to_owned(), "10000x100".to_owned()])]
    pub full: Vec<String>,
    /// Repetitions per cell and per side, alternated.
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// The policy script (default: the shipped drf.lua).
    #[arg(long)]
    pub script: Option<PathBuf>,
}

const NATIVE: &str = "org_corral_allocator_drf";
const LUA: &str = "org_corral_allocator_lua";

fn cell(text: &str) -> Result<(usize, usize)> {
    let (a, f) = text
        .split_once('x')
        .ok_or_else(|| anyhow!("cell {text:?} is not AGENTSxFRAMEWORKS"))?;
    Ok((a.parse()?, f.parse()?))
}

fn registry(script: &Path) -> Result<ModuleRegistry> {
    let text = format!(
        "[[library]]\npath = {:?}\n  [[library.module]]\n  name = \"{NATIVE}\"\n\
         [[library]]\npath = {:?}\n  [[library.module]]\n  name = \"{LUA}\"\n  parameters = {{ script = {:?}, instruction_limit = 1000000000 }}\n",
        crate::modules::library("corral_allocator_drf")?.display().to_string(),
        crate::modules::library("corral_allocator_lua")?.display().to_string(),
        script.display().to_string(),
    );
    let manifest = Manifest::parse(&text, Path::new("corral-bench-lua.toml"), Path::new("."))
        .map_err(|e| anyhow!("{e}"))?;
    let (registry, errors) = load(&manifest, &[]);
    if !errors.is_empty() {
        anyhow::bail!("loading modules: {errors:?}");
    }
    Ok(registry)
}

fn create(registry: &ModuleRegistry, name: &str) -> Result<Cdylib> {
    Ok(Cdylib(
        registry
            .create_allocator(name, "corral-bench")
            .map_err(|e| anyhow!("{e}"))?,
    ))
}

/// One full round: `frameworks` frameworks, `agents` agents with nothing
/// used or filtered; returns ms of the round (every agent is granted).
fn full_round(target: &mut Cdylib, agents: usize, frameworks: usize) -> Result<f64> {
    let s = decline_setup();
    for f in ids("fw", frameworks) {
        target.add_framework(&Cdylib::framework(&f))?;
    }
    for a in ids("agent", agents) {
        target.add_agent(&Cdylib::agent(&a, &s.total, None))?;
    }
    let start = Instant::now();
    let offers = target.allocate(1_000)?;
    let took = ms(start.elapsed());
    if offers != agents {
        anyhow::bail!("a full round offered {offers} agents of {agents}");
    }
    Ok(took)
}

pub fn run(args: &Args) -> Result<()> {
    let script = args.script.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../modules/allocator-lua/policies/drf.lua")
    });
    let registry = registry(&script)?;
    println!("native = {NATIVE} (cdylib); lua = {LUA} running {} (cdylib); medians of {} reps per side, alternated.", script.display(), args.reps);

    println!();
    println!("DeclineOffers (as `corral-bench allocator`): first round after every framework declined every agent; steady = the next rounds.");
    println!(
        "Target: lua first round at 2,000 × 200 under 29 ms (100× faster than Mesos' ~2.9 s)."
    );
    let mut table = Table::new(&[
        "agents",
        "frameworks",
        "first native",
        "first lua",
        "ratio",
        "steady native",
        "steady lua",
        "vs Mesos (lua first)",
    ]);
    for text in &args.decline {
        let (agents, frameworks) = cell(text)?;
        let (mut nf, mut lf, mut ns, mut ls) = (vec![], vec![], vec![], vec![]);
        for _ in 0..args.reps {
            let t = decline_offers(&mut create(&registry, NATIVE)?, agents, frameworks, 3)?;
            nf.push(t.first_ms);
            ns.extend(t.steady_ms);
            let t = decline_offers(&mut create(&registry, LUA)?, agents, frameworks, 3)?;
            lf.push(t.first_ms);
            ls.extend(t.steady_ms);
        }
        let (nfm, lfm) = (median(&nf), median(&lf));
        table.row(vec![
            agents.to_string(),
            frameworks.to_string(),
            fmt_ms(nfm),
            fmt_ms(lfm),
            format!("{:.2}", lfm / nfm),
            fmt_ms(median(&ns)),
            fmt_ms(median(&ls)),
            format!("{:.0}×", MESOS_ANCHOR_MS / lfm),
        ]);
        eprintln!("  done decline {text}");
    }
    table.print();

    println!();
    println!("Full round: nothing filtered, every agent granted; the order is asked for again after each granted agent,");
    println!("so the script's key() runs (agents + 1) × frameworks times. Target: lua within 5× of native.");
    let mut table = Table::new(&[
        "agents",
        "frameworks",
        "native",
        "lua",
        "ratio",
        "key() calls",
        "per call (lua − native)",
    ]);
    for text in &args.full {
        let (agents, frameworks) = cell(text)?;
        let (mut n, mut l) = (vec![], vec![]);
        for _ in 0..args.reps {
            n.push(full_round(
                &mut create(&registry, NATIVE)?,
                agents,
                frameworks,
            )?);
            l.push(full_round(
                &mut create(&registry, LUA)?,
                agents,
                frameworks,
            )?);
        }
        let (nm, lm) = (median(&n), median(&l));
        let calls = (agents + 1) * frameworks;
        table.row(vec![
            agents.to_string(),
            frameworks.to_string(),
            fmt_ms(nm),
            fmt_ms(lm),
            format!("{:.2}", lm / nm),
            calls.to_string(),
            format!("{:.0} ns", (lm - nm) * 1e6 / calls as f64),
        ]);
        eprintln!("  done full {text}");
    }
    table.print();
    Ok(())
}
