//! `#[job(unique = ...)]` with `unique_key`, `unique_key_with` and `on_conflict`: the
//! uniqueness a job gives itself (`Job::unique`), and what two enqueues of one job then
//! do on `MemoryBackend`; `Enqueue::unique` still overrides it.

use std::time::Duration;

use jobs_core::{
    Backend, Client, EnqueueError, InvalidFlow, Job, JobError, JobId, JobState, MemoryBackend,
    OnConflict, Unique, UniqueFor, job,
};

const Q: &str = "unique";

/// Held while waiting; the key is the job's name and arguments.
#[job(queue = "unique", unique = "waiting")]
async fn format_disk(host: String, device: String) -> Result<(), JobError> {
    let _ = (host, device);
    Ok(())
}

/// Held until done, a waiting holder replaced.
#[job(queue = "unique", unique = "until_done", on_conflict = "replace")]
async fn build_report(day: String, revision: u32) -> Result<(), JobError> {
    let _ = (day, revision);
    Ok(())
}

/// Held for ten minutes, keyed by one argument, debounced.
#[job(
    queue = "unique",
    unique = "10m",
    unique_key = "host",
    on_conflict = "debounce"
)]
async fn refresh_inventory(host: String, full: bool) -> Result<(), JobError> {
    let _ = (host, full);
    Ok(())
}

/// A number as the key: its JSON text; an `Option`: `None` leaves the key to the name
/// and arguments.
#[job(
    queue = "unique",
    unique = "1h 30m",
    unique_key = "owner",
    on_conflict = "reject"
)]
async fn clean_up(owner: Option<String>, rack: u32) -> Result<(), JobError> {
    let _ = (owner, rack);
    Ok(())
}

#[job(queue = "unique", unique = "waiting", unique_key = "rack")]
async fn power_cycle(rack: u32) -> Result<(), JobError> {
    let _ = rack;
    Ok(())
}

/// A computed key.
#[job(queue = "unique", unique = "until_done", unique_key_with = disk_key)]
async fn wipe(host: String, device: String) -> Result<(), JobError> {
    let _ = (host, device);
    Ok(())
}

fn disk_key(job: &Wipe) -> String {
    format!("wipe:{}:{}", job.host, job.device)
}

/// No `unique`: an ordinary job.
#[job(queue = "unique")]
async fn ping() -> Result<(), JobError> {
    Ok(())
}

fn format_disk_job(host: &str) -> FormatDisk {
    FormatDisk {
        host: host.into(),
        device: "/dev/sdb".into(),
    }
}

fn refresh(host: &str, full: bool) -> RefreshInventory {
    RefreshInventory {
        host: host.into(),
        full,
    }
}

fn report(revision: u32) -> BuildReport {
    BuildReport {
        day: "2026-12-02".into(),
        revision,
    }
}

#[test]
fn jobs_give_their_uniqueness() {
    assert_eq!(
        format_disk_job("node-1").unique(),
        Some(Unique::while_waiting())
    );
    assert_eq!(
        report(1).unique(),
        Some(Unique::until_done().on_conflict(OnConflict::Replace))
    );
    let expected = Unique::for_period(Duration::from_secs(600))
        .key("node-7")
        .on_conflict(OnConflict::Debounce);
    assert_eq!(refresh("node-7", true).unique(), Some(expected));

    let ninety_minutes = Unique::new(UniqueFor::Period(Duration::from_secs(90 * 60)));
    let job = CleanUp {
        owner: Some("ops".into()),
        rack: 3,
    };
    assert_eq!(job.unique(), Some(ninety_minutes.clone().key("ops")));
    let job = CleanUp {
        owner: None,
        rack: 3,
    };
    assert_eq!(job.unique(), Some(ninety_minutes));

    let expected = Unique::while_waiting().key("42");
    assert_eq!(PowerCycle { rack: 42 }.unique(), Some(expected));

    let job = Wipe {
        host: "node-2".into(),
        device: "/dev/sdc".into(),
    };
    let expected = Unique::until_done().key("wipe:node-2:/dev/sdc");
    assert_eq!(job.unique(), Some(expected));

    assert_eq!(Ping {}.unique(), None);
}

fn duplicate_of(result: Result<JobId, EnqueueError>) -> (String, JobId) {
    match result {
        Err(EnqueueError::Duplicate { key, existing }) => (key, existing),
        other => panic!("expected `EnqueueError::Duplicate`, got {other:?}"),
    }
}

async fn state(client: &Client<MemoryBackend>, id: JobId) -> JobState {
    client.job(Q, id).await.unwrap().unwrap().state
}

