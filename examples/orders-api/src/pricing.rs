//! The external pricing API: `GET {PRICING_URL}/quotes?sku=..&quantity=..` answers
//! `{"sku": "book", "unit_price_cents": 1250, "shipping_cents": 499, "currency": "EUR"}`, or 404 for an unknown SKU.

use std::fmt;

use reqwest_middleware::ClientWithMiddleware;
use serde::Deserialize;
use xray_core::traced;

/// A price quote.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Quote {
    /// The SKU quoted.
    pub sku: String,
    /// Price of one, in cents.
    pub unit_price_cents: u64,
    /// Shipping for the whole quantity, in cents.
    pub shipping_cents: u64,
    /// ISO 4217 currency of the amounts.
    pub currency: String,
}

/// The pricing API failed to quote.
#[derive(Debug)]
pub enum PricingError {
    /// `PRICING_URL` is not a URL.
    BadUrl(String),
    /// No answer (refused, timed out, ...).
    Unreachable(reqwest_middleware::Error),
    /// An answer other than 200 or 404.
    Status(u16),
    /// A 200 whose body is not a quote.
    InvalidBody(String),
}

impl fmt::Display for PricingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadUrl(url) => write!(f, "PRICING_URL `{url}` is not a URL"),
            Self::Unreachable(error) => write!(f, "the pricing API did not answer: {error}"),
            Self::Status(status) => write!(f, "the pricing API answered {status}"),
            Self::InvalidBody(reason) => write!(f, "the pricing API's answer is not a quote: {reason}"),
        }
    }
}

impl std::error::Error for PricingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unreachable(error) => Some(error),
            _ => None,
        }
    }
}

/// Asks the pricing API at `base_url` for `quantity` of `sku`; `None` when it does not know the SKU.
#[traced(annotate(sku = sku))]
pub(crate) async fn quote(
    http: &ClientWithMiddleware,
    base_url: &str,
    sku: &str,
    quantity: u32,
) -> Result<Option<Quote>, PricingError> {
    let mut url = reqwest::Url::parse(&format!("{}/quotes", base_url.trim_end_matches('/')))
        .map_err(|_| PricingError::BadUrl(base_url.to_owned()))?;
    url.query_pairs_mut().append_pair("sku", sku).append_pair("quantity", &quantity.to_string());
    let response = http.get(url).send().await.map_err(PricingError::Unreachable)?;
    match response.status().as_u16() {
        200 => {}
        404 => return Ok(None),
        status => return Err(PricingError::Status(status)),
    }
    let body = response.bytes().await.map_err(|e| PricingError::Unreachable(e.into()))?;
    serde_json::from_slice(&body).map(Some).map_err(|e| PricingError::InvalidBody(e.to_string()))
}
