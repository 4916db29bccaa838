//! `#[job(limit_key = "arg")]` and `#[job(limit_key_with = path)]`: the key a job gives
//! itself, and that an enqueue stores it (the store does not enforce limits yet).

use std::time::Duration;

use jobs_core::{Backend, Client, EnqueueError, InvalidFlow, Job, JobError, MemoryBackend, job};

const Q: &str = "limited";

/// A `String` argument: its contents, as is.
#[job(queue = "limited", limit_key = "host")]
async fn format_disk(host: String, device: String) -> Result<(), JobError> {
    let _ = (host, device);
    Ok(())
}

/// A number: its JSON text.
#[job(queue = "limited", limit_key = "rack")]
async fn power_cycle(rack: u32) -> Result<(), JobError> {
    let _ = rack;
    Ok(())
}

/// An `Option`: no key when `None`.
#[job(queue = "limited", limit_key = "owner")]
async fn clean_up(owner: Option<String>) -> Result<(), JobError> {
    let _ = owner;
    Ok(())
}

/// Computed from several arguments.
#[job(queue = "limited", limit_key_with = rack_and_host)]
async fn reboot(rack: u32, host: String) -> Result<(), JobError> {
    let _ = (rack, host);
    Ok(())
}

fn rack_and_host(job: &Reboot) -> String {
    format!("{}/{}", job.rack, job.host)
}

fn format_disk_job(host: &str) -> FormatDisk {
    FormatDisk {
        host: host.into(),
        device: "/dev/sdb".into(),
    }
}

#[test]
fn jobs_give_their_keys() {
    assert_eq!(
        format_disk_job("node-1").limit_key().as_deref(),
        Some("node-1")
    );
    assert_eq!(PowerCycle { rack: 42 }.limit_key().as_deref(), Some("42"));
    assert_eq!(CleanUp { owner: None }.limit_key(), None);
    let job = CleanUp {
        owner: Some("ops".into()),
    };
    assert_eq!(job.limit_key().as_deref(), Some("ops"));
    let job = Reboot {
        rack: 3,
        host: "node-7".into(),
    };
    assert_eq!(job.limit_key().as_deref(), Some("3/node-7"));
}

/// Each job's key as the store holds it, by the job's name.
async fn stored_keys(backend: &MemoryBackend) -> Vec<(String, Option<String>)> {
    let mut keys: Vec<_> = backend
        .reserve(&[Q.to_owned()], 100, Duration::from_secs(30))
        .await
        .unwrap()
        .into_iter()
        .map(|reserved| (reserved.name, reserved.lease.limit_key))
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn enqueue_stores_the_key() {
    let backend = MemoryBackend::new();
    let client = Client::new(backend.clone());
    client.enqueue(format_disk_job("node-1")).await.unwrap();
    client.enqueue(PowerCycle { rack: 42 }).await.unwrap();
    client.enqueue(CleanUp { owner: None }).await.unwrap();
    let job = Reboot {
        rack: 3,
        host: "node-7".into(),
    };
    client.enqueue(job).await.unwrap();

    let some = |key: &str| Some(key.to_owned());
    assert_eq!(
        stored_keys(&backend).await,
        [
            ("clean_up".to_owned(), None),
            ("format_disk".to_owned(), some("node-1")),
            ("power_cycle".to_owned(), some("42")),
            ("reboot".to_owned(), some("3/node-7")),
        ]
    );
}

#[tokio::test]
async fn enqueue_overrides_and_checks_the_key() {
    let backend = MemoryBackend::new();
    let client = Client::new(backend.clone());
    let job = format_disk_job("node-1");
    client.enqueue(job).limit_key("rack-3").await.unwrap();
    let stored = stored_keys(&backend).await;
    assert_eq!(
        stored,
        [("format_disk".to_owned(), Some("rack-3".to_owned()))]
    );

    // The key a job gives itself is checked like one given to the enqueue.
    let error = client.enqueue(format_disk_job("")).await.unwrap_err();
    assert!(
        matches!(error, EnqueueError::InvalidFlow(InvalidFlow::EmptyKey)),
        "{error:?}"
    );
    let long = "h".repeat(jobs_core::MAX_LIMIT_KEY_LEN + 1);
    let error = client.enqueue(format_disk_job(&long)).await.unwrap_err();
    assert!(
        matches!(error, EnqueueError::InvalidFlow(InvalidFlow::KeyTooLong(_))),
        "{error:?}"
    );
    let longest = "h".repeat(jobs_core::MAX_LIMIT_KEY_LEN);
    client.enqueue(format_disk_job(&longest)).await.unwrap();
}
