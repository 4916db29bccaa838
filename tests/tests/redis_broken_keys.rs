//! Issue 10, section 7: a script that fails half-way keeps what it already wrote (Redis
//! does not roll back a script). Every script must do whatever can fail (reads, type and
//! value checks, counters, stream appends) before its first removal or write.
//!
//! Driven by what is in Redis, not by a list of key names: a fixture with jobs in every
//! state is built through the public [`Backend`] API on a fresh prefix, its keys are
//! discovered with `SCAN`, and then, for every backend operation that runs a script and
//! every discovered key (and every way of breaking that key), the test restores the
//! fixture, breaks the key, snapshots every key (`DUMP` and absolute expiry), runs the
//! operation and checks:
//! - the operation returned `Ok`, or it returned `Err` and no key changed (a failing
//!   script wrote nothing);
//! - every job whose record is in the jobs hash is in exactly one of ready, scheduled,
//!   leased (member: the id), succeeded and dead (a record the operation deleted is
//!   not checked: retention may delete finished jobs).
//!
//! Breakages: a key of another type (a string key becomes a list, any other key the
//! string "broken"); a string counter holding "x"; a stream left at its last possible
//! id, so that the next `XADD` fails.
//!
//! Every case runs on its own runtime and backend, dropped afterwards; the connections
//! of that backend are then killed server-side (`CLIENT KILL`), so nothing it started in
//! the background (a reservation drains the batch outbox in a spawned task) can write
//! into the next case. One private redis-server serves the whole file.
//!
//! A failure lists every failing case as a table row (operation | key | breakage | what
//! went wrong); `-- --nocapture` also prints the table and the case counts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use jobs_core::backend::{Finish, Lease, LeaseStatus, NewJob, Outcome, Progress, RunAt};
use jobs_core::{
    Backend, BackendError, BatchId, Callback, CallbackKind, JobId, JobState, Retention,
    backend::BatchAdded, backend::CancelOutcome,
};
use jobs_redis::{EvictionCheck, RedisBackend, RedisBackendBuilder};
use jobs_tests::redis_server::RedisServer;

const PREFIX: &str = "bk";
const Q: &str = "disks";
const HOUR: Duration = Duration::from_secs(3600);
/// Succeeded jobs kept: the fixture holds exactly this many, so a success trims one.
const SUCCEEDED_MAX: u64 = 3;
/// Dead jobs kept: the fixture holds exactly this many, so a burial trims one.
const DEAD_MAX: u64 = 2;
const JOBS: &str = "jobs";
/// The keys whose members say where a job is; `leased` members are ids.
const STATE_SETS: [&str; 5] = ["ready", "scheduled", "leased", "succeeded", "dead"];

/// Every backend call that runs a script (or, for events, reads the stream).
const OPS: &[&str] = &[
    "enqueue",
    "enqueue scheduled",
    "reserve",
    "renew",
    "finish ok",
    "finish fail (retry)",
    "finish fail (permanent)",
    "finish snooze",
    "finish release",
    "finish ok (batch member)",
    "finish fail (cancel requested)",
    "progress",
    "recover_expired",
    "cancel (waiting batch member)",
    "cancel (running)",
    "retry_dead",
    "job (active)",
    "stats",
    "dead_jobs",
    "batch open (retried)",
    "batch add",
    "batch status",
    "read_events",
    "last_event",
    "list (ready, after a cursor)",
    "delete (waiting batch member, dead)",
    "purge (dead)",
    "purge (ready)",
    "throughput",
];

fn builder(url: &str) -> RedisBackendBuilder {
    RedisBackend::builder(url)
        .prefix(PREFIX)
        .retention(
            Retention::DEFAULT
                .succeeded(SUCCEEDED_MAX, Duration::from_secs(24 * 3600))
                .dead(DEAD_MAX, Duration::from_secs(30 * 24 * 3600)),
        )
        .pool_size(2)
        .eviction_check(EvictionCheck::Skip)
}

fn new_job(id: JobId, run_at: RunAt, max_attempts: u32, batch: Option<BatchId>) -> NewJob {
    NewJob {
        id,
        name: "format_disk".into(),
        queue: Q.into(),
        payload: br#"{"host":"node-1","device":"/dev/sdb"}"#.to_vec(),
        priority: 0,
        run_at,
        max_attempts,
        batch,
        flow: Default::default(),
    }
}

