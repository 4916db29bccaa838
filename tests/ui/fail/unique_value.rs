use jobs_core::{JobError, job};

#[job(unique = "wating")]
async fn a() -> Result<(), JobError> {
    Ok(())
}

#[job(unique = "10 parsecs")]
async fn b() -> Result<(), JobError> {
    Ok(())
}

#[job(unique = "0s")]
async fn c() -> Result<(), JobError> {
    Ok(())
}

#[job(unique = waiting)]
async fn d() -> Result<(), JobError> {
    Ok(())
}

#[job(unique = 10m)]
async fn e() -> Result<(), JobError> {
    Ok(())
}

#[job(unique)]
async fn f() -> Result<(), JobError> {
    Ok(())
}

#[job(unique = "waiting", on_conflict = "ignore")]
async fn g() -> Result<(), JobError> {
    Ok(())
}

#[job(unique = "waiting", on_conflict = replace)]
async fn h() -> Result<(), JobError> {
    Ok(())
}

#[job(unique = "waiting", unique_key = host)]
async fn i(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

#[job(unique = "waiting", unique_key_with = "disk_key")]
async fn j(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

fn main() {}
