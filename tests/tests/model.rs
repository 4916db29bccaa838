//! Model-based property test of the queue contract ([`Backend`]): random sequences of
//! enqueue, reserve, finish (complete, retry, fail for good, snooze, release), renew, crash,
//! clock advance, recover and retry-dead steps, run against a backend and against a plain
//! model written here (not `MemoryBackend`: the point is an independent oracle). After
//! every step the backend's answers, counts and every job's record must agree with the
//! model.
//!
//! What that checks: no job is lost (retention is far above what a case produces, so every
//! enqueued job stays readable, in the state the model says); no job is leased to two
//! holders at once (a reservation hands out only jobs the model has ready, and renew and
//! finish accept exactly the lease the model says is current, so a stale holder gets
//! `Stale`); fencing tokens are never reused; attempts, deliveries and stalls agree; ready
//! jobs come out by priority, then by the time they became ready.
//!
//! Time. Redis reads its own clock, which a test cannot move, and real sleeps of the size
//! of the delays would make the model guess which timers are due. So every delay and lease
//! is zero (due at once), short (`SHORT_MS`) or long (an hour: never due here), and the
//! model never guesses: it brackets each call between two readings of the wall clock the
//! server also reads (same machine), learns the exact instants from the backend's answers
//! (lease ends, `run_at_ms`, `finished_at_ms`) after checking they fall in the bracket, and
//! before each step whose result depends on time (reserve, recover) the runner waits until
//! no timer falls due within `GUARD_MS`. The model then knows exactly which timers are due
//! when the script reads its clock. If a call is so slow that it still straddles a timer
//! and its answer does not tell the script's time, the rest of that case is skipped as
//! inconclusive (and counted) rather than guessed. "Advance" is a real wait past every
//! short timer. The in-memory backend runs the same property under tokio's paused clock,
//! where every bracket is exact and waits cost nothing.
//!
//! Run more cases with `PROPTEST_CASES=500 cargo test -p jobs-tests --test model`.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jobs_core::backend::{Finish, JobInfo, JobState, Lease, LeaseStatus, NewJob, Outcome, RunAt};
use jobs_core::{Backend, BackendError, JobId, MemoryBackend, RECOVER_BATCH, Retention};
use jobs_redis::RedisBackend;
use jobs_tests::redis_server::RedisServer;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

const Q: &str = "model";
const NAME: &str = "model_job";
/// A short timer: due after a short real wait.
const SHORT_MS: u64 = 20;
/// A long timer: never due while a test runs.
const LONG_MS: u64 = 3_600_000;
/// Before a time-dependent call, no timer may fall due this close ahead: a call answers
/// well within it, so the script's clock cannot straddle a timer.
const GUARD_MS: u64 = 8;
const MAX_STALLS: u32 = 2;
/// Nothing is trimmed: every enqueued job stays readable.
const RETENTION: Retention = Retention::DEFAULT
    .succeeded(1_000_000, Duration::from_secs(365 * 24 * 3600))
    .dead(1_000_000, Duration::from_secs(365 * 24 * 3600));
const DEFAULT_CASES: u32 = 64;
const MAX_OPS: usize = 60;
/// Picks resolve modulo the current number of jobs or leases, so they stay valid while
/// proptest shrinks the sequence around them.
const PICK: std::ops::Range<usize> = 0..8;

// ---- Operations -------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Zero,
    Short,
    Long,
}

impl Timer {
    fn ms(self) -> u64 {
        match self {
            Timer::Zero => 0,
            Timer::Short => SHORT_MS,
            Timer::Long => LONG_MS,
        }
    }

    fn duration(self) -> Duration {
        Duration::from_millis(self.ms())
    }
}

/// When a new job becomes ready.
#[derive(Debug, Clone, Copy)]
enum Start {
    Now,
    /// `RunAt::UnixMillis(1)`: ready at once, ahead of everything of its priority.
    Past,
    Short,
    Long,
}

/// How a holder ends its lease.
#[derive(Debug, Clone, Copy)]
enum End {
    Complete,
    /// A retryable failure with this delay (dead if it was the last attempt).
    Retry(Timer),
    /// A failure that must not be retried.
    Permanent,
    Snooze(Timer),
    Release,
}

#[derive(Debug, Clone)]
struct Spec {
    priority: i8,
    start: Start,
    max_attempts: u32,
}

#[derive(Debug, Clone)]
enum Op {
    /// One call storing new jobs.
    Enqueue(Vec<Spec>),
    /// Enqueues a known id again with other fields: must change nothing.
    EnqueueAgain {
        job: usize,
        start: Start,
    },
    Reserve {
        max: usize,
        lease: Timer,
    },
    /// One call finishing leases the test holds (the same lease may come twice).
    Finish(Vec<(usize, End)>),
    /// One call renewing leases the test holds.
    Renew {
        leases: Vec<usize>,
        lease: Timer,
    },
    /// A holder dies: it forgets its lease, which stays with the job until it expires.
    Crash {
        lease: usize,
    },
    /// A holder that crashed or already finished comes back and presents its old lease:
    /// renews it (`end: None`) or finishes it.
    Zombie {
        lease: usize,
        end: Option<End>,
    },
    /// A real wait past every short timer.
    Advance,
    Recover {
        limit: usize,
    },
    RetryDead {
        job: usize,
    },
}

fn timer() -> impl Strategy<Value = Timer> {
    prop_oneof![3 => Just(Timer::Zero), 2 => Just(Timer::Short), 1 => Just(Timer::Long)]
}

/// Leases: long ones (the plain case) shrink first.
fn lease_timer() -> impl Strategy<Value = Timer> {
    prop_oneof![2 => Just(Timer::Long), 2 => Just(Timer::Zero), 1 => Just(Timer::Short)]
}

