//! Sampling decisions for code outside Lambda, from local rules in the official version 2 rules file format.
//!
//! Inside Lambda the upstream `Sampled` flag decides and nothing here runs. Outside, a request that carries
//! `Sampled=0/1` keeps that decision; others go through the rules: the first rule whose `host`, `http_method` and
//! `url_path` patterns match (`*` and `?` wildcards, case-insensitive) decides, else the default rule. Each rule
//! samples up to `fixed_target` requests per second (its reservoir), then `rate` of the rest.
//!
//! ```json
//! { "version": 2,
//!   "rules": [ { "description": "health checks", "host": "*", "http_method": "GET", "url_path": "/health",
//!                "fixed_target": 0, "rate": 0.0 } ],
//!   "default": { "fixed_target": 1, "rate": 0.05 } }
//! ```

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::diag::diag;

/// What a sampling decision looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct SamplingRequest<'a> {
    /// The `Host` of the request.
    pub host: Option<&'a str>,
    /// The HTTP method.
    pub method: Option<&'a str>,
    /// The URL path.
    pub url_path: Option<&'a str>,
}

/// One rule of a rules file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// What the rule is for.
    #[serde(default)]
    pub description: String,
    /// Pattern for the host.
    #[serde(default = "any")]
    pub host: String,
    /// Pattern for the method.
    #[serde(default = "any")]
    pub http_method: String,
    /// Pattern for the URL path.
    #[serde(default = "any")]
    pub url_path: String,
    /// Requests sampled per second before `rate` applies.
    pub fixed_target: u32,
    /// Share of requests sampled beyond the reservoir, 0 to 1.
    pub rate: f64,
}

/// The default rule of a rules file.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultRule {
    /// Requests sampled per second before `rate` applies.
    pub fixed_target: u32,
    /// Share of requests sampled beyond the reservoir, 0 to 1.
    pub rate: f64,
}

fn any() -> String {
    "*".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    version: u32,
    #[serde(default)]
    rules: Vec<Rule>,
    default: DefaultRule,
}

/// Why a rules document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError(String);

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sampling rules refused: {}", self.0)
    }
}

impl std::error::Error for RulesError {}

/// The official default: one request per second, then 5%.
pub const DEFAULT_RULE: DefaultRule = DefaultRule { fixed_target: 1, rate: 0.05 };

/// A reservoir of `fixed_target` decisions per second: the second and the count used, in one atomic word.
#[derive(Debug, Default)]
struct Reservoir(AtomicU64);

impl Reservoir {
    fn take(&self, per_second: u32, now_secs: u64) -> bool {
        if per_second == 0 {
            return false;
        }
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            let (second, used) = (word >> 32, word & 0xffff_ffff);
            let next = if second == now_secs & 0xffff_ffff {
                if used >= u64::from(per_second) {
                    return false;
                }
                word + 1
            } else {
                (now_secs & 0xffff_ffff) << 32 | 1
            };
            match self.0.compare_exchange_weak(word, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(actual) => word = actual,
            }
        }
    }
}

/// Samples requests by local rules.
#[derive(Debug)]
pub struct LocalSampler {
    rules: Vec<(Rule, Reservoir)>,
    default: (DefaultRule, Reservoir),
}

impl Default for LocalSampler {
    fn default() -> Self {
        Self { rules: Vec::new(), default: (DEFAULT_RULE, Reservoir::default()) }
    }
}

fn check_rate(rate: f64, what: &str) -> Result<(), RulesError> {
    if (0.0..=1.0).contains(&rate) {
        Ok(())
    } else {
        Err(RulesError(format!("{what} has rate {rate}, outside 0 to 1")))
    }
}

/// The most a rules file may hold, in bytes; real ones hold a few hundred.
pub const MAX_RULES_FILE_BYTES: u64 = 64 * 1024;

