//! The health signal: whether the worker's loop is alive and whether the backend answered
//! its last call, for liveness and readiness probes.
//!
//! Fed by the worker's tasks: the fetch loop marks each step and each wait, every backend
//! call of the worker (reserve, wait, renew, finish, progress, registration) marks its
//! result. Read through a [`WorkerHealth`] handle, taken before the worker runs. Marking
//! costs a few atomic stores: no lock, no allocation (an error's text aside).

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::store::error::BackendError;

/// Where a worker is in its run ([`HealthStatus::phase`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WorkerPhase {
    /// Not running yet (or refused to start).
    NotStarted,
    /// Taking and running jobs.
    Running,
    /// Shutting down: no new jobs; running ones finish or are released.
    ShuttingDown,
    /// Stopped.
    Stopped,
}

impl WorkerPhase {
    fn from_u8(n: u8) -> Self {
        match n {
            1 => WorkerPhase::Running,
            2 => WorkerPhase::ShuttingDown,
            3 => WorkerPhase::Stopped,
            _ => WorkerPhase::NotStarted,
        }
    }
}

/// A worker's health at one moment ([`WorkerHealth::status`]); serializes to a small JSON
/// object for a health endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HealthStatus {
    /// The worker runs and its fetch loop made progress within the bound
    /// ([`WorkerHealth::stall_bound`]), or is waiting for work or for a free slot.
    pub alive: bool,
    /// The worker's last backend call succeeded (false before the first one).
    pub backend_ok: bool,
    /// Where the worker is in its run.
    pub phase: WorkerPhase,
    /// How long ago a backend call last succeeded, in ms; `None` if none has.
    pub last_ok_ms_ago: Option<u64>,
    /// How long ago the fetch loop last made progress, in ms; `None` before it started.
    pub last_progress_ms_ago: Option<u64>,
    /// The last backend error, if the last call failed.
    pub last_error: Option<String>,
}

impl HealthStatus {
    /// Alive, and the backend answered its last call: ready to take jobs.
    pub fn is_healthy(&self) -> bool {
        self.alive && self.backend_ok
    }
}

/// What the fetch loop is doing, for [`HealthStatus::alive`].
const STEPPING: u8 = 0;
const WAITING: u8 = 1;

/// The health of one worker, shared by its tasks and by every [`WorkerHealth`] handle.
pub(crate) struct HealthState {
    base: Instant,
    phase: AtomicU8,
    activity: AtomicU8,
    /// ms since `base`, plus one (0: never).
    last_step: AtomicU64,
    last_ok: AtomicU64,
    backend_ok: AtomicBool,
    last_error: Mutex<Option<String>>,
    stall_bound_ms: AtomicU64,
}

impl HealthState {
    pub(crate) fn new() -> Self {
        HealthState {
            base: Instant::now(),
            phase: AtomicU8::new(0),
            activity: AtomicU8::new(STEPPING),
            last_step: AtomicU64::new(0),
            last_ok: AtomicU64::new(0),
            backend_ok: AtomicBool::new(false),
            last_error: Mutex::new(None),
            stall_bound_ms: AtomicU64::new(60_000),
        }
    }

    fn now(&self) -> u64 {
        self.base.elapsed().as_millis() as u64 + 1
    }

    pub(crate) fn set_phase(&self, phase: WorkerPhase) {
        let n = match phase {
            WorkerPhase::NotStarted => 0,
            WorkerPhase::Running => 1,
            WorkerPhase::ShuttingDown => 2,
            WorkerPhase::Stopped => 3,
        };
        self.phase.store(n, Ordering::Release);
    }

    pub(crate) fn set_stall_bound(&self, bound: Duration) {
        self.stall_bound_ms
            .store(bound.as_millis() as u64, Ordering::Relaxed);
    }

