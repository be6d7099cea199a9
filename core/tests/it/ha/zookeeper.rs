//! What the HA tests need besides the ZooKeeper server
//! (`corral_tests::zookeeper`): a proxy that partitions, the manifest.

use std::{path::PathBuf, time::Duration};

pub use corral_tests::zookeeper::{children, ZooKeeper};

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
