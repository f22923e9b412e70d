//! Sending documents to the X-Ray daemon.
//!
//! Every document travels as one UDP datagram: the header line `{"format":"json","version":1}`, a newline, and the
//! JSON document. The socket is non-blocking, so a send never waits; a send that fails (daemon down, buffer full) is
//! counted as dropped and reported as a diagnostic, never returned to the caller.
//!
//! The daemon reads at most 64 KiB per datagram and drops anything larger, so [`send_tree`] splits a document that
//! would not fit: completed subtrees are sent as independent subsegments until the rest fits, and a single entity
//! that is still too large is trimmed (metadata first) and marked, never dropped.

use std::cell::RefCell;
use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use crate::diag::diag;
use crate::ids::TraceId;
use crate::segment::{Entity, Extra, Placement, write_document};

/// The line that precedes every document in a datagram.
pub const DATAGRAM_HEADER: &[u8] = b"{\"format\":\"json\",\"version\":1}\n";

/// The largest document sent in one datagram: below 64 KB together with the header line.
pub const MAX_DOCUMENT_BYTES: usize = 64_000 - DATAGRAM_HEADER.len();

/// Where finished documents go.
pub trait Emitter: Send + Sync + 'static {
    /// Sends one segment document (JSON, without the header line). Must neither block nor panic.
    fn send(&self, document: &[u8]);
}

/// Counters of what an emitter did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmitStats {
    /// Datagrams handed to the operating system.
    pub sent: u64,
    /// Datagrams that could not be sent.
    pub dropped: u64,
}

/// Sends documents to the daemon over UDP.
pub struct UdpEmitter {
    socket: Option<UdpSocket>,
    target: SocketAddr,
    sent: AtomicU64,
    dropped: AtomicU64,
}

impl fmt::Debug for UdpEmitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpEmitter").field("target", &self.target).field("stats", &self.stats()).finish()
    }
}

impl UdpEmitter {
    /// An emitter sending to `target`. If no socket can be opened, every send is counted as dropped.
    pub fn new(target: SocketAddr) -> Self {
        let local: SocketAddr = if target.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let socket = UdpSocket::bind(local)
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .and_then(|s| s.connect(target).map(|()| s));
        let socket = match socket {
            Ok(s) => Some(s),
            Err(err) => {
                diag!(
                    SendFailed,
                    "cannot open a UDP socket to the daemon at {target}: {err}; documents will be dropped"
                );
                None
            }
        };
        Self { socket, target, sent: AtomicU64::new(0), dropped: AtomicU64::new(0) }
    }

    /// Where documents go.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// What has been sent and dropped so far.
    pub fn stats(&self) -> EmitStats {
        EmitStats { sent: self.sent.load(Ordering::Relaxed), dropped: self.dropped.load(Ordering::Relaxed) }
    }
}

thread_local! {
    static DATAGRAM: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Emitter for UdpEmitter {
    fn send(&self, document: &[u8]) {
        let Some(socket) = &self.socket else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let result = DATAGRAM.with(|buf| {
            let mut buf = buf.try_borrow_mut().map_err(|_| std::io::Error::other("emitter re-entered"))?;
            buf.clear();
            buf.extend_from_slice(DATAGRAM_HEADER);
            buf.extend_from_slice(document);
            socket.send(&buf)
        });
        match result {
            Ok(_) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                diag!(SendFailed, "document of {} bytes not sent to {}: {err}", document.len(), self.target);
            }
        }
    }
}

static DEFAULT_UDP: OnceLock<Arc<UdpEmitter>> = OnceLock::new();
static GLOBAL: RwLock<Option<Arc<dyn Emitter>>> = RwLock::new(None);

/// The emitter to the daemon named by `AWS_XRAY_DAEMON_ADDRESS`, opened on first use.
pub fn daemon() -> &'static Arc<UdpEmitter> {
    DEFAULT_UDP.get_or_init(|| Arc::new(UdpEmitter::new(crate::config::get().daemon.udp)))
}

