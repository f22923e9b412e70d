//! A queue between two threads bounded in bytes, not in messages.
//!
//! Datagrams run from a few dozen bytes to 64 KiB, so a bound in messages is either too small for a burst of small
//! documents or, for large ones, gigabytes (262,144 x 64 KiB). Here each message is queued with its size, a message
//! that would take the queue over its bound is handed back to the sender, and taking one out frees its bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvError, RecvTimeoutError, TryRecvError};
use std::time::Duration;

/// A queue that holds at most `limit` bytes of messages.
pub fn bounded<T>(limit: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = mpsc::channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (Sender { tx, queued: queued.clone(), limit }, Receiver { rx, queued })
}

/// The sending end of a [`bounded`] queue.
#[derive(Debug)]
pub struct Sender<T> {
    tx: mpsc::Sender<(usize, T)>,
    queued: Arc<AtomicUsize>,
    limit: usize,
}

impl<T> Sender<T> {
    /// Queues `message`, which holds `bytes`, without waiting; hands it back if there is no room for it or the
    /// receiving end is gone.
    pub fn try_send(&self, message: T, bytes: usize) -> Result<(), T> {
        // The room is taken before the message is sent, so two senders cannot both take the last of it.
        let room = self.queued.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |queued| {
            queued.checked_add(bytes).filter(|&after| after <= self.limit)
        });
        if room.is_err() {
            return Err(message);
        }
        self.tx.send((bytes, message)).map_err(|mpsc::SendError((bytes, message))| {
            self.queued.fetch_sub(bytes, Ordering::Relaxed);
            message
        })
    }
}

/// The receiving end of a [`bounded`] queue.
#[derive(Debug)]
pub struct Receiver<T> {
    rx: mpsc::Receiver<(usize, T)>,
    queued: Arc<AtomicUsize>,
}

impl<T> Receiver<T> {
    /// Waits for a message; `Err` once the queue is empty and the sender gone.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.rx.recv().map(|entry| self.free(entry))
    }

    /// Waits at most `timeout` for a message.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.rx.recv_timeout(timeout).map(|entry| self.free(entry))
    }

    /// Takes a message if one is queued.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.rx.try_recv().map(|entry| self.free(entry))
    }

    /// The bytes queued now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    fn free(&self, (bytes, message): (usize, T)) -> T {
        self.queued.fetch_sub(bytes, Ordering::Relaxed);
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_that_does_not_fit_is_handed_back_until_room_is_freed() {
        let (tx, rx) = bounded::<&str>(100);
        assert_eq!(tx.try_send("a", 60), Ok(()));
        assert_eq!(tx.try_send("b", 41), Err("b"));
        assert_eq!(tx.try_send("c", 40), Ok(()));
        assert_eq!((tx.try_send("d", 1), rx.queued()), (Err("d"), 100));
        assert_eq!(rx.try_recv(), Ok("a"));
        assert_eq!(tx.try_send("b", 41), Ok(()));
        assert_eq!((rx.try_recv(), rx.try_recv(), rx.queued()), (Ok("c"), Ok("b"), 0));
        assert_eq!(tx.try_send("e", 101), Err("e"), "larger than the whole queue");
        drop(rx);
        assert_eq!(tx.try_send("f", 1), Err("f"), "nobody receives");
    }
}
