//! The invocations between the Invoke API and the function, as a state machine: queued until the runtime asks for
//! one, running until it answers (or fails, or times out), finishing until it asks again (the `Overhead` phase).
//! Also the state of the function's process, so the first invocation a new process takes carries its
//! `Initialization`.
//!
//! [`Invocations`] does no I/O: each transition changes the state and returns what is to be done about it, as
//! [`Effect`]s (answer a caller, send a segment document, write a line on stderr), which [`super::hub::Hub`]
//! performs after it has released the lock. So the transitions are tested without sockets, and no caller, socket
//! or stderr is ever waited on while the state is locked.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::function::Function;
use super::segments::{self, Phase};
use super::trace::Trace;

/// How long a response's `Overhead` waits for the runtime's next `/next` before it is closed anyway.
pub(crate) const OVERHEAD_LIMIT: Duration = Duration::from_secs(1);

/// An invocation as the Invoke API hands it in.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) id: String,
    pub(crate) payload: Bytes,
    pub(crate) trace: Trace,
    /// When the Invoke API received it (seconds since the epoch).
    pub(crate) received: f64,
    pub(crate) invoked_arn: String,
    pub(crate) client_context: Option<String>,
    pub(crate) cognito_identity: Option<String>,
    /// Where the outcome goes; `None` for `Event` invocations, whose caller does not wait.
    pub(crate) reply: Option<oneshot::Sender<Reply>>,
}

/// What the caller of the Invoke API gets.
#[derive(Debug, PartialEq)]
pub(crate) enum Reply {
    /// The function's response.
    Response(Bytes),
    /// The function failed; the error document, sent with `X-Amz-Function-Error: Unhandled`.
    FunctionError(Bytes),
    /// xray-local is stopping.
    Stopped,
}

/// How the runtime ended an invocation.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `POST .../response`.
    Response(Bytes),
    /// `POST .../error`, with the error document and its cause.
    Error { body: Bytes, cause: Value },
}

/// An invocation handed to the runtime, as `/next` answers it.
#[derive(Debug)]
pub(crate) struct Handout {
    pub(crate) id: String,
    pub(crate) payload: Bytes,
    pub(crate) deadline_ms: u64,
    pub(crate) deadline: tokio::time::Instant,
    pub(crate) invoked_arn: String,
    pub(crate) trace_header: String,
    pub(crate) client_context: Option<String>,
    pub(crate) cognito_identity: Option<String>,
    pub(crate) generation: u64,
}

/// xray-local is stopping and takes no more invocations.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Stopping;

/// The runtime named a request id that is not running (unknown, answered already, or timed out).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotRunning;

/// What a transition asks its caller to do, in order, once the state is unlocked.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Answer the caller waiting on the Invoke API (who may have hung up).
    Answer(oneshot::Sender<Reply>, Reply),
    /// Send a segment document (of a sampled trace) to the daemon.
    Send(Value),
    /// Write a line on stderr: a `REPORT` line, an invocation that failed before it started.
    Log(String),
}

/// The effects of one transition.
pub(crate) type Effects = Vec<Effect>;

/// The invocations and the function's process.
#[derive(Default)]
pub(crate) struct Invocations {
    queue: VecDeque<Request>,
    running: HashMap<String, Running>,
    finishing: VecDeque<Finishing>,
    instance: Option<Instance>,
    generation: u64,
    stopping: bool,
}

/// The function's process.
struct Instance {
    generation: u64,
    spawned: f64,
    /// When the runtime first asked for an invocation: the end of `Initialization`.
    ready: Option<f64>,
    /// Whether `Initialization` is still to be attached to an invocation.
    cold: bool,
    /// What the runtime posted to `/runtime/init/error`.
    init_error: Option<(Bytes, Value)>,
    /// The supervisor should stop this process.
    kill: bool,
}

struct Running {
    request: Request,
    handed: f64,
    init: Option<Phase>,
    generation: u64,
}

struct Finishing {
    running: Running,
    responded: f64,
    fault: Option<Value>,
    since: std::time::Instant,
}

impl Invocations {
    /// Queues an invocation, unless xray-local is stopping.
    pub(crate) fn submit(&mut self, request: Request) -> Result<(), Stopping> {
        if self.stopping {
            return Err(Stopping);
        }
        self.queue.push_back(request);
        Ok(())
    }

