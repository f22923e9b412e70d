//! `orders-api`: a `lambda_http` function behind an API Gateway REST API (proxy integration) that places orders,
//! priced by an external pricing API over HTTP and stored in DynamoDB, traced with X-Ray so its trace answers "where does
//! the latency come from: our code, DynamoDB, or the API we call?".
//!
//! | route | answer |
//! |---|---|
//! | `POST /orders` `{"customer_id": "c-1", "sku": "book", "quantity": 2}` | 201 with the stored order: priced by `GET {PRICING_URL}/quotes?sku=..&quantity=..`, written with DynamoDB `PutItem` |
//! | `GET /orders/{id}` | 200 with the order (`GetItem`), or 404 |
//!
//! Bad input answers 400, an unknown SKU 422, a failing pricing API 502 and a failing DynamoDB 500; the handler
//! never returns `Err`, so API Gateway always gets one of these answers.
//!
//! What the trace shows, under Lambda's function segment:
//!
//! ```text
//! ## handler                  annotations ColdStart, Service, order_id, customer_id; error on 4xx, fault on 5xx
//! ├─ quote                    annotation sku: our call to the pricing API, fault when it fails
//! │  └─ <pricing host>        remote: method, URL, status (from xray_core::http::XRayMiddleware)
//! ├─ save_order               fault when the order could not be stored
//! │  └─ DynamoDB              aws: PutItem, table_name, request_id (from xray_core::aws_client!)
//! └─ publish_order_event      with ORDER_EVENTS_QUEUE_URLS: the OrderPlaced event (crate order-events)
//!    └─ SQS                   aws: SendMessage, queue_url; the consumers' segments hang under it
//! ```
//!
//! Settings (environment): `ORDERS_TABLE` (the table), `PRICING_URL` (the pricing API's base URL),
//! `ORDER_EVENTS_QUEUE_URLS` (optional: queues that get an `OrderPlaced` event per order, comma-separated), and the
//! usual AWS ones (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` to point the clients at moto locally).
//!
//! ```no_run
//! use lambda_http::{Error, run, service_fn};
//!
//! # async fn demo() -> Result<(), Error> {
//! let deps = orders_api::Deps::from_env().await?;
//! run(service_fn(|request| orders_api::handler(&deps, request))).await
//! # }
//! ```
#![warn(missing_docs, unreachable_pub)]

mod order;
mod pricing;
mod store;

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use http::Method;
use http::header::{CONTENT_TYPE, HeaderValue};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request, RequestExt, Response};
use order_events::setting;
use reqwest_middleware::ClientWithMiddleware;
use serde_json::json;
use xray_core::{put_annotation, traced_handler};

pub use order::{NewOrder, Order};
pub use order_events::{CallError, OrderEvent};
pub use pricing::{PricingError, Quote};
pub use store::create_table;

/// Environment variable naming the DynamoDB table.
pub const TABLE_ENV: &str = "ORDERS_TABLE";
/// Environment variable holding the pricing API's base URL.
pub const PRICING_URL_ENV: &str = "PRICING_URL";

/// How long a call to the pricing API may take before the order fails with 502 (well inside Lambda's timeout).
const PRICING_TIMEOUT: Duration = Duration::from_secs(2);

/// What every invocation shares: the instrumented clients and their settings, built once per process.
#[derive(Debug, Clone)]
pub struct Deps {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    http: ClientWithMiddleware,
    table: String,
    pricing_url: String,
    event_queues: Vec<String>,
}

impl Deps {
    /// Clients for `table` and the pricing API at `pricing_url`, from an AWS SDK config.
    pub fn new(sdk_config: &SdkConfig, table: impl Into<String>, pricing_url: impl Into<String>) -> Self {
        // Neither fails: building only fails for a TLS setup the default client does not use.
        let client = reqwest::Client::builder().timeout(PRICING_TIMEOUT).build().unwrap_or_default();
        Self {
            // Every DynamoDB call a subsegment, the trace header on every attempt.
            dynamodb: xray_core::aws_client!(aws_sdk_dynamodb, sdk_config),
            sqs: xray_core::aws_client!(aws_sdk_sqs, sdk_config),
            // Every HTTP request a `remote` subsegment, the trace header on every request.
            http: reqwest_middleware::ClientBuilder::new(client).with(xray_core::http::XRayMiddleware::new()).build(),
            table: table.into(),
            pricing_url: pricing_url.into(),
            event_queues: Vec::new(),
        }
    }

    /// The same, also sending an `OrderPlaced` event ([`OrderEvent`]) to each of `queue_urls` for every order placed.
    pub fn publishing_to(mut self, queue_urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.event_queues = queue_urls.into_iter().map(Into::into).collect();
        self
    }

