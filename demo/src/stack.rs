//! Everything `template.yaml` deploys, started locally: moto for DynamoDB and SQS, `xray-local daemon` for X-Ray,
//! each function under `xray-local lambda`, the stand-ins for API Gateway, the pricing API, the poller's schedule
//! and the consumer's event source mapping, and what connects them. One [`Stack`] per run; dropping it stops every
//! process it started.
//!
//! The functions and the API's routes are tables ([`functions`], [`routes`]): a function of the template is one
//! more entry in each, a trigger one more stand-in beside the gateway ([`crate::triggers`]), started by
//! [`Stack::start`].

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::Method;
use serde_json::Value;
use xray_tests::moto::Moto;

use crate::binaries::{Binaries, target_dirs};
use crate::daemon::Daemon;
use crate::gateway::{ApiSpec, Gateway, Route};
use crate::lambda::{Emulator, FunctionSpec, REGION};
use crate::pricing::Pricing;
use crate::tap::Tap;
use crate::triggers::{EventSourceMapping, Schedule};
use crate::ui::WebView;

/// The DynamoDB table of the orders (`OrdersTable`).
pub const TABLE: &str = "orders";
/// The DynamoDB table of the fulfilments (`FulfilmentsTable`).
pub const FULFILMENTS_TABLE: &str = "fulfilments";
/// The queue the poller reads on its schedule (`PolledQueue`).
pub const POLLED_QUEUE: &str = "order-events-polled";
/// The queue the consumer's event source mapping reads (`PushedQueue`).
pub const PUSHED_QUEUE: &str = "order-events-pushed";
/// The functions, as the stack names them.
pub const ORDERS_API: &str = "orders-api";
/// See [`ORDERS_API`].
pub const PUBLISHER: &str = "order-publisher";
/// See [`ORDERS_API`].
pub const POLLER: &str = "order-poller";
/// See [`ORDERS_API`].
pub const CONSUMER: &str = "order-consumer";
/// See [`ORDERS_API`]: the function instrumented with `tracing` alone (`examples/instrumented`).
pub const INSTRUMENTED: &str = "order-lookup";
/// How many invocations [`INSTRUMENTED`] runs at once in its one process.
pub const INSTRUMENTED_CONCURRENCY: u32 = 8;
/// The API's name (`OrdersApi`'s `Name`).
pub const API_NAME: &str = "orders";

/// How the stack runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// X-Ray on (the template's `Environment=production`: `TracingEnabled` on the API, `Tracing: Active` on the
    /// functions) or off (`development`: no tracing on the API, `PassThrough` on the functions).
    pub tracing: bool,
    /// Whether to create the orders table; without it every call of `orders-api` to DynamoDB fails.
    pub create_table: bool,
    /// Whether to create the fulfilments table; without it every message the poller and the consumer process
    /// fails.
    pub create_fulfilments_table: bool,
    /// How often the poller's schedule invokes it (`rate(1 minute)` in the template).
    pub poll_every: Duration,
    /// How long the pricing API takes per quote.
    pub pricing_latency: Duration,
    /// Where xray-local keeps its database and the processes their logs; emptied first.
    pub dir: PathBuf,
    /// The functions send OTLP spans (`OTEL_TRACES_EXPORTER=otlp`: `T1S` datagrams to the daemon address) instead
    /// of segment documents; Lambda's and API Gateway's own segments stay documents, as on AWS.
    pub otlp: bool,
    /// Send everything through a [`Tap`] that keeps a copy of each datagram ([`Stack::datagrams`]).
    pub tap: bool,
}

impl Options {
    /// The defaults for a run in `target/demo/{name}`: tracing on, the tables created, 40 ms per quote, the poller
    /// every second.
    pub fn new(name: &str) -> io::Result<Self> {
        let (target, _) = target_dirs()?;
        Ok(Self {
            tracing: true,
            create_table: true,
            create_fulfilments_table: true,
            poll_every: Duration::from_secs(1),
            pricing_latency: Duration::from_millis(40),
            dir: target.join("demo").join(name),
            otlp: false,
            tap: false,
        })
    }

    /// The template's `Environment` for this setting, which is also the API's stage.
    pub fn environment(&self) -> &'static str {
        if self.tracing { "production" } else { "development" }
    }
}

/// What the functions are wired to, as the template's `!Ref`s and parameters wire them.
#[derive(Debug, Clone, Default)]
pub struct Wiring {
    /// The pricing API (`PricingUrl`).
    pub pricing_url: String,
    /// `PolledQueue`'s URL.
    pub polled_queue_url: String,
    /// `PushedQueue`'s URL.
    pub pushed_queue_url: String,
}

