//! End to end in a real browser: a private redis-server, a worker, the dashboard mounted
//! under a path of a host application, and headless Chromium driven over WebDriver
//! (`webdriver/mod.rs`). A job dies, the test retries it by clicking its Retry button on
//! the dead list, and watches its page until it shows it succeeded.
//!
//! `screenshots` (ignored; run it with
//! `cargo test -p jobs-web --test browser -- --ignored screenshots`) fills a store with
//! some work and writes PNGs of the main pages to `docs/screenshots/`.

mod webdriver;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use jobs_core::{Client, Data, JobContext, JobError, JobId, JobState, Worker, job};
use jobs_redis::RedisBackend;
use jobs_tests::redis_server::RedisServer;
use serde_json::json;
use tokio::sync::oneshot;
use webdriver::Browser;

/// How long the page may take to show what the test waits for.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Where the host application mounts the dashboard.
const MOUNT: &str = "/ops/jobs";

/// Whether [`format_disk`] fails, for good, on its next run.
struct Faults {
    fail: AtomicBool,
}

/// Formats a disk; fails permanently (straight to the dead set) while `Faults` says so.
#[job(queue = "disks", max_attempts = 1)]
async fn format_disk(
    host: String,
    device: String,
    faults: Data<Faults>,
    ctx: JobContext,
) -> Result<String, JobError> {
    ctx.progress(50, "mkfs.ext4 running");
    if faults.fail.load(Ordering::SeqCst) {
        let cause = std::io::Error::other(format!("{device}: input/output error"));
        return Err(JobError::permanent(Wrapped("mkfs.ext4 failed", cause)));
    }
    Ok(format!("{host}:{device} formatted"))
}

/// An error with a source, so the stored chain has two links.
#[derive(Debug)]
struct Wrapped(&'static str, std::io::Error);

impl std::fmt::Display for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.1)
    }
}

/// A store on a private redis-server, a worker running `format_disk`, and the dashboard
/// served at [`MOUNT`] of a host application on a free port.
struct World {
    client: Client<RedisBackend>,
    faults: Arc<Faults>,
    url: String,
    stop_worker: Option<oneshot::Sender<()>>,
    worker: tokio::task::JoinHandle<()>,
    _server: RedisServer,
}

