//! Settings read from the environment once, the first time tracing needs them.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `AWS_XRAY_SDK_ENABLED` | `true` / `false` (any case, also `1` / `0`) | `true` |
//! | `AWS_XRAY_CONTEXT_MISSING` | `LOG_ERROR`, `RUNTIME_ERROR`, `IGNORE_ERROR` | `LOG_ERROR` |
//! | `AWS_XRAY_DAEMON_ADDRESS` | `host:port` or `tcp:host:port udp:host:port` | `127.0.0.1:2000` |
//! | `XRAY_SAMPLING_RULES_FILE` | path to a version 2 local sampling rules file | built-in default rule |
//! | `POWERTOOLS_TRACE_DISABLED` | `true` turns recording off, as `AWS_XRAY_SDK_ENABLED=false` (Powertools Python) | `false` |
//! | `POWERTOOLS_TRACE_ENABLED` | `false` turns recording off (Powertools TypeScript's spelling) | `true` |
//! | `POWERTOOLS_TRACER_CAPTURE_ERROR` | `false`: errors mark faults but record no `cause` ([`capture_error`]) | `true` |
//! | `OTEL_TRACES_EXPORTER` | `xray` (segment documents), `otlp` (OTLP spans, feature `otlp`), `none` | `xray` |
//!
//! Recording off, the trace header is still passed on with the upstream decision (propagation is kept).
//!
//! With feature `otlp`, the OTLP/HTTP transport reads the standard `OTEL_EXPORTER_OTLP_*` variables (see
//! [`OtlpSettings`]), and `XRAY_OTLP_UNSAMPLED_SPANS` turns on spans of unsampled traces (see
//! [`OtlpSettings::unsampled_spans`]).
//!
//! A value that cannot be used gets a diagnostic naming the variable and the default used instead.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::diag::diag;

/// The daemon's default address, for both segments (UDP) and the sampling proxy (TCP).
pub const DEFAULT_DAEMON: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2000);

/// What to do when recording is asked for where no trace context exists (`AWS_XRAY_CONTEXT_MISSING`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContextMissing {
    /// Print a diagnostic and carry on (the default).
    #[default]
    LogError,
    /// Print the diagnostic and also make [`crate::try_current`] return an error, for code that wants to know.
    ///
    /// The official SDKs raise an exception here; in Rust that would mean a panic or a changed signature in user
    /// code, which instrumentation must never cause, so the error is offered as a value instead.
    RuntimeError,
    /// Do nothing.
    IgnoreError,
}

/// Where the X-Ray daemon listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaemonAddress {
    /// Where segment documents go.
    pub udp: SocketAddr,
    /// Where the sampling proxy listens.
    pub tcp: SocketAddr,
}

impl Default for DaemonAddress {
    fn default() -> Self {
        Self { udp: DEFAULT_DAEMON, tcp: DEFAULT_DAEMON }
    }
}

/// Why a daemon address could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// The value is empty.
    Empty,
    /// The value is neither `host:port` nor `tcp:host:port udp:host:port`.
    Form(String),
    /// A `host:port` part does not resolve to an address.
    Unresolvable(String),
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("daemon address is empty"),
            Self::Form(v) => write!(f, "daemon address `{v}` is neither `host:port` nor `tcp:host:port udp:host:port`"),
            Self::Unresolvable(v) => write!(f, "daemon address `{v}` does not resolve to an IP address and port"),
        }
    }
}

impl std::error::Error for AddressError {}

impl DaemonAddress {
    /// Parses `host:port` (both protocols) or `tcp:host:port udp:host:port` (either order). Hostnames resolve here,
    /// once, preferring IPv4.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        match parts.as_slice() {
            [] => Err(AddressError::Empty),
            [single] if !single.starts_with("tcp:") && !single.starts_with("udp:") => {
                let addr = resolve(single)?;
                Ok(Self { udp: addr, tcp: addr })
            }
            [a, b] => {
                let (mut udp, mut tcp) = (None, None);
                for part in [a, b] {
                    if let Some(rest) = part.strip_prefix("udp:") {
                        udp = Some(resolve(rest)?);
                    } else if let Some(rest) = part.strip_prefix("tcp:") {
                        tcp = Some(resolve(rest)?);
                    }
                }
                match (udp, tcp) {
                    (Some(udp), Some(tcp)) => Ok(Self { udp, tcp }),
                    _ => Err(AddressError::Form(text.to_owned())),
                }
            }
            _ => Err(AddressError::Form(text.to_owned())),
        }
    }
}