    /// The runtime called `/next`: that ends the `Initialization` of a new process, and the `Overhead` of the
    /// oldest answered invocation.
    pub(crate) fn next_called(&mut self, f: &Function, now: f64) -> Effects {
        let mut fx = Effects::new();
        if let Some(instance) = self.instance.as_mut()
            && instance.ready.is_none()
        {
            instance.ready = Some(now);
        }
        if let Some(finishing) = self.finishing.pop_front() {
            finish(f, finishing, now, &mut fx);
        }
        fx
    }

    /// Hands the next queued invocation to the runtime if a slot is free.
    pub(crate) fn try_hand_out(&mut self, f: &Function, now: f64) -> Option<Handout> {
        if self.stopping || self.running.len() >= f.slots() {
            return None;
        }
        let instance = self.instance.as_mut().filter(|i| !i.kill)?;
        let request = self.queue.pop_front()?;
        let init = if instance.cold {
            instance.cold = false;
            Some(Phase { name: "Initialization", start: instance.spawned, end: instance.ready.unwrap_or(now) })
        } else {
            None
        };
        let timeout = f.timeout;
        let handout = Handout {
            id: request.id.clone(),
            payload: request.payload.clone(),
            deadline_ms: ((now + timeout.as_secs_f64()) * 1000.0) as u64,
            deadline: tokio::time::Instant::now() + timeout,
            invoked_arn: request.invoked_arn.clone(),
            trace_header: request.trace.header.to_string(),
            client_context: request.client_context.clone(),
            cognito_identity: request.cognito_identity.clone(),
            generation: instance.generation,
        };
        let running = Running { request, handed: now, init, generation: instance.generation };
        self.running.insert(handout.id.clone(), running);
        Some(handout)
    }

    /// The runtime answered an invocation: the caller gets the answer, the service segment ends, `Overhead`
    /// begins.
    pub(crate) fn complete(
        &mut self,
        f: &Function,
        id: &str,
        outcome: Outcome,
        now: f64,
    ) -> Result<Effects, NotRunning> {
        let mut fx = Effects::new();
        let mut running = self.running.remove(id).ok_or(NotRunning)?;
        let (reply, fault) = match outcome {
            Outcome::Response(body) => (Reply::Response(body), None),
            Outcome::Error { body, cause } => (Reply::FunctionError(body), Some(cause)),
        };
        report(f, &running, now, fault.as_ref(), &mut fx);
        answer(f, &mut running.request, reply, now, &mut fx);
        self.finishing.push_back(Finishing { running, responded: now, fault, since: std::time::Instant::now() });
        Ok(fx)
    }

    /// Closes the `Overhead` of answered invocations whose runtime has not come back within [`OVERHEAD_LIMIT`].
    pub(crate) fn close_overheads(&mut self, f: &Function, now: f64) -> Effects {
        let mut fx = Effects::new();
        while self.finishing.front().is_some_and(|f| f.since.elapsed() >= OVERHEAD_LIMIT) {
            if let Some(finishing) = self.finishing.pop_front() {
                finish(f, finishing, now, &mut fx);
            }
        }
        fx
    }

    /// The deadline of an invocation passed: if it still runs, it fails as timed out, and a process that runs one
    /// invocation at a time is replaced, as Lambda resets the environment after a timeout.
    pub(crate) fn timed_out(&mut self, f: &Function, id: &str, generation: u64, now: f64) -> Effects {
        let mut fx = Effects::new();
        if self.running.get(id).is_none_or(|r| r.generation != generation) {
            return fx;
        }
        if let Some(running) = self.running.remove(id) {
            let seconds = f.timeout.as_secs_f64();
            let message = format!("RequestId: {id} Error: Task timed out after {seconds:.2} seconds");
            fail(f, running, "Sandbox.Timedout", &message, now, &mut fx);
        }
        if f.slots() == 1
            && let Some(instance) = self.instance.as_mut().filter(|i| i.generation == generation)
        {
            instance.kill = true;
        }
        fx
    }

    /// The runtime reported that it cannot start (`/runtime/init/error`), whenever it does so: the supervisor
    /// stops the process and the next invocation starts a new one (a cold start). Every invocation running in it
    /// fails at once with the reported error, as does the one waiting for it when it never asked for an invocation;
    /// an answer the runtime posts afterwards gets `InvalidRequestID`.
    pub(crate) fn init_failed(&mut self, f: &Function, body: Bytes, cause: Value, now: f64) -> Effects {
        let mut fx = Effects::new();
        let Some(instance) = self.instance.as_mut() else { return fx };
        let generation = instance.generation;
        instance.init_error = Some((body.clone(), cause.clone()));
        instance.kill = true;
        let ids: Vec<String> =
            self.running.iter().filter(|(_, r)| r.generation == generation).map(|(id, _)| id.clone()).collect();
        for id in ids {
            if let Some(running) = self.running.remove(&id) {
                fail_with(f, running, body.clone(), &cause, now, &mut fx);
            }
        }
        fx
    }

