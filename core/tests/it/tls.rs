//! HTTPS (rustls) on master and agent: the agent reaches the master over
//! TLS verifying it against the configured CA, executors reach the agent
//! the same way, and `corral execute` runs a task end to end over HTTPS;
//! a client that does not trust the CA, and plain HTTP, get nothing.

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use crate::common::{Cluster, Options};
use corral::domain::auth::TlsFiles;

/// A CA and a certificate it signed for 127.0.0.1 and localhost, made once
/// per test process (kept until it exits).
struct TestPki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    other_ca: PathBuf,
}

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let make_ca = || {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "corral test CA");
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.self_signed(&key).unwrap();
            (cert, key)
        };
        let (ca, ca_key) = make_ca();
        let (other, _) = make_ca();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = params.signed_by(&key, &ca, &ca_key).unwrap();
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        TestPki {
            ca: write("ca.pem", ca.pem()),
            cert: write("cert.pem", leaf.pem()),
            key: write("key.pem", key.serialize_pem()),
            other_ca: write("other-ca.pem", other.pem()),
            _dir: dir,
        }
    })
}

fn files() -> TlsFiles {
    TlsFiles {
        cert: pki().cert.clone(),
        key: pki().key.clone(),
    }
}

async fn tls_cluster() -> Cluster {
    Cluster::start_with(Options {
        tweak_master: |c| c.tls = Some(files()),
        tweak_agent: |c| {
            c.tls = Some(files());
            c.tls_ca = Some(pki().ca.clone());
        },
        ..Options::default()
    })
    .await
}

fn trusting(ca: &std::path::Path) -> reqwest::Client {
    corral::wire::tls::trusting(reqwest::Client::builder(), ca)
        .unwrap()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_and_agent_speak_https_and_a_task_runs_over_it() {
    let cluster = tls_cluster().await;
    let client = trusting(&pki().ca);
    // The agent registers over HTTPS (verifying the master).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let body = client
            .get(format!("https://{}/master/slaves", cluster.master))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let slaves: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if slaves["slaves"][0]["active"] == serde_json::json!(true) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent did not register over HTTPS: {slaves}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let agent_state = client
        .get(format!("https://{}/state", cluster.agent))
        .send()
        .await
        .unwrap();
    assert_eq!(agent_state.status().as_u16(), 200);

    // Plain HTTP and a client that does not trust the CA get nothing.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("http://{}/master/state", cluster.master))
        .send()
        .await;
    assert!(
        plain.is_err() || !plain.unwrap().status().is_success(),
        "plain HTTP on the TLS port"
    );
    let stranger = trusting(&pki().other_ca)
        .get(format!("https://{}/master/state", cluster.master))
        .send()
        .await;
    assert!(stranger.is_err(), "a client trusting another CA connected");

    // A framework (corral execute), its executor and the sandbox read, all
    // over HTTPS.
    let master = cluster.master.to_string();
    let ca = pki().ca.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(["execute", "--master", &master, "--command", "echo over-tls"])
            .env("CORRAL_TLS_CA", &ca)
            .output()
            .unwrap()
    });
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("corral execute finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("over-tls"),
        "corral execute over HTTPS: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    cluster.stop().await;
}

#[test]
fn a_bad_certificate_or_key_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let e = corral::server::tls::acceptor(&junk, &pki().key)
        .err()
        .expect("junk is not a certificate")
        .to_string();
    assert!(e.contains("junk.pem"), "{e}");
    let e = corral::server::tls::acceptor(&pki().cert, &junk)
        .err()
        .expect("junk is not a key")
        .to_string();
    assert!(e.contains("junk.pem"), "{e}");
    assert!(corral::server::tls::acceptor(&pki().cert, &pki().key).is_ok());
}
