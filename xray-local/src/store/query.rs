//! The read queries over the store: the trace list and its filters, one trace's tree, refused datagrams and what
//! the database holds. Every reader (`traces`, `show`, `invalid`, `status`, and any later view) calls these, so
//! a question is answered by one query in one place.

use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, params, params_from_iter};
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;

use super::{Store, documents, lock, now_secs};
use crate::assemble::{Summary, Tree};

/// A datagram refused by the checks, kept aside with the reason.
#[derive(Debug, Clone, Serialize)]
pub struct Invalid {
    /// When it arrived, seconds since the epoch.
    pub received: f64,
    /// Why it was refused, one sentence per problem.
    pub reason: String,
    /// The start of the datagram as received (lossily decoded for display).
    pub datagram: String,
    /// Its length as received, in bytes.
    pub size: usize,
    /// How many of its first bytes are kept.
    pub kept: usize,
}

/// A row of the counters table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counter {
    /// The counter's name.
    pub name: String,
    /// Its value when last written by a daemon.
    pub value: u64,
}

/// What the database holds, for `xray-local status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The database file.
    pub path: PathBuf,
    /// Stored documents.
    pub documents: u64,
    /// Stored traces.
    pub traces: u64,
    /// Invalid datagrams kept aside.
    pub invalid: u64,
    /// The counters of the last daemon run, as last written.
    pub counters: Vec<Counter>,
    /// When the counters were written, seconds since the epoch.
    pub counters_updated: Option<f64>,
    /// Bytes of the database in use (pages holding data; freed pages are reused before the file grows).
    pub bytes: u64,
    /// The process id of the daemon running on this data dir (0 if it did not say), if one is.
    pub daemon: Option<u32>,
    /// Why the counters are not current although a daemon is running: it has not recorded them for
    /// [`STALE_AFTER`], so its writes are failing or stalled. `None` when they are current, or when no daemon runs
    /// (they are then those of the last run).
    pub stale: Option<String>,
}

/// How long a running daemon may go without recording its counters (it does so at least every 200 ms while it
/// can write) before `status` calls them stale.
pub const STALE_AFTER: f64 = 3.0;

impl Store {
    /// The documents of a trace, parsed.
    pub fn documents(&self, trace_id: &str) -> rusqlite::Result<Vec<Value>> {
        documents(&self.conn, trace_id)
    }

    /// The assembled tree of a trace, or `None` if no document of it is stored.
    pub fn tree(&self, trace_id: &str) -> rusqlite::Result<Option<Tree>> {
        let docs = self.documents(trace_id)?;
        Ok((!docs.is_empty()).then(|| Tree::build(trace_id, &docs)))
    }