#[tokio::test]
async fn a_second_enqueue_is_refused_naming_the_first() {
    let backend = MemoryBackend::new();
    let client = Client::new(backend.clone());
    let first = client.enqueue(format_disk_job("node-1")).await.unwrap();
    let (key, existing) = duplicate_of(client.enqueue(format_disk_job("node-1")).await);
    assert_eq!(existing, first);
    assert_eq!(key, r#"format_disk:{"host":"node-1","device":"/dev/sdb"}"#);

    // Other arguments, other key.
    let other = client.enqueue(format_disk_job("node-2")).await.unwrap();
    assert_ne!(other, first);

    // `unique = "waiting"`: once the holder has started, the key is free again.
    let reserved = backend
        .reserve(&[Q.to_owned()], 100, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(reserved.len(), 2);
    let again = client.enqueue(format_disk_job("node-1")).await.unwrap();
    assert_ne!(again, first);

    // An ordinary job is stored every time.
    let ping = client.enqueue(Ping {}).await.unwrap();
    assert_ne!(client.enqueue(Ping {}).await.unwrap(), ping);
}

#[tokio::test]
async fn the_key_comes_from_the_options() {
    let client = Client::new(MemoryBackend::new());

    // `unique_key = "host"`: the other arguments do not matter.
    let first = client.enqueue(refresh("node-7", false)).await.unwrap();
    // Debounced: the holder stays, the enqueue answers its id.
    let answered = client.enqueue(refresh("node-7", true)).await.unwrap();
    assert_eq!(answered, first);
    let other = client.enqueue(refresh("node-8", false)).await.unwrap();
    assert_ne!(other, first);

    let first = client.enqueue(PowerCycle { rack: 42 }).await.unwrap();
    let (key, existing) = duplicate_of(client.enqueue(PowerCycle { rack: 42 }).await);
    assert_eq!((key.as_str(), existing), ("42", first));

    // `unique_key_with`.
    let wipe = || Wipe {
        host: "node-2".into(),
        device: "/dev/sdc".into(),
    };
    let first = client.enqueue(wipe()).await.unwrap();
    let (key, existing) = duplicate_of(client.enqueue(wipe()).await);
    assert_eq!((key.as_str(), existing), ("wipe:node-2:/dev/sdc", first));

    // An `Option` key argument: `None` falls back to the name and arguments.
    let clean_up = |owner: Option<&str>, rack| CleanUp {
        owner: owner.map(Into::into),
        rack,
    };
    let first = client.enqueue(clean_up(Some("ops"), 1)).await.unwrap();
    let (key, existing) = duplicate_of(client.enqueue(clean_up(Some("ops"), 2)).await);
    assert_eq!((key.as_str(), existing), ("ops", first));
    let first = client.enqueue(clean_up(None, 1)).await.unwrap();
    client.enqueue(clean_up(None, 2)).await.unwrap();
    let (key, existing) = duplicate_of(client.enqueue(clean_up(None, 1)).await);
    assert_eq!(key, r#"clean_up:{"owner":null,"rack":1}"#);
    assert_eq!(existing, first);

    // The key is checked like one given to the enqueue.
    let error = client.enqueue(clean_up(Some(""), 1)).await.unwrap_err();
    assert!(
        matches!(error, EnqueueError::InvalidFlow(InvalidFlow::EmptyKey)),
        "{error:?}"
    );
}

#[tokio::test]
async fn on_conflict_replace() {
    let client = Client::new(MemoryBackend::new());
    let old = client.enqueue(report(1)).await.unwrap();
    let new = client.enqueue(report(1)).await.unwrap();
    assert_ne!(new, old);
    assert_eq!(state(&client, old).await, JobState::Cancelled);
    assert_eq!(state(&client, new).await, JobState::Ready);
}

#[tokio::test]
async fn enqueue_unique_overrides_the_job() {
    let client = Client::new(MemoryBackend::new());
    let first = client.enqueue(format_disk_job("node-1")).await.unwrap();

    // Another key: stored beside the first.
    let elsewhere = client
        .enqueue(format_disk_job("node-1"))
        .unique(Unique::while_waiting().key("elsewhere"))
        .await
        .unwrap();
    assert_ne!(elsewhere, first);
    let (key, existing) = duplicate_of(
        client
            .enqueue(format_disk_job("node-2"))
            .unique(Unique::until_done().key("elsewhere"))
            .await,
    );
    assert_eq!((key.as_str(), existing), ("elsewhere", elsewhere));

    // Another conflict rule: the job's `reject` becomes `replace`.
    let replacing = client
        .enqueue(format_disk_job("node-1"))
        .unique(Unique::while_waiting().on_conflict(OnConflict::Replace))
        .await
        .unwrap();
    assert_ne!(replacing, first);
    assert_eq!(state(&client, first).await, JobState::Cancelled);

    // An ordinary job made unique for one enqueue.
    let ping = client
        .enqueue(Ping {})
        .unique(Unique::while_waiting())
        .await
        .unwrap();
    let (_, existing) = duplicate_of(
        client
            .enqueue(Ping {})
            .unique(Unique::while_waiting())
            .await,
    );
    assert_eq!(existing, ping);
}
