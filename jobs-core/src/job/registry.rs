//! From wire name to handler: how a worker turns a stored payload back into a job.

use std::any::{TypeId, type_name};
use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use super::context::JobContext;
use super::data::DataType;
use super::error::JobError;
use super::{Job, JobOptions};

pub(crate) type JobFuture = Pin<Box<dyn Future<Output = Result<Option<Vec<u8>>, JobError>> + Send>>;

/// A payload that does not deserialize into its job type: the job goes to dead.
#[derive(Debug, thiserror::Error)]
#[error("payload does not match job `{name}`: {source}")]
pub(crate) struct DecodeError {
    name: &'static str,
    source: serde_json::Error,
}

/// One registered job type, with its type erased.
pub(crate) trait Handler: Send + Sync {
    fn options(&self) -> JobOptions;
    fn required_data(&self) -> Vec<DataType>;
    /// Decodes the payload (only ever into this registered type) and starts the job.
    fn start(&self, payload: &[u8], ctx: JobContext) -> Result<JobFuture, DecodeError>;
}

struct TypedHandler<J>(PhantomData<fn() -> J>);

impl<J: Job> Handler for TypedHandler<J> {
    fn options(&self) -> JobOptions {
        J::OPTIONS
    }

    fn required_data(&self) -> Vec<DataType> {
        J::required_data()
    }

    fn start(&self, payload: &[u8], ctx: JobContext) -> Result<JobFuture, DecodeError> {
        let job: J = serde_json::from_slice(payload).map_err(|source| DecodeError {
            name: J::NAME,
            source,
        })?;
        Ok(Box::pin(async move {
            let output = job.run(ctx).await?;
            // The job has already done its work: a result that cannot be stored is
            // reported, never turned into a failure that would run the job again.
            match serde_json::to_vec(&output) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) => {
                    tracing::error!(job = J::NAME, error = %e, "job output could not be serialized; result not stored");
                    Ok(None)
                }
            }
        }))
    }
}

/// The job types a worker can run, by wire name.
#[derive(Default)]
pub(crate) struct Registry {
    handlers: BTreeMap<&'static str, (TypeId, Box<dyn Handler>)>,
    /// A wire name registered by two different types: the worker refuses to start.
    clash: Option<(&'static str, &'static str)>,
}

impl Registry {
    pub(crate) fn register<J: Job>(&mut self) {
        let handler: Box<dyn Handler> = Box::new(TypedHandler::<J>(PhantomData));
        let new = (TypeId::of::<J>(), handler);
        if let Some((old, _)) = self.handlers.insert(J::NAME, new) {
            if old != TypeId::of::<J>() && self.clash.is_none() {
                self.clash = Some((J::NAME, type_name::<J>()));
            }
        }
    }

    /// A wire name claimed by two types, if any: (name, one of the types).
    pub(crate) fn clash(&self) -> Option<(&'static str, &'static str)> {
        self.clash
    }

    pub(crate) fn get(&self, name: &str) -> Option<&dyn Handler> {
        self.handlers.get(name).map(|(_, h)| &**h)
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.keys().copied()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, &dyn Handler)> + '_ {
        self.handlers.iter().map(|(n, (_, h))| (*n, &**h))
    }
}
