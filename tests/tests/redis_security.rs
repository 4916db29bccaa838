//! Production Redis security, each against a private `redis-server`: a password, an ACL
//! user restricted to what the framework needs (the README's exact rule), and TLS with a
//! CA the test generates.
//!
//! The servers' `default` user is given a password once they are up, so a connection that
//! lost its credentials on the way (the pool's, the blocking waits', a cluster node's) is
//! refused instead of quietly working as `default`; the server's error counters
//! (`INFO errorstats`) and `ACL LOG` then show that nothing was refused.

use std::time::Duration;

use jobs_core::{BackendError, Client, JobState};
use jobs_redis::{ConnectError, RedisBackend, RedisBackendBuilder};
use jobs_tests::conformance::jobs::{Echo, Q};
use jobs_tests::redis_cluster::RedisCluster;
use jobs_tests::redis_server::{RedisServer, TestCa};
use jobs_tests::{Harness, StoreConfig};

/// The `default` user's password, set on every test server.
const ADMIN_PASSWORD: &str = "admin-Pa55-7f3a";
/// The framework's password (the `default` user's in the password tests, the ACL user's in
/// the ACL tests).
const PASSWORD: &str = "jobs-Pa55-c81e";
/// The README's ACL user.
const USER: &str = "jobs";

/// Connects as the `default` user with `password`, for checks the framework's user may
/// not make.
async fn admin_with(port: u16, password: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://:{password}@127.0.0.1:{port}"))
        .expect("admin URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect as admin")
}

/// Connects as the `default` user with [`ADMIN_PASSWORD`].
async fn admin(port: u16) -> redis::aio::MultiplexedConnection {
    admin_with(port, ADMIN_PASSWORD).await
}

/// Gives the server's `default` user [`ADMIN_PASSWORD`]; after this the server's
/// unauthenticated [`RedisServer::command`] is refused.
fn lock_default_user(server: &RedisServer) {
    let reply = server
        .command(&[
            "ACL",
            "SETUSER",
            "default",
            "resetpass",
            &format!(">{ADMIN_PASSWORD}"),
        ])
        .expect("ACL SETUSER default");
    assert_eq!(reply, "+OK");
}

/// Fails the test if the server has refused a login or a command so far: an error reply
/// `NOAUTH`, `WRONGPASS` or `NOPERM` in `INFO errorstats` (e.g.
/// `errorstat_NOPERM:count=3`).
async fn assert_nothing_refused(mut admin: redis::aio::MultiplexedConnection) {
    let info: String = redis::cmd("INFO")
        .arg("errorstats")
        .query_async(&mut admin)
        .await
        .expect("INFO errorstats");
    let refused: Vec<&str> = info
        .lines()
        .filter(|l| {
            ["NOAUTH", "WRONGPASS", "NOPERM"]
                .iter()
                .any(|e| l.contains(e))
        })
        .collect();
    assert!(refused.is_empty(), "the server refused calls: {refused:?}");
}

/// A harness over one server and one way of connecting to it.
struct Secured {
    server: RedisServer,
    /// Applies the credentials and TLS options to a builder for the test's URL.
    connect: Box<dyn Fn(StoreConfig) -> RedisBackendBuilder + Send + Sync>,
}

impl Harness for Secured {
    type Backend = RedisBackend;

    async fn backend(&self, config: StoreConfig) -> RedisBackend {
        (self.connect)(config)
            .connect()
            .await
            .expect("connect to the test's redis-server")
    }

    fn tick(&self) -> Duration {
        Duration::from_millis(200)
    }

    fn patience(&self) -> Duration {
        Duration::from_secs(30)
    }
}

fn builder(url: &str, config: StoreConfig) -> RedisBackendBuilder {
    RedisBackend::builder(url).store(config)
}

/// Asserts that neither the message nor the `Debug` of `err` shows `secret`.
fn assert_hides(err: &ConnectError, secret: &str) {
    let shown = format!("{err} / {err:?}");
    assert!(!shown.contains(secret), "{shown}");
}

mod password {
    use super::*;