fn resolve(host_port: &str) -> Result<SocketAddr, AddressError> {
    if let Ok(addr) = host_port.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = host_port.rsplit_once(':').ok_or_else(|| AddressError::Form(host_port.to_owned()))?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(AddressError::Form(host_port.to_owned()));
    }
    let addrs: Vec<SocketAddr> =
        host_port.to_socket_addrs().map_err(|_| AddressError::Unresolvable(host_port.to_owned()))?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| AddressError::Unresolvable(host_port.to_owned()))
}

/// What is recorded and in which wire format (`OTEL_TRACES_EXPORTER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TracesExporter {
    /// Segment documents to the daemon (`xray`, or the variable unset).
    #[default]
    XRay,
    /// OTLP spans (`otlp`; needs the cargo feature `otlp`, else segments with a diagnostic).
    Otlp,
    /// Nothing is recorded; trace headers are still passed on downstream (`none`).
    None,
}

impl TracesExporter {
    /// Reads `OTEL_TRACES_EXPORTER`'s value. A list (the variable may name several exporters) counts as its first
    /// entry this crate knows, with a diagnostic for the others; a value naming none gets a diagnostic and `xray`.
    pub fn parse(value: &str) -> Self {
        Self::parse_built(value, cfg!(feature = "otlp"))
    }

    /// [`TracesExporter::parse`] for a build with (`otlp_built`) or without the `otlp` feature.
    fn parse_built(value: &str, otlp_built: bool) -> Self {
        let mut chosen = None;
        for name in value.split(',').map(|v| v.trim().to_ascii_lowercase()).filter(|v| !v.is_empty()) {
            let exporter = match name.as_str() {
                "xray" => Self::XRay,
                "otlp" if otlp_built => Self::Otlp,
                "otlp" => {
                    diag!(
                        BadEnvVar,
                        "OTEL_TRACES_EXPORTER=`{value}` asks for OTLP, but xray-core was built without its `otlp` \
                         feature; sending segment documents"
                    );
                    Self::XRay
                }
                "none" => Self::None,
                _ => {
                    diag!(BadEnvVar, "OTEL_TRACES_EXPORTER=`{value}`: `{name}` is not xray, otlp or none; ignored");
                    continue;
                }
            };
            if chosen.is_none() {
                chosen = Some(exporter);
            } else {
                diag!(BadEnvVar, "OTEL_TRACES_EXPORTER=`{value}`: only one exporter is used, `{name}` is ignored");
            }
        }
        chosen.unwrap_or_default()
    }
}

/// How OTLP spans are sent (feature `otlp`), from the standard variables; each `OTEL_EXPORTER_OTLP_TRACES_*` beats
/// its `OTEL_EXPORTER_OTLP_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSettings {
    /// Where OTLP/HTTP requests go: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// + `/v1/traces`. `None`: spans go to the daemon address over UDP, as Lambda's endpoint takes them.
    pub endpoint: Option<String>,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`: `key=value,...`, percent-decoded).
    pub headers: Vec<(String, String)>,
    /// Whether request bodies are gzipped (`OTEL_EXPORTER_OTLP_COMPRESSION=gzip`).
    pub gzip: bool,
    /// How long one export may take, and in Lambda the most an invocation waits for its spans to leave
    /// (`OTEL_EXPORTER_OTLP_TIMEOUT`, milliseconds; default 10 000, the specification's).
    pub timeout: std::time::Duration,
    /// Whether traces that are not sampled are recorded too, their spans sent as `T1U` datagrams for Application
    /// Signals (`XRAY_OTLP_UNSAMPLED_SPANS=true`; off by default). Only over UDP; never passed on as sampled.
    pub unsampled_spans: bool,
    /// The region to sign requests for with SigV4 (service `xray`; feature `otlp-sigv4`): the one in an endpoint
    /// `https://xray.<region>.amazonaws.com/...`, else `XRAY_OTLP_SIGV4_REGION` (for an endpoint in front of X-Ray:
    /// a VPC endpoint, a proxy). `None`: requests are not signed.
    pub sigv4_region: Option<String>,
}

impl Default for OtlpSettings {
    fn default() -> Self {
        Self {
            endpoint: None,
            headers: Vec::new(),
            gzip: false,
            timeout: std::time::Duration::from_millis(10_000),
            unsampled_spans: false,
            sigv4_region: None,
        }
    }
}

