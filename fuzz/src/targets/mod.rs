//! Every fuzz target, one per decoder that takes bytes from the network.

use crate::Target;

pub mod files;
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
        // ID VALIDATION: the target for `corral::domain::ids::validate_id`
        // (issue 15, "Ids become paths unchecked") goes here once that
        // function is on this branch: no panic, and an accepted id is
        // non-empty, not `.` or `..`, at most its bound in bytes, and has
        // no `/`, NUL, whitespace or control character.
    ]);
    all
}

/// The target named `name`.
pub fn find(name: &str) -> Option<Target> {
    all().into_iter().find(|t| t.name == name)
}
