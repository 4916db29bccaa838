use jobs_core::{JobError, job};

#[job(queue = "disks", max_attempts = 3, queue = "net")]
async fn ping() -> Result<(), JobError> {
    Ok(())
}

fn main() {}
