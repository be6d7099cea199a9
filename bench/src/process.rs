//! Corral daemons the benchmarks start as child processes.

use std::{
    path::{Path, PathBuf},
    process::Child,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use nix::{sys::signal, unistd::Pid};

/// How long a daemon gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// The `corral` binary beside this one (`cargo build --release --workspace`).
pub fn corral_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("the executable's folder")?;
    let corral = dir.join("corral");
    if !corral.is_file() {
        bail!(
            "{} not found: build with `cargo build --release --workspace`",
            corral.display()
        );
    }
    Ok(corral)
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A daemon stopped however the benchmark ends: SIGTERM, then SIGKILL if
/// it has not exited within `STOP_GRACE`.
pub struct Daemon(Child);

impl Daemon {
    pub fn new(child: Child) -> Self {
        Daemon(child)
    }

    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    /// SIGKILL, as a crash would.
    pub fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// CPU time used so far (user + system), in seconds, from /proc.
    pub fn cpu_seconds(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // Fields after the command name (which may hold spaces) in parens.
        let rest = stat.rsplit_once(')').context("malformed /proc/pid/stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| -> Result<f64> {
            Ok(fields
                .get(i)
                .context("short /proc/pid/stat")?
                .parse::<f64>()?)
        };
        // utime and stime are fields 14 and 15 of stat(5); 12 and 13 here.
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100) as f64;
        Ok((ticks(11)? + ticks(12)?) / hz)
    }

    /// (VmRSS, VmHWM) in bytes, from /proc.
    pub fn memory(&self) -> Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let field = |name: &str| -> Result<f64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("no {name} in /proc/pid/status"))?;
            let kib: f64 = line
                .split_whitespace()
                .nth(1)
                .context("malformed status line")?
                .parse()?;
            Ok(kib * 1024.0)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = signal::kill(Pid::from_raw(self.pid()), signal::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something accepts connections on `addr`.
pub async fn wait_listening(addr: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if Instant::now() > deadline {
            bail!("nothing listened on {addr} within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// The log file `name` beside `path`, for a daemon's stderr.
pub fn log_beside(path: &Path, name: &str) -> Result<std::fs::File> {
    Ok(std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path.with_file_name(name))?)
}
