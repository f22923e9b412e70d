//! The SQLite database under the data dir: documents, trace summaries, invalid datagrams and counters.
//!
//! The documents table is the source of truth; the traces table is a summary of it and the annotations table an
//! index of every entity's annotations, both refreshed whenever a trace gains a document, so listing and filtering
//! need no assembly. The database runs in WAL mode, so `traces` and `show` read while the daemon writes.
//!
//! Here: opening, migrating and writing (the daemon's side). [`query`]: every read the subcommands make.
//! [`latency`]: the split of an entry point's latency along the critical path, which `latency` and the web view
//! share. [`pulls`]: what `xray-local pull` has pulled. [`lock`]: the data dir's lock, which the daemon holds and
//! `status` looks at.

pub mod derive;
pub mod filter;
pub mod latency;
pub mod lock;
pub mod map;
pub mod pulls;
pub mod query;

use std::path::{Path, PathBuf};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, TransactionBehavior, params};
use serde_json::Value;

use crate::assemble::Tree;
pub use crate::clock::now_secs;

/// The database file's name inside the data dir.
pub const FILE_NAME: &str = "xray-local.db";

/// A valid document on its way into the database.
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// Its trace.
    pub trace_id: String,
    /// Its entity id.
    pub id: String,
    /// Whether it is an in-progress document.
    pub in_progress: bool,
    /// The JSON text as received.
    pub body: Box<str>,
}

/// A refused datagram on its way into the database.
#[derive(Debug, Clone)]
pub struct NewInvalid {
    /// When it arrived, seconds since the epoch.
    pub received: f64,
    /// Why it was refused.
    pub reason: String,
    /// Its first bytes, as many as are kept.
    pub datagram: Vec<u8>,
    /// Its length as received.
    pub size: usize,
}

/// The number of [`Store::migrate`] steps.
const SCHEMA_VERSION: i64 = 3;

