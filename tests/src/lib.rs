//! Helpers shared by Corral's integration tests.

pub mod zookeeper;

use std::path::{Path, PathBuf};

/// The cdylib built from the crate whose library is named `lib_name`
/// (`corral_hook_env`, `corral_fixture_misbehaving`, ...).
///
/// Cargo builds these because this crate depends on them; it leaves them in
/// `target/<profile>/deps` (and `cargo build` also in `target/<profile>`).
pub fn module_library(lib_name: &str) -> PathBuf {
    let file = format!("lib{lib_name}.so");
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("the test binary's folder");
    let candidates = [deps.join(&file), deps.parent().unwrap_or(deps).join(&file)];
    candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| {
        panic!("{file} not built: looked in {candidates:?}; run the tests with `cargo test --workspace`")
    })
}

/// A scratch folder holding a manifest written by a test.
#[derive(Debug)]
pub struct ManifestDir {
    dir: tempfile::TempDir,
}

impl ManifestDir {
    pub fn new() -> Self {
        ManifestDir {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `name` with `text` into the folder and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("writing a test file");
        path
    }
}

impl Default for ManifestDir {
    fn default() -> Self {
        Self::new()
    }
}

/// A `[[library]]` entry loading `modules` from the file at `path`.
pub fn library_entry(path: &Path, modules: &[&str]) -> String {
    let mut entry = format!("[[library]]\npath = {:?}\n", path.display().to_string());
    for m in modules {
        entry.push_str(&format!("  [[library.module]]\n  name = {m:?}\n"));
    }
    entry
}

/// How long a test lets a process it started run (to its exit, or to the
/// point the test waits for) before failing.
pub const PROCESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Waits for `child` (`what`) to exit, at most `timeout`; when it does not,
/// kills it and fails the test.
pub fn wait_or_kill(
    child: &mut std::process::Child,
    timeout: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let pid = child.id();
    exit_before(child, std::time::Instant::now() + timeout, what)
        .unwrap_or_else(|| panic!("{what} (pid {pid}) did not exit within {timeout:?}; killed it"))
}

/// Waits for `child` (`what`) to exit until `deadline`; past it, kills it
/// and returns `None`.
fn exit_before(
    child: &mut std::process::Child,
    deadline: std::time::Instant,
    what: &str,
) -> Option<std::process::ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Err(e) => panic!("cannot wait for {what}: {e}"),
        }
    }
}

/// Runs `command` (`what`) with stdin closed and its output captured, as
/// [`std::process::Command::output`] does, but for at most `timeout`.
pub fn output_within(
    command: &mut std::process::Command,
    timeout: std::time::Duration,
    what: &str,
) -> std::process::Output {
    use std::process::Stdio;
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    child_output_within(child, timeout, what)
}

/// The exit status and output of a started `child` (`what`) whose stdout
/// and stderr are piped, within `timeout`: otherwise it is killed and the
/// test fails showing what it printed so far.
pub fn child_output_within(
    mut child: std::process::Child,
    timeout: std::time::Duration,
    what: &str,
) -> std::process::Output {
    use std::{
        io::Read,
        sync::{mpsc, Arc, Mutex},
    };
    let deadline = std::time::Instant::now() + timeout;
    let (done_tx, done) = mpsc::channel::<()>();
    let capture = |pipe: Option<Box<dyn Read + Send>>| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut pipe) = pipe {
            let (buffer, done) = (buffer.clone(), done_tx.clone());
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                    buffer.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
                let _ = done.send(());
            });
        } else {
            let _ = done_tx.send(());
        }
        buffer
    };
    let stdout = capture(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = capture(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let printed = || {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&stdout.lock().unwrap()),
            String::from_utf8_lossy(&stderr.lock().unwrap())
        )
    };
    let status = exit_before(&mut child, deadline, what).unwrap_or_else(|| {
        panic!(
            "{what} did not exit within {timeout:?}; killed it. {}",
            printed()
        )
    });
    // Both pipes end once nothing holds them open any more.
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if done.recv_timeout(left).is_err() {
            panic!(
                "{what} exited ({status}) but something it started still holds its output open after {timeout:?}. {}",
                printed()
            );
        }
    }
    let take = |b: &Arc<Mutex<Vec<u8>>>| std::mem::take(&mut *b.lock().unwrap());
    std::process::Output {
        status,
        stdout: take(&stdout),
        stderr: take(&stderr),
    }
}