    /// The init limit of the process of `generation` passed: unless its runtime has asked for an invocation by
    /// now, it is stopped and the invocation waiting for it fails as timed out.
    pub(crate) fn init_timed_out(&mut self, f: &Function, generation: u64) {
        let seconds = f.init_timeout.as_secs_f64();
        if let Some(instance) =
            self.instance.as_mut().filter(|i| i.generation == generation && i.ready.is_none() && !i.kill)
        {
            let message =
                format!("Error: the runtime did not ask for an invocation within {seconds:.2} seconds (init limit)");
            let cause = segments::cause("Sandbox.Timedout", &message);
            instance.init_error = Some((error_body("Sandbox.Timedout", &message), cause));
            instance.kill = true;
        }
    }

    /// Whether there is work for a process (true), or xray-local stops (false); `None`: neither yet.
    pub(crate) fn work(&self) -> Option<bool> {
        if self.stopping {
            Some(false)
        } else if !self.queue.is_empty() {
            Some(true)
        } else {
            None
        }
    }

    /// A new process started at `at`; returns its generation.
    pub(crate) fn spawned(&mut self, at: f64) -> u64 {
        self.generation += 1;
        let generation = self.generation;
        self.instance =
            Some(Instance { generation, spawned: at, ready: None, cold: true, init_error: None, kill: false });
        generation
    }

    /// Whether the process of `generation` should be stopped.
    pub(crate) fn kill_requested(&self, generation: u64) -> bool {
        self.stopping || self.instance.as_ref().is_none_or(|i| i.generation != generation || i.kill)
    }

    /// The process could not be started: the invocation that wanted it fails.
    pub(crate) fn spawn_failed(&mut self, f: &Function, problem: &str, started: f64, now: f64) -> Effects {
        let mut fx = Effects::new();
        if let Some(request) = self.queue.pop_front() {
            let body = error_body("Runtime.InvalidEntrypoint", problem);
            let cause = segments::cause("Runtime.InvalidEntrypoint", problem);
            let init = Phase { name: "Initialization", start: started, end: now };
            fail_queued(f, request, body, &cause, init, now, &mut fx);
        }
        fx
    }

    /// The process ended (`status` says how): what ran in it fails, answered invocations finish, and if it never
    /// got as far as asking for an invocation, the one waiting for it fails with the init error.
    pub(crate) fn exited(&mut self, f: &Function, status: &str, now: f64) -> Effects {
        let mut fx = Effects::new();
        let instance = self.instance.take();
        let stopping = self.stopping;
        let ids: Vec<String> = self.running.keys().cloned().collect();
        for id in ids {
            if let Some(running) = self.running.remove(&id) {
                let message = if stopping {
                    format!("RequestId: {id} Error: xray-local stopped the function")
                } else {
                    format!("RequestId: {id} Error: Runtime exited with error: {status}")
                };
                fail(f, running, "Runtime.ExitError", &message, now, &mut fx);
            }
        }
        while let Some(finishing) = self.finishing.pop_front() {
            finish(f, finishing, now, &mut fx);
        }
        if let Some(instance) = instance
            && instance.ready.is_none()
            && !stopping
            && let Some(request) = self.queue.pop_front()
        {
            let (body, cause) = instance.init_error.unwrap_or_else(|| {
                let message = format!("RequestId: {} Error: Runtime exited with error: {status}", request.id);
                (error_body("Runtime.ExitError", &message), segments::cause("Runtime.ExitError", &message))
            });
            let init = Phase { name: "Initialization", start: instance.spawned, end: now };
            fail_queued(f, request, body, &cause, init, now, &mut fx);
        }
        fx
    }

    /// xray-local stops: queued invocations are answered at once and nothing new is taken.
    pub(crate) fn stop(&mut self, f: &Function, now: f64) -> Effects {
        let mut fx = Effects::new();
        self.stopping = true;
        while let Some(mut request) = self.queue.pop_front() {
            answer(f, &mut request, Reply::Stopped, now, &mut fx);
        }
        fx
    }
}

/// Ends a running invocation as failed.
fn fail(f: &Function, running: Running, error_type: &str, message: &str, now: f64, fx: &mut Effects) {
    let cause = segments::cause(error_type, message);
    fail_with(f, running, error_body(error_type, message), &cause, now, fx);
}

