//! A stand-in for an API Gateway REST API stage with Lambda proxy integrations, as `template.yaml` declares them.
//!
//! Each request to `http://{addr}/{stage}/...` is matched against the routes (`POST /orders`,
//! `GET /orders/{id}`: method and resource, `{name}` a path parameter), turned into the proxy event
//! (`ApiGatewayProxyRequest`) and sent to the route's function on the Lambda Invoke API (`xray-local lambda`);
//! the function's `ApiGatewayProxyResponse` becomes the HTTP answer. A path no route matches gets API Gateway's
//! 403 `{"message":"Missing Authentication Token"}`, a function error 502 `{"message":"Internal server error"}`.
//!
//! With tracing on (`TracingEnabled`), the stage does what API Gateway does: it continues the caller's
//! `X-Amzn-Trace-Id` or starts a trace (sampling every request, where API Gateway's default rule takes the first
//! request each second and 5% of the rest; a caller's `Sampled=0` is kept and nothing is sent), invokes the
//! function with a header whose `Parent` is its `Lambda` subsegment, answers with `X-Amzn-Trace-Id:
//! Root=..;Sampled=..`, and sends its `AWS::ApiGateway::Stage` segment when it answers:
//!
//! ```json
//! {"name": "orders/production", "origin": "AWS::ApiGateway::Stage",
//!  "resource_arn": "arn:aws:apigateway:us-east-1::/restapis/{api id}/stages/production",
//!  "http": {"request": {"method": "POST", "url": "http://127.0.0.1:PORT/production/orders", "client_ip": ".."},
//!           "response": {"status": 201}},
//!  "aws": {"api_gateway": {"account_id": "..", "rest_api_id": "..", "stage": "production", "request_id": ".."}},
//!  "subsegments": [{"name": "Lambda", "namespace": "aws",
//!                   "http": {"request": {"method": "POST", "url": "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/arn:aws:lambda:...:function:orders-api/invocations"},
//!                            "response": {"status": 200, "content_length": 321}},
//!                   "aws": {"function_name": "orders-api", "region": "us-east-1", "operation": "Invoke",
//!                           "resource_names": ["orders-api"]}}]}
//! ```
//!
//! (API Gateway also annotates its segment `aws:api_id` and `aws:api_stage`; those keys break the annotation rule
//! the daemon enforces on everyone else, so the stand-in leaves them out.) With tracing off it passes no trace header
//! and sends nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::query_map::QueryMap;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use xray_core::emit::{Emitter, UdpEmitter};
use xray_core::{Sampled, SegmentId, TraceHeader, TraceId};

use crate::lambda::{ACCOUNT_ID, REGION};

/// How long API Gateway waits for a Lambda integration (its default limit).
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// A route of the API: requests with `method` to `resource` (`/orders/{id}`) go to a function.
#[derive(Debug, Clone)]
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The resource path as declared, `{name}` segments being path parameters.
    pub resource: &'static str,
    /// The function's name.
    pub function: &'static str,
    /// Its Invoke API URL.
    pub invoke_url: String,
}

/// The API and its stage.
#[derive(Debug, Clone)]
pub struct ApiSpec {
    /// The API's name (`Name` in the template).
    pub name: &'static str,
    /// The stage (the template's `Environment`).
    pub stage: String,
    /// `TracingEnabled`.
    pub tracing: bool,
    /// Where the stage segment goes.
    pub daemon: SocketAddr,
    /// The routes.
    pub routes: Vec<Route>,
}

struct Api {
    spec: ApiSpec,
    rest_api_id: String,
    client: reqwest::Client,
    emitter: UdpEmitter,
}

