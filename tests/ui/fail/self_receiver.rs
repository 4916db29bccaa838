use jobs_core::{JobError, job};

struct Disk;

impl Disk {
    #[job]
    async fn format(&self, device: String) -> Result<(), JobError> {
        let _ = device;
        Ok(())
    }
}

fn main() {}