fn start() -> impl Strategy<Value = Start> {
    prop_oneof![
        4 => Just(Start::Now),
        1 => Just(Start::Past),
        2 => Just(Start::Short),
        1 => Just(Start::Long),
    ]
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        3 => Just(End::Complete),
        3 => timer().prop_map(End::Retry),
        1 => Just(End::Permanent),
        2 => timer().prop_map(End::Snooze),
        2 => Just(End::Release),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    let priority = prop_oneof![
        4 => Just(0i8),
        2 => Just(1),
        2 => Just(-1),
        1 => Just(i8::MAX),
        1 => Just(i8::MIN),
    ];
    // 0 is stored as 1.
    let max_attempts = prop_oneof![9 => 1..=3u32, 1 => Just(0)];
    (priority, start(), max_attempts).prop_map(|(priority, start, max_attempts)| Spec {
        priority,
        start,
        max_attempts,
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => vec(spec(), 1..=3).prop_map(Op::Enqueue),
        1 => (PICK, start()).prop_map(|(job, start)| Op::EnqueueAgain { job, start }),
        5 => (0..=3usize, lease_timer()).prop_map(|(max, lease)| Op::Reserve { max, lease }),
        5 => vec((PICK, end()), 1..=2).prop_map(Op::Finish),
        2 => (vec(PICK, 1..=2), lease_timer()).prop_map(|(leases, lease)| Op::Renew { leases, lease }),
        2 => PICK.prop_map(|lease| Op::Crash { lease }),
        1 => (PICK, option::of(end())).prop_map(|(lease, end)| Op::Zombie { lease, end }),
        2 => Just(Op::Advance),
        1 => prop_oneof![Just(100usize), Just(1)].prop_map(|limit| Op::Recover { limit }),
        1 => PICK.prop_map(|job| Op::RetryDead { job }),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    vec(op(), 1..=MAX_OPS)
}

// ---- The model --------------------------------------------------------------------------

/// An instant on the backend's clock (ms since the epoch) known to lie in `lo..=hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    lo: u64,
    hi: u64,
}

impl Span {
    fn exact(at: u64) -> Self {
        Span { lo: at, hi: at }
    }

    fn after(self, ms: u64) -> Self {
        Span {
            lo: self.lo + ms,
            hi: self.hi + ms,
        }
    }

    fn contains(self, at: u64) -> bool {
        (self.lo..=self.hi).contains(&at)
    }

    fn is_exact(self) -> bool {
        self.lo == self.hi
    }

    /// Narrows to `seen` if it lies in the span.
    fn pin(&mut self, seen: u64) -> bool {
        let ok = self.contains(seen);
        if ok {
            *self = Span::exact(seen);
        }
        ok
    }

    /// Whether a timer due at `self` is due for a script that read its clock at some
    /// instant in `now`; `None` when that depends on the exact instant.
    fn due_at(self, now: Span) -> Option<bool> {
        if self.hi <= now.lo {
            Some(true)
        } else if self.lo > now.hi {
            Some(false)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum MState {
    Scheduled { due: Span },
    Ready,
    Active { token: u64, expires: u64 },
    Succeeded,
    Dead,
}

impl MState {
    fn kind(self) -> JobState {
        match self {
            MState::Scheduled { .. } => JobState::Scheduled,
            MState::Ready => JobState::Ready,
            MState::Active { .. } => JobState::Active,
            MState::Succeeded => JobState::Succeeded,
            MState::Dead => JobState::Dead,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum LastError {
    Said(String),
    /// The backend's own message for a job buried after its lease expired.
    LeaseExpired,
}

#[derive(Debug, Clone)]
struct MJob {
    label: String,
    id: JobId,
    priority: i8,
    max_attempts: u32,
    payload: Vec<u8>,
    state: MState,
    attempts: u32,
    deliveries: u32,
    stalls: u32,
    created: Span,
    /// Ordering key among ready jobs: when the job became due.
    ready_at: Span,
    /// `ready_at` is the enqueue instant, learned exactly from `created_at_ms`.
    ready_at_is_created: bool,
    finished: Option<Span>,
    last_error: Option<LastError>,
    result: Option<Vec<u8>>,
}

impl MJob {
    /// Whether `self` must come out of ready before `other`, whatever the exact instants.
    fn surely_before(&self, other: &MJob) -> bool {
        if self.priority != other.priority {
            return self.priority > other.priority;
        }
        let (a, b) = (self.ready_at, other.ready_at);
        a.hi < b.lo || (a.is_exact() && b.is_exact() && a.lo == b.lo && self.id < other.id)
    }

    /// Puts a job that leaves a lease (or the dead set) back in line at `due`.
    fn schedule(&mut self, due: Span, delay: Timer) {
        self.ready_at_is_created = false;
        if delay == Timer::Zero {
            self.state = MState::Ready;
            self.ready_at = due;
        } else {
            self.state = MState::Scheduled { due };
        }
    }
}

impl fmt::Display for MJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            MState::Scheduled { due } if due.lo > self.created.hi + LONG_MS / 2 => {
                "scheduled (long)".to_owned()
            }
            MState::Scheduled { .. } => "scheduled (short)".to_owned(),
            MState::Active { token, expires } if expires > self.created.hi + LONG_MS / 2 => {
                format!("active #{token} (long lease)")
            }
            MState::Active { token, .. } => format!("active #{token}"),
            other => format!("{:?}", other.kind()).to_lowercase(),
        };
        write!(
            f,
            "{} (priority {}, max {}): {state}, attempts {}, deliveries {}, stalls {}",
            self.label,
            self.priority,
            self.max_attempts,
            self.attempts,
            self.deliveries,
            self.stalls
        )
    }
}

// ---- Running a sequence -----------------------------------------------------------------

/// A lease as one holder sees it: its copy from `reserve`, never updated (the worker's
/// processor also finishes with the copy it was handed).
#[derive(Debug, Clone)]
struct Held {
    lease: Lease,
    label: String,
}

enum Stop {
    Fail(String),
    /// The outcome depends on an instant the test cannot learn; the case ends here.
    Inconclusive(String),
}

impl From<BackendError> for Stop {
    fn from(e: BackendError) -> Self {
        Stop::Fail(format!("backend error: {e}"))
    }
}

/// The lease end of a `Held` answer; `None` for `Stale`.
fn held_until(answer: LeaseStatus) -> Option<u64> {
    match answer {
        LeaseStatus::Held { expires_at_ms } => Some(expires_at_ms),
        _ => None,
    }
}

/// An instant as an offset from the case's start `t0`.
fn relative(t0: u64, s: Span) -> String {
    let (lo, hi) = (s.lo.saturating_sub(t0), s.hi.saturating_sub(t0));
    if lo == hi {
        format!("t+{lo}ms")
    } else {
        format!("t+{lo}..={hi}ms")
    }
}

fn fail<T>(why: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Fail(why.into()))
}

enum Verdict {
    Passed,
    Inconclusive(String),
}

struct Run<'a, B> {
    backend: &'a B,
    clock: &'a dyn Fn() -> u64,
    t0: u64,
    jobs: Vec<MJob>,
    by_id: HashMap<JobId, usize>,
    /// Leases held by live holders.
    held: Vec<Held>,
    /// Leases whose holder crashed or finished: zombies may present them again.
    spent: Vec<Held>,
    tokens: HashSet<u64>,
    trace: Vec<String>,
}

async fn run_case<B: Backend>(
    backend: &B,
    clock: &dyn Fn() -> u64,
    ops: &[Op],
) -> Result<Verdict, String> {
    let mut run = Run {
        backend,
        clock,
        t0: clock(),
        jobs: Vec::new(),
        by_id: HashMap::new(),
        held: Vec::new(),
        spent: Vec::new(),
        tokens: HashSet::new(),
        trace: Vec::new(),
    };
    for (n, op) in ops.iter().enumerate() {
        run.trace.push(format!("{n:>3}. {op:?}"));
        let result = match run.step(op).await {
            Ok(()) => run.check().await,
            Err(stop) => Err(stop),
        };
        match result {
            Ok(()) => {}
            Err(Stop::Inconclusive(why)) => {
                return Ok(Verdict::Inconclusive(format!("step {n}: {why}")));
            }
            Err(Stop::Fail(why)) => return Err(run.report(&format!("failed at step {n}: {why}"))),
        }
    }
    if std::env::var_os("MODEL_TRACE").is_some() {
        eprintln!("{}", run.report("passed"));
    }
    Ok(Verdict::Passed)
}

impl<B: Backend> Run<'_, B> {
    fn now(&self) -> u64 {
        (self.clock)()
    }

    /// The bracket of a call that started at `start`.
    fn since(&self, start: u64) -> Span {
        Span {
            lo: start,
            hi: self.now(),
        }
    }

    /// Adds what a step did to its trace line.
    fn note(&mut self, what: impl fmt::Display) {
        if let Some(line) = self.trace.last_mut() {
            let _ = write!(line, "  -> {what}");
        }
    }

    fn rel(&self, s: Span) -> String {
        relative(self.t0, s)
    }

    fn report(&self, verdict: &str) -> String {
        let mut out = format!("{verdict}\n\nsteps run:\n");
        for line in &self.trace {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "\nmodel at the end:");
        for job in &self.jobs {
            let _ = writeln!(out, "  {job}");
        }
        let held: Vec<&str> = self.held.iter().map(|h| h.label.as_str()).collect();
        let spent: Vec<&str> = self.spent.iter().map(|h| h.label.as_str()).collect();
        let _ = writeln!(out, "  leases held: {held:?}; spent: {spent:?}");
        out
    }

    /// Every pending timer: run-at of scheduled jobs, ends of leases.
    fn timers(&self) -> impl Iterator<Item = Span> + '_ {
        self.jobs.iter().filter_map(|j| match j.state {
            MState::Scheduled { due } => Some(due),
            MState::Active { expires, .. } => Some(Span::exact(expires)),
            _ => None,
        })
    }

    /// Waits until no timer falls due within `GUARD_MS`; returns the clock reading that
    /// starts the next call's bracket.
    async fn settle(&self) -> u64 {
        loop {
            let now = self.now();
            let near = self
                .timers()
                .filter(|t| t.hi > now && t.lo <= now + GUARD_MS)
                .map(|t| t.hi)
                .max();
            match near {
                Some(hi) => tokio::time::sleep(Duration::from_millis(hi + 1 - now)).await,
                None => return now,
            }
        }
    }

    fn pick(pool: &[Held], i: usize) -> Option<&Held> {
        (!pool.is_empty()).then(|| &pool[i % pool.len()])
    }

    fn job_of(&self, id: JobId) -> Result<usize, Stop> {
        match self.by_id.get(&id) {
            Some(&i) => Ok(i),
            None => fail(format!(
                "the backend handed out job {id}, which was never enqueued"
            )),
        }
    }

    async fn step(&mut self, op: &Op) -> Result<(), Stop> {
        match op {
            Op::Enqueue(specs) => self.enqueue(specs).await,
            Op::EnqueueAgain { job, start } => self.enqueue_again(*job, *start).await,
            Op::Reserve { max, lease } => self.reserve(*max, *lease).await,
            Op::Finish(items) => self.finish(items, false).await,
            Op::Renew { leases, lease } => self.renew(leases, *lease, false).await,
            Op::Crash { lease } => {
                if self.held.is_empty() {
                    self.note("no lease held");
                } else {
                    let h = self.held.remove(lease % self.held.len());
                    self.note(format!("the holder of {} forgets it", h.label));
                    self.spent.push(h);
                }
                Ok(())
            }
            Op::Zombie { lease, end } => match end {
                Some(end) => self.finish(&[(*lease, *end)], true).await,
                None => self.renew(&[*lease], Timer::Long, true).await,
            },
            Op::Advance => {
                let now = self.now();
                let last = self
                    .timers()
                    .map(|t| t.hi)
                    .filter(|&hi| hi >= now && hi < now + LONG_MS / 2)
                    .max();
                match last {
                    Some(hi) => {
                        tokio::time::sleep(Duration::from_millis(hi + 1 - now)).await;
                        self.note(format!("waited {} ms", hi + 1 - now));
                    }
                    None => self.note("no short timer pending"),
                }
                Ok(())
            }
            Op::Recover { limit } => self.recover(*limit).await,
            Op::RetryDead { job } => self.retry_dead(*job).await,
        }
    }

    async fn enqueue(&mut self, specs: &[Spec]) -> Result<(), Stop> {
        let mut new = Vec::new();
        for (k, spec) in specs.iter().enumerate() {
            let n = self.jobs.len() + k;
            let run_at = match spec.start {
                Start::Now => RunAt::Now,
                Start::Past => RunAt::UnixMillis(1),
                Start::Short => RunAt::After(Timer::Short.duration()),
                Start::Long => RunAt::After(Timer::Long.duration()),
            };
            new.push(NewJob {
                id: JobId::new(),
                name: NAME.to_owned(),
                queue: Q.to_owned(),
                payload: format!("{{\"job\":{n}}}").into_bytes(),
                priority: spec.priority,
                run_at,
                max_attempts: spec.max_attempts,
                batch: None,
                flow: Default::default(),
            });
        }
        let start = self.now();
        self.backend.enqueue(new.clone()).await?;
        let now = self.since(start);
        let mut labels = Vec::new();
        for (job, spec) in new.into_iter().zip(specs) {
            let label = format!("j{}", self.jobs.len());
            let (state, ready_at) = match spec.start {
                Start::Now => (MState::Ready, now),
                Start::Past => (MState::Ready, Span::exact(1)),
                Start::Short | Start::Long => {
                    let ms = match spec.start {
                        Start::Short => SHORT_MS,
                        _ => LONG_MS,
                    };
                    let due = now.after(ms);
                    (MState::Scheduled { due }, due)
                }
            };
            labels.push(label.clone());
            self.by_id.insert(job.id, self.jobs.len());
            self.jobs.push(MJob {
                label,
                id: job.id,
                priority: job.priority,
                max_attempts: job.max_attempts.max(1),
                payload: job.payload,
                state,
                attempts: 0,
                deliveries: 0,
                stalls: 0,
                created: now,
                ready_at,
                ready_at_is_created: matches!(spec.start, Start::Now),
                finished: None,
                last_error: None,
                result: None,
            });
        }
        self.note(labels.join(", "));
        Ok(())
    }

    async fn enqueue_again(&mut self, job: usize, start: Start) -> Result<(), Stop> {
        if self.jobs.is_empty() {
            self.note("no job yet");
            return Ok(());
        }
        let j = &self.jobs[job % self.jobs.len()];
        let (id, label) = (j.id, j.label.clone());
        let run_at = match start {
            Start::Now => RunAt::Now,
            Start::Past => RunAt::UnixMillis(1),
            Start::Short => RunAt::After(Timer::Short.duration()),
            Start::Long => RunAt::After(Timer::Long.duration()),
        };
        let again = NewJob {
            id,
            name: "another_name".to_owned(),
            queue: Q.to_owned(),
            payload: b"{\"changed\":true}".to_vec(),
            priority: 99,
            run_at,
            max_attempts: 9,
            batch: None,
            flow: Default::default(),
        };
        self.backend.enqueue(vec![again]).await?;
        self.note(format!("{label} again (must change nothing)"));
        Ok(())
    }

    /// What a script that read its clock at some instant in `now` does first: make due
    /// scheduled jobs ready (if `promote`), then recover up to `limit` expired leases.
    /// Returns (requeued, buried).
    fn pass_time(&mut self, now: Span, promote: bool, limit: usize) -> Result<(u64, u64), Stop> {
        let mut unsure = Vec::new();
        let mut due = Vec::new();
        let mut expired = Vec::new();
        for (i, j) in self.jobs.iter().enumerate() {
            let (timer, list) = match j.state {
                MState::Scheduled { due: at } if promote => (at, &mut due),
                MState::Active { expires, .. } => (Span::exact(expires), &mut expired),
                _ => continue,
            };
            match timer.due_at(now) {
                Some(true) => list.push(i),
                Some(false) => {}
                None => unsure.push(format!("{} at {}", j.label, self.rel(timer))),
            }
        }
        if !unsure.is_empty() {
            return Err(Stop::Inconclusive(format!(
                "the backend read its clock at some instant in {}, and the timers of {} fall in that window",
                self.rel(now),
                unsure.join(", ")
            )));
        }
        for i in due {
            let j = &mut self.jobs[i];
            if let MState::Scheduled { due } = j.state {
                j.state = MState::Ready;
                j.ready_at = due;
                j.ready_at_is_created = false;
            }
        }
        // Oldest lease end first, then by id: the order of both backends' indexes.
        expired.sort_by_key(|&i| match self.jobs[i].state {
            MState::Active { expires, .. } => (expires, self.jobs[i].id),
            _ => unreachable!("only active jobs have expired leases"),
        });
        expired.truncate(limit);
        let (mut requeued, mut buried) = (0, 0);
        for i in expired {
            let j = &mut self.jobs[i];
            j.stalls += 1;
            if j.stalls >= MAX_STALLS || j.attempts >= j.max_attempts {
                j.state = MState::Dead;
                j.finished = Some(now);
                j.last_error = Some(LastError::LeaseExpired);
                buried += 1;
            } else {
                // Back to its old place in line.
                j.state = MState::Ready;
                requeued += 1;
            }
        }
        Ok((requeued, buried))
    }

    async fn reserve(&mut self, max: usize, lease: Timer) -> Result<(), Stop> {
        let start = self.settle().await;
        let got = self
            .backend
            .reserve(&[Q.to_owned()], max, lease.duration())
            .await?;
        // The contract: a queue is visited (maintained, then drained) only while the batch
        // has room, so a reservation of nothing changes nothing.
        if max == 0 {
            return match got.is_empty() {
                true => Ok(()),
                false => fail(format!("reserve of 0 handed out {} job(s)", got.len())),
            };
        }
        let mut now = self.since(start);
        // A lease end is the script's clock plus the lease: it pins the instant.
        if let Some(first) = got.first() {
            let at = first.lease.expires_at_ms.saturating_sub(lease.ms());
            if !now.contains(at) {
                return fail(format!(
                    "reserve: lease end {} is not the call's now ({}) plus the lease ({} ms)",
                    self.rel(Span::exact(first.lease.expires_at_ms)),
                    self.rel(now),
                    lease.ms()
                ));
            }
            now = Span::exact(at);
            if let Some(r) = got
                .iter()
                .find(|r| r.lease.expires_at_ms != first.lease.expires_at_ms)
            {
                return fail(format!(
                    "reserve: leases of one call end at different instants ({} and {})",
                    first.lease.expires_at_ms, r.lease.expires_at_ms
                ));
            }
        }
        self.pass_time(now, true, RECOVER_BATCH)?;

        let ready: Vec<usize> = (0..self.jobs.len())
            .filter(|&i| self.jobs[i].state == MState::Ready)
            .collect();
        let mut picked = Vec::new();
        for r in &got {
            let i = self.job_of(r.lease.id)?;
            let j = &self.jobs[i];
            if picked.contains(&i) {
                return fail(format!("reserve handed out {} twice in one call", j.label));
            }
            if let MState::Active { token, .. } = j.state {
                return fail(format!(
                    "reserve handed out {} while its lease #{token} is still current: leased twice at once",
                    j.label
                ));
            }
            if j.state != MState::Ready {
                return fail(format!(
                    "reserve handed out {}, which the model has {:?}, not ready",
                    j.label,
                    j.state.kind()
                ));
            }
            picked.push(i);
        }
        let want = max.min(ready.len());
        if got.len() != want {
            let labels: Vec<&str> = ready.iter().map(|&i| self.jobs[i].label.as_str()).collect();
            return fail(format!(
                "reserve(max {max}) handed out {} jobs; the model has {} ready: {labels:?}",
                got.len(),
                ready.len(),
            ));
        }
        // By priority, then by the time each became ready (within what the model knows).
        for (k, &p) in picked.iter().enumerate() {
            let jp = &self.jobs[p];
            if let Some(&u) = ready
                .iter()
                .find(|&&u| !picked.contains(&u) && self.jobs[u].surely_before(jp))
            {
                return fail(format!(
                    "reserve took {} but left {}, which comes first (priority {} vs {}, ready {} vs {})",
                    jp.label,
                    self.jobs[u].label,
                    jp.priority,
                    self.jobs[u].priority,
                    self.rel(jp.ready_at),
                    self.rel(self.jobs[u].ready_at)
                ));
            }
            if let Some(&next) = picked.get(k + 1)
                && self.jobs[next].surely_before(jp)
            {
                return fail(format!(
                    "reserve returned {} before {}, out of order",
                    jp.label, self.jobs[next].label
                ));
            }
        }
        let mut labels = Vec::new();
        for (r, &i) in got.iter().zip(&picked) {
            if !self.tokens.insert(r.lease.token) {
                return fail(format!("fencing token {} handed out twice", r.lease.token));
            }
            let j = &mut self.jobs[i];
            j.attempts += 1;
            j.deliveries += 1;
            j.state = MState::Active {
                token: r.lease.token,
                expires: r.lease.expires_at_ms,
            };
            j.ready_at_is_created = false;
            let seen = (
                r.name.as_str(),
                &r.payload,
                r.attempt,
                r.max_attempts,
                r.deliveries,
            );
            let want = (NAME, &j.payload, j.attempts, j.max_attempts, j.deliveries);
            if seen != want {
                return fail(format!(
                    "reserve handed out {} as (name, payload, attempt, max, deliveries) {seen:?}, model {want:?}",
                    j.label
                ));
            }
            let label = format!("{}#{}", j.label, r.lease.token);
            labels.push(label.clone());
            self.held.push(Held {
                lease: r.lease.clone(),
                label,
            });
        }
        self.note(if labels.is_empty() {
            "nothing".to_owned()
        } else {
            labels.join(", ")
        });
        Ok(())
    }

    /// `Ok(lease end)` if `lease` is the job's current one, else `Err(why it is stale)`.
    fn current(&self, lease: &Lease) -> Result<u64, String> {
        let j = &self.jobs[self.by_id[&lease.id]];
        match j.state {
            MState::Active { token, expires } if token == lease.token => Ok(expires),
            MState::Active { token, .. } => Err(format!(
                "{} is now leased under #{token}: two holders would both own it",
                j.label
            )),
            other => Err(format!(
                "{} is {:?}: the old holder would act on a job it no longer owns",
                j.label,
                other.kind()
            )),
        }
    }

    fn outcome(h: &Held, end: End) -> Outcome {
        match end {
            End::Complete => Outcome::Succeeded {
                // Some jobs have no output.
                result: h
                    .lease
                    .token
                    .is_multiple_of(2)
                    .then(|| format!("done {}", h.label).into_bytes()),
            },
            End::Retry(after) => Outcome::Failed {
                error: format!("boom in {}", h.label),
                retry_after: Some(after.duration()),
            },
            End::Permanent => Outcome::Failed {
                error: format!("refused in {}", h.label),
                retry_after: None,
            },
            End::Snooze(after) => Outcome::Snooze {
                after: after.duration(),
            },
            End::Release => Outcome::Release,
        }
    }

    async fn finish(&mut self, items: &[(usize, End)], zombie: bool) -> Result<(), Stop> {
        let pool = if zombie { &self.spent } else { &self.held };
        if pool.is_empty() {
            self.note("no lease to present");
            return Ok(());
        }
        let chosen: Vec<(usize, Held, End)> = items
            .iter()
            .map(|&(i, end)| {
                let i = i % pool.len();
                (i, pool[i].clone(), end)
            })
            .collect();
        let batch: Vec<Finish> = chosen
            .iter()
            .map(|(_, h, end)| Finish {
                lease: h.lease.clone(),
                outcome: Self::outcome(h, *end),
            })
            .collect();
        let start = self.now();
        let answers = self.backend.finish(batch.clone()).await?;
        let now = self.since(start);
        if answers.len() != batch.len() {
            return fail(format!(
                "finish: {} answers for {} items",
                answers.len(),
                batch.len()
            ));
        }
        let mut notes = Vec::new();
        for ((_, h, end), (item, answer)) in chosen.iter().zip(batch.into_iter().zip(answers)) {
            let expected = self.current(&h.lease);
            match (&expected, held_until(answer)) {
                (Ok(end_ms), Some(expires_at_ms)) => {
                    if expires_at_ms != *end_ms {
                        return fail(format!(
                            "finish of {} answered Held until {}, but the lease ends at {} (holder's copy says {})",
                            h.label,
                            self.rel(Span::exact(expires_at_ms)),
                            self.rel(Span::exact(*end_ms)),
                            self.rel(Span::exact(h.lease.expires_at_ms))
                        ));
                    }
                }
                (Ok(_), None) => {
                    return fail(format!(
                        "finish refused {}, which is the job's current lease",
                        h.label
                    ));
                }
                (Err(why), Some(_)) => {
                    return fail(format!("finish accepted stale lease {}: {why}", h.label));
                }
                (Err(_), _) => {}
            }
            if expected.is_err() {
                notes.push(format!("{} stale", h.label));
                continue;
            }
            notes.push(format!("{} {:?}", h.label, end));
            let (result, error) = match item.outcome {
                Outcome::Succeeded { result } => (result, None),
                Outcome::Failed { error, .. } => (None, Some(error)),
                _ => (None, None),
            };
            let j = &mut self.jobs[self.by_id[&h.lease.id]];
            match *end {
                End::Complete => {
                    j.state = MState::Succeeded;
                    j.finished = Some(now);
                    j.result = result;
                }
                End::Retry(delay) if j.attempts < j.max_attempts => {
                    j.last_error = error.map(LastError::Said);
                    j.schedule(now.after(delay.ms()), delay);
                }
                End::Retry(_) | End::Permanent => {
                    j.last_error = error.map(LastError::Said);
                    j.state = MState::Dead;
                    j.finished = Some(now);
                }
                End::Snooze(delay) => {
                    // The attempt is given back.
                    j.attempts = j.attempts.saturating_sub(1);
                    j.schedule(now.after(delay.ms()), delay);
                }
                End::Release => {
                    // Back to its old place in line, the attempt given back.
                    j.attempts = j.attempts.saturating_sub(1);
                    j.state = MState::Ready;
                    j.ready_at_is_created = false;
                }
            }
        }
        if !zombie {
            // A holder lets go of every lease it finished, whatever the answer.
            let mut gone: Vec<usize> = chosen.iter().map(|(i, ..)| *i).collect();
            gone.sort_unstable();
            gone.dedup();
            for i in gone.into_iter().rev() {
                let h = self.held.remove(i);
                self.spent.push(h);
            }
        }
        self.note(notes.join(", "));
        Ok(())
    }

    async fn renew(&mut self, picks: &[usize], lease: Timer, zombie: bool) -> Result<(), Stop> {
        let pool = if zombie { &self.spent } else { &self.held };
        if pool.is_empty() {
            self.note("no lease to present");
            return Ok(());
        }
        let chosen: Vec<Held> = picks
            .iter()
            .filter_map(|&i| Self::pick(pool, i).cloned())
            .collect();
        let leases: Vec<Lease> = chosen.iter().map(|h| h.lease.clone()).collect();
        let start = self.now();
        let answers = self.backend.renew(&leases, lease.duration()).await?;
        let now = self.since(start);
        if answers.len() != leases.len() {
            return fail(format!(
                "renew: {} answers for {} leases",
                answers.len(),
                leases.len()
            ));
        }
        let ends: HashSet<u64> = answers.iter().filter_map(|a| held_until(*a)).collect();
        if ends.len() > 1 {
            return fail(format!(
                "renew: leases renewed in one call end at different instants {ends:?}"
            ));
        }
        let mut notes = Vec::new();
        for (h, answer) in chosen.iter().zip(answers) {
            match (self.current(&h.lease), held_until(answer)) {
                (Ok(_), Some(expires_at_ms)) => {
                    let at = expires_at_ms.saturating_sub(lease.ms());
                    if !now.contains(at) {
                        return fail(format!(
                            "renew of {}: new end {} is not the call's now ({}) plus {} ms",
                            h.label,
                            self.rel(Span::exact(expires_at_ms)),
                            self.rel(now),
                            lease.ms()
                        ));
                    }
                    let j = &mut self.jobs[self.by_id[&h.lease.id]];
                    j.state = MState::Active {
                        token: h.lease.token,
                        expires: expires_at_ms,
                    };
                    notes.push(format!("{} held", h.label));
                }
                (Ok(_), None) => {
                    return fail(format!(
                        "renew refused {}, which is the job's current lease",
                        h.label
                    ));
                }
                (Err(why), Some(_)) => {
                    return fail(format!("renew accepted stale lease {}: {why}", h.label));
                }
                (Err(_), _) => notes.push(format!("{} stale", h.label)),
            }
        }
        self.note(notes.join(", "));
        Ok(())
    }

    async fn recover(&mut self, limit: usize) -> Result<(), Stop> {
        let start = self.settle().await;
        let got = self.backend.recover_expired(Q, limit).await?;
        let now = self.since(start);
        let (requeued, buried) = self.pass_time(now, false, limit)?;
        if (got.requeued, got.dead) != (requeued, buried) {
            return fail(format!(
                "recover_expired(limit {limit}) requeued {} and buried {}; model: {requeued} and {buried}",
                got.requeued, got.dead
            ));
        }
        self.note(format!("requeued {requeued}, buried {buried}"));
        Ok(())
    }

    async fn retry_dead(&mut self, job: usize) -> Result<(), Stop> {
        if self.jobs.is_empty() {
            self.note("no job yet");
            return Ok(());
        }
        let i = job % self.jobs.len();
        let id = self.jobs[i].id;
        let start = self.now();
        let moved = self.backend.retry_dead(Q, &[id]).await?;
        let now = self.since(start);
        let j = &mut self.jobs[i];
        let want = u64::from(j.state == MState::Dead);
        if moved != want {
            return fail(format!(
                "retry_dead({}) moved {moved}; the model has it {:?}",
                j.label,
                j.state.kind()
            ));
        }
        if moved == 1 {
            j.state = MState::Ready;
            j.ready_at = now;
            j.ready_at_is_created = false;
            j.attempts = 0;
            j.stalls = 0;
            j.finished = None;
        }
        let note = format!("{}: moved {moved}", j.label);
        self.note(note);
        Ok(())
    }

    /// The invariants, after every step.
    async fn check(&mut self) -> Result<(), Stop> {
        let stats = self.backend.stats(Q).await?;
        let count = |k: JobState| self.jobs.iter().filter(|j| j.state.kind() == k).count() as u64;
        let want = (
            count(JobState::Scheduled),
            count(JobState::Ready),
            count(JobState::Active),
            count(JobState::Succeeded),
            count(JobState::Dead),
        );
        let seen = (
            stats.scheduled,
            stats.ready,
            stats.active,
            stats.succeeded,
            stats.dead,
        );
        if seen != want {
            return fail(format!(
                "stats (scheduled, ready, active, succeeded, dead) = {seen:?}, model {want:?}"
            ));
        }
        for i in 0..self.jobs.len() {
            let info = self.backend.job(Q, self.jobs[i].id).await?;
            self.check_job(i, info)?;
        }
        let dead: HashSet<JobId> = self
            .backend
            .dead_jobs(Q, 0, 1_000)
            .await?
            .into_iter()
            .map(|info| info.id)
            .collect();
        let want: HashSet<JobId> = self
            .jobs
            .iter()
            .filter(|j| j.state == MState::Dead)
            .map(|j| j.id)
            .collect();
        if dead != want {
            return fail("dead_jobs lists other jobs than the model's dead ones");
        }
        Ok(())
    }

    fn check_job(&mut self, i: usize, info: Option<JobInfo>) -> Result<(), Stop> {
        let t0 = self.t0;
        let span = |s: Span| relative(t0, s);
        let rel = |at: u64| relative(t0, Span::exact(at));
        let j = &mut self.jobs[i];
        let Some(info) = info else {
            return fail(format!(
                "{} is lost: job() finds nothing, the model has it {:?}",
                j.label,
                j.state.kind()
            ));
        };
        let mut diffs = Vec::new();
        if info.state != j.state.kind() {
            diffs.push(format!(
                "state {:?}, model {:?}",
                info.state,
                j.state.kind()
            ));
        }
        let seen = (
            info.attempts,
            info.deliveries,
            info.stalls,
            info.max_attempts,
            info.priority,
        );
        let want = (
            j.attempts,
            j.deliveries,
            j.stalls,
            j.max_attempts,
            j.priority,
        );
        if seen != want {
            diffs.push(format!(
                "(attempts, deliveries, stalls, max_attempts, priority) {seen:?}, model {want:?}"
            ));
        }
        if info.name != NAME || info.payload != j.payload {
            diffs.push("name or payload changed".to_owned());
        }
        match (&mut j.state, info.run_at_ms) {
            (MState::Scheduled { due }, Some(at)) => {
                let want = *due;
                diffs.extend(
                    (!due.pin(at)).then(|| format!("run at {}, model {}", rel(at), span(want))),
                );
            }
            (MState::Scheduled { .. }, None) => diffs.push("no run_at for a scheduled job".into()),
            (_, Some(at)) => diffs.push(format!("run_at {} on a job not scheduled", rel(at))),
            _ => {}
        }
        match (j.state, info.lease_expires_at_ms) {
            (MState::Active { expires, .. }, Some(at)) if at == expires => {}
            (MState::Active { .. }, None) | (_, Some(_)) => diffs.push(format!(
                "lease end {:?}, model {:?}",
                info.lease_expires_at_ms, j.state
            )),
            _ => {}
        }
        match (&mut j.finished, info.finished_at_ms) {
            (Some(finished), Some(at)) => {
                let want = *finished;
                diffs.extend(
                    (!finished.pin(at))
                        .then(|| format!("finished at {}, model {}", rel(at), span(want))),
                );
            }
            (None, None) => {}
            (want, seen) => diffs.push(format!("finished_at {seen:?}, model {want:?}")),
        }
        let call = j.created;
        if !j.created.pin(info.created_at_ms) {
            diffs.push(format!(
                "created at {}, outside its enqueue call ({})",
                rel(info.created_at_ms),
                span(call)
            ));
        } else if j.ready_at_is_created {
            j.ready_at = j.created;
        }
        let error_ok = match (&j.last_error, &info.last_error) {
            (None, None) => true,
            (Some(LastError::Said(want)), Some(seen)) => want == seen,
            (Some(LastError::LeaseExpired), Some(seen)) => seen.starts_with("lease expired"),
            _ => false,
        };
        if !error_ok {
            diffs.push(format!(
                "last_error {:?}, model {:?}",
                info.last_error, j.last_error
            ));
        }
        if info.result != j.result {
            diffs.push(format!("result {:?}, model {:?}", info.result, j.result));
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            fail(format!(
                "{} disagrees with the model: {}",
                j.label,
                diffs.join("; ")
            ))
        }
    }
}

