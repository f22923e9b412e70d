//! `xray-local pull`: imports traces from the X-Ray API into the store, so every view shows them and they stay
//! past X-Ray's 30 days.
//!
//! The time back to `--since` (at most 30 days, what X-Ray keeps) is cut into [`WINDOW`]s aligned to the epoch,
//! oldest first (the traces X-Ray deletes soonest come first). For each window, `GetTraceSummaries` (by trace id
//! time, every page) lists the traces; those the store does not hold yet are fetched with `BatchGetTraces`,
//! [`BATCH`] ids per call, and their documents stored as received ones. A window gone through to the end is
//! recorded in the store ([`crate::store::pulls`]); the next pull skips it once it is final (pulled at least
//! [`SETTLE`] after its end, when X-Ray has all its traces) and goes on from the first window not done, so an
//! interrupted pull (Ctrl-C, an error, `--max-windows`) resumes where it stopped. Throttling (`ThrottledException`,
//! 429) and server errors are retried with exponential backoff, [`ATTEMPTS`] tries per call. Endpoint, region and
//! credentials come from the normal AWS configuration (`AWS_ENDPOINT_URL`, `AWS_REGION`, profiles, ...); progress
//! is kept per endpoint and region.

use std::collections::HashSet;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_xray::config::http::HttpResponse;
use aws_sdk_xray::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_xray::primitives::DateTime;
use aws_sdk_xray::types::TimeRangeType;
use serde::Serialize;
use serde_json::Value;

use super::output::out;
use crate::render;
use crate::store::pulls::PulledWindow;
use crate::store::{NewDocument, Store, now_secs};
use crate::units::parse_duration;

/// The span of one `GetTraceSummaries` call, seconds.
pub const WINDOW: f64 = 6.0 * 3600.0;
/// How long X-Ray keeps traces, seconds: the furthest back a pull goes.
pub const RETENTION: f64 = 30.0 * 86_400.0;
/// How long after its end a window's traces are taken as all there: a window pulled earlier is pulled again.
pub const SETTLE: f64 = 15.0 * 60.0;
/// The most trace ids one `BatchGetTraces` call takes.
pub const BATCH: usize = 5;
/// Tries per call when throttled or failing with a server error.
pub const ATTEMPTS: u32 = 8;

/// The options of `xray-local pull`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How far back to pull (e.g. 12h, 7d; at most 30d, what X-Ray keeps).
    #[arg(long, default_value = "30d", value_parser = parse_duration)]
    pub since: Duration,
    /// Stop after this many windows of 6 hours; the next pull goes on from there.
    #[arg(long)]
    pub max_windows: Option<usize>,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One window to pull.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Its start, seconds since the epoch (a multiple of [`WINDOW`]).
    pub start: f64,
    /// Its end: a window later, or now for the current one.
    pub end: f64,
}

/// The windows from `now - since` to `now` that are still to be pulled, oldest first, and how many are skipped as
/// pulled already and final.
pub fn plan(now: f64, since: f64, done: &[PulledWindow]) -> (Vec<Window>, usize) {
    let first = ((now - since.min(RETENTION)) / WINDOW).floor() * WINDOW;
    let is_final = |start: f64| done.iter().any(|d| d.start == start && d.pulled_at >= start + WINDOW + SETTLE);
    let (mut todo, mut skipped) = (Vec::new(), 0);
    let mut start = first;
    while start < now {
        if is_final(start) {
            skipped += 1;
        } else {
            todo.push(Window { start, end: (start + WINDOW).min(now) });
        }
        start += WINDOW;
    }
    (todo, skipped)
}

/// What a pull did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    /// Where from: the endpoint (or `aws`) and the region.
    pub source: String,
    /// Windows gone through.
    pub windows: usize,
    /// Windows skipped, pulled to the end before.
    pub skipped: usize,
    /// Windows left for the next pull (`--max-windows`).
    pub left: usize,
    /// Trace ids the summaries listed.
    pub listed: usize,
    /// Traces not stored before, fetched.
    pub new_traces: usize,
    /// Documents stored.
    pub documents: usize,
    /// Trace ids the API did not return (not ready yet); their windows are pulled again next time.
    pub unprocessed: usize,
    /// Documents left out: not a JSON object with an `id`, or naming another trace.
    pub refused: usize,
    /// Calls answered with throttling and tried again.
    pub throttled: usize,
    /// Calls that failed otherwise (a server error, no connection) and were tried again.
    pub retried: usize,
}

