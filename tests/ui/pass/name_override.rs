//! `name = "..."` sets the wire name; the type is still named after the function.
#![deny(warnings)]

use jobs_core::{Job, JobError, job};

#[job(name = "disks.format.v2")]
async fn format_disk(host: String) -> Result<String, JobError> {
    Ok(host)
}

/// A raw identifier: the wire name and the type name drop the `r#`.
#[job]
async fn r#match(pattern: String) -> Result<bool, JobError> {
    Ok(pattern.is_empty())
}

fn main() {
    assert_eq!(FormatDisk::NAME, "disks.format.v2");
    assert_eq!(FormatDisk::OPTIONS, jobs_core::JobOptions::DEFAULT);
    assert!(FormatDisk::required_data().is_empty());
    let _ = FormatDisk {
        host: String::new(),
    };

    assert_eq!(Match::NAME, "match");
    let _ = Match {
        pattern: String::new(),
    };
}