    /// A server whose `default` user needs [`PASSWORD`]: set once it is up, as
    /// `--requirepass` would also refuse the support's unauthenticated readiness `PING`.
    fn server() -> RedisServer {
        let server = RedisServer::start().expect("start redis-server");
        let reply = server
            .command(&["CONFIG", "SET", "requirepass", PASSWORD])
            .expect("CONFIG SET requirepass");
        assert_eq!(reply, "+OK");
        server
    }

    /// Without a password, or with a wrong one, connecting fails with
    /// [`ConnectError::Auth`], and no message shows a password.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn missing_or_wrong_password_is_refused() {
        let server = server();
        let port = server.port();

        let err = RedisBackend::connect(&server.url()).await.unwrap_err();
        assert!(matches!(err, ConnectError::Auth { .. }), "{err:?}");
        assert!(err.to_string().contains("NOAUTH"), "{err}");
        assert_hides(&err, PASSWORD);

        let wrong = "wrong-Pa55-9d0b";
        let url = format!("redis://:{wrong}@127.0.0.1:{port}");
        let err = RedisBackend::connect(&url).await.unwrap_err();
        let ConnectError::Auth { url: shown, .. } = &err else {
            panic!("expected ConnectError::Auth, got {err:?}");
        };
        assert_eq!(shown, &format!("redis://:***@127.0.0.1:{port}"));
        assert_hides(&err, wrong);
        assert_hides(&err, PASSWORD);

        // A wrong user name too.
        let url = format!("redis://nobody:{PASSWORD}@127.0.0.1:{port}");
        let err = RedisBackend::connect(&url).await.unwrap_err();
        assert!(matches!(err, ConnectError::Auth { .. }), "{err:?}");
        assert_hides(&err, PASSWORD);
    }

    /// Neither a URL that does not parse nor the builder's `Debug` shows the password.
    #[test]
    fn password_is_never_printed() {
        let err = RedisBackend::builder(&format!("redis://:{PASSWORD}@127.0.0.1:notaport"))
            .build()
            .unwrap_err();
        assert!(matches!(err, ConnectError::InvalidUrl { .. }), "{err:?}");
        assert_hides(&err, PASSWORD);

        let builder = RedisBackend::builder(&format!("redis://app:{PASSWORD}@127.0.0.1:6379"))
            .tls_client_certificate("CERT", "-----BEGIN PRIVATE KEY-----secret");
        let shown = format!("{builder:?}");
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("redis://app:***@127.0.0.1:6379"), "{shown}");

        let cluster = RedisBackend::cluster_builder([format!("redis://:{PASSWORD}@10.0.0.1:7000")]);
        let shown = format!("{cluster:?}");
        assert!(!shown.contains(PASSWORD), "{shown}");
    }

    /// With `redis://:password@...`, a job runs end to end, and every connection (the
    /// pool's and the blocking waits') logged in.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn job_runs_with_the_password_in_the_url() {
        let server = server();
        let port = server.port();
        let url = format!("redis://:{PASSWORD}@127.0.0.1:{port}");
        let h = Secured {
            server,
            connect: Box::new(move |config| builder(&url, config)),
        };
        jobs_tests::conformance::runs_and_succeeds(&h).await;
        jobs_tests::conformance::scheduled_work_wakes_sleeping_workers_on_time(&h).await;
        assert_nothing_refused(admin_with(port, PASSWORD).await).await;
    }
}

mod acl {
    use super::*;

    /// The README's `ACL SETUSER` line, word by word, with the password filled in.
    pub(super) fn readme_rule() -> Vec<String> {
        let readme = include_str!("../../README.md");
        let line = readme
            .lines()
            .find(|l| l.starts_with("ACL SETUSER jobs "))
            .expect("the README has an `ACL SETUSER jobs ...` line");
        let words: Vec<String> = line
            .split_whitespace()
            .map(|w| {
                if w == ">password" {
                    format!(">{PASSWORD}")
                } else {
                    w.to_owned()
                }
            })
            .collect();
        assert!(
            words.contains(&format!(">{PASSWORD}")),
            "the README's rule sets the password with `>password`: {line}"
        );
        assert!(
            words.contains(&"~jobs:*".to_owned()),
            "the README's rule is for the default prefix `jobs`: {line}"
        );
        words
    }