// ---- Drivers ----------------------------------------------------------------------------

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// Runs the property for `cases()` random sequences; on failure, panics with the minimal
/// sequence proptest shrank it to and the trace of that run.
fn check_property(backend: &str, run_one: impl Fn(&[Op]) -> Result<Verdict, String>) {
    let config = Config {
        cases: cases(),
        // A failure is kept as an ignored #[test] below, not in a regressions file.
        failure_persistence: None,
        ..Config::default()
    };
    let inconclusive = AtomicUsize::new(0);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&ops(), |ops| match run_one(&ops) {
        Ok(Verdict::Passed) => Ok(()),
        Ok(Verdict::Inconclusive(why)) => {
            inconclusive.fetch_add(1, Ordering::Relaxed);
            eprintln!("{backend}: case cut short as inconclusive at {why}");
            Ok(())
        }
        Err(why) => Err(TestCaseError::fail(why)),
    });
    match result {
        Ok(()) => eprintln!(
            "{backend}: {} cases passed ({} cut short as inconclusive)",
            cases(),
            inconclusive.load(Ordering::Relaxed)
        ),
        Err(TestError::Fail(why, ops)) => {
            let (ops, why) = minimize(ops, why.message().to_owned(), &run_one);
            let listing: Vec<String> = ops.iter().map(|op| format!("    {op:?},")).collect();
            panic!(
                "{backend}: the model and the backend disagree; minimal sequence ({} steps):\n\
                 vec![\n{}\n]\n\n{why}",
                ops.len(),
                listing.join("\n")
            )
        }
        Err(TestError::Abort(why)) => panic!("{backend}: proptest aborted: {why}"),
    }
}