// ---------------------------------------------------------------------------------------
// Raw Redis access (a plain connection of the test's own).

type Con = redis::Connection;

fn scan(con: &mut Con, pattern: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query(con)
            .expect("SCAN");
        out.extend(keys);
        if next == 0 {
            return out.into_iter().collect();
        }
        cursor = next;
    }
}

/// One key as stored: its serialized value and absolute expiry (-1: none), plus its type
/// and size to describe a change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyState {
    dump: Vec<u8>,
    expire_at: i64,
    kind: String,
    size: i64,
}

type Snapshot = BTreeMap<String, KeyState>;

fn snapshot(con: &mut Con) -> Snapshot {
    let keys = scan(con, "*");
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("DUMP").arg(k);
    }
    let dumps: Vec<Option<Vec<u8>>> = pipe.query(con).expect("DUMP");
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("PEXPIRETIME").arg(k);
    }
    let expiry: Vec<i64> = pipe.query(con).expect("PEXPIRETIME");
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("TYPE").arg(k);
    }
    let kinds: Vec<String> = pipe.query(con).expect("TYPE");
    let mut pipe = redis::pipe();
    for (k, kind) in keys.iter().zip(&kinds) {
        let size = match kind.as_str() {
            "string" => "STRLEN",
            "list" => "LLEN",
            "set" => "SCARD",
            "zset" => "ZCARD",
            "hash" => "HLEN",
            "stream" => "XLEN",
            _ => "EXISTS",
        };
        pipe.cmd(size).arg(k);
    }
    let sizes: Vec<i64> = pipe.query(con).expect("sizes");
    keys.into_iter()
        .zip(dumps)
        .zip(expiry)
        .zip(kinds.into_iter().zip(sizes))
        .filter_map(|(((k, dump), expire_at), (kind, size))| {
            Some((
                k,
                KeyState {
                    dump: dump?,
                    expire_at,
                    kind,
                    size,
                },
            ))
        })
        .collect()
}

fn restore_key(con: &mut Con, key: &str, state: &KeyState) {
    let ttl = state.expire_at.max(0);
    let () = redis::cmd("RESTORE")
        .arg(key)
        .arg(ttl)
        .arg(&state.dump[..])
        .arg("REPLACE")
        .arg("ABSTTL")
        .query(con)
        .unwrap_or_else(|e| panic!("RESTORE {key}: {e}"));
}

/// Replaces the whole keyspace with `snap`.
fn restore_all(con: &mut Con, snap: &Snapshot) {
    let () = redis::cmd("FLUSHDB").query(con).expect("FLUSHDB");
    for (key, state) in snap {
        restore_key(con, key, state);
    }
}

/// Closes every connection but the test's own: what a dropped backend had sent and the
/// server had not run yet is discarded, and nothing it sends can arrive any more.
fn kill_other_clients(con: &mut Con) {
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(con)
        .expect("CLIENT KILL");
}

fn server_ms(con: &mut Con) -> u64 {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(con).expect("TIME");
    secs * 1000 + micros / 1000
}

fn queue_key(name: &str) -> String {
    format!("{PREFIX}:{{{Q}}}:{name}")
}

/// A key's name for people: without the prefix, a batch id as `*`.
fn short(key: &str) -> String {
    let rest = key
        .strip_prefix(&format!("{PREFIX}:"))
        .unwrap_or(key)
        .to_owned();
    match rest.strip_prefix("{batch:") {
        Some(tail) => match tail.split_once('}') {
            Some((_, name)) => format!("{{batch:*}}{name}"),
            None => rest,
        },
        None => rest,
    }
}

// ---------------------------------------------------------------------------------------
// Breakages.

#[derive(Debug, Clone)]
enum Breakage {
    /// Replaced by a value of another type (a string key becomes a list).
    WrongType(String),
    /// A string counter holding "x".
    NotANumber,
    /// A stream whose last id is the largest possible: the next `XADD` fails.
    StreamExhausted,
}

impl fmt::Display for Breakage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breakage::WrongType(kind) if kind == "string" => write!(f, "string -> list"),
            Breakage::WrongType(kind) => write!(f, "{kind} -> string"),
            Breakage::NotANumber => write!(f, "counter = \"x\""),
            Breakage::StreamExhausted => write!(f, "stream at last id"),
        }
    }
}

