use jobs_core::{JobError, job};

#[job(queue = "disks", retries = 3)]
async fn ping() -> Result<(), JobError> {
    Ok(())
}

fn main() {}