    /// The fetch loop made progress and is about to do more (reserve, back off).
    pub(crate) fn step(&self) {
        self.last_step.store(self.now(), Ordering::Release);
        self.activity.store(STEPPING, Ordering::Release);
    }

    /// The fetch loop waits for work or a free slot: alive however long that takes.
    pub(crate) fn waiting(&self) {
        self.last_step.store(self.now(), Ordering::Release);
        self.activity.store(WAITING, Ordering::Release);
    }

    /// A backend call succeeded.
    pub(crate) fn ok(&self) {
        self.last_ok.store(self.now(), Ordering::Release);
        if !self.backend_ok.swap(true, Ordering::AcqRel) {
            *self.lock_error() = None;
        }
    }

    /// A backend call (`op`) failed.
    pub(crate) fn failed(&self, op: &'static str, error: &BackendError) {
        crate::metrics::backend_error(op);
        self.backend_ok.store(false, Ordering::Release);
        *self.lock_error() = Some(format!("{op}: {error}"));
    }

    fn lock_error(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn status(&self) -> HealthStatus {
        let now = self.now();
        let ago = |at: u64| (at != 0).then(|| now.saturating_sub(at));
        let phase = WorkerPhase::from_u8(self.phase.load(Ordering::Acquire));
        let last_progress_ms_ago = ago(self.last_step.load(Ordering::Acquire));
        let waiting = self.activity.load(Ordering::Acquire) == WAITING;
        let bound = self.stall_bound_ms.load(Ordering::Relaxed);
        let alive = match phase {
            WorkerPhase::Running => waiting || last_progress_ms_ago.is_some_and(|ago| ago <= bound),
            // Bounded by the grace period.
            WorkerPhase::ShuttingDown => true,
            WorkerPhase::NotStarted | WorkerPhase::Stopped => false,
        };
        let backend_ok = self.backend_ok.load(Ordering::Acquire);
        HealthStatus {
            alive,
            backend_ok,
            phase,
            last_ok_ms_ago: ago(self.last_ok.load(Ordering::Acquire)),
            last_progress_ms_ago,
            last_error: if backend_ok {
                None
            } else {
                self.lock_error().clone()
            },
        }
    }
}

/// A handle on a worker's health, taken with [`Worker::health`](crate::Worker::health)
/// before it runs; cheap to clone, and usable from any task (a health endpoint, say).
///
/// ```
/// use jobs_core::{job, Client, JobError, MemoryBackend, Worker, WorkerPhase};
///
/// #[job]
/// async fn ping(host: String) -> Result<(), JobError> { Ok(()) }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let worker = Worker::builder(Client::new(MemoryBackend::new())).register::<Ping>().build();
/// let health = worker.health();
/// assert!(!health.status().alive); // not running yet
///
/// let stop = tokio_util::sync::CancellationToken::new();
/// let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
/// while !health.is_healthy() {
///     tokio::task::yield_now().await;
/// }
/// stop.cancel();
/// running.await??;
/// assert_eq!(health.status().phase, WorkerPhase::Stopped);
/// assert!(!health.is_healthy());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct WorkerHealth {
    pub(crate) state: Arc<HealthState>,
}

impl WorkerHealth {
    /// The worker's health now.
    pub fn status(&self) -> HealthStatus {
        self.state.status()
    }

    /// Shorthand for `status().is_healthy()`: the worker runs, its loop is alive, and the
    /// backend answered its last call.
    pub fn is_healthy(&self) -> bool {
        self.status().is_healthy()
    }

    /// How long the fetch loop may go without progress, outside a wait for work or for
    /// a free slot, before it is reported not alive: twice the lease, and at least 10 s
    /// (longer than the longest backoff between failed backend calls).
    pub fn stall_bound(&self) -> Duration {
        Duration::from_millis(self.state.stall_bound_ms.load(Ordering::Relaxed))
    }
}

impl std::fmt::Debug for WorkerHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WorkerHealth").field(&self.status()).finish()
    }
}
