//! Flow control on real processes: eight worker daemons (`src/bin/e2e_worker.rs`) of four
//! slots each race for the jobs of one queue limited to 3 at once and 1 per limit key, and
//! one of them is killed (SIGKILL) mid-job. The jobs ([`KeyedSleep`]) write `start` and
//! `end` lines with their key, pid and a wall-clock time to a ledger file; a sweep over
//! those lines checks that the limits held at every instant, across the processes.
//!
//! Every wait polls a condition with a deadline. Run it with its figures:
//! `cargo test -p jobs-tests --test flow_processes -- --nocapture`.

use std::collections::{BTreeMap, HashMap};

use jobs_core::{JobId, JobState, QueueLimits};
use jobs_tests::e2e::{FlowEvent, FlowLedger, KeyedSleep, PATIENCE, QUEUE, World, now_us};
use jobs_tests::support::eventually;
use tokio::time::Instant;

/// The worker daemon, `src/bin/e2e_worker.rs`.
const WORKER: &str = env!("CARGO_BIN_EXE_e2e_worker");

/// Worker processes, and the jobs each runs at once: together they could run 32.
const WORKERS: usize = 8;
const SLOTS_PER_WORKER: usize = 4;
/// The queue's limits, for the whole fleet.
const CONCURRENCY: usize = 3;
const PER_KEY: usize = 1;
/// Jobs, over this many limit keys (hosts); consecutive jobs share a host in runs of
/// [`SAME_HOST_RUN`], so that the jobs at the head of the queue compete for one key.
const JOBS: usize = 120;
const HOSTS: usize = 12;
const SAME_HOST_RUN: usize = 5;
/// Short, so that the killed worker's jobs run again soon.
const LEASE_MS: u64 = 1_000;
/// Redis stamps a lease's end from its own clock (the same as ours), in whole ms.
const CLOCK_SLACK_US: u64 = 2_000;

/// The limit key of job `i`.
fn host(i: usize) -> String {
    format!("host-{:02}", (i / SAME_HOST_RUN) % HOSTS)
}

/// How long job `i` sleeps: 20 to 60 ms.
fn job_ms(i: usize) -> u64 {
    20 + (i as u64 * 17) % 41
}

/// One run, from the ledger: its `start` line and its `end` line, if any.
#[derive(Debug, Clone)]
struct Run {
    id: JobId,
    host: String,
    pid: u32,
    attempt: u32,
    start_us: u64,
    /// `None`: no `end` line (the run's process was killed).
    end_us: Option<u64>,
}

/// Pairs each `start` line with the `end` line of the same job, attempt and process.
/// Returns the runs in the order they started, and every line that does not fit.
fn pair_runs(events: &[FlowEvent]) -> (Vec<Run>, Vec<String>) {
    let mut runs: Vec<Run> = Vec::new();
    let mut index: HashMap<(JobId, u32, u32), usize> = HashMap::new();
    let mut problems = Vec::new();
    for e in events {
        let key = (e.id, e.attempt, e.pid);
        if e.start {
            if index.insert(key, runs.len()).is_some() {
                problems.push(format!("a second start line for the same run: {e:?}"));
            }
            runs.push(Run {
                id: e.id,
                host: e.host.clone(),
                pid: e.pid,
                attempt: e.attempt,
                start_us: e.at_us,
                end_us: None,
            });
            continue;
        }
        let Some(&i) = index.get(&key) else {
            problems.push(format!("an end line without its start line: {e:?}"));
            continue;
        };
        let run = &mut runs[i];
        if run.end_us.is_some() || e.host != run.host || e.at_us < run.start_us {
            problems.push(format!(
                "an end line that does not fit its run {run:?}: {e:?}"
            ));
        }
        run.end_us = Some(e.at_us);
    }
    runs.sort_by_key(|r| r.start_us);
    (runs, problems)
}

/// What the sweep over the runs found.
#[derive(Debug, Default)]
struct Sweep {
    /// Most runs open at once.
    peak: usize,
    /// Most runs of one key open at once.
    peak_per_key: usize,
    /// Each start that took the runs open past a limit, with what was open then.
    overlaps: Vec<String>,
}