/// Finishes proptest's shrinking, which stops removing steps once it has shrunk one:
/// drops single steps (and single items of batch steps) while the case still fails.
fn minimize(
    mut ops: Vec<Op>,
    mut why: String,
    run_one: &impl Fn(&[Op]) -> Result<Verdict, String>,
) -> (Vec<Op>, String) {
    let mut i = 0;
    while i < ops.len() {
        let mut smaller = None;
        for candidate in without_one(&ops, i) {
            if let Err(w) = run_one(&candidate) {
                smaller = Some((candidate, w));
                break;
            }
        }
        match smaller {
            // Look at the same position again: it holds the next step now.
            Some((candidate, w)) => (ops, why) = (candidate, w),
            None => i += 1,
        }
    }
    (ops, why)
}

/// `ops` without step `i`, then with one item fewer in step `i` if it is a batch.
fn without_one(ops: &[Op], i: usize) -> Vec<Vec<Op>> {
    let mut out = Vec::new();
    let mut removed = ops.to_vec();
    removed.remove(i);
    out.push(removed);
    let items = match &ops[i] {
        Op::Enqueue(specs) => specs.len(),
        Op::Finish(items) => items.len(),
        Op::Renew { leases, .. } => leases.len(),
        _ => 0,
    };
    if items > 1 {
        for k in 0..items {
            let mut fewer = ops.to_vec();
            match &mut fewer[i] {
                Op::Enqueue(specs) => drop(specs.remove(k)),
                Op::Finish(items) => drop(items.remove(k)),
                Op::Renew { leases, .. } => drop(leases.remove(k)),
                _ => {}
            }
            out.push(fewer);
        }
    }
    out
}

