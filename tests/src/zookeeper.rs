//! A real ZooKeeper server for tests and benchmarks (Debian's `zookeeper`
//! package, on Java), on a free port with its own data folder; stopped
//! when dropped. `zkCli.sh` from the same package reads the election the
//! way Mesos clients do.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const JAR: &str = "/usr/share/java/zookeeper.jar";
const CONF: &str = "/etc/zookeeper/conf";
const CLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

/// The server's default tick: session timeouts of 0.5 to 5 s.
pub const TICK_MS: u64 = 250;

#[derive(Debug)]
pub struct ZooKeeper {
    pub port: u16,
    child: Child,
    data: tempfile::TempDir,
}

/// Why ZooKeeper cannot run here, if it cannot.
fn missing() -> Option<String> {
    if !std::path::Path::new(JAR).is_file() {
        return Some(format!("{JAR} not found (Debian's zookeeper package)"));
    }
    if Command::new("java")
        .arg("-version")
        .stderr(Stdio::null())
        .status()
        .map_or(true, |s| !s.success())
    {
        return Some("no java on the PATH".to_owned());
    }
    None
}

impl ZooKeeper {
    /// A running server, or `None` after printing `SKIP:` with the reason
    /// (never when `CORRAL_REQUIRE_ZOOKEEPER` is set: CI must not skip).
    pub fn start(test: &str) -> Option<ZooKeeper> {
        Self::start_ticking(test, TICK_MS)
    }

    /// [`ZooKeeper::start`] with a tick of `tick_ms` (session timeouts may
    /// be 2 to 20 ticks).
    pub fn start_ticking(test: &str, tick_ms: u64) -> Option<ZooKeeper> {
        if let Some(why) = missing() {
            assert!(
                std::env::var_os("CORRAL_REQUIRE_ZOOKEEPER").is_none(),
                "{test}: ZooKeeper is required here but {why}"
            );
            eprintln!("SKIP: {test}: {why}");
            return None;
        }
        let data = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cfg = data.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime={tick_ms}\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr\nmaxClientCnxns=0\n",
                data.path().display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(data.path().join("server.log")).unwrap();
        let child = Command::new("java")
            .args([
                "-Xmx256m",
                "-cp",
                &format!("{CONF}:{JAR}"),
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            ])
            .arg(&cfg)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("java starts");
        let zk = ZooKeeper { port, child, data };
        let deadline = Instant::now() + Duration::from_secs(60);
        while zk.four_letters("ruok").as_deref() != Some("imok") {
            assert!(
                Instant::now() < deadline,
                "ZooKeeper did not answer ruok on port {port} within 60 s; its log:\n{}",
                zk.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(zk)
    }

    fn four_letters(&self, word: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(word.as_bytes()).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default()
    }

    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `zkCli.sh <command>`'s last line of output, as an operator's client
    /// would see it.
    pub fn cli(&self, command: &[&str]) -> String {
        cli(&self.connect_string(), command)
    }
}

pub fn cli(server: &str, command: &[&str]) -> String {
    cli_output(server, command)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// Everything `zkCli.sh <command>` printed.
pub fn cli_output(server: &str, command: &[&str]) -> String {
    let mut cli = Command::new(CLI);
    cli.args(["-server", server])
        .args(command)
        .env("CLASSPATH", format!("{CONF}:{JAR}"));
    // zkCli retries an unreachable server for ever: bounded here.
    let out = crate::output_within(
        &mut cli,
        Duration::from_secs(60),
        &format!("zkCli.sh {}", command.join(" ")),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl ZooKeeper {
    /// The records of a Corral registry table at `path` (`<path>/<bucket>/<key>`),
    /// by `ls -R`.
    pub fn records(&self, path: &str) -> Vec<String> {
        let prefix = format!("{path}/");
        let mut found: Vec<String> = cli_output(&self.connect_string(), &["ls", "-R", path])
            .lines()
            .filter_map(|l| l.trim().strip_prefix(&prefix))
            .filter_map(|rest| rest.split_once('/').map(|(_, key)| key.to_owned()))
            .collect();
        found.sort();
        found
    }
}

/// `ls <path>`'s children (zkCli prints `[a, b]`).
pub fn children(listing: &str) -> Vec<String> {
    listing
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect()
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
