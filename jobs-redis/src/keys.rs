//! Key names: built here and nowhere else.
//!
//! Every key of a queue carries the queue in a hash tag (`jobs:{disks}:ready`), so all the
//! keys one script touches live in one Redis Cluster slot, and different queues spread
//! over the cluster.

use jobs_core::{BackendError, validate_queue_name};

/// The keys of one queue.
#[derive(Debug, Clone)]
pub(crate) struct QueueKeys {
    /// Hash: job id -> record.
    pub jobs: String,
    /// Sorted set: ready jobs by priority band, then ready time.
    pub ready: String,
    /// Sorted set: jobs waiting for their run-at time.
    pub scheduled: String,
    /// Sorted set: leased jobs by lease end.
    pub leased: String,
    /// Sorted set: succeeded jobs by finish time (retention).
    pub succeeded: String,
    /// Sorted set: dead jobs by finish time.
    pub dead: String,
    /// List: wake-up token for blocked workers.
    pub wake: String,
    /// Counter: fencing tokens.
    pub seq: String,
    /// Stream: lifecycle events.
    pub events: String,
    /// Sorted set: batch work for this queue's workers to do, scored by when it is due
    /// (server ms): members that ended, not yet counted in their batch
    /// (`<batch> <job> <s|d>`), and checks of a batch (`<batch> check`). Key suffix
    /// `ended`: the list earlier versions kept at `outbox` is never read as this.
    pub outbox: String,
    /// Set: running jobs the application cancelled.
    pub cancel: String,
    /// Hash: leased job id -> fencing token of its lease.
    pub tokens: String,
    /// Hash: batch id -> how many of its members on this queue are leased now.
    pub batch_active: String,
    /// Hash: the queue's flow control: paused, concurrency, per_key, and the count of
    /// ready jobs waiting under a limit key (see `lua/lib.lua`, "Flow control").
    pub flow: String,
    /// Sorted set: limit keys with a waiting job and a free slot, by their first job.
    pub groups: String,
    /// Hash: limit key -> how many of its jobs are leased now.
    pub gactive: String,
    /// The prefix of each limit key's line (a sorted set `<group><key>` of its ready
    /// jobs). Not a key itself: passed so that the scripts build the lines' names under
    /// the queue's hash tag (the same cluster slot as every other key here).
    pub group: String,
    /// Sorted set: limit keys held back (rate used up, or a job said it was rate
    /// limited), by the time they may run again.
    pub gdelayed: String,
    /// Sorted set: the queue's recent starts (fencing token, by start time): its rate
    /// window.
    pub rate: String,
    /// The prefix of each limit key's recent starts (a sorted set `<krate><key>`, as
    /// `rate`); not a key itself, as `group`.
    pub krate: String,
    /// Hash: uniqueness key -> the claim of the job holding it (see
    /// `lua/enqueue_unique.lua`).
    pub unique: String,
    /// Set: paused batches with members on this queue.
    pub bpaused: String,
    /// The prefix of each paused batch's parked members on this queue (a sorted set
    /// `<parked><batch>`, scored like ready); not a key itself, as `group`.
    pub parked: String,
    /// Hash: jobs ended per minute (`s<minute>` succeeded, `f<minute>` failed; minute =
    /// server ms / 60000), the last hour's (see `lua/finish.lua`).
    pub tput: String,
}

/// The store's own keys, beside the queues': which queues exist, and the live workers.
/// The workers' keys share one hash tag, so one script reads and trims them.
pub(crate) struct StoreKeys {
    /// Set: queue names enqueued to or served (`SADD` once per process and queue).
    pub queues: String,
    /// Hash: worker id -> its registration (JSON, as `jobs_core::WorkerInfo`).
    pub workers: String,
    /// Sorted set: worker id by the time its registration expires (server ms).
    pub worker_expiry: String,
}

impl StoreKeys {
    pub(crate) fn new(prefix: &str) -> Self {
        StoreKeys {
            queues: format!("{prefix}:queues"),
            workers: format!("{prefix}:{{workers}}:info"),
            worker_expiry: format!("{prefix}:{{workers}}:expiry"),
        }
    }
}