impl LocalSampler {
    /// A sampler from a version 2 rules file. Only a regular file of at most [`MAX_RULES_FILE_BYTES`] is read, and
    /// it is opened without waiting, so a FIFO with no writer or a device such as `/dev/zero` is refused at once
    /// instead of blocking or filling memory.
    pub fn from_file(path: &std::path::Path) -> Result<Self, RulesError> {
        use std::io::Read;
        let fail = |e: std::io::Error| RulesError(e.to_string());
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NONBLOCK);
        }
        let file = options.open(path).map_err(fail)?;
        let meta = file.metadata().map_err(fail)?;
        if !meta.is_file() {
            return Err(RulesError("not a regular file".into()));
        }
        let too_large = || RulesError(format!("larger than the {MAX_RULES_FILE_BYTES} bytes a rules file may hold"));
        if meta.len() > MAX_RULES_FILE_BYTES {
            return Err(too_large());
        }
        let mut text = String::new();
        file.take(MAX_RULES_FILE_BYTES + 1).read_to_string(&mut text).map_err(fail)?;
        if text.len() as u64 > MAX_RULES_FILE_BYTES {
            return Err(too_large());
        }
        Self::from_json(&text)
    }

    /// A sampler from a version 2 rules document (JSON).
    pub fn from_json(text: &str) -> Result<Self, RulesError> {
        let file: RulesFile = serde_json::from_str(text).map_err(|e| RulesError(e.to_string()))?;
        if file.version != 2 {
            return Err(RulesError(format!("version {} is not supported, only version 2", file.version)));
        }
        check_rate(file.default.rate, "the default rule")?;
        for rule in &file.rules {
            check_rate(rule.rate, &format!("rule `{}`", rule.description))?;
        }
        Ok(Self {
            rules: file.rules.into_iter().map(|r| (r, Reservoir::default())).collect(),
            default: (file.default, Reservoir::default()),
        })
    }

    /// Decides whether to sample `request`.
    pub fn sample(&self, request: &SamplingRequest<'_>) -> bool {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.sample_at(request, now)
    }

    /// Decides whether to sample `request` at `now_secs` (Unix seconds).
    pub fn sample_at(&self, request: &SamplingRequest<'_>, now_secs: u64) -> bool {
        let matched = self.rules.iter().find(|(rule, _)| {
            matches(&rule.host, request.host)
                && matches(&rule.http_method, request.method)
                && matches(&rule.url_path, request.url_path)
        });
        let (fixed_target, rate, reservoir) = match matched {
            Some((rule, reservoir)) => (rule.fixed_target, rule.rate, reservoir),
            None => (self.default.0.fixed_target, self.default.0.rate, &self.default.1),
        };
        reservoir.take(fixed_target, now_secs) || (crate::ids::random_u64() as f64 / u64::MAX as f64) < rate
    }
}

/// Whether `value` matches a `*` / `?` wildcard pattern, ignoring ASCII case; a missing value matches only `*`.
pub(crate) fn matches(pattern: &str, value: Option<&str>) -> bool {
    if pattern == "*" {
        return true;
    }
    let Some(value) = value else { return false };
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi].eq_ignore_ascii_case(&v[vi])) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

static GLOBAL: OnceLock<LocalSampler> = OnceLock::new();

/// The process's sampler: the rules file named by `XRAY_SAMPLING_RULES_FILE`, else the default rule. A file that
/// cannot be read or used (see [`LocalSampler::from_file`]) gets a diagnostic and the default rule.
pub fn global() -> &'static LocalSampler {
    GLOBAL.get_or_init(|| match crate::config::get().sampling_rules_file.as_deref() {
        Some(path) => load(path),
        None => LocalSampler::default(),
    })
}

