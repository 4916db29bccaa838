//! The typed script layer: one module beside each Lua script (`jobs-redis/lua/*.lua`).
//!
//! A script's key list is written once, in its header (`-- KEYS[n] name`, names of
//! [`QueueKeys`] fields, or `-- KEYS[1..8]` for a batch's keys): loading the script reads
//! it (and fails on a name this crate does not know or a gap in the numbering), and each
//! call's keys are built from it ([`Lua::on_queue`], [`Lua::on_batch`]), never at the
//! call site. The module beside the script encodes its arguments and decodes its reply
//! into a typed value; the status codes a script answers with are a Rust enum there, and
//! named in the script's header. The backend only coordinates: which script, which
//! chunk, what to do with the answer.
//!
//! Each script is sent as EVALSHA; on NOSCRIPT (a restarted or flushed server)
//! `redis::Script` loads it and retries once. The loader puts before each script the
//! reasons the store gives (jobs-core's `reason` module, as Lua constants) and the parts
//! of `lua/lib.lua` it uses (`prelude.rs`; and `lua/batch_lib.lua` before the batch
//! scripts), so the record format, the shared steps and the words are written once.

use std::time::Duration;

use jobs_core::{BackendError, StoreOptions, TRIM_BATCH};
use redis::{Script, ScriptInvocation};

use crate::conn::Conn;
use crate::error;

pub(crate) mod batch_add;
pub(crate) mod batch_confirm;
pub(crate) mod batch_done;
pub(crate) mod batch_outbox;
pub(crate) mod batch_page;
pub(crate) mod batch_pause;
pub(crate) mod batch_status;
pub(crate) mod cancel;
pub(crate) mod dead_list;
pub(crate) mod delete;
pub(crate) mod enqueue;
pub(crate) mod enqueue_unique;
pub(crate) mod finish;
pub(crate) mod job;
pub(crate) mod list;
mod prelude;
pub(crate) mod progress;
pub(crate) mod recover;
pub(crate) mod renew;
pub(crate) mod reschedule;
pub(crate) mod reserve;
pub(crate) mod retry_dead;
pub(crate) mod set_batch_pause;
pub(crate) mod set_flow;
pub(crate) mod stats;
pub(crate) mod sweep;
pub(crate) mod throughput;
pub(crate) mod worker_beat;
pub(crate) mod workers;

pub(crate) use crate::keys::{BatchKeys, QueueKeys, StoreKeys};

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
    /// `lib.lua`, on the store's own keys ([`StoreKeys`]) rather than a queue's.
    Store,
}

/// The reasons the store gives (jobs-core's `reason` module) as Lua constants, so that
/// the scripts and the in-memory store say the same words.
fn reasons() -> String {
    use jobs_core::reason::{
        ATTEMPT_FAILED, CANCELLED, EXPIRED_TEMPLATE, LEASE_EXPIRED, STALLED_TEMPLATE,
    };
    // Rust's quoting of these plain ASCII strings is valid Lua.
    format!(
        "local CANCELLED, ATTEMPT_FAILED, LEASE_EXPIRED = {CANCELLED:?}, {ATTEMPT_FAILED:?}, {LEASE_EXPIRED:?}\nlocal STALLED_TEMPLATE, EXPIRED_TEMPLATE = {STALLED_TEMPLATE:?}, {EXPIRED_TEMPLATE:?}\n"
    )
}

/// The keys a script takes, as its header declares them.
enum Keys {
    /// Keys of one queue, in the header's order, as positions in [`QueueKeys::all`].
    Queue(Vec<usize>),
    /// The batch's keys (`lua/batch_lib.lua`), declared `KEYS[1..8]`.
    Batch,
    /// The store's worker keys, declared `KEYS[1] workers  KEYS[2] worker_expiry`.
    Workers,
}

/// One loaded script: its source with the helpers prepended, and the keys it takes.
pub(crate) struct Lua {
    name: &'static str,
    script: Script,
    keys: Keys,
}