/// The process-wide emitter: the one installed with [`set_global`], else the daemon's.
pub fn global() -> Arc<dyn Emitter> {
    if let Ok(guard) = GLOBAL.read()
        && let Some(emitter) = guard.as_ref()
    {
        return Arc::clone(emitter);
    }
    daemon().clone()
}

/// Replaces the process-wide emitter (for example with a [`crate::testing::MemorySink`]).
pub fn set_global(emitter: Arc<dyn Emitter>) {
    if let Ok(mut guard) = GLOBAL.write() {
        *guard = Some(emitter);
    }
}

/// Runs `future` with `emitter` receiving the documents of every trace created inside it (and of traces created
/// elsewhere that send from inside it). Other code in the process keeps the global emitter.
pub fn scoped<F: std::future::Future>(emitter: Arc<dyn Emitter>, future: F) -> crate::context::Scoped<F> {
    crate::context::with_emitter(emitter, future)
}

/// Runs `f` with `emitter` receiving the documents of traces created or sent inside it.
pub fn run_scoped<R>(emitter: Arc<dyn Emitter>, f: impl FnOnce() -> R) -> R {
    crate::context::run_with_emitter(emitter, f)
}

static SPLITS: AtomicU64 = AtomicU64::new(0);
static TRIMS: AtomicU64 = AtomicU64::new(0);

/// How many subtrees were sent on their own, and how many documents trimmed, to fit datagrams.
pub fn size_stats() -> (u64, u64) {
    (SPLITS.load(Ordering::Relaxed), TRIMS.load(Ordering::Relaxed))
}

/// One entity of a tree to send, with its children as indices into the same slice.
#[derive(Debug)]
pub(crate) struct Node<'a> {
    pub(crate) entity: &'a Entity,
    pub(crate) children: Vec<usize>,
}

/// Stands in for the trace id where only a document's size matters: same length, no clock or random numbers.
const SIZE_PROBE_ID: [u8; TraceId::LEN] = [b'0'; TraceId::LEN];