/// The rules of the file at `path`, or the default rule with a diagnostic.
fn load(path: &str) -> LocalSampler {
    LocalSampler::from_file(std::path::Path::new(path)).unwrap_or_else(|err| {
        diag!(BadSamplingRules, "XRAY_SAMPLING_RULES_FILE=`{path}`: {err}; using the default rule");
        LocalSampler::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"{
        "version": 2,
        "rules": [
            {"description": "no health checks", "host": "*", "http_method": "GET", "url_path": "/health*", "fixed_target": 0, "rate": 0.0},
            {"description": "all orders", "host": "api.example.com", "http_method": "*", "url_path": "/orders/?", "fixed_target": 0, "rate": 1.0}
        ],
        "default": {"fixed_target": 2, "rate": 0.0}
    }"#;

    #[test]
    fn wildcards_match_like_the_sdks() {
        assert!(matches("*", None));
        assert!(matches("/api/*", Some("/api/users/1")));
        assert!(matches("/a?c", Some("/abc")));
        assert!(!matches("/a?c", Some("/abbc")));
        assert!(matches("GET", Some("get")));
        assert!(matches("*.example.com", Some("api.example.com")));
        assert!(!matches("*.example.com", Some("example.org")));
        assert!(!matches("/health", None));
    }

    #[test]
    fn first_matching_rule_decides_then_default_reservoir() {
        let sampler = LocalSampler::from_json(RULES).expect("valid rules");
        let health = SamplingRequest { host: Some("h"), method: Some("GET"), url_path: Some("/healthz") };
        assert!(!sampler.sample_at(&health, 100));
        let order =
            SamplingRequest { host: Some("API.example.com"), method: Some("POST"), url_path: Some("/orders/7") };
        assert!((0..50).all(|_| sampler.sample_at(&order, 100)));
        let other = SamplingRequest { url_path: Some("/other"), ..SamplingRequest::default() };
        let taken: Vec<bool> = (0..5).map(|_| sampler.sample_at(&other, 100)).collect();
        assert_eq!(taken, [true, true, false, false, false]);
        assert!(sampler.sample_at(&other, 101), "the reservoir refills each second");
    }

    #[test]
    fn default_rule_is_one_per_second_then_five_percent() {
        let sampler = LocalSampler::default();
        let request = SamplingRequest::default();
        assert!(sampler.sample_at(&request, 7));
        let sampled = (0..100_000).filter(|_| sampler.sample_at(&request, 7)).count();
        assert!((4_000..6_000).contains(&sampled), "{sampled} of 100000 beyond the reservoir");
    }

    /// `load(path)` on another thread: the sampler and the diagnostics it left, or `None` if it blocked.
    fn load_without_blocking(path: &std::path::Path) -> Option<(LocalSampler, Vec<String>)> {
        let text = path.to_string_lossy().into_owned();
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let sampler = load(&text);
            let said = crate::diag::recent().into_iter().map(|(_, m)| m).filter(|m| m.contains(&text)).collect();
            let _ = done.send((sampler, said));
        });
        // Not a speed check: a reader that blocks never answers, one that does not answers at once.
        result.recv_timeout(std::time::Duration::from_secs(20)).ok()
    }

    fn is_default(sampler: &LocalSampler) -> bool {
        sampler.rules.is_empty() && sampler.default.0 == DEFAULT_RULE
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_as_rules_file_is_refused_without_blocking() {
        // Guards issue 18 point 21: XRAY_SAMPLING_RULES_FILE naming a FIFO blocked the first sampling decision.
        let path = std::env::temp_dir().join(format!("xray-rules-fifo-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let c_path = std::ffi::CString::new(path.to_string_lossy().as_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
        let loaded = load_without_blocking(&path);
        // Opening the FIFO for writing frees a reader that is still blocked, so the thread ends either way.
        {
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&path);
        }
        let _ = std::fs::remove_file(&path);
        let (sampler, said) = loaded.expect("reading a FIFO blocked");
        assert!(is_default(&sampler));
        assert!(said.iter().any(|m| m.contains("not a regular file") && m.contains("default rule")), "{said:?}");
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_as_rules_file_is_refused_at_once() {
        // Guards issue 18 point 21: /dev/zero as the rules file was read until memory ran out.
        let (sampler, said) = load_without_blocking(std::path::Path::new("/dev/zero")).expect("blocked");
        assert!(is_default(&sampler));
        assert!(said.iter().any(|m| m.contains("not a regular file")), "{said:?}");
    }

    #[test]
    fn a_rules_file_over_the_size_limit_is_refused() {
        // Guards issue 18 point 21: a rules file was read whole whatever its size.
        let path = std::env::temp_dir().join(format!("xray-rules-large-{}", std::process::id()));
        let padded = format!("{RULES}{}", " ".repeat(MAX_RULES_FILE_BYTES as usize));
        std::fs::write(&path, padded).expect("write");
        let (sampler, said) = load_without_blocking(&path).expect("blocked");
        std::fs::write(&path, RULES).expect("write");
        let small = LocalSampler::from_file(&path);
        let _ = std::fs::remove_file(&path);
        assert!(is_default(&sampler));
        assert!(said.iter().any(|m| m.contains("65536 bytes a rules file may hold")), "{said:?}");
        assert_eq!(small.map(|s| s.rules.len()).ok(), Some(2), "a file within the limit is read");
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        for (text, reason) in [
            (r#"{"version": 1, "default": {"fixed_target": 1, "rate": 0.1}}"#, "version 1"),
            (r#"{"version": 2, "default": {"fixed_target": 1, "rate": 1.5}}"#, "outside 0 to 1"),
            (r#"{"version": 2}"#, "default"),
            (
                r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.1}, "rules": [{"host": "*"}]}"#,
                "fixed_target",
            ),
            ("not json", "expected"),
        ] {
            let err = LocalSampler::from_json(text).expect_err(text);
            assert!(err.to_string().contains(reason), "{err} lacks {reason}");
        }
    }
}
