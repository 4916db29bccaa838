use jobs_core::{JobError, job};

#[job]
async fn store<T: serde::Serialize>(value: T) -> Result<(), JobError> {
    let _ = value;
    Ok(())
}

#[job]
async fn store_where(value: String) -> Result<(), JobError>
where
    String: Send,
{
    let _ = value;
    Ok(())
}

fn main() {}