    /// Creates the README's user, plus `extra` permissions, and locks the `default` user.
    pub(super) fn create_user(server: &RedisServer, extra: &[&str]) {
        let mut rule = readme_rule();
        rule.extend(extra.iter().map(|e| (*e).to_owned()));
        assert_eq!(
            server.command(&rule).expect("ACL SETUSER"),
            "+OK",
            "{rule:?}"
        );
        lock_default_user(server);
    }

    pub(super) fn user_url(port: u16) -> String {
        format!("redis://{USER}:{PASSWORD}@127.0.0.1:{port}")
    }

    /// A server with the README's user, plus `extra` permissions; the suite connects as
    /// that user.
    pub(super) fn harness_with(extra: &[&str]) -> Secured {
        let server = RedisServer::start().expect("start redis-server");
        create_user(&server, extra);
        let url = user_url(server.port());
        Secured {
            server,
            connect: Box::new(move |config| builder(&url, config)),
        }
    }

    /// Fails the test if the server refused the user anything: no `NOPERM` (nor failed
    /// login) reply was sent, and `ACL LOG` is empty. `CLIENT SETINFO`, which redis-rs
    /// sends on each new connection and ignores the answer to, is left out: Redis 7.2+
    /// would log it unless the rule adds `+client|setinfo` (7.0 does not know it).
    pub(super) async fn assert_user_was_refused_nothing(port: u16) {
        assert_nothing_refused(admin(port).await).await;
        let log: Vec<redis::Value> = redis::cmd("ACL")
            .arg("LOG")
            .query_async(&mut admin(port).await)
            .await
            .expect("ACL LOG");
        let refused: Vec<String> = log
            .iter()
            .map(|entry| format!("{entry:?}"))
            .filter(|entry| !entry.contains("client|setinfo"))
            .collect();
        assert!(refused.is_empty(), "ACL LOG: {refused:#?}");
    }

