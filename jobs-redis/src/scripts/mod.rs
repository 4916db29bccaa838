//! The typed script layer: one module beside each Lua script (`jobs-redis/lua/*.lua`).
//!
//! A module owns its script's key list (built from [`QueueKeys`] or [`BatchKeys`], never
//! at the call site), the encoding of its arguments and the decoding of its reply into a
//! typed value; the status codes a script answers with are a Rust enum there, and named
//! in the script's header. The backend only coordinates: which script, which chunk, what
//! to do with the answer.
//!
//! Each script is sent as EVALSHA; on NOSCRIPT (a restarted or flushed server)
//! `redis::Script` loads it and retries once. `lua/lib.lua` is prepended to each (and
//! `lua/batch_lib.lua` to the batch scripts), so the record format and the shared steps
//! are written once. Loading a script checks that its header declares as many keys as
//! its module passes.

use std::time::Duration;

use jobs_core::{BackendError, Retention, TRIM_BATCH};
use redis::{Script, ScriptInvocation};

use crate::conn::Conn;
use crate::error;

pub(crate) mod batch_add;
pub(crate) mod batch_confirm;
pub(crate) mod batch_done;
pub(crate) mod batch_outbox;
pub(crate) mod batch_page;
pub(crate) mod batch_status;
pub(crate) mod cancel;
pub(crate) mod dead_list;
pub(crate) mod enqueue;
pub(crate) mod finish;
pub(crate) mod job;
pub(crate) mod progress;
pub(crate) mod recover;
pub(crate) mod renew;
pub(crate) mod reserve;
pub(crate) mod retry_dead;
pub(crate) mod stats;
pub(crate) mod sweep;

#[allow(unused_imports)]
pub(crate) use crate::keys::{BatchKeys, QueueKeys};

const LIB: &str = include_str!("../../lua/lib.lua");
/// The batch scripts' own steps and key names, prepended after `LIB`.
const BATCH_LIB: &str = include_str!("../../lua/batch_lib.lua");

/// What a script may do, as its shebang tells Redis (7+). The shebang makes the server
/// check memory before a script starts, so a script refused for `maxmemory` has written
/// nothing, and restricts scripts to the keys they declare.
#[derive(Clone, Copy)]
pub(crate) enum Flags {
    /// Adds work: refused at `maxmemory` before it writes anything.
    Writes,
    /// Only reads: may also run while the server is out of memory.
    ReadOnly,
    /// Moves work along without adding any (reserve, renew, finish, ...): runs even at
    /// `maxmemory`, so a full queue still drains and frees memory.
    AllowOom,
}

/// The helpers prepended to a script.
#[derive(Clone, Copy)]
pub(crate) enum Libs {
    /// `lib.lua`.
    Queue,
    /// `lib.lua` and `batch_lib.lua`.
    Batch,
}

/// One loaded script: its source with the helpers prepended, and how many keys it takes.
pub(crate) struct Lua {
    name: &'static str,
    script: Script,
    keys: usize,
}

impl Lua {
    /// The script `name` from `body`. Panics when the header declares another number of
    /// keys than `keys`, the number its module passes: a mistake in this crate, caught by
    /// the first call of any test (and by this module's unit test).
    pub(crate) fn new(
        name: &'static str,
        flags: Flags,
        libs: Libs,
        body: &str,
        keys: usize,
    ) -> Self {
        let declared = declared_keys(body);
        assert_eq!(
            declared, keys,
            "lua/{name}.lua declares {declared} keys in its header, its module passes {keys}"
        );
        let shebang = match flags {
            Flags::Writes => "#!lua",
            Flags::ReadOnly => "#!lua flags=no-writes",
            Flags::AllowOom => "#!lua flags=allow-oom",
        };
        let source = match libs {
            Libs::Queue => format!("{shebang}\n{LIB}\n{body}"),
            Libs::Batch => format!("{shebang}\n{LIB}\n{BATCH_LIB}\n{body}"),
        };
        Lua {
            name,
            script: Script::new(&source),
            keys,
        }
    }

    /// A call with `keys`; the arguments follow.
    pub(crate) fn call<const N: usize>(&self, keys: [&str; N]) -> ScriptInvocation<'_> {
        debug_assert_eq!(N, self.keys, "{}: wrong key count", self.name);
        let mut call = self.script.prepare_invoke();
        for key in keys {
            call.key(key);
        }
        call
    }

    /// Loads the script into the server's cache.
    pub(crate) async fn load(&self, conn: &mut Conn) -> Result<(), BackendError> {
        self.script
            .prepare_invoke()
            .load_async(conn)
            .await
            .map(drop)
            .map_err(error::map)
    }
}

/// The number of keys a script's header declares: the highest `KEYS[n]` (or `KEYS[a..n]`)
/// in the comment lines before its first line of code.
fn declared_keys(body: &str) -> usize {
    let mut most = 0;
    for line in body
        .lines()
        .take_while(|l| l.starts_with("--") || l.is_empty())
    {
        let mut rest = line;
        while let Some(at) = rest.find("KEYS[") {
            rest = &rest[at + 5..];
            let inside = rest.split(']').next().unwrap_or("");
            let last = inside.rsplit("..").next().unwrap_or("");
            if let Ok(n) = last.trim().parse::<usize>() {
                most = most.max(n);
            }
        }
    }
    most
}

/// Every script, for loading them all at once.
pub(crate) fn all() -> [&'static Lua; 18] {
    [
        &enqueue::SCRIPT,
        &reserve::SCRIPT,
        &renew::SCRIPT,
        &finish::SCRIPT,
        &recover::SCRIPT,
        &job::SCRIPT,
        &dead_list::SCRIPT,
        &retry_dead::SCRIPT,
        &stats::SCRIPT,
        &progress::SCRIPT,
        &batch_add::SCRIPT,
        &batch_done::SCRIPT,
        &batch_confirm::SCRIPT,
        &batch_status::SCRIPT,
        &batch_page::SCRIPT,
        &batch_outbox::SCRIPT,
        &cancel::SCRIPT,
        &sweep::SCRIPT,
    ]
}

/// What the scripts need to know of the store's settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub retention: Retention,
    pub max_stalls: u32,
    pub events_max_len: usize,
    /// See [`crate::RedisBackendBuilder::batch_claim`].
    pub batch_claim: Duration,
}

impl Settings {
    /// The dead-set retention arguments: most kept, max age (ms), trim batch.
    fn dead_args(&self) -> [u64; 3] {
        let r = &self.retention;
        [r.dead_max, ms(r.dead_max_age), TRIM_BATCH as u64]
    }

    /// The claim period in ms.
    pub(crate) fn claim_ms(&self) -> u64 {
        ms(self.batch_claim)
    }
}

/// A duration in ms, saturating.
pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// How many keys every batch script takes: the batch's keys (`lua/batch_lib.lua`).
const BATCH_KEYS: usize = 8;

fn batch_keys(bk: &BatchKeys) -> [&str; BATCH_KEYS] {
    bk.all().map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_declares_the_keys_its_module_passes() {
        // Loading checks it; this forces every script to load.
        for script in all() {
            assert!(script.keys > 0, "{}", script.name);
        }
    }

    #[test]
    fn key_declarations_are_read_from_the_header_only() {
        assert_eq!(
            declared_keys("-- KEYS[1] a  KEYS[2] b\n-- KEYS[3] c\nlocal x = KEYS[9]"),
            3
        );
        assert_eq!(declared_keys("-- KEYS[1..8] the batch's keys\n"), 8);
        assert_eq!(declared_keys("local x = 1"), 0);
    }
}
