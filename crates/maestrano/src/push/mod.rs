//! Pushing the application's records to Connec! through the durable outbox.
//!
//! Saving a record records its push in the [`PushOutbox`](crate::idmap::PushOutbox), in the
//! store that keeps its links ([`ConnectedObject::enqueue_push`](crate::idmap::ConnectedObject::enqueue_push)).
//! A [`PushWorker`], on any number of instances, claims pushes and sends each one so that a
//! retry never makes a second remote record:
//!
//! 1. the record is already linked: an update (`PUT`) of the linked entity, idempotent;
//! 2. not linked, but an earlier claim may have reached Connec! (its reply, or the process,
//!    was lost): a search for the entity carrying the record's id in its id array
//!    (`$filter=id eq '<local id>'`), then an update of what it finds;
//! 3. otherwise a create (`POST`) whose body carries the record's id
//!    (`{id, provider, realm}`, as `maestrano-connector-rails` sends it), so that step 2 can
//!    find it later.
//!
//! The link and the push's removal are then one transaction of the store. A transient failure
//! (a 5xx, a timeout, a dropped connection, 408, 429, 401) is retried with exponential
//! backoff up to [`PushOptions::max_attempts`]; anything else fails the push at once. A
//! failed push stays in the outbox with its reason
//! ([`PushOutbox::failed`](crate::idmap::PushOutbox::failed)) until the app enqueues the
//! record again or discards it.
//!
//! `adapters::PushRunner` (feature `tokio`) runs a worker on a Tokio task.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use maestrano::idmap::InMemoryIdMapStore;
//! use maestrano::ports::{HttpClient, SystemClock};
//! use maestrano::push::PushWorker;
//!
//! # async fn run(registry: maestrano::Registry, http: Arc<dyn HttpClient>) -> Result<(), Box<dyn std::error::Error>> {
//! // The outbox lives in the id map's own store (adapters::SqliteStore or PostgresStore in an
//! // app; `http` is adapters::ReqwestHttpClient).
//! let store = Arc::new(InMemoryIdMapStore::new());
//! let worker = PushWorker::new(registry, http, store, Arc::new(SystemClock), "my-app")?;
//! let report = worker.run_once().await?; // or adapters::PushRunner, on a task
//! println!("{report:?}");
//! # Ok(())
//! # }
//! ```

mod worker;

pub use worker::{PushOptions, PushReport, PushWorker};
