//! The page code and style, compiled into the binary: the UI loads nothing from anywhere else.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `/static/app.js`.
pub(super) fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("assets/app.js")).into_response()
}

/// `/static/style.css`.
pub(super) fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("assets/style.css")).into_response()
}
