//! `xray-local ui` as a real process, its pages read by a real headless Chromium over WebDriver
//! (`xray_tests::browser`): the trace list's filters, a hostile document shown as text without running anything, the
//! Host check, and nothing loaded from elsewhere. Screenshots go to `target/ui-screenshots/`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{BIN, Scratch};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use xray_local::store::{NewDocument, Store};
use xray_tests::browser::Browser;

const T0: f64 = 1_700_000_000.0;

fn id(n: u32) -> String {
    format!("1-{:08x}-{n:024x}", T0 as u64)
}

/// The documents: four ordinary traces, a hostile one and 55 more of the service `bulk` for paging.
fn documents() -> Vec<Value> {
    let segment = |n: u32, name: &str, start: f64, duration: f64| {
        json!({"name": name, "id": format!("{n:016x}"), "trace_id": id(n), "start_time": start,
               "end_time": start + duration})
    };
    let mut a = segment(1, "api", T0, 0.1);
    a["http"] = json!({"request": {"method": "GET", "url": "https://shop.test/orders/1"}, "response": {"status": 200}});
    a["annotations"] = json!({"customer": "c-1"});
    a["subsegments"] = json!([{"name": "DynamoDB", "namespace": "aws", "id": "00000000000000a1", "start_time": T0 + 0.01,
                               "end_time": T0 + 0.05}]);
    let mut b = segment(2, "api", T0 + 60.0, 1.5);
    b["http"] = json!({"request": {"method": "POST", "url": "https://shop.test/orders"}, "response": {"status": 500}});
    b["fault"] = json!(true);
    b["annotations"] = json!({"customer": "c-2"});
    let mut c = segment(3, "worker", T0 + 120.0, 0.3);
    c["error"] = json!(true);
    c["annotations"] = json!({"customer": "c-1", "job": 7});
    c["subsegments"] = json!([{"name": "SQS", "namespace": "aws", "id": "00000000000000c1", "start_time": T0 + 120.1,
                               "end_time": T0 + 120.2, "throttle": true, "error": true}]);
    let mut d = segment(4, "api", T0 + 180.0, 0.01);
    d["http"] = json!({"request": {"method": "GET", "url": "https://shop.test/health"}, "response": {"status": 200}});
    let mut e = segment(5, "<script>window.__xss=1</script>", T0 + 240.0, 0.2);
    e["annotations"] = json!({"note": "<img src=x onerror=\"window.__xss=2\">", "linked_trace_id": id(1)});
    e["metadata"] = json!({"default": {"html": "<script>window.__xss=3</script>"}});
    e["http"] = json!({"request": {"method": "GET", "url": "/x\"><img src=x onerror=window.__xss=4>"}});
    e["links"] = json!([{"trace_id": id(2), "id": "0000000000000002"}]);
    e["subsegments"] = json!([{"name": "<svg onload=window.__xss=7>", "namespace": "remote", "id": "00000000000000e1",
        "start_time": T0 + 240.05, "end_time": T0 + 240.1, "fault": true,
        "cause": {"working_directory": "/w", "exceptions": [{"id": "00000000000000e2",
            "message": "<img src=x onerror=window.__xss=5>", "type": "Boom",
            "stack": [{"label": "<script>window.__xss=6</script>", "path": "src/main.rs", "line": 3}]}]}}]);
    let bulk = (0..55).map(|i| segment(100 + i, "bulk", T0 - 10_000.0 + f64::from(i), 0.05));
    [a, b, c, d, e].into_iter().chain(bulk).collect()
}

fn store(dir: &std::path::Path) {
    let mut store = Store::open(dir).expect("store");
    let docs: Vec<NewDocument> = documents()
        .into_iter()
        .map(|d| NewDocument {
            trace_id: d["trace_id"].as_str().expect("trace id").to_owned(),
            id: d["id"].as_str().expect("id").to_owned(),
            in_progress: false,
            body: d.to_string().into(),
        })
        .collect();
    let touched = store.write(&docs, &[]).expect("write");
    store.refresh(&touched).expect("refresh");
}

/// `xray-local ui` on a free port; its URL from the line it prints.
struct Server(Child, String);