/// The functions the stack runs, with the environment `template.yaml` gives them.
pub fn functions(wiring: &Wiring) -> Vec<FunctionSpec> {
    let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let queues = format!("{},{}", wiring.polled_queue_url, wiring.pushed_queue_url);
    vec![
        FunctionSpec {
            name: ORDERS_API,
            package: "orders-api",
            env: env(&[
                ("ORDERS_TABLE", TABLE),
                ("PRICING_URL", &wiring.pricing_url),
                ("ORDER_EVENTS_QUEUE_URLS", &queues),
            ]),
            max_concurrency: None,
        },
        FunctionSpec {
            name: PUBLISHER,
            package: "publisher",
            env: env(&[("ORDER_EVENTS_QUEUE_URLS", &queues)]),
            max_concurrency: None,
        },
        FunctionSpec {
            name: POLLER,
            package: "poller",
            env: env(&[("QUEUE_URL", &wiring.polled_queue_url), ("FULFILMENTS_TABLE", FULFILMENTS_TABLE)]),
            max_concurrency: None,
        },
        FunctionSpec {
            name: CONSUMER,
            package: "consumer",
            env: env(&[("FULFILMENTS_TABLE", FULFILMENTS_TABLE)]),
            max_concurrency: None,
        },
        // `LoggingConfig: {LogFormat: JSON}` in the template: Lambda sets AWS_LAMBDA_LOG_FORMAT.
        FunctionSpec {
            name: INSTRUMENTED,
            package: "instrumented",
            env: env(&[("ORDERS_TABLE", TABLE), ("AWS_LAMBDA_LOG_FORMAT", "JSON")]),
            max_concurrency: Some(INSTRUMENTED_CONCURRENCY),
        },
    ]
}

/// The Invoke API URL of the function `name` among `functions`.
fn invoke_url(functions: &[Emulator], name: &str) -> io::Result<String> {
    let function = functions.iter().find(|f| f.name() == name);
    function.map(Emulator::invoke_url).ok_or_else(|| io::Error::other(format!("no function {name}")))
}

/// The API's routes, as the `Api` events of `template.yaml` declare them.
pub fn routes(functions: &[Emulator]) -> Vec<Route> {
    let route = |method: Method, resource: &'static str, function: &'static str| {
        Some(Route { method, resource, function, invoke_url: invoke_url(functions, function).ok()? })
    };
    [route(Method::POST, "/orders", ORDERS_API), route(Method::GET, "/orders/{id}", ORDERS_API)]
        .into_iter()
        .flatten()
        .collect()
}

/// Runs a step that waits on processes (a build, an install, a start) off the async threads, so a Ctrl-C is
/// handled while it runs.
async fn blocking<T: Send + 'static>(step: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(step).await.map_err(io::Error::other)?
}

/// An answer of the API.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body, as JSON (`Value::Null` if it is not).
    pub body: Value,
    /// The trace id from the `X-Amzn-Trace-Id` answer header, when the request was traced.
    pub trace_id: Option<String>,
    /// Whether the answer header says `Sampled=1`.
    pub sampled: bool,
}

/// Everything running; fields drop (and stop) in this order: the entry points first, the services last.
#[derive(Debug)]
pub struct Stack {
    gateway: Gateway,
    // Held for their `Drop`, which stops them.
    _schedule: Schedule,
    _event_source: EventSourceMapping,
    functions: Vec<Emulator>,
    pricing: Pricing,
    ui: WebView,
    tap: Option<Tap>,
    daemon: Daemon,
    moto: Moto,
    client: reqwest::Client,
    options: Options,
}

