//! The job type and its fields take the function's visibility; `#[cfg]` on the function
//! applies to the job type too; types passed through `macro_rules!` are still recognised.
#![deny(warnings)]

use jobs_core::{DataMap, Job, JobContext, job};

mod jobs {
    use jobs_core::{JobError, job};

    #[job(queue = "inner")]
    pub(crate) async fn resize(volume: String, gigabytes: u64) -> Result<String, JobError> {
        Ok(format!("{volume}={gigabytes}G"))
    }

    #[job]
    #[cfg(any())]
    pub async fn compiled_out(missing: DoesNotExist) -> Result<(), JobError> {
        Ok(())
    }

    #[job]
    #[cfg(all())]
    pub async fn compiled_in() -> Result<(), JobError> {
        Ok(())
    }
}

macro_rules! counting_job {
    ($name:ident, $arg:ty, $ctx:ty) => {
        #[job]
        async fn $name(n: $arg, ctx: $ctx) -> Result<u32, jobs_core::JobError> {
            Ok(n + ctx.attempt())
        }
    };
}

counting_job!(count_up, u32, JobContext);

fn main() {
    let job = jobs::Resize { volume: "v".into(), gigabytes: 8 };
    assert_eq!(jobs::Resize::OPTIONS.queue, "inner");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ctx = || JobContext::standalone(DataMap::new());
    assert_eq!(runtime.block_on(job.run(ctx())).unwrap(), "v=8G");
    assert_eq!(jobs::CompiledIn::NAME, "compiled_in");

    assert_eq!(runtime.block_on(CountUp { n: 41 }.run(ctx())).unwrap(), 42);
}
