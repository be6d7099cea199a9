//! What an allocator built on the kit decides: in which order frameworks
//! are offered an agent, and what each is offered. Everything else (who
//! holds what, filters, suppress/revive, the round itself) is the kit's.

use std::collections::BTreeMap;

use corral_module_api::{allocator::ReturnReason, Host, ModuleError, ParamSpec};

use crate::{
    book::{Agent, Book, Framework},
    resources::Resources,
    Params,
};

/// An allocation policy. Only `new` is required: the defaults offer each
/// agent, whole, to the frameworks in the order of their ids.
pub trait Policy: Send + Sized + 'static {
    /// Whether each round visits the agents in a fresh random order (so no
    /// agent is always first, as in Mesos) or in the order of their ids.
    const SHUFFLE_AGENTS: bool = true;

    /// Builds the policy from the module's parameters: those it declares
    /// in [`Policy::parameters`] (checked by the host, defaults filled in)
    /// and the kit's own (`min_allocatable_cpus`, `min_allocatable_mem`).
    fn new(params: &Params, host: &Host) -> Result<Self, ModuleError>;

    /// The parameters the policy takes beyond the kit's own.
    fn parameters() -> Vec<ParamSpec> {
        Vec::new()
    }

    /// Orders the frameworks that take offers (active, not suppressed):
    /// each agent is offered to them in this order. They arrive sorted by
    /// id. Called at the start of a round and again after each agent that
    /// was granted to someone, since grants change shares.
    fn order(&mut self, cluster: &Cluster<'_>, frameworks: &mut [&Framework]) {
        let _ = (cluster, frameworks);
    }

    /// What to offer `framework` of `offerable`, the part of `agent`'s free
    /// resources its role may use (unreserved and reserved for its role),
    /// worth offering, and not hidden by its decline filters. The rest
    /// goes on to the next framework in order.
    fn choose(&mut self, agent: &Agent, framework: &Framework, offerable: &Resources) -> Choice {
        let _ = (agent, framework, offerable);
        Choice::All
    }

    /// Something happened that the kit has already accounted for.
    fn observe(&mut self, event: Event<'_>) {
        let _ = event;
    }

    /// Whether [`Policy::order_agents`] orders the agents of a round (read
    /// at the start of each round).
    fn orders_agents(&self) -> bool {
        false
    }

    /// Orders the agents a round visits (they arrive shuffled, or by id
    /// without `SHUFFLE_AGENTS`). Called once per round, only when
    /// [`Policy::orders_agents`] says so.
    fn order_agents(&mut self, cluster: &Cluster<'_>, agents: &mut [&Agent]) {
        let _ = (cluster, agents);
    }

    /// A round starts.
    fn begin_round(&mut self, now_ms: u64) {
        let _ = now_ms;
    }

    /// A round ends. An error voids the round: its grants are taken back,
    /// nothing is offered, and the error is logged.
    fn end_round(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// What [`Policy::choose`] offers.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// All of it.
    All,
    /// Only these resources, which must be part of what was offerable (a
    /// choice that is not is logged and the framework passed over).
    Part(Resources),
    /// Nothing: the next framework in order is asked.
    Pass,
}

/// Notifications a policy may want, after the kit's bookkeeping.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// Resources came back from a framework.
    Returned {
        framework_id: &'a str,
        agent_id: &'a str,
        resources: &'a Resources,
        reason: ReturnReason,
        /// The offer they were in, if the host says.
        offer_id: Option<&'a str>,
        /// The task that used them, if one ended.
        task_id: Option<&'a str>,
        /// The decline filter that came with them.
        refuse_seconds: Option<f64>,
    },
    /// The host made an offer of one of the kit's grants.
    OfferMade {
        offer_id: &'a str,
        framework_id: &'a str,
        agent_id: &'a str,
    },
}

/// The whole cluster, read-only, as the policy orders frameworks.
#[derive(Debug)]
pub struct Cluster<'a> {
    book: &'a Book,
    /// Scalar totals by name, computed once per order.
    totals: BTreeMap<&'a str, f64>,
    now_ms: u64,
}

impl<'a> Cluster<'a> {
    pub(crate) fn new(book: &'a Book, now_ms: u64) -> Self {
        Cluster {
            book,
            totals: book.cluster_total().scalars(),
            now_ms,
        }
    }

    /// The host's clock for this round (monotonic milliseconds).
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The sum of every agent's total.
    pub fn total(&self) -> &Resources {
        self.book.cluster_total()
    }

    /// The dominant share of `allocated`: the largest fraction it holds of
    /// any scalar resource of the cluster (0 on an empty cluster).
    pub fn dominant_share(&self, allocated: &Resources) -> f64 {
        allocated
            .scalars()
            .into_iter()
            .filter_map(|(name, used)| {
                self.totals
                    .get(name)
                    .filter(|t| **t > 0.0)
                    .map(|t| used / t)
            })
            .fold(0.0, f64::max)
    }

    /// The dominant share of each role's allocation, summed over the
    /// `frameworks` given (as a hierarchical policy orders roles first).
    pub fn role_shares<'f>(&self, frameworks: &[&'f Framework]) -> BTreeMap<&'f str, f64> {
        let mut roles: BTreeMap<&'f str, Resources> = BTreeMap::new();
        for f in frameworks {
            roles.entry(f.role()).or_default().add(f.allocated());
        }
        roles
            .into_iter()
            .map(|(role, allocated)| (role, self.dominant_share(&allocated)))
            .collect()
    }

    /// Every framework, also those that take no offers now.
    pub fn frameworks(&self) -> impl Iterator<Item = &'a Framework> {
        self.book.frameworks()
    }

    pub fn agents(&self) -> impl Iterator<Item = &'a Agent> {
        self.book.agents()
    }
}
