//! `unique = "waiting" | "until_done" | "<duration>"`, with `unique_key = "arg"`,
//! `unique_key_with = path` and `on_conflict = "..."`.
#![deny(warnings)]

use std::time::Duration;

use jobs_core::{Job, JobError, OnConflict, Unique, UniqueFor, job};
use serde::{Deserialize, Serialize};

/// The key left to the enqueue (the job's name and arguments); conflicts rejected.
#[job(queue = "disks", unique = "waiting")]
async fn format_disk(host: String, device: String) -> Result<(), JobError> {
    let _ = (host, device);
    Ok(())
}

#[job(unique = "until_done", on_conflict = "replace")]
async fn until_done() -> Result<(), JobError> {
    Ok(())
}

/// A duration, parsed like `timeout`; the options may come in any order.
#[job(on_conflict = "debounce", unique_key = "host", unique = "1h 30m")]
async fn refresh_inventory(host: String, full: bool) -> Result<(), JobError> {
    let _ = (host, full);
    Ok(())
}

#[job(unique = "1500us", on_conflict = "reject")]
async fn sub_millisecond() -> Result<(), JobError> {
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct Slot {
    rack: u32,
    slot: u32,
}

/// A key argument of any `Serialize` type: a number or struct gives its JSON text; a
/// raw identifier is named without `r#`.
#[job(unique = "waiting", unique_key = "type")]
async fn by_number(r#type: u32) -> Result<(), JobError> {
    let _ = r#type;
    Ok(())
}

#[job(unique = "waiting", unique_key = "slot")]
async fn by_slot(slot: Slot) -> Result<(), JobError> {
    let _ = slot;
    Ok(())
}

/// An `Option`: `None` leaves the key to the job's name and arguments.
#[job(unique = "waiting", unique_key = "owner")]
async fn by_owner(owner: Option<String>) -> Result<(), JobError> {
    let _ = owner;
    Ok(())
}

/// A limit key and a uniqueness key are separate settings.
#[job(limit_key = "host", unique = "until_done", unique_key_with = disk_key)]
async fn wipe(host: String, device: String) -> Result<(), JobError> {
    let _ = (host, device);
    Ok(())
}

fn disk_key(job: &Wipe) -> String {
    format!("{}:{}", job.host, job.device)
}

mod keys {
    /// By path, returning `Option<String>`.
    pub fn maybe(job: &super::Drain) -> Option<String> {
        (!job.host.is_empty()).then(|| job.host.clone())
    }

    /// Returning `&str` borrowed from the job.
    pub fn borrowed(job: &super::Borrowed) -> &str {
        &job.host
    }
}

#[job(unique = "10m", unique_key_with = keys::maybe)]
async fn drain(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

#[job(unique = "waiting", unique_key_with = crate::keys::borrowed)]
async fn borrowed(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

fn main() {
    let job = FormatDisk {
        host: "node-1".into(),
        device: "/dev/sdb".into(),
    };
    assert_eq!(job.unique(), Some(Unique::while_waiting()));
    assert_eq!(job.limit_key(), None);
    assert_eq!(FormatDisk::OPTIONS.queue, "disks");

    let expected = Unique::until_done().on_conflict(OnConflict::Replace);
    assert_eq!(UntilDone {}.unique(), Some(expected));

    let job = RefreshInventory {
        host: "node-7".into(),
        full: true,
    };
    let expected = Unique::for_period(Duration::from_secs(90 * 60))
        .key("node-7")
        .on_conflict(OnConflict::Debounce);
    assert_eq!(job.unique(), Some(expected));

    let expected = Unique::new(UniqueFor::Period(Duration::from_micros(1500)));
    assert_eq!(SubMillisecond {}.unique(), Some(expected));

    let key = |unique: Option<Unique>| unique.and_then(|unique| unique.key);
    assert_eq!(key(ByNumber { r#type: 42 }.unique()).as_deref(), Some("42"));
    let job = BySlot {
        slot: Slot { rack: 3, slot: 1 },
    };
    assert_eq!(key(job.unique()).as_deref(), Some(r#"{"rack":3,"slot":1}"#));
    assert_eq!(
        ByOwner { owner: None }.unique(),
        Some(Unique::while_waiting())
    );
    let job = ByOwner {
        owner: Some("ops".into()),
    };
    assert_eq!(key(job.unique()).as_deref(), Some("ops"));

    let job = Wipe {
        host: "node-2".into(),
        device: "/dev/sdc".into(),
    };
    assert_eq!(job.limit_key().as_deref(), Some("node-2"));
    assert_eq!(
        job.unique(),
        Some(Unique::until_done().key("node-2:/dev/sdc"))
    );

    let ten_minutes = || Unique::for_period(Duration::from_secs(600));
    assert_eq!(Drain { host: "".into() }.unique(), Some(ten_minutes()));
    let job = Drain { host: "h".into() };
    assert_eq!(job.unique(), Some(ten_minutes().key("h")));
    let job = Borrowed {
        host: "node-3".into(),
    };
    assert_eq!(job.unique(), Some(Unique::while_waiting().key("node-3")));
}
