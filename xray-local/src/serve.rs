//! An axum app served from a thread of its own, on a single-threaded runtime, until it is stopped: how the web view
//! and the daemon's OTLP/HTTP receiver both run.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;

use axum::Router;

/// A running server: stopped (and its thread joined) by [`Served::stop`] or when dropped.
#[derive(Debug)]
pub(crate) struct Served {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    /// Binds `bind` here, so that a port in use is told at once, then serves the app `app` makes for the bound
    /// address on a thread named `thread`. A server that stops on its own warns, naming itself `what`.
    pub(crate) fn start(
        bind: SocketAddr,
        thread: &str,
        what: &'static str,
        app: impl FnOnce(SocketAddr) -> Router,
    ) -> io::Result<Served> {
        let listener = TcpListener::bind(bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let app = app(addr);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let thread = std::thread::Builder::new().name(thread.into()).spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(err) => return crate::render::warn(format_args!("{what} cannot listen: {err}")),
                };
                let served = axum::serve(listener, app).with_graceful_shutdown(async {
                    let _ = stopped.await;
                });
                if let Err(err) = served.await {
                    crate::render::warn(format_args!("{what} stopped: {err}"));
                }
            });
        })?;
        Ok(Served { addr, stop: Some(stop), thread: Some(thread) })
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for the thread, which runs until the server is stopped.
    pub(crate) fn wait(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Stops taking requests and waits for the thread, which lets go of what the app holds.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop();
    }
}
