use jobs_core::{JobError, job};

#[job(queue = "a b")]
async fn spaced() -> Result<(), JobError> {
    Ok(())
}

#[job(queue = "")]
async fn empty() -> Result<(), JobError> {
    Ok(())
}

#[job(name = "")]
async fn unnamed() -> Result<(), JobError> {
    Ok(())
}

fn main() {}
