//! `xray-local daemon --forward` against moto server's X-Ray API, checked with BatchGetTraces.

mod common;

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use aws_sdk_xray::config::{BehaviorVersion, Credentials, Region};
use common::{Daemon, Scratch, counter, datagram, valid};
use serde_json::json;
use xray_tests::moto::Moto;

fn env(moto: &Moto) -> Vec<(&'static str, String)> {
    common::aws_env(&moto.endpoint)
}

fn client(moto: &Moto) -> aws_sdk_xray::Client {
    let config = aws_sdk_xray::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    aws_sdk_xray::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_documents_arrive_at_the_x_ray_api() {
    let moto = Moto::start().expect("moto server starts");
    moto.reset();
    let scratch = Scratch::new("forward");
    let vars = env(&moto);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = Daemon::start(&scratch.0, &["--forward"], &vars);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("socket");
    // 120 documents in 3 traces: more than two full batches. Trace ids carry the current time, as the API wants.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
    let traces: Vec<String> = (0..3).map(|t| format!("1-{:08x}-{:024x}", now as u64, 0xabc0 + t)).collect();
    let mut expected: Vec<BTreeSet<String>> = vec![BTreeSet::new(); 3];
    for n in 0..120u64 {
        let t = (n % 3) as usize;
        let id = format!("{:016x}", 0x1000 + n);
        let doc = json!({"name": format!("op{n}"), "id": id, "trace_id": traces[t], "start_time": now,
                         "end_time": now + 0.01, "annotations": {"n": n}});
        socket.send_to(&datagram(valid(&doc)), daemon.addr).expect("send");
        expected[t].insert(id);
    }
    // One invalid document, which must not be forwarded.
    socket.send_to(b"{\"format\":\"json\",\"version\":1}\n{\"name\":\"x\"}", daemon.addr).expect("send");
    let s = daemon.wait_counter("forwarded", 120);
    assert_eq!((counter(&s, "forwarded"), counter(&s, "forward_failed"), counter(&s, "invalid")), (120, 0, 1));

    let client = client(&moto);
    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        let out = client.batch_get_traces().set_trace_ids(Some(traces.clone())).send().await.expect("BatchGetTraces");
        let mut got: Vec<BTreeSet<String>> = vec![BTreeSet::new(); 3];
        for trace in out.traces() {
            let t = traces.iter().position(|id| Some(id.as_str()) == trace.id()).expect("a trace we sent");
            for segment in trace.segments() {
                let doc: serde_json::Value = serde_json::from_str(segment.document().unwrap_or("{}")).expect("JSON");
                assert_eq!(doc["trace_id"], traces[t].as_str());
                got[t].insert(segment.id().unwrap_or_default().to_owned());
            }
        }
        if got == expected || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(got, expected);
    let stderr = daemon.stop();
    assert!(stderr.iter().any(|l| l.ends_with("forwarding to the X-Ray API")), "{stderr:?}");
}

#[test]
fn documents_the_api_cannot_take_are_retried_then_counted_as_failed() {
    // Nothing listens on the endpoint: every try fails, and after the last one the documents count as failed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let scratch = Scratch::new("forward-fail");
    let vars = common::aws_env(&endpoint);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = Daemon::start(&scratch.0, &["--forward"], &vars);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("socket");
    let doc = json!({"name": "lost", "id": "00000000000000e1", "trace_id": "1-581cf771-a006649127e371903a2de979",
                     "start_time": 1.0, "end_time": 2.0});
    let started = Instant::now();
    socket.send_to(&datagram(&doc), daemon.addr).expect("send");
    let s = daemon.wait_counter("forward_failed", 1);
    // Backoff 0 + 100 + 200 + 400 + 800 ms between the five tries.
    assert!(started.elapsed() >= Duration::from_millis(1500), "{:?}", started.elapsed());
    assert_eq!((counter(&s, "forwarded"), counter(&s, "stored")), (0, 1), "stored locally all the same");
    let stderr = daemon.stop();
    assert!(
        stderr.iter().any(|l| l.starts_with("xray-local: 1 documents not forwarded after 5 tries: ")),
        "{stderr:?}"
    );
}
