//! The daemon: a receiving thread (read, check, assemble), a storing thread (SQLite, status, `--follow`) and an
//! optional forwarding thread, joined by queues bounded in bytes, so a slow database never stalls the socket and
//! a flood never takes more memory than the bound.
//!
//! Its parts, in the order a datagram meets them: [`receive`] (the socket), [`protocol`] (the header line: a segment
//! document, or OTLP spans that [`crate::otlp`] turns into documents), [`validate`] (the segment document rules),
//! [`assembler`] (which trace is complete), then [`queue`] to the storing thread ([`crate::store`]), to [`forward`]
//! and to [`forward_otlp`]; [`otlp_http`] takes spans over OTLP/HTTP the same way; [`stats`] counts what each did.

pub mod assembler;
pub mod forward;
pub mod forward_otlp;
mod otlp_http;
pub mod protocol;
pub mod queue;
pub mod receive;
pub mod stats;
pub mod validate;

use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::assemble::Tree;
use crate::otlp;
use crate::render;
use crate::store::lock::DirLock;
use crate::store::{NewDocument, NewInvalid, Store, now_secs};
use assembler::{Arrival, Assembler};
use forward::Outgoing;
use protocol::{FrameError, Payload};
use queue::{Receiver, Sender};
use stats::{Snapshot, Stats};

/// What `--follow` does with each settled trace.
pub type OnSettled = Box<dyn FnMut(&Tree) + Send>;

/// How the daemon runs.
pub struct Config {
    /// Where to listen for datagrams.
    pub bind: SocketAddr,
    /// Directory of the database.
    pub data_dir: PathBuf,
    /// Also forward every valid document to the X-Ray API.
    pub forward: bool,
    /// Where to take OTLP/HTTP requests (`POST /v1/traces`), if anywhere.
    pub otlp_http: Option<SocketAddr>,
    /// Also forward every complete document as OTLP/HTTP protobuf spans to this URL (e.g.
    /// `http://127.0.0.1:4318/v1/traces`).
    pub forward_otlp: Option<String>,
    /// Called with each trace once it settles (`--follow`).
    pub on_settled: Option<OnSettled>,
    /// Quiet time after which a trace with nothing in progress counts as complete.
    pub settle: Duration,
    /// Quiet time after which a trace counts as done even with documents in progress.
    pub give_up: Duration,
    /// Delete traces not updated for this long (checked at start and hourly); `None` keeps everything.
    pub retention: Option<Duration>,
    /// Print the status line this often (and always on exit); `None` only on exit.
    pub status_every: Option<Duration>,
    /// Receive buffer to ask for.
    pub recv_buffer: usize,
    /// Room in the queue to the database, and in the one to the forwarder, in bytes. What does not fit is counted
    /// as dropped.
    pub queue_bytes: usize,
    /// How many refused datagrams the database keeps; older ones are deleted.
    pub invalid_rows: usize,
    /// The most bytes the database may use; beyond it the least recently updated traces are deleted. `None`: no
    /// bound but `retention`.
    pub max_db_bytes: Option<u64>,
}

/// The default of [`Config::max_db_bytes`]: 1 GiB, room for about a million small traces.
pub const DEFAULT_MAX_DB_BYTES: u64 = 1 << 30;

/// How much of a refused datagram is kept: enough to see what it was, little enough that noise cannot fill the disk.
pub const INVALID_PREFIX_BYTES: usize = 1024;

impl Config {
    /// Defaults: settle after 1 s, give up after 60 s, keep 7 days and at most 1 GiB, status every 10 s, queues of
    /// 64 MiB, the newest 10,000 refused datagrams.
    pub fn new(bind: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            bind,
            data_dir,
            forward: false,
            otlp_http: None,
            forward_otlp: None,
            on_settled: None,
            settle: Duration::from_secs(1),
            give_up: Duration::from_secs(60),
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
            status_every: Some(Duration::from_secs(10)),
            recv_buffer: receive::RECV_BUFFER_BYTES,
            queue_bytes: 64 << 20,
            invalid_rows: 10_000,
            max_db_bytes: Some(DEFAULT_MAX_DB_BYTES),
        }
    }
}

