//! The quick start for real: `corral local` on its embedded defaults, then
//! `corral execute` against it, as separate processes.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use corral_tests::{module_library, output_within, wait_or_kill, PROCESS_TIMEOUT};

fn modules_dir() -> std::path::PathBuf {
    module_library("corral_hook_env")
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `corral local` on a free port; stopped with SIGTERM when dropped.
pub(crate) struct Local {
    child: Child,
    pub(crate) master: String,
    /// The agent's address, as `corral local` printed it.
    pub(crate) agent: String,
    _work_dir: tempfile::TempDir,
}

/// A failed test still leaves no `corral local` running.
impl Drop for Local {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A cgroup root of this `corral local`'s own.
fn unique_cgroups_root() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("corral-test-local-{}-{n}", std::process::id())
}

impl Local {
    pub(crate) fn start() -> Local {
        Local::spawn(|command, work_dir| {
            command.arg("--work-dir").arg(work_dir);
        })
    }

    /// With `relative`, `--work-dir work` from a temporary current
    /// directory instead of an absolute work dir.
    fn start_with(relative: bool) -> Local {
        if !relative {
            return Local::start();
        }
        Local::spawn(|command, work_dir| {
            command.args(["--work-dir", "work"]).current_dir(work_dir);
        })
    }

    /// `corral local --config FILE` with a temporary work dir.
    pub(crate) fn start_with_config(config: &std::path::Path) -> Local {
        Local::spawn(|command, work_dir| {
            command
                .arg("--config")
                .arg(config)
                .arg("--work-dir")
                .arg(work_dir);
        })
    }

    /// `corral local --port 0` with what `configure` adds, given a fresh
    /// temporary directory.
    fn spawn(configure: impl FnOnce(&mut Command, &std::path::Path)) -> Local {
        let work_dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_corral"));
        command.args(["local", "--port", "0"]);
        configure(&mut command, work_dir.path());
        let mut child = command
            .env("CORRAL_MODULE_PATH", modules_dir())
            .env("CORRAL_LOG", "warn")
            // Tests run side by side: an agent sharing another's cgroup
            // root would destroy that one's containers as orphans when it
            // starts.
            .env("CORRAL_AGENT_CGROUPS_ROOT", unique_cgroups_root())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Its stdout is read on a thread of its own (to the end, so that
        // it never blocks on a full pipe), and waited for with a deadline.
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (lines_tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let mut local = Local {
            child,
            master: String::new(),
            agent: String::new(),
            _work_dir: work_dir,
        };
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        let mut printed = Vec::new();
        while local.master.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => match line.strip_prefix("master: http://") {
                    Some(rest) => {
                        local.master = rest.split_whitespace().next().unwrap().to_owned();
                        local.agent = rest
                            .split("agent: http://")
                            .nth(1)
                            .and_then(|r| r.split_whitespace().next())
                            .unwrap_or_default()
                            .to_owned();
                    }
                    None => printed.push(line),
                },
                Err(e) => panic!(
                    "corral local printed no master address within {PROCESS_TIMEOUT:?} ({e}); it printed: {printed:#?}"
                ),
            }
        }
        local
    }

    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        wait_or_kill(
            &mut self.child,
            PROCESS_TIMEOUT,
            "corral local after SIGTERM",
        )
    }
}

pub(crate) fn execute(master: &str, command: &str) -> Output {
    output_within(
        Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(["execute", "--master", master, "--command", command])
            .env("CORRAL_LOG", "warn"),
        PROCESS_TIMEOUT,
        &format!("corral execute --command {command:?}"),
    )
}