/// A running API Gateway stand-in; dropping it stops the server.
#[derive(Debug)]
pub struct Gateway {
    addr: SocketAddr,
    stage: String,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Serves `spec` on a free loopback port.
    pub async fn start(spec: ApiSpec) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let client = reqwest::Client::builder().timeout(INTEGRATION_TIMEOUT).build().map_err(std::io::Error::other)?;
        let stage = spec.stage.clone();
        let api = Api {
            emitter: UdpEmitter::new(spec.daemon),
            spec,
            // Ten lowercase letters and digits, as API Gateway's ids.
            rest_api_id: SegmentId::new().to_string()[..10].to_owned(),
            client,
        };
        let app = axum::Router::new().fallback(handle).with_state(Arc::new(api));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await;
        });
        Ok(Self { addr, stage, task })
    }

    /// The stage's base URL, `http://127.0.0.1:PORT/{stage}`.
    pub fn url(&self) -> String {
        format!("http://{}/{}", self.addr, self.stage)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Seconds since the Unix epoch.
fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Seconds rounded to the microsecond, as X-Ray keeps them.
fn micros(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e6
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, [("content-type", "application/json")], json!({ "message": text }).to_string()).into_response()
}

impl Api {
    /// The route for `method path`, with its path parameters.
    fn route(&self, method: &Method, path: &str) -> Option<(&Route, HashMap<String, String>)> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.spec.routes.iter().filter(|r| r.method == *method).find_map(|route| {
            let pattern: Vec<&str> = route.resource.trim_matches('/').split('/').collect();
            if pattern.len() != parts.len() {
                return None;
            }
            let mut params = HashMap::new();
            for (want, got) in pattern.iter().zip(&parts) {
                match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    Some(name) if !got.is_empty() => drop(params.insert(name.to_owned(), (*got).to_owned())),
                    Some(_) => return None,
                    None if want == got => {}
                    None => return None,
                }
            }
            Some((route, params))
        })
    }

    fn function_arn(&self, function: &str) -> String {
        format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}")
    }
}

/// The trace of one request at the stage.
struct StageTrace {
    /// What the function is invoked with: the Lambda subsegment as `Parent`.
    header: TraceHeader,
    caller: Option<SegmentId>,
    segment: SegmentId,
    lambda: SegmentId,
    /// Whether the stage records (and so sends its segment): always, unless the caller said `Sampled=0`.
    sampled: bool,
}

impl StageTrace {
    /// Continues the caller's header, keeping its `Sampled=0`, or starts a trace.
    fn start(incoming: Option<&str>) -> Self {
        let lambda = SegmentId::new();
        let incoming = incoming.and_then(|text| TraceHeader::parse(text).ok());
        let sampled = incoming.as_ref().is_none_or(|h| h.sampled() != Sampled::No);
        let flag = if sampled { Sampled::Yes } else { Sampled::No };
        let header = match &incoming {
            Some(header) => header.with_parent(lambda).with_sampled(flag),
            None => TraceHeader::new(TraceId::new(), Some(lambda), flag),
        };
        Self { caller: incoming.and_then(|h| h.parent()), header, segment: SegmentId::new(), lambda, sampled }
    }
}

/// What the Lambda integration gave back.
struct Invoked {
    status: u16,
    length: usize,
    function_error: bool,
    response: Option<ApiGatewayProxyResponse>,
}

/// A request as the stage received it.
struct Received {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    client: SocketAddr,
    /// API Gateway's id of the request.
    request_id: String,
    /// The path below the stage (`/orders/7`).
    path: String,
    /// When it arrived, seconds since the epoch.
    start: f64,
}

impl Received {
    /// The URL as the caller wrote it.
    fn url(&self) -> String {
        let host = self.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        format!("http://{host}{}", self.uri)
    }
}

