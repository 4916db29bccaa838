use jobs_core::{JobError, job};

#[job(unique = "waiting", unique_key_with = slot_number)]
async fn reboot(host: String, slot: u32) -> Result<(), JobError> {
    let _ = (host, slot);
    Ok(())
}

/// Not a key type.
fn slot_number(job: &Reboot) -> u32 {
    job.slot
}

#[job(unique = "waiting", unique_key_with = by_host)]
async fn drain(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

/// Takes the wrong job.
fn by_host(job: &Reboot) -> String {
    job.host.clone()
}

fn main() {}
