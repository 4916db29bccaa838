use jobs_core::{JobError, job};

#[job(limit_key = "host", limit_key_with = host_key)]
async fn reboot(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

#[job(limit_key_with = drain_key, queue = "q", limit_key = "host")]
async fn drain(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

fn main() {}
