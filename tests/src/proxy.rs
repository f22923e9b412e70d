//! A small HTTP proxy on 127.0.0.1 in front of moto: it answers the next requests with canned failures (a 500, a
//! 503, a throttling error) before forwarding again, and keeps the `X-Amzn-Trace-Id` values and the body of every
//! request it saw. Retries, throttling, the injected header and what went on the wire (where moto drops it) are
//! thereby tested against real HTTP, with the real SDK.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

/// A canned failure answered instead of forwarding a request.
#[derive(Debug, Clone)]
pub struct Failure {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Failure {
    /// A bare status code with an empty body, as a load balancer in trouble sends it.
    pub fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: String::new() }
    }

    /// An AWS JSON protocol error (SQS, DynamoDB, ...): `{"__type": code, "message": message}`.
    pub fn json(status: u16, code: &str, message: &str) -> Self {
        let body = serde_json::json!({ "__type": code, "message": message }).to_string();
        let headers =
            vec![("content-type", "application/x-amz-json-1.0".to_owned()), ("x-amzn-requestid", "proxy-1".to_owned())];
        Self { status, headers, body }
    }
}

#[derive(Debug, Default)]
struct Shared {
    upstream: String,
    failures: Mutex<VecDeque<Failure>>,
    headers: Mutex<Vec<Vec<String>>>,
    bodies: Mutex<Vec<String>>,
    rewrites: Mutex<Vec<(String, String)>>,
    client: reqwest::Client,
}

/// The running proxy; dropping it stops it.
#[derive(Debug)]
pub struct Proxy {
    /// `http://127.0.0.1:{port}`.
    pub endpoint: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (e.g. moto's endpoint) on a free port of 127.0.0.1, on the current runtime.
    pub async fn start(upstream: &str) -> io::Result<Proxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared { upstream: upstream.to_owned(), ..Shared::default() });
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Proxy { endpoint, shared, task })
    }

    /// Answers the next requests with `failures`, in order, before forwarding again.
    pub fn fail_next(&self, failures: impl IntoIterator<Item = Failure>) {
        self.shared.failures.lock().unwrap_or_else(PoisonError::into_inner).extend(failures);
    }

    /// Replaces `from` with `to` in every response body forwarded from now on: a fix for an upstream that writes a
    /// field the SDKs cannot read (moto's `GetTraceSummaries` writes `"Users": {}` where the API has a list).
    pub fn rewrite_responses(&self, from: &str, to: &str) {
        self.shared.rewrites.lock().unwrap_or_else(PoisonError::into_inner).push((from.to_owned(), to.to_owned()));
    }

    /// For every request seen so far, all its `X-Amzn-Trace-Id` values.
    pub fn trace_headers(&self) -> Vec<Vec<String>> {
        self.shared.headers.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The body of every request seen so far, as text.
    pub fn bodies(&self) -> Vec<String> {
        self.shared.bodies.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let seen =
        request.headers().get_all("x-amzn-trace-id").iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    shared.headers.lock().unwrap_or_else(PoisonError::into_inner).push(seen.collect());
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, 64 << 20).await {
        Ok(body) => body,
        Err(err) => return canned(Failure::status(502).with_body(err.to_string())),
    };
    shared.bodies.lock().unwrap_or_else(PoisonError::into_inner).push(String::from_utf8_lossy(&body).into_owned());
    let failure = shared.failures.lock().unwrap_or_else(PoisonError::into_inner).pop_front();
    match failure {
        Some(failure) => canned(failure),
        None => forward(&shared, parts, body).await.unwrap_or_else(|err| canned(Failure::status(502).with_body(err))),
    }
}

impl Failure {
    fn with_body(mut self, body: String) -> Self {
        self.body = body;
        self
    }
}

fn canned(failure: Failure) -> Response {
    let mut response = Response::new(Body::from(failure.body));
    *response.status_mut() = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in failure.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(HeaderName::from_static(name), value);
        }
    }
    response
}

async fn forward(
    shared: &Shared,
    parts: axum::http::request::Parts,
    body: axum::body::Bytes,
) -> Result<Response, String> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers;
    headers.remove("host");
    let upstream = shared
        .client
        .request(parts.method, format!("{}{path}", shared.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = upstream.status();
    for (name, value) in upstream.headers() {
        if name != "transfer-encoding" && name != "connection" {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    let body = upstream.bytes().await.map_err(|e| e.to_string())?;
    let rewrites = shared.rewrites.lock().unwrap_or_else(PoisonError::into_inner).clone();
    if rewrites.is_empty() {
        *response.body_mut() = Body::from(body);
    } else {
        let mut text = String::from_utf8_lossy(&body).into_owned();
        for (from, to) in &rewrites {
            text = text.replace(from, to);
        }
        // The length changed: the server writes the new one.
        response.headers_mut().remove("content-length");
        *response.body_mut() = Body::from(text);
    }
    Ok(response)
}
