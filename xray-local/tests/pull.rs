//! `xray-local pull` against moto server's X-Ray API: traces put with `PutTraceSegments` come back and every view
//! shows them, a second pull adds nothing, a pull stopped after some windows resumes with the next one, throttling
//! is waited out.
//!
//! moto answers `GetTraceSummaries` with `"Users": {}` where the API has a list, which the Rust SDK refuses to
//! read; the proxy in front of moto writes `[]` instead. What moto cannot show and is left untested here: paging
//! (`NextToken`; moto answers one page, for both calls), `TimeRangeType` (moto ignores it and lists traces that lie
//! wholly inside the window by their segments' times, so the traces here sit well inside theirs), ids that the
//! API leaves unprocessed because the trace is not ready yet (moto leaves out only unknown ids), real throttling
//! (the proxy injects it) and X-Ray refusing windows older than 30 days.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_xray::config::{BehaviorVersion, Credentials, Region};
use common::{Scratch, run};
use serde_json::{Value, json};
use xray_tests::moto::Moto;
use xray_tests::proxy::{Failure, Proxy};

const WINDOW: f64 = 6.0 * 3600.0;

fn client(endpoint: &str) -> aws_sdk_xray::Client {
    let config = aws_sdk_xray::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    aws_sdk_xray::Client::from_conf(config)
}

/// A trace of a segment and an independent subsegment, starting at `start`.
fn trace(n: u64, start: f64) -> (String, Vec<Value>) {
    let trace_id = format!("1-{:08x}-{:024x}", start as u64, 0x9_0000 + n);
    let segment = json!({"name": format!("service-{n}"), "id": format!("{:016x}", 0xa0 + n), "trace_id": trace_id,
        "start_time": start, "end_time": start + 0.5, "annotations": {"pulled": n}});
    let call = json!({"type": "subsegment", "name": "DynamoDB", "namespace": "aws", "id": format!("{:016x}", 0xb0 + n),
        "trace_id": trace_id, "parent_id": format!("{:016x}", 0xa0 + n), "start_time": start + 0.1,
        "end_time": start + 0.3});
    (trace_id, vec![segment, call])
}

