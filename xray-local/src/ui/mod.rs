//! `xray-local ui`: the store in a browser. An HTTP server (axum) on 127.0.0.1 with pages at stable paths:
//! `/` the trace list and its filters ([`list`]), `/trace/<id>` one trace's waterfall ([`trace`]), `/map` the
//! service map and `/map/node` a node's latency histogram ([`map`]), `/latency` where an entry point's time goes
//! ([`latency`]). Pages are HTML written with maud, which
//! escapes everything it interpolates, so what a document holds is shown as text; the page code is one small
//! plain script and a style sheet served from here ([`assets`]), nothing from elsewhere.
//!
//! Safety: requests whose `Host` is not the bound address are refused (a DNS rebinding page cannot read the
//! store), every answer carries a Content-Security-Policy that allows only this server's own script and style,
//! and the database is opened read-only.

mod assets;
pub mod latency;
mod layout;
pub mod list;
pub mod map;
pub mod params;
pub mod trace;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::serve::Served;
use crate::store::Store;

/// What every answer allows the browser to load: this server's own script, style and images, nothing else.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A running web view, stopped when dropped.
#[derive(Debug)]
pub struct Ui(Served);

impl Ui {
    /// Serves the store in `data_dir` on `bind` (port 0: any free port) from a thread of its own. The database is
    /// created or brought up to date first (its schema only); after that it is only read.
    pub fn start(bind: SocketAddr, data_dir: &Path) -> io::Result<Ui> {
        drop(Store::open(data_dir)?);
        let dir = data_dir.to_path_buf();
        let app = |addr| router(Arc::new(App { dir, hosts: hosts(addr), pool: Mutex::new(Vec::new()) }));
        Served::start(bind, "xray-local-ui", "ui", app).map(Ui)
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// The URL of the trace list.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr())
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        self.0.wait();
    }
}

/// The `Host` values that name the bound address: `ip:port`, and `localhost:port` on a loopback address. Bound
/// to an unspecified address (`0.0.0.0`, told to), any IP address with the port.
fn hosts(addr: SocketAddr) -> Vec<String> {
    let mut hosts = vec![addr.to_string()];
    if addr.ip().is_loopback() {
        hosts.push(format!("localhost:{}", addr.port()));
    }
    hosts
}

/// Whether `host` (a `Host` header) names the server bound to `addr`, whose accepted names are `hosts`.
fn host_allowed(host: &str, addr: SocketAddr, hosts: &[String]) -> bool {
    if hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return true;
    }
    addr.ip().is_unspecified() && host.parse::<SocketAddr>().is_ok_and(|h| h.port() == addr.port())
}

#[derive(Debug)]
struct App {
    dir: PathBuf,
    hosts: Vec<String>,
    /// Read-only connections not in use.
    pool: Mutex<Vec<Store>>,
}

impl App {
    /// Runs `page` on a read-only connection off the async thread; an error becomes a 500 page.
    async fn read(
        self: Arc<Self>,
        page: impl FnOnce(&Store) -> rusqlite::Result<Response> + Send + 'static,
    ) -> Response {
        let answer = tokio::task::spawn_blocking(move || {
            let pooled = self.pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let store = match pooled {
                Some(store) => store,
                None => Store::open_read_only(&self.dir).map_err(|e| e.to_string())?,
            };
            let answer = page(&store).map_err(|e| e.to_string());
            self.pool.lock().unwrap_or_else(PoisonError::into_inner).push(store);
            answer
        })
        .await;
        match answer {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => layout::error(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot read the store: {e}")),
            Err(e) => layout::error(StatusCode::INTERNAL_SERVER_ERROR, &format!("the page failed: {e}")),
        }
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/",
            get(|State(app): State<Arc<App>>, RawQuery(q): RawQuery| async move {
                app.read(move |store| list::page(store, &q.unwrap_or_default())).await
            }),
        )
        .route(
            "/trace/{id}",
            get(|State(app): State<Arc<App>>, axum::extract::Path(id): axum::extract::Path<String>| async move {
                app.read(move |store| trace::page(store, &id)).await
            }),
        )
        .route(
            "/map",
            get(|State(app): State<Arc<App>>, RawQuery(q): RawQuery| async move {
                app.read(move |store| map::page(store, &q.unwrap_or_default())).await
            }),
        )
        .route(
            "/map/node",
            get(|State(app): State<Arc<App>>, RawQuery(q): RawQuery| async move {
                app.read(move |store| map::node_page(store, &q.unwrap_or_default())).await
            }),
        )
        .route(
            "/latency",
            get(|State(app): State<Arc<App>>, RawQuery(q): RawQuery| async move {
                app.read(move |store| latency::page(store, &q.unwrap_or_default())).await
            }),
        )
        .route("/static/app.js", get(|| async { assets::script() }))
        .route("/static/style.css", get(|| async { assets::style() }))
        .fallback(|| async { layout::error(StatusCode::NOT_FOUND, "no such page") })
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Refuses a request whose `Host` is not the bound address, and puts the security headers on every answer.
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let addr = app.hosts.first().and_then(|h| h.parse().ok()).unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
    let mut response = if host_allowed(host, addr, &app.hosts) {
        next.run(request).await
    } else {
        let text = format!("refused: this server answers only to Host {}\n", app.hosts.join(" or "));
        (StatusCode::MISDIRECTED_REQUEST, text).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An HTML answer.
fn html(markup: maud::Markup) -> Response {
    Html(markup.into_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_bound_address_is_accepted_as_host() {
        let addr: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        let ok = hosts(addr);
        for host in ["127.0.0.1:4000", "localhost:4000", "LOCALHOST:4000"] {
            assert!(host_allowed(host, addr, &ok), "{host}");
        }
        for host in ["evil.example:4000", "127.0.0.1:4001", "127.0.0.1", "", "localhost", "attacker.test"] {
            assert!(!host_allowed(host, addr, &ok), "{host}");
        }
        let any: SocketAddr = "0.0.0.0:4000".parse().expect("addr");
        let ok = hosts(any);
        assert!(host_allowed("192.168.1.5:4000", any, &ok));
        assert!(!host_allowed("evil.example:4000", any, &ok));
        assert!(!host_allowed("192.168.1.5:4001", any, &ok));
    }
}
