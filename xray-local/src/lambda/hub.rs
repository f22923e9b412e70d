//! The emulator's state behind a lock, shared by the Invoke API, the Runtime API and the supervisor: each call runs
//! one transition of [`Invocations`] under the lock, then, with the lock released, performs the effects it
//! returned (answers callers, sends segment documents, writes lines on stderr) and wakes whoever waits on
//! [`Hub::changed`]: runtimes polling `/next`, and the supervisor.

use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use xray_core::emit::{Emitter, UdpEmitter};
use xray_core::sampling::LocalSampler;

use super::function::Function;
use super::invocations::{Effect, Effects, Handout, Invocations, NotRunning, Outcome, Request, Stopping};
use super::trace::Trace;

/// Shared by the Invoke API, the Runtime API and the supervisor.
pub(crate) struct Hub {
    pub(crate) function: Function,
    sampler: LocalSampler,
    emitter: UdpEmitter,
    state: Mutex<Invocations>,
    changed: Notify,
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

    fn lock(&self) -> MutexGuard<'_, Invocations> {
        // A panic elsewhere must not take the emulator down with it: the state stays usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `transition` under the lock, then performs its effects and wakes the waiters, the lock released.
    fn apply<R>(&self, transition: impl FnOnce(&mut Invocations, &Function) -> (R, Effects)) -> R {
        let (result, effects) = transition(&mut self.lock(), &self.function);
        self.perform(effects);
        self.changed.notify_waiters();
        result
    }

    fn perform(&self, effects: Effects) {
        for effect in effects {
            match effect {
                // A caller that hung up no longer wants the answer.
                Effect::Answer(to, reply) => drop(to.send(reply)),
                Effect::Send(doc) => self.send(&doc),
                Effect::Log(line) => crate::render::warn(line),
            }
        }
    }

    fn send(&self, doc: &Value) {
        if let Ok(bytes) = serde_json::to_vec(doc) {
            self.emitter.send(&bytes);
        }
    }

    /// Queues an invocation, unless xray-local is stopping.
    pub(crate) fn submit(&self, request: Request) -> Result<(), Stopping> {
        self.apply(|s, _| (s.submit(request), Effects::new()))
    }

    /// The runtime called `/next` (see [`Invocations::next_called`]).
    pub(crate) fn next_called(&self, now: f64) {
        self.apply(|s, f| ((), s.next_called(f, now)));
    }

    /// Hands the next queued invocation to the runtime if a slot is free.
    pub(crate) fn try_hand_out(&self, now: f64) -> Option<Handout> {
        self.lock().try_hand_out(&self.function, now)
    }

    /// The runtime answered an invocation (see [`Invocations::complete`]).
    pub(crate) fn complete(&self, id: &str, outcome: Outcome, now: f64) -> Result<(), NotRunning> {
        self.apply(|s, f| match s.complete(f, id, outcome, now) {
            Ok(effects) => (Ok(()), effects),
            Err(not_running) => (Err(not_running), Effects::new()),
        })
    }

    /// Closes overdue `Overhead`s (see [`Invocations::close_overheads`]).
    pub(crate) fn close_overheads(&self, now: f64) {
        self.apply(|s, f| ((), s.close_overheads(f, now)));
    }

    /// The deadline of an invocation passed (see [`Invocations::timed_out`]).
    pub(crate) fn timed_out(&self, id: &str, generation: u64, now: f64) {
        self.apply(|s, f| ((), s.timed_out(f, id, generation, now)));
    }

    /// The runtime posted `/runtime/init/error` (see [`Invocations::init_failed`]).
    pub(crate) fn init_failed(&self, body: Bytes, cause: Value, now: f64) {
        self.apply(|s, f| ((), s.init_failed(f, body, cause, now)));
    }

    /// The init limit of the process of `generation` passed (see [`Invocations::init_timed_out`]).
    pub(crate) fn init_timed_out(&self, generation: u64) {
        self.apply(|s, f| (s.init_timed_out(f, generation), Effects::new()));
    }

    /// Waits until an invocation is queued (true) or xray-local stops (false).
    pub(crate) async fn wait_for_work(&self) -> bool {
        loop {
            let notified = self.changed();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(work) = self.lock().work() {
                return work;
            }
            notified.await;
        }
    }

    /// A new process started at `at`; returns its generation.
    pub(crate) fn spawned(&self, at: f64) -> u64 {
        self.lock().spawned(at)
    }

    /// Whether the process of `generation` should be stopped.
    pub(crate) fn kill_requested(&self, generation: u64) -> bool {
        self.lock().kill_requested(generation)
    }

    /// The process could not be started (see [`Invocations::spawn_failed`]).
    pub(crate) fn spawn_failed(&self, problem: &str, started: f64, now: f64) {
        self.apply(|s, f| ((), s.spawn_failed(f, problem, started, now)));
    }

    /// The process ended (see [`Invocations::exited`]).
    pub(crate) fn exited(&self, status: &str, now: f64) {
        self.apply(|s, f| ((), s.exited(f, status, now)));
    }

    /// xray-local stops (see [`Invocations::stop`]).
    pub(crate) fn stop(&self, now: f64) {
        self.apply(|s, f| ((), s.stop(f, now)));
    }
}

#[cfg(test)]
mod tests {
    //! The transitions through the shell: effects performed, documents sent over a real UDP socket.
    use super::*;
    use crate::lambda::invocations::Reply;
    use crate::lambda::segments;
    use serde_json::Value;
    use std::time::Duration;
    use tokio::sync::oneshot;
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
