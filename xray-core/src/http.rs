//! Subsegments for outgoing HTTP calls made with `reqwest`, through `reqwest-middleware` (feature `reqwest`).
//!
//! Each request becomes a `namespace: "remote"` subsegment named after the host, with the `http` request block
//! (method, URL without its user info, and without its query string unless asked for) and response block (status,
//! content length), `error` for 4xx, `throttle` for 429 and `fault` for 5xx or a request that got no response (its
//! error text recorded with the same URL). A call dropped before it completes ends as a fault with an
//! `Interrupted` cause. The request carries `X-Amzn-Trace-Id` with the subsegment as `Parent`; an unsampled trace
//! still sends `Sampled=0`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), reqwest_middleware::Error> {
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(xray_core::http::XRayMiddleware::new())
//!     .build();
//! let response = client.get("http://127.0.0.1:8080/orders/7").send().await?;
//! # let _ = response; Ok(()) }
//! ```

use std::borrow::Cow;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::diag::diag;
use crate::document::{Cause, Http, HttpRequest, HttpResponse, Namespace};
use crate::downstream::{self, TRACE_HEADER};
use crate::subsegment::Subsegment;

/// Records each request of a `reqwest-middleware` client as a remote subsegment; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct XRayMiddleware {
    keep_query: bool,
    ignored: Vec<Ignored>,
}

/// Requests not traced ([`XRayMiddleware::ignore_endpoint`]): a host pattern, URL path patterns, or both.
#[derive(Debug, Clone)]
struct Ignored {
    host: Option<String>,
    paths: Vec<String>,
}

impl Ignored {
    fn matches(&self, url: &reqwest::Url) -> bool {
        let host_ok = self.host.as_deref().is_none_or(|h| url.host_str().is_some_and(|host| glob(h, host)));
        let path_ok = self.paths.is_empty() || self.paths.iter().any(|p| glob(p, url.path()));
        host_ok && path_ok
    }
}

/// `pattern` against `text`: `*` any run of characters, `?` one character, the rest itself (ASCII case ignored,
/// as the X-Ray SDKs' wildcard match).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            (pi, ti) = (pi + 1, ti + 1);
        } else if pi < p.len() && p[pi] == '*' {
            (star, mark, pi) = (Some(pi), ti, pi + 1);
        } else if let Some(s) = star {
            (pi, mark) = (s + 1, mark + 1);
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl XRayMiddleware {
    /// The middleware, recording URLs without their query string.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves requests out, as Powertools' `ignore_endpoint`: those to a host matching `host` (`None`: any host) whose
    /// URL path matches one of `paths` (none given: any path). Patterns take `*` and `?` wildcards:
    /// `.ignore_endpoint(Some("*.internal"), ["/health", "/ping*"])`. An ignored request gets no subsegment and no
    /// trace header. An empty pattern matches nothing useful: it gets a diagnostic and is dropped.
    pub fn ignore_endpoint<P: Into<String>>(mut self, host: Option<&str>, paths: impl IntoIterator<Item = P>) -> Self {
        let host = host.map(str::to_owned).filter(|h| {
            let ok = !h.trim().is_empty();
            if !ok {
                diag!(BadConfig, "ignore_endpoint: empty host pattern dropped (give `None` for any host)");
            }
            ok
        });
        let paths: Vec<String> = paths
            .into_iter()
            .map(Into::into)
            .filter(|p| {
                let ok = !p.trim().is_empty();
                if !ok {
                    diag!(BadConfig, "ignore_endpoint: empty URL path pattern dropped");
                }
                ok
            })
            .collect();
        if host.is_none() && paths.is_empty() {
            diag!(BadConfig, "ignore_endpoint: neither a host nor a path pattern; nothing is ignored");
            return self;
        }
        self.ignored.push(Ignored { host, paths });
        self
    }

    /// Whether `url` is left out by an [`XRayMiddleware::ignore_endpoint`] rule.
    fn ignores(&self, url: &reqwest::Url) -> bool {
        self.ignored.iter().any(|rule| rule.matches(url))
    }

    /// Records URLs with their query string (which may hold tokens or personal data: off by default).
    pub fn with_query_string(mut self, keep: bool) -> Self {
        self.keep_query = keep;
        self
    }
}

impl XRayMiddleware {
    /// `url` as recorded: never its user info, its query string only when asked for, never its fragment.
    fn recorded_url(&self, url: &reqwest::Url) -> String {
        let mut url = url.clone();
        // Neither fails for the http(s) URLs a request can have.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        if !self.keep_query {
            url.set_query(None);
        }
        url.set_fragment(None);
        url.into()
    }
}