impl OtlpSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            let traces = name.replacen("OTEL_EXPORTER_OTLP_", "OTEL_EXPORTER_OTLP_TRACES_", 1);
            lookup(&traces)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (traces, v))
                .or_else(|| lookup(name).filter(|v| !v.trim().is_empty()).map(|v| (name.to_owned(), v)))
        };
        let endpoint = match get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Some((var, url)) if var.contains("TRACES") => Some(url.trim().to_owned()),
            Some((_, base)) => Some(format!("{}/v1/traces", base.trim().trim_end_matches('/'))),
            None => None,
        };
        let mut settings = Self { endpoint, ..Self::default() };
        if let Some(url) = &settings.endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            diag!(BadEnvVar, "OTLP endpoint `{url}` is not an http:// or https:// URL; spans go to the daemon address");
            settings.endpoint = None;
        }
        if let Some((var, text)) = get("OTEL_EXPORTER_OTLP_HEADERS") {
            for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                match entry.split_once('=').map(|(k, v)| (percent_decode(k.trim()), percent_decode(v.trim()))) {
                    Some((Some(k), Some(v))) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_graphic()) => {
                        settings.headers.push((k, v))
                    }
                    _ => diag!(BadEnvVar, "{var}: entry `{entry}` is not `key=value`; skipped"),
                }
            }
        }
        if let Some((var, value)) = get("OTEL_EXPORTER_OTLP_COMPRESSION") {
            match value.trim().to_ascii_lowercase().as_str() {
                "gzip" => settings.gzip = true,
                "none" => {}
                _ => diag!(BadEnvVar, "{var}=`{value}` is not gzip or none; sending uncompressed"),
            }
        }
        if let Some((var, value)) = get("OTEL_EXPORTER_OTLP_TIMEOUT") {
            match value.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => settings.timeout = std::time::Duration::from_millis(ms),
                _ => diag!(BadEnvVar, "{var}=`{value}` is not a positive number of milliseconds; using 10000"),
            }
        }
        settings.sigv4_region = settings
            .endpoint
            .as_deref()
            .and_then(xray_region)
            .or_else(|| lookup("XRAY_OTLP_SIGV4_REGION").map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()));
        if let Some(value) = lookup("XRAY_OTLP_UNSAMPLED_SPANS") {
            match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => settings.unsampled_spans = true,
                "false" | "0" | "" => {}
                _ => diag!(BadEnvVar, "XRAY_OTLP_UNSAMPLED_SPANS=`{value}` is not true or false; off"),
            }
        }
        settings
    }
}

