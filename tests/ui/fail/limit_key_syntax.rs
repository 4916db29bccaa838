use jobs_core::{JobError, job};

#[job(limit_key = host)]
async fn a(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

#[job(limit_key = 5)]
async fn b(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

#[job(limit_key)]
async fn c(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

#[job(limit_key_with = "host_key")]
async fn d(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

#[job(limit_key_with = |job: &E| job.host.clone())]
async fn e(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

fn main() {}