/// A running daemon.
pub struct Daemon {
    /// Held until the daemon is dropped, so no second daemon writes the same database.
    _lock: DirLock,
    addr: SocketAddr,
    recv_buffer: usize,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    otlp_http: Option<otlp_http::Server>,
    receiving: Option<JoinHandle<()>>,
    forwarding: Option<JoinHandle<()>>,
    forwarding_otlp: Option<JoinHandle<()>>,
    storing: Option<JoinHandle<()>>,
}

/// What goes from the receiving thread to the storing thread.
enum Msg {
    Document(NewDocument),
    Invalid(NewInvalid),
    Settled(String),
}

impl Msg {
    /// The memory it holds, counted against the queue's bound.
    fn bytes(&self) -> usize {
        size_of::<Msg>()
            + match self {
                Msg::Document(d) => d.trace_id.len() + d.id.len() + d.body.len(),
                Msg::Invalid(i) => i.reason.len() + i.datagram.len(),
                Msg::Settled(trace_id) => trace_id.len(),
            }
    }
}

/// How often the receiving loop looks at the clock when idle.
const TICK: Duration = Duration::from_millis(50);

impl Daemon {
    /// Locks the data dir (a second daemon on it is refused, see [`crate::store::lock`]), opens the database, binds the
    /// socket and starts the threads.
    pub fn start(mut config: Config) -> std::io::Result<Daemon> {
        let lock = DirLock::acquire(&config.data_dir)?;
        let mut store = Store::open(&config.data_dir)?;
        if let Some(retention) = config.retention {
            prune(&mut store, retention);
        }
        let stats = Arc::new(Stats::default());
        if let Some(max) = config.max_db_bytes {
            evict(&mut store, max, &stats);
        }
        let (socket, recv_buffer) = receive::bind(config.bind, config.recv_buffer, TICK)?;
        let addr = socket.local_addr()?;
        let kernel_drops = receive::KernelDrops::of(&socket);
        let stop = Arc::new(AtomicBool::new(false));
        let (to_store, from_receiver) = queue::bounded(config.queue_bytes);
        let (to_forward, forwarding) = if config.forward {
            let (tx, rx) = queue::bounded(config.queue_bytes);
            (Some(tx), Some(forward::spawn(rx, stats.clone())?))
        } else {
            (None, None)
        };
        let (to_forward_otlp, forwarding_otlp) = match &config.forward_otlp {
            Some(url) => {
                let (tx, rx) = queue::bounded(config.queue_bytes);
                (Some(tx), Some(forward_otlp::spawn(url.clone(), rx, stats.clone())?))
            }
            None => (None, None),
        };
        let intake = Arc::new(Mutex::new(Intake {
            now: Instant::now(),
            assembler: Assembler::new(config.settle, config.give_up),
            to_store,
            to_forward,
            to_forward_otlp,
            stats: stats.clone(),
        }));
        let otlp_http = match config.otlp_http {
            Some(addr) => Some(
                otlp_http::Server::start(addr, intake.clone(), stats.clone())
                    .map_err(|e| std::io::Error::new(e.kind(), format!("--otlp-http {addr}: {e}")))?,
            ),
            None => None,
        };
        let receiving = Receiving { socket, intake, kernel_drops, stats: stats.clone(), stop: stop.clone() };
        let receiving = std::thread::Builder::new().name("xray-local-receive".into()).spawn(move || receiving.run())?;
        let storing = Storing {
            store,
            queue: from_receiver,
            stats: stats.clone(),
            on_settled: config.on_settled.take(),
            retention: config.retention,
            status_every: config.status_every,
            invalid_rows: config.invalid_rows,
            max_db_bytes: config.max_db_bytes,
            kernel_drops,
            failing: [false; Write::COUNT],
        };
        let storing = std::thread::Builder::new().name("xray-local-store".into()).spawn(move || storing.run())?;
        Ok(Daemon {
            _lock: lock,
            addr,
            recv_buffer,
            stats,
            stop,
            otlp_http,
            receiving: Some(receiving),
            forwarding,
            forwarding_otlp,
            storing: Some(storing),
        })
    }

