use jobs_core::{JobError, job};

#[job(unique = "waiting", queue = "q", unique = "until_done")]
async fn a() -> Result<(), JobError> {
    Ok(())
}

#[job(unique = "waiting", on_conflict = "reject", on_conflict = "replace")]
async fn b() -> Result<(), JobError> {
    Ok(())
}

#[job(unique = "waiting", unique_key = "host", unique_key = "rack")]
async fn c(host: String, rack: String) -> Result<(), JobError> {
    let _ = (host, rack);
    Ok(())
}

#[job(unique = "waiting", unique_key = "host", unique_key_with = host_key)]
async fn d(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

fn main() {}
