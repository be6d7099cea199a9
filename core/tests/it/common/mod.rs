//! A cluster on 127.0.0.1:0 and a scheduler client speaking the v1 API over
//! JSON or protobuf, for the integration tests.

#![allow(dead_code)]

pub mod browser;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use corral::{
    agent::{self, AgentConfig, AgentModules},
    master::{MasterConfig, MasterModules},
    module_host::{load, Manifest, ModuleRegistry},
    proto::v1::scheduler::{Call, Event},
    server,
    wire::{
        codec::{decode, encode, Encoding},
        recordio::RecordReader,
    },
};
use corral_tests::{library_entry, module_library};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::{net::TcpListener, sync::mpsc, task::JoinHandle};

/// How long a test waits for an event (its whole wait, however many
/// other events and heartbeats come meanwhile) before failing.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an HTTP call of a test may take, answer and body included
/// (for an event stream: until its headers).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a master or agent may take to stop before the test fails.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A client for tests' HTTP calls: none takes longer than [`HTTP_TIMEOUT`].
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().unwrap()
}

/// The builder of [`http_client`], for clients with more settings.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(HTTP_TIMEOUT)
        .timeout(HTTP_TIMEOUT)
}

/// A client for event streams: it connects within [`HTTP_TIMEOUT`] but
/// sets no overall timeout (calls on it set their own).
pub fn stream_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(HTTP_TIMEOUT)
        .build()
        .unwrap()
}

/// Waits for a stopping master's or agent's task (`what`) and fails the
/// test when it takes longer than [`STOP_TIMEOUT`], panicked or failed.
async fn wait_stopped(what: &str, handle: JoinHandle<std::io::Result<()>>) {
    match tokio::time::timeout(STOP_TIMEOUT, handle).await {
        Err(_) => panic!("the {what} did not stop within {STOP_TIMEOUT:?} of being told to"),
        Ok(Err(e)) => panic!("the {what} panicked: {e}"),
        Ok(Ok(Err(e))) => panic!("the {what} stopped with an error: {e}"),
        Ok(Ok(Ok(()))) => {}
    }
}

/// Loads the shipped DRF allocator and env hook (with `hook_params`), plus
/// any extra manifest text.
pub fn registry(hook_params: &str, extra_manifest: &str) -> ModuleRegistry {
    let text = format!(
        "{}{}  parameters = {{ {hook_params} }}\n{extra_manifest}",
        library_entry(
            &module_library("corral_allocator_drf"),
            &["org_corral_allocator_drf"]
        ),
        library_entry(&module_library("corral_hook_env"), &["org_corral_hook_env"]),
    );
    let manifest = Manifest::parse(
        &text,
        std::path::Path::new("test-modules.toml"),
        std::path::Path::new("."),
    )
    .unwrap();
    let (registry, errors) = load(&manifest, &[]);
    assert!(errors.is_empty(), "{errors:#?}");
    registry
}

/// A cgroup root of this cluster's own (freezer cgroups of its containers).
fn unique_cgroups_root() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("corral-test-{}-{n}", std::process::id())
}

pub struct Cluster {
    pub master: SocketAddr,
    pub agent: SocketAddr,
    pub work_dir: tempfile::TempDir,
    /// Where the agent makes its containers' freezer cgroups.
    pub cgroups_root: String,
    master_config: MasterConfig,
    modules: ModuleRegistry,
    stop: Vec<tokio::sync::oneshot::Sender<()>>,
    /// The master's and the agent's tasks, by name, in the order of `stop`.
    handles: Vec<(&'static str, JoinHandle<std::io::Result<()>>)>,
}

pub struct Options {
    pub hook_params: String,
    pub agent_resources: agent::ResourceOverrides,
    /// How long the master waits for a silent agent before removing it.
    pub agent_timeout: Duration,
    /// Manifest text added to the shipped allocator and hook.
    pub extra_manifest: String,
    /// Whether the master keeps a registry (in the work dir).
    pub registry: bool,
    pub agent_reregister_timeout: Duration,
    pub recovery_agent_removal_limit: f64,
    /// The `corral` program the agent runs executors with.
    pub executor_program: PathBuf,
    /// Isolator modules the agent uses, in order.
    pub isolation: Vec<String>,
    /// Changes to the master's configuration (bounds, timeouts).
    pub tweak_master: fn(&mut MasterConfig),
    /// Changes to the agent's configuration (credentials).
    pub tweak_agent: fn(&mut AgentConfig),
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hook_params: String::new(),
            agent_resources: agent::ResourceOverrides {
                cpus: Some(4.0),
                mem: Some(4096.0),
                disk: Some(10240.0),
                ports: Some(vec![(31000, 31100)]),
            },
            agent_timeout: Duration::from_secs(75),
            extra_manifest: String::new(),
            registry: false,
            agent_reregister_timeout: Duration::from_secs(600),
            recovery_agent_removal_limit: 1.0,
            executor_program: PathBuf::from(env!("CARGO_BIN_EXE_corral")),
            isolation: Vec::new(),
            tweak_master: |_| {},
            tweak_agent: |_| {},
        }
    }
}

