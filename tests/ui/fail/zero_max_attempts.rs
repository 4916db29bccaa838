use jobs_core::{JobError, job};

#[job(max_attempts = 0)]
async fn never() -> Result<(), JobError> {
    Ok(())
}

fn main() {}
