//! A one-argument `Result` alias whose error converts into `JobError`.
#![deny(warnings)]

use jobs_core::{DataMap, Job, JobContext, JobErrorKind, job};

#[job]
async fn parse_port(text: String) -> anyhow::Result<u16> {
    let port = text.parse::<u16>()?;
    anyhow::ensure!(port != 0, "port 0 is reserved");
    Ok(port)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = |text: &str| {
        let job = ParsePort { text: text.into() };
        runtime.block_on(job.run(JobContext::standalone(DataMap::new())))
    };
    assert_eq!(run("8080").unwrap(), 8080);
    let err = run("0").unwrap_err();
    assert_eq!(err.kind(), JobErrorKind::Retry { after: None });
    assert_eq!(err.chain(), "port 0 is reserved");
    assert!(run("x").is_err());
}
