//! The hyper engine for the cleartext listeners (`engine = "hyper"`, the
//! alternative to pingora's, which keeps the TLS listeners): profiling
//! showed pingora's own per-request path, not the gateway's filters, to
//! be most of the cost of a proxied request (see ARCHITECTURE.md).
//!
//! Shape: `threads` OS threads, each with a current-thread tokio runtime
//! and its own `SO_REUSEPORT` socket on every cleartext address
//! ([`listen`]); a connection lives and dies on the thread that accepted
//! it, and keeps one connection to its origin ([`origin`]). At accept a
//! blocked address is dropped before a byte is read; HTTP/2 with prior
//! knowledge is handed to pingora's app; the rest is served by hyper's
//! HTTP/1 server ([`connection`]), each request decided by `decide.rs`
//! exactly as the pingora engine decides it ([`request`]), its bodies timed
//! and logged ([`body`]), upgrades tunnelled ([`tunnel`]).
//!
//! Not here: TLS (pingora's listeners), HTTP/2 itself (pingora's).

mod body;
mod connection;
pub mod listen;
mod origin;
mod request;
mod stop;
mod tunnel;
mod wake;

use crate::proxy::Shared;
use crate::server::GatewayApp;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

/// Starts one thread per entry of `listeners.per_thread`; they stop
/// accepting when `stop` turns true and end once their connections are
/// done, or after `grace`.
pub(crate) fn start(
    listeners: listen::Listeners,
    shared: Arc<Shared>,
    app: Arc<GatewayApp>,
    stop: watch::Receiver<bool>,
    grace: Duration,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let mut threads = Vec::new();
    for (index, sockets) in listeners.per_thread.into_iter().enumerate() {
        let shared = shared.clone();
        let app = app.clone();
        let stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("sitewarden-gateway-h1-{index}"))
            .spawn(move || run_thread(sockets, shared, app, stop, grace))?;
        threads.push(thread);
    }
    Ok(threads)
}

fn run_thread(
    sockets: Vec<std::net::TcpListener>,
    shared: Arc<Shared>,
    app: Arc<GatewayApp>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("gateway: no runtime for a proxy thread: {error}");
            return;
        }
    };
    runtime.block_on(async move {
        let connections = tokio_util::task::TaskTracker::new();
        let thread_stop = Arc::new(stop::ThreadStop::default());
        for socket in sockets {
            match tokio::net::TcpListener::from_std(socket) {
                Ok(listener) => {
                    connections.spawn(accept(
                        listener,
                        shared.clone(),
                        app.clone(),
                        stop.clone(),
                        thread_stop.clone(),
                        connections.clone(),
                    ));
                }
                Err(error) => tracing::error!("gateway: a listener: {error}"),
            }
        }
        tokio::select! {
            _ = stopped(&mut stop) => {}
            _ = keep_a_timer_near() => {}
        }
        thread_stop.raise();
        connections.close();
        let _ = tokio::time::timeout(grace, connections.wait()).await;
    });
    // Dropping the runtime ends whatever outlived the grace period.
}

/// Keeps a timer due within a second on this thread's runtime, for ever.
///
/// tokio's time driver wakes its own thread (a write to its eventfd, and
/// one more turn of `epoll_wait`) whenever a timer is set earlier than the
/// earliest one it knew of when it last parked. Each request sets timers
/// (its body's deadline, the wait for its origin) that are earlier than a
/// connection's keep-alive timer, so without this every request paid for
/// that wake-up — a system call and a loop turn, about a tenth of a small
/// proxied request's cost. With a timer always due within the second, the
/// requests' timers (all longer) never come first. One wake-up a second
/// per thread is the price.
async fn keep_a_timer_near() {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
    }
}

/// Accepts connections until the stop.
async fn accept(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    app: Arc<GatewayApp>,
    mut stop: watch::Receiver<bool>,
    thread_stop: Arc<stop::ThreadStop>,
    connections: tokio_util::task::TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stop) => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, say: wait a little rather than spin.
                tracing::warn!("gateway: accepting a connection: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Refused before a byte is read: the cheapest answer.
        if crate::decide::refused_at_accept(&shared, peer.ip()) {
            continue;
        }
        connections.spawn(connection::serve(
            stream,
            peer,
            shared.clone(),
            app.clone(),
            connections.clone(),
            stop.clone(),
            thread_stop.raised(),
        ));
    }
}

/// Resolves once the stop flag is raised (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}