impl Stack {
    /// Builds what is needed (`cargo build`, a no-op when up to date), installs moto on first use and starts it
    /// all.
    pub async fn start(options: Options) -> io::Result<Self> {
        let packages: Vec<&'static str> = functions(&Wiring::default()).iter().map(|f| f.package).collect();
        let binaries = blocking(move || Binaries::build(&packages)).await?;

        let _ = std::fs::remove_dir_all(&options.dir);
        let (data_dir, log_dir) = (options.dir.join("xray-local"), options.dir.join("logs"));
        std::fs::create_dir_all(&data_dir)?;

        let moto = blocking(Moto::start).await?;
        let sdk_config = xray_tests::sdk::config(&moto.endpoint);
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
        if options.create_table {
            orders_api::create_table(&dynamodb, TABLE).await.map_err(io::Error::other)?;
        }
        if options.create_fulfilments_table {
            order_events::create_fulfilments_table(&dynamodb, FULFILMENTS_TABLE).await.map_err(io::Error::other)?;
        }
        let sqs = aws_sdk_sqs::Client::new(&sdk_config);
        let create_queue = async |name: &str| {
            let created = sqs.create_queue().queue_name(name).send().await.map_err(io::Error::other)?;
            created.queue_url.ok_or_else(|| io::Error::other("CreateQueue answered no URL"))
        };
        let (polled_queue_url, pushed_queue_url) =
            (create_queue(POLLED_QUEUE).await?, create_queue(PUSHED_QUEUE).await?);
        let (xray_local, logs) = (binaries.xray_local.clone(), log_dir.clone());
        let (ui_data, ui_logs) = (data_dir.clone(), log_dir.clone());
        let daemon = blocking(move || Daemon::start(&xray_local, &data_dir, &logs)).await?;
        let xray_local = binaries.xray_local.clone();
        let ui = blocking(move || WebView::start(&xray_local, &ui_data, &ui_logs)).await?;
        let tap = if options.tap { Some(Tap::start(daemon.addr())?) } else { None };
        let send_to = tap.as_ref().map_or(daemon.addr(), Tap::addr);
        let pricing = Pricing::start(options.pricing_latency).await?;
        // What the functions' AWS SDK needs to reach moto instead of AWS.
        let mut aws_env: Vec<(String, String)> = [
            ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", REGION),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        if options.otlp {
            aws_env.push(("OTEL_TRACES_EXPORTER".into(), "otlp".into()));
        }
        let mut functions_started = Vec::new();
        let wiring =
            Wiring { pricing_url: pricing.url(), polled_queue_url, pushed_queue_url: pushed_queue_url.clone() };
        for spec in functions(&wiring) {
            let (binary, xray_local) = (binaries.function(spec.package), binaries.xray_local.clone());
            let (daemon, active, aws_env, logs) = (send_to, options.tracing, aws_env.clone(), log_dir.clone());
            let emulator =
                blocking(move || Emulator::start(&xray_local, &binary, &spec, daemon, active, &aws_env, &logs)).await?;
            functions_started.push(emulator);
        }
        let gateway = Gateway::start(ApiSpec {
            name: API_NAME,
            stage: options.environment().to_owned(),
            tracing: options.tracing,
            daemon: send_to,
            routes: routes(&functions_started),
        })
        .await?;
        let poller = invoke_url(&functions_started, POLLER)?;
        let schedule = Schedule::start(poller, "order-poller-every-minute", options.poll_every);
        let event_source = EventSourceMapping::start(sqs, pushed_queue_url, invoke_url(&functions_started, CONSUMER)?);
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().map_err(io::Error::other)?;
        Ok(Self {
            gateway,
            _schedule: schedule,
            _event_source: event_source,
            functions: functions_started,
            pricing,
            ui,
            tap,
            daemon,
            moto,
            client,
            options,
        })
    }

    /// The API stage's base URL.
    pub fn api_url(&self) -> String {
        self.gateway.url()
    }

    /// The pricing API's base URL.
    pub fn pricing_url(&self) -> String {
        self.pricing.url()
    }

    /// moto's endpoint.
    pub fn moto_endpoint(&self) -> &str {
        &self.moto.endpoint
    }

    /// Where the order `order_id` has been fulfilled (`poller`, `consumer`), once `expected` places have or after
    /// `timeout`, whichever comes first.
    pub async fn fulfilments(&self, order_id: &str, expected: usize, timeout: Duration) -> io::Result<Vec<String>> {
        let dynamodb = aws_sdk_dynamodb::Client::new(&xray_tests::sdk::config(&self.moto.endpoint));
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let mut via = order_events::fulfilled_via(&dynamodb, FULFILMENTS_TABLE, order_id).await.unwrap_or_default();
            if via.len() >= expected || std::time::Instant::now() > deadline {
                via.sort();
                return Ok(via);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Invokes the function `name` directly (as `aws lambda invoke` does), in the trace of `trace_header` if any.
    pub async fn invoke(&self, name: &str, payload: &Value, trace_header: Option<&str>) -> io::Result<Reply> {
        self.send(self.client.post(invoke_url(&self.functions, name)?), Some(payload), trace_header).await
    }

    /// `xray-local ui` over the daemon's store.
    pub fn ui(&self) -> &WebView {
        &self.ui
    }

    /// Every datagram sent to the daemon so far, with [`Options::tap`]; empty without.
    pub fn datagrams(&self) -> Vec<Vec<u8>> {
        self.tap.as_ref().map(Tap::datagrams).unwrap_or_default()
    }

    /// The X-Ray daemon.
    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    /// The functions.
    pub fn functions(&self) -> &[Emulator] {
        &self.functions
    }

    /// How the stack runs.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Sends `method {stage}{path}` with a JSON `body` to the API.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> io::Result<Reply> {
        self.request_in_trace(method, path, body, None).await
    }

    /// Sends a request as [`Stack::request`] does, in the trace of `trace_header` (`X-Amzn-Trace-Id`), if any.
    pub async fn request_in_trace(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        trace_header: Option<&str>,
    ) -> io::Result<Reply> {
        self.send(self.client.request(method, format!("{}{path}", self.api_url())), body, trace_header).await
    }

    async fn send(
        &self,
        mut request: reqwest::RequestBuilder,
        body: Option<&Value>,
        trace_header: Option<&str>,
    ) -> io::Result<Reply> {
        if let Some(header) = trace_header {
            request = request.header("x-amzn-trace-id", header);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let answer = request.send().await.map_err(io::Error::other)?;
        let status = answer.status().as_u16();
        let header = answer.headers().get("x-amzn-trace-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let trace_id = header.split(';').find_map(|f| f.strip_prefix("Root=")).map(str::to_owned);
        let sampled = header.split(';').any(|f| f == "Sampled=1");
        let bytes = answer.bytes().await.map_err(io::Error::other)?;
        Ok(Reply { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), trace_id, sampled })
    }
}