    /// The address the socket is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the OTLP/HTTP receiver listens on, when there is one.
    pub fn otlp_http_addr(&self) -> Option<SocketAddr> {
        self.otlp_http.as_ref().map(otlp_http::Server::addr)
    }

    /// The receive buffer the system granted, in bytes.
    pub fn recv_buffer(&self) -> usize {
        self.recv_buffer
    }

    /// The counters now.
    pub fn stats(&self) -> Snapshot {
        self.stats.snapshot()
    }

    /// Stops receiving, writes and forwards what is queued, and returns the final counters.
    pub fn stop(mut self) -> Snapshot {
        self.shut_down();
        self.stats.snapshot()
    }

    fn shut_down(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // The receivers end first (both hold the intake); that closes the queues, so the forwarders and the store
        // drain them and end.
        if let Some(mut server) = self.otlp_http.take() {
            server.stop();
        }
        let threads = [self.receiving.take(), self.forwarding.take(), self.forwarding_otlp.take(), self.storing.take()];
        for thread in threads.into_iter().flatten() {
            let _ = thread.join();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.shut_down();
    }
}

struct Receiving {
    socket: UdpSocket,
    intake: Arc<Mutex<Intake>>,
    kernel_drops: receive::KernelDrops,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
}

impl Receiving {
    fn run(self) {
        let mut datagrams = receive::Datagrams::new();
        let mut next_check = Instant::now() + TICK;
        let mut since_check = 0u32;
        // Traces settled (and forgotten) since freed memory was last handed back.
        let mut released = 0usize;
        while !self.stop.load(Ordering::Relaxed) {
            match datagrams.read(&self.socket) {
                Ok(n) => {
                    // One lock for the whole batch.
                    let mut intake = lock(&self.intake);
                    for datagram in datagrams.iter() {
                        intake.datagram(datagram);
                    }
                    since_check = since_check.saturating_add(n as u32);
                }
                // Timeouts are the idle tick; other errors (e.g. ICMP reports) do not stop a daemon.
                Err(_) => since_check = u32::MAX,
            }
            // Reading the clock for every datagram would cost more than the rest of the work, so only now and then.
            if since_check >= 256 {
                since_check = 0;
                let now = Instant::now();
                let mut intake = lock(&self.intake);
                intake.now = now;
                if now >= next_check {
                    next_check = now + TICK;
                    let settled = intake.assembler.settled(now);
                    released += settled.len();
                    for trace_id in settled {
                        Stats::add(&self.stats.traces_settled, 1);
                        intake.send(Msg::Settled(trace_id));
                    }
                    drop(intake);
                    if released >= RELEASE_AFTER {
                        released = 0;
                        release_freed_memory();
                    }
                }
            }
        }
        // The kernel stops listing the socket once it is closed, so its last count is taken here.
        note_kernel_drops(&self.kernel_drops, &self.stats);
    }
}

/// Locks the intake; a panic elsewhere while it was held leaves nothing half-done that matters here.
fn lock(intake: &Mutex<Intake>) -> MutexGuard<'_, Intake> {
    intake.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where every document arrives, from a datagram or translated from a span: checked, assembled and queued for the
/// store and the forwarders. Shared by the UDP thread and the OTLP/HTTP server.
struct Intake {
    /// The clock as last read; arrival times need no better precision than the settle time.
    now: Instant,
    assembler: Assembler,
    to_store: Sender<Msg>,
    to_forward: Option<Sender<Outgoing>>,
    to_forward_otlp: Option<Sender<Value>>,
    stats: Arc<Stats>,
}

/// What became of the spans of one OTLP request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpansTaken {
    /// Spans refused, each counted and kept as invalid with its reason.
    pub rejected: usize,
    /// The first reason, for the OTLP response's partial success.
    pub first_reason: Option<String>,
}