#[test]
fn local_runs_tasks_submitted_with_execute() {
    let local = Local::start();
    // Operators' tools poll /health until it answers 200 (Mesos' readiness).
    let poll = format!(
        "import time,urllib.request\n\
         for _ in range(100):\n\
         \ttry:\n\
         \t\tprint(urllib.request.urlopen('http://{}/health', timeout=2).status); break\n\
         \texcept Exception as e:\n\
         \t\tlast = e; time.sleep(0.1)\n\
         else:\n\
         \tprint('never healthy:', last)",
        local.master
    );
    let health = output_within(
        Command::new("python3").args(["-c", &poll]),
        PROCESS_TIMEOUT,
        "python3 polling /health",
    );
    assert_eq!(
        String::from_utf8_lossy(&health.stdout).trim(),
        "200",
        "GET /health: {}",
        String::from_utf8_lossy(&health.stderr)
    );

    let ok = execute(&local.master, "echo hello-from-execute");
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let running = stdout.find(": TASK_RUNNING").expect("TASK_RUNNING printed");
    let finished = stdout
        .find(": TASK_FINISHED")
        .expect("TASK_FINISHED printed");
    assert!(running < finished, "{stdout}");
    assert!(
        stdout.contains("hello-from-execute"),
        "the task's stdout is shown:\n{stdout}"
    );

    let failed = execute(&local.master, "exit 7");
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert_eq!(failed.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("TASK_FAILED (Command exited with status 7)"),
        "{stdout}"
    );

    assert!(local.stop().success());
}

#[test]
fn a_relative_work_dir_is_made_absolute_and_execute_shows_the_tasks_stdout() {
    let local = Local::start_with(true);
    let ok = execute(&local.master, "echo hello-from-a-relative-work-dir");
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        stdout.contains("hello-from-a-relative-work-dir"),
        "the task's stdout is shown (/files/read answers):\n{stdout}"
    );
    // The sandbox is under the directory `corral local` started in.
    let slaves = local._work_dir.path().join("work/slaves");
    assert!(slaves.is_dir(), "no sandboxes under {}", slaves.display());
    assert!(local.stop().success());
}

fn corral(args: &[&str]) -> Output {
    output_within(
        Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(args)
            .env("CORRAL_LOG", "warn"),
        PROCESS_TIMEOUT,
        &format!("corral {}", args.join(" ")),
    )
}

/// The README's operator session: a task started with `corral execute` is
/// seen by `corral ps`, followed by `corral tail -f`, and counted by
/// `corral state`.
#[test]
fn an_operator_watches_a_task_with_ps_tail_and_state() {
    let local = Local::start();
    let master = local.master.clone();
    let mut execute = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args([
            "execute",
            "--master",
            &master,
            "--name",
            "watched",
            "--command",
            "echo first-line; sleep 2; echo second-line",
        ])
        .env("CORRAL_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    // `ps` lists it while it runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    let task_id = loop {
        let ps = corral(&["ps", "--master", &master]);
        assert!(
            ps.status.success(),
            "{}",
            String::from_utf8_lossy(&ps.stderr)
        );
        let text = String::from_utf8_lossy(&ps.stdout).into_owned();
        assert!(text.starts_with("TASK"), "a header first:\n{text}");
        if let Some(row) = text
            .lines()
            .find(|l| l.contains("watched") && l.contains("RUNNING"))
        {
            break row.split_whitespace().next().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the task never showed up:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };

    let state = corral(&["state", "--master", &master]);
    let summary = String::from_utf8_lossy(&state.stdout);
    assert!(summary.contains("agents: 1 active"), "{summary}");
    assert!(summary.contains("1 running"), "{summary}");

    // `tail -f` prints both lines and returns once the task has ended.
    let tail = corral(&["tail", "--master", &master, "--follow", &task_id]);
    let text = String::from_utf8_lossy(&tail.stdout);
    assert!(
        tail.status.success(),
        "{}",
        String::from_utf8_lossy(&tail.stderr)
    );
    let first = text.find("first-line").expect("first line tailed");
    let second = text.find("second-line").expect("second line tailed");
    assert!(first < second, "{text}");
    assert!(wait_or_kill(
        &mut execute,
        PROCESS_TIMEOUT,
        "corral execute --name watched"
    )
    .success());

    let ps = corral(&["ps", "--master", &master, "--all"]);
    let text = String::from_utf8_lossy(&ps.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with(&task_id) && l.contains("FINISHED")),
        "{text}"
    );
    let unknown = corral(&["tail", "--master", &master, "no-such-task"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("knows no task 'no-such-task'"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    assert!(local.stop().success());
}
