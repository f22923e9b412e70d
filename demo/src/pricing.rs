//! A stand-in for the external pricing API orders-api calls: `GET /quotes?sku=..&quantity=..` answers a quote from a
//! small catalogue after a delay, as a remote API across the internet would, or 404 for an unknown SKU. It is not
//! ours, so it sends no segments: the trace shows it only through orders-api's `remote` subsegment.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// The catalogue: SKU, price of one in cents.
pub const CATALOGUE: &[(&str, u64)] = &[("book", 1250), ("mug", 899), ("poster", 1999)];
/// Shipping for any order, in cents.
pub const SHIPPING_CENTS: u64 = 499;

/// A running pricing API; dropping it stops the server.
#[derive(Debug)]
pub struct Pricing {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Deserialize)]
struct QuoteQuery {
    sku: String,
    quantity: u32,
}

async fn quote(State(latency): State<Duration>, Query(query): Query<QuoteQuery>) -> Response {
    tokio::time::sleep(latency).await;
    match CATALOGUE.iter().find(|(sku, _)| *sku == query.sku) {
        Some((sku, cents)) if query.quantity > 0 => {
            let quote =
                json!({"sku": sku, "unit_price_cents": cents, "shipping_cents": SHIPPING_CENTS, "currency": "EUR"});
            ([("content-type", "application/json")], quote.to_string()).into_response()
        }
        Some(_) => (StatusCode::BAD_REQUEST, "quantity must be positive").into_response(),
        None => (StatusCode::NOT_FOUND, "no such sku").into_response(),
    }
}

impl Pricing {
    /// Serves the pricing API on a free loopback port, answering each quote after `latency`.
    pub async fn start(latency: Duration) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().route("/quotes", axum::routing::get(quote)).with_state(latency);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, task })
    }

    /// The base URL (`PRICING_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Pricing {
    fn drop(&mut self) {
        self.task.abort();
    }
}
