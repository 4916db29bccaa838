use jobs_core::{JobError, job};

#[job(timeout = "2 parsecs")]
async fn a() -> Result<(), JobError> {
    Ok(())
}

#[job(timeout = 30)]
async fn b() -> Result<(), JobError> {
    Ok(())
}

#[job(timeout = "0s")]
async fn c() -> Result<(), JobError> {
    Ok(())
}

#[job(backoff = "linear(5s)")]
async fn d() -> Result<(), JobError> {
    Ok(())
}

#[job(backoff = "exponential(1m, 1s)")]
async fn e() -> Result<(), JobError> {
    Ok(())
}

#[job(backoff = "fixed(5)")]
async fn f() -> Result<(), JobError> {
    Ok(())
}

fn main() {}
