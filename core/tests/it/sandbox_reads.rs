//! Hostile sandboxes (issue 15, "Sandbox reads"): each test performs an
//! attack a task can make on the agent's `/files/*` endpoints and `corral
//! tail` — hard links out of the sandbox, a symlink raced in under a file
//! name, a FIFO — and checks that nothing outside the sandbox is served,
//! that the agent keeps answering, and that files come back byte for byte.

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use crate::common::{get, task, Cluster, Scheduler};
use clap::Parser;
use corral::wire::{codec::Encoding, files::decode_data};
use serde_json::Value;

/// A cluster running `command` as task `id`, once it is TASK_RUNNING.
async fn running(id: &str, command: &str) -> (Cluster, Scheduler) {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    s.launch(&offer, vec![task(id, &offer, command, 0.5, 64.0)])
        .await;
    assert_eq!(s.update_for(id).await["state"], "TASK_RUNNING");
    (cluster, s)
}

/// A file outside any sandbox holding a unique secret: the target of the
/// attacks. It is in /tmp, on the work dir's filesystem, so it can be
/// hard-linked into a sandbox.
fn secret_file(dir: &Path, name: &str) -> (PathBuf, String) {
    let secret = format!("SECRET-{}", uuid::Uuid::new_v4());
    let path = dir.join(name);
    std::fs::write(&path, &secret).unwrap();
    (path, secret)
}

fn files_url(cluster: &Cluster, endpoint: &str, path: &Path) -> String {
    reqwest::Url::parse_with_params(
        &format!("http://{}/files/{endpoint}", cluster.agent),
        &[("path", path.display().to_string())],
    )
    .unwrap()
    .to_string()
}