    /// Runs conformance cases, each on a fresh server, as the README's ACL user; between
    /// them they call every script, the blocking wait and the pool's checks. Also makes
    /// `CASES`, for [`every_permission_is_needed`].
    macro_rules! cases_as_acl_user {
        ($($case:ident),* $(,)?) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let h = harness_with(&[]);
                    jobs_tests::conformance::$case(&h).await;
                    assert_user_was_refused_nothing(h.server.port()).await;
                }
            )*

            /// The cases, as functions of a harness.
            const CASES: &[(&str, fn(std::sync::Arc<Secured>) -> CaseFuture)] = &[$(
                (stringify!($case), |h| Box::pin(async move {
                    jobs_tests::conformance::$case(&*h).await
                })),
            )*];
        };
    }

    type CaseFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

    cases_as_acl_user!(
        // flow control first (it uses most commands, so a missing permission shows at
        // once): limit keys' lines (ZPOPMIN, EXISTS), set_flow
        per_key_limit_does_not_block_other_keys,
        // rate windows (ZREMRANGEBYSCORE)
        queue_rate_limit_holds_in_any_window,
        // enqueue, reserve, finish, job, stats; the pool's checks; BLPOP
        runs_and_succeeds,
        // finish (fail, bury)
        retries_with_backoff_then_dead,
        // recover, renew, finish (refused)
        stale_token_rejected_after_redelivery,
        // recover (bury)
        too_many_stalls_is_dead,
        // renew
        renewal_keeps_a_lease,
        // retry_dead
        retry_dead_runs_again,
        // dead_list, trimming the dead set
        dead_set_is_capped,
        // trimming the succeeded set
        retention_trims_succeeded,
        // finish (release)
        graceful_shutdown_releases_unfinished_at_once,
        // enqueue in bulk
        enqueue_many_stores_all,
        // finish (snooze)
        snooze_runs_again_without_using_an_attempt,
        // BLPOP wake-ups
        scheduled_work_wakes_sleeping_workers_on_time,
        // events: XRANGE and XREAD (blocking), XREVRANGE (from now)
        events_resume_after_a_cursor,
        // batches: the outbox, counting, callbacks, status
        batch_callbacks_fire_once_with_a_summary,
        // cancellation of a running job: the cancel set, renew and finish
        cancelled_running_job_is_told_and_ends_cancelled,
        // the orphan sweep (HSCAN)
        orphan_sweep_moves_nothing_on_a_healthy_queue,
        // the rest of flow control: held-back keys, unique claims, rescheduling,
        // deadlines, paused queues and batches
        rate_limited_job_holds_its_key,
        unique_jobs_hold_their_key,
        waiting_jobs_are_rescheduled_by_id,
        a_job_past_its_deadline_expires_instead_of_starting,
        paused_queue_starts_nothing_until_resumed,
        paused_batch_holds_its_waiting_members,
        // operators' calls: pages, delete and purge, the queue list,
        // throughput (HKEYS), worker registrations
        jobs_are_listed_by_state_in_pages,
        jobs_are_deleted_and_states_purged,
        throughput_counts_ended_attempts_per_minute,
        queues_and_live_workers_are_listed,
    );

    /// The experiment behind the README's rule, kept as a test: for each permission in
    /// it, the cases run as a user without that one permission, until the server refuses
    /// the user something (an `ACL LOG` entry; most are missed within the first case).
    /// Fails if some permission was never missed, i.e. the rule is not minimal.
    #[test]
    fn every_permission_is_needed() {
        let permissions: Vec<String> = readme_rule()
            .into_iter()
            .filter_map(|w| w.strip_prefix('+').map(str::to_owned))
            .collect();
        let mut unneeded = Vec::new();
        for permission in &permissions {
            let without = format!("-{permission}");
            let missed = CASES.iter().find_map(|(name, case)| {
                // A runtime per run, so that a case stuck for want of a permission, and
                // its workers, end with it.
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let h = std::sync::Arc::new(harness_with(&[&without]));
                    let port = h.server.port();
                    let run = tokio::spawn(case(h.clone()));
                    let refused = async {
                        loop {
                            let log: Vec<redis::Value> = redis::cmd("ACL")
                                .arg("LOG")
                                .query_async(&mut admin(port).await)
                                .await
                                .expect("ACL LOG");
                            if let Some(entry) = log.first() {
                                return format!("{entry:?}");
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    let missed = tokio::select! {
                        entry = refused => Some(entry),
                        _ = run => None,
                    };
                    // A case that ended (passed or failed) may have been refused at the end.
                    let log: Vec<redis::Value> = redis::cmd("ACL")
                        .arg("LOG")
                        .query_async(&mut admin(port).await)
                        .await
                        .expect("ACL LOG");
                    missed
                        .or_else(|| log.first().map(|entry| format!("{entry:?}")))
                        .map(|entry| format!("{name}: {entry}"))
                })
            });
            match missed {
                Some(how) => eprintln!("{permission} is needed ({how})"),
                None => unneeded.push(permission.clone()),
            }
        }
        assert!(unneeded.is_empty(), "never missed: {unneeded:?}");
    }

    /// The user really is restricted: keys outside the prefix, commands outside the rule
    /// and, through a script of its own, the same, are refused with `NOPERM`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn user_is_restricted() {
        let h = harness_with(&[]);
        let port = h.server.port();
        // The backend itself works as that user.
        let client = Client::new(h.backend(StoreConfig::default()).await);
        let id = client.enqueue(Echo { label: "a".into() }).await.unwrap();

        let mut conn = redis::Client::open(user_url(port))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("log in as the ACL user");
        // A script it loads itself runs under the same rules.
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg("return redis.call('DEL', KEYS[1])")
            .query_async(&mut conn)
            .await
            .expect("SCRIPT LOAD is allowed");
        let mut refused = Vec::new();
        let mut check = async |what: &str, cmd: &mut redis::Cmd, expected: Refusal| {
            let result: redis::RedisResult<redis::Value> = cmd.query_async(&mut conn).await;
            match result {
                Err(e) if expected.matches(&e) => {}
                other => refused.push(format!("{what}: expected {expected:?}, got {other:?}")),
            }
        };
        let queue_key = format!("jobs:{{{Q}}}:jobs");
        check(
            "a key outside the prefix, with an allowed command",
            redis::cmd("HSET").arg("other:key").arg("f").arg("v"),
            Refusal::NoPerm,
        )
        .await;
        check(
            "a blocking wait outside the prefix",
            redis::cmd("BLPOP").arg("other:wake").arg(0.01),
            Refusal::NoPerm,
        )
        .await;
        check("FLUSHALL", &mut redis::cmd("FLUSHALL"), Refusal::NoPerm).await;
        check("FLUSHDB", &mut redis::cmd("FLUSHDB"), Refusal::NoPerm).await;
        check("KEYS", redis::cmd("KEYS").arg("*"), Refusal::NoPerm).await;
        check(
            "CONFIG SET",
            redis::cmd("CONFIG").arg("SET").arg("appendonly").arg("no"),
            Refusal::NoPerm,
        )
        .await;
        check(
            "SET inside the prefix",
            redis::cmd("SET").arg("jobs:x").arg("v"),
            Refusal::NoPerm,
        )
        .await;
        check(
            "DEL of a queue's key",
            redis::cmd("DEL").arg(&queue_key),
            Refusal::NoPerm,
        )
        .await;
        check(
            "EVAL",
            redis::cmd("EVAL").arg("return 1").arg(0),
            Refusal::NoPerm,
        )
        .await;
        check("ACL", redis::cmd("ACL").arg("LIST"), Refusal::NoPerm).await;
        check(
            "a script's forbidden command",
            redis::cmd("EVALSHA").arg(&sha).arg(1).arg(&queue_key),
            Refusal::InScript,
        )
        .await;
        check(
            "a script on a key outside the prefix",
            redis::cmd("EVALSHA").arg(&sha).arg(1).arg("other:key"),
            Refusal::NoPerm,
        )
        .await;
        assert!(refused.is_empty(), "not refused: {refused:#?}");

        // Nothing was changed, and the job is still there.
        let mut admin = admin(port).await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut admin)
            .await
            .unwrap();
        assert!(keys.iter().all(|k| k.starts_with("jobs:")), "{keys:?}");
        assert_eq!(
            client.job(Q, id).await.unwrap().map(|info| info.state),
            Some(JobState::Ready)
        );
        // An unauthenticated connection is refused: the default user is locked.
        let err = RedisBackend::connect(&h.server.url()).await.unwrap_err();
        assert!(matches!(err, ConnectError::Auth { .. }), "{err:?}");
    }

    /// A command the rule leaves out is refused as a typed error, not a hang or panic: here
    /// `INFO`, with which [`connect`](RedisBackendBuilder::connect) still succeeds (the
    /// eviction check is skipped with a warning).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_info_connect_still_works() {
        let server = RedisServer::start().expect("start redis-server");
        create_user(&server, &["-info"]);
        let backend = RedisBackend::connect(&user_url(server.port()))
            .await
            .expect("connect without INFO");
        match backend.eviction_policies().await {
            Err(BackendError::Other(e)) => {
                assert!(e.to_string().contains("no permissions"), "{e}");
            }
            other => panic!("expected NOPERM, got {other:?}"),
        }
    }

    /// With a database number in the URL, the rule needs `+select`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn database_number_needs_select() {
        let server = RedisServer::start().expect("start redis-server");
        create_user(&server, &[]);
        let port = server.port();
        let url = format!("{}/3", user_url(port));
        let err = RedisBackend::connect(&url).await.unwrap_err();
        assert!(err.to_string().contains("select"), "{err}");
        let _: () = redis::cmd("ACL")
            .arg(&["SETUSER", USER, "+select"])
            .query_async(&mut admin(port).await)
            .await
            .unwrap();
        // The refusal above is on record; start the count again.
        let _: () = redis::cmd("ACL")
            .arg(&["LOG", "RESET"])
            .query_async(&mut admin(port).await)
            .await
            .unwrap();
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut admin(port).await)
            .await
            .unwrap();
        let h = Secured {
            server,
            connect: Box::new(move |config| builder(&url, config)),
        };
        jobs_tests::conformance::runs_and_succeeds(&h).await;
        assert_user_was_refused_nothing(port).await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut admin(port).await)
            .await
            .unwrap();
        assert!(
            keys.is_empty(),
            "the jobs went to database 3, not 0: {keys:?}"
        );
    }

    /// On Redis Cluster the same rule, plus `+cluster|slots +asking +ping`, set on every node.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_a_cluster() {
        let cluster = RedisCluster::start(3).expect("start a Redis Cluster");
        for node in cluster.nodes() {
            create_user(node, &["+cluster|slots", "+asking", "+ping"]);
        }
        let h = OnCluster {
            urls: cluster.nodes().iter().map(|n| user_url(n.port())).collect(),
        };
        jobs_tests::conformance::runs_and_succeeds(&h).await;
        jobs_tests::conformance::scheduled_work_wakes_sleeping_workers_on_time(&h).await;
        for node in cluster.nodes() {
            assert_user_was_refused_nothing(node.port()).await;
        }
    }
}

