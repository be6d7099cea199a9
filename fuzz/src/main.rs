//! `corral-fuzz`: runs the fuzz targets for long (see `docs/security.md`,
//! "Fuzzing").
//!
//! ```text
//! corral-fuzz run [--inputs N] [--seconds S] [--seed N] [TARGET...]
//! corral-fuzz replay TARGET FILE
//! corral-fuzz list
//! ```

use std::{process::ExitCode, time::Duration};

use corral_fuzz::{default_seed, replay, run, targets, Budget, Verdict};

const USAGE: &str = "usage: corral-fuzz run [--inputs N] [--seconds S] [--seed N] [TARGET...]
       corral-fuzz replay TARGET FILE
       corral-fuzz list";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("list") => {
            for t in targets::all() {
                println!("{:26} {}", t.name, t.about);
            }
            ExitCode::SUCCESS
        }
        Some("replay") if args.len() == 3 => {
            let Some(target) = targets::find(&args[1]) else {
                eprintln!("no target '{}'", args[1]);
                return ExitCode::from(2);
            };
            let input = match std::fs::read(&args[2]) {
                Ok(input) => input,
                Err(e) => {
                    eprintln!("cannot read '{}': {e}", args[2]);
                    return ExitCode::from(2);
                }
            };
            match replay(&target, &input) {
                Ok(Verdict::Accepted) => println!("accepted"),
                Ok(Verdict::Rejected) => println!("rejected"),
                Err(message) => {
                    eprintln!("failed: {message}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Some("run") => run_targets(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run_targets(args: &[String]) -> ExitCode {
    let mut budget = Budget {
        inputs: 1_000_000,
        time: Duration::from_secs(3600),
    };
    let mut seed = None;
    let mut names = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = |what: &str| -> Option<u64> {
            let value = args.next().and_then(|v| v.replace('_', "").parse().ok());
            if value.is_none() {
                eprintln!("{what} takes a number\n{USAGE}");
            }
            value
        };
        match arg.as_str() {
            "--inputs" => match number("--inputs") {
                Some(n) => budget.inputs = n,
                None => return ExitCode::from(2),
            },
            "--seconds" => match number("--seconds") {
                Some(n) => budget.time = Duration::from_secs(n),
                None => return ExitCode::from(2),
            },
            "--seed" => match number("--seed") {
                Some(n) => seed = Some(n),
                None => return ExitCode::from(2),
            },
            name => names.push(name.to_owned()),
        }
    }
    let chosen: Vec<_> = if names.is_empty() {
        targets::all()
    } else {
        let mut chosen = Vec::new();
        for name in &names {
            match targets::find(name) {
                Some(t) => chosen.push(t),
                None => {
                    eprintln!("no target '{name}' (corral-fuzz list)");
                    return ExitCode::from(2);
                }
            }
        }
        chosen
    };
    println!(
        "{:26} {:>10} {:>10} {:>9} {:>10} {:>6} {:>10} {:>9}",
        "target", "inputs", "accepted", "seconds", "inputs/s", "pool", "max alloc", "slowest"
    );
    let mut failed = false;
    for target in &chosen {
        let seed = seed.unwrap_or_else(|| default_seed(target));
        match run(target, budget, seed) {
            Ok(r) => println!(
                "{:26} {:>10} {:>10} {:>9.1} {:>10.0} {:>6} {:>10} {:>7.1}ms",
                r.target,
                r.inputs,
                r.accepted,
                r.elapsed.as_secs_f64(),
                r.inputs as f64 / r.elapsed.as_secs_f64(),
                r.pool,
                r.largest_allocation,
                r.slowest.as_secs_f64() * 1000.0
            ),
            Err(failure) => {
                println!("{}", failure);
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