/// One private redis-server for all cases; each case gets its own key prefix.
struct RedisCases {
    server: RedisServer,
    runtime: tokio::runtime::Runtime,
    next: AtomicUsize,
}

impl RedisCases {
    fn new() -> Self {
        RedisCases {
            server: RedisServer::start().expect("start redis-server"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime"),
            next: AtomicUsize::new(0),
        }
    }

    fn run(&self, ops: &[Op]) -> Result<Verdict, String> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.runtime.block_on(async {
            let backend = RedisBackend::builder(&self.server.url())
                .prefix(format!("model{n}"))
                .retention(RETENTION)
                .max_stalls(MAX_STALLS)
                .connect()
                .await
                .expect("connect to the test's redis-server");
            run_case(&backend, &wall_ms, ops).await
        })
    }
}

/// A fresh in-memory backend under tokio's paused clock: waits are free and exact.
fn run_memory(ops: &[Op]) -> Result<Verdict, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let backend = MemoryBackend::builder()
            .retention(RETENTION)
            .max_stalls(MAX_STALLS)
            .build();
        let clock = backend.clone();
        run_case(&backend, &move || clock.now_ms(), ops).await
    })
}

#[test]
fn redis_backend_agrees_with_the_model() {
    let redis = RedisCases::new();
    check_property("redis", |ops| redis.run(ops));
}