/// Sweeps over the starts and ends of `runs` in time order (an end before a start at the
/// same microsecond); a run without an end ends at `killed_us`.
fn sweep(runs: &[Run], killed_us: u64) -> Sweep {
    // (time, 0 for an end / 1 for a start, run)
    let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * runs.len());
    for (i, run) in runs.iter().enumerate() {
        events.push((run.start_us, 1, i));
        events.push((run.end_us.unwrap_or(killed_us), 0, i));
    }
    events.sort_unstable();
    let mut out = Sweep::default();
    let mut open: BTreeMap<usize, &Run> = BTreeMap::new();
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    for (at_us, kind, i) in events {
        let run = &runs[i];
        if kind == 0 {
            open.remove(&i);
            *per_key.get_mut(run.host.as_str()).expect("an open key") -= 1;
            continue;
        }
        open.insert(i, run);
        let of_key = per_key.entry(&run.host).or_default();
        *of_key += 1;
        let of_key = *of_key;
        out.peak = out.peak.max(open.len());
        out.peak_per_key = out.peak_per_key.max(of_key);
        if open.len() > CONCURRENCY || of_key > PER_KEY {
            let same_key: Vec<String> = open
                .values()
                .filter(|r| r.host == run.host)
                .map(|r| format!("{} (pid {})", r.id, r.pid))
                .collect();
            out.overlaps.push(format!(
                "at {at_us} us, {} starts: {} open (limit {CONCURRENCY}), {of_key} of {} \
                 (limit {PER_KEY}): {}",
                run.id,
                open.len(),
                run.host,
                same_key.join(", ")
            ));
        }
    }
    out
}