    /// Clients configured from the environment: `ORDERS_TABLE`, `PRICING_URL`, `ORDER_EVENTS_QUEUE_URLS` (optional)
    /// and the AWS SDK's own settings.
    pub async fn from_env() -> Result<Self, Error> {
        let (table, pricing_url) = (setting(TABLE_ENV)?, setting(PRICING_URL_ENV)?);
        let queues = order_events::queue_urls_from_env();
        let sdk_config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Ok(Self::new(&sdk_config, table, pricing_url).publishing_to(queues))
    }
}

/// Why a request did not get its order.
#[derive(Debug)]
enum Failure {
    BadRequest(String),
    NotFound,
    UnknownSku(String),
    Pricing(PricingError),
    Store(CallError),
    Publish(CallError),
}

impl Failure {
    fn into_response(self) -> Response<Body> {
        let (status, message) = match self {
            Self::BadRequest(reason) => (400, reason),
            Self::NotFound => (404, "not found".to_owned()),
            Self::UnknownSku(sku) => (422, format!("no price for sku `{sku}`")),
            // The details go to the log (and the trace), not to the caller.
            Self::Pricing(error) => {
                eprintln!("orders-api: pricing failed: {error}");
                (502, "the pricing service failed".to_owned())
            }
            Self::Store(error) => {
                eprintln!("orders-api: storing failed: {error}");
                (500, "the order could not be stored".to_owned())
            }
            Self::Publish(error) => {
                eprintln!("orders-api: publishing the order event failed: {error}");
                (500, "the order was stored but could not be announced".to_owned())
            }
        };
        respond(status, &json!({ "message": message }))
    }
}

/// Answers an API Gateway proxy request, as `lambda_http` hands it over; see the [crate docs](crate) for the routes
/// and the trace.
#[traced_handler]
pub async fn handler(deps: &Deps, request: Request) -> Result<Response<Body>, Error> {
    // The route as declared in the API (template.yaml), with its `{id}` placeholder, and API Gateway's request id.
    let (resource, request_id) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => (context.resource_path.clone(), context.request_id.clone()),
        _ => (None, None),
    };
    let outcome = match (request.method(), resource.as_deref()) {
        (&Method::POST, Some("/orders")) => place_order(deps, &request, request_id).await,
        (&Method::GET, Some("/orders/{id}")) => get_order(deps, &request).await,
        _ => Err(Failure::NotFound),
    };
    let response = outcome.unwrap_or_else(Failure::into_response);
    // As on the segment of an HTTP server: the handler's subsegment says how the request ended.
    let handler = xray_core::handler();
    match response.status().as_u16() {
        400..=499 => handler.mark_error(),
        500.. => handler.mark_fault(),
        _ => {}
    }
    Ok(response)
}

async fn place_order(
    deps: &Deps,
    request: &Request,
    api_request_id: Option<String>,
) -> Result<Response<Body>, Failure> {
    let body = match request.body() {
        Body::Binary(_) => return Err(Failure::BadRequest("expected a JSON body, not a binary one".into())),
        Body::Text(text) => text.as_str(),
        _ => "",
    };
    let new = NewOrder::parse(body).map_err(Failure::BadRequest)?;
    // API Gateway's request id names the order: unique, and the same in the API's access log; else Lambda's.
    let order_id = api_request_id
        .filter(|id| !id.is_empty())
        .or_else(|| request.lambda_context_ref().map(|context| context.request_id.clone()))
        .unwrap_or_default();
    put_annotation("order_id", order_id.clone());
    put_annotation("customer_id", new.customer_id.clone());
    let quote = pricing::quote(&deps.http, &deps.pricing_url, &new.sku, new.quantity)
        .await
        .map_err(Failure::Pricing)?
        .ok_or_else(|| Failure::UnknownSku(new.sku.clone()))?;
    let order = Order::priced(order_id, new, &quote);
    store::save_order(&deps.dynamodb, &deps.table, &order).await.map_err(Failure::Store)?;
    if !deps.event_queues.is_empty() {
        let event = order.placed_event();
        order_events::publish_order_event(&deps.sqs, &deps.event_queues, &event).await.map_err(Failure::Publish)?;
    }
    Ok(respond(201, &order.to_json()))
}

async fn get_order(deps: &Deps, request: &Request) -> Result<Response<Body>, Failure> {
    let parameters = request.path_parameters_ref();
    let id = parameters.and_then(|p| p.first("id")).filter(|id| !id.is_empty()).ok_or(Failure::NotFound)?;
    put_annotation("order_id", id.to_owned());
    match store::load_order(&deps.dynamodb, &deps.table, id).await.map_err(Failure::Store)? {
        Some(order) => Ok(respond(200, &order.to_json())),
        None => Err(Failure::NotFound),
    }
}

fn respond(status: u16, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    // Every status used here is valid; an invalid one would leave 200, never panic.
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
