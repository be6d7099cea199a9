//! `tracing` events inside a module reach the host's subscriber, attributed
//! to the module.
//!
//! A test binary of its own, not a module of `it`: it installs a `tracing`
//! subscriber, and tracing's level filter (which the host hands modules as
//! their maximum level) and callsite interest cache are process-wide.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use corral::{domain::TaskView, module_host::load_manifest};
use corral_tests::{library_entry, module_library, ManifestDir};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_modules_tracing_event_shows_up_in_the_host_log_with_its_name() {
    let dir = ManifestDir::new();
    let manifest = dir.write(
        "modules.toml",
        &library_entry(
            &module_library("corral_fixture_misbehaving"),
            &["org_fixture_logger"],
        ),
    );
    let (registry, errors) = load_manifest(&manifest);
    assert!(errors.is_empty(), "{errors:#?}");

    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let hook = registry.create_hook("org_fixture_logger", "test").unwrap();
        let task = TaskView {
            task_id: "task-42".into(),
            ..TaskView::default()
        };
        hook.master_launch_task_label_decorator(&task).unwrap();
    });

    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("fixture saw a task launch"))
        .unwrap_or_else(|| panic!("the module's event is missing from the host log:\n{log}"));
    assert!(line.contains("INFO"), "{line}");
    assert!(
        line.contains("name=org_fixture_logger"),
        "not attributed to the module: {line}"
    );
    assert!(line.contains("task_id=task-42"), "fields lost: {line}");
}
