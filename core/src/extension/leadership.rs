//! Leader election, master detection and the registry storage kept with
//! the election (module kinds `master_contender` and `master_detector`).

use std::{sync::Arc, time::Duration};

use super::ModuleCallError;

/// What a contender tells the master about its standing. Called from the
/// module's own threads.
pub trait ElectionListener: Send + Sync {
    /// This master leads from now on.
    fn elected(&self);
    /// This master may act as leader for `valid_for` more.
    fn confirmed(&self, valid_for: Duration);
    /// Candidacy and leadership are over: stop acting at once.
    fn lost(&self, reason: &str);
}

/// What a detector tells its user: the leader's `MasterInfo` JSON, or none.
pub trait LeaderListener: Send + Sync {
    fn leader_changed(&self, leader: Option<String>);
}

/// A master contender module instance.
pub trait MasterContenderPlugin: Send {
    fn name(&self) -> &str;
    fn contend(
        &mut self,
        url: &str,
        info_json: &str,
        listener: Arc<dyn ElectionListener>,
    ) -> Result<(), ModuleCallError>;
    fn registry_read(&mut self, table: &str) -> Result<Vec<(String, Vec<u8>)>, ModuleCallError>;
    fn registry_write(
        &mut self,
        table: &str,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(), ModuleCallError>;
    /// Waits until the writes made so far are applied.
    fn registry_flush(&mut self) -> Result<(), ModuleCallError>;
    fn withdraw(&mut self) -> Result<(), ModuleCallError>;
}

/// A master detector module instance.
pub trait MasterDetectorPlugin: Send {
    fn name(&self) -> &str;
    fn detect(
        &mut self,
        url: &str,
        listener: Arc<dyn LeaderListener>,
    ) -> Result<(), ModuleCallError>;
}
