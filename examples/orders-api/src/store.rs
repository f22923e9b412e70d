//! Orders in DynamoDB: one item per order, keyed by `order_id` (the table `template.yaml` declares).

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use xray_core::traced;

use crate::order::Order;

/// A DynamoDB call failed, or an item is not an order.
#[derive(Debug)]
pub struct StoreError {
    operation: &'static str,
    message: String,
    source: Option<BoxError>,
}

impl StoreError {
    /// A failed call: its message is the service's error code and message when there is one (the SDK's own text is
    /// just "service error"), else the chain of what went wrong (a timeout, a refused connection, ...).
    fn call<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let message = match (error.code(), error.message()) {
            (Some(code), Some(text)) => format!("{code}: {text}"),
            (Some(code), None) => code.to_owned(),
            _ => {
                let mut chain = error.to_string();
                let mut next = std::error::Error::source(&error);
                while let Some(cause) = next {
                    chain = format!("{chain}: {cause}");
                    next = cause.source();
                }
                chain
            }
        };
        Self { operation, message, source: Some(error.into()) }
    }

    fn invalid(operation: &'static str, reason: String) -> Self {
        Self { operation, message: reason, source: None }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.operation, self.message)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Writes `order` to `table`.
#[traced]
pub(crate) async fn save_order(dynamodb: &Client, table: &str, order: &Order) -> Result<(), StoreError> {
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
        .map_err(|e| StoreError::call("PutItem", e))?;
    Ok(())
}

/// Reads the order `order_id` from `table`, if there is one.
#[traced]
pub(crate) async fn load_order(dynamodb: &Client, table: &str, order_id: &str) -> Result<Option<Order>, StoreError> {
    let output = dynamodb
        .get_item()
        .table_name(table)
        .key("order_id", AttributeValue::S(order_id.to_owned()))
        .send()
        .await
        .map_err(|e| StoreError::call("GetItem", e))?;
    output.item.map(|item| from_item(&item)).transpose().map_err(|reason| StoreError::invalid("GetItem", reason))
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
pub async fn create_table(dynamodb: &Client, table: &str) -> Result<(), StoreError> {
    let key = "order_id";
    let definition = AttributeDefinition::builder()
        .attribute_name(key)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| StoreError::invalid("CreateTable", e.to_string()))?;
    let schema = KeySchemaElement::builder()
        .attribute_name(key)
        .key_type(KeyType::Hash)
        .build()
        .map_err(|e| StoreError::invalid("CreateTable", e.to_string()))?;
    dynamodb
        .create_table()
        .table_name(table)
        .attribute_definitions(definition)
        .key_schema(schema)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| StoreError::call("CreateTable", e))?;
    Ok(())
}
