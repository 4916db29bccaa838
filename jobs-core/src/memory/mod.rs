//! The in-memory backend: complete, with the same semantics as the Redis backend.
//!
//! Each call is one critical section over the whole store, the counterpart of one Lua
//! script on Redis. Time comes from tokio's clock, so tests can run it with a paused clock
//! and advance hours in no time.
//!
//! Here: the backend handle, its options and what its calls share. The store's state is in
//! `state.rs` (queues, batches), one queue and its transitions in `queue.rs` with its
//! records in `record.rs` and its event log in `events.rs`, batches in `batches.rs`;
//! `backend.rs` implements the contract by calling them.

mod admin;
mod backend;
mod batches;
mod clock;
mod events;
mod flow;
mod queue;
mod record;
mod state;

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::store::backend::NewJob;
use crate::store::options::StoreOptions;
use clock::Clock;
use queue::QueueState;
use state::State;

/// An in-process backend. Cheap to clone; clones share the same store.
///
/// Jobs live as long as the process: use it for development, tests and single-process
/// tools, and the Redis backend where jobs must survive restarts.
///
/// ```
/// use jobs_core::{Client, MemoryBackend};
/// let client = Client::new(MemoryBackend::new());
/// # let _ = client;
/// ```
#[derive(Clone)]
pub struct MemoryBackend {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    notify: Notify,
    /// Woken on every appended event entry.
    events: Notify,
    clock: Clock,
    store: StoreOptions,
}

/// Options for a [`MemoryBackend`]: what it keeps ([`StoreOptions`]), set whole with
/// [`MemoryBackendBuilder::store`] or one by one.
///
/// ```
/// use jobs_core::MemoryBackend;
/// let backend = MemoryBackend::builder().max_stalls(3).events_max_len(0).build();
/// # let _ = backend;
/// ```
#[derive(Debug, Clone)]
pub struct MemoryBackendBuilder {
    store: StoreOptions,
}

impl MemoryBackendBuilder {
    crate::__store_option_setters!();

    /// Builds the backend.
    pub fn build(self) -> MemoryBackend {
        MemoryBackend {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                notify: Notify::new(),
                events: Notify::new(),
                clock: Clock::new(),
                store: self.store,
            }),
        }
    }
}

impl MemoryBackend {
    /// A backend with default retention and stall limit.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Options: what the store keeps ([`StoreOptions`]).
    pub fn builder() -> MemoryBackendBuilder {
        MemoryBackendBuilder {
            store: StoreOptions::DEFAULT,
        }
    }

    /// The backend's clock, in ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.shared.clock.now_ms()
    }

    /// Appends the events `q` collected during a transition, and wakes readers.
    fn flush_events(&self, q: &mut QueueState, now: u64) {
        if q.events.flush(now, self.shared.store.events_max_len()) {
            self.shared.events.notify_waiters();
        }
    }

    /// After a transition: counts ended batch members, fires complete batches' callbacks
    /// (enqueued in the same critical section), appends every queue's pending events and
    /// wakes workers for the callbacks.
    fn settle(&self, state: &mut State, now: u64) {
        let fired = state.settle_batches(now);
        for q in state.queues.values_mut() {
            self.flush_events(q, now);
        }
        if fired {
            self.shared.notify.notify_waiters();
        }
    }

    /// Stores new jobs, each in its queue (made on first use), appending each one's event as
    /// it is stored; true if any was new.
    fn store(&self, state: &mut State, jobs: impl IntoIterator<Item = NewJob>, now: u64) -> bool {
        let mut any = false;
        for job in jobs {
            let q = state.queues.entry(job.queue.clone()).or_default();
            any |= q.insert(job, now);
            self.flush_events(q, now);
        }
        any
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied transition behind
        // that later calls would misread more than a lost process would, so keep going.
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend").finish_non_exhaustive()
    }
}
