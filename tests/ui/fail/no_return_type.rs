use jobs_core::job;

#[job]
async fn fire_and_forget(host: String) {
    let _ = host;
}

fn main() {}
