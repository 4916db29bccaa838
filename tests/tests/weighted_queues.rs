//! Weighted queues (`WorkerBuilder::weighted_queues`) beside strict order
//! (`WorkerBuilder::queues`): the shares each queue gets while both have work, on the
//! in-memory backend and on a private Redis, and the configurations a worker refuses.

use std::sync::Mutex;
use std::time::Duration;

use jobs_core::{
    Backend, Client, Data, JobContext, JobError, JobState, MemoryBackend, Worker, WorkerError, job,
};
use jobs_redis::RedisBackend;
use jobs_tests::redis_server::RedisServer;
use jobs_tests::support::{RunningWorker, eventually, wait_for_state};

const PATIENCE: Duration = Duration::from_secs(120);
const HEAVY: &str = "heavy";
const LIGHT: &str = "light";
/// Jobs enqueued in each queue.
const EACH: usize = 300;
/// The prefix of the processing order whose shares are checked: short enough that neither
/// queue can have run dry in it.
const LOOKED_AT: usize = 200;

/// The queues of the jobs run so far, in the order they ran.
#[derive(Default)]
struct Served(Mutex<Vec<String>>);

impl Served {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn first(&self, n: usize) -> Vec<String> {
        self.0.lock().unwrap()[..n].to_vec()
    }
}

/// Notes the queue it was taken from.
#[job(queue = "heavy")]
async fn tagged(n: u32, served: Data<Served>, ctx: JobContext) -> Result<(), JobError> {
    let _ = n;
    served.0.lock().unwrap().push(ctx.queue().to_owned());
    Ok(())
}

fn count(order: &[String], queue: &str) -> usize {
    order.iter().filter(|q| *q == queue).count()
}

/// Enqueues `EACH` jobs in each queue, before any worker runs.
async fn fill<B: Backend>(client: &Client<B>) {
    for queue in [HEAVY, LIGHT] {
        let ids = client
            .enqueue_many((0..EACH as u32).map(|n| Tagged { n }))
            .queue(queue)
            .await
            .unwrap();
        assert_eq!(ids.len(), EACH);
    }
}

/// Runs the filled queues through one worker, one job at a time, configured by
/// `configure`; returns the order in which the jobs were served once all have succeeded,
/// and its first `LOOKED_AT` entries as they were when that many had run.
async fn serve<B: Backend>(
    client: &Client<B>,
    configure: impl FnOnce(jobs_core::WorkerBuilder<B>) -> jobs_core::WorkerBuilder<B>,
) -> (Vec<String>, Vec<String>) {
    fill(client).await;
    let served = std::sync::Arc::new(Served::default());
    let worker = RunningWorker::start(client, |b| {
        configure(
            b.register::<Tagged>()
                .data_arc(served.clone())
                .concurrency(1),
        )
    });
    let what = format!("{LOOKED_AT} jobs to run");
    let early = eventually(&what, PATIENCE, || async {
        (served.len() >= LOOKED_AT).then(|| served.first(LOOKED_AT))
    })
    .await;
    eventually("every job to succeed", PATIENCE, || async {
        let mut done = 0;
        for queue in [HEAVY, LIGHT] {
            done += client.stats(queue).await.unwrap().succeeded;
        }
        (done == 2 * EACH as u64).then_some(())
    })
    .await;
    worker.stop().await.unwrap();
    let all = served.first(served.len());
    assert_eq!(all.len(), 2 * EACH, "each job ran once");
    assert_eq!(count(&all, HEAVY), EACH);
    assert_eq!(count(&all, LIGHT), EACH);
    (early, all)
}

/// Weights 3:1 while both queues have work: about 150 heavy and 50 light jobs in the first
/// 200 (the bounds are 8 and 5 standard deviations away from those).
fn assert_weighted_shares(early: &[String]) {
    let (heavy, light) = (count(early, HEAVY), count(early, LIGHT));
    println!("first {LOOKED_AT} jobs: {heavy} heavy, {light} light");
    assert!(light >= 20, "light starved: {heavy} heavy, {light} light");
    assert!(
        heavy >= 100,
        "heavy under-served: {heavy} heavy, {light} light"
    );
}

/// Strict order: the second queue waits until the first is empty.
fn assert_strict(all: &[String]) {
    assert!(all[..EACH].iter().all(|q| q == HEAVY), "{all:?}");
    assert!(all[EACH..].iter().all(|q| q == LIGHT), "{all:?}");
}

// ---- in memory ----

#[tokio::test(start_paused = true)]
async fn weights_3_to_1_serve_both_queues_in_memory() {
    let client = Client::new(MemoryBackend::new());
    let (early, _) = serve(&client, |b| b.weighted_queues([(HEAVY, 3), (LIGHT, 1)])).await;
    assert_weighted_shares(&early);
}

#[tokio::test(start_paused = true)]
async fn strict_order_serves_the_first_queue_while_it_has_work_in_memory() {
    let client = Client::new(MemoryBackend::new());
    let (_, all) = serve(&client, |b| b.queues([HEAVY, LIGHT])).await;
    assert_strict(&all);
}

#[tokio::test(start_paused = true)]
async fn the_later_of_queues_and_weighted_queues_decides() {
    let client = Client::new(MemoryBackend::new());
    let (early, _) = serve(&client, |b| {
        b.queues([HEAVY, LIGHT])
            .weighted_queues([(LIGHT, 1), (HEAVY, 3)])
    })
    .await;
    assert_weighted_shares(&early);

    let client = Client::new(MemoryBackend::new());
    let (_, all) = serve(&client, |b| {
        b.weighted_queues([(LIGHT, 1), (HEAVY, 3)])
            .queues([HEAVY, LIGHT])
    })
    .await;
    assert_strict(&all);
}

