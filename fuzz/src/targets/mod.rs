//! Every fuzz target, one per decoder that takes bytes from the network.

use crate::Target;

pub mod files;
pub mod ids;
pub mod messages;
pub mod recordio;
pub mod resources;
pub mod sandbox;
pub mod validation;

/// All targets, in the order `corral-fuzz` runs them.
pub fn all() -> Vec<Target> {
    let mut all = messages::targets();
    all.extend([
        recordio::target(),
        files::target(),
        resources::target(),
        validation::target(),
        sandbox::target(),
        ids::target(),
    ]);
    all
}

/// The target named `name`.
pub fn find(name: &str) -> Option<Target> {
    all().into_iter().find(|t| t.name == name)
}
