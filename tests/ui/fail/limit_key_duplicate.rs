use jobs_core::{JobError, job};

#[job(limit_key = "host", queue = "q", limit_key = "rack")]
async fn reboot(host: String, rack: String) -> Result<(), JobError> {
    let _ = (host, rack);
    Ok(())
}

#[job(limit_key_with = host_key, limit_key_with = host_key)]
async fn drain(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

fn main() {}