/// Starts a master on `listener`; stop it with the returned sender.
fn spawn_master(
    listener: TcpListener,
    config: MasterConfig,
    modules: &ModuleRegistry,
) -> (
    tokio::sync::oneshot::Sender<()>,
    JoinHandle<std::io::Result<()>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let modules = MasterModules {
        allocator: modules
            .create_allocator("org_corral_allocator_drf", "test")
            .unwrap(),
        hooks: vec![modules.create_hook("org_corral_hook_env", "test").unwrap()].into(),
    };
    let handle = tokio::spawn(server::master::run(listener, config, modules, async move {
        let _ = stopped.await;
    }));
    (stop, handle)
}

impl Cluster {
    /// Stops the master (its streams end) and starts a new one on the same
    /// address, with the same settings and registry. (A `kill -9` of a
    /// master process is tested with real processes.)
    pub async fn restart_master(&mut self) {
        let _ = self.stop.remove(0).send(());
        let (what, old) = self.handles.remove(0);
        wait_stopped(what, old).await;
        let listener = TcpListener::bind(self.master).await.unwrap_or_else(|e| {
            panic!(
                "cannot bind the master's address {} again: {e}",
                self.master
            )
        });
        let (stop, handle) = spawn_master(listener, self.master_config.clone(), &self.modules);
        self.stop.insert(0, stop);
        self.handles.insert(0, ("master", handle));
    }

