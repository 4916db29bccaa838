use jobs_core::{JobContext, JobError, job};

#[job]
async fn twice(first: JobContext, host: String, second: JobContext) -> Result<(), JobError> {
    let _ = (first, host, second);
    Ok(())
}

fn main() {}
