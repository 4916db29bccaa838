//! `limit_key = "arg"` (any `Serialize` argument) and `limit_key_with = path`.
#![deny(warnings)]

use jobs_core::{Job, JobContext, JobError, job};
use serde::{Deserialize, Serialize};

/// A string argument: its contents, as is.
#[job(queue = "disks", limit_key = "host")]
async fn format_disk(host: String, device: String, _ctx: JobContext) -> Result<(), JobError> {
    let _ = (host, device);
    Ok(())
}

/// A number: its JSON text. A raw identifier is named without `r#`.
#[job(limit_key = "type")]
async fn by_number(r#type: u32) -> Result<(), JobError> {
    let _ = r#type;
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct Slot {
    rack: u32,
    slot: u32,
}

/// A struct: its compact JSON text; an `Option`: no key when `None`.
#[job(limit_key = "slot")]
async fn by_slot(slot: Slot, owner: Option<String>) -> Result<(), JobError> {
    let _ = (slot, owner);
    Ok(())
}

#[job(limit_key = "owner")]
async fn by_owner(owner: Option<String>) -> Result<(), JobError> {
    let _ = owner;
    Ok(())
}

/// A computed key, returning `String`.
#[job(limit_key_with = rack_and_host, queue = "racks")]
async fn reboot(rack: u32, host: String) -> Result<(), JobError> {
    let _ = (rack, host);
    Ok(())
}

fn rack_and_host(job: &Reboot) -> String {
    format!("{}/{}", job.rack, job.host)
}

mod keys {
    /// By path, returning `Option<String>`.
    pub fn maybe(job: &super::Drain) -> Option<String> {
        (!job.host.is_empty()).then(|| job.host.clone())
    }

    /// Returning `&'static str`.
    pub fn fixed(_: &super::Fixed) -> &'static str {
        "singleton"
    }

    /// Returning `&str` borrowed from the job.
    pub fn borrowed(job: &super::Borrowed) -> &str {
        &job.host
    }
}

#[job(limit_key_with = keys::borrowed)]
async fn borrowed(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

#[job(limit_key_with = keys::maybe)]
async fn drain(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

#[job(limit_key_with = crate::keys::fixed)]
async fn fixed() -> Result<(), JobError> {
    Ok(())
}

fn main() {
    let job = FormatDisk {
        host: "node-1".into(),
        device: "/dev/sdb".into(),
    };
    assert_eq!(job.limit_key().as_deref(), Some("node-1"));
    assert_eq!(FormatDisk::OPTIONS.queue, "disks");

    assert_eq!(ByNumber { r#type: 42 }.limit_key().as_deref(), Some("42"));

    let job = BySlot {
        slot: Slot { rack: 3, slot: 1 },
        owner: None,
    };
    assert_eq!(job.limit_key().as_deref(), Some(r#"{"rack":3,"slot":1}"#));

    assert_eq!(ByOwner { owner: None }.limit_key(), None);
    let job = ByOwner {
        owner: Some("ops".into()),
    };
    assert_eq!(job.limit_key().as_deref(), Some("ops"));

    let job = Reboot {
        rack: 3,
        host: "node-7".into(),
    };
    assert_eq!(job.limit_key().as_deref(), Some("3/node-7"));
    assert_eq!(Reboot::OPTIONS.queue, "racks");

    assert_eq!(Drain { host: "".into() }.limit_key(), None);
    assert_eq!(Drain { host: "h".into() }.limit_key().as_deref(), Some("h"));
    assert_eq!(Fixed {}.limit_key().as_deref(), Some("singleton"));
    let job = Borrowed {
        host: "node-2".into(),
    };
    assert_eq!(job.limit_key().as_deref(), Some("node-2"));
}
