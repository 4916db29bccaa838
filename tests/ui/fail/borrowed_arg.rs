use jobs_core::{JobContext, JobError, job};
use std::borrow::Cow;

#[job]
async fn greet(
    name: &str,
    ids: &[u32],
    note: Cow<'_, str>,
    ctx: &JobContext,
) -> Result<(), JobError> {
    let _ = (name, ids, note, ctx);
    Ok(())
}

fn main() {}