/// The ways to break a key of this type and value.
fn breakages(con: &mut Con, key: &str, state: &KeyState) -> Vec<Breakage> {
    let mut out = vec![Breakage::WrongType(state.kind.clone())];
    match state.kind.as_str() {
        "string" => {
            let value: String = redis::cmd("GET").arg(key).query(con).expect("GET");
            if value.parse::<i64>().is_ok() {
                out.push(Breakage::NotANumber);
            }
        }
        "stream" => out.push(Breakage::StreamExhausted),
        _ => {}
    }
    out
}

fn apply(con: &mut Con, key: &str, breakage: &Breakage) {
    match breakage {
        Breakage::WrongType(kind) => {
            let _: i64 = redis::cmd("DEL").arg(key).query(con).expect("DEL");
            if kind == "string" {
                let _: i64 = redis::cmd("RPUSH")
                    .arg(key)
                    .arg("broken")
                    .query(con)
                    .expect("RPUSH");
            } else {
                let () = redis::cmd("SET")
                    .arg(key)
                    .arg("broken")
                    .query(con)
                    .expect("SET");
            }
        }
        Breakage::NotANumber => {
            let () = redis::cmd("SET")
                .arg(key)
                .arg("x")
                .arg("KEEPTTL")
                .query(con)
                .expect("SET x");
        }
        Breakage::StreamExhausted => {
            let _: i64 = redis::cmd("XTRIM")
                .arg(key)
                .arg("MAXLEN")
                .arg(0)
                .query(con)
                .expect("XTRIM");
            let _: String = redis::cmd("XADD")
                .arg(key)
                .arg("18446744073709551615-18446744073709551615")
                .arg("f")
                .arg("v")
                .query(con)
                .expect("XADD at the last possible id (Redis 7 accepts it)");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The fixture.

/// What the operations act on, and the keyspace to restore before each case.
struct Fixture {
    batch: BatchId,
    members: Vec<(JobId, String)>,
    callbacks: Vec<Callback>,
    /// Held leases: a plain job, a batch member, a job whose cancel was requested.
    l1: Lease,
    c: Lease,
    x: Lease,
    /// A ready batch member.
    d: JobId,
    /// The dead jobs (one failed, one cancelled while waiting).
    dead: [JobId; 2],
    /// Jobs the enqueue and batch-add operations store.
    fresh_ready: JobId,
    fresh_scheduled: JobId,
    fresh_member: JobId,
    /// Job id -> label, for messages.
    roles: HashMap<String, String>,
    keys: Snapshot,
}

fn one_lease(got: &[jobs_core::backend::Reserved], id: JobId) -> Lease {
    got.iter()
        .find(|r| r.lease.id == id)
        .unwrap_or_else(|| panic!("{id} was not leased: {got:?}"))
        .lease
        .clone()
}

async fn finish_one(b: &RedisBackend, lease: &Lease, outcome: Outcome) -> LeaseStatus {
    let got = b
        .finish(vec![Finish {
            lease: lease.clone(),
            outcome,
        }])
        .await
        .expect("finish");
    got[0]
}

/// Builds, through the API: a batch of five (A succeeded and counted, B succeeded but
/// still in the outbox, C running, D ready, E2 with an expired lease), ready R1-R3,
/// scheduled S1 (in an hour) and S2 (due), running L1 (with progress) and X (cancel
/// requested), an expired lease E1, succeeded P, dead F (failed) and G (cancelled).
async fn build_fixture(url: &str, con: &mut Con) -> Fixture {
    let b = builder(url).connect().await.expect("connect");
    let mut roles = HashMap::new();
    let mut id = |label: &str| {
        let id = JobId::new();
        roles.insert(id.to_string(), label.to_owned());
        id
    };
    let [a, bb, c, d, e2] = ["A", "B", "C", "D", "E2"].map(|l| id(&format!("{l} (batch)")));
    let [r1, r2, r3, s1, s2, l1, x, e1, p, f, g] =
        ["R1", "R2", "R3", "S1", "S2", "L1", "X", "E1", "P", "F", "G"].map(&mut id);
    let fresh_ready = id("new ready");
    let fresh_scheduled = id("new scheduled");
    let fresh_member = id("new member");
    let batch = BatchId::new();
    let members: Vec<_> = [a, bb, c, d, e2].map(|j| (j, Q.to_owned())).to_vec();
    let callbacks = vec![Callback {
        kind: CallbackKind::Complete,
        id: batch.callback_id(CallbackKind::Complete),
        queue: Q.into(),
        name: "batch_done".into(),
        payload: "{}".into(),
        priority: 0,
        max_attempts: 1,
    }];
    // Opened first, as BatchBuilder::enqueue does.
    assert_eq!(
        b.batch_open(batch, members.clone(), callbacks.clone())
            .await
            .unwrap(),
        BatchAdded::Added
    );

    // A and P succeed (A counted in its batch); B runs (it ends below).
    b.enqueue(vec![
        new_job(a, RunAt::Now, 3, Some(batch)),
        new_job(bb, RunAt::Now, 3, Some(batch)),
        new_job(p, RunAt::Now, 3, None),
    ])
    .await
    .unwrap();
    let got = b.reserve(&[Q.to_owned()], 3, HOUR).await.unwrap();
    for j in [a, p] {
        let ok = Outcome::Succeeded { result: None };
        let status = finish_one(&b, &one_lease(&got, j), ok).await;
        assert!(matches!(status, LeaseStatus::Held { .. }));
    }
    let b_lease = one_lease(&got, bb);

    // F fails for good; G is cancelled while it waits.
    b.enqueue(vec![new_job(f, RunAt::Now, 3, None)])
        .await
        .unwrap();
    let got = b.reserve(&[Q.to_owned()], 1, HOUR).await.unwrap();
    let fail = Outcome::Failed {
        error: "not a disk".into(),
        retry_after: None,
    };
    assert!(matches!(
        finish_one(&b, &one_lease(&got, f), fail).await,
        LeaseStatus::Held { .. }
    ));
    b.enqueue(vec![new_job(g, RunAt::After(HOUR), 3, None)])
        .await
        .unwrap();
    assert_eq!(b.cancel(Q, g).await.unwrap(), CancelOutcome::Cancelled);

    // Running: L1 (reports progress), C (batch member), X (cancel requested).
    b.enqueue(vec![
        new_job(l1, RunAt::Now, 3, None),
        new_job(c, RunAt::Now, 3, Some(batch)),
        new_job(x, RunAt::Now, 3, None),
    ])
    .await
    .unwrap();
    let got = b.reserve(&[Q.to_owned()], 3, HOUR).await.unwrap();
    let (l1, c, x) = (one_lease(&got, l1), one_lease(&got, c), one_lease(&got, x));
    let reported = b
        .progress(vec![(l1.clone(), Progress::new(40, "partitioning"))])
        .await
        .unwrap();
    assert!(matches!(reported[..], [LeaseStatus::Held { .. }]));
    assert_eq!(b.cancel(Q, x.id).await.unwrap(), CancelOutcome::Requested);

    // Expired leases (a lease of zero ends at once): E1 goes back to ready when
    // recovered, E2 (its last attempt) to dead.
    b.enqueue(vec![
        new_job(e1, RunAt::Now, 3, None),
        new_job(e2, RunAt::Now, 1, Some(batch)),
    ])
    .await
    .unwrap();
    let got = b.reserve(&[Q.to_owned()], 2, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 2);

    // B succeeds, and its ending stays in the outbox, as when its finisher died before
    // counting it: the batch's keys are unusable while B finishes (the count fails), then
    // put back. Last of the finishes and after every reservation (a reservation drains
    // the outbox).
    let batch_keys = scan(con, &format!("{PREFIX}:{{batch:*}}:*"));
    let mut snap = snapshot(con);
    let saved: Vec<_> = batch_keys
        .iter()
        .map(|k| (k.clone(), snap.remove(k).expect("batch key")))
        .collect();
    for (k, state) in &saved {
        apply(con, k, &Breakage::WrongType(state.kind.clone()));
    }
    let ok = Outcome::Succeeded {
        result: Some(b"42".to_vec()),
    };
    let status = finish_one(&b, &b_lease, ok).await;
    assert!(matches!(status, LeaseStatus::Held { .. }));
    for (k, state) in &saved {
        restore_key(con, k, state);
    }
    let counts = b.batch(batch).await.unwrap().expect("batch");
    assert_eq!(
        (counts.total, counts.succeeded),
        (5, 1),
        "B is not counted yet"
    );

    // Waiting: ready R1-R3 and D, scheduled S1 (in an hour) and S2 (due in 1 ms).
    b.enqueue(vec![
        new_job(r1, RunAt::Now, 3, None),
        new_job(r2, RunAt::Now, 3, None),
        new_job(r3, RunAt::Now, 3, None),
        new_job(d, RunAt::Now, 3, Some(batch)),
        new_job(s1, RunAt::After(HOUR), 3, None),
        new_job(s2, RunAt::After(Duration::from_millis(1)), 3, None),
    ])
    .await
    .unwrap();
    let due = b.job(Q, s2).await.unwrap().unwrap().run_at_ms.unwrap();
    // Server time, not a sleep: a few TIME calls pass the millisecond.
    while server_ms(con) <= due {}

    let stats = b.stats(Q).await.unwrap();
    assert_eq!(
        (
            stats.ready,
            stats.scheduled,
            stats.active,
            stats.succeeded,
            stats.dead
        ),
        (4, 2, 5, SUCCEEDED_MAX, DEAD_MAX),
        "fixture: {stats:?}"
    );
    let counts = b.batch(batch).await.unwrap().expect("batch");
    assert_eq!(counts.succeeded, 1, "B is still in the outbox");
    drop(b);
    Fixture {
        batch,
        members,
        callbacks,
        l1,
        c,
        x,
        d,
        dead: [f, g],
        fresh_ready,
        fresh_scheduled,
        fresh_member,
        roles,
        keys: Snapshot::new(),
    }
}

// ---------------------------------------------------------------------------------------
// The operations.

async fn finish_as(
    b: &RedisBackend,
    lease: &Lease,
    outcome: Outcome,
) -> Result<String, BackendError> {
    let got = b
        .finish(vec![Finish {
            lease: lease.clone(),
            outcome,
        }])
        .await?;
    Ok(format!("{got:?}"))
}

async fn run_op(op: &str, b: &RedisBackend, f: &Fixture) -> Result<String, BackendError> {
    let q = Q.to_owned();
    let fail = |retry_after| Outcome::Failed {
        error: "disk busy".into(),
        retry_after,
    };
    Ok(match op {
        "enqueue" => {
            b.enqueue(vec![new_job(f.fresh_ready, RunAt::Now, 3, None)])
                .await?;
            "stored".into()
        }
        "enqueue scheduled" => {
            b.enqueue(vec![new_job(
                f.fresh_scheduled,
                RunAt::After(HOUR),
                3,
                None,
            )])
            .await?;
            "stored".into()
        }
        "reserve" => {
            let got = b.reserve(&[q], 10, Duration::from_secs(60)).await?;
            format!("{} leased", got.len())
        }
        "renew" => {
            let leases = [f.l1.clone(), f.c.clone(), f.x.clone()];
            format!("{:?}", b.renew(&leases, HOUR).await?)
        }
        "finish ok" => finish_as(b, &f.l1, Outcome::Succeeded { result: None }).await?,
        "finish fail (retry)" => finish_as(b, &f.l1, fail(Some(Duration::from_secs(60)))).await?,
        "finish fail (permanent)" => finish_as(b, &f.l1, fail(None)).await?,
        "finish snooze" => {
            let after = Duration::from_secs(60);
            finish_as(b, &f.l1, Outcome::Snooze { after }).await?
        }
        "finish release" => finish_as(b, &f.l1, Outcome::Release).await?,
        "finish ok (batch member)" => {
            finish_as(b, &f.c, Outcome::Succeeded { result: None }).await?
        }
        "finish fail (cancel requested)" => finish_as(b, &f.x, fail(None)).await?,
        "progress" => {
            let items = vec![
                (f.l1.clone(), Progress::new(50, "formatting")),
                (f.c.clone(), Progress::new(10, "partitioning")),
            ];
            format!("{:?}", b.progress(items).await?)
        }
        "recover_expired" => format!("{:?}", b.recover_expired(Q, 10).await?),
        "cancel (waiting batch member)" => format!("{:?}", b.cancel(Q, f.d).await?),
        "cancel (running)" => format!("{:?}", b.cancel(Q, f.l1.id).await?),
        "retry_dead" => format!("{} moved", b.retry_dead(Q, &f.dead).await?),
        "job (active)" => format!("{:?}", b.job(Q, f.l1.id).await?.map(|i| i.state)),
        "stats" => format!("{:?}", b.stats(Q).await?),
        "dead_jobs" => format!("{} listed", b.dead_jobs(Q, 0, 10).await?.len()),
        "batch open (retried)" => {
            let added = b
                .batch_open(f.batch, f.members.clone(), f.callbacks.clone())
                .await?;
            format!("{added:?}")
        }
        "batch add" => {
            let _ = q;
            let member = vec![new_job(f.fresh_member, RunAt::Now, 3, Some(f.batch))];
            format!("{:?}", b.batch_add(f.batch, member).await?)
        }
        "batch status" => format!("{:?}", b.batch(f.batch).await?.map(|c| c.total)),
        "read_events" => {
            let events = b.read_events(Q, None, 100, Duration::ZERO).await?;
            format!("{} events", events.len())
        }
        "last_event" => format!("{:?}", b.last_event(Q).await?.is_some()),
        "list (ready, after a cursor)" => {
            let first = b.list_jobs(Q, JobState::Ready, None, 1).await?;
            let rest = b.list_jobs(Q, JobState::Ready, first.next, 10).await?;
            format!("{} + {} listed", first.jobs.len(), rest.jobs.len())
        }
        "delete (waiting batch member, dead)" => {
            format!("{:?}", b.delete_jobs(Q, &[f.d, f.dead[0]]).await?)
        }
        "purge (dead)" => format!("{} deleted", b.purge(Q, JobState::Dead, 10).await?),
        "purge (ready)" => format!("{} deleted", b.purge(Q, JobState::Ready, 10).await?),
        "throughput" => format!("{} minutes", b.throughput(Q, 5).await?.len()),
        other => unreachable!("unknown operation {other}"),
    })
}

// ---------------------------------------------------------------------------------------
// The checks.

/// Jobs whose record is stored but which are in no state set, or in several.
fn misplaced(con: &mut Con, roles: &HashMap<String, String>) -> Vec<String> {
    let ids: Vec<String> = redis::cmd("HKEYS")
        .arg(queue_key(JOBS))
        .query(con)
        .expect("HKEYS jobs");
    let mut found: HashMap<String, Vec<&str>> = HashMap::new();
    for set in STATE_SETS {
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(queue_key(set))
            .arg(0)
            .arg(-1)
            .query(con)
            .unwrap_or_else(|e| panic!("ZRANGE {set}: {e}"));
        for m in members {
            let id = match set {
                "leased" => m
                    .rsplit_once(':')
                    .map_or(m.as_str(), |(id, _)| id)
                    .to_owned(),
                _ => m,
            };
            found.entry(id).or_default().push(set);
        }
    }
    let mut out = Vec::new();
    for id in ids {
        let sets = found.get(&id).map(Vec::as_slice).unwrap_or_default();
        if sets.len() != 1 {
            let label = roles.get(&id).map_or(id.as_str(), String::as_str);
            out.push(match sets {
                [] => format!("{label} in no set"),
                _ => format!("{label} in {}", sets.join("+")),
            });
        }
    }
    out.sort();
    out
}

/// The keys that differ between two snapshots, described.
fn changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter_map(|k| match (before.get(k), after.get(k)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(a), Some(b)) if a.kind == b.kind && a.size == b.size => {
                Some(format!("{} ({} rewritten)", short(k), a.kind))
            }
            (Some(a), Some(b)) => Some(format!(
                "{} ({} {} -> {} {})",
                short(k),
                a.kind,
                a.size,
                b.kind,
                b.size
            )),
            (Some(_), None) => Some(format!("{} (deleted)", short(k))),
            (None, Some(b)) => Some(format!("{} (created {})", short(k), b.kind)),
            (None, None) => None,
        })
        .collect()
}

struct Failure {
    op: &'static str,
    key: String,
    breakage: Breakage,
    what: String,
}

/// One case: restore, break, snapshot, run, check. Returns whether the operation
/// returned `Ok`, and what went wrong, if anything.
fn run_case(
    con: &mut Con,
    url: &str,
    fixture: &Fixture,
    op: &str,
    key: &str,
    breakage: &Breakage,
) -> (bool, Option<String>) {
    restore_all(con, &fixture.keys);
    apply(con, key, breakage);
    let before = snapshot(con);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = rt.block_on(async {
        let b = builder(url).build().expect("backend");
        tokio::time::timeout(Duration::from_secs(10), run_op(op, &b, fixture))
            .await
            .unwrap_or_else(|_| panic!("{op} with {key} {breakage}: no answer in 10 s"))
    });
    // Whatever the backend still had going (a spawned drain) stops here.
    drop(rt);
    kill_other_clients(con);

    let after = snapshot(con);
    let mut wrong = Vec::new();
    if let Err(e) = &result {
        let mut changed = changes(&before, &after);
        if op == "batch add" {
            // Not one script: the batch's keys and the queue's live in different slots, so
            // adding is made recoverable instead of atomic. A failed add may leave its
            // recovery state (the queue's check entry, the member registered together with
            // its stashed job, which a later drain enqueues), but never a member without
            // its stash.
            let touched = |suffix: &str| changed.iter().any(|c| c.contains(suffix));
            if touched("}:members ") && !touched("}:adding_jobs ") {
                wrong.push("registered a member without stashing its job".to_owned());
            }
            changed.retain(|c| {
                ![
                    "}:ended ",
                    "}:adding ",
                    "}:adding_jobs ",
                    "}:members ",
                    "}:order ",
                    "}:queues ",
                ]
                .iter()
                .any(|s| c.contains(s))
            });
        }
        if !changed.is_empty() {
            let mut msg = e.to_string();
            if msg.len() > 90 {
                let mut end = 90;
                while !msg.is_char_boundary(end) {
                    end -= 1;
                }
                msg.truncate(end);
                msg.push('…');
            }
            wrong.push(format!(
                "returned Err({msg}) but wrote: {}",
                changed.join(", ")
            ));
        }
    }
    // Membership is judged with the broken key as it was: the test broke it, not the
    // operation.
    restore_key(con, key, &fixture.keys[key]);
    let lost = misplaced(con, &fixture.roles);
    if !lost.is_empty() {
        wrong.push(format!("jobs out of place: {}", lost.join(", ")));
    }
    (
        result.is_ok(),
        (!wrong.is_empty()).then(|| wrong.join("; ")),
    )
}

#[test]
fn a_failing_script_writes_nothing_with_any_key_broken() {
    let server = RedisServer::start().expect("start redis-server");
    let url = server.url();
    let mut con = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .expect("connect");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut fixture = rt.block_on(build_fixture(&url, &mut con));
    drop(rt);
    kill_other_clients(&mut con);
    fixture.keys = snapshot(&mut con);

    // The keys to break: found, not listed.
    let mut keys = scan(&mut con, &format!("{PREFIX}:{{{Q}}}:*"));
    keys.extend(scan(&mut con, &format!("{PREFIX}:{{batch:*}}:*")));
    // The store's queue list (an enqueue adds to it, best effort).
    keys.extend(scan(&mut con, &format!("{PREFIX}:queues")));
    for name in std::iter::once(JOBS).chain(STATE_SETS) {
        assert!(
            keys.contains(&queue_key(name)),
            "the membership check reads {} but the fixture has no such key: {keys:?}",
            queue_key(name)
        );
    }
    assert!(
        keys.len() == fixture.keys.len(),
        "every key is under the queue's or the batch's tag, or the queue list: {:?}",
        fixture.keys.keys().collect::<Vec<_>>()
    );
    let cases: Vec<(String, Breakage)> = keys
        .iter()
        .flat_map(|k| {
            breakages(&mut con, k, &fixture.keys[k])
                .into_iter()
                .map(move |b| (k.clone(), b))
        })
        .collect();
    println!(
        "{} keys, {} breakages, {} operations: {} cases",
        keys.len(),
        cases.len(),
        OPS.len(),
        cases.len() * OPS.len()
    );

    let mut failures = Vec::new();
    let mut ok = 0;
    for op in OPS {
        for (key, breakage) in &cases {
            let (returned_ok, wrong) = run_case(&mut con, &url, &fixture, op, key, breakage);
            ok += usize::from(returned_ok);
            if let Some(what) = wrong {
                failures.push(Failure {
                    op,
                    key: short(key),
                    breakage: breakage.clone(),
                    what,
                });
            }
        }
    }

    println!(
        "{ok} cases returned Ok, {} returned Err; {} failed",
        cases.len() * OPS.len() - ok,
        failures.len()
    );
    let table: Vec<String> = failures
        .iter()
        .map(|f| format!("| {} | {} | {} | {} |", f.op, f.key, f.breakage, f.what))
        .collect();
    println!(
        "| operation | key | breakage | what went wrong |\n|---|---|---|---|\n{}",
        table.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases left a half-applied change (operation | key | breakage | what):\n{}",
        failures.len(),
        cases.len() * OPS.len(),
        table.join("\n")
    );
}