    /// The stored trace id that `text` names: the id itself, or a part of exactly one stored id (so the last few
    /// characters are enough). `Err` lists the candidates when the part is ambiguous.
    pub fn resolve(&self, text: &str) -> rusqlite::Result<Result<Option<String>, Vec<String>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT trace_id FROM traces WHERE instr(trace_id, ?1) > 0 ORDER BY trace_id = ?1 DESC, start DESC LIMIT 6",
        )?;
        let ids =
            stmt.query_map(params![text], |row| row.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(match ids.as_slice() {
            [] => Ok(None),
            [first, ..] if first == text => Ok(Some(first.clone())),
            [only] => Ok(Some(only.clone())),
            _ => Err(ids),
        })
    }

    /// Up to `limit` traces, most recently started first, with an entity annotated with each `key=value` of
    /// `filter` (see [`Store::updated_since`] for how values compare).
    pub fn traces(&self, filter: &[(String, String)], limit: usize) -> rusqlite::Result<Vec<Summary>> {
        let (having, mut params) = annotated(filter);
        params.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let mut stmt =
            self.conn.prepare_cached(&format!("{SELECT} FROM traces WHERE {having} ORDER BY start DESC LIMIT ?"))?;
        stmt.query_map(params_from_iter(params), summary)?.collect()
    }

    /// Traces updated after `since` (seconds since the epoch), oldest update first, with the time of the last update,
    /// that have an entity annotated with each `key=value` of `filter`. Whichever entity of a trace carries a value,
    /// it is found. A string annotation matches the text exactly, a number matches the text read as a number (`3`
    /// and `3.0` both find 3), a boolean matches `true` or `false`.
    pub fn updated_since(&self, since: f64, filter: &[(String, String)]) -> rusqlite::Result<Vec<(f64, Summary)>> {
        let (having, filter_params) = annotated(filter);
        let params = std::iter::once(SqlValue::Real(since)).chain(filter_params);
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT}, updated FROM traces WHERE updated > ? AND {having} ORDER BY updated"
        ))?;
        stmt.query_map(params_from_iter(params), |row| Ok((row.get::<_, f64>(10)?, summary(row)?)))?.collect()
    }

    /// The most recent invalid datagrams, newest first.
    pub fn invalid(&self, limit: usize) -> rusqlite::Result<Vec<Invalid>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT received, reason, datagram, size FROM invalid ORDER BY seq DESC LIMIT ?1")?;
        let rows = stmt.query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            let bytes: Vec<u8> = row.get(2)?;
            // Rows from before the size was recorded were kept whole.
            let size = usize::try_from(row.get::<_, i64>(3)?).unwrap_or(0).max(bytes.len());
            Ok(Invalid {
                received: row.get(0)?,
                reason: row.get(1)?,
                datagram: String::from_utf8_lossy(&bytes).into(),
                size,
                kept: bytes.len(),
            })
        })?;
        rows.collect()
    }

    /// Counts and counters.
    pub fn status(&self) -> rusqlite::Result<Status> {
        let count = |table: &str| -> rusqlite::Result<u64> {
            self.conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0)).map(|n| n as u64)
        };
        let mut stmt = self.conn.prepare("SELECT name, value FROM counters ORDER BY rowid")?;
        let counters = stmt
            .query_map([], |r| Ok(Counter { name: r.get(0)?, value: r.get::<_, i64>(1)?.max(0) as u64 }))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let counters_updated = self
            .conn
            .query_row("SELECT max(updated) FROM counters", [], |r| r.get::<_, Option<f64>>(0))
            .optional()?
            .flatten();
        let daemon = self.path.parent().and_then(lock::running);
        let stale = daemon.and_then(|pid| {
            let age = now_secs() - counters_updated.unwrap_or(0.0);
            (age > STALE_AFTER).then(|| match counters_updated {
                Some(at) => format!(
                    "the daemon (pid {pid}) has not recorded its counters for {age:.1} s (since {at:.3}): its writes \
                     to the database are failing or stalled (a full or read-only disk, a locked database); its stderr \
                     says which"
                ),
                None => format!(
                    "the daemon (pid {pid}) has not recorded any counters: its writes to the database are failing"
                ),
            })
        });
        Ok(Status {
            path: self.path.clone(),
            documents: count("documents")?,
            traces: count("traces")?,
            invalid: count("invalid")?,
            counters,
            counters_updated,
            bytes: self.used_bytes()?,
            daemon,
            stale,
        })
    }
}

pub(super) const SELECT: &str =
    "SELECT trace_id, root, start, duration, error, fault, throttle, in_progress, entities, annotations";

pub(super) fn summary(row: &rusqlite::Row<'_>) -> rusqlite::Result<Summary> {
    let annotations: String = row.get(9)?;
    Ok(Summary {
        trace_id: row.get(0)?,
        root: row.get(1)?,
        start: row.get(2)?,
        duration: row.get(3)?,
        error: row.get(4)?,
        fault: row.get(5)?,
        throttle: row.get(6)?,
        in_progress: row.get(7)?,
        entities: row.get::<_, i64>(8)?.max(0) as usize,
        annotations: serde_json::from_str(&annotations).unwrap_or_default(),
    })
}

/// The SQL condition that a trace has, for every `key=value` of `filter`, an entity with that annotation, and its
/// parameters. Each value is looked up as text and, if it reads as one, as a number.
pub(super) fn annotated(filter: &[(String, String)]) -> (String, Vec<SqlValue>) {
    let mut conditions = vec!["1"];
    let mut params = Vec::with_capacity(filter.len() * 3);
    for (key, want) in filter {
        conditions.push("trace_id IN (SELECT trace_id FROM annotations WHERE key = ? AND value IN (?, ?))");
        params.push(SqlValue::Text(key.clone()));
        params.push(SqlValue::Text(want.clone()));
        params.push(want.parse::<f64>().map_or(SqlValue::Null, SqlValue::Real));
    }
    (conditions.join(" AND "), params)
}
