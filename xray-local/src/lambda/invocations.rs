//! The invocations between the Invoke API and the function: queued until the runtime asks for one, running until
//! it answers (or fails, or times out), finishing until it asks again (the `Overhead` phase). Also the state of
//! the function's process, so the first invocation a new process takes carries its `Initialization`.
//!
//! Every change wakes whoever waits on [`Hub::changed`]: runtimes polling `/next`, and the supervisor.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::futures::Notified;
use tokio::sync::{Notify, oneshot};
use xray_core::emit::{Emitter, UdpEmitter};
use xray_core::sampling::LocalSampler;

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

/// Shared by the Invoke API, the Runtime API and the supervisor.
pub(crate) struct Hub {
    pub(crate) function: Function,
    sampler: LocalSampler,
    emitter: UdpEmitter,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Default)]
struct State {
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

impl Hub {
    /// A hub sending documents to the function's daemon address.
    pub(crate) fn new(function: Function) -> Self {
        let emitter = UdpEmitter::new(function.daemon_udp);
        Self { function, sampler: LocalSampler::default(), emitter, state: Mutex::default(), changed: Notify::new() }
    }

    /// Resolves once something changes; call `enable` on it before looking at the state to miss nothing.
    pub(crate) fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }

    /// The trace for a new invocation (see [`Trace::start`]).
    pub(crate) fn trace(&self, incoming: Option<&str>) -> (Trace, Option<xray_core::header::HeaderError>) {
        Trace::start(incoming, self.function.sampling, &self.sampler)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the emulator down with it: the state stays usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues an invocation, unless xray-local is stopping.
    pub(crate) fn submit(&self, request: Request) -> Result<(), Stopping> {
        let mut state = self.lock();
        if state.stopping {
            return Err(Stopping);
        }
        state.queue.push_back(request);
        drop(state);
        self.changed.notify_waiters();
        Ok(())
    }

    /// The runtime called `/next`: that ends the `Initialization` of a new process, and the `Overhead` of the
    /// oldest answered invocation.
    pub(crate) fn next_called(&self, now: f64) {
        let mut state = self.lock();
        if let Some(instance) = state.instance.as_mut()
            && instance.ready.is_none()
        {
            instance.ready = Some(now);
        }
        if let Some(finishing) = state.finishing.pop_front() {
            self.finish(finishing, now);
        }
    }

    /// Hands the next queued invocation to the runtime if a slot is free.
    pub(crate) fn try_hand_out(&self, now: f64) -> Option<Handout> {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.stopping || state.running.len() >= self.function.slots() {
            return None;
        }
        let instance = state.instance.as_mut().filter(|i| !i.kill)?;
        let request = state.queue.pop_front()?;
        let init = if instance.cold {
            instance.cold = false;
            Some(Phase { name: "Initialization", start: instance.spawned, end: instance.ready.unwrap_or(now) })
        } else {
            None
        };
        let timeout = self.function.timeout;
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
        state.running.insert(handout.id.clone(), running);
        Some(handout)
    }

    /// The runtime answered an invocation: the caller gets the answer, the service segment ends, `Overhead`
    /// begins.
    pub(crate) fn complete(&self, id: &str, outcome: Outcome, now: f64) -> Result<(), NotRunning> {
        let mut state = self.lock();
        let mut running = state.running.remove(id).ok_or(NotRunning)?;
        let (reply, fault) = match outcome {
            Outcome::Response(body) => (Reply::Response(body), None),
            Outcome::Error { body, cause } => (Reply::FunctionError(body), Some(cause)),
        };
        self.report(&running, now, fault.as_ref());
        self.answer(&mut running.request, reply, now);
        state.finishing.push_back(Finishing { running, responded: now, fault, since: std::time::Instant::now() });
        drop(state);
        self.changed.notify_waiters();
        Ok(())
    }

    /// Closes the `Overhead` of answered invocations whose runtime has not come back within [`OVERHEAD_LIMIT`].
    pub(crate) fn close_overheads(&self, now: f64) {
        let mut state = self.lock();
        while state.finishing.front().is_some_and(|f| f.since.elapsed() >= OVERHEAD_LIMIT) {
            if let Some(finishing) = state.finishing.pop_front() {
                self.finish(finishing, now);
            }
        }
    }

    /// The deadline of an invocation passed: if it still runs, it fails as timed out, and a process that runs one
    /// invocation at a time is replaced, as Lambda resets the environment after a timeout.
    pub(crate) fn timed_out(&self, id: &str, generation: u64, now: f64) {
        let mut state = self.lock();
        if state.running.get(id).is_none_or(|r| r.generation != generation) {
            return;
        }
        if let Some(running) = state.running.remove(id) {
            let seconds = self.function.timeout.as_secs_f64();
            let message = format!("RequestId: {id} Error: Task timed out after {seconds:.2} seconds");
            self.fail(running, "Sandbox.Timedout", &message, now);
        }
        if self.function.slots() == 1
            && let Some(instance) = state.instance.as_mut().filter(|i| i.generation == generation)
        {
            instance.kill = true;
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// The runtime reported that it cannot start (`/runtime/init/error`), whenever it does so: the supervisor
    /// stops the process and the next invocation starts a new one (a cold start). Every invocation running in it
    /// fails at once with the reported error, as does the one waiting for it when it never asked for an invocation;
    /// an answer the runtime posts afterwards gets `InvalidRequestID`.
    pub(crate) fn init_failed(&self, body: Bytes, cause: Value, now: f64) {
        let mut state = self.lock();
        let Some(instance) = state.instance.as_mut() else { return };
        let generation = instance.generation;
        instance.init_error = Some((body.clone(), cause.clone()));
        instance.kill = true;
        let ids: Vec<String> =
            state.running.iter().filter(|(_, r)| r.generation == generation).map(|(id, _)| id.clone()).collect();
        for id in ids {
            if let Some(running) = state.running.remove(&id) {
                self.fail_with(running, body.clone(), &cause, now);
            }
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// The init limit of the process of `generation` passed: unless its runtime has asked for an invocation by
    /// now, it is stopped and the invocation waiting for it fails as timed out.
    pub(crate) fn init_timed_out(&self, generation: u64) {
        let mut state = self.lock();
        let seconds = self.function.init_timeout.as_secs_f64();
        if let Some(instance) =
            state.instance.as_mut().filter(|i| i.generation == generation && i.ready.is_none() && !i.kill)
        {
            let message =
                format!("Error: the runtime did not ask for an invocation within {seconds:.2} seconds (init limit)");
            let cause = segments::cause("Sandbox.Timedout", &message);
            instance.init_error = Some((error_body("Sandbox.Timedout", &message), cause));
            instance.kill = true;
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// Waits until an invocation is queued (true) or xray-local stops (false).
    pub(crate) async fn wait_for_work(&self) -> bool {
        loop {
            let notified = self.changed();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.lock();
                if state.stopping {
                    return false;
                }
                if !state.queue.is_empty() {
                    return true;
                }
            }
            notified.await;
        }
    }

    /// A new process started at `at`; returns its generation.
    pub(crate) fn spawned(&self, at: f64) -> u64 {
        let mut state = self.lock();
        state.generation += 1;
        let generation = state.generation;
        state.instance =
            Some(Instance { generation, spawned: at, ready: None, cold: true, init_error: None, kill: false });
        generation
    }

    /// Whether the process of `generation` should be stopped.
    pub(crate) fn kill_requested(&self, generation: u64) -> bool {
        let state = self.lock();
        state.stopping || state.instance.as_ref().is_none_or(|i| i.generation != generation || i.kill)
    }

    /// The process could not be started: the invocation that wanted it fails.
    pub(crate) fn spawn_failed(&self, problem: &str, started: f64, now: f64) {
        let mut state = self.lock();
        if let Some(request) = state.queue.pop_front() {
            let body = error_body("Runtime.InvalidEntrypoint", problem);
            let cause = segments::cause("Runtime.InvalidEntrypoint", problem);
            self.fail_queued(request, body, &cause, Phase { name: "Initialization", start: started, end: now }, now);
        }
    }

    /// The process ended (`status` says how): what ran in it fails, answered invocations finish, and if it never
    /// got as far as asking for an invocation, the one waiting for it fails with the init error.
    pub(crate) fn exited(&self, status: &str, now: f64) {
        let mut state = self.lock();
        let instance = state.instance.take();
        let stopping = state.stopping;
        let ids: Vec<String> = state.running.keys().cloned().collect();
        for id in ids {
            if let Some(running) = state.running.remove(&id) {
                let message = if stopping {
                    format!("RequestId: {id} Error: xray-local stopped the function")
                } else {
                    format!("RequestId: {id} Error: Runtime exited with error: {status}")
                };
                self.fail(running, "Runtime.ExitError", &message, now);
            }
        }
        while let Some(finishing) = state.finishing.pop_front() {
            self.finish(finishing, now);
        }
        if let Some(instance) = instance
            && instance.ready.is_none()
            && !stopping
            && let Some(request) = state.queue.pop_front()
        {
            let (body, cause) = instance.init_error.unwrap_or_else(|| {
                let message = format!("RequestId: {} Error: Runtime exited with error: {status}", request.id);
                (error_body("Runtime.ExitError", &message), segments::cause("Runtime.ExitError", &message))
            });
            let init = Phase { name: "Initialization", start: instance.spawned, end: now };
            self.fail_queued(request, body, &cause, init, now);
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// xray-local stops: queued invocations are answered at once and nothing new is taken.
    pub(crate) fn stop(&self, now: f64) {
        let mut state = self.lock();
        state.stopping = true;
        while let Some(mut request) = state.queue.pop_front() {
            self.answer(&mut request, Reply::Stopped, now);
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// Ends a running invocation as failed.
    fn fail(&self, running: Running, error_type: &str, message: &str, now: f64) {
        let cause = segments::cause(error_type, message);
        self.fail_with(running, error_body(error_type, message), &cause, now);
    }

    /// Ends a running invocation as failed with the error document `body`.
    fn fail_with(&self, mut running: Running, body: Bytes, cause: &Value, now: f64) {
        self.report(&running, now, Some(cause));
        self.answer(&mut running.request, Reply::FunctionError(body), now);
        let phases: Vec<Phase> =
            running.init.into_iter().chain([Phase { name: "Invocation", start: running.handed, end: now }]).collect();
        self.emit(
            &running.request.trace,
            segments::function(&self.function, &running.request.trace, &phases, Some(cause)),
        );
    }

    /// Fails an invocation that never reached the function, whose process failed to start.
    fn fail_queued(&self, mut request: Request, body: Bytes, cause: &Value, init: Phase, now: f64) {
        crate::render::warn(format_args!(
            "{} {} failed before it started: {}; {}",
            self.function.name,
            request.id,
            segments_message(cause),
            request.trace.header
        ));
        self.answer(&mut request, Reply::FunctionError(body), now);
        self.emit(&request.trace, segments::function(&self.function, &request.trace, &[init], Some(cause)));
    }

    /// Sends the caller its answer and the service segment.
    fn answer(&self, request: &mut Request, reply: Reply, now: f64) {
        if let Some(sender) = request.reply.take() {
            // A caller that hung up no longer wants the answer.
            let _ = sender.send(reply);
        }
        self.emit(
            &request.trace,
            segments::service(&self.function, &request.trace, &request.id, request.received, now),
        );
    }

    /// Closes `Overhead` and sends the function segment.
    fn finish(&self, finishing: Finishing, now: f64) {
        let Finishing { running, responded, fault, .. } = finishing;
        let phases: Vec<Phase> = running
            .init
            .into_iter()
            .chain([
                Phase { name: "Invocation", start: running.handed, end: responded },
                Phase { name: "Overhead", start: responded, end: now },
            ])
            .collect();
        let doc = segments::function(&self.function, &running.request.trace, &phases, fault.as_ref());
        self.emit(&running.request.trace, doc);
    }

    fn emit(&self, trace: &Trace, doc: Value) {
        if trace.sampled
            && let Ok(bytes) = serde_json::to_vec(&doc)
        {
            self.emitter.send(&bytes);
        }
    }

    /// One line per invocation on stderr, like Lambda's `REPORT` log line.
    fn report(&self, running: &Running, now: f64, fault: Option<&Value>) {
        let millis = |seconds: f64| seconds * 1000.0;
        let init =
            running.init.map(|p| format!(" Init Duration: {:.2} ms", millis(p.end - p.start))).unwrap_or_default();
        let status = fault.map(|c| format!(" Error: {}", segments_message(c))).unwrap_or_default();
        crate::render::warn(format_args!(
            "{} REPORT RequestId: {} Duration: {:.2} ms{init}{status} Trace: {}",
            self.function.name,
            running.request.id,
            millis(now - running.handed),
            running.request.trace.header
        ));
    }
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
    use super::*;
    use std::time::Duration;
    use xray_core::testing::UdpCollector;

    fn hub() -> (Hub, UdpCollector) {
        let collector = UdpCollector::bind().expect("bind");
        let mut function = Function::for_tests("orders");
        function.daemon_udp = collector.addr().expect("addr");
        (Hub::new(function), collector)
    }

    fn submit(hub: &Hub, id: &str) -> oneshot::Receiver<Reply> {
        let (sender, receiver) = oneshot::channel();
        let request = Request {
            id: id.into(),
            payload: Bytes::from_static(b"{}"),
            trace: hub.trace(None).0,
            received: 9.0,
            invoked_arn: hub.function.arn.clone(),
            client_context: None,
            cognito_identity: None,
            reply: Some(sender),
        };
        assert_eq!(hub.submit(request), Ok(()));
        receiver
    }

    fn documents(collector: &UdpCollector) -> Vec<Value> {
        collector.collect(Duration::from_millis(200), Duration::from_secs(5)).expect("datagrams")
    }

    fn phases(doc: &Value) -> Vec<(String, f64, f64)> {
        let list = doc["subsegments"].as_array().cloned().unwrap_or_default();
        list.iter()
            .map(|s| {
                let time = |k: &str| s[k].as_f64().unwrap_or(-1.0);
                (s["name"].as_str().unwrap_or("").to_owned(), time("start_time"), time("end_time"))
            })
            .collect()
    }

    #[test]
    fn invocations_go_out_in_order_within_the_slots_and_overhead_ends_at_the_next_poll() {
        let (hub, collector) = hub();
        let (mut a, mut b) = (submit(&hub, "a"), submit(&hub, "b"));
        assert_eq!(hub.try_hand_out(10.0).map(|h| h.id), None, "no process yet");
        let generation = hub.spawned(10.0);
        hub.next_called(10.25);
        let first = hub.try_hand_out(10.25).expect("a is handed out");
        assert_eq!((first.id.as_str(), first.generation), ("a", generation));
        assert_eq!(first.deadline_ms, 13_250, "handed out + the 3 s timeout");
        assert!(hub.try_hand_out(10.25).is_none(), "one slot");
        assert_eq!(hub.complete("a", Outcome::Response(Bytes::from_static(b"\"A\"")), 10.5), Ok(()));
        assert_eq!(hub.complete("a", Outcome::Response(Bytes::new()), 10.5), Err(NotRunning), "answered already");
        assert_eq!(a.try_recv(), Ok(Reply::Response(Bytes::from_static(b"\"A\""))));
        hub.next_called(10.75);
        assert_eq!(hub.try_hand_out(10.75).map(|h| h.id).as_deref(), Some("b"));
        assert!(b.try_recv().is_err(), "b still runs");

        let docs = documents(&collector);
        assert_eq!(docs.len(), 2, "a's service and function segments: {docs:#?}");
        assert_eq!((docs[0]["origin"].as_str(), docs[0]["end_time"].as_f64()), (Some("AWS::Lambda"), Some(10.5)));
        let expected = [("Initialization", 10.0, 10.25), ("Invocation", 10.25, 10.5), ("Overhead", 10.5, 10.75)];
        let expected: Vec<(String, f64, f64)> = expected.iter().map(|(n, s, e)| (n.to_string(), *s, *e)).collect();
        assert_eq!(phases(&docs[1]), expected);
    }

    #[test]
    fn a_runtime_init_error_fails_the_waiting_invocation_with_the_runtime_s_error() {
        let (hub, collector) = hub();
        let mut waiting = submit(&hub, "a");
        let generation = hub.spawned(10.0);
        assert!(!hub.kill_requested(generation));
        let body = Bytes::from_static(br#"{"errorType":"Runtime.InitError","errorMessage":"no table"}"#);
        hub.init_failed(body.clone(), segments::runtime_cause(None, &body), 10.4);
        assert!(hub.kill_requested(generation), "the supervisor stops the process");
        hub.exited("exit status 1", 10.5);
        assert_eq!(waiting.try_recv(), Ok(Reply::FunctionError(body)));

        let docs = documents(&collector);
        let function = docs.iter().find(|d| d["origin"] == "AWS::Lambda::Function").expect("function segment");
        assert_eq!(phases(function), [("Initialization".to_owned(), 10.0, 10.5)]);
        assert_eq!(function["fault"], true);
        assert_eq!(function["cause"]["exceptions"][0]["message"], "no table");
    }

    #[test]
    fn an_init_error_during_an_invocation_fails_it_at_once_and_restarts_the_process() {
        // Guards issue 18 point 17: an init/error while an invocation ran left its outcome to a race between the
        // process exiting, the supervisor killing it and the runtime still answering.
        let (hub, collector) = hub();
        let mut running = submit(&hub, "a");
        let mut queued = submit(&hub, "b");
        let generation = hub.spawned(10.0);
        hub.next_called(10.1);
        assert_eq!(hub.try_hand_out(10.1).map(|h| h.id).as_deref(), Some("a"));
        let body = Bytes::from_static(br#"{"errorType":"Runtime.InitError","errorMessage":"lost the table"}"#);
        hub.init_failed(body.clone(), segments::runtime_cause(None, &body), 10.3);
        assert_eq!(running.try_recv(), Ok(Reply::FunctionError(body)), "answered at once with the runtime's error");
        assert!(hub.kill_requested(generation), "the process is stopped");
        assert_eq!(hub.complete("a", Outcome::Response(Bytes::new()), 10.4), Err(NotRunning), "a late answer");
        assert!(hub.try_hand_out(10.4).is_none(), "nothing more goes to the failed process");
        hub.exited("signal: 9 (SIGKILL)", 10.5);
        assert!(queued.try_recv().is_err(), "b waits for the next process, which polled before");
        hub.spawned(11.0);
        hub.next_called(11.2);
        let next = hub.try_hand_out(11.2).expect("b goes to the new process");
        assert_eq!(next.id, "b");
        let docs = documents(&collector);
        let function = docs.iter().find(|d| d["origin"] == "AWS::Lambda::Function").expect("function segment");
        assert_eq!(function["fault"], true);
        assert_eq!(function["cause"]["exceptions"][0]["message"], "lost the table");
        assert_eq!(
            phases(function),
            [("Initialization".to_owned(), 10.0, 10.1), ("Invocation".to_owned(), 10.1, 10.3)]
        );
    }

    #[test]
    fn a_process_that_never_polls_is_stopped_at_the_init_limit() {
        let (hub, _collector) = hub();
        let mut waiting = submit(&hub, "a");
        let generation = hub.spawned(10.0);
        hub.init_timed_out(generation);
        assert!(hub.kill_requested(generation));
        hub.exited("signal: terminated", 20.0);
        let Ok(Reply::FunctionError(body)) = waiting.try_recv() else { panic!("an error answer") };
        let error: Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(error["errorType"], "Sandbox.Timedout");
        // A process that did poll in time is left alone.
        let _next = submit(&hub, "b");
        let generation = hub.spawned(30.0);
        hub.next_called(30.1);
        hub.init_timed_out(generation);
        assert!(!hub.kill_requested(generation));
    }

    #[test]
    fn a_timeout_fails_the_invocation_and_replaces_a_one_at_a_time_process() {
        let (hub, collector) = hub();
        let mut slow = submit(&hub, "a");
        let generation = hub.spawned(10.0);
        hub.next_called(10.1);
        assert!(hub.try_hand_out(10.1).is_some());
        hub.timed_out("a", generation, 13.1);
        let Ok(Reply::FunctionError(body)) = slow.try_recv() else { panic!("an error answer") };
        assert!(String::from_utf8_lossy(&body).contains("Task timed out after 3.00 seconds"));
        assert!(hub.kill_requested(generation));
        assert_eq!(hub.complete("a", Outcome::Response(Bytes::new()), 14.0), Err(NotRunning), "too late");
        let docs = documents(&collector);
        let function = docs.iter().find(|d| d["origin"] == "AWS::Lambda::Function").expect("function segment");
        assert_eq!(function["fault"], true);
        assert_eq!(phases(function).len(), 2, "Initialization and Invocation, no Overhead");
    }

    #[test]
    fn stopping_answers_what_waits_and_takes_nothing_new() {
        let (hub, _collector) = hub();
        let mut waiting = submit(&hub, "a");
        hub.stop(11.0);
        assert_eq!(waiting.try_recv(), Ok(Reply::Stopped));
        let (sender, _receiver) = oneshot::channel();
        let late = Request {
            id: "b".into(),
            payload: Bytes::new(),
            trace: hub.trace(None).0,
            received: 12.0,
            invoked_arn: String::new(),
            client_context: None,
            cognito_identity: None,
            reply: Some(sender),
        };
        assert_eq!(hub.submit(late), Err(Stopping));
        assert!(hub.kill_requested(1));
    }
}
