use jobs_core::{Data, JobContext, JobError, job};

struct Rpc;

#[job(queue = "disks", unique = "waiting", unique_key = "hots")]
async fn format_disk(
    host: String,
    device: String,
    rpc: Data<Rpc>,
    ctx: JobContext,
) -> Result<(), JobError> {
    let _ = (host, device, rpc, ctx);
    Ok(())
}

#[job(unique = "waiting", unique_key = "ctx")]
async fn injected(ctx: JobContext) -> Result<(), JobError> {
    let _ = ctx;
    Ok(())
}

// Both keys' unknown arguments are reported in one build.
#[job(limit_key = "rack", unique = "waiting", unique_key = "slot")]
async fn both(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

fn main() {}