/// Pulls into `store`; the error is the message to print.
pub fn run(args: Args, store: &mut Store) -> Result<(), String> {
    let since = args.since.as_secs_f64();
    if since > RETENTION {
        return Err(format!("--since {}s goes further back than the 30 days X-Ray keeps traces", since as u64));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let report = runtime.block_on(pull(store, since, args.max_windows))?;
    if args.json {
        out(&(render::json_safe(serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?) + "\n"));
    } else {
        out(&text(&report));
    }
    Ok(())
}

fn text(r: &Report) -> String {
    let mut line = format!(
        "pulled {} windows from {} ({} pulled before): {} traces listed, {} new, {} documents stored",
        r.windows,
        render::escape(&r.source),
        r.skipped,
        r.listed,
        r.new_traces,
        r.documents
    );
    if r.unprocessed > 0 {
        line += &format!("; {} not ready yet, pulled again next time", r.unprocessed);
    }
    if r.refused > 0 {
        line += &format!("; {} documents left out (not a segment document of the trace)", r.refused);
    }
    if r.throttled + r.retried > 0 {
        line += &format!("; throttled {} times, {} other retries", r.throttled, r.retried);
    }
    line.push('\n');
    if r.left > 0 {
        line +=
            &format!("stopped with {} windows left (--max-windows): `xray-local pull` goes on from there\n", r.left);
    }
    line
}

async fn pull(store: &mut Store, since: f64, max_windows: Option<usize>) -> Result<Report, String> {
    // Retries are ours (counted, with a longer backoff for throttling), so the SDK's own are turned off.
    let config = aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::disabled()).load().await;
    let region =
        config.region().map(ToString::to_string).ok_or("no AWS region configured (AWS_REGION or a profile)")?;
    let source = format!("{} {region}", config.endpoint_url().unwrap_or("aws"));
    let client = aws_sdk_xray::Client::new(&config);
    let failed = |e: rusqlite::Error| format!("cannot use the database: {e}");
    let done = store.pulled_windows(&source).map_err(failed)?;
    let (todo, skipped) = plan(now_secs(), since, &done);
    let mut report = Report { source: source.clone(), skipped, ..Report::default() };
    let take = max_windows.unwrap_or(usize::MAX).min(todo.len());
    report.left = todo.len() - take;
    for window in &todo[..take] {
        let ids = summaries(&client, *window, &mut report).await?;
        report.listed += ids.len();
        let stored = store.stored_traces(ids.iter().map(String::as_str)).map_err(failed)?;
        let new: Vec<String> = ids.into_iter().filter(|id| !stored.contains(id)).collect();
        let mut unprocessed = 0;
        for batch in new.chunks(BATCH) {
            let (documents, missing) = traces(&client, batch, &mut report).await?;
            unprocessed += missing;
            report.new_traces += batch.len() - missing;
            report.documents += documents.len();
            store.write_pulled(&documents).map_err(failed)?;
        }
        report.unprocessed += unprocessed;
        report.windows += 1;
        if unprocessed == 0 {
            let pulled = PulledWindow { start: window.start, end: window.end, pulled_at: now_secs() };
            store.record_window(&source, pulled, new.len()).map_err(failed)?;
        }
    }
    Ok(report)
}

/// Every trace id `GetTraceSummaries` lists for `window`, all pages, each once.
async fn summaries(client: &aws_sdk_xray::Client, window: Window, report: &mut Report) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    let mut token: Option<String> = None;
    loop {
        let call = || {
            client
                .get_trace_summaries()
                .start_time(DateTime::from_secs_f64(window.start))
                .end_time(DateTime::from_secs_f64(window.end))
                .time_range_type(TimeRangeType::TraceId)
                .sampling(false)
                .set_next_token(token.clone())
                .send()
        };
        let page = retried("GetTraceSummaries", report, call).await?;
        for summary in page.trace_summaries() {
            if let Some(id) = summary.id().filter(|id| seen.insert(id.to_string())) {
                ids.push(id.to_owned());
            }
        }
        token = page.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
        if token.is_none() {
            return Ok(ids);
        }
    }
}

/// The documents of the traces `ids` (at most [`BATCH`]), all pages, and how many of the ids the API left out.
async fn traces(
    client: &aws_sdk_xray::Client,
    ids: &[String],
    report: &mut Report,
) -> Result<(Vec<NewDocument>, usize), String> {
    let mut documents = Vec::new();
    let mut returned = HashSet::new();
    let mut token: Option<String> = None;
    loop {
        let call = || client.batch_get_traces().set_trace_ids(Some(ids.to_vec())).set_next_token(token.clone()).send();
        let page = retried("BatchGetTraces", report, call).await?;
        for trace in page.traces() {
            let Some(trace_id) = trace.id() else { continue };
            returned.insert(trace_id.to_owned());
            for segment in trace.segments() {
                match segment.document().and_then(|text| received(trace_id, text)) {
                    Some(document) => documents.push(document),
                    None => report.refused += 1,
                }
            }
        }
        token = page.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
        if token.is_none() {
            let missing = ids.iter().filter(|id| !returned.contains(*id)).count();
            return Ok((documents, missing));
        }
    }
}