/// The region of X-Ray's own OTLP endpoint, `https://xray.<region>.amazonaws.com/...`.
fn xray_region(url: &str) -> Option<String> {
    let host = url.strip_prefix("https://")?.split(['/', ':']).next()?;
    let region = host.strip_prefix("xray.")?.strip_suffix(".amazonaws.com")?;
    (!region.is_empty() && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')).then(|| region.to_owned())
}

/// `%XX` decoded; `None` when an escape is broken or the result is not UTF-8 (the W3C Baggage encoding the
/// `OTEL_*` lists use).
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(text.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Settings for the tracing runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Whether anything is recorded at all.
    pub enabled: bool,
    /// What a missing trace context does.
    pub context_missing: ContextMissing,
    /// Where documents are sent.
    pub daemon: DaemonAddress,
    /// Whether this process is a Lambda function (`AWS_LAMBDA_FUNCTION_NAME` is set).
    pub in_lambda: bool,
    /// The function name in Lambda.
    pub function_name: Option<String>,
    /// A local sampling rules file to use instead of the default rule.
    pub sampling_rules_file: Option<String>,
    /// What is recorded, in which wire format.
    pub traces_exporter: TracesExporter,
    /// How OTLP spans are sent.
    pub otlp: OtlpSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: true,
            context_missing: ContextMissing::LogError,
            daemon: DaemonAddress::default(),
            in_lambda: false,
            function_name: None,
            sampling_rules_file: None,
            traces_exporter: TracesExporter::XRay,
            otlp: OtlpSettings::default(),
        }
    }
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the settings through `lookup`, which returns a variable's value; bad values get a diagnostic and
    /// the default.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut config = Self::default();
        if let Some(value) = lookup("AWS_XRAY_SDK_ENABLED") {
            match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "" => {}
                "false" | "0" => config.enabled = false,
                _ => diag!(BadEnvVar, "AWS_XRAY_SDK_ENABLED=`{value}` is not true or false; tracing stays enabled"),
            }
        }
        if let Some(value) = lookup("AWS_XRAY_CONTEXT_MISSING") {
            config.context_missing = match value.trim().to_ascii_uppercase().as_str() {
                "LOG_ERROR" => ContextMissing::LogError,
                "RUNTIME_ERROR" => ContextMissing::RuntimeError,
                "IGNORE_ERROR" => ContextMissing::IgnoreError,
                _ => {
                    diag!(
                        BadEnvVar,
                        "AWS_XRAY_CONTEXT_MISSING=`{value}` is not LOG_ERROR, RUNTIME_ERROR or IGNORE_ERROR; using LOG_ERROR"
                    );
                    ContextMissing::LogError
                }
            };
        }
        if let Some(value) = lookup("AWS_XRAY_DAEMON_ADDRESS") {
            match DaemonAddress::parse(&value) {
                Ok(address) => config.daemon = address,
                Err(err) => diag!(BadEnvVar, "AWS_XRAY_DAEMON_ADDRESS: {err}; using {DEFAULT_DAEMON}"),
            }
        }
        powertools_switches(&lookup, &mut config);
        config.function_name = lookup("AWS_LAMBDA_FUNCTION_NAME").filter(|n| !n.is_empty());
        config.in_lambda = config.function_name.is_some();
        config.sampling_rules_file = lookup("XRAY_SAMPLING_RULES_FILE").filter(|p| !p.is_empty());
        if let Some(value) = lookup("OTEL_TRACES_EXPORTER").filter(|v| !v.trim().is_empty()) {
            config.traces_exporter = TracesExporter::parse(&value);
        }
        if config.traces_exporter == TracesExporter::Otlp {
            config.otlp = OtlpSettings::from_lookup(&lookup);
        }
        config
    }
}

/// A Powertools boolean: `true`/`false` (any case) or `1`/`0`; anything else a diagnostic and `None`.
fn powertools_flag(name: &str, value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => {
            diag!(BadEnvVar, "{name}=`{value}` is not true or false; ignored");
            None
        }
    }
}

/// Powertools Tracer's off switches: `POWERTOOLS_TRACE_DISABLED=true` (Python, .NET) and
/// `POWERTOOLS_TRACE_ENABLED=false` (TypeScript) turn recording off, as `AWS_XRAY_SDK_ENABLED=false` does.
fn powertools_switches(lookup: &impl Fn(&str) -> Option<String>, config: &mut Config) {
    if let Some(value) = lookup("POWERTOOLS_TRACE_DISABLED")
        && powertools_flag("POWERTOOLS_TRACE_DISABLED", &value) == Some(true)
    {
        config.enabled = false;
    }
    if let Some(value) = lookup("POWERTOOLS_TRACE_ENABLED")
        && powertools_flag("POWERTOOLS_TRACE_ENABLED", &value) == Some(false)
    {
        config.enabled = false;
    }
}

/// Whether errors are recorded with their `cause` (`POWERTOOLS_TRACER_CAPTURE_ERROR`, read once; `true` unless it
/// says `false`). Off, `#[traced]`, `#[traced_handler]` and the `tracing` layer still mark the fault, without the
/// error's text; a `capture` mode given to the macro wins over it.
pub fn capture_error() -> bool {
    static CAPTURE: OnceLock<bool> = OnceLock::new();
    *CAPTURE.get_or_init(|| capture_error_from(std::env::var("POWERTOOLS_TRACER_CAPTURE_ERROR").ok().as_deref()))
}

fn capture_error_from(value: Option<&str>) -> bool {
    value.and_then(|v| powertools_flag("POWERTOOLS_TRACER_CAPTURE_ERROR", v)).unwrap_or(true)
}

static CONFIG: OnceLock<Config> = OnceLock::new();
static ENABLED: AtomicBool = AtomicBool::new(true);
static ENABLED_INIT: OnceLock<()> = OnceLock::new();

/// The process's settings, read from the environment on first use unless [`init`] ran before.
pub fn get() -> &'static Config {
    CONFIG.get_or_init(Config::from_env)
}

