//! Contender and detector module instances behind core's native traits,
//! and the host's listeners handed to them.

use std::{sync::Arc, time::Duration};

use abi_stable::{sabi_trait::TD_Opaque, std_types::RArc};
use corral_module_api::{
    master::{
        self as api, ContenderListener_TO, LeaderListener_TO, MasterContenderBox, MasterDetectorBox,
    },
    ROption, RStr, RString, RVec,
};

use super::foreign::Guard;
use crate::extension::{
    ElectionListener, LeaderListener, MasterContenderPlugin, MasterDetectorPlugin, ModuleCallError,
};

/// A master contender module instance.
pub struct ForeignContender {
    guard: Guard,
    inner: MasterContenderBox,
}

impl ForeignContender {
    pub(super) fn new(module: &str, inner: MasterContenderBox) -> Self {
        ForeignContender {
            guard: Guard::new(module),
            inner,
        }
    }
}

/// A master detector module instance.
pub struct ForeignDetector {
    guard: Guard,
    inner: MasterDetectorBox,
}

impl ForeignDetector {
    pub(super) fn new(module: &str, inner: MasterDetectorBox) -> Self {
        ForeignDetector {
            guard: Guard::new(module),
            inner,
        }
    }
}

#[derive(Clone)]
struct ElectionSink(Arc<dyn ElectionListener>);

impl api::ContenderListener for ElectionSink {
    fn elected(&self) {
        self.0.elected();
    }
    fn confirmed(&self, valid_for_ms: u64) {
        self.0.confirmed(Duration::from_millis(valid_for_ms));
    }
    fn lost(&self, reason: RStr<'_>) {
        self.0.lost(reason.as_str());
    }
}

#[derive(Clone)]
struct LeaderSink(Arc<dyn LeaderListener>);

impl api::LeaderListener for LeaderSink {
    fn leader_changed(&self, leader: ROption<RString>) {
        self.0
            .leader_changed(leader.into_option().map(RString::into_string));
    }
}

impl MasterContenderPlugin for ForeignContender {
    fn name(&self) -> &str {
        self.guard.module()
    }
    fn contend(
        &mut self,
        url: &str,
        info_json: &str,
        listener: Arc<dyn ElectionListener>,
    ) -> Result<(), ModuleCallError> {
        let notifier = ContenderListener_TO::from_ptr(RArc::new(ElectionSink(listener)), TD_Opaque);
        self.guard.call("contend", || {
            self.inner
                .contend(RStr::from(url), RStr::from(info_json), notifier)
        })
    }
    fn registry_read(&mut self, table: &str) -> Result<Vec<(String, Vec<u8>)>, ModuleCallError> {
        self.guard
            .call("registry_read", || {
                self.inner.registry_read(RStr::from(table))
            })
            .map(|records| {
                records
                    .into_iter()
                    .map(|r| (r.key.into_string(), r.value.into_vec()))
                    .collect()
            })
    }
    fn registry_write(
        &mut self,
        table: &str,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(), ModuleCallError> {
        let value = value.map(RVec::from_slice);
        self.guard.call("registry_write", || {
            self.inner
                .registry_write(RStr::from(table), RStr::from(key), value.into())
        })
    }
    fn registry_flush(&mut self) -> Result<(), ModuleCallError> {
        self.guard
            .call("registry_flush", || self.inner.registry_flush())
    }
    fn withdraw(&mut self) -> Result<(), ModuleCallError> {
        self.guard.call("withdraw", || self.inner.withdraw())
    }
}

impl MasterDetectorPlugin for ForeignDetector {
    fn name(&self) -> &str {
        self.guard.module()
    }
    fn detect(
        &mut self,
        url: &str,
        listener: Arc<dyn LeaderListener>,
    ) -> Result<(), ModuleCallError> {
        let notifier = LeaderListener_TO::from_ptr(RArc::new(LeaderSink(listener)), TD_Opaque);
        self.guard
            .call("detect", || self.inner.detect(RStr::from(url), notifier))
    }
}
