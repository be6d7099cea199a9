//! The contender: one EPHEMERAL_SEQUENTIAL `json.info_` znode holding this
//! master's `MasterInfo`; leader while it has the smallest sequence; a
//! lease confirmed by reading its own znode; and the registry, one znode
//! per record under `<path>-registry/<table>/`, every write fenced by a
//! multi-op that first checks the candidacy's znode still exists.

use std::{
    collections::{HashSet, VecDeque},
    future::Future,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use corral_module_api::{
    guest::{MasterContenderModule, Params},
    master::{ContenderNotifier, RegistryRecord},
    Host, ModuleError, RStr, RString, RVec,
};
use tokio::sync::mpsc;
use zookeeper_client::{
    CheckWriteError, Client, CreateMode, Error as ZkError, MultiWriteResult, SessionState,
};

use crate::{
    election::{sequence, LABEL},
    keys,
    session::{self, acls, connect, failed, persistent},
    url::ZkUrl,
};

/// Registry writes queued and not yet applied, at most.
const WRITE_QUEUE: usize = 65_536;
/// Registry writes in flight at once.
const WRITE_WINDOW: usize = 256;
/// The tables the host keeps.
const TABLES: [&str; 3] = ["agents", "frameworks", "removed_agents"];

pub struct ZkContender {
    timeout: Duration,
    runtime: Option<tokio::runtime::Runtime>,
    candidacy: Option<Arc<Candidacy>>,
    writes: Option<mpsc::Sender<Queued>>,
}

/// One joined election.
struct Candidacy {
    client: Client,
    url: ZkUrl,
    /// The full path of this master's znode.
    node: String,
    listener: ContenderNotifier,
    over: AtomicBool,
}

impl Candidacy {
    /// Ends the candidacy once, telling the host why.
    fn lose(&self, reason: &str) {
        if !self.over.swap(true, Ordering::SeqCst) {
            tracing::error!(reason, node = %self.node, "leadership lost");
            self.listener.lost(RStr::from(reason));
        }
    }

    fn table(&self, table: &str) -> String {
        format!("{}/{table}", self.url.registry_root())
    }
}

impl std::fmt::Debug for ZkContender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZkContender")
            .field("timeout", &self.timeout)
            .field("node", &self.candidacy.as_ref().map(|c| c.node.as_str()))
            .finish_non_exhaustive()
    }
}

struct Write {
    table: String,
    key: String,
    value: Option<Vec<u8>>,
}

/// What the writer task is asked to do, in order.
enum Queued {
    Write(Write),
    /// Answer once every earlier write is applied.
    Flush(tokio::sync::oneshot::Sender<Result<(), String>>),
}

