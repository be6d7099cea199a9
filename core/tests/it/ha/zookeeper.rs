//! A real ZooKeeper server for a test (Debian's `zookeeper` package), on a
//! free port with its own data folder; stopped when dropped. `zkCli.sh`
//! from the same package reads the election the way Mesos clients do.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const JAR: &str = "/usr/share/java/zookeeper.jar";
const CONF: &str = "/etc/zookeeper/conf";
const CLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

/// The smallest session timeout a test uses; the server's tick allows
/// from 2 to 20 ticks.
pub const TICK_MS: u64 = 250;

pub struct ZooKeeper {
    pub port: u16,
    child: Child,
    _data: tempfile::TempDir,
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
        if let Some(why) = missing() {
            assert!(
                std::env::var_os("CORRAL_REQUIRE_ZOOKEEPER").is_none(),
                "{test}: ZooKeeper is required here but {why}"
            );
            eprintln!("SKIP: {test}: {why}");
            return None;
        }
        let data = tempfile::tempdir().unwrap();
        let port = super::super::process_failover::free_port();
        let cfg = data.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime={TICK_MS}\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
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
        let zk = ZooKeeper {
            port,
            child,
            _data: data,
        };
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
        std::fs::read_to_string(self._data.path().join("server.log")).unwrap_or_default()
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
    let out = Command::new(CLI)
        .args(["-server", server])
        .args(command)
        .env("CLASSPATH", format!("{CONF}:{JAR}"))
        .stdin(Stdio::null())
        .output()
        .expect("zkCli.sh runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_owned()
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

/// A TCP proxy to ZooKeeper that the test can cut: a partition between
/// one master and ZooKeeper that leaves the master's other links alone.
pub struct Proxy {
    pub port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: u16) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watching = cut.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                if watching.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let watching = watching.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    else {
                        return;
                    };
                    let (mut ri, mut wi) = inbound.into_split();
                    let (mut ro, mut wo) = outbound.into_split();
                    let up = tokio::io::copy(&mut ri, &mut wo);
                    let down = tokio::io::copy(&mut ro, &mut wi);
                    let cut = async {
                        while !watching.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                        () = cut => {}
                    }
                });
            }
        });
        Proxy {
            port,
            cut,
            _task: task,
        }
    }

    /// Drops every connection through it and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self._task.abort();
    }
}

/// A manifest with the allocator and the ZooKeeper modules, with
/// `session_timeout_secs`.
pub fn manifest(dir: &std::path::Path, session_timeout_secs: f64) -> PathBuf {
    let drf = corral_tests::module_library("corral_allocator_drf");
    let zk = corral_tests::module_library("corral_master_zookeeper");
    let path = dir.join("modules.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[[library]]
path = "{}"
  [[library.module]]
  name = "org_corral_allocator_drf"

[[library]]
path = "{}"
  [[library.module]]
  name = "org_corral_master_zookeeper_contender"
  parameters = {{ session_timeout_secs = {session_timeout_secs} }}
  [[library.module]]
  name = "org_corral_master_zookeeper_detector"
  parameters = {{ session_timeout_secs = {session_timeout_secs} }}
"#,
            drf.display(),
            zk.display()
        ),
    )
    .unwrap();
    path
}