impl Intake {
    fn datagram(&mut self, datagram: &[u8]) {
        Stats::add(&self.stats.received, 1);
        match protocol::frame(datagram) {
            Ok(Payload::Document(document)) => self.document(document, datagram),
            Ok(Payload::Spans { sampled, base64 }) => match otlp::decode::datagram(base64) {
                Ok(request) => {
                    self.spans(&request, sampled, datagram);
                }
                Err(reason) => self.refuse(reason, datagram),
            },
            Ok(Payload::Metrics) => {
                self.refuse("OTLP metrics (M1) are not traces: not stored".into(), datagram);
            }
            Err(err) => self.refuse(err.to_string(), datagram),
        }
    }

    fn document(&mut self, document: &[u8], datagram: &[u8]) {
        let doc: Value = match serde_json::from_slice(document) {
            Ok(doc) => doc,
            Err(err) => return self.refuse(format!("invalid JSON: {err}"), datagram),
        };
        let problems = validate::check(&doc);
        if !problems.is_empty() {
            return self.refuse(problems.join("; "), datagram);
        }
        // Validation guarantees UTF-8 JSON, so this does not fail.
        let body: Box<str> = String::from_utf8_lossy(document).into();
        self.accept(doc, body);
    }

    /// Translates every span of `request` to a document and takes it as a document (`sampled`), or only checks
    /// and counts it (`T1U`). `source` is what is kept of a refused span: the datagram or the request body.
    fn spans(&mut self, request: &otlp::ExportTraceServiceRequest, sampled: bool, source: &[u8]) -> SpansTaken {
        let mut taken = SpansTaken::default();
        for translated in otlp::translate::documents(request) {
            Stats::add(&self.stats.spans, 1);
            let checked = translated.and_then(|doc| {
                let problems = validate::check(&doc);
                if problems.is_empty() { Ok(doc) } else { Err(problems.join("; ")) }
            });
            match checked {
                Ok(_) if !sampled => Stats::add(&self.stats.unsampled, 1),
                Ok(doc) => {
                    let body: Box<str> = doc.to_string().into();
                    if body.len() > protocol::MAX_DOCUMENT_BYTES {
                        let reason =
                            format!("span of {} bytes as a document: {}", body.len(), FrameError::TooLarge(body.len()));
                        taken.first_reason.get_or_insert_with(|| reason.clone());
                        taken.rejected += 1;
                        self.refuse(reason, source);
                        continue;
                    }
                    self.accept(doc, body);
                }
                Err(reason) => {
                    let reason = format!("OTLP {reason}");
                    taken.first_reason.get_or_insert_with(|| reason.clone());
                    taken.rejected += 1;
                    self.refuse(reason, source);
                }
            }
        }
        taken
    }

    /// Takes a valid document: assembled, queued for the store and for each forwarder.
    fn accept(&mut self, doc: Value, body: Box<str>) {
        Stats::add(&self.stats.valid, 1);
        let text = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let (trace_id, id) = (text("trace_id"), text("id"));
        if self.assembler.arrive(&trace_id, &doc, self.now) == Arrival::Stale {
            Stats::add(&self.stats.stale, 1);
        }
        if let Some(forward) = &self.to_forward {
            let bytes = size_of::<Outgoing>() + id.len() + body.len();
            if forward.try_send(Outgoing { id: id.clone(), body: body.clone() }, bytes).is_err() {
                Stats::add(&self.stats.forward_failed, 1);
            }
        }
        let in_progress = doc.get("in_progress").and_then(Value::as_bool).unwrap_or(false);
        if let Some(forward) = &self.to_forward_otlp
            && !in_progress
        {
            // An in-progress document is not a span yet: its complete one is forwarded when it comes.
            let bytes = 2 * body.len();
            let entities = forward_otlp::entities(&doc);
            if forward.try_send(doc, bytes).is_err() {
                Stats::add(&self.stats.forward_otlp_failed, entities);
            }
        }
        self.send(Msg::Document(NewDocument { trace_id, id, in_progress, body }));
    }

    fn refuse(&mut self, reason: String, datagram: &[u8]) {
        Stats::add(&self.stats.invalid, 1);
        let prefix = datagram[..datagram.len().min(INVALID_PREFIX_BYTES)].to_vec();
        self.send(Msg::Invalid(NewInvalid { received: now_secs(), reason, datagram: prefix, size: datagram.len() }));
    }

