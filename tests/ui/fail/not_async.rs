use jobs_core::{JobError, job};

#[job]
fn ping(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

fn main() {}
