use jobs_core::{Data, JobContext, JobError, job};

struct Rpc;

#[job(queue = "disks", limit_key = "hots")]
async fn format_disk(
    host: String,
    device: String,
    rpc: Data<Rpc>,
    ctx: JobContext,
) -> Result<(), JobError> {
    let _ = (host, device, rpc, ctx);
    Ok(())
}

// Injected parameters are not serialized: they cannot give the key.
#[job(limit_key = "rpc")]
async fn drain(host: String, rpc: Data<Rpc>) -> Result<(), JobError> {
    let _ = (host, rpc);
    Ok(())
}

#[job(limit_key = "ctx")]
async fn injected(ctx: JobContext) -> Result<(), JobError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