impl MasterContenderModule for ZkContender {
    fn parameters() -> Option<Vec<corral_module_api::ParamSpec>> {
        Some(crate::parameters())
    }

    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        Ok(ZkContender {
            timeout: crate::session_timeout(params)?,
            runtime: None,
            candidacy: None,
            writes: None,
        })
    }

    fn contend(
        &mut self,
        url: &str,
        info: &str,
        listener: ContenderNotifier,
    ) -> Result<(), ModuleError> {
        if self.candidacy.is_some() {
            return Err(failed("this contender is already in an election"));
        }
        let url = ZkUrl::parse(url).map_err(|e| failed(format!("{url}: {e}")))?;
        let runtime = session::runtime("corral-zk-contender")?;
        let timeout = self.timeout;
        let candidacy = runtime.block_on(async {
            let client = connect(&url, timeout).await?;
            let made =
                |what: &str, e: ZkError| failed(format!("cannot create {what} in {url}: {e}"));
            client
                .mkdir(&url.path, &persistent(&url))
                .await
                .map_err(|e| made(&url.path, e))?;
            for table in TABLES {
                let path = format!("{}/{table}", url.registry_root());
                client
                    .mkdir(&path, &persistent(&url))
                    .await
                    .map_err(|e| made(&path, e))?;
                let present = client.list_children(&path).await.unwrap_or_default();
                // Every missing folder is asked for before the first answer.
                let folders: Vec<String> = keys::buckets()
                    .filter(|b| !present.contains(b))
                    .map(|b| format!("{path}/{b}"))
                    .collect();
                let options = persistent(&url);
                let creating: Vec<_> = folders
                    .iter()
                    .map(|folder| (folder, client.create(folder, b"", &options)))
                    .collect();
                for (folder, done) in creating {
                    match done.await {
                        Ok(_) | Err(ZkError::NodeExists) => {}
                        Err(e) => return Err(made(folder, e)),
                    }
                }
            }
            let options = CreateMode::EphemeralSequential.with_acls(acls(&url));
            let (_, seq) = client
                .create(&format!("{}/{LABEL}", url.path), info.as_bytes(), &options)
                .await
                .map_err(|e| made("this master's candidacy", e))?;
            let node = format!("{}/{LABEL}{seq}", url.path);
            tracing::info!(%node, "joined the election");
            Ok::<_, ModuleError>(Arc::new(Candidacy {
                client,
                url,
                node,
                listener,
                over: AtomicBool::new(false),
            }))
        })?;
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        runtime.spawn(elect(candidacy.clone()));
        runtime.spawn(watch_session(candidacy.clone()));
        runtime.spawn(confirm(candidacy.clone(), timeout));
        runtime.spawn(apply_writes(candidacy.clone(), rx));
        self.runtime = Some(runtime);
        self.candidacy = Some(candidacy);
        self.writes = Some(tx);
        Ok(())
    }

    fn registry_read(&mut self, table: &str) -> Result<Vec<RegistryRecord>, ModuleError> {
        let (Some(runtime), Some(c)) = (&self.runtime, &self.candidacy) else {
            return Err(failed("registry_read before contend"));
        };
        let dir = c.table(table);
        runtime.block_on(async {
            let read = |e: ZkError| failed(format!("cannot read the registry at {dir}: {e}"));
            let names = list_records(&c.client, &dir).await.map_err(read)?;
            // Every read is sent before the first answer is awaited.
            let pending: Vec<_> = names
                .iter()
                .map(|n| c.client.get_data(&format!("{dir}/{}/{n}", keys::bucket(n))))
                .collect();
            let mut records = Vec::with_capacity(names.len());
            for (name, data) in names.iter().zip(pending) {
                let (value, _) = match data.await {
                    Ok(d) => d,
                    Err(ZkError::NoNode) => continue,
                    Err(e) => return Err(read(e)),
                };
                let key = keys::unescape(name).map_err(|e| failed(format!("{dir}: {e}")))?;
                records.push(RegistryRecord {
                    key: RString::from(key),
                    value: RVec::from(value),
                });
            }
            Ok(records)
        })
    }

    fn registry_write(
        &mut self,
        table: &str,
        key: &str,
        value: Option<Vec<u8>>,
    ) -> Result<(), ModuleError> {
        let (Some(writes), Some(c)) = (&self.writes, &self.candidacy) else {
            return Err(failed("registry_write before contend"));
        };
        if !TABLES.contains(&table) {
            return Err(failed(format!(
                "no registry table '{table}' (there are {TABLES:?})"
            )));
        }
        let write = Write {
            table: table.to_owned(),
            key: key.to_owned(),
            value,
        };
        writes.try_send(Queued::Write(write)).map_err(|_| {
            let why = format!("registry write queue full ({WRITE_QUEUE} writes)");
            c.lose(&why);
            failed(why)
        })
    }

    fn registry_flush(&mut self) -> Result<(), ModuleError> {
        let (Some(runtime), Some(writes)) = (&self.runtime, &self.writes) else {
            return Err(failed("registry_flush before contend"));
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        runtime.block_on(async {
            writes
                .send(Queued::Flush(tx))
                .await
                .map_err(|_| failed("the candidacy is over: its writes were not all applied"))?;
            match rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(why)) => Err(failed(why)),
                Err(_) => Err(failed(
                    "the candidacy is over: its writes were not all applied",
                )),
            }
        })
    }

    fn withdraw(&mut self) -> Result<(), ModuleError> {
        if self.writes.is_some() {
            if let Err(e) = self.registry_flush() {
                tracing::warn!(error = %e, "leaving the election with writes not applied");
            }
        }
        let (Some(runtime), Some(c)) = (&self.runtime, self.candidacy.take()) else {
            return Ok(());
        };
        c.over.store(true, Ordering::SeqCst);
        self.writes = None;
        runtime
            .block_on(c.client.delete(&c.node, None))
            .or_else(|e| if e == ZkError::NoNode { Ok(()) } else { Err(e) })
            .map_err(|e| failed(format!("cannot leave the election: {e}")))
    }
}