#[test]
fn memory_backend_agrees_with_the_model() {
    check_property("memory", run_memory);
}

/// Replays one sequence on both backends (for fixed scenarios and kept failures).
fn replay(ops: Vec<Op>) {
    for (backend, result) in [
        ("memory", run_memory(&ops)),
        ("redis", RedisCases::new().run(&ops)),
    ] {
        match result {
            Ok(Verdict::Passed) => {}
            Ok(Verdict::Inconclusive(why)) => eprintln!("{backend}: inconclusive at {why}"),
            Err(why) => panic!("{backend}: {why}"),
        }
    }
}

/// Every kind of step at least once, in an order whose outcome is fixed: the runner's
/// own smoke test, and the shape of a kept failure.
#[test]
fn scripted_sequence() {
    use End::*;
    use Op::*;
    use Timer::*;
    let spec = |priority, start, max_attempts| Spec {
        priority,
        start,
        max_attempts,
    };
    replay(vec![
        Enqueue(vec![
            spec(0, Start::Now, 3),
            spec(1, Start::Now, 1),
            spec(0, Start::Short, 2),
            spec(0, Start::Long, 1),
        ]),
        // Same id, other fields: nothing changes.
        EnqueueAgain {
            job: 0,
            start: Start::Long,
        },
        // j1 (priority 1), then j0.
        Reserve {
            max: 3,
            lease: Long,
        },
        Renew {
            leases: vec![0, 1],
            lease: Long,
        },
        // j0 is ready again at once, j1 has succeeded.
        Finish(vec![(1, Retry(Zero)), (0, Complete)]),
        // Now j2 is due too, but j0 became ready first.
        Advance,
        Reserve {
            max: 1,
            lease: Zero,
        },
        Crash { lease: 0 },
        // j0's lease has expired: it is recovered to its old place, ahead of j2.
        Reserve {
            max: 3,
            lease: Zero,
        },
        // j0's first lease, long stale.
        Zombie {
            lease: 0,
            end: Some(Complete),
        },
        // j0 stalled twice: dead; j2 stalled once: ready.
        Recover { limit: 100 },
        Reserve {
            max: 3,
            lease: Long,
        },
        // j2 goes back to its old place; the same lease again and j2's expired lease
        // are stale.
        Finish(vec![(2, Release), (2, Snooze(Zero)), (1, Permanent)]),
        RetryDead { job: 0 },
        // j2 (ready since its first run-at), then j0 (since its retry).
        Reserve {
            max: 3,
            lease: Long,
        },
        Finish(vec![(1, Permanent), (2, Retry(Long))]),
        Recover { limit: 1 },
    ]);
}
