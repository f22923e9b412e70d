//! The service map of the traces of a time range, read from the `calls` table (see [`super::derive`]): a node per
//! service with its latency, an edge per caller -> callee with request count, error, fault and throttle counts and
//! p50 / p90 / p99, and a node's latency histogram with the traces of one bucket.
//!
//! Percentiles are read from the 1%-wide buckets (the middle of the bucket holding the rank), so they are within
//! half a percent of the exact ones, and the map of 100,000 traces is one aggregate over an index.

use std::collections::BTreeMap;

use rusqlite::params_from_iter;
use rusqlite::types::Value as SqlValue;

use super::Store;
use super::derive::{BUCKET_GROWTH, bucket_bounds};
use super::query::{SELECT, summary};
use crate::assemble::Summary;

/// The traces started in `[from, to)`; an open end is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Range {
    /// Seconds since the epoch.
    pub from: Option<f64>,
    /// Seconds since the epoch.
    pub to: Option<f64>,
}

impl Range {
    fn condition(&self) -> (String, Vec<SqlValue>) {
        let mut conditions = vec!["1".to_owned()];
        let mut params = Vec::new();
        if let Some(from) = self.from {
            conditions.push("start >= ?".into());
            params.push(SqlValue::Real(from));
        }
        if let Some(to) = self.to {
            conditions.push("start < ?".into());
            params.push(SqlValue::Real(to));
        }
        (conditions.join(" AND "), params)
    }
}

/// Requests to a node or along an edge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Requests.
    pub count: u64,
    /// Of which with `error`.
    pub errors: u64,
    /// With `fault`.
    pub faults: u64,
    /// With `throttle`.
    pub throttles: u64,
    /// Median duration, seconds.
    pub p50: f64,
    /// 90th percentile, seconds.
    pub p90: f64,
    /// 99th percentile, seconds.
    pub p99: f64,
}

/// A caller -> callee edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// The calling node.
    pub caller: String,
    /// The called node.
    pub callee: String,
    /// Its requests.
    pub stats: Stats,
}

/// The service map.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceMap {
    /// Every node called in the range (entry services included), by name, with the requests it served.
    pub nodes: Vec<(String, Stats)>,
    /// Every edge, by caller then callee.
    pub edges: Vec<Edge>,
}

/// One bucket of a histogram: durations in `[lower, upper)` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    /// The first fine bucket (see [`super::derive::bucket`]) of the bin.
    pub first: i64,
    /// The last fine bucket of the bin.
    pub last: i64,
    /// Lower bound, seconds.
    pub lower: f64,
    /// Upper bound, seconds.
    pub upper: f64,
    /// Requests in the bin.
    pub count: u64,
}

/// Counts per fine bucket, summed into a [`Stats`].
#[derive(Debug, Default)]
struct Accumulator {
    buckets: BTreeMap<i64, u64>,
    errors: u64,
    faults: u64,
    throttles: u64,
}

impl Accumulator {
    fn add(&mut self, bucket: i64, count: u64, errors: u64, faults: u64, throttles: u64) {
        *self.buckets.entry(bucket).or_default() += count;
        self.errors += errors;
        self.faults += faults;
        self.throttles += throttles;
    }

    fn stats(&self) -> Stats {
        let count: u64 = self.buckets.values().sum();
        let percentile = |p: f64| {
            // The nearest rank: the smallest duration with at least p of the requests at or below it.
            let rank = ((p * count as f64).ceil() as u64).max(1);
            let mut seen = 0;
            for (&bucket, &n) in &self.buckets {
                seen += n;
                if seen >= rank {
                    return bucket_bounds(bucket).0 * BUCKET_GROWTH.sqrt();
                }
            }
            0.0
        };
        Stats {
            count,
            errors: self.errors,
            faults: self.faults,
            throttles: self.throttles,
            p50: percentile(0.50),
            p90: percentile(0.90),
            p99: percentile(0.99),
        }
    }
}

fn count(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(row.get::<_, i64>(i)?.max(0) as u64)
}

