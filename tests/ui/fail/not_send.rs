use std::rc::Rc;

use jobs_core::{JobError, job};

async fn yield_now() {}

#[job]
async fn holds_rc(host: String) -> Result<(), JobError> {
    let shared = Rc::new(host);
    yield_now().await;
    let _ = shared;
    Ok(())
}

fn main() {}