/// Runs `xray-local pull --json extra...` against `endpoint` and returns its report.
async fn pull(dir: &std::path::Path, endpoint: &str, extra: &[&str]) -> Value {
    let (dir, endpoint) = (dir.to_owned(), endpoint.to_owned());
    let args: Vec<String> = ["pull", "--json"].iter().chain(extra).map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(common::BIN)
            .arg("--data-dir")
            .arg(&dir)
            .args(&args)
            .envs([
                ("AWS_ENDPOINT_URL", endpoint.as_str()),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_CONFIG_FILE", "/nonexistent"),
                ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
            ])
            .output()
            .expect("xray-local runs")
    })
    .await
    .expect("joined");
    assert!(out.status.success(), "pull failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

fn listed(dir: &std::path::Path) -> Vec<String> {
    let out = run(dir, &["traces", "--json", "--limit", "100"]);
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["trace_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// The `StartTime` of every `GetTraceSummaries` request the proxy saw from index `from` on.
fn summary_starts(proxy: &Proxy, from: usize) -> Vec<f64> {
    let bodies = proxy.bodies();
    let parsed = bodies[from..].iter().filter_map(|b| serde_json::from_str::<Value>(b).ok());
    parsed.filter(|b| b.get("TraceIds").is_none()).filter_map(|b| b["StartTime"].as_f64()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulled_traces_come_back_once_and_an_interrupted_pull_resumes() {
    let moto = Moto::start().expect("moto server starts");
    moto.reset();
    let proxy = Proxy::start(&moto.endpoint).await.expect("proxy starts");
    proxy.rewrite_responses(r#""Users": {}"#, r#""Users": []"#);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs_f64();
    // Ten minutes into the window of 29 days ago, 10 days ago and 7 hours ago (which ended an hour ago at least).
    let inside = |ago: f64| ((now - ago) / WINDOW).floor() * WINDOW + 600.0;
    let traces = [trace(1, inside(29.0 * 86_400.0)), trace(2, inside(10.0 * 86_400.0)), trace(3, inside(7.0 * 3600.0))];
    let xray = client(&moto.endpoint);
    let documents: Vec<String> = traces.iter().flat_map(|(_, docs)| docs.iter().map(Value::to_string)).collect();
    let put = xray.put_trace_segments().set_trace_segment_documents(Some(documents)).send().await.expect("put");
    assert!(put.unprocessed_trace_segments().is_empty(), "{put:?}");
    let ids: Vec<String> = traces.iter().map(|(id, _)| id.clone()).collect();

    let scratch = Scratch::new("pull");
    let dir = &scratch.0;
    // Stopped after 60 windows (15 days from 30 days back): only the oldest trace is in them.
    let first = pull(dir, &proxy.endpoint, &["--max-windows", "60"]).await;
    assert_eq!((first["windows"].as_u64(), first["new_traces"].as_u64()), (Some(60), Some(1)), "{first:#}");
    assert_eq!(first["documents"], 2);
    assert!(first["left"].as_u64().is_some_and(|left| left >= 60), "{first:#}");
    assert!(first["source"].as_str().is_some_and(|s| s == format!("{} us-east-1", proxy.endpoint)), "{first:#}");
    assert_eq!(listed(dir), ids[..1]);
    let last_of_first = summary_starts(&proxy, 0).into_iter().fold(f64::MIN, f64::max);

    // Resumed, through two throttled answers: the windows after the first 60, none of those again.
    let seen = proxy.bodies().len();
    proxy.fail_next([
        Failure::json(429, "ThrottledException", "Rate exceeded"),
        Failure::json(429, "ThrottledException", "Rate exceeded"),
    ]);
    let second = pull(dir, &proxy.endpoint, &[]).await;
    assert_eq!((second["skipped"].as_u64(), second["new_traces"].as_u64()), (Some(60), Some(2)), "{second:#}");
    assert_eq!((second["throttled"].as_u64(), second["left"].as_u64()), (Some(2), Some(0)), "{second:#}");
    let resumed = summary_starts(&proxy, seen);
    assert!(resumed.iter().all(|&start| start > last_of_first), "{resumed:?} after {last_of_first}");
    assert_eq!(listed(dir), ids);

    // Once more: nothing new, and only the open (current) windows are listed again.
    let third = pull(dir, &proxy.endpoint, &[]).await;
    assert_eq!((third["new_traces"].as_u64(), third["documents"].as_u64()), (Some(0), Some(0)), "{third:#}");
    assert!(third["windows"].as_u64().is_some_and(|w| w <= 2), "{third:#}");
    assert_eq!(listed(dir), ids);

    // Stored as received: the documents as put, the waterfall and the annotation filter.
    let store = xray_local::store::Store::open(dir).expect("store");
    for (id, docs) in &traces {
        let mut stored = store.documents(id).expect("documents");
        let mut put = docs.clone();
        let key = |d: &Value| d["id"].as_str().unwrap_or_default().to_owned();
        stored.sort_by_key(key);
        put.sort_by_key(key);
        assert_eq!(stored, put);
    }
    let show = String::from_utf8_lossy(&run(dir, &["show", &ids[1], "--color", "never"]).stdout).into_owned();
    assert!(show.contains("service-2") && show.contains("└─ DynamoDB (aws)"), "{show}");
    let found = String::from_utf8_lossy(&run(dir, &["traces", "--annotation", "pulled=3"]).stdout).into_owned();
    assert!(found.contains(&ids[2]) && found.lines().count() == 1, "{found}");
}

#[test]
fn a_pull_without_a_region_or_further_back_than_30_days_says_why() {
    let scratch = Scratch::new("pull-refused");
    let out = std::process::Command::new(common::BIN)
        .arg("--data-dir")
        .arg(&scratch.0)
        .args(["pull", "--since", "31d"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("further back than the 30 days X-Ray keeps"));
    let out = std::process::Command::new(common::BIN)
        .arg("--data-dir")
        .arg(&scratch.0)
        .arg("pull")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no AWS region configured"), "{out:?}");
}
