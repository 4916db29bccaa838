//! A job without arguments still has a braced type that serializes as `{}`.
#![deny(warnings)]

use jobs_core::{DataMap, Job, JobContext, JobError, job};

#[job]
async fn nightly_cleanup() -> Result<u32, JobError> {
    Ok(7)
}

fn main() {
    let job = NightlyCleanup {};
    let json = serde_json::to_string(&job).unwrap();
    assert_eq!(json, "{}");
    let job: NightlyCleanup = serde_json::from_str(&json).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        runtime
            .block_on(job.run(JobContext::standalone(DataMap::new())))
            .unwrap(),
        7
    );
}
