//! The operators' calls of the [`Backend`](jobs_core::Backend) contract: pages of jobs,
//! deletions and purges, the queue list, throughput, and the live workers. Called from
//! `backend.rs`.

use std::time::Duration;

use jobs_core::backend::JobState;
use jobs_core::{
    BackendError, Deleted, JobId, JobPage, LIST_PAGE_MAX, ListCursor, MinuteCounts, PURGE_BATCH,
    THROUGHPUT_MINUTES, WorkerInfo,
};

use crate::batches;
use crate::handle::RedisBackend;
use crate::scripts::{self, delete};

/// Most jobs deleted by id in one script call.
const DELETE_CHUNK: usize = 500;

impl RedisBackend {
    pub(crate) async fn list_jobs_page(
        &self,
        queue: &str,
        state: JobState,
        after: Option<ListCursor>,
        limit: usize,
    ) -> Result<JobPage, BackendError> {
        let k = self.keys(queue)?;
        let limit = limit.min(LIST_PAGE_MAX);
        if limit == 0 {
            return Ok(JobPage::new(Vec::new(), None));
        }
        let mut conn = self.conn().await?;
        scripts::list::call(&mut conn, &k, queue, state, after, limit).await
    }

    pub(crate) async fn delete_ids(
        &self,
        queue: &str,
        ids: &[JobId],
    ) -> Result<Vec<Deleted>, BackendError> {
        let k = self.keys(queue)?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(DELETE_CHUNK) {
            let (answers, outbox) = {
                let mut conn = self.conn().await?;
                delete::ids(&mut conn, &k, &self.inner.settings, chunk).await?
            };
            if outbox > 0 {
                batches::drain_quietly(self, &k).await;
            }
            out.extend(answers);
        }
        Ok(out)
    }

    pub(crate) async fn purge_step(
        &self,
        queue: &str,
        state: JobState,
        limit: usize,
    ) -> Result<u64, BackendError> {
        if state == JobState::Active {
            return Err(BackendError::Refused(
                jobs_core::reason::PURGE_ACTIVE.into(),
            ));
        }
        let k = self.keys(queue)?;
        let (deleted, outbox) = {
            let mut conn = self.conn().await?;
            let limit = limit.min(PURGE_BATCH);
            delete::first(&mut conn, &k, &self.inner.settings, state, limit).await?
        };
        if outbox > 0 {
            batches::drain_quietly(self, &k).await;
        }
        Ok(deleted)
    }

    pub(crate) async fn queue_list(&self) -> Result<Vec<String>, BackendError> {
        let mut names: Vec<String> = {
            let mut conn = self.conn().await?;
            redis::cmd("SMEMBERS")
                .arg(&self.inner.store_keys.queues)
                .query_async(&mut conn)
                .await
                .map_err(crate::error::map)?
        };
        for w in self.worker_list().await? {
            names.extend(w.queues);
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    pub(crate) async fn minutes(
        &self,
        queue: &str,
        minutes: u32,
    ) -> Result<Vec<MinuteCounts>, BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        scripts::throughput::call(&mut conn, &k, minutes.min(THROUGHPUT_MINUTES)).await
    }

    pub(crate) async fn beat(
        &self,
        id: &str,
        info: Option<&WorkerInfo>,
        ttl: Duration,
    ) -> Result<(), BackendError> {
        let mut conn = self.conn().await?;
        scripts::worker_beat::call(&mut conn, &self.inner.store_keys, id, info, ttl).await
    }

    pub(crate) async fn worker_list(&self) -> Result<Vec<WorkerInfo>, BackendError> {
        let mut conn = self.conn().await?;
        scripts::workers::call(&mut conn, &self.inner.store_keys).await
    }
}