    /// Queues a message for the storing thread. A document or invalid datagram that does not fit is counted; a
    /// lost `Settled` only means `--follow` does not print that trace, so it is not.
    fn send(&self, msg: Msg) {
        let bytes = msg.bytes();
        match self.to_store.try_send(msg, bytes) {
            Err(Msg::Document(_)) => Stats::add(&self.stats.dropped, 1),
            Err(Msg::Invalid(_)) => Stats::add(&self.stats.invalid_dropped, 1),
            Err(Msg::Settled(_)) | Ok(()) => {}
        }
    }
}

struct Storing {
    store: Store,
    queue: Receiver<Msg>,
    stats: Arc<Stats>,
    on_settled: Option<OnSettled>,
    retention: Option<Duration>,
    status_every: Option<Duration>,
    invalid_rows: usize,
    max_db_bytes: Option<u64>,
    kernel_drops: receive::KernelDrops,
    /// Which of the writes failed last time, so each failure is told when it starts and when it ends, not once
    /// per batch; kept per write, so documents dropped are told even when the list entries failed first.
    failing: [bool; Write::COUNT],
}

/// The writes whose failure costs something different, told apart on stderr.
#[derive(Clone, Copy)]
enum Write {
    /// Documents and invalid datagrams: dropped.
    Documents,
    /// The trace list's entries: kept dirty and tried again.
    Entries,
}

impl Write {
    const COUNT: usize = 2;

    fn what(self) -> &'static str {
        match self {
            Write::Documents => "documents",
            Write::Entries => "the trace list",
        }
    }
}

/// The most messages written in one transaction.
const WRITE_BATCH: usize = 8192;
/// The longest the trace list lags behind the documents under load.
const REFRESH_EVERY: Duration = Duration::from_millis(500);