/// 8 processes × 4 slots, a queue limited to 3 at once and 1 per host, one process killed
/// mid-job: at no instant do more than 3 runs, or 2 of one host, overlap in the ledger;
/// the limit is reached; every job succeeds, the killed one on another process once its
/// lease expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_across_processes_and_a_kill() {
    let world = World::new(WORKER, "flow-race").await;
    let ledger = FlowLedger::new(world.dir().join("flow-ledger"));
    let limits = QueueLimits::new()
        .concurrency(CONCURRENCY as u32)
        .per_key(PER_KEY as u32);
    world.client.set_limits(QUEUE, limits).await.unwrap();
    assert_eq!(world.client.limits(QUEUE).await.unwrap(), limits);

    let (lease, slots) = (LEASE_MS.to_string(), SLOTS_PER_WORKER.to_string());
    let args = ["--lease-ms", &lease, "--concurrency", &slots];
    let mut workers: Vec<_> = (0..WORKERS)
        .map(|n| world.spawn_worker(&format!("worker-{n}"), &args))
        .collect();
    for worker in &mut workers {
        worker.wait_ready().await;
    }

    let enqueued = Instant::now();
    let enqueued_us = now_us();
    let ids = world
        .client
        .enqueue_many((0..JOBS).map(|i| KeyedSleep {
            ledger: ledger.arg(),
            host: host(i),
            ms: job_ms(i),
        }))
        .await
        .unwrap();
    let ms_of: HashMap<JobId, u64> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, job_ms(i)))
        .collect();

    // Kill the process of the first run seen open, as soon as it is seen (of the runs open
    // then, the one with the most left to run, so that it is still running at the kill).
    let victim_pid = eventually("a run to start", PATIENCE, || {
        let (runs, _) = pair_runs(&ledger.events());
        let victim = runs
            .iter()
            .filter(|r| r.end_us.is_none())
            .max_by_key(|r| r.start_us + 1_000 * ms_of[&r.id])
            .map(|r| r.pid);
        std::future::ready(victim)
    })
    .await;
    let victim = workers
        .iter()
        .position(|w| w.pid == victim_pid)
        .unwrap_or_else(|| panic!("pid {victim_pid} is none of our workers"));
    let status = workers[victim].kill();
    // After the reaping: the process is gone, and wrote its last line before this instant.
    // Its slots are held in the store until its leases expire, about a lease later.
    let killed_us = now_us();
    let killed = Instant::now();
    println!(
        "killed {} (pid {victim_pid}) {:.2?} after the enqueue: {status}",
        workers[victim].name,
        killed.duration_since(enqueued)
    );

    eventually(&format!("{JOBS} jobs to succeed"), PATIENCE, || async {
        let stats = world.client.stats(QUEUE).await.expect("stats");
        assert_eq!(stats.dead, 0, "a job died: {stats:?}");
        (stats.succeeded == JOBS as u64).then_some(())
    })
    .await;
    let took = enqueued.elapsed();

    // Every line is in: each `end` line is written before its job's outcome is sent.
    let events = ledger.events();
    let (runs, mut problems) = pair_runs(&events);
    let seen = sweep(&runs, killed_us);
    // The killed runs' slots stay taken in the store until their leases expire: no sooner
    // than a lease after the enqueue (a job is reserved after it was enqueued). Until then
    // no other job may take them either.
    let held_until_us = killed_us.max(enqueued_us + 1_000 * LEASE_MS - CLOCK_SLACK_US);
    let held = sweep(&runs, held_until_us);
    let killed_runs: Vec<&Run> = runs.iter().filter(|r| r.end_us.is_none()).collect();
    println!(
        "{JOBS} jobs over {HOSTS} hosts in {took:.2?}: {} runs ({} killed), peak {} open at once \
         (limit {CONCURRENCY}), peak {} of one host (limit {PER_KEY}), {} overlap(s)",
        runs.len(),
        killed_runs.len(),
        seen.peak,
        seen.peak_per_key,
        seen.overlaps.len()
    );
    for overlap in seen.overlaps.iter().take(10) {
        println!("  overlap {overlap}");
    }
    println!(
        "with the killed runs holding their slots {:.0} ms past the kill (their leases' \
         earliest end): peak {}, {} overlap(s)",
        (held_until_us - killed_us) as f64 / 1e3,
        held.peak,
        held.overlaps.len()
    );
    for overlap in held.overlaps.iter().take(3) {
        println!("  overlap {overlap}");
    }

    // The runs, against the records.
    let mut by_job: HashMap<JobId, Vec<&Run>> = HashMap::new();
    for run in &runs {
        by_job.entry(run.id).or_default().push(run);
    }
    let mut acked_late = 0;
    for &id in &ids {
        let info = world.record(id).await;
        let of_job = by_job.get(&id).map(Vec::as_slice).unwrap_or_default();
        let ends = of_job.iter().filter(|r| r.end_us.is_some()).count();
        let last = of_job
            .iter()
            .filter(|r| r.attempt == info.deliveries)
            .count();
        let last_ended = of_job
            .iter()
            .filter(|r| r.attempt == info.deliveries && r.end_us.is_some())
            .count();
        // A delivery beyond the first is explained by the kill alone: an earlier run was
        // the killed process's (or it had the job leased but had not started it yet).
        let earlier_on_victim = of_job
            .iter()
            .all(|r| r.attempt == info.deliveries || r.pid == victim_pid);
        let fits = info.state == JobState::Succeeded
            && info.deliveries <= 2
            && info.stalls == info.deliveries - 1
            && info.attempts == info.deliveries
            && (last, last_ended) == (1, 1)
            && earlier_on_victim;
        if !fits {
            problems.push(format!(
                "job {id}: record {info:?} does not fit its runs {of_job:?}"
            ));
        }
        if ends > 1 {
            // The killed process wrote the `end` line but died before the store heard of
            // the outcome: the job ran again (at least once).
            acked_late += 1;
        }
    }
    for run in &killed_runs {
        let rerun = by_job[&run.id]
            .iter()
            .find(|r| r.attempt == run.attempt + 1)
            .unwrap_or_else(|| panic!("killed run {run:?} never ran again"));
        println!(
            "  killed run of {} ({}) ran again on pid {} {:.0} ms after the kill ({LEASE_MS} ms lease)",
            run.id,
            run.host,
            rerun.pid,
            (rerun.start_us as f64 - killed_us as f64) / 1e3
        );
        if run.pid != victim_pid || rerun.pid == victim_pid || rerun.start_us <= killed_us {
            problems.push(format!("killed run {run:?}, rerun {rerun:?}"));
        }
    }
    if acked_late > 0 {
        println!("  {acked_late} job(s) ended on the killed process before its outcome was sent");
    }

    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        seen.overlaps.is_empty(),
        "the limits were broken {} time(s); the first: {:?}",
        seen.overlaps.len(),
        seen.overlaps.first()
    );
    assert!(
        held.overlaps.is_empty(),
        "a killed run's slot was given to another job before its lease could expire: {:?}",
        held.overlaps.first()
    );
    assert_eq!(
        seen.peak, CONCURRENCY,
        "the queue's limit was never reached"
    );
    assert_eq!(seen.peak_per_key, PER_KEY);
    assert!(
        !killed_runs.is_empty(),
        "the killed process had no run open when it died"
    );
    assert_eq!(
        runs.iter().filter(|r| r.end_us.is_some()).count(),
        JOBS + acked_late,
        "every job has exactly one end (besides those ended on the killed process)"
    );
}