struct OnCluster {
    urls: Vec<String>,
}

impl Harness for OnCluster {
    type Backend = RedisBackend;

    async fn backend(&self, config: StoreConfig) -> RedisBackend {
        RedisBackend::cluster_builder(self.urls.clone())
            .store(config)
            .connect()
            .await
            .expect("connect to the cluster as the ACL user")
    }

    fn tick(&self) -> Duration {
        Duration::from_millis(200)
    }

    fn patience(&self) -> Duration {
        Duration::from_secs(30)
    }
}

/// How the ACL refuses a call.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// A `NOPERM` error reply: a command or key the user may not use.
    NoPerm,
    /// A script's call of a command the user may not run (an error raised in the script).
    InScript,
}

impl Refusal {
    fn matches(self, e: &redis::RedisError) -> bool {
        match self {
            Refusal::NoPerm => e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoPerm),
            Refusal::InScript => e
                .to_string()
                .contains("The user executing the script can't run this command"),
        }
    }
}

mod tls {
    use super::*;

    /// A server that also listens with TLS, its certificate signed by `ca`.
    fn server(ca: &TestCa) -> RedisServer {
        let server = RedisServer::builder()
            .tls(ca.server_files())
            .start()
            .expect("start redis-server with TLS");
        lock_default_user(&server);
        server
    }

