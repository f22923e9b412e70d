//! What `xray-local pull` keeps in the store: which time windows of which X-Ray API it has pulled (so a pull
//! resumes where the last one stopped), and which traces came from there (kept past `--retention`, see
//! [`Store::prune`]). The documents themselves are stored like received ones, through [`Store::write`].

use std::collections::HashSet;

use rusqlite::params;

use super::{NewDocument, Store};

/// The tables, created when the store opens.
pub(super) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS pull_windows (
        source TEXT NOT NULL, start REAL NOT NULL, end REAL NOT NULL, pulled_at REAL NOT NULL,
        traces INTEGER NOT NULL, PRIMARY KEY (source, start)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS pulled_traces (trace_id TEXT PRIMARY KEY) WITHOUT ROWID;";

/// A time window of a source that a pull went through to the end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PulledWindow {
    /// Its start, seconds since the epoch.
    pub start: f64,
    /// Its end.
    pub end: f64,
    /// When the pull finished it.
    pub pulled_at: f64,
}

impl Store {
    /// The windows of `source` pulled to the end so far, oldest first.
    pub fn pulled_windows(&self, source: &str) -> rusqlite::Result<Vec<PulledWindow>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT start, end, pulled_at FROM pull_windows WHERE source = ?1 ORDER BY start")?;
        stmt.query_map(params![source], |r| {
            Ok(PulledWindow { start: r.get(0)?, end: r.get(1)?, pulled_at: r.get(2)? })
        })?
        .collect()
    }

    /// Records that the window of `source` starting at `window.start` was pulled to the end, with `traces` ids.
    pub fn record_window(&mut self, source: &str, window: PulledWindow, traces: usize) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO pull_windows (source, start, end, pulled_at, traces) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (source, start) DO UPDATE SET end = excluded.end, pulled_at = excluded.pulled_at,
                     traces = excluded.traces",
            )?
            .execute(params![source, window.start, window.end, window.pulled_at, traces as i64])?;
        Ok(())
    }

    /// Which of `trace_ids` the store holds already.
    pub fn stored_traces<'a>(&self, trace_ids: impl IntoIterator<Item = &'a str>) -> rusqlite::Result<HashSet<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT 1 FROM traces WHERE trace_id = ?1")?;
        let mut found = HashSet::new();
        for id in trace_ids {
            if stmt.exists(params![id])? {
                found.insert(id.to_owned());
            }
        }
        Ok(found)
    }

    /// Stores pulled documents as received ones (summaries and the annotation index refreshed) and marks their
    /// traces as pulled, in one transaction per step.
    pub fn write_pulled(&mut self, documents: &[NewDocument]) -> rusqlite::Result<()> {
        let touched = self.write(documents, &[])?;
        self.refresh(&touched)?;
        let tx = self.conn.transaction()?;
        {
            let mut mark = tx.prepare_cached("INSERT OR IGNORE INTO pulled_traces (trace_id) VALUES (?1)")?;
            for id in &touched {
                mark.execute(params![id])?;
            }
        }
        tx.commit()
    }
}
