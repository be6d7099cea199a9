//! Hierarchical Dominant Resource Fairness, as Mesos' built-in allocator:
//! roles are ordered by their weighted dominant share, frameworks within a
//! role likewise (then by fewer offers made, then by id). The kit offers
//! each agent, whole, to the first framework in that order that wants it.

use std::collections::BTreeMap;

use corral_allocator_kit::{Cluster, Framework, Policy};
use corral_module_api::{Host, ModuleError, ParamKind, ParamSpec};

use crate::Params;

/// The DRF policy: role weights, and the order they give.
#[derive(Debug, Default)]
pub struct Drf {
    weights: BTreeMap<String, f64>,
}

impl Drf {
    pub fn with_weights(weights: BTreeMap<String, f64>) -> Self {
        Drf { weights }
    }

    fn weight(&self, role: &str) -> f64 {
        self.weights
            .get(role)
            .copied()
            .filter(|w| *w > 0.0)
            .unwrap_or(1.0)
    }
}

/// `weights = "web=2,batch=0.5"`.
fn weights(params: &Params) -> Result<BTreeMap<String, f64>, ModuleError> {
    let Some(raw) = params.get("weights") else {
        return Ok(BTreeMap::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let bad = || {
                ModuleError::invalid_parameters(format!(
                    "parameter 'weights': '{item}' is not ROLE=WEIGHT with a positive weight"
                ))
            };
            let (role, weight) = item.split_once('=').ok_or_else(bad)?;
            let weight: f64 = weight.trim().parse().map_err(|_| bad())?;
            if !(weight > 0.0 && weight.is_finite()) {
                return Err(bad());
            }
            Ok((role.trim().to_owned(), weight))
        })
        .collect()
}

impl Policy for Drf {
    fn parameters() -> Vec<ParamSpec> {
        vec![ParamSpec::new(
            "weights",
            ParamKind::Text,
            "role weights, ROLE=WEIGHT,ROLE=WEIGHT",
        )]
    }

    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        let drf = Drf::with_weights(weights(params)?);
        tracing::info!("DRF allocator ready");
        Ok(drf)
    }

    fn order(&mut self, cluster: &Cluster<'_>, frameworks: &mut [&Framework]) {
        // Each role's weighted share, once per role.
        let role_share: BTreeMap<&str, f64> = cluster
            .role_shares(frameworks)
            .into_iter()
            .map(|(role, share)| (role, share / self.weight(role)))
            .collect();
        // Each share once, not once per comparison.
        let mut keyed: Vec<(f64, f64, u64, &Framework)> = frameworks
            .iter()
            .map(|f| {
                (
                    role_share[f.role()],
                    cluster.dominant_share(f.allocated()),
                    f.offers_made(),
                    *f,
                )
            })
            .collect();
        keyed.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then_with(|| a.3.role().cmp(b.3.role()))
                .then(a.1.total_cmp(&b.1))
                .then(a.2.cmp(&b.2))
                .then_with(|| a.3.id().cmp(b.3.id()))
        });
        for (slot, (_, _, _, f)) in frameworks.iter_mut().zip(keyed) {
            *slot = f;
        }
    }
}
