//! Unique jobs raced from real processes: in each round, [`PROCESSES`] enqueuers
//! (`src/bin/unique_enqueuer.rs`) of [`PER_PROCESS`] concurrent enqueues each, 50 in all,
//! enqueue the same unique job on a private `redis-server`, released at the same moment.
//! Exactly one enqueue stores a job; every other answer names that job, and the queue
//! holds that one job. One round per hold (while waiting, until done, for a period) and
//! one debounced.
//!
//! The start barrier is a pipe: every enqueuer has its read end as stdin and reads it to
//! the end, which comes for all of them when the test closes the write end (once all said
//! they were ready). No sleep orders anything.
//!
//! Run it with its figures: `cargo test -p jobs-tests --test unique_processes -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;

use jobs_core::{JobId, JobState};
use jobs_tests::e2e::{PATIENCE, World, now_us};
use tokio::time::Instant;

/// The enqueuer, `src/bin/unique_enqueuer.rs`.
const ENQUEUER: &str = env!("CARGO_BIN_EXE_unique_enqueuer");

/// Enqueuer processes per round, and the enqueues each fires at once. Not 50 × 1: on 2
/// cores 50 enqueuers took about 1 s a round to start and woke over 15 to 50 ms, against
/// 0.2 s and 2 to 9 ms for 10; either shape caught a check-then-enqueue race in every
/// round, 10 × 5 even when each process ran its own enqueues one at a time.
const PROCESSES: usize = 10;
const PER_PROCESS: usize = 5;
const ENQUEUES: usize = PROCESSES * PER_PROCESS;
/// Answers shown of a failed rule.
const SHOWN: usize = 5;

/// One round: a queue of its own, and how its enqueues are unique.
struct Round {
    queue: &'static str,
    /// The enqueuer's arguments besides the connection and the queue.
    args: &'static [&'static str],
    /// Debounced: the losers are answered with the kept job's id instead of refused.
    debounce: bool,
    /// The state the one stored job waits in.
    waits_in: JobState,
}

const ROUNDS: &[Round] = &[
    // The key made from the job's name and arguments, the same in every process.
    Round {
        queue: "u-while-waiting",
        args: &["--hold", "while-waiting"],
        debounce: false,
        waits_in: JobState::Ready,
    },
    Round {
        queue: "u-until-done",
        args: &["--hold", "until-done", "--key", "race"],
        debounce: false,
        waits_in: JobState::Ready,
    },
    Round {
        queue: "u-for-period",
        args: &["--hold", "period-ms=60000", "--key", "race"],
        debounce: false,
        waits_in: JobState::Ready,
    },
    // Each request pushes the kept job's run-at back.
    Round {
        queue: "u-debounce",
        args: &[
            "--hold",
            "until-done",
            "--key",
            "race",
            "--on-conflict",
            "debounce",
            "--delay-ms",
            "60000",
        ],
        debounce: true,
        waits_in: JobState::Scheduled,
    },
];

/// What one enqueue got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Stored(JobId),
    Duplicate(JobId),
    Debounced(JobId),
}

impl Answer {
    fn id(self) -> JobId {
        match self {
            Answer::Stored(id) | Answer::Duplicate(id) | Answer::Debounced(id) => id,
        }
    }
}

/// One enqueuer's output: when it was released and done (us since the epoch), and its
/// answers.
#[derive(Debug, Default)]
struct Output {
    released_us: u64,
    done_us: u64,
    answers: Vec<Answer>,
}

/// Parses an enqueuer's output; every line that does not fit is a problem.
fn parse(process: &str, out: &str, problems: &mut Vec<String>) -> Output {
    let mut parsed = Output::default();
    for line in out.lines() {
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        let id = || rest.parse::<JobId>();
        let us = || rest.parse::<u64>();
        match (kind, id(), us()) {
            ("ready", ..) => {}
            ("released", _, Ok(us)) => parsed.released_us = us,
            ("done", _, Ok(us)) => parsed.done_us = us,
            ("stored", Ok(id), _) => parsed.answers.push(Answer::Stored(id)),
            ("duplicate", Ok(id), _) => parsed.answers.push(Answer::Duplicate(id)),
            ("debounced", Ok(id), _) => parsed.answers.push(Answer::Debounced(id)),
            _ => problems.push(format!("{process}: {line:?}")),
        }
    }
    if parsed.answers.len() != PER_PROCESS || parsed.released_us == 0 || parsed.done_us == 0 {
        problems.push(format!(
            "{process}: {} answer(s) of {PER_PROCESS}, or no released/done line: {out:?}",
            parsed.answers.len()
        ));
    }
    parsed
}

/// Most of `spans` (start, end) open at one instant.
fn peak_overlap(spans: &[(u64, u64)]) -> usize {
    let mut events: Vec<(u64, i32)> = spans
        .iter()
        .flat_map(|&(start, end)| [(start, 1), (end, -1)])
        .collect();
    // At one instant, starts before ends: touching spans count as overlapping.
    events.sort_by_key(|&(at, delta)| (at, -delta));
    let (mut open, mut peak) = (0i32, 0i32);
    for (_, delta) in events {
        open += delta;
        peak = peak.max(open);
    }
    usize::try_from(peak).expect("a count")
}

