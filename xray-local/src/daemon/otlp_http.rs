//! The OTLP/HTTP receiver (`--otlp-http`): `POST /v1/traces` with a protobuf (`application/x-protobuf`) or OTLP/JSON
//! (`application/json`) `ExportTraceServiceRequest`, gzip-compressed (`Content-Encoding: gzip`) or not.
//!
//! Spans go the way a `T1S` datagram's go. The answer is an `ExportTraceServiceResponse` in the request's encoding,
//! with `partial_success` counting the spans refused (each kept in the invalid table with its reason); a body that
//! cannot be read is answered 400 (415 for another media type or encoding, 413 over
//! [`crate::otlp::decode::MAX_BODY_BYTES`]) and kept as invalid too.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use prost::Message;

use super::stats::Stats;
use super::{Intake, lock};
use crate::otlp::decode::{self, Encoding, MAX_BODY_BYTES};
use crate::otlp::{ExportTracePartialSuccess, ExportTraceServiceResponse};

/// A running receiver; [`Server::stop`] ends it.
pub(super) struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct Shared {
    intake: Arc<Mutex<Intake>>,
    stats: Arc<Stats>,
}

impl Server {
    /// Binds `addr` (so a port in use is told at once) and serves on a thread of its own.
    pub(super) fn start(addr: SocketAddr, intake: Arc<Mutex<Intake>>, stats: Arc<Stats>) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let thread = std::thread::Builder::new().name("xray-local-otlp-http".into()).spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(err) => return crate::render::warn(format_args!("OTLP/HTTP receiver stopped: {err}")),
                };
                let app = Router::new()
                    .route("/v1/traces", post(traces))
                    .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
                    .with_state(Shared { intake, stats });
                let served = axum::serve(listener, app).with_graceful_shutdown(async {
                    let _ = stopped.await;
                });
                if let Err(err) = served.await {
                    crate::render::warn(format_args!("OTLP/HTTP receiver stopped: {err}"));
                }
            })
        })?;
        Ok(Server { addr, stop: Some(stop), thread: Some(thread) })
    }

    /// The address it listens on.
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking requests and waits for the thread, which lets go of the intake.
    pub(super) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn traces(State(shared): State<Shared>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    Stats::add(&shared.stats.otlp_requests, 1);
    let refuse = |status: StatusCode, reason: String, body: &[u8]| {
        let reason = format!("OTLP/HTTP request: {reason}");
        lock(&shared.intake).refuse(reason.clone(), body);
        (status, reason).into_response()
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return refuse(rejection.status(), rejection.body_text(), b""),
    };
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    let content_type = text(header::CONTENT_TYPE);
    let encoding = match content_type.split(';').next().unwrap_or_default().trim() {
        "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        other => {
            let why = format!("Content-Type {other:?}: expected application/x-protobuf or application/json");
            return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, why, &body);
        }
    };
    let gzip = match text(header::CONTENT_ENCODING).trim() {
        "gzip" => true,
        "" | "identity" => false,
        other => {
            let why = format!("Content-Encoding {other:?}: expected gzip or none");
            return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, why, &body);
        }
    };
    let request = match decode::body(&body, encoding, gzip) {
        Ok(request) => request,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, why, &body),
    };
    let taken = {
        let mut intake = lock(&shared.intake);
        intake.now = Instant::now();
        intake.spans(&request, true, &body)
    };
    let response = ExportTraceServiceResponse {
        partial_success: (taken.rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: taken.rejected as i64,
            error_message: taken.first_reason.unwrap_or_default(),
        }),
    };
    match encoding {
        Encoding::Protobuf => {
            ([(header::CONTENT_TYPE, "application/x-protobuf")], response.encode_to_vec()).into_response()
        }
        Encoding::Json => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&response).unwrap_or_else(|_| "{}".into()),
        )
            .into_response(),
    }
}