    fn tls_url(server: &RedisServer) -> String {
        let url = server.tls_url().expect("a TLS port");
        url.replace("rediss://", &format!("rediss://:{ADMIN_PASSWORD}@"))
    }

    /// Over `rediss://`, trusting the test's CA, jobs run end to end.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_run_over_tls_with_a_private_ca() {
        let ca = TestCa::generate().expect("generate test certificates");
        let server = server(&ca);
        let url = tls_url(&server);
        let ca_pem = ca.ca_pem();
        let h = Secured {
            server,
            connect: Box::new(move |config| {
                builder(&url, config).tls_root_certificate(ca_pem.clone())
            }),
        };
        jobs_tests::conformance::runs_and_succeeds(&h).await;
        jobs_tests::conformance::scheduled_work_wakes_sleeping_workers_on_time(&h).await;
        // The blocking waits' connections too went through TLS: the second case needs
        // a sleeping worker to be woken.
        assert_nothing_refused(admin(h.server.port()).await).await;
    }

    /// A server certificate that does not chain to a trusted CA is refused with
    /// [`ConnectError::Tls`]: with the system's roots, and with another CA.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn untrusted_certificate_is_refused() {
        let ca = TestCa::generate().expect("generate test certificates");
        let server = server(&ca);
        let url = tls_url(&server);

        let err = RedisBackend::builder(&url).connect().await.unwrap_err();
        let ConnectError::Tls { source, .. } = &err else {
            panic!("expected ConnectError::Tls, got {err:?}");
        };
        assert!(source.to_string().contains("certificate"), "{err}");
        assert_hides(&err, ADMIN_PASSWORD);

        let other = TestCa::generate().expect("generate test certificates");
        let err = RedisBackend::builder(&url)
            .tls_root_certificate(other.ca_pem())
            .connect()
            .await
            .unwrap_err();
        let ConnectError::Tls { source, .. } = &err else {
            panic!("expected ConnectError::Tls, got {err:?}");
        };
        assert!(
            source.to_string().contains("invalid peer certificate"),
            "{err}"
        );
    }

    /// A server that requires client certificates (`tls-auth-clients yes`) accepts the
    /// backend with `tls_client_certificate`, and refuses it without.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mutual_tls() {
        let ca = TestCa::generate().expect("generate test certificates");
        let server = RedisServer::builder()
            .tls(ca.server_files())
            .args(["--tls-auth-clients", "yes"])
            .start()
            .expect("start redis-server with TLS");
        lock_default_user(&server);
        let url = tls_url(&server);

        let err = RedisBackend::builder(&url)
            .tls_root_certificate(ca.ca_pem())
            .connect()
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectError::Tls { .. }), "{err:?}");

        let (cert, key, ca_pem) = (ca.client_cert_pem(), ca.client_key_pem(), ca.ca_pem());
        let h = Secured {
            server,
            connect: Box::new(move |config| {
                builder(&url, config)
                    .tls_root_certificate(ca_pem.clone())
                    .tls_client_certificate(cert.clone(), key.clone())
            }),
        };
        jobs_tests::conformance::runs_and_succeeds(&h).await;
    }

    /// A TLS server restarts on the same TLS port, with the same certificates.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tls_server_restarts_on_its_port() {
        let ca = TestCa::generate().expect("generate test certificates");
        let server = RedisServer::builder()
            .tls(ca.server_files())
            .start()
            .expect("start redis-server with TLS");
        let before = server.tls_url().expect("a TLS port");
        assert_ne!(server.tls_port(), Some(server.port()));
        server.stop().unwrap();
        server.restart().unwrap();
        assert_eq!(server.tls_url().as_deref(), Some(before.as_str()));
        RedisBackend::builder(&before)
            .tls_root_certificate(ca.ca_pem())
            .connect()
            .await
            .expect("connect over TLS after the restart");
        assert_eq!(RedisServer::start().unwrap().tls_url(), None);
    }

    /// TLS options are checked when the backend is built: they need a `rediss://` URL and
    /// certificates that parse.
    #[test]
    fn bad_tls_options_are_refused_at_build() {
        let ca = TestCa::generate().expect("generate test certificates");
        let err = RedisBackend::builder("redis://127.0.0.1:6379")
            .tls_root_certificate(ca.ca_pem())
            .build()
            .unwrap_err();
        assert!(matches!(err, ConnectError::Tls { .. }), "{err:?}");
        assert!(err.to_string().contains("rediss://"), "{err}");

        let err = RedisBackend::builder("rediss://127.0.0.1:6379")
            .tls_root_certificate("not a certificate")
            .build()
            .unwrap_err();
        assert!(matches!(err, ConnectError::Tls { .. }), "{err:?}");

        let err = RedisBackend::builder("rediss://127.0.0.1:6379")
            .tls_client_certificate(ca.client_cert_pem(), "not a key")
            .build()
            .unwrap_err();
        assert!(matches!(err, ConnectError::Tls { .. }), "{err:?}");

        let err =
            RedisBackend::cluster_builder(["rediss://127.0.0.1:7000", "redis://127.0.0.1:7001"])
                .tls_root_certificate(ca.ca_pem())
                .build()
                .unwrap_err();
        assert!(matches!(err, ConnectError::Tls { .. }), "{err:?}");

        RedisBackend::cluster_builder(["rediss://127.0.0.1:7000", "rediss://127.0.0.1:7001"])
            .tls_root_certificate(ca.ca_pem())
            .tls_client_certificate(ca.client_cert_pem(), ca.client_key_pem())
            .build()
            .expect("a TLS cluster backend builds without I/O");
    }
}