/// The keys of one batch, under its own hash tag: they may sit on another cluster node
/// than its members' queues.
pub(crate) struct BatchKeys {
    /// Hash: created, opened, finished, claim, counts (succeeded, dead), callbacks.
    pub meta: String,
    /// Hash: job id -> queue.
    pub members: String,
    /// Hash: job id -> 's' or 'd', for members that ended (each counts once).
    pub done: String,
    /// List: member ids in the order they joined (pages of members).
    pub order: String,
    /// List: dead member ids in the order they were counted.
    pub dead: String,
    /// Set: the queues the members sit on.
    pub queues: String,
    /// Sorted set: members added from a running job, not known to be enqueued yet, by the
    /// time they were added.
    pub adding: String,
    /// Hash: job id -> the added job (to enqueue if its adder died).
    pub adding_jobs: String,
}

impl BatchKeys {
    pub(crate) fn new(prefix: &str, batch: jobs_core::BatchId) -> Self {
        let key = |name: &str| format!("{prefix}:{{batch:{batch}}}:{name}");
        BatchKeys {
            meta: key("meta"),
            members: key("members"),
            done: key("done"),
            order: key("order"),
            dead: key("dead"),
            queues: key("queues"),
            adding: key("adding"),
            adding_jobs: key("adding_jobs"),
        }
    }

    /// How many keys a batch has (the batch scripts declare `KEYS[1..8]`).
    pub(crate) const COUNT: usize = 8;

    /// Every key, in the order the batch scripts take them (see `lua/batch_lib.lua`).
    pub(crate) fn all(&self) -> [&String; Self::COUNT] {
        [
            &self.meta,
            &self.members,
            &self.done,
            &self.order,
            &self.dead,
            &self.queues,
            &self.adding,
            &self.adding_jobs,
        ]
    }
}

impl QueueKeys {
    /// The name of each key as a script's header declares it (`-- KEYS[n] name`), in the
    /// order of [`QueueKeys::all`]: the scripts' key lists are written once, in their
    /// headers, and built from these names.
    pub(crate) const NAMES: [&'static str; 24] = [
        "jobs",
        "ready",
        "scheduled",
        "leased",
        "succeeded",
        "dead",
        "wake",
        "seq",
        "events",
        "outbox",
        "cancel",
        "tokens",
        "batch_active",
        "flow",
        "groups",
        "gactive",
        "group",
        "gdelayed",
        "rate",
        "krate",
        "unique",
        "bpaused",
        "parked",
        "tput",
    ];

    /// Every key, in the order of [`QueueKeys::NAMES`].
    pub(crate) fn all(&self) -> [&str; 24] {
        [
            &self.jobs,
            &self.ready,
            &self.scheduled,
            &self.leased,
            &self.succeeded,
            &self.dead,
            &self.wake,
            &self.seq,
            &self.events,
            &self.outbox,
            &self.cancel,
            &self.tokens,
            &self.batch_active,
            &self.flow,
            &self.groups,
            &self.gactive,
            &self.group,
            &self.gdelayed,
            &self.rate,
            &self.krate,
            &self.unique,
            &self.bpaused,
            &self.parked,
            &self.tput,
        ]
    }

    /// The keys of `queue` under `prefix`. Refuses names that could break out of the hash
    /// tag or the key layout.
    pub(crate) fn new(prefix: &str, queue: &str) -> Result<Self, BackendError> {
        validate_queue_name(queue)?;
        let base = format!("{prefix}:{{{queue}}}:");
        let key = |suffix: &str| format!("{base}{suffix}");
        Ok(QueueKeys {
            jobs: key("jobs"),
            ready: key("ready"),
            scheduled: key("scheduled"),
            leased: key("leased"),
            succeeded: key("succeeded"),
            dead: key("dead"),
            wake: key("wake"),
            seq: key("seq"),
            events: key("events"),
            outbox: key("ended"),
            cancel: key("cancel"),
            tokens: key("tokens"),
            batch_active: key("batch_active"),
            flow: key("flow"),
            groups: key("groups"),
            gactive: key("gactive"),
            group: key("g:"),
            gdelayed: key("gdelayed"),
            rate: key("rate"),
            krate: key("r:"),
            unique: key("unique"),
            bpaused: key("bpaused"),
            parked: key("bp:"),
            tput: key("tput"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_queue_hash_tag() {
        let k = QueueKeys::new("jobs", "disks").unwrap();
        assert_eq!(k.ready, "jobs:{disks}:ready");
        assert_eq!(k.jobs, "jobs:{disks}:jobs");
        for key in k.all() {
            assert!(key.contains("{disks}"), "{key}");
        }
        assert!(QueueKeys::new("jobs", "a}b").is_err());
    }
}