impl Storing {
    fn run(mut self) {
        let mut last_status = Instant::now();
        let mut last_prune = Instant::now();
        let mut open = true;
        // Traces whose list entry is behind their documents. Entries are rebuilt when the queue is drained, or
        // every half second under load, so a trace arriving in many documents is summarised once, not per batch.
        let mut dirty: HashSet<String> = HashSet::new();
        let mut last_refresh = Instant::now();
        let mut last_kernel_read = Instant::now();
        note_kernel_drops(&self.kernel_drops, &self.stats);
        while open {
            let (mut docs, mut invalid, mut settled) = (Vec::new(), Vec::new(), Vec::new());
            let mut take = |msg: Msg| match msg {
                Msg::Document(d) => docs.push(d),
                Msg::Invalid(i) => invalid.push(i),
                Msg::Settled(id) => settled.push(id),
            };
            match self.queue.recv_timeout(Duration::from_millis(200)) {
                Ok(msg) => take(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
            let mut drained = false;
            for _ in 1..WRITE_BATCH {
                match self.queue.try_recv() {
                    Ok(msg) => take(msg),
                    Err(_) => {
                        drained = true;
                        break;
                    }
                }
            }
            // Of a batch larger than the invalid table, only the newest rows would survive it.
            let over = invalid.len().saturating_sub(self.invalid_rows);
            invalid.drain(..over);
            Stats::add(&self.stats.invalid_evicted, over as u64);
            if !docs.is_empty() || !invalid.is_empty() {
                let written = self.store.write(&docs, &invalid);
                if let Ok(touched) = &written {
                    Stats::add(&self.stats.stored, docs.len() as u64);
                    dirty.extend(touched.iter().cloned());
                } else {
                    Stats::add(&self.stats.dropped, docs.len() as u64);
                    Stats::add(&self.stats.invalid_dropped, invalid.len() as u64);
                }
                let ok = written.is_ok();
                self.note_write(Write::Documents, written.map(|_| ()), || {
                    format!("{} documents and {} invalid datagrams dropped", docs.len(), invalid.len())
                });
                if ok && let Some(max) = self.max_db_bytes {
                    evict(&mut self.store, max, &self.stats);
                }
            }
            if !invalid.is_empty() {
                match self.store.trim_invalid(self.invalid_rows) {
                    Ok(deleted) => Stats::add(&self.stats.invalid_evicted, deleted as u64),
                    Err(err) => render::warn(format_args!("cannot delete old invalid datagrams: {err}")),
                }
            }
            if !dirty.is_empty() && (drained || !settled.is_empty() || last_refresh.elapsed() >= REFRESH_EVERY) {
                last_refresh = Instant::now();
                // A trace whose entry could not be updated stays dirty and is tried again: its documents are
                // stored, and `traces` and `show` find it once the write goes through.
                let refreshed = self.store.refresh(&dirty);
                if refreshed.is_ok() {
                    dirty.clear();
                    if dirty.capacity() > 4096 {
                        dirty.shrink_to(1024);
                    }
                }
                self.note_write(Write::Entries, refreshed, || {
                    format!("the list entries of {} traces kept to try again", dirty.len())
                });
            }
            if let Some(show) = self.on_settled.as_mut() {
                for trace_id in &settled {
                    if let Ok(Some(tree)) = self.store.tree(trace_id) {
                        show(&tree);
                    }
                }
            }
            // Reading the kernel's count costs a look through every UDP socket, so not once per batch.
            if last_kernel_read.elapsed() >= Duration::from_millis(100) {
                last_kernel_read = Instant::now();
                note_kernel_drops(&self.kernel_drops, &self.stats);
            }
            let snapshot = self.stats.snapshot();
            let _ = self.store.write_counters(&snapshot.named());
            if self.status_every.is_some_and(|every| last_status.elapsed() >= every) {
                last_status = Instant::now();
                eprintln!("xray-local {snapshot}");
            }
            if let Some(retention) = self.retention
                && last_prune.elapsed() >= Duration::from_secs(3600)
            {
                last_prune = Instant::now();
                prune(&mut self.store, retention);
            }
        }
        let snapshot = self.stats.snapshot();
        let _ = self.store.write_counters(&snapshot.named());
        eprintln!("xray-local {snapshot}");
    }

    /// Tells on stderr, at once, that the database cannot be written (which write, and what that costs), and when
    /// it can be again; `status` shows the counters as stale meanwhile, as they cannot be recorded either.
    fn note_write(&mut self, write: Write, result: rusqlite::Result<()>, cost: impl FnOnce() -> String) {
        let failing = &mut self.failing[write as usize];
        match result {
            Ok(()) if *failing => {
                *failing = false;
                render::warn(format_args!(
                    "writing {} to the database {} again",
                    write.what(),
                    self.store.path().display()
                ));
            }
            Ok(()) => {}
            Err(err) => {
                Stats::add(&self.stats.write_failed, 1);
                if !*failing {
                    *failing = true;
                    render::warn(format_args!(
                        "cannot write {} to the database {}: {err}; {} (told again when writing works)",
                        write.what(),
                        self.store.path().display(),
                        cost()
                    ));
                }
            }
        }
    }
}

/// Deletes the least recently updated traces while the database uses more than `max` bytes.
fn evict(store: &mut Store, max: u64, stats: &Stats) {
    match store.used_bytes() {
        Ok(used) if used > max => match store.evict(max) {
            Ok(n) => Stats::add(&stats.evicted, n as u64),
            Err(err) => render::warn(format_args!("cannot delete old traces to stay under --max-db-size: {err}")),
        },
        Ok(_) => {}
        Err(err) => render::warn(format_args!("cannot read the database's size: {err}")),
    }
}

/// How many traces settled since the last time make it worth handing freed memory back to the system.
const RELEASE_AFTER: usize = 10_000;

/// Hands memory freed inside the allocator back to the system. glibc keeps what a thread freed in that thread's
/// arena, so without this the RSS a flood of in-progress traces took stays after they complete or expire.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's own arenas to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Copies the kernel's count of dropped datagrams into the counters, while the system still provides it.
fn note_kernel_drops(drops: &receive::KernelDrops, stats: &Stats) {
    if let Some(n) = drops.read() {
        Stats::set(&stats.kernel_dropped, n);
    }
}

fn prune(store: &mut Store, retention: Duration) {
    if let Err(err) = store.prune(now_secs() - retention.as_secs_f64()) {
        render::warn(format_args!("cannot delete old traces: {err}"));
    }
}
