//! A real headless Chromium for the web UI's tests, driven over WebDriver
//! (`fantoccini`, Debian's `chromium` and `chromium-driver`), in a network
//! namespace of its own. The browser reaches the master only through a
//! forwarder the test runs on a veth pair; it cannot reach an agent, whose
//! port is on the host namespace's loopback. So whatever the UI shows of
//! an agent came through the master.
//!
//! Everything is undone when the [`Browser`] is dropped, even when the test
//! fails: the driver's process group and every process left in the
//! namespace are killed, and the namespace and its veth pair removed.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use corral_tests::{output_within, PROCESS_TIMEOUT};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long a page may take to show what a test waits for.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER_PORT: u16 = 9515;

/// Why no browser can run here: the test prints `SKIP:` with it, or fails
/// when `CORRAL_REQUIRE_BROWSER=1` (CI sets it: CI never skips).
pub fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("the browser's network namespace needs root".into());
    }
    if !std::path::Path::new(CHROMIUM).exists() {
        return Some(format!("no {CHROMIUM} (Debian's chromium package)"));
    }
    for program in ["chromedriver", "ip"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!(
                "no {program} on the PATH (Debian's chromium-driver and iproute2 packages)"
            ));
        }
    }
    None
}

/// Skips (or, under CI, fails) the calling test when no browser can run.
pub fn skip_without_browser(test: &str) -> bool {
    let Some(reason) = unavailable() else {
        return false;
    };
    if std::env::var("CORRAL_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("{test}: CORRAL_REQUIRE_BROWSER=1 but {reason}");
    }
    println!("SKIP: {test}: {reason}");
    true
}