    pub async fn start() -> Cluster {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Cluster {
        let registry = registry(&options.hook_params, &options.extra_manifest);
        let master_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let agent_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let master_addr = master_listener.local_addr().unwrap();
        let agent_addr = agent_listener.local_addr().unwrap();
        let (stop_agent, agent_stopped) = tokio::sync::oneshot::channel::<()>();
        let work_dir = tempfile::tempdir().unwrap();
        let mut master_config = MasterConfig {
            heartbeat_interval: Duration::from_secs(1),
            allocation_interval: Duration::from_millis(100),
            agent_ping_interval: Duration::from_secs(1),
            agent_timeout: options.agent_timeout,
            registry: options
                .registry
                .then(|| work_dir.path().join("master/registry.redb")),
            agent_reregister_timeout: options.agent_reregister_timeout,
            recovery_agent_removal_limit: options.recovery_agent_removal_limit,
            ..MasterConfig::default()
        };
        (options.tweak_master)(&mut master_config);
        let (stop_master, m) = spawn_master(master_listener, master_config.clone(), &registry);
        let mut agent_config = AgentConfig::new(
            master_addr.to_string(),
            work_dir.path().to_path_buf(),
            options.executor_program.clone(),
        );
        agent_config.resources = options.agent_resources;
        let cgroups_root = unique_cgroups_root();
        agent_config.cgroups_root = cgroups_root.clone();
        agent_config.status_update_retry = Duration::from_secs(1);
        // Tasks of the tests' frameworks name users this machine may not
        // have; the tests of switching users turn it on.
        agent_config.switch_user = false;
        (options.tweak_agent)(&mut agent_config);
        let agent_modules = AgentModules {
            hooks: vec![registry.create_hook("org_corral_hook_env", "test").unwrap()].into(),
            isolators: options
                .isolation
                .iter()
                .map(|name| registry.create_isolator(name, "test").unwrap())
                .collect(),
        };
        let a = tokio::spawn(server::agent::run(
            agent_listener,
            agent_config,
            agent_modules,
            async move {
                let _ = agent_stopped.await;
            },
        ));
        Cluster {
            master: master_addr,
            agent: agent_addr,
            work_dir,
            cgroups_root,
            master_config,
            modules: registry,
            stop: vec![stop_master, stop_agent],
            handles: vec![("master", m), ("agent", a)],
        }
    }

    /// Stops the agent only (its executors are killed with it).
    pub async fn stop_agent(&mut self) {
        let _ = self.stop.remove(1).send(());
        let (what, agent) = self.handles.remove(1);
        wait_stopped(what, agent).await;
    }

    /// Stops master and agent, and checks that no process is left running
    /// in a sandbox and no mount of the work dir is left on the host.
    pub async fn stop(mut self) {
        for s in self.stop.drain(..) {
            let _ = s.send(());
        }
        for (what, h) in self.handles.drain(..) {
            wait_stopped(what, h).await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = processes_under(self.work_dir.path());
            if left.is_empty() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "processes left behind in sandboxes: {left:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let dir = self.work_dir.path().display().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let left: Vec<&str> = mounts.lines().filter(|l| l.contains(&dir)).collect();
        assert!(left.is_empty(), "mounts left behind on the host: {left:#?}");
        if let Ok(freezer) = corral::containerizer::Freezer::detect(&self.cgroups_root) {
            let base = freezer.base().to_path_buf();
            let left: Vec<_> = std::fs::read_dir(&base)
                .unwrap()
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.path())
                .collect();
            assert!(left.is_empty(), "freezer cgroups left behind: {left:#?}");
            std::fs::remove_dir(&base).unwrap();
        }
    }

    /// The sandbox of the latest run of `executor_id`.
    pub fn sandbox_of(&self, executor_id: &str) -> PathBuf {
        let slaves = self.work_dir.path().join("slaves");
        let mut found = Vec::new();
        for agent in std::fs::read_dir(&slaves).unwrap().flatten() {
            for framework in std::fs::read_dir(agent.path().join("frameworks"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let runs = framework
                    .path()
                    .join("executors")
                    .join(executor_id)
                    .join("runs");
                for run in std::fs::read_dir(runs).into_iter().flatten().flatten() {
                    found.push(run.path());
                }
            }
        }
        found.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        found
            .pop()
            .unwrap_or_else(|| panic!("no sandbox for executor {executor_id}"))
    }
}

impl Drop for Cluster {
    /// A test that failed before `stop` still leaves nothing behind: the
    /// processes of its sandboxes are killed and its freezer cgroups removed.
    fn drop(&mut self) {
        for (pid, _) in processes_under(self.work_dir.path()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if let Ok(freezer) = corral::containerizer::Freezer::detect(&self.cgroups_root) {
            let base = freezer.base().to_path_buf();
            for _ in 0..100 {
                let children: Vec<_> = std::fs::read_dir(&base)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.path())
                    .collect();
                if children.iter().all(|c| std::fs::remove_dir(c).is_ok()) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = std::fs::remove_dir(&base);
        }
    }
}

/// Processes whose working directory is under `dir`, with their command lines.
pub fn processes_under(dir: &std::path::Path) -> Vec<(i32, String)> {
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            // Inside a mount namespace the cwd may not read as a host path;
            // the environment the agent gave the executor does.
            let marker = format!("MESOS_DIRECTORY={}", dir.display());
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&dir))
                || std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                    env.split(|b| *b == 0)
                        .any(|var| var.starts_with(marker.as_bytes()))
                })
        })
        .map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            (pid, String::from_utf8_lossy(&cmdline).replace('\0', " "))
        })
        .collect()
}

/// A framework speaking the scheduler API; calls and events are written as
/// JSON in tests and travel in `encoding`.
pub struct Scheduler {
    client: reqwest::Client,
    url: String,
    pub encoding: Encoding,
    pub stream_id: String,
    pub framework_id: String,
    events: mpsc::UnboundedReceiver<Value>,
    /// Events read but not yet asked for.
    backlog: Vec<Value>,
}

fn to_wire(call: &Value, encoding: Encoding) -> Vec<u8> {
    let bytes = serde_json::to_vec(call).unwrap();
    match encoding {
        Encoding::Json => bytes,
        Encoding::Protobuf => encode(
            &decode::<Call>(&bytes, Encoding::Json).unwrap(),
            Encoding::Protobuf,
        ),
    }
}

