use jobs_core::job;

#[job(queue = "disks")]
struct FormatDisk {
    host: String,
}

fn main() {}
