//! What the web view's filters and service map read instead of the documents, derived from a trace's tree
//! whenever its summary is refreshed: the root's HTTP request (columns of `traces`), the services a trace went
//! through (`services`) and every call from one service to another (`calls`), with its duration's histogram
//! bucket, so the map of 100,000 traces is one aggregate query.

use rusqlite::{Connection, params};
use serde_json::Value;

use crate::assemble::{Summary, Tree};

/// The schema step that adds the derived columns and tables (migration step 3 of [`super::Store`]); columns
/// already there (a database whose version was reset) are kept.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let columns = conn
        .prepare("SELECT name FROM pragma_table_info('traces')")?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (column, kind) in [("http_method", "TEXT"), ("http_url", "TEXT"), ("http_status", "INTEGER")] {
        if !columns.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE traces ADD COLUMN {column} {kind}"))?;
        }
    }
    conn.execute_batch(TABLES_SCHEMA)
}

const TABLES_SCHEMA: &str = "
    CREATE INDEX IF NOT EXISTS traces_start_id ON traces (start, trace_id);
    CREATE TABLE IF NOT EXISTS services (
        name TEXT NOT NULL, trace_id TEXT NOT NULL, PRIMARY KEY (name, trace_id)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS services_trace ON services (trace_id);
    CREATE TABLE IF NOT EXISTS calls (
        trace_id TEXT NOT NULL, start REAL NOT NULL, caller TEXT, callee TEXT NOT NULL, duration REAL NOT NULL,
        bucket INTEGER NOT NULL, error INTEGER NOT NULL, fault INTEGER NOT NULL, throttle INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS calls_start ON calls (start, caller, callee, bucket, error, fault, throttle);
    -- The whole map's groups in index order, without sorting 100,000 traces' calls.
    CREATE INDEX IF NOT EXISTS calls_edge ON calls (caller, callee, bucket, start, error, fault, throttle);
    CREATE INDEX IF NOT EXISTS calls_callee ON calls (callee, bucket, start);
    CREATE INDEX IF NOT EXISTS calls_trace ON calls (trace_id);";

/// The tables holding rows per trace, which pruning and eviction clear with the trace.
pub(super) const TABLES: [&str; 2] = ["services", "calls"];

/// Clearing [`TABLES`] of one trace, as constant statements (the statement cache is keyed by their text).
const DELETES: [&str; 2] = ["DELETE FROM services WHERE trace_id = ?1", "DELETE FROM calls WHERE trace_id = ?1"];

/// One call from a service to another in a trace: a segment, or a downstream call (`aws` or `remote`
/// subsegment), under an entity of a different service.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The calling service ([`node`] of the nearest enclosing service entity); `None` for a trace's entry.
    pub caller: Option<String>,
    /// The called service.
    pub callee: String,
    /// How long the call took, in seconds.
    pub duration: f64,
    /// The callee entity's `error`.
    pub error: bool,
    /// Its `fault`.
    pub fault: bool,
    /// Its `throttle`.
    pub throttle: bool,
}

/// The service-map node an entity stands for, if it stands for one: a segment is the service of its name, a
/// downstream call the service `name (namespace)` (the parentheses cannot occur in a valid name, so the two never
/// meet).
pub fn node(kind: &str, name: &str, namespace: Option<&str>) -> Option<String> {
    match (kind, namespace) {
        ("segment", _) => Some(name.to_owned()),
        (_, Some(ns @ ("aws" | "remote"))) => Some(format!("{name} ({ns})")),
        _ => None,
    }
}

/// The calls between services in `tree`. An entity of the same service as its parent's (the function segment
/// under Lambda's segment of the same name, a retry under its call) is not a call of its own; an entity still in
/// progress has no duration and is left out.
pub fn calls(tree: &Tree) -> Vec<Call> {
    let index: std::collections::HashMap<&str, usize> =
        tree.nodes.iter().enumerate().map(|(i, n)| (n.entity.id.as_str(), i)).collect();
    // Parents come before their children in display order, so each entity's service is known before its children's.
    let mut service: Vec<Option<String>> = Vec::with_capacity(tree.nodes.len());
    let mut out = Vec::new();
    for n in &tree.nodes {
        let e = &n.entity;
        let parent = e.parent_id.as_deref().and_then(|p| index.get(p)).and_then(|&i| service[i].clone());
        let own = node(e.kind, &e.name, e.namespace.as_deref());
        match (&own, e.duration()) {
            (Some(callee), Some(duration)) if parent.as_ref() != Some(callee) => out.push(Call {
                caller: parent.clone(),
                callee: callee.clone(),
                duration,
                error: e.error,
                fault: e.fault,
                throttle: e.throttle,
            }),
            _ => {}
        }
        service.push(own.or(parent));
    }
    out
}

/// Relative width of a histogram bucket: each is 1% wider than the one before, so a percentile read from the
/// buckets is within half a percent of the exact one.
pub const BUCKET_GROWTH: f64 = 1.01;

/// The histogram bucket of a duration in seconds: `floor(log_1.01(microseconds))`, 0 for a microsecond or less.
pub fn bucket(seconds: f64) -> i64 {
    let micros = (seconds * 1e6).max(1.0);
    (micros.ln() / BUCKET_GROWTH.ln()).floor() as i64
}

/// The durations of bucket `b`, in seconds: from its lower bound to the next bucket's.
pub fn bucket_bounds(b: i64) -> (f64, f64) {
    let lower = |b: i64| BUCKET_GROWTH.powf(b as f64) / 1e6;
    (lower(b), lower(b + 1))
}

/// The HTTP request of a trace: that of its first root with one, else of the first entity with one.
fn http(tree: &Tree) -> (Option<String>, Option<String>, Option<i64>) {
    let has = |h: &&Value| h.get("request").is_some();
    let roots = tree.nodes.iter().filter(|n| n.depth == 0).filter_map(|n| n.entity.http.as_ref()).find(has);
    let any = || tree.nodes.iter().filter_map(|n| n.entity.http.as_ref()).find(has);
    let Some(http) = roots.or_else(any).or_else(|| tree.nodes.iter().find_map(|n| n.entity.http.as_ref())) else {
        return (None, None, None);
    };
    let text = |p: &str| http.pointer(p).and_then(Value::as_str).map(str::to_owned);
    (text("/request/method"), text("/request/url"), http.pointer("/response/status").and_then(Value::as_i64))
}

/// Replaces what is derived of `trace_id` with what `tree` (summarized as `summary`) holds.
pub(super) fn write(conn: &Connection, trace_id: &str, tree: &Tree, summary: &Summary) -> rusqlite::Result<()> {
    let (method, url, status) = http(tree);
    conn.prepare_cached("UPDATE traces SET http_method = ?2, http_url = ?3, http_status = ?4 WHERE trace_id = ?1")?
        .execute(params![trace_id, method, url, status])?;
    for delete in DELETES {
        conn.prepare_cached(delete)?.execute(params![trace_id])?;
    }
    // Each service once: most entities of a trace belong to a few services.
    let mut services: Vec<&str> = tree
        .nodes
        .iter()
        .map(|n| &n.entity)
        .filter(|e| node(e.kind, &e.name, e.namespace.as_deref()).is_some())
        .map(|e| e.name.as_str())
        .collect();
    services.sort_unstable();
    services.dedup();
    let mut put = conn.prepare_cached("INSERT OR IGNORE INTO services (name, trace_id) VALUES (?1, ?2)")?;
    for name in services {
        put.execute(params![name, trace_id])?;
    }
    let mut put = conn.prepare_cached(
        "INSERT INTO calls (trace_id, start, caller, callee, duration, bucket, error, fault, throttle)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for c in calls(tree) {
        let b = bucket(c.duration);
        put.execute(params![trace_id, summary.start, c.caller, c.callee, c.duration, b, c.error, c.fault, c.throttle])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn calls_go_from_the_enclosing_service_to_each_segment_and_downstream_call() {
        let trace = "1-581cf771-a006649127e371903a2de979";
        let seg = |name: &str, id: &str, subsegments: Value| json!({"name": name, "id": id, "start_time": 1.0, "end_time": 1.5, "subsegments": subsegments});
        let mut root = seg(
            "api",
            "000000000000000a",
            json!([{"name": "handler", "id": "000000000000000b", "start_time": 1.0, "end_time": 1.4,
                    "subsegments": [
                        {"name": "DynamoDB", "namespace": "aws", "id": "000000000000000c", "start_time": 1.1,
                         "end_time": 1.2, "throttle": true, "error": true,
                         "subsegments": [{"name": "DynamoDB", "namespace": "aws", "id": "000000000000000f",
                                          "start_time": 1.1, "end_time": 1.15}]},
                        {"name": "SQS", "namespace": "aws", "id": "000000000000000d", "start_time": 1.2,
                         "end_time": 1.3}]}]),
        );
        root["trace_id"] = json!(trace);
        let mut worker = seg("worker", "000000000000000e", json!([]));
        worker["parent_id"] = json!("000000000000000d");
        worker["fault"] = json!(true);
        let tree = Tree::build(trace, [&root, &worker]);
        let got = calls(&tree);
        let got: Vec<_> =
            got.iter().map(|c| (c.caller.as_deref(), c.callee.as_str(), c.error, c.fault, c.throttle)).collect();
        assert_eq!(
            got,
            [
                (None, "api", false, false, false),
                (Some("api"), "DynamoDB (aws)", true, false, true),
                (Some("api"), "SQS (aws)", false, false, false),
                (Some("SQS (aws)"), "worker", false, true, false),
            ]
        );
    }

    #[test]
    fn buckets_are_one_percent_wide_and_hold_their_durations() {
        for d in [1e-6, 0.000_85, 0.0123, 0.2, 1.0, 12.5, 3600.0] {
            let (lo, hi) = bucket_bounds(bucket(d));
            assert!(lo <= d * (1.0 + 1e-9) && d < hi * (1.0 + 1e-9), "{d}: [{lo}, {hi})");
            assert!((hi / lo - BUCKET_GROWTH).abs() < 1e-9);
        }
        assert_eq!(bucket(0.0), 0);
    }
}