async fn handle(
    State(api): State<Arc<Api>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (start, request_id) = (now(), crate::uuid());
    let path = match uri.path().strip_prefix(&format!("/{}", api.spec.stage)) {
        Some("") => "/".to_owned(),
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => return message(StatusCode::FORBIDDEN, "Missing Authentication Token"),
    };
    let request = Received { method, uri, headers, body, client, request_id, path, start };
    let Some((route, params)) = api.route(&request.method, &request.path) else {
        return message(StatusCode::FORBIDDEN, "Missing Authentication Token");
    };
    let incoming = request.headers.get("x-amzn-trace-id").and_then(|v| v.to_str().ok());
    let trace = api.spec.tracing.then(|| StageTrace::start(incoming));

    let event = proxy_event(&api, route, params, &request, trace.as_ref());
    let invoke_start = now();
    let invoked = invoke(&api, route, &event, trace.as_ref().map(|t| t.header.to_string())).await;
    let invoke_end = now();

    let mut response = match invoked.response.as_ref().filter(|_| !invoked.function_error) {
        Some(proxy) => http_response(proxy),
        None => message(StatusCode::BAD_GATEWAY, "Internal server error"),
    };
    let answer_headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request.request_id) {
        answer_headers.insert(HeaderName::from_static("x-amzn-requestid"), value);
    }
    if let Some(trace) = &trace {
        let flag = if trace.sampled { 1 } else { 0 };
        if let Ok(value) = HeaderValue::from_str(&format!("Root={};Sampled={flag}", trace.header.root())) {
            answer_headers.insert(HeaderName::from_static("x-amzn-trace-id"), value);
        }
    }
    if let Some(trace) = trace.as_ref().filter(|t| t.sampled) {
        let status = response.status().as_u16();
        let segment = stage_segment(&api, trace, route, &request, status, &invoked, [invoke_start, invoke_end]);
        api.emitter.send(segment.to_string().as_bytes());
    }
    response
}

/// The proxy event API Gateway sends for this request.
fn proxy_event(
    api: &Api,
    route: &Route,
    params: HashMap<String, String>,
    request: &Received,
    trace: Option<&StageTrace>,
) -> ApiGatewayProxyRequest {
    let mut headers = request.headers.clone();
    if let Some(value) = trace.and_then(|t| HeaderValue::from_str(&t.header.to_string()).ok()) {
        headers.insert(HeaderName::from_static("x-amzn-trace-id"), value);
    }
    let client_ip = request.client.ip().to_string();
    if let Ok(value) = HeaderValue::from_str(&client_ip) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), value);
    }
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    if let Ok(url) = reqwest::Url::parse(&format!("http://localhost{}", request.uri)) {
        for (key, value) in url.query_pairs() {
            query.entry(key.into_owned()).or_default().push(value.into_owned());
        }
    }
    let mut event = ApiGatewayProxyRequest::default();
    event.resource = Some(route.resource.to_owned());
    event.path = Some(request.path.clone());
    event.http_method = request.method.clone();
    event.multi_value_headers = headers.clone();
    event.headers = headers;
    event.query_string_parameters = QueryMap::from(query.clone());
    event.multi_value_query_string_parameters = QueryMap::from(query);
    event.path_parameters = params;
    event.body = (!request.body.is_empty()).then(|| String::from_utf8_lossy(&request.body).into_owned());
    let context = &mut event.request_context;
    context.account_id = Some(ACCOUNT_ID.to_owned());
    context.apiid = Some(api.rest_api_id.clone());
    context.stage = Some(api.spec.stage.clone());
    context.request_id = Some(request.request_id.clone());
    context.resource_path = Some(route.resource.to_owned());
    context.path = Some(format!("/{}{}", api.spec.stage, request.path));
    context.http_method = request.method.clone();
    context.protocol = Some("HTTP/1.1".to_owned());
    context.request_time_epoch = (request.start * 1000.0) as i64;
    context.identity.source_ip = Some(client_ip);
    event
}

