use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::volumes::{BindMount, MS_BIND, MS_RDONLY, MS_REC};

fn volume(container: &str, host: &str) -> Volume {
    Volume {
        container_path: container.to_owned(),
        host_path: host.to_owned(),
        read_only: false,
    }
}

fn params(json: &str) -> Params {
    Params::new([("default_container_info".to_owned(), json.to_owned())])
}

#[test]
fn default_container_info_is_mesos_json() {
    let list = parse_container_info(
        r#"{"type":"MESOS","volumes":[{"container_path":"/tmp","host_path":"tmp","mode":"RW"},
            {"container_path":"/etc","host_path":"/etc","mode":"RO"}]}"#,
    )
    .unwrap();
    assert_eq!(
        list,
        vec![
            volume("/tmp", "tmp"),
            Volume {
                read_only: true,
                ..volume("/etc", "/etc")
            }
        ]
    );
    let docker = parse_container_info(r#"{"type":"DOCKER"}"#).unwrap_err();
    assert!(
        docker.contains("type 'DOCKER' is not supported"),
        "{docker}"
    );
    let mode =
        parse_container_info(r#"{"volumes":[{"container_path":"/tmp","mode":"RX"}]}"#).unwrap_err();
    assert!(mode.contains("volumes[0]: mode 'RX'"), "{mode}");
}

#[test]
fn bad_defaults_are_refused_naming_the_parameter_and_the_rule() {
    let cases = [
        (
            r#"{"volumes":[{"container_path":"tmp","host_path":"tmp"}]}"#,
            "container_path 'tmp' is not absolute",
        ),
        (
            r#"{"volumes":[{"container_path":"/no/such/dir","host_path":"x"}]}"#,
            "'/no/such/dir' does not exist on the host",
        ),
        (
            r#"{"volumes":[{"container_path":"/tmp"}]}"#,
            "has no host_path",
        ),
        (
            r#"{"volumes":[{"container_path":"/tmp","host_path":"./.private/tmp"}]}"#,
            "may not contain '.' or '..'",
        ),
        (
            r#"{"volumes":[{"container_path":"/tmp","host_path":"../escape"}]}"#,
            "may not contain '.' or '..'",
        ),
        (
            r#"{"volumes":[{"container_path":"/tmp","host_path":"/no/such/host"}]}"#,
            "host_path '/no/such/host' does not exist",
        ),
        (
            r#"{"volumes":[{"container_path":"/usr","host_path":"a"},{"container_path":"/usr/lib","host_path":"b"}]}"#,
            "volumes '/usr' and '/usr/lib' are nested",
        ),
        ("{not json", "not JSON"),
    ];
    for (json, expected) in cases {
        let err = SharedFilesystem::from_params(&params(json))
            .unwrap_err()
            .to_string();
        assert!(err.contains("parameter 'default_container_info'"), "{err}");
        assert!(err.contains(expected), "{json}: {err}");
    }
}

#[test]
fn a_private_tmp_is_created_in_the_sandbox_with_tmps_mode() {
    let work = tempfile::tempdir().unwrap();
    let sandbox = work.path().join("sandbox");
    std::fs::create_dir(&sandbox).unwrap();
    let isolator = SharedFilesystem::from_params(&params(
        r#"{"volumes":[{"container_path":"/var/tmp","host_path":"private/tmp"}]}"#,
    ))
    .unwrap();
    let spec = isolator.spec_for(&[], sandbox.to_str().unwrap()).unwrap();
    assert_eq!(spec.namespaces, CLONE_NEWNS);
    assert_eq!(spec.mounts.len(), 1);
    assert_eq!(spec.mounts[0].target.as_str(), "/var/tmp");
    assert_eq!(
        spec.mounts[0]
            .source
            .as_ref()
            .map(|s| s.as_str())
            .into_option(),
        Some("private/tmp")
    );
    assert_eq!(spec.mounts[0].flags, MS_BIND | MS_REC);
    let created = std::fs::metadata(sandbox.join("private/tmp")).unwrap();
    let expected = std::fs::metadata("/var/tmp").unwrap().permissions().mode() & 0o7777;
    assert_eq!(created.permissions().mode() & 0o7777, expected);
}

#[test]
fn a_sandbox_under_tmp_is_bound_back_after_the_tmp_volume() {
    // Temporary directories live under /tmp here, like an agent whose work
    // dir is under /tmp (which Mesos 0.21 refused).
    let work = tempfile::tempdir_in("/tmp").unwrap();
    let sandbox = work.path().join("runs/c1");
    std::fs::create_dir_all(&sandbox).unwrap();
    let mounts = plan_mounts(&[volume("/tmp", "tmp")], &sandbox).unwrap();
    assert_eq!(
        mounts,
        vec![
            BindMount {
                source: "tmp".to_owned(),
                target: "/tmp".to_owned(),
                flags: MS_BIND | MS_REC
            },
            BindMount {
                source: ".".to_owned(),
                target: sandbox.display().to_string(),
                flags: MS_BIND | MS_REC
            },
        ]
    );
}

#[test]
fn task_volumes_replace_the_defaults_and_are_checked_against_the_sandbox() {
    let work = tempfile::tempdir().unwrap();
    let sandbox = work.path().join("sandbox");
    std::fs::create_dir_all(sandbox.join("inner")).unwrap();
    let isolator = SharedFilesystem::from_params(&params(
        r#"{"volumes":[{"container_path":"/tmp","host_path":"tmp"}]}"#,
    ))
    .unwrap();
    let read_only = Volume {
        read_only: true,
        ..volume("/etc", "/etc")
    };
    let spec = isolator
        .spec_for(std::slice::from_ref(&read_only), sandbox.to_str().unwrap())
        .unwrap();
    assert_eq!(
        spec.mounts.len(),
        1,
        "the task's volumes replace the defaults"
    );
    assert_eq!(spec.mounts[0].target.as_str(), "/etc");
    assert_eq!(spec.mounts[0].flags, MS_BIND | MS_REC | MS_RDONLY);

    let inside = volume(sandbox.join("inner").to_str().unwrap(), "x");
    let err = isolator
        .spec_for(&[inside], sandbox.to_str().unwrap())
        .unwrap_err();
    assert!(err.contains("is inside the sandbox"), "{err}");
}

#[test]
fn no_volumes_means_no_namespace() {
    let isolator = SharedFilesystem::from_params(&Params::default()).unwrap();
    assert_eq!(isolator.spec_for(&[], "/x").unwrap(), LaunchSpec::default());
}