#[tokio::test(start_paused = true)]
async fn an_idle_weighted_worker_wakes_for_work_on_any_of_its_queues() {
    let client = Client::new(MemoryBackend::new());
    let served = std::sync::Arc::new(Served::default());
    // Waits far longer than the test's deadline: only a wake-up can run the job in time.
    // (The in-memory backend wakes its waiters on any enqueue; the Redis case below, which
    // blocks on each queue's own key, is the sharper check.)
    let worker = RunningWorker::start(&client, |b| {
        b.register::<Tagged>()
            .data_arc(served.clone())
            .weighted_queues([(HEAVY, 9), (LIGHT, 1)])
            .idle_wait(Duration::from_secs(3600))
            .lease(Duration::from_secs(3600))
    });
    // The paused clock moves only once every task waits: the worker is then blocked.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let id = client.enqueue(Tagged { n: 1 }).queue(LIGHT).await.unwrap();
    wait_for_state(
        &client,
        LIGHT,
        id,
        JobState::Succeeded,
        Duration::from_secs(60),
    )
    .await;
    worker.stop().await.unwrap();
    assert_eq!(served.first(1), [LIGHT]);
}

// ---- on Redis ----

fn redis_backend(server: &RedisServer) -> RedisBackend {
    RedisBackend::builder(&server.url())
        .connect_timeout(Duration::from_millis(500))
        .response_timeout(Duration::from_secs(1))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_3_to_1_serve_both_queues_on_redis() {
    let server = RedisServer::start().unwrap();
    let client = Client::new(redis_backend(&server));
    // Listed light first: the weights decide, not the listing order.
    let (early, _) = serve(&client, |b| b.weighted_queues([(LIGHT, 1), (HEAVY, 3)])).await;
    assert_weighted_shares(&early);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_order_serves_the_first_queue_while_it_has_work_on_redis() {
    let server = RedisServer::start().unwrap();
    let client = Client::new(redis_backend(&server));
    let (_, all) = serve(&client, |b| b.queues([HEAVY, LIGHT])).await;
    assert_strict(&all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_weighted_worker_wakes_for_work_on_any_of_its_queues_on_redis() {
    let server = RedisServer::start().unwrap();
    let client = Client::new(redis_backend(&server));
    let served = std::sync::Arc::new(Served::default());
    let worker = RunningWorker::start(&client, |b| {
        b.register::<Tagged>()
            .data_arc(served.clone())
            .weighted_queues([(HEAVY, 9), (LIGHT, 1)])
            .idle_wait(Duration::from_secs(60))
            .lease(Duration::from_secs(120))
    });
    eventually("the worker to block", PATIENCE, || async {
        let clients = server.command(&["INFO", "clients"]).unwrap();
        clients.contains("blocked_clients:1").then_some(())
    })
    .await;
    let id = client.enqueue(Tagged { n: 1 }).queue(LIGHT).await.unwrap();
    // Well within the idle wait: the blocked worker was woken by the light queue.
    wait_for_state(
        &client,
        LIGHT,
        id,
        JobState::Succeeded,
        Duration::from_secs(20),
    )
    .await;
    worker.stop().await.unwrap();
    assert_eq!(served.first(1), [LIGHT]);
}

// ---- refused configurations ----

/// Starts a worker configured by `configure` and returns why it refused to start, or `None`
/// if it started (it is then stopped at once).
async fn refusal(
    configure: impl FnOnce(
        jobs_core::WorkerBuilder<MemoryBackend>,
    ) -> jobs_core::WorkerBuilder<MemoryBackend>,
) -> Option<WorkerError> {
    let client = Client::new(MemoryBackend::new());
    let builder = Worker::builder(client)
        .register::<Tagged>()
        .data(Served::default());
    configure(builder)
        .build()
        .run_until(std::future::ready(()))
        .await
        .err()
}

#[tokio::test(start_paused = true)]
async fn a_weight_of_0_is_refused() {
    let err = refusal(|b| b.weighted_queues([(HEAVY, 2), (LIGHT, 0)]))
        .await
        .expect("refused");
    assert!(
        matches!(&err, WorkerError::ZeroWeight { queue } if queue == LIGHT),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("`light`") && message.contains("weight of 1 or more"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_weighted_list_is_refused() {
    let none: [(&str, u32); 0] = [];
    let err = refusal(|b| b.weighted_queues(none)).await.expect("refused");
    assert!(matches!(err, WorkerError::NoQueues), "{err:?}");
    assert!(err.to_string().contains("weighted_queues"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_queue_listed_twice_is_refused() {
    let err = refusal(|b| b.weighted_queues([(HEAVY, 2), (LIGHT, 1), (HEAVY, 1)]))
        .await
        .expect("refused");
    assert!(
        matches!(&err, WorkerError::DuplicateQueue { queue } if queue == HEAVY),
        "{err:?}"
    );
    assert!(err.to_string().contains("list it once"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn an_invalid_weighted_queue_name_is_refused() {
    let err = refusal(|b| b.weighted_queues([(HEAVY, 2), ("no spaces", 1)]))
        .await
        .expect("refused");
    assert!(matches!(err, WorkerError::InvalidQueue(_)), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn a_later_choice_replaces_a_refused_one() {
    // The weight 0 is gone once `queues` replaces the weighted list, and the other way round.
    assert!(
        refusal(|b| b.weighted_queues([(HEAVY, 0)]).queues([HEAVY]))
            .await
            .is_none()
    );
    let none: [&str; 0] = [];
    assert!(
        refusal(|b| b.queues(none).weighted_queues([(HEAVY, 1)]))
            .await
            .is_none()
    );
}
