//! Authorization: ACLs in Mesos' `--acls` JSON format, decided as Mesos'
//! local authorizer does. For each action, the ACLs are tried in order;
//! the first whose subject (`principals`) matches the caller and whose
//! object matches (or is `NONE`) decides: `NONE` denies, otherwise the
//! ACL's `allowed` (default true). When none matches, `permissive`
//! (default true) decides; except that running a task as `root` needs an
//! ACL that allows it, whatever `permissive` says.

use std::path::Path;

use serde::Deserialize;

/// An ACL file that cannot be used, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum AclsError {
    #[error("cannot read the ACLs file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the ACLs file {path} is not Mesos' ACL JSON: {reason}")]
    Format { path: String, reason: String },
}

/// `{"values": [...]}`, `{"type": "ANY"}` or `{"type": "NONE"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    #[serde(default)]
    values: Vec<String>,
    #[serde(default, rename = "type")]
    kind: Option<EntityType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum EntityType {
    Any,
    None,
    Some,
}

impl Entity {
    fn is_none(&self) -> bool {
        self.kind == Some(EntityType::None)
    }

    /// Whether the entity takes `value` (`None`: a caller with no
    /// principal, which only `ANY` takes).
    fn matches(&self, value: Option<&str>) -> bool {
        match self.kind {
            Some(EntityType::Any) => true,
            Some(EntityType::None) => false,
            Some(EntityType::Some) | None => {
                value.is_some_and(|v| self.values.iter().any(|x| x == v))
            }
        }
    }
}

/// One ACL of an action: who (`principals`), on what (the action's object
/// key), and whether it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    subject: Entity,
    object: Entity,
    allowed: bool,
}

#[derive(Deserialize)]
struct RawRule {
    principals: Entity,
    #[serde(default)]
    roles: Option<Entity>,
    #[serde(default)]
    users: Option<Entity>,
    #[serde(default)]
    framework_principals: Option<Entity>,
    #[serde(default)]
    paths: Option<Entity>,
    #[serde(default)]
    agents: Option<Entity>,
    #[serde(default = "yes")]
    allowed: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct RawAcls {
    #[serde(default = "yes")]
    permissive: bool,
    #[serde(default)]
    register_frameworks: Vec<RawRule>,
    #[serde(default)]
    register_agents: Vec<RawRule>,
    #[serde(default)]
    run_tasks: Vec<RawRule>,
    #[serde(default)]
    teardown_frameworks: Vec<RawRule>,
    #[serde(default)]
    view_frameworks: Vec<RawRule>,
    #[serde(default)]
    view_tasks: Vec<RawRule>,
    #[serde(default)]
    view_executors: Vec<RawRule>,
    #[serde(default)]
    access_sandboxes: Vec<RawRule>,
    #[serde(default)]
    get_endpoints: Vec<RawRule>,
}

/// What a caller asks to do, with the object's key in Mesos' ACLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Object: a role (`roles`).
    RegisterFramework,
    /// Object: an agent's principal (`agents`).
    RegisterAgent,
    /// Object: the user a task runs as (`users`).
    RunTask,
    /// Object: the principal of the framework torn down
    /// (`framework_principals`).
    TeardownFramework,
    /// Object: the framework's user (`users`).
    ViewFramework,
    /// Object: the task's user (`users`).
    ViewTask,
    /// Object: the executor's user (`users`).
    ViewExecutor,
    /// Object: the user the sandbox's executor runs as (`users`).
    AccessSandbox,
    /// Object: the endpoint's path (`paths`).
    GetEndpoint,
}

impl Action {
    fn key(self) -> &'static str {
        match self {
            Action::RegisterFramework => "roles",
            Action::RegisterAgent => "agents",
            Action::RunTask | Action::ViewFramework | Action::ViewTask => "users",
            Action::ViewExecutor | Action::AccessSandbox => "users",
            Action::TeardownFramework => "framework_principals",
            Action::GetEndpoint => "paths",
        }
    }
}

/// Mesos' ACLs, ready to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acls {
    permissive: bool,
    rules: Vec<(Action, Rule)>,
}

