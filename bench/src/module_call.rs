//! The cost of a trivial module call: the DRF allocator's `revive_offers`
//! for a known framework with no filters (it finds nothing to clear and
//! returns `Ok`) through the loaded cdylib, against the same method of the
//! same type linked in as an rlib. (Only one module crate can be linked
//! into a binary: each exports the root-module symbol.)

use std::{hint::black_box, time::Instant};

use anyhow::{anyhow, Result};
use corral::extension::FrameworkEntry as CoreFrameworkEntry;
use corral_allocator_drf::DrfAllocator;
use corral_module_api::{
    allocator::FrameworkEntry,
    guest::{null_host, AllocatorModule, Params},
};

use crate::stats::{median, Table};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Calls per repetition.
    #[arg(long, default_value_t = 1_000_000)]
    pub calls: usize,
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
}

fn ns_per_call(calls: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

pub fn run(args: &Args) -> Result<()> {
    let (registry, files) =
        crate::modules::registry(&[("corral_allocator_drf", "org_corral_allocator_drf")])?;
    let mut abi = registry
        .create_allocator("org_corral_allocator_drf", "corral-bench")
        .map_err(|e| anyhow!("{e}"))?;
    let mut direct = DrfAllocator::new(&Params::new(Vec::<(String, String)>::new()), &null_host())
        .map_err(|e| anyhow!("{e}"))?;
    abi.add_framework(&CoreFrameworkEntry {
        id: "f".into(),
        role: "*".into(),
        weight: 1.0,
        active: true,
        ..CoreFrameworkEntry::default()
    })
    .map_err(|e| anyhow!("{e}"))?;
    direct
        .add_framework(&FrameworkEntry {
            id: "f".into(),
            role: "*".into(),
            weight: 1.0,
            active: true,
        })
        .map_err(|e| anyhow!("{e}"))?;

    println!("allocator cdylib: {}", files[0].display());
    println!(
        "Call: org_corral_allocator_drf revive_offers(\"f\") (nothing to clear), {} calls x {} reps, median ns/call.",
        args.calls, args.reps
    );
    println!("  abi:    AllocatorPlugin::revive_offers on the loaded cdylib, as the master's allocator thread calls it:");
    println!("          &str -> RStr, poison check, tracing span, sabi vtable call, the module's panic guard, RResult back");
    println!(
        "  direct: DrfAllocator::revive_offers on the rlib, the same work without the boundary"
    );

    let (mut a, mut d) = (Vec::new(), Vec::new());
    let _ = ns_per_call(args.calls / 10 + 1, || {
        let _ = black_box(abi.revive_offers(black_box("f")));
    });
    for _ in 0..args.reps {
        a.push(ns_per_call(args.calls, || {
            let _ = black_box(abi.revive_offers(black_box("f")));
        }));
        d.push(ns_per_call(args.calls, || {
            let _ = black_box(direct.revive_offers(black_box("f")));
        }));
    }
    let (am, dm) = (median(&a), median(&d));
    let mut t = Table::new(&["path", "ns/call (median)", "min", "max", "vs direct"]);
    for (name, s, m) in [("abi (cdylib)", &a, am), ("direct (rlib)", &d, dm)] {
        t.row(vec![
            name.to_owned(),
            format!("{m:.1}"),
            format!("{:.1}", s.iter().copied().fold(f64::INFINITY, f64::min)),
            format!("{:.1}", s.iter().copied().fold(0.0, f64::max)),
            format!("{:.2}x", m / dm),
        ]);
    }
    t.print();
    println!("ABI overhead per call: {:.1} ns", am - dm);
    Ok(())
}