/// An open database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating the dir and the file if needed) the database in `dir`.
    pub fn open(dir: &Path) -> std::io::Result<Store> {
        std::fs::create_dir_all(dir)?;
        Self::open_file(dir.join(FILE_NAME)).map_err(std::io::Error::other)
    }

    /// Opens the database in `dir` for reading only (the web view's connections): it must exist, and nothing
    /// done through it can change it.
    pub fn open_read_only(dir: &Path) -> rusqlite::Result<Store> {
        let path = dir.join(FILE_NAME);
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Store { conn, path })
    }

    fn open_file(path: PathBuf) -> rusqlite::Result<Store> {
        let conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS documents (
                 trace_id TEXT NOT NULL, id TEXT NOT NULL, in_progress INTEGER NOT NULL,
                 received REAL NOT NULL, body TEXT NOT NULL, PRIMARY KEY (trace_id, id)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS traces (
                 trace_id TEXT PRIMARY KEY, root TEXT NOT NULL, start REAL NOT NULL, duration REAL NOT NULL,
                 error INTEGER NOT NULL, fault INTEGER NOT NULL, throttle INTEGER NOT NULL,
                 in_progress INTEGER NOT NULL, entities INTEGER NOT NULL, annotations TEXT NOT NULL,
                 updated REAL NOT NULL);
             CREATE INDEX IF NOT EXISTS traces_start ON traces (start);
             CREATE INDEX IF NOT EXISTS traces_updated ON traces (updated);
             CREATE TABLE IF NOT EXISTS invalid (
                 seq INTEGER PRIMARY KEY, received REAL NOT NULL, reason TEXT NOT NULL, datagram BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL, updated REAL NOT NULL);",
        )?;
        conn.execute_batch(pulls::SCHEMA)?;
        let mut store = Store { conn, path };
        store.migrate()?;
        Ok(store)
    }

    /// Brings a database written by an older xray-local up to date. `PRAGMA user_version` counts the steps
    /// applied; each step is checked again inside a write transaction, so two processes opening the same old
    /// database apply it once.
    fn migrate(&mut self) -> rusqlite::Result<()> {
        let version = |conn: &Connection| conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0));
        if version(&self.conn)? >= SCHEMA_VERSION {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let applied = version(&tx)?;
        if applied < 1 {
            // Every entity's annotations, for filtering; the value column has no type, so strings stay text and
            // numbers stay numbers when compared.
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS annotations (
                     key TEXT NOT NULL, value NOT NULL, trace_id TEXT NOT NULL,
                     PRIMARY KEY (key, value, trace_id)) WITHOUT ROWID;
                 CREATE INDEX IF NOT EXISTS annotations_trace ON annotations (trace_id);",
            )?;
            each_stored_tree(&tx, |trace_id, tree| index_annotations(&tx, trace_id, tree))?;
        }
        if applied < 2 {
            // Only the start of a refused datagram is kept; this is how long it was.
            tx.execute_batch("ALTER TABLE invalid ADD COLUMN size INTEGER NOT NULL DEFAULT 0")?;
        }
        if applied < 3 {
            // What the web view filters and maps by (`derive`), for the traces already stored.
            derive::migrate(&tx)?;
            each_stored_tree(&tx, |trace_id, tree| derive::write(&tx, trace_id, tree, &tree.summary()))?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes documents and invalid datagrams in one transaction. A complete document replaces an in-progress one
    /// of the same entity, never the reverse. Returns the touched trace ids, whose summaries [`Store::refresh`]
    /// brings up to date.
    pub fn write(&mut self, documents: &[NewDocument], invalid: &[NewInvalid]) -> rusqlite::Result<Vec<String>> {
        let now = now_secs();
        let tx = self.conn.transaction()?;
        let mut touched: Vec<String> = Vec::new();
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO documents (trace_id, id, in_progress, received, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (trace_id, id) DO UPDATE SET
                     in_progress = excluded.in_progress, received = excluded.received, body = excluded.body
                 WHERE documents.in_progress = 1 OR excluded.in_progress = 0",
            )?;
            for d in documents {
                insert.execute(params![d.trace_id, d.id, d.in_progress, now, &*d.body])?;
                touched.push(d.trace_id.clone());
            }
            let mut keep =
                tx.prepare_cached("INSERT INTO invalid (received, reason, datagram, size) VALUES (?1, ?2, ?3, ?4)")?;
            for i in invalid {
                keep.execute(params![i.received, i.reason, i.datagram, i64::try_from(i.size).unwrap_or(i64::MAX)])?;
            }
        }
        touched.sort_unstable();
        touched.dedup();
        tx.commit()?;
        Ok(touched)
    }

    /// Recomputes the list entries of `traces` from their documents, in one transaction.
    pub fn refresh<'a>(&mut self, traces: impl IntoIterator<Item = &'a String>) -> rusqlite::Result<()> {
        let now = now_secs();
        let tx = self.conn.transaction()?;
        for trace_id in traces {
            refresh(&tx, trace_id, now)?;
        }
        tx.commit()
    }

    /// Records the daemon's counters.
    pub fn write_counters(&mut self, counters: &[(&str, u64)]) -> rusqlite::Result<()> {
        let now = now_secs();
        let tx = self.conn.transaction()?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO counters (name, value, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated = excluded.updated",
            )?;
            for (name, value) in counters {
                put.execute(params![name, i64::try_from(*value).unwrap_or(i64::MAX), now])?;
            }
        }
        tx.commit()
    }

    /// Deletes all but the newest `keep` invalid datagrams; returns how many were deleted.
    pub fn trim_invalid(&mut self, keep: usize) -> rusqlite::Result<usize> {
        // The row `keep` places below the newest, and all before it, go; with fewer rows there is no such row.
        self.conn
            .prepare_cached(
                "DELETE FROM invalid WHERE seq <= (SELECT seq FROM invalid ORDER BY seq DESC LIMIT 1 OFFSET ?1)",
            )?
            .execute(params![i64::try_from(keep).unwrap_or(i64::MAX)])
    }

    /// Deletes traces (and their documents) not updated since `before`, and invalid datagrams received before it.
    /// Traces brought in by `xray-local pull` are kept: keeping them past the X-Ray API's 30 days is what pulling
    /// them is for (only [`Store::evict`] deletes them). Returns the number of traces deleted.
    pub fn prune(&mut self, before: f64) -> rusqlite::Result<usize> {
        const OLD: &str = "SELECT trace_id FROM traces WHERE updated < ?1
                           AND trace_id NOT IN (SELECT trace_id FROM pulled_traces)";
        let tx = self.conn.transaction()?;
        for table in ["documents", "annotations"].into_iter().chain(derive::TABLES) {
            tx.execute(&format!("DELETE FROM {table} WHERE trace_id IN ({OLD})"), params![before])?;
        }
        let traces = tx.execute(&format!("DELETE FROM traces WHERE trace_id IN ({OLD})"), params![before])?;
        tx.execute("DELETE FROM invalid WHERE received < ?1", params![before])?;
        tx.commit()?;
        Ok(traces)
    }

    /// Bytes of the database in use: its pages less the free ones, which SQLite reuses before growing the file.
    pub fn used_bytes(&self) -> rusqlite::Result<u64> {
        let pragma = |name: &str| self.conn.pragma_query_value(None, name, |r| r.get::<_, i64>(0));
        let pages = pragma("page_count")? - pragma("freelist_count")?;
        Ok((pages.max(0) as u64).saturating_mul(pragma("page_size")?.max(0) as u64))
    }

    /// Deletes traces, least recently updated first, until the database uses at most nine tenths of `max_bytes`
    /// (so it is not at the limit again with the next document); returns how many were deleted.
    pub fn evict(&mut self, max_bytes: u64) -> rusqlite::Result<usize> {
        let target = max_bytes / 10 * 9;
        let mut evicted = 0;
        while self.used_bytes()? > target {
            let traces: i64 = self.conn.query_row("SELECT count(*) FROM traces", [], |r| r.get(0))?;
            if traces == 0 {
                break;
            }
            // A hundredth at a time: few rounds, and little more deleted than needed.
            let tx = self.conn.transaction()?;
            let ids = tx
                .prepare_cached("SELECT trace_id FROM traces ORDER BY updated, trace_id LIMIT ?1")?
                .query_map(params![(traces / 100).max(1)], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for table in
                ["documents", "annotations"].into_iter().chain(derive::TABLES).chain(["traces", "pulled_traces"])
            {
                let mut delete = tx.prepare_cached(&format!("DELETE FROM {table} WHERE trace_id = ?1"))?;
                for id in &ids {
                    delete.execute(params![id])?;
                }
            }
            tx.commit()?;
            evicted += ids.len();
        }
        Ok(evicted)
    }
}