impl Acls {
    pub fn load(path: &Path) -> Result<Acls, AclsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AclsError::Read {
            path: shown.clone(),
            source,
        })?;
        Acls::parse(&text, &shown)
    }

    /// ACLs from the text of file `path` (named in errors). An ACL without
    /// the object its action needs is an error naming the action.
    pub fn parse(text: &str, path: &str) -> Result<Acls, AclsError> {
        let raw: RawAcls = serde_json::from_str(text).map_err(|e| AclsError::Format {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let mut rules = Vec::new();
        let lists = [
            (
                "register_frameworks",
                Action::RegisterFramework,
                raw.register_frameworks,
            ),
            (
                "register_agents",
                Action::RegisterAgent,
                raw.register_agents,
            ),
            ("run_tasks", Action::RunTask, raw.run_tasks),
            (
                "teardown_frameworks",
                Action::TeardownFramework,
                raw.teardown_frameworks,
            ),
            (
                "view_frameworks",
                Action::ViewFramework,
                raw.view_frameworks,
            ),
            ("view_tasks", Action::ViewTask, raw.view_tasks),
            ("view_executors", Action::ViewExecutor, raw.view_executors),
            (
                "access_sandboxes",
                Action::AccessSandbox,
                raw.access_sandboxes,
            ),
            ("get_endpoints", Action::GetEndpoint, raw.get_endpoints),
        ];
        for (name, action, list) in lists {
            for (n, r) in list.into_iter().enumerate() {
                let object = match action.key() {
                    "roles" => r.roles,
                    "users" => r.users,
                    "framework_principals" => r.framework_principals,
                    "paths" => r.paths,
                    _ => r.agents,
                };
                let object = object.ok_or_else(|| AclsError::Format {
                    path: path.to_owned(),
                    reason: format!("{name}[{n}] has no '{}'", action.key()),
                })?;
                rules.push((
                    action,
                    Rule {
                        subject: r.principals,
                        object,
                        allowed: r.allowed,
                    },
                ));
            }
        }
        Ok(Acls {
            permissive: raw.permissive,
            rules,
        })
    }

    /// Whether `principal` (`None`: unauthenticated) may do `action` on
    /// `object`.
    pub fn allows(&self, action: Action, principal: Option<&str>, object: &str) -> bool {
        for (a, rule) in &self.rules {
            if *a != action || !rule.subject.matches(principal) {
                continue;
            }
            if rule.object.is_none() {
                return false;
            }
            if rule.object.matches(Some(object)) {
                return rule.allowed;
            }
        }
        // Root needs an ACL that says so.
        if action == Action::RunTask && object == "root" {
            return false;
        }
        self.permissive
    }
}

/// Decides with `acls` when there are any; everything is allowed without.
pub fn allowed(acls: Option<&Acls>, action: Action, principal: Option<&str>, object: &str) -> bool {
    acls.is_none_or(|a| a.allows(action, principal, object))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{
      "permissive": false,
      "register_frameworks": [
        { "principals": { "values": ["marathon"] }, "roles": { "values": ["web", "batch"] } }
      ],
      "run_tasks": [
        { "principals": { "values": ["marathon"] }, "users": { "values": ["www-data"] } },
        { "principals": { "type": "ANY" }, "users": { "values": ["root"] }, "allowed": false }
      ],
      "teardown_frameworks": [
        { "principals": { "values": ["ops"] }, "framework_principals": { "type": "ANY" } },
        { "principals": { "values": ["marathon"] }, "framework_principals": { "type": "NONE" } }
      ],
      "access_sandboxes": [
        { "principals": { "values": ["ops"] }, "users": { "type": "ANY" } }
      ]
    }"#;

    #[test]
    fn the_first_matching_acl_decides_then_permissive() {
        let acls = Acls::parse(EXAMPLE, "acls.json").unwrap();
        use Action::*;
        assert!(acls.allows(RegisterFramework, Some("marathon"), "web"));
        assert!(!acls.allows(RegisterFramework, Some("marathon"), "prod"));
        assert!(!acls.allows(RegisterFramework, Some("chronos"), "web"));
        assert!(acls.allows(RunTask, Some("marathon"), "www-data"));
        assert!(!acls.allows(RunTask, Some("marathon"), "root"));
        assert!(acls.allows(TeardownFramework, Some("ops"), "marathon"));
        assert!(
            !acls.allows(TeardownFramework, Some("marathon"), "marathon"),
            "NONE denies"
        );
        assert!(acls.allows(AccessSandbox, Some("ops"), "nobody"));
        assert!(!acls.allows(AccessSandbox, None, "nobody"));
        let open = Acls::parse(r#"{"permissive": true}"#, "a").unwrap();
        assert!(open.allows(ViewFramework, None, "anyone"));
        assert!(
            !open.allows(RunTask, Some("x"), "root"),
            "root needs an ACL that allows it"
        );
        let root = Acls::parse(
            r#"{"run_tasks": [{"principals": {"values": ["ops"]}, "users": {"values": ["root"]}}]}"#,
            "a",
        )
        .unwrap();
        assert!(root.allows(RunTask, Some("ops"), "root"));
        assert!(!root.allows(RunTask, Some("dev"), "root"));
        assert!(allowed(None, RunTask, None, "root"), "no ACLs, no checks");
    }

    #[test]
    fn a_bad_acl_file_is_refused_naming_the_file_and_the_acl() {
        let e = Acls::parse(
            r#"{"run_tasks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}]}"#,
            "/etc/corral/acls.json",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("/etc/corral/acls.json") && e.contains("run_tasks[0] has no 'users'"),
            "{e}"
        );
        let e = Acls::parse("{\"permisive\": 1", "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not Mesos' ACL JSON"), "{e}");
    }
}
