//! Since 1.2: leader election and master detection (Mesos'
//! `MasterContender` and `MasterDetector` module kinds), and the registry
//! storage that belongs with the election because its writes are fenced by
//! the same session.
//!
//! Nothing here blocks for long or is async: a module keeps its own client
//! (thread, runtime) and reports through the listeners the host gives it.

use abi_stable::{
    sabi_trait,
    std_types::{RArc, RBox, ROption, RStr, RString, RVec},
    StableAbi,
};

use crate::error::ModuleError;

type Result<T> = abi_stable::std_types::RResult<T, ModuleError>;

/// Implemented by the host: how a contender reports its standing.
#[sabi_trait]
pub trait ContenderListener: Send + Sync + Clone {
    /// This master leads from now on.
    fn elected(&self);
    /// The session was confirmed alive: this master may act as leader for
    /// `valid_for_ms` more milliseconds (a lease shorter than the session
    /// timeout, so that it ends before anyone else can be elected).
    fn confirmed(&self, valid_for_ms: u64);
    /// The candidacy (and leadership, if held) is over for good: the
    /// session expired or was lost, or a fenced write was refused. The
    /// host must stop acting as leader at once.
    #[sabi(last_prefix_field)]
    fn lost(&self, reason: RStr<'_>);
}

/// The listener handed to [`MasterContender::contend`].
pub type ContenderNotifier = ContenderListener_TO<'static, RArc<()>>;

/// Implemented by the host: how a detector reports the leader.
#[sabi_trait]
pub trait LeaderListener: Send + Sync + Clone {
    /// The leader is now the master whose `MasterInfo` (Mesos' JSON) is
    /// given, or no master leads (`None`). Called once soon after
    /// [`MasterDetector::detect`] and on every change after that.
    #[sabi(last_prefix_field)]
    fn leader_changed(&self, leader: ROption<RString>);
}

/// The listener handed to [`MasterDetector::detect`].
pub type LeaderNotifier = LeaderListener_TO<'static, RArc<()>>;

/// One record of the master's registry: an opaque value under a key that
/// is unique within its table.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct RegistryRecord {
    pub key: RString,
    pub value: RVec<u8>,
}

/// Joins the election of masters and keeps the registry.
///
/// Evolution: methods may only be added at the end, with a default body.
#[sabi_trait]
pub trait MasterContender: Send {
    /// Joins the election at `url` (e.g. `zk://h1:2181,h2:2181/corral`),
    /// advertising `info`, this master's `MasterInfo` as Mesos' JSON.
    /// Returns once the candidacy is registered; `listener` hears the rest.
    fn contend(&mut self, url: RStr<'_>, info: RStr<'_>, listener: ContenderNotifier)
        -> Result<()>;
    /// Every record of `table` (`agents`, `frameworks`, ...). Blocks until
    /// read; called by a leader before it serves.
    fn registry_read(&mut self, table: RStr<'_>) -> Result<RVec<RegistryRecord>>;
    /// Writes (`Some`) or deletes (`None`) one record. Writes are applied
    /// in the order they are made and each is fenced: it only takes effect
    /// while this contender still holds its candidacy. The call queues the
    /// write and returns; a write that fails is reported through
    /// [`ContenderListener::lost`].
    fn registry_write(
        &mut self,
        table: RStr<'_>,
        key: RStr<'_>,
        value: ROption<RVec<u8>>,
    ) -> Result<()>;
    /// Blocks until every write made so far is applied (or reported as
    /// failed, as [`ContenderListener::lost`] also hears).
    fn registry_flush(&mut self) -> Result<()>;
    /// Leaves the election (the candidacy's node is removed) once the
    /// writes made so far are applied.
    #[sabi(last_prefix_field)]
    fn withdraw(&mut self) -> Result<()>;
}

/// A contender instance as it crosses the boundary.
pub type MasterContenderBox = MasterContender_TO<'static, RBox<()>>;

/// Follows which master leads.
///
/// Evolution: methods may only be added at the end, with a default body.
#[sabi_trait]
pub trait MasterDetector: Send {
    /// Starts following the leader of the election at `url`; returns once
    /// following, `listener` hears the leader.
    #[sabi(last_prefix_field)]
    fn detect(&mut self, url: RStr<'_>, listener: LeaderNotifier) -> Result<()>;
}

/// A detector instance as it crosses the boundary.
pub type MasterDetectorBox = MasterDetector_TO<'static, RBox<()>>;
