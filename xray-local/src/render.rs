//! Terminal output: the trace list, the waterfall of one trace, the refused datagrams and the database status.
//!
//! Everything printed that a document or a datagram supplied goes through [`escape`] first, so what a sender
//! writes can neither start a row of its own nor reach the terminal as a control sequence.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

use crate::assemble::{Entity, Summary, Tree};
use crate::store::latency::{Band, Entry, EntryPoint, Latency};
use crate::store::query::{Invalid, Status};

/// Width of the timeline column, in characters.
pub const BAR_WIDTH: usize = 40;
/// Width of the name column, in characters, at least ...
const NAME_WIDTH: usize = 36;
/// ... and at most, when deeper or longer names need more; longer ones are cut with an ellipsis.
const MAX_NAME_WIDTH: usize = 60;

/// `text` with every character a terminal would act on instead of show written as a visible escape: `\n`, `\r`,
/// `\t`, `\0`, `\x1b` (other control characters as `\xNN`), and `\u{202e}` for the Unicode line separators,
/// bidirectional controls and the byte order mark. Text without such characters is returned as it is, without allocating.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if needs_escape(c) && u32::from(c) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether `c` is shown as an escape: control characters (C0, DEL, C1), the Unicode line and paragraph
/// separators, and the bidirectional controls, which reorder what a terminal shows after them.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
        || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// JSON text (as `serde_json` writes it) with every character [`escape`] would escape written as `\uXXXX`, so
/// `--json` output holds no raw C1 control (U+009B starts a terminal sequence), DEL, bidirectional control, line
/// separator or byte order mark. `serde_json` already escapes the C0 controls inside strings, and the characters
/// replaced here can only occur inside strings, so the value read back is the same.
pub fn json_safe(json: String) -> String {
    if !json.chars().any(|c| c >= '\u{7f}' && needs_escape(c)) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c >= '\u{7f}' && needs_escape(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Prints `xray-local: {message}` on stderr, escaped as everything else shown: a diagnostic can quote what a
/// document, a caller or a function sent.
pub fn warn(message: impl std::fmt::Display) {
    eprintln!("xray-local: {}", escape(&message.to_string()));
}

/// Whether to colour errors (red faults, yellow errors and throttles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// Plain text.
    Never,
    /// ANSI colours.
    Always,
}

/// `seconds` as a short human duration: `850µs`, `12.3ms`, `1.204s`.
pub fn duration(seconds: f64) -> String {
    let ms = seconds * 1e3;
    if ms < 1.0 {
        format!("{:.0}µs", seconds * 1e6)
    } else if ms < 1000.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{seconds:.3}s")
    }
}

/// `seconds` since the epoch as `YYYY-MM-DD HH:MM:SS.mmm` UTC.
pub fn timestamp(seconds: f64) -> String {
    let millis = (seconds * 1e3).round() as i64;
    let (days, ms_of_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, ms) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}.{ms:03}")
}

/// The marks of a trace or entity: `FAULT`, `ERROR`, `THROTTLE`, `IN PROGRESS`, space separated.
fn marks(fault: bool, error: bool, throttle: bool, in_progress: bool) -> String {
    let all = [(fault, "FAULT"), (error, "ERROR"), (throttle, "THROTTLE"), (in_progress, "IN PROGRESS")];
    all.iter().filter(|(on, _)| *on).map(|(_, m)| *m).collect::<Vec<_>>().join(" ")
}

fn paint(text: &str, fault: bool, error: bool, color: Color) -> String {
    match (color, fault, error) {
        (Color::Always, true, _) => format!("\x1b[1;31m{text}\x1b[0m"),
        (Color::Always, false, true) => format!("\x1b[33m{text}\x1b[0m"),
        _ => text.to_owned(),
    }
}

/// One line per trace: id, start, duration, entity count, marks, root name and annotations.
pub fn list(traces: &[Summary], color: Color) -> String {
    let mut out = String::new();
    for t in traces {
        let trace_marks = marks(t.fault, t.error, t.throttle, t.in_progress);
        let mut line = format!(
            "{}  {}  {:>9}  {:>3} entities  {:<8} {}",
            t.trace_id,
            timestamp(t.start),
            duration(t.duration),
            t.entities,
            trace_marks,
            t.root
        );
        if !t.annotations.is_empty() {
            let _ = write!(line, "  [{}]", pairs(t.annotations.iter()));
        }
        let _ = writeln!(out, "{}", paint(&escape(line.trim_end()), t.fault, t.error || t.throttle, color));
    }
    out
}