/// Ends a running invocation as failed with the error document `body`.
fn fail_with(f: &Function, mut running: Running, body: Bytes, cause: &Value, now: f64, fx: &mut Effects) {
    report(f, &running, now, Some(cause), fx);
    answer(f, &mut running.request, Reply::FunctionError(body), now, fx);
    let phases: Vec<Phase> =
        running.init.into_iter().chain([Phase { name: "Invocation", start: running.handed, end: now }]).collect();
    let trace = &running.request.trace;
    send(trace, segments::function(f, trace, &phases, Some(cause)), fx);
}

/// Fails an invocation that never reached the function, whose process failed to start.
fn fail_queued(
    f: &Function,
    mut request: Request,
    body: Bytes,
    cause: &Value,
    init: Phase,
    now: f64,
    fx: &mut Effects,
) {
    fx.push(Effect::Log(format!(
        "{} {} failed before it started: {}; {}",
        f.name,
        request.id,
        segments_message(cause),
        request.trace.header
    )));
    answer(f, &mut request, Reply::FunctionError(body), now, fx);
    send(&request.trace, segments::function(f, &request.trace, &[init], Some(cause)), fx);
}

/// The caller's answer and the service segment.
fn answer(f: &Function, request: &mut Request, reply: Reply, now: f64, fx: &mut Effects) {
    if let Some(sender) = request.reply.take() {
        fx.push(Effect::Answer(sender, reply));
    }
    send(&request.trace, segments::service(f, &request.trace, &request.id, request.received, now), fx);
}

/// Closes `Overhead`: the function segment.
fn finish(f: &Function, finishing: Finishing, now: f64, fx: &mut Effects) {
    let Finishing { running, responded, fault, .. } = finishing;
    let phases: Vec<Phase> = running
        .init
        .into_iter()
        .chain([
            Phase { name: "Invocation", start: running.handed, end: responded },
            Phase { name: "Overhead", start: responded, end: now },
        ])
        .collect();
    send(&running.request.trace, segments::function(f, &running.request.trace, &phases, fault.as_ref()), fx);
}

/// A document to send, if its trace is sampled.
fn send(trace: &Trace, doc: Value, fx: &mut Effects) {
    if trace.sampled {
        fx.push(Effect::Send(doc));
    }
}

/// One line per invocation on stderr, like Lambda's `REPORT` log line.
fn report(f: &Function, running: &Running, now: f64, fault: Option<&Value>, fx: &mut Effects) {
    let millis = |seconds: f64| seconds * 1000.0;
    let init = running.init.map(|p| format!(" Init Duration: {:.2} ms", millis(p.end - p.start))).unwrap_or_default();
    let status = fault.map(|c| format!(" Error: {}", segments_message(c))).unwrap_or_default();
    fx.push(Effect::Log(format!(
        "{} REPORT RequestId: {} Duration: {:.2} ms{init}{status} Trace: {}",
        f.name,
        running.request.id,
        millis(now - running.handed),
        running.request.trace.header
    )));
}

/// The document Lambda answers a failed invocation with.
pub(crate) fn error_body(error_type: &str, message: &str) -> Bytes {
    Bytes::from(json!({"errorType": error_type, "errorMessage": message}).to_string())
}

