//! Whether decline filters hide what an agent offers, remembered for the
//! filters frameworks share (those that declined the same offer hold one
//! copy of it): one comparison per distinct declined set, not per
//! framework.

use std::sync::Arc;

use crate::resources::Resources;

/// Verdicts remembered for one offered set within a round.
const KEPT: usize = 4;

/// Verdicts by filter identity; the few latest only, so frameworks that all
/// declined differently cost a comparison each, not a search.
#[derive(Debug, Default)]
pub struct Verdicts {
    latest: Vec<(*const Resources, bool)>,
}

impl Verdicts {
    /// Whether a filter of `declined` hides `offered` (offers made
    /// entirely of declined resources are filtered). `offered` must be
    /// the same for every call on one `Verdicts`.
    #[inline]
    pub fn covers(&mut self, declined: &Arc<Resources>, offered: &Resources) -> bool {
        let key = Arc::as_ptr(declined);
        if let Some(&(_, covered)) = self.latest.iter().find(|(k, _)| *k == key) {
            return covered;
        }
        let covered = declined.contains(offered);
        if self.latest.len() == KEPT {
            self.latest.remove(0);
        }
        self.latest.push((key, covered));
        covered
    }
}
