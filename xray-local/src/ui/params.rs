//! The pages' query strings read into the store's questions: a [`Filter`] and a page position for `/`, a [`Range`]
//! for `/map`. A value that does not read is reported on the page and left out, never a failed request.

use crate::store::filter::{Cursor, Filter};
use crate::store::map::Range;
use crate::units::parse_duration;

/// A query string as its `(key, value)` pairs, in order, decoded.
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Reads `raw` (`a=1&b=2`, `+` as space, `%XX` escapes).
    pub fn parse(raw: &str) -> Query {
        Query(form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The first non-empty value of `key`, trimmed.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.trim()).find(|v| !v.is_empty())
    }

    /// Every non-empty value of `key`.
    pub fn all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// Whether the checkbox `key` is on.
    pub fn on(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v != "0" && v != "false")
    }
}

/// `text` as seconds since the epoch: a number of seconds, or a UTC date and time `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`,
/// `YYYY-MM-DD HH:MM:SS(.fff)` (what a `datetime-local` input sends).
pub fn time(text: &str) -> Result<f64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        return Ok(seconds);
    }
    let bad = || format!("`{text}` is not a time like 2026-12-07T14:30 (UTC) or seconds since the epoch");
    let (date, clock) = text.split_once(['T', ' ']).unwrap_or((text, "00:00"));
    let numbers = |s: &str, sep: char| s.split(sep).map(|p| p.parse::<f64>().ok()).collect::<Option<Vec<_>>>();
    let (Some(d), Some(c)) = (numbers(date, '-'), numbers(clock, ':')) else { return Err(bad()) };
    let ([y, m, day], [h, min, rest @ ..]) = (d.as_slice(), c.as_slice()) else { return Err(bad()) };
    let s = rest.first().copied().unwrap_or(0.0);
    let (y, m, day) = (*y as i64, *m as i64, *day as i64);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || *h >= 24.0 || *min >= 60.0 || s >= 61.0 {
        return Err(bad());
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (the inverse of `render::timestamp`'s).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + s)
}

/// The list's filter in `query`, with a message for each value that did not read.
pub fn filter(query: &Query) -> (Filter, Vec<String>) {
    let mut problems = Vec::new();
    let mut read = |key: &str, parse: &dyn Fn(&str) -> Result<f64, String>| {
        query.get(key).and_then(|v| parse(v).map_err(|e| problems.push(format!("{key}: {e}"))).ok())
    };
    let seconds = |v: &str| parse_duration(v).map(|d| d.as_secs_f64());
    let (from, to) = (read("from", &time), read("to", &time));
    let (min_duration, max_duration) = (read("min", &seconds), read("max", &seconds));
    let status = read("status", &|v| v.parse::<u16>().map(f64::from).map_err(|_| format!("`{v}` is no status")));
    let mut annotations = Vec::new();
    for pair in query.all("annotation") {
        match pair.split_once('=') {
            Some((k, v)) => annotations.push((k.trim().to_owned(), v.trim().to_owned())),
            None => problems.push(format!("annotation: `{pair}` is not KEY=VALUE")),
        }
    }
    let text = |key: &str| query.get(key).map(str::to_owned);
    let filter = Filter {
        from,
        to,
        service: text("service"),
        annotations,
        trace_id: text("trace_id"),
        method: text("method"),
        url: text("url"),
        status: status.map(|s| s as i64),
        error: query.on("error"),
        fault: query.on("fault"),
        throttle: query.on("throttle"),
        min_duration,
        max_duration,
    };
    (filter, problems)
}

/// The time range in `query` (`from`, `to`), with a message for each end that did not read.
pub fn range(query: &Query) -> (Range, Vec<String>) {
    let mut problems = Vec::new();
    let mut read =
        |key: &str| query.get(key).and_then(|v| time(v).map_err(|e| problems.push(format!("{key}: {e}"))).ok());
    (Range { from: read("from"), to: read("to") }, problems)
}

/// A page position as it travels in a link: `start~trace_id`.
pub fn cursor(query: &Query) -> Option<Cursor> {
    let (start, trace_id) = query.get("after")?.split_once('~')?;
    Some(Cursor { start: start.parse().ok()?, trace_id: trace_id.to_owned() })
}

/// `cursor` as [`cursor`] reads it.
pub fn cursor_text(cursor: &Cursor) -> String {
    format!("{}~{}", cursor.start, cursor.trace_id)
}

/// `query` with `key` set to `value` (every other value of `key` removed), as a query string.
pub fn with(query: &Query, key: &str, value: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &query.0 {
        if k != key && !v.trim().is_empty() {
            out.append_pair(k, v);
        }
    }
    out.append_pair(key, value);
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates_or_epoch_seconds() {
        assert_eq!(time("1478293361.5"), Ok(1_478_293_361.5));
        assert_eq!(time("2016-11-04T21:02:41.271").map(|t| (t * 1e3).round()), Ok(1_478_293_361_271.0));
        assert_eq!(time("2016-11-04 21:02"), Ok(1_478_293_320.0));
        assert_eq!(time("1970-01-01"), Ok(0.0));
        assert_eq!(time("2024-02-29T00:00"), Ok(1_709_164_800.0));
        assert!(time("2016-13-01").is_err());
        assert!(time("yesterday").is_err());
    }

    #[test]
    fn filters_combine_every_field_and_report_what_does_not_read() {
        let query = Query::parse(
            "service=orders-api&annotation=customer_id%3Dc-42&annotation=n=3&trace_id=abc&method=POST&url=%2Forders\
             &status=201&error=on&min=100ms&max=2s&from=1970-01-01T00:01&to=bad&annotation=nokey&fault=",
        );
        let (f, problems) = filter(&query);
        assert_eq!(f.service.as_deref(), Some("orders-api"));
        assert_eq!(f.annotations, [("customer_id".into(), "c-42".into()), ("n".into(), "3".into())]);
        assert_eq!(
            (f.trace_id.as_deref(), f.method.as_deref(), f.url.as_deref()),
            (Some("abc"), Some("POST"), Some("/orders"))
        );
        assert_eq!((f.status, f.error, f.fault, f.throttle), (Some(201), true, false, false));
        assert_eq!((f.min_duration, f.max_duration, f.from, f.to), (Some(0.1), Some(2.0), Some(60.0), None));
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