/// Runs `ip args`, which must succeed.
fn ip(args: &[&str]) {
    let out = output_within(
        Command::new("ip").args(args),
        PROCESS_TIMEOUT,
        &format!("ip {}", args.join(" ")),
    );
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace with a veth pair to the host, removed when dropped.
struct Isolation {
    netns: String,
    host_link: String,
    host_ip: String,
    inside_ip: String,
}

impl Isolation {
    fn create() -> Isolation {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = std::process::id();
        let subnet = (pid % 60) * 4 + (n % 4);
        let isolation = Isolation {
            netns: format!("corral-ui-{pid}-{n}"),
            host_link: format!("cuh{}x{n}", pid % 100_000),
            host_ip: format!("10.251.{subnet}.1"),
            inside_ip: format!("10.251.{subnet}.2"),
        };
        let inside_link = format!("cub{}x{n}", pid % 100_000);
        ip(&["netns", "add", &isolation.netns]);
        ip(&[
            "link",
            "add",
            &isolation.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &inside_link,
        ]);
        ip(&["link", "set", &inside_link, "netns", &isolation.netns]);
        ip(&[
            "addr",
            "add",
            &format!("{}/30", isolation.host_ip),
            "dev",
            &isolation.host_link,
        ]);
        ip(&["link", "set", &isolation.host_link, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &isolation.netns, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&[
            "addr",
            "add",
            &format!("{}/30", isolation.inside_ip),
            "dev",
            &inside_link,
        ]);
        inside(&["link", "set", &inside_link, "up"]);
        inside(&["link", "set", "lo", "up"]);
        isolation
    }

    /// Whether a TCP connection to `addr` opens from inside the namespace.
    fn reaches(&self, addr: &str) -> bool {
        let (host, port) = addr.rsplit_once(':').expect("host:port");
        let out = output_within(
            Command::new("ip").args([
                "netns",
                "exec",
                &self.netns,
                "timeout",
                "3",
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/{host}/{port}"),
            ]),
            PROCESS_TIMEOUT,
            "a connection from the browser's namespace",
        );
        out.status.success()
    }
}

impl Drop for Isolation {
    fn drop(&mut self) {
        // Whatever still runs in the namespace (a browser its driver left).
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.netns])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let left = Command::new("ip")
                .args(["netns", "pids", &self.netns])
                .output()
                .map(|o| o.stdout.iter().any(u8::is_ascii_digit))
                .unwrap_or(false);
            if !left {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

/// A headless Chromium that sees the master at [`Browser::master_url`].
pub struct Browser {
    pub client: Client,
    /// The master, as the browser reaches it (through the forwarder).
    pub master_url: String,
    forwarder: tokio::task::JoinHandle<()>,
    driver: Child,
    isolation: Isolation,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts the driver and a browser session in a fresh namespace, with
    /// a forwarder to `master`.
    pub async fn start(master: SocketAddr) -> Browser {
        let isolation = tokio::task::spawn_blocking(Isolation::create)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind((isolation.host_ip.as_str(), 0))
            .await
            .unwrap();
        let forward_port = listener.local_addr().unwrap().port();
        let forwarder = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(master).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        let driver = {
            use std::os::unix::process::CommandExt;
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &isolation.netns,
                    "chromedriver",
                    &format!("--port={DRIVER_PORT}"),
                    &format!("--allowed-ips={}", isolation.host_ip),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("chromedriver starts")
        };
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            client: connect_when_ready(&isolation.inside_ip, profile.path()).await,
            master_url: format!("http://{}:{forward_port}", isolation.host_ip),
            forwarder,
            driver,
            isolation,
            _profile: profile,
        };
        browser.client.set_window_size(1280, 800).await.unwrap();
        browser.driver_alive();
        browser
    }

    fn driver_alive(&mut self) {
        if let Ok(Some(status)) = self.driver.try_wait() {
            panic!("chromedriver exited: {status}");
        }
    }

    /// Whether the browser's side can open a connection to `addr`.
    pub fn reaches(&self, addr: &str) -> bool {
        self.isolation.reaches(addr)
    }

    /// Opens the UI's page `fragment` (`/tasks?state=TASK_FAILED`).
    pub async fn open(&self, fragment: &str) {
        let url = format!("{}/#{fragment}", self.master_url);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The text of the first element `css` matches, once `ready` accepts
    /// it; fails after [`PAGE_TIMEOUT`] saying what the page showed.
    pub async fn text_when(&self, css: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        let mut last = String::from("(no such element)");
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if let Ok(text) = element.text().await {
                    if ready(&text) {
                        return text;
                    }
                    last = text;
                }
            }
            if Instant::now() > deadline {
                let error = match self.client.find(Locator::Css("#error")).await {
                    Ok(e) => e.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                let url = self.client.current_url().await.map(|u| u.to_string());
                panic!(
                    "{what}: '{css}' did not show it within {PAGE_TIMEOUT:?}; it showed {last:?} \
                     (page {url:?}, error box {error:?})"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Clicks the element `css` once it shows `label`.
    pub async fn click(&self, css: &str, label: &str) {
        self.text_when(css, &format!("the '{label}' link"), |t| t == label)
            .await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("'{css}': {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking '{css}': {e}"));
    }

    /// Runs `script` in the page (its last argument is the callback).
    pub async fn run_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute_async(script, args)
            .await
            .unwrap_or_else(|e| panic!("running a script in the page: {e}"))
    }

    /// Saves what the browser shows as `name`.png in the screenshot
    /// directory (`CORRAL_UI_SCREENSHOTS`, or the target's tmp dir).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = std::env::var_os("CORRAL_UI_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots"));
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Ends the session (the driver closes the browser), then undoes the rest.
    pub async fn close(self) {
        let client = self.client.clone();
        let _ = tokio::time::timeout(PAGE_TIMEOUT, client.close()).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.forwarder.abort();
        let group = nix::unistd::Pid::from_raw(self.driver.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.driver.wait();
    }
}

/// A session with the driver at `ip`, once it answers.
async fn connect_when_ready(ip: &str, profile: &std::path::Path) -> Client {
    let url = format!("http://{ip}:{DRIVER_PORT}");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,800", "--hide-scrollbars", "--no-first-run",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return client,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no WebDriver session at {url} within {PAGE_TIMEOUT:?}: {e}"),
        }
    }
}
