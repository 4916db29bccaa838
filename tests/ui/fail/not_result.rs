use jobs_core::job;

#[job]
async fn count(items: Vec<String>) -> u32 {
    items.len() as u32
}

fn main() {}
