//! The OTLP/HTTP receiver (`--otlp-http`): `POST /v1/traces` with a protobuf (`application/x-protobuf`) or OTLP/JSON
//! (`application/json`) `ExportTraceServiceRequest`, gzip-compressed (`Content-Encoding: gzip`) or not.
//!
//! Spans go the way a `T1S` datagram's go. The answer is an `ExportTraceServiceResponse` in the request's encoding,
//! with `partial_success` counting the spans refused (each kept in the invalid table with its reason); a body that
//! cannot be read is answered 400 (415 for another media type or encoding, 413 over
//! [`crate::otlp::decode::MAX_BODY_BYTES`]) and kept as invalid too.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
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
use crate::serve::Served;

/// A running receiver; [`Server::stop`] ends it.
pub(super) struct Server(Served);

#[derive(Clone)]
struct Shared {
    intake: Arc<Mutex<Intake>>,
    stats: Arc<Stats>,
}

impl Server {
    /// Binds `addr` (so a port in use is told at once) and serves on a thread of its own.
    pub(super) fn start(addr: SocketAddr, intake: Arc<Mutex<Intake>>, stats: Arc<Stats>) -> std::io::Result<Server> {
        let app = |_| {
            Router::new()
                .route("/v1/traces", post(traces))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
                .with_state(Shared { intake, stats })
        };
        Served::start(addr, "xray-local-otlp-http", "OTLP/HTTP receiver", app).map(Server)
    }

    /// The address it listens on.
    pub(super) fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// Stops taking requests and waits for the thread, which lets go of the intake.
    pub(super) fn stop(&mut self) {
        self.0.stop();
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