/// Installs settings for the process; returns `false` (and changes nothing) if settings were already in use.
pub fn init(config: Config) -> bool {
    CONFIG.set(config).is_ok()
}

/// Whether tracing records anything right now.
pub fn enabled() -> bool {
    ENABLED_INIT.get_or_init(|| ENABLED.store(get().enabled, Ordering::Relaxed));
    ENABLED.load(Ordering::Relaxed)
}

/// Turns recording on or off at run time, whatever `AWS_XRAY_SDK_ENABLED` said.
pub fn set_enabled(on: bool) {
    ENABLED_INIT.get_or_init(|| ());
    ENABLED.store(on, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        Config::from_lookup(|k| vars.get(k).cloned())
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("socket address")
    }

    #[test]
    fn daemon_address_single_form_sets_both_protocols() {
        let c = config(&[("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.5:3000")]);
        assert_eq!(c.daemon, DaemonAddress { udp: addr("127.0.0.5:3000"), tcp: addr("127.0.0.5:3000") });
    }

    #[test]
    fn daemon_address_two_part_form_in_either_order() {
        let expected = DaemonAddress { udp: addr("127.0.0.1:2001"), tcp: addr("127.0.0.2:2002") };
        assert_eq!(DaemonAddress::parse("tcp:127.0.0.2:2002 udp:127.0.0.1:2001"), Ok(expected));
        assert_eq!(DaemonAddress::parse("  udp:127.0.0.1:2001   tcp:127.0.0.2:2002 "), Ok(expected));
        assert_eq!(DaemonAddress::parse("udp:[::1]:2001 tcp:127.0.0.1:2000").map(|a| a.udp), Ok(addr("[::1]:2001")));
    }

    #[test]
    fn daemon_address_hostnames_resolve() {
        let parsed = DaemonAddress::parse("localhost:2500").expect("localhost resolves");
        assert!(parsed.udp.ip().is_loopback());
        assert_eq!(parsed.udp.port(), 2500);
        let parsed = DaemonAddress::parse("tcp:localhost:2600 udp:localhost:2700").expect("resolves");
        assert_eq!((parsed.tcp.port(), parsed.udp.port()), (2600, 2700));
    }

    #[test]
    fn bad_daemon_addresses_fall_back_to_the_default_with_a_diagnostic() {
        for bad in [
            "",
            "127.0.0.1",
            "127.0.0.1:notaport",
            ":2000",
            "udp:127.0.0.1:2000",
            "tcp:1.2.3.4:1 tcp:1.2.3.4:2",
            "udp:127.0.0.1:2000 tcp:127.0.0.1:2000 extra",
            "no-such-host.invalid:2000",
        ] {
            let before = crate::diag::count(crate::diag::DiagKind::BadEnvVar);
            let c = config(&[("AWS_XRAY_DAEMON_ADDRESS", bad)]);
            assert_eq!(c.daemon, DaemonAddress::default(), "{bad:?}");
            assert!(crate::diag::count(crate::diag::DiagKind::BadEnvVar) > before, "{bad:?} gave no diagnostic");
        }
        assert!(
            crate::diag::recent()
                .iter()
                .any(|(_, m)| m.contains("AWS_XRAY_DAEMON_ADDRESS") && m.contains("127.0.0.1:2000"))
        );
    }

    #[test]
    fn the_traces_exporter_is_chosen_at_run_time_and_bad_values_fall_back_to_segments() {
        assert_eq!(config(&[]).traces_exporter, TracesExporter::XRay);
        assert_eq!(config(&[("OTEL_TRACES_EXPORTER", "xray")]).traces_exporter, TracesExporter::XRay);
        assert_eq!(config(&[("OTEL_TRACES_EXPORTER", " NONE ")]).traces_exporter, TracesExporter::None);
        let expected = if cfg!(feature = "otlp") { TracesExporter::Otlp } else { TracesExporter::XRay };
        assert_eq!(config(&[("OTEL_TRACES_EXPORTER", "otlp")]).traces_exporter, expected);
        // Whichever way this crate was built, both builds' answers to `otlp`: a build without the feature says so once
        // and sends segments.
        assert_eq!(TracesExporter::parse_built("otlp", true), TracesExporter::Otlp);
        let before = crate::diag::count(crate::diag::DiagKind::BadEnvVar);
        assert_eq!(TracesExporter::parse_built("otlp", false), TracesExporter::XRay);
        assert!(crate::diag::count(crate::diag::DiagKind::BadEnvVar) > before);
        assert!(crate::diag::recent().iter().any(|(_, m)| m.contains("built without its `otlp` feature")));
        for bad in ["jaeger", "zipkin,", "otlp,none"] {
            let before = crate::diag::count(crate::diag::DiagKind::BadEnvVar);
            let c = config(&[("OTEL_TRACES_EXPORTER", bad)]);
            assert!(crate::diag::count(crate::diag::DiagKind::BadEnvVar) > before, "{bad:?} gave no diagnostic");
            assert_ne!(c.traces_exporter, TracesExporter::None, "{bad:?}");
        }
    }

    #[test]
    fn otlp_settings_follow_the_standard_variables_traces_first() {
        let c = config(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b,bad,x-team=pay"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ]);
        if !cfg!(feature = "otlp") {
            return;
        }
        assert_eq!(c.otlp.endpoint.as_deref(), Some("http://collector:4318/v1/traces"));
        assert_eq!(c.otlp.headers, vec![("api-key".into(), "a b".into()), ("x-team".into(), "pay".into())]);
        assert!(c.otlp.gzip);
        assert_eq!(c.otlp.timeout, std::time::Duration::from_millis(2500));
        assert_eq!(c.otlp.sigv4_region, None);
        let c = config(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://xray.eu-west-1.amazonaws.com/v1/traces"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
        ]);
        assert_eq!(c.otlp.endpoint.as_deref(), Some("https://xray.eu-west-1.amazonaws.com/v1/traces"));
        assert_eq!(c.otlp.sigv4_region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.otlp.timeout, std::time::Duration::from_millis(10_000));
        let c = config(&[("OTEL_TRACES_EXPORTER", "otlp"), ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318")]);
        assert_eq!(c.otlp.endpoint, None, "not a URL: spans go to the daemon address");
    }

    #[test]
    fn switches_and_context_missing() {
        assert!(!config(&[("AWS_XRAY_SDK_ENABLED", "FALSE")]).enabled);
        assert!(config(&[("AWS_XRAY_SDK_ENABLED", "maybe")]).enabled);
        assert_eq!(
            config(&[("AWS_XRAY_CONTEXT_MISSING", "runtime_error")]).context_missing,
            ContextMissing::RuntimeError
        );
        assert_eq!(
            config(&[("AWS_XRAY_CONTEXT_MISSING", "IGNORE_ERROR")]).context_missing,
            ContextMissing::IgnoreError
        );
        assert_eq!(config(&[("AWS_XRAY_CONTEXT_MISSING", "PANIC")]).context_missing, ContextMissing::LogError);
        let lambda = config(&[("AWS_LAMBDA_FUNCTION_NAME", "orders")]);
        assert!(lambda.enabled);
        assert!(lambda.in_lambda);
        assert_eq!(lambda.function_name.as_deref(), Some("orders"));
    }

    #[test]
    fn powertools_switches_turn_recording_off_and_bad_values_get_a_diagnostic() {
        assert!(!config(&[("POWERTOOLS_TRACE_DISABLED", "true")]).enabled);
        assert!(!config(&[("POWERTOOLS_TRACE_DISABLED", "1")]).enabled);
        assert!(config(&[("POWERTOOLS_TRACE_DISABLED", "false")]).enabled);
        assert!(!config(&[("POWERTOOLS_TRACE_ENABLED", "FALSE")]).enabled);
        assert!(config(&[("POWERTOOLS_TRACE_ENABLED", "true")]).enabled);
        for (name, bad) in [("POWERTOOLS_TRACE_DISABLED", "yes"), ("POWERTOOLS_TRACE_ENABLED", "off")] {
            let before = crate::diag::count(crate::diag::DiagKind::BadEnvVar);
            assert!(config(&[(name, bad)]).enabled, "{name}={bad}");
            assert!(crate::diag::count(crate::diag::DiagKind::BadEnvVar) > before, "{name}={bad} gave no diagnostic");
        }
        assert!(capture_error_from(None));
        assert!(!capture_error_from(Some("false")));
        assert!(capture_error_from(Some("TRUE")));
        let before = crate::diag::count(crate::diag::DiagKind::BadEnvVar);
        assert!(capture_error_from(Some("nope")));
        assert!(crate::diag::count(crate::diag::DiagKind::BadEnvVar) > before);
    }
}