/// Reports `elected` once this candidacy has the smallest sequence; loses
/// it if its znode disappears.
async fn elect(c: Arc<Candidacy>) {
    let mine = c.node.rsplit('/').next().and_then(sequence);
    loop {
        if c.over.load(Ordering::SeqCst) {
            return;
        }
        let (children, watcher) = match c.client.list_and_watch_children(&c.url.path).await {
            Ok(listed) => listed,
            Err(e) => {
                if c.client.state().is_terminated() {
                    return; // `watch_session` reports it.
                }
                tracing::warn!(error = %e, "cannot list the election; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let sequences: Vec<u64> = children.iter().filter_map(|n| sequence(n)).collect();
        if !mine.is_some_and(|m| sequences.contains(&m)) {
            c.lose("this master's candidacy znode is gone");
            return;
        }
        if sequences.iter().min() == mine.as_ref() {
            tracing::info!(node = %c.node, "elected leading master");
            c.listener.elected();
            return;
        }
        watcher.changed().await;
    }
}

/// The session ending ends the candidacy.
async fn watch_session(c: Arc<Candidacy>) {
    let mut states = c.client.state_watcher();
    loop {
        let state = states.changed().await;
        match state {
            SessionState::Disconnected => {
                tracing::warn!("disconnected from ZooKeeper: the lease is no longer renewed")
            }
            SessionState::SyncConnected | SessionState::ConnectedReadOnly => {
                tracing::info!("reconnected to ZooKeeper")
            }
            terminal if terminal.is_terminated() => {
                c.lose(&format!("the ZooKeeper session ended ({terminal})"));
                return;
            }
            _ => {}
        }
    }
}

/// Renews the lease a few times per session timeout by reading its own
/// znode. The lease runs from when the read was sent: the server had not
/// yet expired the session then, and cannot before a whole timeout later;
/// the lease keeps a third of the timeout in reserve.
async fn confirm(c: Arc<Candidacy>, timeout: Duration) {
    let every = timeout / 5;
    let lease = timeout * 2 / 3;
    loop {
        if c.over.load(Ordering::SeqCst) {
            return;
        }
        let sent = Instant::now();
        match c.client.check_stat(&c.node).await {
            Ok(Some(_)) => {
                let left = lease.saturating_sub(sent.elapsed());
                c.listener.confirmed(left.as_millis() as u64);
            }
            Ok(None) => {
                c.lose("this master's candidacy znode is gone");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot confirm the session"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Applies registry writes in order, a window of them in flight at once,
/// each fenced by the candidacy's znode.
async fn apply_writes(c: Arc<Candidacy>, mut rx: mpsc::Receiver<Queued>) {
    // Which records exist: read when the first write comes, i.e. once
    // elected, when the previous leader can no longer write; from then on
    // only this master writes.
    let mut existing: Option<HashSet<(String, String)>> = None;
    let mut in_flight = VecDeque::new();
    loop {
        let next = if in_flight.is_empty() {
            rx.recv().await
        } else if in_flight.len() < WRITE_WINDOW {
            rx.try_recv().ok()
        } else {
            None
        };
        let w = match next {
            Some(Queued::Write(w)) => w,
            Some(Queued::Flush(done)) => {
                let mut result = Ok(());
                while let Some(pending) = in_flight.pop_front() {
                    if let Err(why) = settle(&c, pending).await {
                        result = Err(why);
                        break;
                    }
                }
                let failed = result.clone().err();
                let _ = done.send(result);
                if let Some(why) = failed {
                    c.lose(&why);
                    return;
                }
                continue;
            }
            None => {
                let Some(pending) = in_flight.pop_front() else {
                    return; // The contender is gone.
                };
                if let Err(why) = settle(&c, pending).await {
                    c.lose(&why);
                    return;
                }
                continue;
            }
        };
        if c.over.load(Ordering::SeqCst) {
            return;
        }
        let known = match &mut existing {
            Some(known) => known,
            None => existing.insert(existing_records(&c).await),
        };
        let name = keys::escape(&w.key);
        let path = format!("{}/{}/{name}", c.table(&w.table), keys::bucket(&name));
        let id = (w.table.clone(), name);
        let op = match (&w.value, known.contains(&id)) {
            (Some(v), true) => Op::Set(v.clone()),
            (Some(v), false) => Op::Create(v.clone()),
            (None, true) => Op::Delete,
            (None, false) => continue,
        };
        if w.value.is_some() {
            known.insert(id);
        } else {
            known.remove(&id);
        }
        match send(&c, &path, &op) {
            Ok(done) => in_flight.push_back(Pending { path, op, done }),
            Err(why) => {
                c.lose(&why);
                return;
            }
        }
    }
}

async fn existing_records(c: &Candidacy) -> HashSet<(String, String)> {
    let mut known = HashSet::new();
    for table in TABLES {
        if let Ok(names) = list_records(&c.client, &c.table(table)).await {
            known.extend(names.into_iter().map(|n| (table.to_owned(), n)));
        }
    }
    known
}

/// The (escaped) names of every record of the table at `dir`, listing
/// its folders with every request sent before the first answer.
async fn list_records(client: &Client, dir: &str) -> Result<Vec<String>, ZkError> {
    let listing: Vec<_> = keys::buckets()
        .map(|b| client.list_children(&format!("{dir}/{b}")))
        .collect();
    let mut names = Vec::new();
    for listed in listing {
        match listed.await {
            Ok(found) => names.extend(found),
            Err(ZkError::NoNode) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(names)
}

/// One record write.
#[derive(Clone)]
enum Op {
    Create(Vec<u8>),
    Set(Vec<u8>),
    Delete,
}

type Commit<'a> = std::pin::Pin<
    Box<dyn Future<Output = Result<Vec<MultiWriteResult>, CheckWriteError>> + Send + 'a>,
>;

struct Pending<'a> {
    path: String,
    op: Op,
    done: Commit<'a>,
}

/// Sends one fenced write: a multi-op whose first step checks that this
/// candidacy's znode still exists.
fn send<'a>(c: &'a Candidacy, path: &str, op: &Op) -> Result<Commit<'a>, String> {
    let mut fenced = c
        .client
        .new_check_writer(&c.node, None)
        .map_err(|e| format!("cannot fence a registry write: {e}"))?;
    let added = match op {
        Op::Create(v) => fenced.add_create(path, v, &persistent(&c.url)),
        Op::Set(v) => fenced.add_set_data(path, v, None),
        Op::Delete => fenced.add_delete(path, None),
    };
    added.map_err(|e| format!("cannot write {path}: {e}"))?;
    Ok(Box::pin(fenced.commit()))
}

/// Waits for a write; a record found (or not found) against expectation
/// is written the other way, once. A failed fence is never retried.
async fn settle(c: &Candidacy, pending: Pending<'_>) -> Result<(), String> {
    let refused =
        |e: CheckWriteError| format!("the registry write to {} was refused: {e}", pending.path);
    match pending.done.await {
        Ok(_) => Ok(()),
        Err(CheckWriteError::OperationFailed { source, .. }) => {
            let retry = match (&pending.op, source) {
                (Op::Create(v), ZkError::NodeExists) => Op::Set(v.clone()),
                (Op::Set(v), ZkError::NoNode) => Op::Create(v.clone()),
                (Op::Delete, ZkError::NoNode) => return Ok(()),
                (_, source) => {
                    return Err(refused(CheckWriteError::OperationFailed {
                        index: 0,
                        source,
                    }))
                }
            };
            send(c, &pending.path, &retry)?
                .await
                .map(drop)
                .map_err(refused)
        }
        Err(e) => Err(refused(e)),
    }
}
