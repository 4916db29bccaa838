use jobs_core::{JobError, job};

#[job]
async fn pair((a, b): (u32, u32), _: String) -> Result<u32, JobError> {
    Ok(a + b)
}

fn main() {}