impl Lua {
    /// The script `name` from `body`, taking the keys its header declares. Panics when
    /// the header's key list cannot be read (a key this crate does not know, a gap in the
    /// numbering, batch keys in a queue script): a mistake in this crate, caught by the
    /// first call of any test (and by this module's unit test).
    pub(crate) fn new(name: &'static str, flags: Flags, libs: Libs, body: &str) -> Self {
        let keys =
            match (libs, declared_keys(body)) {
                (Libs::Queue, Declared::Queue(names)) => Keys::Queue(
                    names
                        .iter()
                        .map(|n| {
                            QueueKeys::NAMES.iter().position(|k| k == n).unwrap_or_else(|| {
                            panic!("lua/{name}.lua declares key {n:?}, which is not a queue key")
                        })
                        })
                        .collect(),
                ),
                (Libs::Batch, Declared::Batch) => Keys::Batch,
                (Libs::Store, Declared::Queue(names)) if names == ["workers", "worker_expiry"] => {
                    Keys::Workers
                }
                (_, declared) => panic!("lua/{name}.lua: bad key declaration {declared:?}"),
            };
        let shebang = match flags {
            Flags::Writes => "#!lua",
            Flags::ReadOnly => "#!lua flags=no-writes",
            Flags::AllowOom => "#!lua flags=allow-oom",
        };
        let reasons = reasons();
        let source = match libs {
            Libs::Queue | Libs::Store => {
                let lib = prelude::needed(LIB, body);
                format!("{shebang}\n{reasons}{lib}\n{body}")
            }
            Libs::Batch => {
                let uses = format!("{BATCH_LIB}\n{body}");
                let lib = prelude::needed(LIB, &uses);
                format!("{shebang}\n{reasons}{lib}\n{uses}")
            }
        };
        Lua {
            name,
            script: Script::new(&source),
            keys,
        }
    }

    /// A call with the keys of the queue `k` that the script declares; the arguments
    /// follow.
    pub(crate) fn on_queue(&self, k: &QueueKeys) -> ScriptInvocation<'_> {
        let mut call = self.script.prepare_invoke();
        match &self.keys {
            Keys::Queue(keys) => {
                let all = k.all();
                for key in keys {
                    call.key(all[*key]);
                }
            }
            _ => panic!("{} does not take a queue's keys", self.name),
        }
        call
    }

    /// A call with the store's worker keys; the arguments follow.
    pub(crate) fn on_workers(&self, sk: &StoreKeys) -> ScriptInvocation<'_> {
        assert!(
            matches!(self.keys, Keys::Workers),
            "{} does not take the worker keys",
            self.name
        );
        let mut call = self.script.prepare_invoke();
        call.key(&sk.workers).key(&sk.worker_expiry);
        call
    }

    /// A call with the batch's keys; the arguments follow.
    pub(crate) fn on_batch(&self, bk: &BatchKeys) -> ScriptInvocation<'_> {
        assert!(
            matches!(self.keys, Keys::Batch),
            "{} takes a queue's keys",
            self.name
        );
        let mut call = self.script.prepare_invoke();
        for key in bk.all() {
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

/// A script header's key declaration.
#[derive(Debug, PartialEq, Eq)]
enum Declared {
    /// `-- KEYS[1] jobs  KEYS[2] ready ...`: the names, in order.
    Queue(Vec<String>),
    /// `-- KEYS[1..8] the batch's keys`.
    Batch,
    /// Neither, or a gap in the numbering.
    Unreadable,
}

/// The keys a script's header declares, from the comment lines before its first line of
/// code: `KEYS[n] name` for each, numbered from 1 without gaps, or `KEYS[1..8]` for the
/// batch's keys.
fn declared_keys(body: &str) -> Declared {
    let mut names = Vec::new();
    for line in body
        .lines()
        .take_while(|l| l.starts_with("--") || l.is_empty())
    {
        let mut rest = line;
        while let Some(at) = rest.find("KEYS[") {
            rest = &rest[at + 5..];
            let Some((index, after)) = rest.split_once(']') else {
                return Declared::Unreadable;
            };
            if index == format!("1..{}", BatchKeys::COUNT) {
                return Declared::Batch;
            }
            if index.parse::<usize>().ok() != Some(names.len() + 1) {
                return Declared::Unreadable;
            }
            let name = after.split_whitespace().next().unwrap_or("");
            names.push(name.to_owned());
            rest = after;
        }
    }
    if names.is_empty() {
        Declared::Unreadable
    } else {
        Declared::Queue(names)
    }
}

/// The static of a script module: `script!("name", Flags, Libs)` loads `lua/name.lua`.
macro_rules! script {
    ($name:literal, $flags:ident, $libs:ident) => {
        pub(crate) static SCRIPT: std::sync::LazyLock<$crate::scripts::Lua> =
            std::sync::LazyLock::new(|| {
                $crate::scripts::Lua::new(
                    $name,
                    $crate::scripts::Flags::$flags,
                    $crate::scripts::Libs::$libs,
                    include_str!(concat!("../../lua/", $name, ".lua")),
                )
            });
    };
}
pub(crate) use script;

/// Every script, for loading them all at once.
pub(crate) fn all() -> [&'static Lua; 28] {
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
        &set_flow::SCRIPT,
        &reschedule::SCRIPT,
        &enqueue_unique::SCRIPT,
        &batch_pause::SCRIPT,
        &set_batch_pause::SCRIPT,
        &list::SCRIPT,
        &delete::SCRIPT,
        &throughput::SCRIPT,
        &worker_beat::SCRIPT,
        &workers::SCRIPT,
    ]
}

