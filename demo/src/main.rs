//! `cargo run -p demo [-- --tracing off] [--no-table] [--keep-running]`: see the crate docs and the README.

use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use demo::stack::{CONSUMER, Options, POLLED_QUEUE, POLLER, PUSHED_QUEUE, Reply, Stack};
use http::Method;
use serde_json::json;

/// Runs the example functions locally behind API Gateway and pricing API stand-ins, against moto, sends an order
/// through the API and shows its X-Ray trace.
#[derive(Debug, Parser)]
#[command(name = "demo")]
struct Args {
    /// X-Ray on (as the template's Environment=production) or off (Environment=development).
    #[arg(long, value_enum, default_value = "on")]
    tracing: Tracing,
    /// Do not create the orders table, to see how a failing DynamoDB call shows in the trace (the API answers 500).
    #[arg(long)]
    no_table: bool,
    /// Do not create the fulfilments table, to see how a message that cannot be processed shows in the trace.
    #[arg(long)]
    no_fulfilments_table: bool,
    /// Keep everything running after the order, until Ctrl-C, to send requests of your own.
    #[arg(long)]
    keep_running: bool,
    /// The functions send OpenTelemetry spans (OTEL_TRACES_EXPORTER=otlp, T1S datagrams) instead of segment
    /// documents; xray-local translates them, so the trace shows the same.
    #[arg(long)]
    otlp: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Tracing {
    On,
    Off,
}

fn say(text: &str) {
    println!("demo: {text}");
}

fn show(reply: &Reply) {
    println!("      -> {} {}", reply.status, reply.body);
}

async fn run(args: Args) -> io::Result<()> {
    let started = Instant::now();
    let tracing = args.tracing == Tracing::On;
    let mut options = Options::new(if tracing { "tracing-on" } else { "tracing-off" })?;
    options.tracing = tracing;
    options.create_table = !args.no_table;
    options.create_fulfilments_table = !args.no_fulfilments_table;
    options.otlp = args.otlp;
    let environment = options.environment();
    say(&format!(
        "examples/template.yaml with Environment={environment}: X-Ray {}",
        if tracing { "on (TracingEnabled, Tracing: Active)" } else { "off (no TracingEnabled, Tracing: PassThrough)" }
    ));
    let stack = Stack::start(options).await?;
    let daemon = stack.daemon();
    let tables = match (args.no_table, args.no_fulfilments_table) {
        (false, false) => "tables `orders` and `fulfilments`",
        (true, false) => "table `fulfilments` (no `orders`: --no-table)",
        (false, true) => "table `orders` (no `fulfilments`: --no-fulfilments-table)",
        (true, true) => "no tables",
    };
    say(&format!(
        "moto (DynamoDB, SQS) at {}, {tables}, queues `{POLLED_QUEUE}` and `{PUSHED_QUEUE}`",
        stack.moto_endpoint()
    ));
    say(&format!("xray-local daemon on udp://{}, data in {}", daemon.addr(), data_dir(&stack)));
    if args.otlp {
        say("the functions send OTLP spans (OTEL_TRACES_EXPORTER=otlp), Lambda and API Gateway segment documents");
    }
    say(&format!("pricing API stand-in at {} (40 ms per quote)", stack.pricing_url()));
    for function in stack.functions() {
        say(&format!("{} under xray-local lambda: {}", function.name(), function.invoke_url()));
    }
    say(&format!("API Gateway stand-in: stage {environment} at {}", stack.api_url()));
    say(&format!(
        "schedule stand-in: invokes {POLLER} every {} s; SQS event source mapping stand-in: `{PUSHED_QUEUE}` -> {CONSUMER}",
        stack.options().poll_every.as_secs_f64()
    ));

    let order = json!({"customer_id": "c-42", "sku": "book", "quantity": 2});
    say(&format!("POST /{environment}/orders {order}"));
    let placed = stack.request(Method::POST, "/orders", Some(&order)).await?;
    show(&placed);
    let expected = if args.no_table { 500 } else { 201 };
    if placed.status != expected {
        return Err(io::Error::other(format!("expected {expected}; the logs are in {}", log_dir(&stack))));
    }
    let order_id = placed.body["order_id"].as_str().unwrap_or_default().to_owned();
    if !order_id.is_empty() {
        say(&format!("GET /{environment}/orders/{order_id}"));
        show(&stack.request(Method::GET, &format!("/orders/{order_id}"), None).await?);
        let expected = if args.no_fulfilments_table { 0 } else { 2 };
        let via = stack.fulfilments(&order_id, expected, Duration::from_secs(30)).await?;
        say(&format!(
            "the order event went to `{POLLED_QUEUE}` and `{PUSHED_QUEUE}`; fulfilments stored in DynamoDB: {}",
            if via.is_empty() { "none".to_owned() } else { via.join(", ") }
        ));
        if via.len() != expected {
            return Err(io::Error::other(format!(
                "expected {expected} fulfilments; the logs are in {}",
                log_dir(&stack)
            )));
        }
    }

    if tracing {
        let trace_id = placed.trace_id.clone().ok_or_else(|| io::Error::other("the API answered no trace id"))?;
        // With an order placed, its events' processing (the poller's and the consumer's segments) is in this trace.
        let consumers: &[&str] = if order_id.is_empty() { &[] } else { &[POLLER, CONSUMER] };
        daemon.complete_tree_with(&trace_id, consumers, Duration::from_secs(30)).await?;
        say(&format!("the trace of the POST, as `xray-local show {trace_id}` prints it:\n"));
        daemon.print_waterfall(&trace_id)?;
        println!();
        say(&format!("the order's trace in the browser (xray-local ui): {}", stack.ui().trace_url(&trace_id)));
    } else {
        // Anything sent would have arrived by now: everything is on loopback.
        tokio::time::sleep(Duration::from_millis(500)).await;
        say("no trace id in the answer, and the X-Ray daemon received:");
    }
    let (documents, invalid) = daemon.counts()?;
    say(&format!(
        "{documents} segment documents stored{}, {invalid} refused",
        if args.otlp { " (spans translated to documents among them)" } else { "" }
    ));
    if invalid > 0 || (!tracing && documents > 0) {
        return Err(io::Error::other(format!(
            "unexpected documents; see `xray-local --data-dir {}`",
            data_dir(&stack)
        )));
    }

    if args.keep_running {
        let dir = data_dir(&stack);
        say("running until Ctrl-C; try:");
        println!("  curl -i -d '{order}' {}/orders", stack.api_url());
        println!("  cargo run -p xray-rs-local -- --data-dir {dir} traces");
        println!("  cargo run -p xray-rs-local -- --data-dir {dir} show <trace id>");
        println!("  open {} (the traces), {}map (the service map)", stack.ui().url(), stack.ui().url());
        std::future::pending::<()>().await;
    }
    say("stopping moto, xray-local and the functions");
    drop(stack);
    say(&format!("done in {:.1} s", started.elapsed().as_secs_f64()));
    Ok(())
}

fn data_dir(stack: &Stack) -> String {
    shown(stack.daemon().data_dir())
}

fn log_dir(stack: &Stack) -> String {
    shown(&stack.options().dir.join("logs"))
}

/// `path`, relative to the current directory when it is inside it.
fn shown(path: &std::path::Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("demo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        tokio::select! {
            // Listening before anything starts, so a Ctrl-C at any point stops what has been started.
            biased;
            () = interrupted() => {
                eprintln!("demo: interrupted; stopping everything it started");
                ExitCode::from(130)
            }
            result = run(args) => match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("demo: {e}");
                    ExitCode::FAILURE
                }
            },
        }
    });
    // A step still running off the async threads (a build, moto's install) is left to finish; what it started is
    // stopped when its result is dropped.
    runtime.shutdown_timeout(Duration::from_secs(10));
    code
}
