//! A job with options, serialized and injected parameters, run end to end.
// Generated code must stay quiet under the stricter lints users turn on.
#![deny(warnings, unused_qualifications, unreachable_pub, rust_2018_idioms, unused_results)]

use jobs_core::{Data, DataMap, DataType, Job, JobContext, JobError, job};
use serde::Serialize;

pub struct RpcClient {
    prefix: String,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct FormatReport {
    pub path: String,
    pub attempt: u32,
}

/// Wipes and formats one disk.
///
/// Safe to retry: formatting twice gives the same result.
#[job(queue = "disks", max_attempts = 3, timeout = "2h")]
pub async fn format_disk(
    host: String,
    device: String,
    rpc: Data<RpcClient>,
    ctx: JobContext,
) -> Result<FormatReport, JobError> {
    Ok(FormatReport {
        path: format!("{}{host}:{device}", rpc.prefix),
        attempt: ctx.attempt(),
    })
}

fn main() {
    assert_eq!(FormatDisk::NAME, "format_disk");
    assert_eq!(FormatDisk::OPTIONS.queue, "disks");
    assert_eq!(FormatDisk::OPTIONS.max_attempts, 3);
    assert_eq!(
        FormatDisk::OPTIONS.timeout,
        Some(std::time::Duration::from_secs(2 * 3600))
    );
    assert_eq!(FormatDisk::OPTIONS.priority, 0);
    assert_eq!(FormatDisk::OPTIONS.backoff, jobs_core::Backoff::DEFAULT);
    assert_eq!(
        FormatDisk::required_data(),
        vec![DataType::of::<RpcClient>()]
    );

    let job = FormatDisk {
        host: "db-1".into(),
        device: "/dev/sdb".into(),
    };
    let json = serde_json::to_string(&job).unwrap();
    assert_eq!(json, r#"{"host":"db-1","device":"/dev/sdb"}"#);
    let job: FormatDisk = serde_json::from_str(&json).unwrap();

    let mut data = DataMap::new();
    data.insert(RpcClient {
        prefix: "rpc://".into(),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime
        .block_on(Job::run(job, JobContext::standalone(data)))
        .unwrap();
    assert_eq!(
        report,
        FormatReport {
            path: "rpc://db-1:/dev/sdb".into(),
            attempt: 1
        }
    );

    // The function is still there, callable directly.
    let direct = runtime.block_on(format_disk(
        "db-2".into(),
        "/dev/sdc".into(),
        Data::new(RpcClient {
            prefix: String::new(),
        }),
        JobContext::standalone(DataMap::new()),
    ));
    assert_eq!(direct.unwrap().path, "db-2:/dev/sdc");

    // Without the data, the run fails instead of panicking.
    let job = FormatDisk {
        host: "db-1".into(),
        device: "/dev/sdb".into(),
    };
    let err = runtime
        .block_on(Job::run(job, JobContext::standalone(DataMap::new())))
        .unwrap_err();
    assert!(err.chain().contains("RpcClient"), "{err}");
}