/// What the scripts need to know of the store's settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// What the store keeps.
    pub store: StoreOptions,
    /// See [`crate::RedisBackendBuilder::batch_claim`].
    pub batch_claim: Duration,
}

impl Settings {
    /// The dead-set retention arguments: most kept, max age (ms), trim batch.
    fn dead_args(&self) -> [u64; 3] {
        let r = self.store.retention();
        [r.dead_max, ms(r.dead_max_age), TRIM_BATCH as u64]
    }

    /// The arguments of a script that recovers expired leases, in its ARGV order: max
    /// stalls, then [`Self::dead_args`], then the events' max length.
    fn recovery_args(&self) -> [u64; 5] {
        let [dead_max, dead_age, trim] = self.dead_args();
        let events = self.store.events_max_len() as u64;
        [
            u64::from(self.store.max_stalls()),
            dead_max,
            dead_age,
            trim,
            events,
        ]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_declares_keys_this_crate_knows() {
        // Loading reads and checks the declarations; this loads every script.
        for script in all() {
            match &script.keys {
                Keys::Queue(keys) => assert!(!keys.is_empty(), "{}", script.name),
                Keys::Batch => assert!(script.name.starts_with("batch_"), "{}", script.name),
                Keys::Workers => assert!(script.name.starts_with("worker"), "{}", script.name),
            }
        }
    }

    #[test]
    fn the_reasons_are_plain_lua_strings() {
        // Rust's quoting is Lua's only for printable ASCII without escapes beyond \" and \\.
        let prelude = reasons();
        assert!(
            prelude
                .bytes()
                .all(|b| b == b'\n' || (b' '..=b'~').contains(&b))
        );
        assert!(!prelude.contains("\\"), "{prelude}");
        assert!(prelude.contains(&format!("{:?}", jobs_core::reason::STALLED_TEMPLATE)));
    }

    #[test]
    fn key_declarations_are_read_from_the_header_only() {
        let names = |v: &[&str]| Declared::Queue(v.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            declared_keys("-- KEYS[1] a  KEYS[2] b (x)\n-- KEYS[3] c\nlocal x = KEYS[9]"),
            names(&["a", "b", "c"])
        );
        assert_eq!(
            declared_keys("-- KEYS[1..8] the batch's keys\n"),
            Declared::Batch
        );
        assert_eq!(
            declared_keys("-- KEYS[1] a KEYS[3] c\n"),
            Declared::Unreadable
        );
        assert_eq!(declared_keys("local x = 1"), Declared::Unreadable);
    }
}
