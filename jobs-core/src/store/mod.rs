//! The store contract: what a queue store must do, with the same semantics on every store,
//! and the values it keeps and hands out.
//!
//! The [`backend::Backend`] trait (`backend.rs`) and its values: what is stored and
//! reported (`record.rs`), the worker's side of a reservation (`lease.rs`); job ids
//! (`id.rs`), queue names (`queue_name.rs`), batches (`batch.rs`), flow control (`flow.rs`),
//! lifecycle events (`event.rs`) and the reasons the store gives (`reason.rs`), what a store keeps
//! (`retention.rs`, `options.rs`), its errors (`error.rs`), and what operators' tools
//! read and change (`admin.rs`: pages of jobs, deletions, throughput, live workers).

pub(crate) mod admin;
pub mod backend;
pub(crate) mod batch;
pub(crate) mod error;
pub mod event;
pub(crate) mod flow;
pub(crate) mod id;
pub(crate) mod lease;
pub(crate) mod options;
pub(crate) mod queue_name;
pub mod reason;
pub(crate) mod record;
pub(crate) mod retention;
