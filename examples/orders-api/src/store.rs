//! Orders in DynamoDB: one item per order, keyed by `order_id` (the table `template.yaml` declares).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeyType};
use order_events::CallError;
use xray_core::traced;

use crate::order::Order;

/// Writes `order` to `table`.
#[traced]
pub(crate) async fn save_order(dynamodb: &Client, table: &str, order: &Order) -> Result<(), CallError> {
    let n = |value: u64| AttributeValue::N(value.to_string());
    let s = |value: &str| AttributeValue::S(value.to_owned());
    dynamodb
        .put_item()
        .table_name(table)
        .item("order_id", s(&order.order_id))
        .item("customer_id", s(&order.customer_id))
        .item("sku", s(&order.sku))
        .item("quantity", n(order.quantity.into()))
        .item("unit_price_cents", n(order.unit_price_cents))
        .item("shipping_cents", n(order.shipping_cents))
        .item("total_cents", n(order.total_cents))
        .item("currency", s(&order.currency))
        .send()
        .await
        .map_err(|e| CallError::call("PutItem", e))?;
    Ok(())
}

/// Reads the order `order_id` from `table`, if there is one.
#[traced]
pub(crate) async fn load_order(dynamodb: &Client, table: &str, order_id: &str) -> Result<Option<Order>, CallError> {
    let output = dynamodb
        .get_item()
        .table_name(table)
        .key("order_id", AttributeValue::S(order_id.to_owned()))
        .send()
        .await
        .map_err(|e| CallError::call("GetItem", e))?;
    output.item.map(|item| from_item(&item)).transpose().map_err(|reason| CallError::invalid("GetItem", reason))
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Order, String> {
    let s = |key: &str| match item.get(key) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(format!("item has no string `{key}`")),
    };
    let n = |key: &str| match item.get(key) {
        Some(AttributeValue::N(value)) => value.parse::<u64>().map_err(|_| format!("`{key}` is not a count")),
        _ => Err(format!("item has no number `{key}`")),
    };
    Ok(Order {
        order_id: s("order_id")?,
        customer_id: s("customer_id")?,
        sku: s("sku")?,
        quantity: n("quantity")?.try_into().map_err(|_| "`quantity` is too large".to_owned())?,
        unit_price_cents: n("unit_price_cents")?,
        shipping_cents: n("shipping_cents")?,
        total_cents: n("total_cents")?,
        currency: s("currency")?,
    })
}

/// Creates the orders table as `template.yaml` declares it (key `order_id`, on demand), for local runs and tests.
pub async fn create_table(dynamodb: &Client, table: &str) -> Result<(), CallError> {
    order_events::create_table(dynamodb, table, &[("order_id", KeyType::Hash)]).await
}
