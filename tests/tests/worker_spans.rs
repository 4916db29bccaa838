//! Each job runs in a `tracing` span carrying its id, name, queue and attempt.
//!
//! Alone in its test binary: tracing caches per-callsite interest process-wide, so a
//! thread-local subscriber can miss events while other tests run on other threads.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs_core::{Client, JobError, JobState, MemoryBackend, job};
use jobs_tests::support::{RunningWorker, wait_for_state};

const PATIENCE: Duration = Duration::from_secs(120);

/// Logs from inside the job.
#[job]
async fn loud(device: String) -> Result<(), JobError> {
    tracing::info!(%device, "formatting");
    Ok(())
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn each_job_runs_in_a_span_with_its_id_name_queue_and_attempt() {
    let logs = Buffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = Client::new(MemoryBackend::new());
    let id = client
        .enqueue(Loud {
            device: "/dev/sdb".into(),
        })
        .await
        .unwrap();
    let worker = RunningWorker::start(&client, |b| b.register::<Loud>());
    wait_for_state(&client, "default", id, JobState::Succeeded, PATIENCE).await;
    worker.stop().await.unwrap();

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = logs
        .lines()
        .find(|l| l.contains("formatting"))
        .expect("the job's log line");
    let span = format!("job{{id={id} name=loud queue=default attempt=1}}");
    assert!(line.contains(&span), "{line}");
    assert!(
        logs.lines()
            .any(|l| l.contains(&span) && l.contains("job succeeded")),
        "{logs}"
    );
}