fn from_wire(record: &[u8], encoding: Encoding) -> Value {
    match encoding {
        Encoding::Json => serde_json::from_slice(record).unwrap(),
        Encoding::Protobuf => {
            let event: Event = decode(record, Encoding::Protobuf).unwrap();
            serde_json::from_slice(&encode(&event, Encoding::Json)).unwrap()
        }
    }
}

impl Scheduler {
    pub async fn subscribe(master: SocketAddr, encoding: Encoding) -> Scheduler {
        Self::subscribe_with(
            master,
            encoding,
            json!({"user": "tester", "name": "corral-test"}),
        )
        .await
    }

    pub async fn subscribe_with(
        master: SocketAddr,
        encoding: Encoding,
        framework_info: Value,
    ) -> Scheduler {
        Self::subscribe_as(master, encoding, framework_info, None)
            .await
            .unwrap_or_else(|(status, body)| panic!("SUBSCRIBE answered {status}: {body}"))
    }

    /// Subscribes with HTTP Basic credentials (`principal`, `secret`) on
    /// every request, when given; a refused SUBSCRIBE is its status and
    /// body.
    pub async fn subscribe_as(
        master: SocketAddr,
        encoding: Encoding,
        framework_info: Value,
        credentials: Option<(&str, &str)>,
    ) -> Result<Scheduler, (u16, String)> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some((principal, secret)) = credentials {
            use base64::Engine;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{principal}:{secret}"));
            headers.insert(
                reqwest::header::AUTHORIZATION,
                format!("Basic {token}").parse().unwrap(),
            );
        }
        let client = reqwest::Client::builder()
            .connect_timeout(HTTP_TIMEOUT)
            .default_headers(headers)
            .build()
            .unwrap();
        let url = format!("http://{master}/api/v1/scheduler");
        let mut call =
            json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}});
        if let Some(id) = call["subscribe"]["framework_info"].get("id").cloned() {
            call["framework_id"] = id;
        }
        // No overall timeout: the answer is the event stream, read with
        // the events' own deadlines.
        let sent = client
            .post(&url)
            .header("content-type", encoding.content_type())
            .header("accept", encoding.content_type())
            .body(to_wire(&call, encoding))
            .send();
        let response = tokio::time::timeout(HTTP_TIMEOUT, sent)
            .await
            .unwrap_or_else(|_| panic!("SUBSCRIBE to {url}: no answer within {HTTP_TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("SUBSCRIBE to {url}: {e}"));
        if response.status() != 200 {
            let status = response.status().as_u16();
            let body = tokio::time::timeout(HTTP_TIMEOUT, response.text())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            return Err((status, body));
        }
        assert_eq!(response.headers()["content-type"], encoding.content_type());
        let stream_id = response.headers()["mesos-stream-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut body = response.bytes_stream();
            let mut reader = RecordReader::default();
            while let Some(Ok(chunk)) = body.next().await {
                for record in reader.push(&chunk).unwrap() {
                    if tx.send(from_wire(&record, encoding)).is_err() {
                        return;
                    }
                }
            }
        });
        let mut s = Scheduler {
            client,
            url,
            encoding,
            stream_id,
            framework_id: String::new(),
            events,
            backlog: Vec::new(),
        };
        let subscribed = s.next("SUBSCRIBED").await;
        s.framework_id = subscribed["subscribed"]["framework_id"]["value"]
            .as_str()
            .unwrap()
            .to_owned();
        Ok(s)
    }

    /// Sends a call (adding `framework_id`); returns the status and body.
    pub async fn call(&self, mut call: Value) -> (u16, String) {
        call["framework_id"] = json!({"value": self.framework_id});
        let response = self
            .client
            .post(&self.url)
            .header("content-type", self.encoding.content_type())
            .header("mesos-stream-id", &self.stream_id)
            .body(to_wire(&call, self.encoding))
            .timeout(HTTP_TIMEOUT)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} call to {}: {e}", call["type"], self.url));
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_else(|e| {
            panic!(
                "{} call to {}: reading the answer: {e}",
                call["type"], self.url
            )
        });
        (status, body)
    }

    /// Every event (heartbeats included) that comes within `wait`, and
    /// whether the stream ended by then.
    pub async fn events_within(&mut self, wait: Duration) -> (Vec<Value>, bool) {
        let deadline = tokio::time::Instant::now() + wait;
        let mut seen = std::mem::take(&mut self.backlog);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => seen.push(event),
                Ok(None) => return (seen, true),
                Err(_) => return (seen, false),
            }
        }
    }

    /// The next event of type `kind`; other events are kept for later.
    pub async fn next(&mut self, kind: &str) -> Value {
        self.take(&format!("an event of type {kind}"), |e| e["type"] == kind)
            .await
    }

    /// The first event that is `wanted` (described by `what`), from the
    /// backlog or else from the stream (other events go to the backlog;
    /// heartbeats are dropped). Fails the test, listing the events seen,
    /// when none came within [`EVENT_TIMEOUT`] or the stream ended.
    async fn take(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(&wanted) {
            return self.backlog.remove(i);
        }
        let earlier = self.backlog.len();
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        let mut heartbeats = 0;
        loop {
            let why = match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) if wanted(&event) => return event,
                Ok(Some(event)) if event["type"] == "HEARTBEAT" => {
                    heartbeats += 1;
                    continue;
                }
                Ok(Some(event)) => {
                    self.backlog.push(event);
                    continue;
                }
                Ok(None) => "the event stream ended".to_owned(),
                Err(_) => format!("none came within {EVENT_TIMEOUT:?}"),
            };
            let list = |events: &[Value]| -> String {
                events.iter().map(|e| format!("\n  {e}")).collect()
            };
            let who = match self.framework_id.as_str() {
                "" => "a subscribing framework".to_owned(),
                id => format!("framework {id}"),
            };
            panic!(
                "{who} waited for {what}: {why}; meanwhile it got {heartbeats} heartbeats and these events:{}\nearlier events not taken:{}",
                list(&self.backlog[earlier..]),
                list(&self.backlog[..earlier]),
            );
        }
    }

    /// The next UPDATE for `task_id`, acknowledged when it carries a uuid.
    pub async fn update_for(&mut self, task_id: &str) -> Value {
        let status = self.unacknowledged_update_for(task_id).await;
        if status.get("uuid").is_some() {
            self.acknowledge(&status).await;
        }
        status
    }

    /// The next UPDATE for `task_id`, not acknowledged.
    pub async fn unacknowledged_update_for(&mut self, task_id: &str) -> Value {
        let event = self
            .take(&format!("an UPDATE for task {task_id}"), |e| {
                e["type"] == "UPDATE" && e["update"]["status"]["task_id"]["value"] == task_id
            })
            .await;
        event["update"]["status"].clone()
    }

    /// Acknowledges `status` (which carries a uuid).
    pub async fn acknowledge(&self, status: &Value) {
        let (code, body) = self
            .call(json!({"type": "ACKNOWLEDGE", "acknowledge": {
                "agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]}}))
            .await;
        assert_eq!(code, 202, "{body}");
    }

    /// Waits for an offer and returns it.
    pub async fn offer(&mut self) -> Value {
        let event = self.next("OFFERS").await;
        event["offers"]["offers"][0].clone()
    }

    /// Launches `tasks` on `offer`.
    pub async fn launch(&self, offer: &Value, tasks: Vec<Value>) {
        let (code, body) = self
            .call(json!({"type": "ACCEPT", "accept": {
                "offer_ids": [offer["id"]],
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
                "filters": {"refuse_seconds": 0.0}}}))
            .await;
        assert_eq!(code, 202, "{body}");
    }
}

/// GET `url`: the status and the body.
pub async fn get(url: impl AsRef<str>) -> (u16, String) {
    let url = url.as_ref();
    let response = http_client()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: reading the answer: {e}"));
    (status, body)
}

/// GET `url`, which must answer 200 with JSON.
pub async fn get_json(url: impl AsRef<str>) -> Value {
    let url = url.as_ref();
    let (status, body) = get(url).await;
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
}

/// A command task with the given resources.
pub fn task(id: &str, offer: &Value, command: &str, cpus: f64, mem: f64) -> Value {
    json!({
        "name": id,
        "task_id": {"value": id},
        "agent_id": offer["agent_id"],
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}
        ],
        "command": {"shell": true, "value": command}
    })
}
