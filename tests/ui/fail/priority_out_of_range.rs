use jobs_core::{JobError, job};

#[job(priority = 200)]
async fn high() -> Result<(), JobError> {
    Ok(())
}

#[job(priority = -129)]
async fn low() -> Result<(), JobError> {
    Ok(())
}

#[job(priority = "high")]
async fn named() -> Result<(), JobError> {
    Ok(())
}

fn main() {}
