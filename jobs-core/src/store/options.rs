//! What a store keeps: [`StoreOptions`], the options every store takes, and the builder
//! setters for them that every store's builder shares ([`crate::__store_option_setters`]).

use super::event::DEFAULT_EVENTS_MAX_LEN;
use super::retention::{DEFAULT_MAX_STALLS, Retention};

/// What a store keeps and for how long: finished jobs ([`Retention`]), how many times a
/// job's lease may expire before the job is dead, and how many entries each queue's event
/// stream keeps. Every store takes the same options, whole
/// ([`MemoryBackendBuilder::store`](crate::MemoryBackendBuilder::store)) or one by one
/// ([`MemoryBackendBuilder::retention`](crate::MemoryBackendBuilder::retention), ...).
///
/// ```
/// use std::time::Duration;
/// use jobs_core::{DEFAULT_EVENTS_MAX_LEN, MemoryBackend, Retention, StoreOptions};
///
/// let options = StoreOptions::default()
///     .with_retention(Retention::DEFAULT.succeeded(1_000, Duration::from_secs(3600)))
///     .with_max_stalls(3);
/// assert_eq!(options.retention().succeeded_max, 1_000);
/// assert_eq!(options.max_stalls(), 3);
/// assert_eq!(options.events_max_len(), DEFAULT_EVENTS_MAX_LEN);
///
/// let backend = MemoryBackend::builder().store(options).build();
/// # let _ = backend;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    retention: Retention,
    max_stalls: u32,
    events_max_len: usize,
}

impl StoreOptions {
    /// The defaults: [`Retention::DEFAULT`], [`DEFAULT_MAX_STALLS`] stalls,
    /// [`DEFAULT_EVENTS_MAX_LEN`] event entries per queue.
    pub const DEFAULT: StoreOptions = StoreOptions {
        retention: Retention::DEFAULT,
        max_stalls: DEFAULT_MAX_STALLS,
        events_max_len: DEFAULT_EVENTS_MAX_LEN,
    };

    /// How long finished jobs are kept. Default: [`Retention::DEFAULT`].
    pub const fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// How many times a job's lease may expire before the job is dead (at least 1: 0
    /// counts as 1). Default: [`DEFAULT_MAX_STALLS`].
    pub const fn with_max_stalls(mut self, max_stalls: u32) -> Self {
        self.max_stalls = if max_stalls == 0 { 1 } else { max_stalls };
        self
    }

    /// How many entries each queue's event stream keeps (0 turns events off); see
    /// [`crate::event`]. Redis keeps about that many (it trims whole nodes: `XADD MAXLEN
    /// ~`), and with 0 saves one `XADD` per script call. Default:
    /// [`DEFAULT_EVENTS_MAX_LEN`].
    pub const fn with_events_max_len(mut self, entries: usize) -> Self {
        self.events_max_len = entries;
        self
    }

    /// How long finished jobs are kept.
    pub const fn retention(&self) -> Retention {
        self.retention
    }

    /// How many times a job's lease may expire before the job is dead (at least 1).
    pub const fn max_stalls(&self) -> u32 {
        self.max_stalls
    }

    /// How many entries each queue's event stream keeps (0: events are off).
    pub const fn events_max_len(&self) -> usize {
        self.events_max_len
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions::DEFAULT
    }
}

/// Not public API: the setters of the [`StoreOptions`] that every store's builder shares,
/// written once. Expands, inside the `impl` of a builder that has a field
/// `store: StoreOptions`, to `retention`, `max_stalls`, `events_max_len` (each sets one
/// option) and `store` (sets them all):
///
/// ```
/// use jobs_core::StoreOptions;
///
/// /// Options for a store.
/// pub struct MyStoreBuilder {
///     store: StoreOptions,
/// }
///
/// impl MyStoreBuilder {
///     jobs_core::__store_option_setters!();
/// }
///
/// let b = MyStoreBuilder { store: StoreOptions::default() }.max_stalls(0).events_max_len(10);
/// assert_eq!((b.store.max_stalls(), b.store.events_max_len()), (1, 10));
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __store_option_setters {
    () => {
        /// How long finished jobs are kept. Default: `Retention::DEFAULT` (see
        /// `jobs_core::StoreOptions::with_retention`).
        pub fn retention(mut self, retention: $crate::Retention) -> Self {
            self.store = self.store.with_retention(retention);
            self
        }

        /// How many times a job's lease may expire before the job is dead (at least 1).
        /// Default: `jobs_core::DEFAULT_MAX_STALLS` (see
        /// `jobs_core::StoreOptions::with_max_stalls`).
        pub fn max_stalls(mut self, max_stalls: u32) -> Self {
            self.store = self.store.with_max_stalls(max_stalls);
            self
        }

        /// How many entries each queue's event stream keeps (0 turns events off).
        /// Default: `jobs_core::DEFAULT_EVENTS_MAX_LEN` (see
        /// `jobs_core::StoreOptions::with_events_max_len`).
        pub fn events_max_len(mut self, entries: usize) -> Self {
            self.store = self.store.with_events_max_len(entries);
            self
        }

        /// Every store option at once (retention, stall limit, event stream length),
        /// replacing those set before; see `jobs_core::StoreOptions`.
        pub fn store(mut self, store: $crate::StoreOptions) -> Self {
            self.store = store;
            self
        }
    };
}