/// Waits until `path` exists (the task made it).
async fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::symlink_metadata(path).is_err() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_links_to_files_outside_the_sandbox_are_not_served() {
    let outside = tempfile::tempdir().unwrap();
    let (root_owned, root_secret) = secret_file(outside.path(), "root-owned");
    let (foreign, foreign_secret) = secret_file(outside.path(), "foreign");
    if !nix::unistd::geteuid().is_root() {
        println!("SKIP: needs root (to own a file of another user, and to run tasks as root)");
        return;
    }
    {
        // A file of another user, as a task running as some user could
        // link a file of another it cannot read.
        nix::unistd::chown(
            &foreign,
            Some(nix::unistd::Uid::from_raw(65534)),
            Some(nix::unistd::Gid::from_raw(65534)),
        )
        .unwrap();
    }
    // The task makes the links itself, /etc/shadow included where it may.
    let command = format!(
        "ln {} root-owned && ln {} foreign && (ln /etc/shadow shadow || true) && touch linked; sleep 600",
        root_owned.display(),
        foreign.display()
    );
    let (cluster, _s) = running("linker", &command).await;
    let sandbox = cluster.sandbox_of("linker");
    wait_for(&sandbox.join("linked")).await;

    let shadow = std::fs::read_to_string("/etc/shadow").ok();
    let mut attacks = vec![
        ("root-owned", Some(root_secret)),
        ("foreign", Some(foreign_secret)),
    ];
    if sandbox.join("shadow").exists() {
        attacks.push(("shadow", shadow));
    } else {
        println!("SKIP: /etc/shadow cannot be linked into the sandbox here");
    }
    for (name, secret) in attacks {
        let path = sandbox.join(name);
        assert!(
            std::fs::metadata(&path).unwrap().len() > 0,
            "{name} is linked"
        );
        for endpoint in ["read", "download"] {
            let (code, body) = get(files_url(&cluster, endpoint, &path)).await;
            assert_eq!(code, 403, "/files/{endpoint} of {name}: {body}");
            assert!(body.contains("hard link"), "the refusal says why: {body}");
            if let Some(secret) = &secret {
                let first_line = secret.lines().next().unwrap_or(secret);
                assert!(!body.contains(first_line), "{name} leaked: {body}");
            }
        }
    }
    // The sandbox's own files are still served.
    let (code, body) = get(files_url(&cluster, "read", &sandbox.join("stdout"))).await;
    assert_eq!(code, 200, "{body}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_renamed_over_a_file_never_wins_the_race() {
    let outside = tempfile::tempdir().unwrap();
    let (target, secret) = secret_file(outside.path(), "target");
    let (cluster, _s) = running("racer", "sleep 600").await;
    let sandbox = cluster.sandbox_of("racer");
    let name = sandbox.join("output.log");
    std::fs::write(&name, "harmless").unwrap();

    // What the task does: rename a regular file, then a symlink to the
    // target, over one name, as fast as it can.
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let swapper = {
        let (stop, swaps, sandbox, name) =
            (stop.clone(), swaps.clone(), sandbox.clone(), name.clone());
        std::thread::spawn(move || {
            let (file, link) = (sandbox.join(".file"), sandbox.join(".link"));
            while !stop.load(Ordering::Relaxed) {
                std::fs::write(&file, "harmless").unwrap();
                std::fs::rename(&file, &name).unwrap();
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink(&target, &link).unwrap();
                std::fs::rename(&link, &name).unwrap();
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let http = reqwest::Client::new();
    let (mut served, mut refused, mut leaked, mut odd) = (0, 0, 0, Vec::new());
    for i in 0..2000 {
        let endpoint = if i % 4 == 3 { "download" } else { "read" };
        let response = http
            .get(files_url(&cluster, endpoint, &name))
            .send()
            .await
            .unwrap();
        let code = response.status().as_u16();
        let body = response.bytes().await.unwrap();
        let text = String::from_utf8_lossy(&body);
        match code {
            _ if text.contains(&secret) => leaked += 1,
            200 if text.contains("harmless") => served += 1,
            403 if text.contains("symbolic link") => refused += 1,
            code => odd.push(format!("read {i}: {code} {text}")),
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    println!(
        "{served} reads served the file, {refused} refused the symlink, {} swaps",
        swaps.load(Ordering::Relaxed)
    );
    assert_eq!(leaked, 0, "{leaked} of 2000 reads returned the target");
    assert!(odd.is_empty(), "{odd:#?}");
    assert!(swaps.load(Ordering::Relaxed) > 100, "the swapper ran");
    assert!(served > 0 && refused > 0, "both sides of the race were met");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_under_a_file_name_is_refused_at_once_and_the_agent_keeps_answering() {
    let (cluster, _s) = running("piper", "sleep 600").await;
    let sandbox = cluster.sandbox_of("piper");
    // A FIFO swapped in under a file name, with no writer: opening it
    // for reading the ordinary way blocks for ever.
    let fifo = sandbox.join(".fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let name = sandbox.join("app.log");
    std::fs::rename(&fifo, &name).unwrap();

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let health = format!("http://{}/health", cluster.agent);
    for endpoint in ["read", "download"] {
        let started = Instant::now();
        let read = {
            let (http, url) = (http.clone(), files_url(&cluster, endpoint, &name));
            tokio::spawn(async move { http.get(url).send().await })
        };
        // Meanwhile the agent answers.
        let healthy = http.get(&health).send().await.unwrap();
        assert_eq!(healthy.status(), 200);
        let response = read
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("/files/{endpoint} of a FIFO: {e}"));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(response.status(), 400);
        let body = response.text().await.unwrap();
        assert!(body.contains("not a regular file (it is a FIFO)"), "{body}");
    }
    // Browsing lists it without opening it.
    let listing = crate::common::get_json(files_url(&cluster, "browse", &sandbox)).await;
    let entry = listing
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == name.display().to_string())
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(entry["mode"].as_str().unwrap().starts_with('p'), "{entry}");
    let healthy = http.get(&health).send().await.unwrap();
    assert_eq!(healthy.status(), 200);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_swapped_in_under_a_file_name_never_freezes_the_agent() {
    let (cluster, _s) = running("swapper", "sleep 600").await;
    let sandbox = cluster.sandbox_of("swapper");
    let name = sandbox.join("app.log");
    std::fs::write(&name, "harmless").unwrap();
    // What the task does: swap a FIFO and the regular file under one name
    // (an atomic exchange, each state as long as the other), as fast as
    // it can.
    let other = sandbox.join(".other");
    nix::unistd::mkfifo(&other, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, name) = (stop.clone(), name.clone());
        std::thread::spawn(move || {
            use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
            while !stop.load(Ordering::Relaxed) {
                renameat2(
                    AT_FDCWD,
                    &other,
                    AT_FDCWD,
                    &name,
                    RenameFlags::RENAME_EXCHANGE,
                )
                .unwrap();
            }
        })
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let (mut served, mut refused, mut failed) = (0, 0, Vec::new());
    for i in 0..1000 {
        match http.get(files_url(&cluster, "read", &name)).send().await {
            Ok(r) if r.status() == 200 => served += 1,
            Ok(r) if r.status() == 400 => refused += 1,
            Ok(r) => failed.push(format!("read {i}: {}", r.status())),
            Err(e) => {
                failed.push(format!("read {i}: {e}"));
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    println!("{served} reads served the file, {refused} refused the FIFO");
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(served > 0 && refused > 0, "both sides of the race were met");
    let healthy = http
        .get(format!("http://{}/health", cluster.agent))
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), 200);
    cluster.stop().await;
}

/// Runs `corral tail` in-process with `args`: whether it succeeded, and
/// what it printed.
async fn corral_tail(args: &[&str]) -> (bool, Vec<u8>, String) {
    let cli = corral::cli::Cli::parse_from(["corral", "tail"].iter().chain(args));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let ok = corral::cli::run(cli, &mut out, &mut err).await.unwrap();
    (ok, out, String::from_utf8_lossy(&err).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_output_is_read_tailed_and_downloaded_byte_for_byte() {
    // 6,043 bytes that are not UTF-8, a pause, then more, as a task
    // printing binary data would.
    let command = "head -c 3000 /dev/urandom; printf '\\377\\376\\200\\300'; sleep 2; \
                   head -c 3039 /dev/urandom; printf '\\351t\\351\\n'";
    let (cluster, mut s) = running("binary", command).await;
    let master = cluster.master.to_string();
    let follow = {
        let master = master.clone();
        tokio::spawn(async move { corral_tail(&["--master", &master, "--follow", "binary"]).await })
    };
    assert_eq!(s.update_for("binary").await["state"], "TASK_FINISHED");
    let sandbox = cluster.sandbox_of("binary");
    let expected = std::fs::read(sandbox.join("stdout")).unwrap();
    assert!(expected.len() >= 6043, "{}", expected.len());
    assert!(std::str::from_utf8(&expected).is_err(), "not UTF-8");

    let (ok, followed, err) = follow.await.unwrap();
    assert!(ok, "{err}");
    assert_eq!(followed.len(), expected.len(), "tail --follow: {err}");
    assert!(
        followed == expected,
        "tail --follow prints the bytes exactly"
    );
    let (ok, tailed, err) = corral_tail(&["--master", &master, "binary"]).await;
    assert!(ok, "{err}");
    assert!(tailed == expected, "tail: {} bytes", tailed.len());

    let path = sandbox.join("stdout");
    let (code, body) = get(files_url(&cluster, "read", &path)).await;
    assert_eq!(code, 200, "{body}");
    let read: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(read["offset"], 0);
    let data = decode_data(read["data"].as_str().unwrap()).unwrap();
    assert!(data == expected, "/files/read: {} bytes", data.len());
    // Part of it, from an offset.
    let part = reqwest::Url::parse_with_params(
        &format!("http://{}/files/read", cluster.agent),
        &[
            ("path", path.display().to_string()),
            ("offset", "3000".into()),
            ("length", "4".into()),
        ],
    )
    .unwrap();
    let (_, body) = get(part.as_str()).await;
    let read: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(read["offset"], 3000);
    assert_eq!(
        decode_data(read["data"].as_str().unwrap()).unwrap(),
        b"\xff\xfe\x80\xc0"
    );

    let response = reqwest::get(files_url(&cluster, "download", &path))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"stdout\""
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let downloaded = response.bytes().await.unwrap();
    assert!(
        downloaded == expected,
        "/files/download: {} bytes",
        downloaded.len()
    );
    let (code, body) = get(files_url(&cluster, "download", &sandbox)).await;
    assert_eq!(code, 400, "a directory is not downloaded: {body}");
    cluster.stop().await;
}
