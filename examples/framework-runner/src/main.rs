//! `corral-example-framework --master 127.0.0.1:5050 --tasks 10 --command 'sleep 1'`

use clap::Parser;
use corral_example_framework::{run, Job};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:5050")]
    master: String,
    #[arg(long, default_value_t = 10)]
    tasks: usize,
    #[arg(long, default_value = "sleep 1")]
    command: String,
    #[arg(long, default_value_t = 0.1)]
    cpus: f64,
    #[arg(long, default_value_t = 32.0)]
    mem: f64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let a = Args::parse();
    let job = Job {
        master: a.master,
        tasks: a.tasks,
        command: a.command,
        cpus: a.cpus,
        mem: a.mem,
    };
    match run(&job).await {
        Ok(outcome) => {
            for (task, state) in &outcome {
                println!("{task}: {state}");
            }
            let all_finished = outcome.values().all(|s| s == "TASK_FINISHED");
            if all_finished {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
