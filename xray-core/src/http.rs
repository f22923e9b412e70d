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
}

impl XRayMiddleware {
    /// The middleware, recording URLs without their query string.
    pub fn new() -> Self {
        Self::default()
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
