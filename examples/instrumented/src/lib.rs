//! `instrumented`: a Lambda function written as Rust code already instrumented with `tracing` is written, with no
//! xray-rs macro at all: plain `lambda_runtime`, `#[tracing::instrument]` functions, one DynamoDB call. One line in
//! `main` ([`xray_core::tracing::init_default_subscriber`] with [`xray_core::tracing::layer`]) traces it end to
//! end, and every log line carries `xray_trace_id`:
//!
//! ```text
//! lambda_runtime's span "Lambda runtime invoke"   -> ## handler      ColdStart, Service
//! #[instrument] handler                            -> handler        order_id (annotation)
//! ├─ #[instrument] load_order                      -> load_order
//! │  └─ GetItem through aws_client!                -> DynamoDB       GetItem, table_name (the interceptor's, once)
//! ├─ #[instrument] price (sync)                    -> price
//! └─ tokio::spawn(audit().in_current_span())       -> audit
//! ```
//!
//! Settings (environment): `ORDERS_TABLE`, the AWS SDK's own (`AWS_ENDPOINT_URL` for moto), and
//! `AWS_LAMBDA_LOG_FORMAT=JSON` for JSON logs.
//!
//! ```no_run
//! # async fn demo() -> Result<(), lambda_runtime::Error> {
//! xray_core::tracing::init_default_subscriber(instrumented::layer());
//! let deps = instrumented::Deps::from_env().await?;
//! lambda_runtime::run(lambda_runtime::service_fn(|event| instrumented::handler(&deps, event))).await
//! # }
//! ```
#![warn(missing_docs, unreachable_pub)]

use std::collections::HashMap;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use tracing::{Instrument, info, instrument};

/// The environment variable naming the orders table.
pub const ORDERS_TABLE_ENV: &str = "ORDERS_TABLE";

/// The layer this function records its spans with: `order_id` fields are annotations (searchable in X-Ray).
pub fn layer() -> xray_core::tracing::XRayLayer {
    xray_core::tracing::layer().with_annotations(["order_id"])
}

/// What every invocation shares, built once per process.
#[derive(Debug, Clone)]
pub struct Deps {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl Deps {
    /// An instrumented DynamoDB client for the orders `table`.
    pub fn new(sdk_config: &SdkConfig, table: impl Into<String>) -> Self {
        Self { dynamodb: xray_core::aws_client!(aws_sdk_dynamodb, sdk_config), table: table.into() }
    }

    /// Configured from the environment: `ORDERS_TABLE` and the AWS SDK's own settings.
    pub async fn from_env() -> Result<Self, Error> {
        let table = std::env::var(ORDERS_TABLE_ENV).map_err(|_| format!("{ORDERS_TABLE_ENV} is not set"))?;
        let sdk_config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        Ok(Self::new(&sdk_config, table))
    }
}

/// The event: which order to look at.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Lookup {
    /// The order's id.
    pub order_id: String,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Answer {
    /// The order's id.
    pub order_id: String,
    /// Whether the table holds it.
    pub found: bool,
    /// What it costs, in cents (0 when not found).
    pub total_cents: u64,
}

/// The handler: looks the order up, prices it, and files an audit note on a task of its own.
#[instrument(skip_all, fields(order_id = %event.payload.order_id))]
pub async fn handler(deps: &Deps, event: LambdaEvent<Lookup>) -> Result<Answer, Error> {
    let order_id = event.payload.order_id;
    let item = load_order(deps, &order_id).await?;
    let total_cents = item.as_ref().map_or(0, price);
    // A task of its own: the span it is instrumented with carries the trace there.
    tokio::spawn(audit(order_id.clone()).in_current_span()).await?;
    info!(found = item.is_some(), total_cents, "order looked up");
    Ok(Answer { order_id, found: item.is_some(), total_cents })
}

/// The order's item, if the table holds it.
#[instrument(skip(deps), err)]
async fn load_order(deps: &Deps, order_id: &str) -> Result<Option<HashMap<String, AttributeValue>>, Error> {
    let key = AttributeValue::S(order_id.to_owned());
    let output = deps.dynamodb.get_item().table_name(&deps.table).key("order_id", key).send().await?;
    Ok(output.item)
}

/// The order's total: `quantity` times `unit_cents`, missing attributes read as 0.
#[instrument(skip_all)]
fn price(item: &HashMap<String, AttributeValue>) -> u64 {
    let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u64>().ok());
    number("quantity").unwrap_or(0) * number("unit_cents").unwrap_or(0)
}

/// Logs that the order was looked at.
#[instrument]
async fn audit(order_id: String) {
    tokio::task::yield_now().await;
    info!(%order_id, "audited");
}
