//! Serving an axum router on a loopback listener, one hyper connection per task, with a way for
//! a handler to drop its own connection (the `DropConnection` fault).

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::error::SimulatorError;

/// Most connections served at once by one listener; further ones wait to be accepted.
const MAX_CONNECTIONS: usize = 256;

/// Lets a handler end its connection without an answer. Inserted into every request's
/// extensions.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionControl(Arc<Notify>);

impl ConnectionControl {
    /// Drops the connection, then never completes: the caller's future is dropped with it.
    pub(crate) async fn drop_connection(&self) -> axum::response::Response {
        self.0.notify_one();
        std::future::pending().await
    }
}

/// Binds `127.0.0.1:0`.
pub(crate) async fn bind() -> Result<(TcpListener, SocketAddr), SimulatorError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(SimulatorError::Bind)?;
    let addr = listener.local_addr().map_err(SimulatorError::Bind)?;
    Ok((listener, addr))
}

/// Serves `router` on `listener` until `shutdown` turns true. Connections still open then are
/// closed.
pub(crate) fn spawn(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut connections = JoinSet::new();
        loop {
            let permit = tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                p = permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let accepted = tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                a = listener.accept() => a,
            };
            // Reap finished connections so the set does not grow.
            while connections.try_join_next().is_some() {}
            let Ok((stream, _)) = accepted else {
                continue;
            };
            let router = router.clone();
            connections.spawn(async move {
                let _permit = permit;
                serve_connection(stream, router).await;
            });
        }
        connections.shutdown().await;
    })
}

async fn serve_connection(stream: tokio::net::TcpStream, router: Router) {
    let kill = Arc::new(Notify::new());
    let control = ConnectionControl(kill.clone());
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        request.extensions_mut().insert(control.clone());
        let mut router = router.clone();
        async move {
            let request = request.map(Body::new);
            let response = tower_service::Service::call(&mut router, request).await;
            Ok::<_, Infallible>(response.unwrap_or_else(|e| match e {}))
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        _ = kill.notified() => {}
    }
}