/// The waterfall of one trace: a header, then one line per entity with its offset from the trace start, its
/// duration, its place in the tree and a bar on a common timeline, followed by its annotations, aws/http/sql
/// fields and exception, indented under its name.
pub fn waterfall(tree: &Tree, color: Color) -> String {
    let s = tree.summary();
    let mut out = String::new();
    let trace_marks = marks(s.fault, s.error, s.throttle, s.in_progress);
    let _ = writeln!(
        out,
        "trace {}  started {} UTC  {}  {} entities{}",
        escape(&tree.trace_id),
        timestamp(s.start),
        duration(s.duration),
        s.entities,
        if trace_marks.is_empty() { String::new() } else { format!("  {trace_marks}") }
    );
    for parent in &tree.missing_parents {
        let parent = escape(parent);
        let _ = writeln!(out, "(parent {parent} was not received; its children are shown at the top level)");
    }
    // Wide enough for the deepest name (3 columns per level), within bounds that keep the timeline on the line.
    let width = tree
        .nodes
        .iter()
        .map(|n| {
            let ns = n.entity.namespace.as_deref().map_or(0, |ns| escape(ns).chars().count() + 3);
            3 * n.depth + escape(&n.entity.name).chars().count() + ns
        })
        .max()
        .unwrap_or(0)
        .clamp(NAME_WIDTH, MAX_NAME_WIDTH);
    let _ = writeln!(out, "{:>9} {:>9}  {:<width$} timeline", "offset", "duration", "name");
    let total = if s.duration > 0.0 { s.duration } else { 1e-6 };
    // Which ancestors still have children to come, for drawing the tree lines.
    let mut open: Vec<bool> = Vec::new();
    for (i, node) in tree.nodes.iter().enumerate() {
        let e = &node.entity;
        open.truncate(node.depth);
        let last = !tree.nodes[i + 1..].iter().take_while(|n| n.depth >= node.depth).any(|n| n.depth == node.depth);
        let mut prefix: String = open.iter().skip(1).map(|&more| if more { "│  " } else { "   " }).collect();
        if node.depth > 0 {
            prefix.push_str(if last { "└─ " } else { "├─ " });
        }
        let continuation: String = open
            .iter()
            .skip(1)
            .map(|&more| if more { "│  " } else { "   " })
            .chain((node.depth > 0).then_some(if last { "   " } else { "│  " }))
            .collect::<String>()
            + "   ";
        open.push(!last);
        // Escaped before it is cut, so the column keeps its width.
        let mut name = format!("{prefix}{}", escape(&e.name));
        if let Some(ns) = &e.namespace {
            let _ = write!(name, " ({})", escape(ns));
        }
        let name = fit(&name, width);
        let offset = e.start - s.start;
        let dur = e.duration();
        let entity_marks = marks(e.fault, e.error, e.throttle, e.in_progress);
        let line = format!(
            "{:>9} {:>9}  {name:<width$} |{}|{}",
            duration(offset),
            dur.map(duration).unwrap_or_else(|| "…".into()),
            bar(offset, dur, total),
            if entity_marks.is_empty() { String::new() } else { format!(" {entity_marks}") }
        );
        let _ = writeln!(out, "{}", paint(&line, e.fault, e.error || e.throttle, color));
        let indent = format!("{:>9} {:>9}  {continuation}", "", "");
        for detail in details(e) {
            let _ = writeln!(out, "{indent}{}", escape(&detail));
        }
    }
    out
}

/// Refused datagrams, two lines each: when and why, then the start of the datagram.
pub fn invalid(list: &[Invalid]) -> String {
    let mut out = String::new();
    for item in list {
        let (size, kept) = (item.size, item.kept);
        let cut = if size > kept { format!(" ({size} bytes, the first {kept} kept)") } else { String::new() };
        let _ = writeln!(out, "{}  {}{cut}", timestamp(item.received), escape(&item.reason));
        let _ = writeln!(out, "    {}", escape(&fit(&item.datagram, 120)));
    }
    out
}