/// Invokes the route's function synchronously, as the Lambda integration does.
async fn invoke(api: &Api, route: &Route, event: &ApiGatewayProxyRequest, header: Option<String>) -> Invoked {
    let failed = Invoked { status: 500, length: 0, function_error: true, response: None };
    let Ok(payload) = serde_json::to_vec(event) else { return failed };
    let mut request = api.client.post(&route.invoke_url).body(payload);
    if let Some(header) = header {
        request = request.header("x-amzn-trace-id", header);
    }
    let Ok(answer) = request.send().await else { return failed };
    let status = answer.status().as_u16();
    let function_error = answer.headers().contains_key("x-amz-function-error");
    let Ok(bytes) = answer.bytes().await else { return Invoked { status, ..failed } };
    let response = serde_json::from_slice::<ApiGatewayProxyResponse>(&bytes).ok();
    Invoked { status, length: bytes.len(), function_error: function_error || status != 200, response }
}

/// The function's proxy response as an HTTP answer.
fn http_response(proxy: &ApiGatewayProxyResponse) -> Response {
    let status = u16::try_from(proxy.status_code).ok().and_then(|s| StatusCode::from_u16(s).ok());
    let Some(status) = status else { return message(StatusCode::BAD_GATEWAY, "Internal server error") };
    let body = match &proxy.body {
        Some(Body::Text(text)) => text.clone().into_bytes(),
        Some(Body::Binary(bytes)) => bytes.clone(),
        Some(Body::Empty) | None => Vec::new(),
        // `Body` may grow variants; an unknown one is not an answer API Gateway could give.
        Some(_) => return message(StatusCode::BAD_GATEWAY, "Internal server error"),
    };
    let mut response = (status, body).into_response();
    for (name, value) in proxy.multi_value_headers.iter().chain(&proxy.headers) {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// The `AWS::ApiGateway::Stage` segment of a request answered with `status`, which invoked the function from
/// `invoke[0]` to `invoke[1]`; it ends now.
fn stage_segment(
    api: &Api,
    trace: &StageTrace,
    route: &Route,
    request: &Received,
    status: u16,
    invoked: &Invoked,
    invoke: [f64; 2],
) -> Value {
    let [start, end] = [request.start, now()].map(micros);
    let [invoke_start, invoke_end] = invoke.map(micros);
    let stage = &api.spec.stage;
    let function_arn = api.function_arn(route.function);
    let mut lambda = json!({
        "id": trace.lambda.to_string(),
        "name": "Lambda",
        "start_time": invoke_start,
        "end_time": invoke_end,
        "namespace": "aws",
        "http": {
            "request": {
                "method": "POST",
                "url": format!("https://lambda.{REGION}.amazonaws.com/2015-03-31/functions/{function_arn}/invocations"),
            },
            "response": {"status": invoked.status, "content_length": invoked.length},
        },
        "aws": {
            "function_name": route.function,
            "region": REGION,
            "operation": "Invoke",
            "resource_names": [route.function],
        },
    });
    if invoked.function_error {
        lambda["fault"] = json!(true);
    }
    let mut segment = json!({
        "name": format!("{}/{stage}", api.spec.name),
        "id": trace.segment.to_string(),
        "trace_id": trace.header.root().to_string(),
        "start_time": start,
        "end_time": end,
        "origin": "AWS::ApiGateway::Stage",
        "resource_arn": format!("arn:aws:apigateway:{REGION}::/restapis/{}/stages/{stage}", api.rest_api_id),
        "http": {
            "request": {
                "method": request.method.as_str(),
                "url": request.url(),
                "client_ip": request.client.ip().to_string(),
            },
            "response": {"status": status},
        },
        "aws": {
            "api_gateway": {
                "account_id": ACCOUNT_ID,
                "rest_api_id": api.rest_api_id,
                "stage": stage,
                "request_id": request.request_id,
            },
        },
        "subsegments": [lambda],
    });
    if let Some(caller) = trace.caller {
        segment["parent_id"] = json!(caller.to_string());
    }
    match status {
        429 => {
            segment["error"] = json!(true);
            segment["throttle"] = json!(true);
        }
        400..=499 => segment["error"] = json!(true),
        500.. => segment["fault"] = json!(true),
        _ => {}
    }
    segment
}
