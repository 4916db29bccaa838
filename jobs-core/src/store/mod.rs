//! The store contract: what a queue store must do ([`backend::Backend`]), with the same
//! semantics on every store, and the values it keeps and hands out (ids, queue names,
//! batches, events, retention, errors).

pub mod backend;
pub(crate) mod batch;
pub(crate) mod error;
pub mod event;
pub(crate) mod id;
pub(crate) mod lease;
pub(crate) mod options;
pub(crate) mod queue_name;
pub(crate) mod record;
pub(crate) mod retention;