/// Runs one round; returns the rules it broke (panics if an enqueuer fails).
async fn race(world: &World, round: &Round) -> Vec<String> {
    let name = round.queue;
    let count = PER_PROCESS.to_string();
    let mut args = vec!["--queue", name, "--count", &count];
    args.extend_from_slice(round.args);

    // The barrier: one pipe, its read end the stdin of every enqueuer. The write end is
    // close-on-exec, so only this process holds it.
    let (reader, writer) = std::io::pipe().expect("pipe");
    let started = Instant::now();
    let mut procs: Vec<_> = (0..PROCESSES)
        .map(|n| {
            let stdin = Stdio::from(reader.try_clone().expect("dup the pipe's read end"));
            world.spawn_worker_with_stdin(&format!("{name}-{n}"), &args, stdin)
        })
        .collect();
    drop(reader);
    for p in &mut procs {
        p.wait_ready().await;
    }
    let ready = started.elapsed();

    let released_us = now_us();
    let released = Instant::now();
    drop(writer);
    for p in &mut procs {
        let status = p.wait_exit(PATIENCE).await;
        assert!(
            status.success(),
            "{} exited with {status}:\n{}{}",
            p.name,
            p.output(),
            p.log_tail()
        );
    }
    let took = released.elapsed();

    let mut problems = Vec::new();
    let outputs: Vec<Output> = procs
        .iter()
        .map(|p| parse(&p.name, &p.output(), &mut problems))
        .collect();
    assert!(problems.is_empty(), "{name}: {}", problems.join("\n"));

    let answers: Vec<(usize, Answer)> = outputs
        .iter()
        .enumerate()
        .flat_map(|(n, o)| o.answers.iter().map(move |&a| (n, a)))
        .collect();
    let stored: Vec<(usize, JobId)> = answers
        .iter()
        .filter_map(|&(n, a)| match a {
            Answer::Stored(id) => Some((n, id)),
            _ => None,
        })
        .collect();
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, a) in &answers {
        let kind = match a {
            Answer::Stored(_) => "stored",
            Answer::Duplicate(_) => "duplicate",
            Answer::Debounced(_) => "debounced",
        };
        *tally.entry(kind).or_default() += 1;
    }
    let first_release = outputs.iter().map(|o| o.released_us).min().unwrap_or(0);
    let last_release = outputs.iter().map(|o| o.released_us).max().unwrap_or(0);
    let spans: Vec<(u64, u64)> = outputs.iter().map(|o| (o.released_us, o.done_us)).collect();
    println!(
        "{name}: {PROCESSES} processes x {PER_PROCESS} ready in {ready:.2?}; released \
         {:.2} ms after the signal, within {:.2} ms of each other; up to {} processes \
         enqueueing at once; {} answers in {took:.2?}: {tally:?}; stored by process {:?}",
        first_release.saturating_sub(released_us) as f64 / 1e3,
        (last_release - first_release) as f64 / 1e3,
        peak_overlap(&spans),
        answers.len(),
        stored.iter().map(|&(n, _)| n).collect::<Vec<_>>(),
    );

    // The verdict: every rule broken, so that one report shows them all.
    let mut wrong = Vec::new();
    if answers.len() != ENQUEUES {
        wrong.push(format!("{} answers, not {ENQUEUES}", answers.len()));
    }
    let named: BTreeSet<JobId> = answers.iter().map(|(_, a)| a.id()).collect();
    let kept = match stored[..] {
        [(_, id)] => Some(id),
        _ => {
            wrong.push(format!(
                "{} enqueues stored a job, not 1; the answers name {} job(s); the first \
                 stored (process, id): {:?}",
                stored.len(),
                named.len(),
                &stored[..stored.len().min(SHOWN)]
            ));
            None
        }
    };
    if let Some(kept) = kept {
        let expected = if round.debounce {
            Answer::Debounced(kept)
        } else {
            Answer::Duplicate(kept)
        };
        let misfits: Vec<(usize, Answer)> = answers
            .iter()
            .copied()
            .filter(|&(_, a)| a != Answer::Stored(kept) && a != expected)
            .collect();
        if !misfits.is_empty() {
            wrong.push(format!(
                "{} answer(s) are not {expected:?}; the first (process, answer): {:?}",
                misfits.len(),
                &misfits[..misfits.len().min(SHOWN)]
            ));
        }
    }

    let stats = world.client.stats(name).await.expect("stats");
    let (ready_n, scheduled_n) = match round.waits_in {
        JobState::Ready => (1, 0),
        _ => (0, 1),
    };
    if (stats.ready, stats.scheduled, stats.active, stats.dead) != (ready_n, scheduled_n, 0, 0) {
        wrong.push(format!(
            "the queue does not hold exactly one {:?} job: {stats:?}",
            round.waits_in
        ));
    }
    let records = world.redis_int(&["HLEN", &format!("{}:{{{name}}}:jobs", world.prefix)]);
    if records != 1 {
        wrong.push(format!("{records} job records stored, not 1"));
    }
    if let Some(kept) = kept {
        match world.client.job(name, kept).await.expect("job lookup") {
            Some(info) if info.state == round.waits_in => {}
            other => wrong.push(format!("the stored job {kept}: {other:?}")),
        }
    }
    wrong.into_iter().map(|w| format!("{name}: {w}")).collect()
}

/// 50 enqueues of one unique job from 10 processes at once, for each hold and debounced:
/// one job stored, every answer names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_enqueues_from_processes_store_one() {
    let world = World::new(ENQUEUER, "unique-race").await;
    let started = Instant::now();
    let mut wrong = Vec::new();
    for round in ROUNDS {
        wrong.extend(race(&world, round).await);
    }
    println!("{} rounds in {:.2?}", ROUNDS.len(), started.elapsed());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