/// What the database holds, and the counters of the last daemon run.
pub fn status(status: &Status) -> String {
    let mut out = format!(
        "database {}: {} traces, {} documents, {} invalid datagrams kept\n",
        escape(&status.path.to_string_lossy()),
        status.traces,
        status.documents,
        status.invalid
    );
    let mib = status.bytes as f64 / f64::from(1u32 << 20);
    let _ = writeln!(out, "{mib:.1} MiB in use");
    let run = match status.daemon {
        Some(0) => "daemon running".to_owned(),
        Some(pid) => format!("daemon running (pid {pid})"),
        None => "last daemon run".to_owned(),
    };
    if let Some(at) = status.counters_updated {
        let pairs: Vec<String> = status.counters.iter().map(|c| format!("{}={}", escape(&c.name), c.value)).collect();
        let stale = if status.stale.is_some() { ", STALE" } else { "" };
        let _ = writeln!(out, "{run} (as of {} UTC{stale}): {}", timestamp(at), pairs.join(" "));
    }
    if let Some(why) = &status.stale {
        let _ = writeln!(out, "stale: {}", escape(why));
    }
    out
}

/// The split of an entry point's latency: a header with the samples and the two bands, then one row per part
/// with its mean time and share at p50 and at p99, the largest at p99 first.
pub fn latency(latency: &Latency) -> String {
    let entry = escape(&latency.entry.to_string()).into_owned();
    let (Some(p50), Some(p99)) = (&latency.p50, &latency.p99) else {
        return format!("{entry}: no complete trace holds it\n");
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{entry}: {} samples, end-to-end p50 {}, p99 {}",
        latency.samples,
        duration(p50.duration_ms / 1e3),
        duration(p99.duration_ms / 1e3)
    );
    let width = latency.rows.iter().map(|r| escape(&r.label).chars().count()).max().unwrap_or(0).clamp(24, 60);
    let _ = writeln!(out, "{:<width$}  {:>9} {:>6}  {:>9} {:>6}", "part", "p50", "share", "p99", "share");
    for row in &latency.rows {
        let _ = writeln!(
            out,
            "{:<width$}  {:>9} {:>5.1}%  {:>9} {:>5.1}%",
            fit(&escape(&row.label), width),
            duration(row.p50_ms / 1e3),
            row.p50_share * 100.0,
            duration(row.p99_ms / 1e3),
            row.p99_share * 100.0
        );
    }
    let _ = writeln!(
        out,
        "{:<width$}  {:>9} {:>5.1}%  {:>9} {:>5.1}%",
        "end-to-end (band mean)",
        duration(p50.mean_ms / 1e3),
        100.0,
        duration(p99.mean_ms / 1e3),
        100.0
    );
    let ranks = |b: &Band| match b.last_rank - b.first_rank {
        0 => format!("the sample ranked {}", b.rank),
        _ => format!("the {} samples ranked {}-{}", b.last_rank - b.first_rank + 1, b.first_rank, b.last_rank),
    };
    let _ = writeln!(out, "(p50: mean of {}; p99: mean of {}; rank 1 = fastest)", ranks(p50), ranks(p99));
    out
}

/// The entry points found, one per line with its samples and the option that picks it.
pub fn entry_points(list: &[EntryPoint]) -> String {
    if list.is_empty() {
        return "no complete traces in the range\n".to_owned();
    }
    let mut out = String::from("entry points (pick one with --service, --route or --queue):\n");
    for point in list {
        let option = match &point.entry {
            Entry::Service { name } => format!("--service '{name}'"),
            Entry::Route { method, path } => format!("--route '{method} {path}'"),
            Entry::Queue { name } => format!("--queue '{name}'"),
        };
        let _ = writeln!(out, "{:>8} samples  {}", point.samples, escape(&option));
    }
    out
}