/// `type: message` of a cause's first exception.
fn segments_message(cause: &Value) -> String {
    let exception = &cause["exceptions"][0];
    format!("{}: {}", exception["type"].as_str().unwrap_or("error"), exception["message"].as_str().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    //! The state machine alone: no socket, no runtime, no lock; the effects are looked at as returned.
    use super::*;

    fn request(id: &str, sampled: bool) -> (Request, oneshot::Receiver<Reply>) {
        let (sender, receiver) = oneshot::channel();
        let mut trace =
            Trace::start(None, super::super::trace::Sampling::Always, &xray_core::sampling::LocalSampler::default()).0;
        trace.sampled = sampled;
        let request = Request {
            id: id.into(),
            payload: Bytes::from_static(b"{}"),
            trace,
            received: 9.0,
            invoked_arn: String::new(),
            client_context: None,
            cognito_identity: None,
            reply: Some(sender),
        };
        (request, receiver)
    }

    /// The effects in short: `answer:<reply>`, `send:<origin>`, `log:<first words>`.
    fn kinds(fx: &Effects) -> Vec<String> {
        fx.iter()
            .map(|e| match e {
                Effect::Answer(_, Reply::Response(_)) => "answer:response".to_owned(),
                Effect::Answer(_, Reply::FunctionError(_)) => "answer:error".to_owned(),
                Effect::Answer(_, Reply::Stopped) => "answer:stopped".to_owned(),
                Effect::Send(doc) => format!("send:{}", doc["origin"].as_str().unwrap_or("?")),
                Effect::Log(line) => format!("log:{}", line.split(" RequestId").next().unwrap_or("")),
            })
            .collect()
    }

    #[test]
    fn an_answer_is_a_report_line_the_caller_s_reply_and_the_service_segment_then_overhead_at_the_next_poll() {
        let f = Function::for_tests("orders");
        let mut state = Invocations::default();
        let (a, _reply) = request("a", true);
        assert_eq!(state.submit(a), Ok(()));
        state.spawned(10.0);
        assert!(kinds(&state.next_called(&f, 10.25)).is_empty());
        assert_eq!(state.try_hand_out(&f, 10.25).map(|h| h.id).as_deref(), Some("a"));
        let fx = state.complete(&f, "a", Outcome::Response(Bytes::from_static(b"1")), 10.5).expect("running");
        assert_eq!(kinds(&fx), ["log:orders REPORT", "answer:response", "send:AWS::Lambda"]);
        let Some(Effect::Log(line)) = fx.first() else { panic!("a REPORT line first") };
        assert!(line.contains("Duration: 250.00 ms Init Duration: 250.00 ms"), "{line}");
        assert!(state.complete(&f, "a", Outcome::Response(Bytes::new()), 10.6).is_err(), "answered already");
        assert_eq!(kinds(&state.next_called(&f, 10.75)), ["send:AWS::Lambda::Function"]);
    }

    #[test]
    fn an_unsampled_trace_answers_and_reports_but_sends_nothing() {
        let f = Function::for_tests("orders");
        let mut state = Invocations::default();
        let (a, _reply) = request("a", false);
        assert_eq!(state.submit(a), Ok(()));
        state.spawned(10.0);
        assert!(state.try_hand_out(&f, 10.1).is_some());
        assert_eq!(kinds(&state.timed_out(&f, "a", 1, 13.1)), ["log:orders REPORT", "answer:error"]);
        assert!(state.kill_requested(1), "a one-at-a-time process is replaced after a timeout");
    }

    #[test]
    fn a_crash_fails_what_runs_finishes_what_answered_and_stop_answers_what_waits() {
        let f = Function { max_concurrency: Some(2), ..Function::for_tests("orders") };
        let mut state = Invocations::default();
        let replies: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|id| {
                let (r, reply) = request(id, true);
                assert_eq!(state.submit(r), Ok(()));
                reply
            })
            .collect();
        state.spawned(10.0);
        state.next_called(&f, 10.1);
        assert!(state.try_hand_out(&f, 10.1).is_some() && state.try_hand_out(&f, 10.1).is_some());
        assert!(state.try_hand_out(&f, 10.1).is_none(), "two slots");
        state.complete(&f, "a", Outcome::Response(Bytes::new()), 10.2).expect("running");
        let fx = state.exited(&f, "signal: killed", 10.3);
        assert_eq!(
            kinds(&fx),
            [
                "log:orders REPORT",
                "answer:error",
                "send:AWS::Lambda",
                "send:AWS::Lambda::Function",
                "send:AWS::Lambda::Function"
            ],
            "b fails (report, answer, both segments); a's Overhead closes"
        );
        assert_eq!(state.work(), Some(true), "c waits for the next process");
        assert_eq!(kinds(&state.stop(&f, 11.0)), ["answer:stopped", "send:AWS::Lambda"]);
        assert_eq!(state.work(), Some(false));
        drop(replies);
    }

    #[test]
    fn a_process_that_cannot_start_fails_the_invocation_that_wanted_it_with_a_line_saying_why() {
        let f = Function::for_tests("orders");
        let mut state = Invocations::default();
        let (a, _reply) = request("a", true);
        assert_eq!(state.submit(a), Ok(()));
        let fx = state.spawn_failed(&f, "cannot start ./missing: No such file", 10.0, 10.1);
        assert_eq!(kinds(&fx)[1..], ["answer:error", "send:AWS::Lambda", "send:AWS::Lambda::Function"]);
        let Some(Effect::Log(line)) = fx.first() else { panic!("a line first") };
        assert!(
            line.starts_with("orders a failed before it started: Runtime.InvalidEntrypoint: cannot start"),
            "{line}"
        );
        assert_eq!(state.work(), None, "nothing waits any more");
    }
}