thread_local! {
    static DOCUMENT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Sends one entity without children: the common case in Lambda, written into a reused buffer.
pub(crate) fn send_one(emitter: &dyn Emitter, trace_id: &[u8; TraceId::LEN], entity: &Entity) {
    let sent = DOCUMENT.with(|buf| {
        let Ok(mut out) = buf.try_borrow_mut() else { return false };
        out.clear();
        write_document(&mut out, entity, trace_id, Placement::Top, &mut |_| 0);
        let fits = out.len() <= MAX_DOCUMENT_BYTES;
        if fits {
            emitter.send(&out);
        }
        fits
    });
    if !sent {
        send_tree(emitter, trace_id, &[Node { entity, children: Vec::new() }], 0);
    }
}

/// Sends `nodes[root]` with its subtree as one document if it fits, split into several if not.
pub(crate) fn send_tree(emitter: &dyn Emitter, trace_id: &[u8; TraceId::LEN], nodes: &[Node<'_>], root: usize) {
    let mut detached = vec![false; nodes.len()];
    let mut out = Vec::with_capacity(1024);
    send_subtree(emitter, trace_id, nodes, root, &mut detached, &mut out);
}

fn send_subtree(
    emitter: &dyn Emitter,
    trace_id: &[u8; TraceId::LEN],
    nodes: &[Node<'_>],
    root: usize,
    detached: &mut [bool],
    out: &mut Vec<u8>,
) {
    let mut sizes = vec![0usize; nodes.len()];
    measure(nodes, root, detached, &mut sizes, out);
    let mut split_off = Vec::new();
    while sizes[root] > MAX_DOCUMENT_BYTES {
        let Some((pick, parents)) = largest_completed(nodes, root, detached, &sizes) else {
            break;
        };
        detached[pick] = true;
        let freed = sizes[pick] + 1;
        for ancestor in parents {
            sizes[ancestor] = sizes[ancestor].saturating_sub(freed);
        }
        split_off.push(pick);
    }
    for pick in split_off {
        SPLITS.fetch_add(1, Ordering::Relaxed);
        send_subtree(emitter, trace_id, nodes, pick, detached, out);
    }
    out.clear();
    write_node(out, trace_id, nodes, root, Placement::Top, detached);
    if out.len() > MAX_DOCUMENT_BYTES {
        let trimmed = trim(nodes[root].entity, out.len());
        let view = [Node { entity: &trimmed, children: Vec::new() }];
        out.clear();
        write_node(out, trace_id, &view, 0, Placement::Top, &[false]);
    }
    emitter.send(out);
}

/// Fills `sizes` with each node's embedded size (its document with its non-detached children).
fn measure(nodes: &[Node<'_>], at: usize, detached: &[bool], sizes: &mut [usize], scratch: &mut Vec<u8>) -> usize {
    scratch.clear();
    write_document(scratch, nodes[at].entity, &SIZE_PROBE_ID, Placement::Top, &mut |_| 0);
    let own = scratch.len() + b",\"subsegments\":[]".len();
    let children: usize = nodes[at]
        .children
        .iter()
        .filter(|&&c| !detached[c])
        .map(|&c| measure(nodes, c, detached, sizes, scratch) + 1)
        .sum();
    sizes[at] = own + children;
    sizes[at]
}

/// The completed, still embedded descendant with the largest subtree, and the path of ancestors above it.
fn largest_completed(
    nodes: &[Node<'_>],
    root: usize,
    detached: &[bool],
    sizes: &[usize],
) -> Option<(usize, Vec<usize>)> {
    let mut best: Option<(usize, Vec<usize>)> = None;
    let mut stack = vec![(root, vec![root])];
    while let Some((at, path)) = stack.pop() {
        for &child in nodes[at].children.iter().filter(|&&c| !detached[c]) {
            if nodes[child].entity.end.is_some() && best.as_ref().is_none_or(|(b, _)| sizes[child] > sizes[*b]) {
                best = Some((child, path.clone()));
            }
            let mut below = path.clone();
            below.push(child);
            stack.push((child, below));
        }
    }
    best
}

fn write_node(
    out: &mut Vec<u8>,
    trace_id: &[u8; TraceId::LEN],
    nodes: &[Node<'_>],
    at: usize,
    placement: Placement,
    detached: &[bool],
) {
    write_document(out, nodes[at].entity, trace_id, placement, &mut |out| {
        let mut written = 0;
        for &child in nodes[at].children.iter().filter(|&&c| !detached[c]) {
            if written > 0 {
                out.push(b',');
            }
            write_node(out, trace_id, nodes, child, Placement::Embedded, detached);
            written += 1;
        }
        written
    });
}

/// A copy of `entity` small enough to send: metadata dropped first, then annotations, then the rest.
fn trim(entity: &Entity, size: usize) -> Entity {
    TRIMS.fetch_add(1, Ordering::Relaxed);
    let mut copy = entity.clone();
    let extra = copy.extra();
    extra.metadata.clear();
    extra.trimmed = Some("metadata");
    if !fits(&copy) {
        copy.annotations.clear();
        copy.extra().trimmed = Some("metadata and annotations");
    }
    if !fits(&copy) {
        copy.extra = Some(Box::new(Extra {
            trimmed: Some("metadata, annotations, http, aws, sql and cause"),
            ..Extra::default()
        }));
    }
    diag!(
        Oversize,
        "subsegment `{}` ({} bytes) exceeds one datagram; sent without its {}",
        entity.name,
        size,
        copy.extra.as_ref().and_then(|e| e.trimmed).unwrap_or_default()
    );
    copy
}

fn fits(entity: &Entity) -> bool {
    let mut out = Vec::new();
    write_document(&mut out, entity, &SIZE_PROBE_ID, Placement::Top, &mut |_| 0);
    out.len() <= MAX_DOCUMENT_BYTES
}
