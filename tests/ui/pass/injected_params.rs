//! `Data<T>` and `JobContext` parameters in any position, under any path.
#![deny(warnings)]

use jobs_core::{Data, DataMap, DataType, Job, JobContext, JobError, job};

struct Prefix(String);
struct Multiplier(u32);

/// Context first, then data and arguments interleaved.
#[job]
async fn context_first(
    ctx: JobContext,
    prefix: Data<Prefix>,
    mut name: String,
    times: jobs_core::Data<Multiplier>,
    count: u32,
) -> Result<String, JobError> {
    name.push('!');
    Ok(format!(
        "{}{name}x{}@{}",
        prefix.0,
        count * times.0,
        ctx.attempt()
    ))
}

/// Context last, unnamed, by its full path.
#[job]
async fn context_last(
    ctx_name: String,
    _unused: Data<Prefix>,
    _: ::jobs_core::JobContext,
) -> Result<String, JobError> {
    Ok(ctx_name)
}

/// Only injected parameters: the job type has no fields.
#[job]
async fn only_injected(times: Data<Multiplier>, ctx: JobContext) -> Result<u32, JobError> {
    Ok(times.0 + ctx.attempt())
}

/// Arguments named like the generated code's locals do not clash with them.
#[job]
async fn clashing_names(
    ctx: String,
    data_1: u32,
    _d: Data<Multiplier>,
) -> Result<String, JobError> {
    Ok(format!("{ctx}{data_1}"))
}

fn main() {
    let mut data = DataMap::new();
    data.insert(Prefix("> ".into()));
    data.insert(Multiplier(3));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ctx = || JobContext::standalone(data.clone());

    assert_eq!(
        ContextFirst::required_data(),
        vec![DataType::of::<Prefix>(), DataType::of::<Multiplier>()]
    );
    let job = ContextFirst {
        name: "disk".into(),
        count: 2,
    };
    assert_eq!(
        serde_json::to_string(&job).unwrap(),
        r#"{"name":"disk","count":2}"#
    );
    assert_eq!(runtime.block_on(job.run(ctx())).unwrap(), "> disk!x6@1");

    assert_eq!(ContextLast::required_data(), vec![DataType::of::<Prefix>()]);
    let job = ContextLast {
        ctx_name: "n".into(),
    };
    assert_eq!(runtime.block_on(job.run(ctx())).unwrap(), "n");

    let job = OnlyInjected {};
    assert_eq!(serde_json::to_string(&job).unwrap(), "{}");
    assert_eq!(runtime.block_on(job.run(ctx())).unwrap(), 4);

    let job = ClashingNames {
        ctx: "c".into(),
        data_1: 7,
    };
    assert_eq!(runtime.block_on(job.run(ctx())).unwrap(), "c7");
}