/// Holds a call's subsegment while the request is in flight; dropped with it still inside, the call was interrupted.
struct Pending(Option<Subsegment>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(subsegment) = self.0.take() {
            downstream::end_interrupted(subsegment);
        }
    }
}

#[async_trait::async_trait]
impl Middleware for XRayMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if self.ignores(request.url()) {
            return next.run(request, extensions).await;
        }
        let url = request.url();
        let subsegment =
            downstream::begin(|| Cow::Owned(url.host_str().unwrap_or("remote").to_owned()), Namespace::Remote);
        if let Some(header) = downstream::header(Some(&subsegment)) {
            match http::HeaderValue::try_from(header) {
                // `insert` replaces a header set by the caller or an outer layer, so the service sees one parent.
                Ok(value) => drop(request.headers_mut().insert(TRACE_HEADER, value)),
                Err(err) => diag!(MalformedHeader, "trace header not sent: {err}"),
            }
        }
        let raw_url = request.url().to_string();
        let url = self.recorded_url(request.url());
        let recorder = subsegment.recorder();
        if subsegment.is_recording() {
            recorder.set_http(Http {
                request: Some(HttpRequest {
                    method: Some(request.method().as_str().to_owned()),
                    url: Some(url.clone()),
                    ..HttpRequest::default()
                }),
                response: None,
            });
        }
        // Dropped before the response: the guard ends the subsegment as interrupted.
        let mut pending = Pending(Some(subsegment));
        let result = next.run(request, extensions).await;
        let Some(subsegment) = pending.0.take() else { return result };
        if subsegment.is_recording() {
            match &result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    recorder.update_http(|http| {
                        http.response =
                            Some(HttpResponse { status: Some(status), content_length: response.content_length() })
                    });
                    match status {
                        429 => recorder.mark_throttle(),
                        400..=499 => recorder.mark_error(),
                        500.. => recorder.mark_fault(),
                        _ => {}
                    }
                }
                // The error's text names the URL as requested: recorded with the URL as recorded above.
                Err(error) => {
                    recorder.mark_fault();
                    let Cause::Detail { exceptions, .. } = Cause::from_error(std::any::type_name_of_val(error), error)
                    else {
                        return result;
                    };
                    for mut exception in exceptions {
                        exception.message = exception.message.map(|m| m.replace(&raw_url, &url));
                        recorder.add_exception(exception);
                    }
                }
            }
        }
        subsegment.end();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> reqwest::Url {
        text.parse().expect("url")
    }

    #[test]
    fn wildcards_match_as_the_sdks_do() {
        assert!(glob("*.internal", "health.INTERNAL"));
        assert!(glob("/ping*", "/ping"));
        assert!(glob("/ping*", "/ping/deep"));
        assert!(glob("/user/?", "/user/7"));
        assert!(!glob("/user/?", "/user/77"));
        assert!(glob("*", ""));
        assert!(!glob("/health", "/healthz"));
    }

    #[test]
    fn ignore_endpoint_rules_combine_host_and_paths() {
        let m = XRayMiddleware::new()
            .ignore_endpoint(Some("*.internal"), ["/health"])
            .ignore_endpoint(None, ["/ping*"])
            .ignore_endpoint(Some("metrics.local"), Vec::<String>::new());
        assert!(m.ignores(&url("http://lb.internal/health")));
        assert!(!m.ignores(&url("http://lb.internal/orders")));
        assert!(!m.ignores(&url("http://example.com/health")));
        assert!(m.ignores(&url("http://example.com/ping/1")));
        assert!(m.ignores(&url("http://metrics.local:9000/anything")));
        assert!(!m.ignores(&url("http://example.com/orders")));
    }

    #[test]
    fn empty_patterns_get_a_diagnostic_and_ignore_nothing() {
        let before = crate::diag::count(crate::diag::DiagKind::BadConfig);
        let m = XRayMiddleware::new().ignore_endpoint(Some(""), [""]);
        assert!(crate::diag::count(crate::diag::DiagKind::BadConfig) >= before + 3);
        assert!(!m.ignores(&url("http://example.com/")));
    }
}