/// The bar of an entity starting `offset` seconds into a trace of `total` seconds: `█` while it ran, `░` from its
/// start to the trace end while still in progress.
fn bar(offset: f64, dur: Option<f64>, total: f64) -> String {
    let col = |t: f64| ((t / total) * BAR_WIDTH as f64).clamp(0.0, BAR_WIDTH as f64);
    // The tolerance keeps float noise (100.1 - 100.0 = 0.0999…) from moving a bar edge by a whole column.
    let from = (col(offset) + 1e-6).floor() as usize;
    let (to, fill) = match dur {
        Some(d) => ((col(offset + d) - 1e-6).ceil() as usize, '█'),
        None => (BAR_WIDTH, '░'),
    };
    let from = from.min(BAR_WIDTH - 1);
    let to = to.clamp(from + 1, BAR_WIDTH);
    let mut out = String::with_capacity(BAR_WIDTH * 3);
    out.extend(std::iter::repeat_n(' ', from));
    out.extend(std::iter::repeat_n(fill, to - from));
    out.extend(std::iter::repeat_n(' ', BAR_WIDTH - to));
    out
}

/// `text` cut to `width` characters with an ellipsis.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// The lines shown under an entity.
fn details(e: &Entity) -> Vec<String> {
    let mut lines = Vec::new();
    if !e.annotations.is_empty() {
        lines.push(format!("annotations: {}", pairs(e.annotations.iter())));
    }
    if let Some(Value::Object(aws)) = &e.aws {
        let fields: Vec<(&String, &Value)> = aws.iter().filter(|(_, v)| !v.is_object() && !v.is_array()).collect();
        if !fields.is_empty() {
            lines.push(format!("aws: {}", pairs(fields.into_iter())));
        }
    }
    if let Some(http) = &e.http {
        let text = |p: &str| http.pointer(p).and_then(Value::as_str);
        let mut line = String::from("http:");
        if let Some(method) = text("/request/method") {
            let _ = write!(line, " {method}");
        }
        if let Some(url) = text("/request/url") {
            let _ = write!(line, " {url}");
        }
        if let Some(status) = http.pointer("/response/status") {
            let _ = write!(line, " -> {status}");
        }
        if let Some(length) = http.pointer("/response/content_length") {
            let _ = write!(line, " ({length} bytes)");
        }
        lines.push(line);
    }
    if let Some(sql) = &e.sql {
        let query = sql.get("sanitized_query").and_then(Value::as_str);
        let db = sql.get("database_type").and_then(Value::as_str);
        lines.push(format!("sql: {}{}", db.map(|d| format!("[{d}] ")).unwrap_or_default(), query.unwrap_or("")));
    }
    if let Some(exception) = &e.exception {
        lines.push(format!("exception: {exception}"));
    }
    lines
}

