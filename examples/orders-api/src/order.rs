//! An order as the API takes it and as it is stored.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::pricing::Quote;

/// The most of one SKU an order may hold.
const MAX_QUANTITY: u32 = 100;

/// The body of `POST /orders`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// Who orders.
    pub customer_id: String,
    /// What is ordered.
    pub sku: String,
    /// How many, 1 to 100.
    pub quantity: u32,
}

impl NewOrder {
    /// Parses and checks a request body; the error is the reason to give the caller.
    pub fn parse(body: &str) -> Result<Self, String> {
        let order: Self = serde_json::from_str(body).map_err(|e| format!("invalid order: {e}"))?;
        if order.customer_id.trim().is_empty() || order.sku.trim().is_empty() {
            return Err("invalid order: customer_id and sku must not be empty".into());
        }
        if !(1..=MAX_QUANTITY).contains(&order.quantity) {
            return Err(format!("invalid order: quantity must be 1 to {MAX_QUANTITY}"));
        }
        Ok(order)
    }
}

/// A priced order, as stored in DynamoDB and returned by the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The order's id (API Gateway's request id of `POST /orders`).
    pub order_id: String,
    /// Who ordered.
    pub customer_id: String,
    /// What was ordered.
    pub sku: String,
    /// How many.
    pub quantity: u32,
    /// Price of one, in cents.
    pub unit_price_cents: u64,
    /// Shipping, in cents.
    pub shipping_cents: u64,
    /// What the customer pays, in cents.
    pub total_cents: u64,
    /// ISO 4217 currency of the amounts.
    pub currency: String,
}

impl Order {
    /// `new` priced with `quote`.
    pub fn priced(order_id: String, new: NewOrder, quote: &Quote) -> Self {
        let total_cents = quote.unit_price_cents.saturating_mul(u64::from(new.quantity)) + quote.shipping_cents;
        Self {
            order_id,
            customer_id: new.customer_id,
            sku: new.sku,
            quantity: new.quantity,
            unit_price_cents: quote.unit_price_cents,
            shipping_cents: quote.shipping_cents,
            total_cents,
            currency: quote.currency.clone(),
        }
    }

    /// The event announcing this order to the queues.
    pub fn placed_event(&self) -> order_events::OrderEvent {
        let Self { order_id, customer_id, sku, quantity, total_cents, currency, .. } = self;
        order_events::OrderEvent::placed(order_id, customer_id, sku, *quantity, *total_cents, currency)
    }

    /// The order as the API answers it.
    pub fn to_json(&self) -> Value {
        json!({
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "sku": self.sku,
            "quantity": self.quantity,
            "unit_price_cents": self.unit_price_cents,
            "shipping_cents": self.shipping_cents,
            "total_cents": self.total_cents,
            "currency": self.currency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_needs_a_customer_a_sku_and_a_sensible_quantity() {
        let ok = NewOrder::parse(r#"{"customer_id":"c-1","sku":"book","quantity":2}"#);
        assert_eq!(ok, Ok(NewOrder { customer_id: "c-1".into(), sku: "book".into(), quantity: 2 }));
        for (body, reason) in [
            ("", "invalid order: EOF"),
            (r#"{"customer_id":"c-1","sku":"book"}"#, "missing field `quantity`"),
            (r#"{"customer_id":" ","sku":"book","quantity":1}"#, "must not be empty"),
            (r#"{"customer_id":"c-1","sku":"book","quantity":0}"#, "quantity must be 1 to 100"),
            (r#"{"customer_id":"c-1","sku":"book","quantity":101}"#, "quantity must be 1 to 100"),
            (r#"{"customer_id":"c-1","sku":"book","quantity":-1}"#, "invalid value"),
            (r#"{"customer_id":"c-1","sku":"book","quantity":1,"coupon":"x"}"#, "unknown field `coupon`"),
        ] {
            let error = NewOrder::parse(body).expect_err(body);
            assert!(error.contains(reason), "{body}: {error}");
        }
    }

    #[test]
    fn the_total_is_the_items_plus_shipping() {
        let new = NewOrder { customer_id: "c-1".into(), sku: "book".into(), quantity: 3 };
        let quote = Quote { sku: "book".into(), unit_price_cents: 1250, shipping_cents: 499, currency: "EUR".into() };
        let order = Order::priced("o-1".into(), new, &quote);
        assert_eq!(order.total_cents, 3 * 1250 + 499);
        assert_eq!(order.to_json()["total_cents"], 4249);
        assert_eq!(order.to_json()["currency"], "EUR");
    }
}
