//! Generated code names everything absolutely: local items named like std's and the
//! prelude's do not change its meaning (serde's `test_gen.rs` does the same).
#![deny(warnings)]
#![allow(dead_code, non_camel_case_types)]

mod jobs {
    use ::jobs_core::{Data, JobContext, JobError, job};

    struct Result;
    struct Ok;
    struct Err;
    struct Option;
    struct Some;
    struct None;
    struct Vec;
    struct String;
    struct Box;
    struct Send;
    struct Sync;
    struct Sized;
    struct Clone;
    struct Into;
    struct From;
    struct Future;
    struct Default;
    struct Serialize;
    struct Deserialize;
    struct Duration;
    struct JobOptions;
    struct Backoff;
    struct DataType;
    struct IntoJobResult;
    struct IntoLimitKey;
    struct IntoUniqueKey;
    struct Unique;
    struct UniqueFor;
    struct OnConflict;
    struct Job;
    mod core {}
    mod std {}
    mod serde {}
    mod jobs_core {}

    pub struct Limit(pub u32);

    /// Shadows everything it can.
    #[job(
        queue = "q",
        max_attempts = 2,
        backoff = "exponential(1s, 1m)",
        timeout = "1m",
        priority = 1,
        limit_key = "name",
        unique = "1m",
        unique_key = "name",
        on_conflict = "debounce"
    )]
    pub async fn shadowed(
        name: ::std::string::String,
        limit: Data<Limit>,
        ctx: JobContext,
    ) -> ::core::result::Result<::std::string::String, JobError> {
        ::core::result::Result::Ok(::std::format!("{name}:{}:{}", limit.0, ctx.attempt()))
    }

    fn limit_key(_: &Computed) -> &'static str {
        "computed"
    }

    /// A computed key, through a function named like the generated method.
    #[job(limit_key_with = limit_key)]
    pub async fn computed(job: u32) -> ::core::result::Result<(), JobError> {
        let _ = job;
        ::core::result::Result::Ok(())
    }

    fn unique(_: &UniqueComputed) -> &'static str {
        "computed"
    }

    /// A computed uniqueness key, through a function named like the generated method
    /// and its local.
    #[job(unique = "until_done", unique_key_with = unique)]
    pub async fn unique_computed(job: u32) -> ::core::result::Result<(), JobError> {
        let _ = job;
        ::core::result::Result::Ok(())
    }
}

fn main() {
    use jobs_core::Job;

    let mut data = jobs_core::DataMap::new();
    data.insert(jobs::Limit(9));
    let job = jobs::Shadowed { name: "n".into() };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = runtime
        .block_on(job.run(jobs_core::JobContext::standalone(data)))
        .unwrap();
    assert_eq!(out, "n:9:1");
    assert_eq!(jobs::Shadowed::OPTIONS.queue, "q");
    let job = jobs::Shadowed { name: "n".into() };
    assert_eq!(job.limit_key().as_deref(), Some("n"));
    let unique = jobs_core::Unique::for_period(std::time::Duration::from_secs(60))
        .key("n")
        .on_conflict(jobs_core::OnConflict::Debounce);
    assert_eq!(job.unique(), Some(unique));
    let job = jobs::Computed { job: 1 };
    assert_eq!(job.limit_key().as_deref(), Some("computed"));
    let job = jobs::UniqueComputed { job: 1 };
    let unique = jobs_core::Unique::until_done().key("computed");
    assert_eq!(job.unique(), Some(unique));
}