/// A document of trace `trace_id` as the store takes a received one: a JSON object with an `id`, of this trace.
fn received(trace_id: &str, text: &str) -> Option<NewDocument> {
    let doc: Value = serde_json::from_str(text).ok()?;
    let id = doc.get("id")?.as_str().filter(|id| !id.is_empty())?;
    if doc.get("trace_id").and_then(Value::as_str).is_some_and(|t| t != trace_id) {
        return None;
    }
    Some(NewDocument {
        trace_id: trace_id.to_owned(),
        id: id.to_owned(),
        in_progress: doc.get("in_progress").and_then(Value::as_bool).unwrap_or(false),
        body: text.into(),
    })
}

/// The wait before try number `attempt` (2 and up): 200 ms doubling, at most 10 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((200u64 << attempt.saturating_sub(2).min(6)).min(10_000))
}

/// Calls `call` until it succeeds, retrying throttling and server errors up to [`ATTEMPTS`] tries.
async fn retried<T, E, F, Fut>(what: &str, report: &mut Report, mut call: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut attempt = 1;
    loop {
        let err = match call().await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let status = err.raw_response().map(|r| r.status().as_u16());
        let throttled = status == Some(429)
            || matches!(err.code(), Some("ThrottledException" | "ThrottlingException" | "TooManyRequestsException"));
        let transient =
            matches!(err, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)) || status.is_some_and(|s| s >= 500);
        if !(throttled || transient) || attempt >= ATTEMPTS {
            return Err(format!("{what} failed after {attempt} tries: {}", DisplayErrorContext(&err)));
        }
        if throttled {
            report.throttled += 1;
        } else {
            report.retried += 1;
        }
        attempt += 1;
        tokio::time::sleep(backoff(attempt)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_six_hours_aligned_to_the_epoch_back_to_thirty_days_oldest_first() {
        let now = 1_800_000_000.0 + 1000.0;
        let (todo, skipped) = plan(now, RETENTION, &[]);
        assert_eq!(skipped, 0);
        assert_eq!(todo.len(), 121, "30 days of 6 h, plus the part of a window at each end");
        assert!(todo.iter().all(|w| w.start % WINDOW == 0.0));
        assert!(todo[0].start <= now - RETENTION && todo[0].end > now - RETENTION);
        assert_eq!(todo.last().map(|w| w.end), Some(now), "the current window ends now");
        assert!(todo.windows(2).all(|w| w[0].end == w[1].start));
        let (short, _) = plan(now, 3600.0, &[]);
        assert_eq!(short.len(), 1);
    }

    #[test]
    fn a_resumed_pull_skips_the_windows_done_and_final_and_pulls_the_others_again() {
        let now = 1_800_000_000.0;
        let (todo, _) = plan(now, 2.0 * 86_400.0, &[]);
        let done = |w: &Window, at: f64| PulledWindow { start: w.start, end: w.end, pulled_at: at };
        // The first three were done long after they ended; the fourth while it was still open.
        let mut record: Vec<PulledWindow> = todo[..3].iter().map(|w| done(w, now)).collect();
        record.push(done(&todo[3], todo[3].start + 60.0));
        let (again, skipped) = plan(now + 1.0, 2.0 * 86_400.0, &record);
        assert_eq!(skipped, 3);
        assert_eq!(again[0], todo[3], "the window pulled while open comes again, then the rest");
        assert_eq!(again.len(), todo.len() - 3);
    }

    #[test]
    fn documents_are_taken_as_received_when_they_belong_to_the_trace() {
        let trace = "1-581cf771-a006649127e371903a2de979";
        let doc =
            format!(r#"{{"id":"000000000000000a","trace_id":"{trace}","name":"n","start_time":1,"in_progress":true}}"#);
        let taken = received(trace, &doc).expect("taken");
        assert_eq!((taken.id.as_str(), taken.in_progress, &*taken.body), ("000000000000000a", true, doc.as_str()));
        assert!(received("1-581cf771-a006649127e371903a2de97a", &doc).is_none(), "another trace's");
        assert!(received(trace, "[1]").is_none());
        assert!(received(trace, r#"{"name":"n"}"#).is_none());
    }

    #[test]
    fn backoff_doubles_from_200_ms_up_to_10_s() {
        let waits: Vec<u64> = (2..=9).map(|a| backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
    }
}
