use jobs_core::{JobError, job};

#[job(queue)]
async fn a() -> Result<(), JobError> {
    Ok(())
}

#[job(max_attempts = "3")]
async fn b() -> Result<(), JobError> {
    Ok(())
}

#[job(queue = disks)]
async fn c() -> Result<(), JobError> {
    Ok(())
}

fn main() {}