/// `k=v` pairs, strings unquoted.
fn pairs<'a>(items: impl Iterator<Item = (&'a String, &'a Value)>) -> String {
    items
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The characters a document can use against a terminal, each with how it is shown.
    const HOSTILE: [(char, &str); 11] = [
        ('\u{feff}', "\\u{feff}"),
        ('\u{2066}', "\\u{2066}"),
        ('\u{1b}', "\\x1b"),
        ('\u{7}', "\\x07"),
        ('\r', "\\r"),
        ('\0', "\\0"),
        ('\n', "\\n"),
        ('\t', "\\t"),
        ('\u{7f}', "\\x7f"),
        ('\u{9b}', "\\x9b"),
        ('\u{202e}', "\\u{202e}"),
    ];

    #[test]
    fn control_characters_in_documents_are_shown_escaped_and_never_start_a_row() {
        // Guards issue 10 point 9: a newline in a field forged rows and ESC/BEL/CR reached the terminal raw.
        let trace = "1-581cf771-a006649127e371903a2de979";
        for (c, shown) in HOSTILE {
            let bad = format!("a{c}b");
            let doc = json!({"name": bad, "id": "000000000000000a", "trace_id": trace, "start_time": 100.0,
                "end_time": 100.4, "annotations": {"k": bad},
                "http": {"request": {"method": bad, "url": bad}, "response": {"status": bad}},
                "subsegments": [{"name": bad, "id": "000000000000000b", "start_time": 100.1, "end_time": 100.2,
                    "namespace": bad, "aws": {"operation": bad},
                    "sql": {"database_type": bad, "sanitized_query": bad},
                    "cause": {"exceptions": [{"id": "000000000000000d", "type": bad, "message": bad}]}}]});
            let mut tree = Tree::build(trace, [&doc]);
            tree.missing_parents.push(bad.clone());
            for color in [Color::Never, Color::Always] {
                let text = waterfall(&tree, color);
                let lines: Vec<&str> = text.lines().collect();
                // Header, missing parent, column names, then per entity its row and detail lines.
                assert_eq!(lines.len(), 3 + (1 + 2) + (1 + 3), "{c:?}:\n{text}");
                assert!(lines[3].contains(&format!("a{shown}b")), "{c:?}: {}", lines[3]);
                assert!(lines[6].contains(&format!("a{shown}b (a{shown}b)")), "{c:?}: {}", lines[6]);
                for detail in [4, 5, 7, 8, 9] {
                    assert!(lines[detail].contains(&format!("a{shown}b")), "{c:?}: {}", lines[detail]);
                }
                let raw: Vec<char> = text.chars().filter(|&x| needs_escape(x) && x != '\n').collect();
                let painted = if color == Color::Always { raw.iter().all(|&x| x == '\u{1b}') } else { raw.is_empty() };
                assert!(painted, "{c:?}: raw {raw:?} in\n{text}");
            }
            let text = list(&[tree.summary()], Color::Never);
            assert_eq!(text.lines().count(), 1, "{c:?}: {text}");
            assert!(text.contains(&format!("a{shown}b  [k=a{shown}b]")), "{c:?}: {text}");
            assert!(!text.trim_end_matches('\n').chars().any(needs_escape), "{c:?}: {text}");
        }
    }

    #[test]
    fn json_output_escapes_c1_bidi_controls_and_the_bom_and_reads_back_the_same() {
        // Guards issue 18 point 20: `--json` wrote U+009B, bidi controls and the BOM raw (serde_json escapes only
        // C0 controls), so a document could still drive a terminal through `traces --json`.
        let value = json!({"name": "a\u{9b}[2J\u{202e}b\u{2069}\u{feff}\u{7f}\u{2028}c\u{1b}", "plain": "é ✓"});
        for text in [serde_json::to_string(&value), serde_json::to_string_pretty(&value)] {
            let safe = json_safe(text.expect("JSON"));
            assert!(!safe.chars().any(|c| needs_escape(c) && c != '\n'), "raw in {safe:?}");
            assert!(safe.contains("a\\u009b[2J\\u202eb\\u2069\\ufeff\\u007f\\u2028c\\u001b"), "{safe}");
            assert_eq!(serde_json::from_str::<Value>(&safe).ok(), Some(value.clone()));
        }
    }

    #[test]
    fn refused_datagrams_are_shown_escaped_two_lines_each() {
        // Guards issue 10 point 9 for `xray-local invalid`: the datagram itself is what a sender controls most.
        let item = Invalid {
            received: 0.0,
            reason: "invalid JSON: expected value at line 1 column 2".into(),
            datagram: "{\"format\":\"json\",\"version\":1}\n\u{1b}]0;owned\u{7}\r\0".into(),
            size: 37,
            kept: 37,
        };
        assert_eq!(
            invalid(&[item]),
            "1970-01-01 00:00:00.000  invalid JSON: expected value at line 1 column 2\n    \
             {\"format\":\"json\",\"version\":1}\\n\\x1b]0;owned\\x07\\r\\0\n"
        );
    }

    #[test]
    fn durations_and_timestamps_read_naturally() {
        assert_eq!(duration(0.000_85), "850µs");
        assert_eq!(duration(0.012_34), "12.3ms");
        assert_eq!(duration(1.2041), "1.204s");
        assert_eq!(timestamp(1_478_293_361.271), "2016-11-04 21:02:41.271");
        assert_eq!(timestamp(0.0), "1970-01-01 00:00:00.000");
    }

    #[test]
    fn faults_are_red_and_errors_yellow_on_a_terminal() {
        assert_eq!(paint("x", true, true, Color::Always), "\x1b[1;31mx\x1b[0m");
        assert_eq!(paint("x", false, true, Color::Always), "\x1b[33mx\x1b[0m");
        assert_eq!(paint("x", false, false, Color::Always), "x");
        assert_eq!(paint("x", true, false, Color::Never), "x");
    }

    #[test]
    fn bars_sit_on_a_common_timeline() {
        assert_eq!(bar(0.0, Some(1.0), 1.0), "█".repeat(40));
        assert_eq!(bar(0.5, Some(0.25), 1.0), format!("{}{}{}", " ".repeat(20), "█".repeat(10), " ".repeat(10)));
        assert_eq!(bar(0.5, None, 1.0), format!("{}{}", " ".repeat(20), "░".repeat(20)));
        assert_eq!(bar(1.0, Some(0.0), 1.0), format!("{}█", " ".repeat(39)));
    }

    #[test]
    fn the_waterfall_shows_the_tree_errors_and_fields() {
        let trace = "1-581cf771-a006649127e371903a2de979";
        let doc = json!({"name": "api", "id": "000000000000000a", "trace_id": trace, "start_time": 100.0,
            "end_time": 100.4, "fault": true, "annotations": {"user": "ann"},
            "http": {"request": {"method": "GET", "url": "http://x/y"}, "response": {"status": 500}},
            "subsegments": [
                {"name": "DynamoDB", "id": "000000000000000b", "start_time": 100.1, "end_time": 100.2,
                 "namespace": "aws", "aws": {"operation": "GetItem", "table_name": "t"}},
                {"name": "render", "id": "000000000000000c", "start_time": 100.2, "end_time": 100.4, "fault": true,
                 "cause": {"exceptions": [{"id": "000000000000000d", "type": "Boom", "message": "bad"}]},
                 "subsegments": [{"name": "inner", "id": "000000000000000e", "start_time": 100.3,
                                  "in_progress": true}]}]});
        let text = waterfall(&Tree::build(trace, [&doc]), Color::Never);
        let expected = [
            "trace 1-581cf771-a006649127e371903a2de979  started 1970-01-01 00:01:40.000 UTC  400.0ms  4 entities  \
             FAULT IN PROGRESS",
            "   offset  duration  name                                 timeline",
            "    0µs   400.0ms  api                                  |████████████████████████████████████████| FAULT",
        ];
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], expected[0]);
        assert_eq!(lines[1], expected[1]);
        assert_eq!(
            lines[2..].join("\n"),
            [
                "      0µs   400.0ms  api                                  |████████████████████████████████████████| FAULT",
                "                        annotations: user=ann",
                "                        http: GET http://x/y -> 500",
                "  100.0ms   100.0ms  ├─ DynamoDB (aws)                    |          ██████████                    |",
                "                     │     aws: operation=GetItem table_name=t",
                "  200.0ms   200.0ms  └─ render                            |                    ████████████████████| FAULT",
                "                           exception: Boom: bad",
                "  300.0ms         …     └─ inner                          |                              ░░░░░░░░░░| IN PROGRESS",
            ]
            .join("\n")
        );
    }

    #[test]
    fn the_name_column_widens_for_deep_names_up_to_a_limit() {
        let trace = "1-581cf771-a006649127e371903a2de979";
        let nested = |name: &str, id: &str, children: Value| json!({"name": name, "id": id, "start_time": 100.0, "end_time": 100.1, "subsegments": children});
        let deep = nested("order-events-polled wait", "000000000000000d", json!([]));
        let long = nested(&"x".repeat(70), "000000000000000e", json!([]));
        let mut doc = nested(
            "a",
            "000000000000000a",
            json!([nested("b", "000000000000000b", json!([nested("c", "000000000000000c", json!([deep, long]))]))]),
        );
        doc["trace_id"] = trace.into();
        let text = waterfall(&Tree::build(trace, [&doc]), Color::Never);
        let lines: Vec<&str> = text.lines().collect();
        let row = |name: &str| lines.iter().find(|l| l.contains(name)).copied().unwrap_or_default();
        // The column grows for the longest name (3 columns per level + 70), up to 60, where that name is cut.
        assert!(row("polled wait").contains("├─ order-events-polled wait "), "{text}");
        assert!(row("xxx").contains(&format!("└─ {}… |", "x".repeat(50))), "{text}");
        assert_eq!(lines[1], format!("{:>9} {:>9}  {:<60} timeline", "offset", "duration", "name"));
    }
}
