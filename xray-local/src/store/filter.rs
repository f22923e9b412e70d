//! The trace list's filters and its pages: [`Filter`] says which traces, [`Store::search`] returns one page of
//! them, newest first. Every condition is a column of `traces` or a lookup in an indexed table (`annotations`,
//! `services`), so a page of 100,000 stored traces is read without opening a document.

use rusqlite::params_from_iter;
use rusqlite::types::Value as SqlValue;

use super::Store;
use super::query::{SELECT, annotated, summary};
use crate::assemble::Summary;

/// Which traces to list; every condition set must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Started at or after this time, seconds since the epoch.
    pub from: Option<f64>,
    /// Started before this time.
    pub to: Option<f64>,
    /// Went through this service: a segment's name (a Lambda function's, an API's) or a downstream call's
    /// (`DynamoDB`, a host).
    pub service: Option<String>,
    /// An entity annotated with each `key=value` (as [`Store::traces`] compares them).
    pub annotations: Vec<(String, String)>,
    /// The trace id holds this text (the whole id, or a part of it).
    pub trace_id: Option<String>,
    /// The root's HTTP method, exactly (case-insensitive).
    pub method: Option<String>,
    /// The root's HTTP URL holds this text.
    pub url: Option<String>,
    /// The root's HTTP response status.
    pub status: Option<i64>,
    /// Some entity has `error`.
    pub error: bool,
    /// Some entity has `fault`.
    pub fault: bool,
    /// Some entity has `throttle`.
    pub throttle: bool,
    /// Took at least this long, in seconds.
    pub min_duration: Option<f64>,
    /// Took at most this long, in seconds.
    pub max_duration: Option<f64>,
}

/// Where a page starts: below the trace that ended the page before (start time, then trace id, descending).
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// The start of the last trace shown.
    pub start: f64,
    /// Its id.
    pub trace_id: String,
}

/// A listed trace: its summary and the root's HTTP request.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// The trace list's entry.
    pub summary: Summary,
    /// The root's HTTP method.
    pub method: Option<String>,
    /// The root's HTTP URL.
    pub url: Option<String>,
    /// The root's HTTP response status.
    pub status: Option<i64>,
}

/// One page of the trace list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The traces, newest first.
    pub traces: Vec<Listed>,
    /// Where the next page starts, if there are more.
    pub next: Option<Cursor>,
}

impl Filter {
    /// The SQL condition on `traces` and its parameters.
    fn condition(&self) -> (String, Vec<SqlValue>) {
        let (annotations, mut params) = annotated(&self.annotations);
        let mut conditions = vec![annotations];
        let mut add = |condition: &str, value: Option<SqlValue>| {
            conditions.push(condition.to_owned());
            params.extend(value);
        };
        let text = |s: &String| SqlValue::Text(s.clone());
        if let Some(from) = self.from {
            add("start >= ?", Some(SqlValue::Real(from)));
        }
        if let Some(to) = self.to {
            add("start < ?", Some(SqlValue::Real(to)));
        }
        if let Some(service) = &self.service {
            add("trace_id IN (SELECT trace_id FROM services WHERE name = ?)", Some(text(service)));
        }
        if let Some(id) = &self.trace_id {
            add("instr(trace_id, ?) > 0", Some(text(id)));
        }
        if let Some(method) = &self.method {
            add("upper(http_method) = upper(?)", Some(text(method)));
        }
        if let Some(url) = &self.url {
            add("instr(http_url, ?) > 0", Some(text(url)));
        }
        if let Some(status) = self.status {
            add("http_status = ?", Some(SqlValue::Integer(status)));
        }
        for (on, column) in [(self.error, "error"), (self.fault, "fault"), (self.throttle, "throttle")] {
            if on {
                add(&format!("{column} = 1"), None);
            }
        }
        if let Some(min) = self.min_duration {
            add("duration >= ?", Some(SqlValue::Real(min)));
        }
        if let Some(max) = self.max_duration {
            add("duration <= ?", Some(SqlValue::Real(max)));
        }
        (conditions.join(" AND "), params)
    }
}

impl Store {
    /// Up to `size` traces that `filter` selects, newest first, starting below `after` (the previous page's
    /// [`Page::next`]).
    pub fn search(&self, filter: &Filter, after: Option<&Cursor>, size: usize) -> rusqlite::Result<Page> {
        let size = size.max(1);
        let (mut condition, mut params) = filter.condition();
        if let Some(after) = after {
            condition.push_str(" AND (start, trace_id) < (?, ?)");
            params.extend([SqlValue::Real(after.start), SqlValue::Text(after.trace_id.clone())]);
        }
        params.push(SqlValue::Integer(i64::try_from(size).unwrap_or(i64::MAX - 1) + 1));
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT}, http_method, http_url, http_status FROM traces WHERE {condition}
             ORDER BY start DESC, trace_id DESC LIMIT ?"
        ))?;
        let mut traces = stmt
            .query_map(params_from_iter(params), |row| {
                Ok(Listed { summary: summary(row)?, method: row.get(10)?, url: row.get(11)?, status: row.get(12)? })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let next = (traces.len() > size).then(|| {
            traces.truncate(size);
            let last = &traces[size - 1].summary;
            Cursor { start: last.start, trace_id: last.trace_id.clone() }
        });
        Ok(Page { traces, next })
    }
}