impl Server {
    fn start(dir: &std::path::Path) -> Server {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(dir)
            .args(["ui", "--bind", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xray-local ui starts");
        let mut line = String::new();
        BufReader::new(child.stderr.take().expect("stderr")).read_line(&mut line).expect("a line");
        let url = line.split_once("ui on ").and_then(|(_, r)| r.split_whitespace().next()).expect(&line).to_owned();
        assert!(url.starts_with("http://127.0.0.1:") && url.ends_with('/'), "{line}");
        Server(child, url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().expect("target").join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
}

/// The trace ids the list shows, in order.
async fn listed(client: &Client, url: &str) -> Vec<String> {
    client.goto(url).await.expect("goto");
    let mut out = Vec::new();
    for row in client.find_all(Locator::Css("#traces tbody tr")).await.expect("rows") {
        out.push(row.attr("data-trace").await.expect("attr").expect("data-trace"));
    }
    out
}

/// What the page's script state says: the flag a hostile script would set, and the scripts in the document.
async fn ran(client: &Client) -> Value {
    client
        .execute("return [window.__xss === undefined ? null : window.__xss, document.scripts.length]", vec![])
        .await
        .expect("script")
}

/// The origins of everything the page loaded.
async fn loaded(client: &Client) -> Vec<String> {
    let names = client
        .execute("return performance.getEntriesByType('resource').map(e => e.name)", vec![])
        .await
        .expect("script");
    names.as_array().expect("array").iter().filter_map(Value::as_str).map(str::to_owned).collect()
}

/// Waits until a click has loaded the page whose URL holds `part`.
async fn arrived(client: &Client, part: &str) {
    for _ in 0..200 {
        let url = client.current_url().await.expect("url");
        let ready = client.execute("return document.readyState", vec![]).await.expect("state");
        if url.as_str().contains(part) && ready == "complete" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no page with {part} in its URL");
}

fn raw_get(url: &str, host: &str) -> String {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(stream, "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").expect("request");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[tokio::test]
async fn the_pages_filter_escape_and_refuse_other_hosts_in_a_real_browser() {
    let scratch = Scratch::new("ui");
    store(&scratch.0);
    let server = Server::start(&scratch.0);
    let base = server.1.clone();
    let browser = Browser::start(&scratch.0, 1400, 1000).await.expect("chromium and chromedriver");
    let client = &browser.client;
    let ids = |ns: &[u32]| ns.iter().map(|n| id(*n)).collect::<Vec<_>>();

    // Filters narrow the list and combine; newest first.
    let all = listed(client, &base).await;
    assert_eq!(all.len(), 50, "a page of 50");
    assert_eq!(all[..5], ids(&[5, 4, 3, 2, 1]));
    let cases: [(&str, &[u32]); 18] = [
        ("service=api", &[4, 2, 1]),
        ("service=DynamoDB", &[1]),
        ("service=worker", &[3]),
        ("annotation=customer%3Dc-1", &[3, 1]),
        ("annotation=customer%3Dc-1&annotation=job%3D7", &[3]),
        ("annotation=customer%3Dc-1&service=api", &[1]),
        ("method=GET&service=api", &[4, 1]),
        ("method=get&url=%2Forders", &[1]),
        ("status=500", &[2]),
        ("fault=on&service=api", &[2]),
        ("error=on", &[3]),
        ("throttle=on", &[3]),
        ("min=1s", &[2]),
        ("max=50ms&service=api", &[4]),
        ("min=90ms&max=300ms&service=api", &[1]),
        ("from=2023-11-14T22%3A14%3A20&to=2023-11-14T22%3A16%3A20", &[3, 2]),
        ("trace_id=000000000000000000000003", &[3]),
        ("service=api&error=on", &[]),
    ];
    for (query, expected) in cases {
        assert_eq!(listed(client, &format!("{base}?{query}")).await, ids(expected), "{query}");
    }
    // Paged: the 55 traces of `bulk` are 50, then 5 behind the "older" link.
    let first = listed(client, &format!("{base}?service=bulk")).await;
    assert_eq!(first, (0..50).rev().map(|i| id(105 + i)).collect::<Vec<_>>());
    client.find(Locator::Css("#next")).await.expect("older link").click().await.expect("click");
    arrived(client, "after=").await;
    let mut second = Vec::new();
    for row in client.find_all(Locator::Css("#traces tbody tr")).await.expect("rows") {
        second.push(row.attr("data-trace").await.expect("attr").expect("data-trace"));
    }
    assert_eq!(second, (0..5).rev().map(|i| id(100 + i)).collect::<Vec<_>>());
    // The form sends what is typed.
    client.goto(&base).await.expect("goto");
    let field = client.find(Locator::Css("input[name=service]")).await.expect("service field");
    field.send_keys("worker").await.expect("type");
    client.find(Locator::Css("form.filters button")).await.expect("button").click().await.expect("submit");
    arrived(client, "service=worker").await;
    let rows = client.find_all(Locator::Css("#traces tbody tr")).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].attr("data-trace").await.expect("attr"), Some(id(3)));
    client.goto(&format!("{base}?annotation=customer%3Dc-1")).await.expect("goto");
    screenshot(client, "xray-local-list").await;

    // The hostile document: shown as text everywhere, nothing of it runs.
    let hostile = "<script>window.__xss=1</script>";
    client.goto(&format!("{base}?service={}", urlencode(hostile))).await.expect("goto");
    let root = client.find(Locator::Css("#traces tbody tr td:nth-child(3)")).await.expect("root cell");
    assert_eq!(root.text().await.expect("text"), hostile);
    assert_eq!(ran(client).await, json!([null, 1]));
    client.goto(&format!("{base}trace/{}", id(5))).await.expect("goto");
    let rows = client.find_all(Locator::Css("tr.entity")).await.expect("rows");
    assert_eq!(rows.len(), 2);
    for row in &rows {
        row.click().await.expect("open the details");
    }
    let details = client.find_all(Locator::Css("tr.details")).await.expect("details");
    for d in &details {
        assert!(d.is_displayed().await.expect("displayed"), "the page's own script opens the details");
    }
    let text = client.find(Locator::Css("#waterfall")).await.expect("waterfall").text().await.expect("text");
    for shown in [
        hostile,
        "<img src=x onerror=\"window.__xss=2\">",
        "<script>window.__xss=3</script>",
        "<img src=x onerror=window.__xss=4>",
        "<img src=x onerror=window.__xss=5>",
        "<script>window.__xss=6</script>",
        "<svg onload=window.__xss=7>",
    ] {
        assert!(text.contains(shown), "{shown} shown as text in:\n{text}");
    }
    assert_eq!(ran(client).await, json!([null, 1]), "no script of the document ran");
    // Its linked traces are links.
    let linked = client.find(Locator::Css(&format!("a[href='/trace/{}']", id(1)))).await.expect("linked_trace_id");
    assert_eq!(linked.text().await.expect("text"), id(1));
    client.find(Locator::Css(&format!("a[href='/trace/{}']", id(2)))).await.expect("span link");
    screenshot(client, "xray-local-hostile-trace").await;
    client.goto(&format!("{base}map")).await.expect("goto");
    let map = client.find(Locator::Css("#edges")).await.expect("edges").text().await.expect("text");
    assert!(map.contains(hostile) && map.contains("<svg onload=window.__xss=7> (remote)"), "{map}");
    assert_eq!(ran(client).await, json!([null, 1]));
    screenshot(client, "xray-local-map").await;
    client
        .goto(&format!("{base}map/node?service={}", urlencode("<svg onload=window.__xss=7> (remote)")))
        .await
        .expect("goto");
    client.find(Locator::Css("#histogram a.bin")).await.expect("a bar").click().await.expect("click");
    arrived(client, "bin=").await;
    let listed_bin = client.find(Locator::Css("#bin-traces tbody tr td:nth-child(2)")).await.expect("a trace");
    assert_eq!(listed_bin.text().await.expect("text"), id(5));
    assert_eq!(ran(client).await, json!([null, 1]));
    screenshot(client, "xray-local-node").await;

    // Where the time of `api` goes: its entry point is listed, and its split has rows that add up.
    client.goto(&format!("{base}latency")).await.expect("goto");
    let points = client.find(Locator::Css("#entry-points")).await.expect("entry points").text().await.expect("text");
    assert!(points.contains("service api"), "{points}");
    client.goto(&format!("{base}latency?kind=service&name=api")).await.expect("goto");
    let mut shares = 0.0;
    for cell in client.find_all(Locator::Css("#split td.p50")).await.expect("rows") {
        shares += cell.text().await.expect("text").trim_end_matches('%').parse::<f64>().expect("a share");
    }
    assert!((shares - 100.0).abs() < 0.5, "the p50 shares add up to {shares}%");
    screenshot(client, "xray-local-latency").await;

    // Nothing came from anywhere but the server itself.
    for url in loaded(client).await {
        assert!(url.starts_with(&base), "{url} loaded from elsewhere");
    }
    browser.close().await;

    // Another Host (a DNS rebinding page) is refused; the bound address is served.
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let refused = raw_get(&base, &format!("rebind.example:{}", host.rsplit(':').next().expect("port")));
    assert!(refused.starts_with("HTTP/1.1 421"), "{refused}");
    assert!(raw_get(&base, host).starts_with("HTTP/1.1 200"));
    let served = raw_get(&base, host);
    assert!(served.to_ascii_lowercase().contains("content-security-policy: default-src 'none'; script-src 'self'"));
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