impl Store {
    /// The service map of the traces started in `range`.
    pub fn service_map(&self, range: Range) -> rusqlite::Result<ServiceMap> {
        let (condition, params) = range.condition();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT caller, callee, bucket, count(*), sum(error), sum(fault), sum(throttle) FROM calls
             WHERE {condition} GROUP BY caller, callee, bucket"
        ))?;
        let mut nodes: BTreeMap<String, Accumulator> = BTreeMap::new();
        let mut edges: BTreeMap<(String, String), Accumulator> = BTreeMap::new();
        let mut rows = stmt.query(params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            let (caller, callee): (Option<String>, String) = (row.get(0)?, row.get(1)?);
            let (bucket, n, e, f, t) = (row.get(2)?, count(row, 3)?, count(row, 4)?, count(row, 5)?, count(row, 6)?);
            nodes.entry(callee.clone()).or_default().add(bucket, n, e, f, t);
            if let Some(caller) = caller {
                edges.entry((caller, callee)).or_default().add(bucket, n, e, f, t);
            }
        }
        Ok(ServiceMap {
            nodes: nodes.into_iter().map(|(name, acc)| (name, acc.stats())).collect(),
            edges: edges
                .into_iter()
                .map(|((caller, callee), acc)| Edge { caller, callee, stats: acc.stats() })
                .collect(),
        })
    }

    /// The latency histogram of the node `service` over `range`, in at most `bins` bins of equal width on a log
    /// scale, from its fastest request to its slowest.
    pub fn histogram(&self, service: &str, range: Range, bins: usize) -> rusqlite::Result<Vec<Bin>> {
        let (condition, params) = range.condition();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT bucket, count(*) FROM calls WHERE callee = ? AND {condition} GROUP BY bucket ORDER BY bucket"
        ))?;
        let params = std::iter::once(SqlValue::Text(service.to_owned())).chain(params);
        let fine = stmt
            .query_map(params_from_iter(params), |row| Ok((row.get::<_, i64>(0)?, count(row, 1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let (Some(&(lowest, _)), Some(&(highest, _))) = (fine.first(), fine.last()) else { return Ok(Vec::new()) };
        let bins = bins.max(1) as i64;
        let width = ((highest - lowest + bins) / bins).max(1);
        let mut out: Vec<Bin> = Vec::new();
        let mut first = lowest;
        while first <= highest {
            let last = first + width - 1;
            let count = fine.iter().filter(|(b, _)| (first..=last).contains(b)).map(|(_, n)| n).sum();
            out.push(Bin { first, last, lower: bucket_bounds(first).0, upper: bucket_bounds(last).1, count });
            first += width;
        }
        Ok(out)
    }

    /// Up to `limit` traces of `range`, newest first, in which `service` served a request whose duration falls in
    /// the fine buckets `first..=last` (a [`Bin`]).
    pub fn bucket_traces(
        &self,
        service: &str,
        (first, last): (i64, i64),
        range: Range,
        limit: usize,
    ) -> rusqlite::Result<Vec<Summary>> {
        let (condition, range_params) = range.condition();
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT} FROM traces WHERE trace_id IN (
                 SELECT trace_id FROM calls WHERE callee = ? AND bucket BETWEEN ? AND ? AND {condition})
             ORDER BY start DESC, trace_id DESC LIMIT ?"
        ))?;
        let params = [SqlValue::Text(service.to_owned()), SqlValue::Integer(first), SqlValue::Integer(last)]
            .into_iter()
            .chain(range_params)
            .chain([SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX))]);
        stmt.query_map(params_from_iter(params), summary)?.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::derive::bucket;

    #[test]
    fn percentiles_from_the_buckets_are_within_half_a_percent_of_the_exact_ones() {
        let durations: Vec<f64> = (1..=1000).map(|i| f64::from(i) * 0.001).collect();
        let mut acc = Accumulator::default();
        for d in &durations {
            acc.add(bucket(*d), 1, 0, 0, 0);
        }
        let stats = acc.stats();
        for (got, exact) in [(stats.p50, 0.5), (stats.p90, 0.9), (stats.p99, 0.99)] {
            assert!((got / exact - 1.0).abs() <= 0.005, "{got} vs {exact}");
        }
        assert_eq!(stats.count, 1000);
    }
}
