//! The web UI's server side over plain HTTP: its embedded assets and their
//! headers, its paged and filtered reads, and its reads of agents through
//! the master, which reach only registered agents and never leave a
//! sandbox. (What a browser makes of them is `web_ui_browser.rs`.)

use crate::{
    common::{get, get_json, http_client, task},
    operator_endpoints::busy_cluster,
};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_is_embedded_with_content_types_revalidation_and_a_same_origin_policy() {
    let (cluster, _s) = busy_cluster().await;
    let master = format!("http://{}", cluster.master);
    let client = http_client();
    let page = client.get(format!("{master}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no {name} header on {}", r.url()))
    };
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let csp = header(&page, "content-security-policy");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    let etag = header(&page, "etag");
    let body = page.text().await.unwrap();
    assert!(body.contains("/ui/app.js"), "{body}");

    // An unchanged page costs a 304.
    let again = client
        .get(format!("{master}/"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());

    for (file, kind) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let r = client
            .get(format!("{master}/ui/{file}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "/ui/{file}");
        assert_eq!(header(&r, "content-type"), kind, "/ui/{file}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    }
    let (status, body) = get(format!("{master}/ui/../../etc/passwd")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = get(format!("{master}/ui/secret.txt")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no file '/ui/secret.txt'"), "{body}");
    cluster.stop().await;
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {page}"))
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_reads_are_paged_filtered_and_refuse_bad_queries() {
    let (cluster, mut s) = busy_cluster().await;
    let master = format!("http://{}", cluster.master);
    let offer = s.offer().await;
    s.launch(&offer, vec![task("broken", &offer, "exit 3", 0.1, 32.0)])
        .await;
    assert_eq!(s.update_for("broken").await["state"], "TASK_RUNNING");
    assert_eq!(s.update_for("broken").await["state"], "TASK_FAILED");

    let overview = get_json(format!("{master}/ui/api/overview")).await;
    assert_eq!(overview["agents"]["active"], 1, "{overview}");
    assert_eq!(overview["frameworks"]["active"], 1, "{overview}");
    for (state, n) in [
        ("TASK_RUNNING", 1),
        ("TASK_FINISHED", 1),
        ("TASK_FAILED", 1),
    ] {
        assert_eq!(overview["tasks"][state], n, "{state}: {overview}");
    }
    assert_eq!(overview["resources"]["cpus"]["total"], 4.0, "{overview}");
    assert_eq!(overview["resources"]["cpus"]["used"], 0.5, "{overview}");
    assert_eq!(
        ids(&serde_json::json!({"items": overview["recent"]})).len(),
        3
    );

    // Newest change first, paged.
    let all = get_json(format!("{master}/ui/api/tasks")).await;
    assert_eq!(all["total"], 3, "{all}");
    assert_eq!(ids(&all)[0], "broken", "{all}");
    let second = get_json(format!("{master}/ui/api/tasks?limit=1&offset=1")).await;
    assert_eq!((second["total"].as_u64(), ids(&second).len()), (Some(3), 1));
    assert_eq!(ids(&second)[0], ids(&all)[1]);

    let failed = get_json(format!("{master}/ui/api/tasks?state=TASK_FAILED")).await;
    assert_eq!(ids(&failed), ["broken"]);
    assert_eq!(
        failed["items"][0]["reason"],
        "REASON_COMMAND_EXECUTOR_FAILED"
    );
    let live = get_json(format!("{master}/ui/api/tasks?state=live")).await;
    assert_eq!(ids(&live), ["sleeper"]);
    let named = get_json(format!("{master}/ui/api/tasks?q=QUI")).await;
    assert_eq!(ids(&named), ["quick"], "the filter ignores case");
    let by_name = get_json(format!("{master}/ui/api/tasks?sort=name&order=asc")).await;
    assert_eq!(ids(&by_name), ["broken", "quick", "sleeper"]);
    let elsewhere = get_json(format!("{master}/ui/api/tasks?agent_id=nowhere")).await;
    assert_eq!(elsewhere["total"], 0);

    // A task's page has its whole history, with source and reason.
    let broken = get_json(format!("{master}/ui/api/tasks/{}/broken", s.framework_id)).await;
    let history: Vec<(&str, &str)> = broken["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["state"].as_str().unwrap(), s["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        history,
        [
            ("TASK_RUNNING", "SOURCE_EXECUTOR"),
            ("TASK_FAILED", "SOURCE_EXECUTOR")
        ],
        "{broken}"
    );
    assert_eq!(
        broken["statuses"][1]["message"],
        "Command exited with status 3"
    );
    assert_eq!(broken["command"], "exit 3");

    let frameworks = get_json(format!("{master}/ui/api/frameworks")).await;
    assert_eq!(ids(&frameworks), [s.framework_id.clone()]);
    assert_eq!(frameworks["items"][0]["tasks_running"], 1, "{frameworks}");
    let none = get_json(format!("{master}/ui/api/frameworks?q=no-such-framework")).await;
    assert_eq!(none["total"], 0);
    let agents = get_json(format!("{master}/ui/api/agents")).await;
    assert_eq!(agents["total"], 1, "{agents}");
    assert_eq!(agents["items"][0]["tasks"], 1, "{agents}");
    let roles = get_json(format!("{master}/ui/api/roles")).await;
    assert_eq!(roles["items"][0]["used"]["cpus"], 0.5, "{roles}");

    for (query, names) in [
        ("/ui/api/tasks?state=TASK_SLEEPY", "'state'"),
        ("/ui/api/tasks?sort=size", "'sort'"),
        ("/ui/api/frameworks?order=sideways", "'order'"),
        ("/ui/api/agents?limit=many", "bad query"),
    ] {
        let (status, body) = get(format!("{master}{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(names), "{query}: {body}");
    }
    let (status, body) = get(format!("{master}/ui/api/tasks/{}/ghost", s.framework_id)).await;
    assert_eq!(status, 404, "{body}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reads_go_through_the_master_and_never_leave_a_sandbox() {
    let (cluster, _s) = busy_cluster().await;
    let master = format!("http://{}", cluster.master);
    let agents = get_json(format!("{master}/ui/api/agents")).await;
    let agent_id = agents["items"][0]["id"].as_str().unwrap().to_owned();
    let proxied = |rest: &str| format!("{master}/ui/api/agents/{agent_id}/{rest}");

    // The agent's state, as the agent itself answers it.
    let state = get_json(proxied("state")).await;
    assert_eq!(state["id"], agent_id.as_str(), "{state}");
    let stats = get_json(proxied("statistics")).await;
    assert!(
        stats
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["executor_id"] == "sleeper"),
        "{stats}"
    );

    // A sandbox file, read through the master.
    let sandbox = cluster.sandbox_of("quick");
    let stdout = format!("{}/stdout", sandbox.display());
    let read = get_json(format!(
        "{}?path={}&offset=0",
        proxied("files/read"),
        urlencode(&stdout)
    ))
    .await;
    assert_eq!(read["data"], "done\n", "{read}");
    let listing = get_json(format!(
        "{}?path={}",
        proxied("files/browse"),
        urlencode(&sandbox.display().to_string())
    ))
    .await;
    assert!(
        listing
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == stdout.as_str()),
        "{listing}"
    );
    let download = http_client()
        .get(format!(
            "{}?path={}",
            proxied("files/download"),
            urlencode(&stdout)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert!(download
        .headers()
        .get("content-disposition")
        .is_some_and(|v| v.to_str().unwrap().contains("attachment")));
    assert_eq!(download.text().await.unwrap(), "done\n");

    // Escapes: refused by the master (`..`), or by the agent, whose
    // refusal comes back unchanged (a path outside every sandbox).
    let climbing = format!("{}/../../../../../../../../etc/passwd", sandbox.display());
    let (status, body) = get(format!(
        "{}?path={}&offset=0",
        proxied("files/read"),
        urlencode(&climbing)
    ))
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("climbs out"), "{body}");
    for outside in ["/etc/passwd", "/proc/self/environ"] {
        let (status, body) = get(format!(
            "{}?path={}&offset=0",
            proxied("files/read"),
            urlencode(outside)
        ))
        .await;
        assert!(status == 403 || status == 404, "{outside}: {status} {body}");
        assert!(!body.contains("root:"), "{outside} leaked: {body}");
    }
    // Only the sandbox and state endpoints, only of registered agents.
    let (status, body) = get(format!("{}?path=/", proxied("files/debug"))).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = get(format!("{master}/ui/api/agents/{agent_id}/flags")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = get(format!("{master}/ui/api/agents/not-an-agent/state")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("not registered"), "{body}");
    cluster.stop().await;
}

/// `s` as a query value.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
