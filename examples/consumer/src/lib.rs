//! `consumer`: a Lambda function invoked by an SQS event source mapping (batches of up to 10 order events) that
//! fulfils each event, writing to DynamoDB, and reports the messages it could not process as partial batch
//! failures, so that only those are delivered again.
//!
//! Lambda starts a trace of its own for each batch. `#[traced_subscribe]` on the function that handles one record
//! puts that record's processing in the trace that sent it, under the `SendMessage` call, read from the record's
//! `attributes.AWSTraceHeader`; records of one batch may come from many traces, and each goes to its own. The event
//! is typed (`SqsEventObj<OrderEvent>`): every body is an order event by the time the handler runs, so the trace
//! travels in the attribute, not in a body envelope (the price: one body that is not an order event fails the
//! deserialization of the whole batch, and all of its records are delivered again; see [`handler`]):
//!
//! ```text
//! the publisher's trace                           this invocation's trace
//! publish_order_event                             ## handler        ColdStart, Service
//! └─ SQS  SendMessage
//!    └─ order-consumer   message_id, queue        a record that fails marks only its own segment: fault, cause
//!       ├─ <queue> wait  SentTimestamp -> processing
//!       └─ fulfil        order_id
//!          └─ DynamoDB   PutItem, table_name
//! ```
//!
//! The event source mapping needs `FunctionResponseTypes: [ReportBatchItemFailures]` (see `template.yaml`).
//! Settings (environment): `FULFILMENTS_TABLE`, and the AWS SDK's own (`AWS_ENDPOINT_URL` for moto).
//!
//! ```no_run
//! use lambda_runtime::{Error, run, service_fn};
//!
//! # async fn demo() -> Result<(), Error> {
//! let deps = consumer::Deps::from_env().await?;
//! run(service_fn(|event| consumer::handler(&deps, event))).await
//! # }
//! ```
#![warn(missing_docs, unreachable_pub)]

use aws_config::{BehaviorVersion, SdkConfig};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEventObj, SqsMessageObj};
use futures::future::join_all;
use lambda_runtime::{Error, LambdaEvent};
use order_events::{FULFILMENTS_TABLE_ENV, FulfilError, OrderEvent, fulfil, setting};
use xray_core::sqs::batch_response;
use xray_core::{traced_handler, traced_subscribe};

/// How the fulfilments of this function are marked (`via`).
pub const VIA: &str = "consumer";

/// What every invocation shares, built once per process.
#[derive(Debug, Clone)]
pub struct Deps {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl Deps {
    /// An instrumented DynamoDB client for the fulfilments `table`.
    pub fn new(sdk_config: &SdkConfig, table: impl Into<String>) -> Self {
        Self { dynamodb: xray_core::aws_client!(aws_sdk_dynamodb, sdk_config), table: table.into() }
    }

    /// Configured from the environment: `FULFILMENTS_TABLE` and the AWS SDK's own settings.
    pub async fn from_env() -> Result<Self, Error> {
        let table = setting(FULFILMENTS_TABLE_ENV)?;
        let sdk_config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Ok(Self::new(&sdk_config, table))
    }
}

/// Fulfils every record of the batch concurrently, each in its own context, and answers with the ones that failed.
///
/// The event is typed: `lambda_runtime` deserializes every record's body as an [`OrderEvent`] before this runs, so
/// a body that is not one fails the whole invocation, not just its record: every record of the batch, the good ones
/// too, is delivered again, until the bad one goes to the dead-letter queue (the trade-off of a typed consumer; an
/// untyped `SqsEvent` can report the one bad record instead). The producers' trace header travels in an attribute
/// (`AWSTraceHeader`), never in a body envelope.
#[traced_handler]
pub async fn handler(deps: &Deps, event: LambdaEvent<SqsEventObj<OrderEvent>>) -> Result<SqsBatchResponse, Error> {
    let records = event.payload.records.iter();
    let results =
        join_all(records.map(|record| async move { (record.message_id.clone(), process(deps, record).await) }));
    let results = results.await;
    for (id, result) in &results {
        if let Err(error) = result {
            eprintln!("consumer: message {} failed: {error}", id.as_deref().unwrap_or("?"));
        }
    }
    Ok(batch_response(results))
}

/// Fulfils one record, in the trace of the `SendMessage` that sent it (read from its `AWSTraceHeader` attribute).
#[traced_subscribe]
async fn process(deps: &Deps, record: &SqsMessageObj<OrderEvent>) -> Result<(), FulfilError> {
    // `fulfil` checks the event's type and version as it does for the poller's bodies.
    fulfil(&deps.dynamodb, &deps.table, Some(&record.body.to_body()), VIA).await?;
    Ok(())
}
