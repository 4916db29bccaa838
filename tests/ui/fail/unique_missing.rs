use jobs_core::{JobError, job};

#[job(queue = "disks", unique_key = "host")]
async fn a(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

#[job(unique_key_with = host_key)]
async fn b(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

// Each option that needs `unique` is reported.
#[job(on_conflict = "replace", limit_key = "host", unique_key = "host")]
async fn c(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

fn main() {}