/// An annotation value as the index holds it: strings as text, numbers as numbers, booleans as the text `true` or
/// `false` (so `true` finds a boolean and the string alike).
fn indexed(value: &Value) -> Option<SqlValue> {
    match value {
        Value::String(s) => Some(SqlValue::Text(s.clone())),
        Value::Number(n) => n.as_f64().map(SqlValue::Real),
        Value::Bool(b) => Some(SqlValue::Text(b.to_string())),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Replaces the indexed annotations of `trace_id` with those of every entity of `tree`.
fn index_annotations(conn: &Connection, trace_id: &str, tree: &Tree) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM annotations WHERE trace_id = ?1")?.execute(params![trace_id])?;
    let mut put =
        conn.prepare_cached("INSERT OR IGNORE INTO annotations (key, value, trace_id) VALUES (?1, ?2, ?3)")?;
    for node in &tree.nodes {
        for (key, value) in &node.entity.annotations {
            if let Some(value) = indexed(value) {
                put.execute(params![key, value, trace_id])?;
            }
        }
    }
    Ok(())
}

/// Calls `f` with the tree of each stored trace (a migration step deriving something new from every trace).
fn each_stored_tree(conn: &Connection, mut f: impl FnMut(&str, &Tree) -> rusqlite::Result<()>) -> rusqlite::Result<()> {
    let ids = conn
        .prepare("SELECT trace_id FROM traces")?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for trace_id in ids {
        f(&trace_id, &Tree::build(&trace_id, &documents(conn, &trace_id)?))?;
    }
    Ok(())
}

fn documents(conn: &Connection, trace_id: &str) -> rusqlite::Result<Vec<Value>> {
    let mut stmt = conn.prepare_cached("SELECT body FROM documents WHERE trace_id = ?1")?;
    let rows = stmt.query_map(params![trace_id], |row| row.get::<_, String>(0))?;
    let mut out = Vec::new();
    for body in rows {
        // Only valid JSON is ever stored; a row that does not parse is skipped rather than failing the trace.
        if let Ok(doc) = serde_json::from_str(&body?) {
            out.push(doc);
        }
    }
    Ok(out)
}

/// Recomputes the summary row of `trace_id` from its documents.
fn refresh(conn: &Connection, trace_id: &str, now: f64) -> rusqlite::Result<()> {
    let docs = documents(conn, trace_id)?;
    let tree = Tree::build(trace_id, &docs);
    index_annotations(conn, trace_id, &tree)?;
    let s = tree.summary();
    conn.prepare_cached(
        "INSERT INTO traces (trace_id, root, start, duration, error, fault, throttle, in_progress, entities, annotations,
                             updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (trace_id) DO UPDATE SET root = excluded.root, start = excluded.start,
             duration = excluded.duration, error = excluded.error, fault = excluded.fault,
             throttle = excluded.throttle, in_progress = excluded.in_progress, entities = excluded.entities,
             annotations = excluded.annotations, updated = excluded.updated",
    )?
    .execute(params![
        s.trace_id,
        s.root,
        s.start,
        s.duration,
        s.error,
        s.fault,
        s.throttle,
        s.in_progress,
        s.entities as i64,
        Value::Object(s.annotations.clone()).to_string(),
        now
    ])?;
    derive::write(conn, trace_id, &tree, &s)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_part_of_an_id_names_a_trace_when_it_is_unique() {
        let dir = std::env::temp_dir().join(format!("xray-local-resolve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = Store::open(&dir).expect("db");
        let ids = ["1-581cf771-a006649127e371903a2de9a1", "1-581cf771-a006649127e371903a2de9b2"];
        let docs: Vec<NewDocument> = ids
            .iter()
            .map(|t| NewDocument {
                trace_id: t.to_string(),
                id: "70de5b6f19ff9a0a".into(),
                in_progress: false,
                body: json!({"name": "n", "id": "70de5b6f19ff9a0a", "trace_id": t, "start_time": 1.0, "end_time": 2.0})
                    .to_string()
                    .into(),
            })
            .collect();
        let touched = store.write(&docs, &[]).expect("write");
        store.refresh(&touched).expect("refresh");
        assert_eq!(store.resolve(ids[0]).expect("query"), Ok(Some(ids[0].to_string())));
        assert_eq!(store.resolve("9b2").expect("query"), Ok(Some(ids[1].to_string())));
        assert_eq!(store.resolve("zzz").expect("query"), Ok(None));
        let mut both = store.resolve("2de9").expect("query").expect_err("ambiguous");
        both.sort();
        assert_eq!(both, ids.map(String::from).to_vec());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A fresh database under the temp dir, removed when dropped.
    struct Scratch(PathBuf, Store);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("xray-local-store-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let store = Store::open(&dir).expect("db");
            Scratch(dir, store)
        }

        /// Stores `docs` and brings the trace list up to date, as the daemon does.
        fn put(&mut self, docs: &[Value]) {
            let docs: Vec<NewDocument> = docs
                .iter()
                .map(|d| NewDocument {
                    trace_id: d["trace_id"].as_str().unwrap_or_default().to_owned(),
                    id: d["id"].as_str().unwrap_or_default().to_owned(),
                    in_progress: d["in_progress"] == true,
                    body: d.to_string().into(),
                })
                .collect();
            let touched = self.1.write(&docs, &[]).expect("write");
            self.1.refresh(&touched).expect("refresh");
        }

        /// The trace ids, sorted, that `traces` and `updated_since` find for `filter`; both must agree.
        fn find(&self, filter: &[(&str, &str)]) -> Vec<String> {
            let filter: Vec<(String, String)> = filter.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let mut listed: Vec<String> =
                self.1.traces(&filter, 100).expect("traces").into_iter().map(|s| s.trace_id).collect();
            let mut updated: Vec<String> =
                self.1.updated_since(0.0, &filter).expect("updated").into_iter().map(|(_, s)| s.trace_id).collect();
            listed.sort();
            updated.sort();
            assert_eq!(listed, updated, "traces and updated_since disagree on {filter:?}");
            listed
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn segment(trace: &str, id: &str, annotations: Value) -> Value {
        json!({"name": "n", "id": id, "trace_id": trace, "start_time": 1.0, "end_time": 2.0,
               "annotations": annotations})
    }

    #[test]
    fn annotation_filters_compare_strings_numbers_and_booleans_as_typed() {
        let mut db = Scratch::new("typed");
        let trace = "1-581cf771-a006649127e371903a2de979";
        db.put(&[segment(trace, "000000000000000a", json!({"user": "ann", "n": 3, "ok": true, "s": "3"}))]);
        let one = vec![trace.to_owned()];
        assert_eq!(db.find(&[("user", "ann"), ("n", "3"), ("ok", "true")]), one);
        assert_eq!(db.find(&[("n", "3.0")]), one);
        assert_eq!(db.find(&[("s", "3")]), one);
        assert!(db.find(&[("s", "3.0")]).is_empty(), "a string is compared as text");
        assert!(db.find(&[("user", "bob")]).is_empty());
        assert!(db.find(&[("ok", "1")]).is_empty());
        assert!(db.find(&[("n", "x")]).is_empty());
        assert!(db.find(&[("missing", "x")]).is_empty());
        assert!(db.find(&[("user", "ann"), ("n", "4")]).is_empty(), "every pair must match");
    }

    #[test]
    fn an_annotation_filter_finds_a_value_of_any_entity_of_the_trace() {
        // Guards issue 10 point 10: the list kept one value per key (the last entity's), so a root with dup=a and
        // subsegments with dup=b and dup=c was not found by dup=b.
        let mut db = Scratch::new("any-entity");
        let trace = "1-581cf771-a006649127e371903a2de979";
        let other = "1-581cf771-a006649127e371903a2de97a";
        let mut root = segment(trace, "000000000000000a", json!({"dup": "a"}));
        root["subsegments"] = json!([
            {"name": "b", "id": "000000000000000b", "start_time": 1.1, "end_time": 1.2, "annotations": {"dup": "b"}},
            {"name": "c", "id": "000000000000000c", "start_time": 1.3, "end_time": 1.4, "annotations": {"dup": "c"}},
        ]);
        let mut independent = segment(trace, "000000000000000d", json!({"dup": "d", "n": 7}));
        independent["type"] = json!("subsegment");
        independent["parent_id"] = json!("000000000000000a");
        db.put(&[root, independent, segment(other, "000000000000000e", json!({"dup": "b"}))]);
        for value in ["a", "c", "d"] {
            assert_eq!(db.find(&[("dup", value)]), [trace], "dup={value}");
        }
        assert_eq!(db.find(&[("dup", "b")]), [trace, other]);
        assert_eq!(db.find(&[("dup", "a"), ("dup", "d"), ("n", "7")]), [trace]);
        assert!(db.find(&[("dup", "e")]).is_empty());
    }

    #[test]
    fn eviction_keeps_the_database_under_its_size_deleting_the_oldest_traces_first() {
        // Guards issue 18 point 19: stored documents were bounded only by --retention, so a flood filled the disk.
        let mut db = Scratch::new("evict");
        let padding = "x".repeat(4_000);
        let ids: Vec<String> = (0..600).map(|i| format!("1-581cf771-a006649127e3719{i:09x}")).collect();
        for id in &ids {
            let mut doc = segment(id, "000000000000000a", json!({}));
            doc["metadata"] = json!({"default": {"pad": padding}});
            db.put(&[doc]);
        }
        let before = db.1.used_bytes().expect("size");
        assert!(before > 2 << 20, "600 traces of 4 KB: {before}");
        let evicted = db.1.evict(1 << 20).expect("evict");
        let after = db.1.used_bytes().expect("size");
        assert!(after <= 1 << 20, "{after} bytes after evicting {evicted}");
        let mut kept: Vec<String> = db.1.traces(&[], 10_000).expect("traces").into_iter().map(|s| s.trace_id).collect();
        kept.sort();
        assert_eq!(kept.len() + evicted, 600);
        assert!(kept.len() > 60, "only what was needed went: {} kept", kept.len());
        assert_eq!(kept, ids[evicted..].to_vec(), "the oldest went first");
        assert!(db.1.documents(&ids[0]).expect("documents").is_empty());
    }

    #[test]
    fn pulled_traces_outlive_the_retention_and_pull_windows_are_remembered() {
        let mut db = Scratch::new("pulled");
        let (local, pulled) = ("1-581cf771-a006649127e371903a2de979", "1-581cf771-a006649127e371903a2de97a");
        db.put(&[segment(local, "000000000000000a", json!({}))]);
        let doc = segment(pulled, "000000000000000b", json!({"from": "aws"}));
        let new = NewDocument {
            trace_id: pulled.into(),
            id: "000000000000000b".into(),
            in_progress: false,
            body: doc.to_string().into(),
        };
        db.1.write_pulled(&[new]).expect("pulled");
        let stored = db.1.stored_traces([local, pulled, "1-581cf771-a006649127e371903a2de97b"]).expect("stored");
        assert_eq!(stored.len(), 2);
        assert_eq!(db.1.prune(now_secs() + 10.0).expect("prune"), 1, "only the local trace goes");
        assert_eq!(db.find(&[("from", "aws")]), [pulled]);
        assert!(db.1.tree(local).expect("tree").is_none());

        let window = pulls::PulledWindow { start: 21_600.0, end: 43_200.0, pulled_at: 50_000.0 };
        db.1.record_window("aws us-east-1", window, 3).expect("recorded");
        db.1.record_window("aws us-east-1", pulls::PulledWindow { pulled_at: 60_000.0, ..window }, 4).expect("again");
        assert_eq!(
            db.1.pulled_windows("aws us-east-1").expect("windows"),
            [pulls::PulledWindow { pulled_at: 60_000.0, ..window }]
        );
        assert!(db.1.pulled_windows("http://127.0.0.1:1 us-east-1").expect("windows").is_empty(), "per source");
        assert_eq!(db.1.evict(1).expect("evict"), 1, "eviction takes pulled traces too");
    }

    #[test]
    fn a_database_from_an_older_xray_local_is_brought_up_to_date_when_opened() {
        let mut db = Scratch::new("migrate");
        let trace = "1-581cf771-a006649127e371903a2de979";
        let mut root = segment(trace, "000000000000000a", json!({"dup": "a"}));
        root["subsegments"] = json!([
            {"name": "b", "id": "000000000000000b", "start_time": 1.1, "end_time": 1.2, "annotations": {"dup": "b"}},
        ]);
        db.put(&[root]);
        db.1.conn
            .execute_batch(
                "DROP TABLE annotations; ALTER TABLE invalid DROP COLUMN size; PRAGMA user_version = 0;
                 INSERT INTO invalid (received, reason, datagram) VALUES (1.0, 'no header line', x'616263');",
            )
            .expect("make it old");
        db.1 = Store::open(&db.0).expect("reopen");
        assert_eq!(db.find(&[("dup", "b")]), [trace]);
        let old = db.1.invalid(10).expect("invalid");
        assert_eq!((old.len(), old[0].datagram.as_str(), old[0].size), (1, "abc", 3));
        assert_eq!(db.1.conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)), Ok(SCHEMA_VERSION));
    }
}