impl World {
    async fn start() -> World {
        let server = RedisServer::start().expect("redis-server");
        let backend = RedisBackend::builder(&server.url())
            .prefix("web-test")
            .connect()
            .await
            .expect("connect");
        let client = Client::new(backend);
        let faults = Arc::new(Faults {
            fail: AtomicBool::new(true),
        });
        let worker = Worker::builder(client.clone())
            .register::<FormatDisk>()
            .data_arc(faults.clone())
            .concurrency(4)
            .build();
        let (stop_worker, stopped) = oneshot::channel::<()>();
        let worker = tokio::spawn(async move {
            worker
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
                .expect("worker");
        });
        let app = Router::new().nest(MOUNT, jobs_web::router(client.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{MOUNT}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        World {
            client,
            faults,
            url,
            stop_worker: Some(stop_worker),
            worker,
            _server: server,
        }
    }

    async fn format(&self, host: &str) -> JobId {
        self.client
            .enqueue(FormatDisk {
                host: host.into(),
                device: "/dev/sdb".into(),
            })
            .await
            .unwrap()
    }

    async fn ended(&self, id: JobId) -> JobState {
        let finished = self
            .client
            .wait_for("disks", id, PAGE_TIMEOUT)
            .await
            .expect("the job ends");
        finished.state
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop_worker.take() {
            let _ = stop.send(());
        }
        self.worker.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_job_is_retried_from_the_dead_list() {
    let world = World::start().await;
    let id = world.format("node-1").await;
    assert_eq!(world.ended(id).await, JobState::Dead);
    world.faults.fail.store(false, Ordering::SeqCst);

    let browser = Browser::start(1200, 800).await.expect("headless chromium");
    browser
        .goto(&format!("{}#/queue/disks/dead", world.url))
        .await
        .unwrap();
    let row = format!(r#"#jobs tr[data-id="{id}"]"#);
    let found = browser.wait_for_element(&row, PAGE_TIMEOUT).await.unwrap();
    let text = browser.text(&found).await.unwrap();
    assert!(text.contains("format_disk"), "{text}");
    assert!(text.contains("mkfs.ext4 failed"), "{text}");

    let retry = browser
        .wait_for_element(&format!("{row} button.retry"), PAGE_TIMEOUT)
        .await
        .unwrap();
    browser.click(&retry).await.unwrap();
    // The list redraws without it once the retry is done.
    browser
        .wait_for("the row to leave the dead list", PAGE_TIMEOUT, || async {
            let flash = browser.find_all("#flash:not([hidden])").await?;
            let rows = browser.find_all(&row).await?;
            Ok((!flash.is_empty() && rows.is_empty()).then_some(()))
        })
        .await
        .unwrap();

    // Its page refreshes itself until the job has ended.
    browser
        .goto(&format!("{}#/job/disks/{id}", world.url))
        .await
        .unwrap();
    let state = browser
        .wait_for("the job to show succeeded", PAGE_TIMEOUT, || async {
            let found = browser.find_all("#job-state .state").await?;
            let Some(badge) = found.first() else {
                return Ok(None);
            };
            let state = browser.text(badge).await?;
            Ok((state == "succeeded").then_some(state))
        })
        .await
        .unwrap();
    assert_eq!(state, "succeeded");
    let page = browser
        .eval("return document.querySelector('main').innerText", json!([]))
        .await
        .unwrap();
    let page = page.as_str().unwrap();
    assert!(page.contains("node-1:/dev/sdb formatted"), "{page}");
    assert!(
        page.contains("dead"),
        "the events show the first run: {page}"
    );

    browser.close().await.unwrap();
    let info = world.client.job("disks", id).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Succeeded);
    world.stop().await;
}

/// Writes PNGs of the main pages to `docs/screenshots/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots/*.png; run it by hand after changing the pages"]
async fn screenshots() {
    let world = World::start().await;
    // Some failures, then successes; a second queue with waiting work.
    let mut dead = Vec::new();
    for host in ["node-7", "node-12", "node-31"] {
        let id = world.format(host).await;
        assert_eq!(world.ended(id).await, JobState::Dead);
        dead.push(id);
    }
    world.faults.fail.store(false, Ordering::SeqCst);
    let mut done = Vec::new();
    for i in 0..24 {
        done.push(world.format(&format!("node-{i}")).await);
    }
    for id in &done {
        assert_eq!(world.ended(*id).await, JobState::Succeeded);
    }
    world.client.pause("reports").await.unwrap();
    for i in 0..5 {
        world
            .client
            .enqueue(FormatDisk {
                host: format!("rack-{i}"),
                device: "/dev/nvme0n1".into(),
            })
            .queue("reports")
            .await
            .unwrap();
    }
    // A batch over both queues: half of it done, half waiting on the paused queue.
    let mut builder = world.client.batch();
    let mut members = Vec::new();
    for i in 0..6 {
        let id = JobId::new();
        let queue = if i % 2 == 0 { "disks" } else { "reports" };
        let job = FormatDisk {
            host: format!("db-{i}"),
            device: "/dev/sdc".into(),
        };
        builder = builder.job_on(queue, job, id);
        members.push((queue, id));
    }
    let (batch, _) = builder.enqueue().await.unwrap();
    for (queue, id) in members.iter().filter(|(q, _)| *q == "disks") {
        let finished = world
            .client
            .wait_for(queue, *id, PAGE_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(finished.state, JobState::Succeeded);
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&out).unwrap();

    let browser = Browser::start(1200, 800).await.expect("headless chromium");
    let shots = [
        (
            "overview.png",
            "#/".to_owned(),
            "#queues tbody tr".to_owned(),
        ),
        (
            "jobs.png",
            "#/queue/disks/succeeded".to_owned(),
            "#jobs tbody tr[data-id]".to_owned(),
        ),
        (
            "job.png",
            format!("#/job/disks/{}", dead[0]),
            "#job-state .state".to_owned(),
        ),
        (
            "batch.png",
            format!("#/batch/{batch}"),
            ".count-box".to_owned(),
        ),
        (
            "dead.png",
            "#/queue/disks/dead".to_owned(),
            "#jobs tbody tr[data-id]".to_owned(),
        ),
    ];
    for (file, hash, ready) in shots {
        browser.goto(&format!("{}{hash}", world.url)).await.unwrap();
        browser
            .wait_for_element(&ready, PAGE_TIMEOUT)
            .await
            .unwrap();
        let png = browser.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{file}");
        std::fs::write(out.join(file), &png).unwrap();
        println!("{file}: {} bytes", png.len());
    }
    browser.close().await.unwrap();
    world.stop().await;
}
