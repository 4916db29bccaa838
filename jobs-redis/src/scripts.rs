//! The Lua scripts, one per atomic transition (`jobs-redis/lua/*.lua`).
//!
//! Each is sent as EVALSHA; on NOSCRIPT (a restarted or flushed server) `redis::Script`
//! loads it and retries once. `lua/lib.lua` is prepended to each, so the record format and
//! the shared steps (schedule, bury, trim, recover) are written once.

use std::sync::LazyLock;

use redis::Script;

const LIB: &str = include_str!("../lua/lib.lua");
/// The batch scripts' own steps and key names, prepended after `LIB`.
const BATCH_LIB: &str = include_str!("../lua/batch_lib.lua");

/// The shebang (Redis 7+) makes the server check memory before a script starts, so a
/// script refused for `maxmemory` has written nothing, and restricts scripts to the keys
/// they declare.
fn script(body: &str) -> Script {
    Script::new(&format!("#!lua\n{LIB}\n{body}"))
}

/// A script that only reads: it may also run while the server is out of memory.
fn read_only(body: &str) -> Script {
    Script::new(&format!("#!lua flags=no-writes\n{LIB}\n{body}"))
}

/// A script that moves work along without adding any (reserve, renew, finish, ...): it
/// runs even when Redis is at `maxmemory`, so a full queue still drains and frees memory,
/// while new work (enqueue) is refused before it writes anything.
fn draining(body: &str) -> Script {
    Script::new(&format!("#!lua flags=allow-oom\n{LIB}\n{body}"))
}

/// A batch script (`flags`: as above), with the batch steps of `lua/batch_lib.lua`.
fn batch(flags: &str, body: &str) -> Script {
    Script::new(&format!("#!lua{flags}\n{LIB}\n{BATCH_LIB}\n{body}"))
}

/// Every script of the backend.
pub(crate) struct Scripts {
    pub enqueue: Script,
    pub reserve: Script,
    pub renew: Script,
    pub finish: Script,
    pub recover: Script,
    pub job: Script,
    pub dead_list: Script,
    pub retry_dead: Script,
    pub stats: Script,
    pub progress: Script,
    pub batch_add: Script,
    pub batch_done: Script,
    pub batch_confirm: Script,
    pub batch_status: Script,
    pub batch_page: Script,
    pub batch_outbox: Script,
    pub cancel: Script,
    pub sweep: Script,
}

pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    enqueue: script(include_str!("../lua/enqueue.lua")),
    reserve: draining(include_str!("../lua/reserve.lua")),
    renew: draining(include_str!("../lua/renew.lua")),
    finish: draining(include_str!("../lua/finish.lua")),
    recover: draining(include_str!("../lua/recover.lua")),
    job: read_only(include_str!("../lua/job.lua")),
    dead_list: read_only(include_str!("../lua/dead_list.lua")),
    retry_dead: script(include_str!("../lua/retry_dead.lua")),
    stats: read_only(include_str!("../lua/stats.lua")),
    progress: script(include_str!("../lua/progress.lua")),
    // New work: refused at maxmemory before it writes anything.
    batch_add: batch("", include_str!("../lua/batch_add.lua")),
    // Counting endings frees work (callbacks wait on it): runs at maxmemory too.
    batch_done: batch(" flags=allow-oom", include_str!("../lua/batch_done.lua")),
    batch_confirm: batch(" flags=allow-oom", include_str!("../lua/batch_confirm.lua")),
    batch_status: batch(" flags=no-writes", include_str!("../lua/batch_status.lua")),
    batch_page: batch(" flags=no-writes", include_str!("../lua/batch_page.lua")),
    // Removes and re-times entries (and writes a check before new work, which is itself
    // refused at maxmemory): runs at maxmemory too.
    batch_outbox: draining(include_str!("../lua/batch_outbox.lua")),
    cancel: script(include_str!("../lua/cancel.lua")),
    // Moves records, adds none: runs at maxmemory too.
    sweep: draining(include_str!("../lua/sweep.lua")),
});

impl Scripts {
    /// Every script, for loading them all at once.
    pub(crate) fn all(&self) -> [&Script; 18] {
        [
            &self.enqueue,
            &self.reserve,
            &self.renew,
            &self.finish,
            &self.recover,
            &self.job,
            &self.dead_list,
            &self.retry_dead,
            &self.stats,
            &self.progress,
            &self.batch_add,
            &self.batch_done,
            &self.batch_confirm,
            &self.batch_status,
            &self.batch_page,
            &self.batch_outbox,
            &self.cancel,
            &self.sweep,
        ]
    }
}
