//! A private `redis-server` for tests, examples and benchmarks.
//!
//! [`RedisServer`] starts the real binary on a free loopback port in its own temp dir,
//! with persistence off unless asked for, and kills it when dropped. If the thread is
//! panicking at that moment (a failing test), the tail of the server's log goes to stderr
//! first, so the test output shows what the server said.
//!
//! The binary is `$REDIS_SERVER` if set, else `redis-server` on `PATH`; a missing binary is
//! an error that says how to install it, never a silently skipped test.
//!
//! ```no_run
//! use jobs_tests::redis_server::RedisServer;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = RedisServer::start()?;
//! assert_eq!(server.command(&["SET", "greeting", "hello"])?, "+OK");
//! assert_eq!(server.command(&["GET", "greeting"])?, "hello");
//! println!("connect to {}", server.url());
//! # Ok(())
//! # }
//! ```
//!
//! Everything here is synchronous (it is used from `Drop`), and all methods take `&self`,
//! so one server can be shared through an `Arc` with a task that kills or pauses it.
//!
//! A server can also listen with TLS, on a second port, with certificates from a throwaway
//! CA ([`TestCa`]); see [`RedisServerBuilder::tls`].

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

/// The server's own log, written with `--logfile`.
const LOG_FILE: &str = "redis.log";
/// The process's stdout and stderr: empty unless the server fails before its log is open
/// (a bad argument, for instance).
const OUTPUT_FILE: &str = "redis.out";
/// How often the readiness and shutdown loops look again.
const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// Fresh ports tried by [`RedisServerBuilder::start`] before giving up.
const PORT_ATTEMPTS: usize = 5;
/// Lines of log quoted in errors and printed when a test panics.
const LOG_TAIL_LINES: usize = 100;
/// Default for [`RedisServerBuilder::timeout`].
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Socket timeout of [`RedisServer::command`].
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Socket timeout of one readiness probe; a live server answers in microseconds.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a [`RedisServer`] could not be started or controlled.
///
/// `Debug` prints the same text as `Display`, so that `start().unwrap()` in a test shows
/// the install hint and a readable log tail rather than an escaped one-line struct.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `redis-server` binary does not exist.
    #[error(
        "redis-server binary `{}` not found ({source}); install it with \
         `apt-get install redis-server`, or set $REDIS_SERVER to its path",
        binary.display()
    )]
    BinaryNotFound {
        /// The binary that was tried.
        binary: PathBuf,
        /// The error from spawning it.
        source: io::Error,
    },
    /// The binary exists but could not be run.
    #[error("could not run redis-server binary `{}`: {source}", binary.display())]
    Spawn {
        /// The binary that was tried.
        binary: PathBuf,
        /// The error from spawning it.
        source: io::Error,
    },
    /// The server exited before it answered `PING`.
    #[error(
        "`{}` exited ({status}) before answering PING on 127.0.0.1:{port}; log tail:\n{log}",
        binary.display()
    )]
    Exited {
        /// The binary that was run.
        binary: PathBuf,
        /// The port it was given.
        port: u16,
        /// How it exited.
        status: ExitStatus,
        /// The end of its output and log.
        log: String,
    },
    /// Another process holds the port (after the retries, or on [`RedisServer::restart`],
    /// which must keep its port).
    #[error(
        "`{}` could not listen on 127.0.0.1:{port}: another process holds the port; log tail:\n{log}",
        binary.display()
    )]
    PortTaken {
        /// The binary that was run.
        binary: PathBuf,
        /// The port it was given.
        port: u16,
        /// The end of its output and log.
        log: String,
    },
    /// The server did not answer `PING` in time.
    #[error(
        "`{}` did not answer PING on 127.0.0.1:{port} within {timeout:?}; log tail:\n{log}",
        binary.display()
    )]
    NotReady {
        /// The binary that was run.
        binary: PathBuf,
        /// The port it was given.
        port: u16,
        /// How long it was given.
        timeout: Duration,
        /// The end of its output and log.
        log: String,
    },
    /// The server did not exit within the timeout after `SIGTERM`; it was killed instead.
    #[error(
        "redis-server (pid {pid}, port {port}) did not exit within {timeout:?} of SIGTERM \
         and was killed; log tail:\n{log}"
    )]
    StopTimeout {
        /// The server's process id.
        pid: u32,
        /// The server's port.
        port: u16,
        /// How long it was given.
        timeout: Duration,
        /// The end of its output and log.
        log: String,
    },
    /// [`RedisServer::restart`] was called while the server still runs.
    #[error(
        "redis-server (pid {pid}, port {port}) is still running; stop() or kill() it before restart()"
    )]
    StillRunning {
        /// The server's process id.
        pid: u32,
        /// The server's port.
        port: u16,
    },
    /// The operation needs a running server, and this one has exited.
    #[error("redis-server on port {port} is not running")]
    NotRunning {
        /// The server's port.
        port: u16,
    },
    /// Signalling or waiting for the process failed.
    #[error("could not {action} redis-server (pid {pid}, port {port}): {source}")]
    Process {
        /// What was being done, e.g. `send SIGSTOP to`.
        action: String,
        /// The server's process id.
        pid: u32,
        /// The server's port.
        port: u16,
        /// The underlying error.
        source: io::Error,
    },
    /// Preparing the start failed (temp dir, output file, free port).
    #[error("could not {action}: {source}")]
    Setup {
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        source: io::Error,
    },
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Options for a [`RedisServer`]; made by [`RedisServer::builder`].
///
/// ```no_run
/// use jobs_tests::redis_server::RedisServer;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = RedisServer::builder()
///     .appendonly(true)
///     .arg("--maxmemory")
///     .arg("2mb")
///     .start()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisServerBuilder {
    binary: Option<PathBuf>,
    appendonly: bool,
    args: Vec<OsString>,
    timeout: Duration,
    tls: Option<TlsFiles>,
}

impl Default for RedisServerBuilder {
    fn default() -> Self {
        Self {
            binary: None,
            appendonly: false,
            args: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            tls: None,
        }
    }
}

impl RedisServerBuilder {
    /// Runs this binary instead of `$REDIS_SERVER` or `redis-server` on `PATH`.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// let server = RedisServer::builder().binary("/opt/redis/bin/redis-server").start();
    /// ```
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Turns the append-only file on (`--appendonly yes`), so data survives
    /// [`RedisServer::stop`] and [`RedisServer::restart`]. Off by default.
    ///
    /// With the default `appendfsync everysec`, a [`RedisServer::kill`] may lose the
    /// last second of writes; add `.arg("--appendfsync").arg("always")` to lose none.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// let server = RedisServer::builder().appendonly(true).start();
    /// ```
    pub fn appendonly(mut self, on: bool) -> Self {
        self.appendonly = on;
        self
    }

    /// Appends one command-line argument, after the defaults (so it can override them).
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// let server = RedisServer::builder().arg("--maxmemory").arg("2mb").start();
    /// ```
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends several command-line arguments.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// let server = RedisServer::builder().args(["--maxmemory-policy", "noeviction"]).start();
    /// ```
    pub fn args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// How long to wait for the server to answer `PING` after a start or restart, and to
    /// exit after [`RedisServer::stop`]. Ten seconds by default.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use jobs_tests::redis_server::RedisServer;
    /// let server = RedisServer::builder().timeout(Duration::from_secs(30)).start();
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Also listens with TLS, on a second free port ([`RedisServer::tls_url`]), with these
    /// certificate files: `--tls-port`, `--tls-cert-file`, `--tls-key-file`,
    /// `--tls-ca-cert-file` and `--tls-auth-clients optional` (a client certificate is
    /// checked against the CA if one is presented, and not required; add
    /// `.args(["--tls-auth-clients", "yes"])` to require one). The plain port stays open,
    /// for the readiness check and [`RedisServer::command`].
    ///
    /// The `redis-server` binary must be built with TLS (Debian's is).
    ///
    /// ```no_run
    /// use jobs_tests::redis_server::{RedisServer, TestCa};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ca = TestCa::generate()?;
    /// let server = RedisServer::builder().tls(ca.server_files()).start()?;
    /// let url = server.tls_url().expect("TLS was asked for"); // rediss://127.0.0.1:PORT
    /// let ca_pem = ca.ca_pem(); // for the client to trust
    /// # Ok(())
    /// # }
    /// ```
    pub fn tls(mut self, files: TlsFiles) -> Self {
        self.tls = Some(files);
        self
    }

    /// Starts the server on a free port and waits until it answers `PING`.
    ///
    /// If the port is taken between choosing it and the server binding it, a few fresh
    /// ports are tried.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = RedisServer::builder().start()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn start(self) -> Result<RedisServer, Error> {
        let binary = self
            .binary
            .or_else(|| {
                std::env::var_os("REDIS_SERVER")
                    .filter(|path| !path.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from("redis-server"));
        let dir = tempfile::Builder::new()
            .prefix("jobs-redis-")
            .tempdir()
            .map_err(|source| Error::Setup {
                action: "create a temp dir for redis-server",
                source,
            })?;
        let config = Config {
            binary,
            appendonly: self.appendonly,
            args: self.args,
            timeout: self.timeout,
            tls: self.tls,
        };

        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let no_port = |source| Error::Setup {
                action: "find a free port on 127.0.0.1",
                source,
            };
            let port = free_port().map_err(no_port)?;
            let tls_port = match config.tls {
                None => None,
                Some(_) => Some(loop {
                    let tls_port = free_port().map_err(no_port)?;
                    if tls_port != port {
                        break tls_port;
                    }
                }),
            };
            let ports = Ports { port, tls_port };
            // Each attempt starts with fresh files, so the log (and the port check on it)
            // is about this attempt only.
            for file in [LOG_FILE, OUTPUT_FILE] {
                match fs::remove_file(dir.path().join(file)) {
                    Err(error) if error.kind() != io::ErrorKind::NotFound => {
                        return Err(Error::Setup {
                            action: "remove the files of a failed attempt",
                            source: error,
                        });
                    }
                    _ => {}
                }
            }
            match launch(&config, dir.path(), ports) {
                Ok(child) => {
                    return Ok(RedisServer {
                        config,
                        port,
                        tls_port,
                        state: Mutex::new(State {
                            child: Some(child),
                            paused: false,
                        }),
                        dir,
                    });
                }
                Err(error @ Error::PortTaken { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("PORT_ATTEMPTS is not zero"))
    }
}

/// A `redis-server` process of our own, on `127.0.0.1` and a free port, in a temp dir.
///
/// It runs with `--save ""` and, unless [`RedisServerBuilder::appendonly`] says otherwise,
/// `--appendonly no`. Dropping it kills the process (`SIGKILL`), reaps it and removes the
/// dir; when the thread is panicking, the log tail is printed to stderr first.
///
/// ```no_run
/// use jobs_tests::redis_server::RedisServer;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = RedisServer::builder().appendonly(true).start()?;
/// server.command(&["SET", "k", "v"])?;
/// server.stop()?; // SIGTERM: the append-only file is flushed
/// server.restart()?; // same port, same dir, same arguments
/// assert_eq!(server.command(&["GET", "k"])?, "v");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RedisServer {
    config: Config,
    port: u16,
    tls_port: Option<u16>,
    state: Mutex<State>,
    // Removed when the fields drop, after `Drop::drop` has killed and reaped the process.
    dir: TempDir,
}

#[derive(Debug)]
struct Config {
    binary: PathBuf,
    appendonly: bool,
    args: Vec<OsString>,
    timeout: Duration,
    tls: Option<TlsFiles>,
}

/// The ports of one server: plain, and TLS if asked for.
#[derive(Debug, Clone, Copy)]
struct Ports {
    port: u16,
    tls_port: Option<u16>,
}

/// Invariant: `child` is `Some` only while the process has not been reaped, so its pid
/// cannot have been reused and signalling it reaches our server and nothing else.
#[derive(Debug)]
struct State {
    child: Option<Child>,
    paused: bool,
}

impl State {
    /// The child, if it is still running; reaps it (and forgets it) if it has exited.
    fn running(&mut self) -> Option<&mut Child> {
        let exited = match self.child.as_mut()?.try_wait() {
            Ok(status) => status.is_some(),
            // We cannot tell; keep it, and let the next signal or wait report the error.
            Err(_) => false,
        };
        if exited {
            self.child = None;
            self.paused = false;
        }
        self.child.as_mut()
    }
}

impl RedisServer {
    /// Starts a server with the defaults; see [`RedisServerBuilder::start`].
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = RedisServer::start()?;
    /// assert_eq!(server.command(&["PING"])?, "+PONG");
    /// # Ok(())
    /// # }
    /// ```
    pub fn start() -> Result<Self, Error> {
        Self::builder().start()
    }

    /// Options for a server: binary, append-only file, extra arguments.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// let server = RedisServer::builder().appendonly(true).start();
    /// ```
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// The URL to connect to, `redis://127.0.0.1:PORT`.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// assert_eq!(server.url(), format!("redis://127.0.0.1:{}", server.port()));
    /// ```
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The URL to connect to with TLS, `rediss://127.0.0.1:TLS_PORT`, if the server was
    /// started with [`RedisServerBuilder::tls`].
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::{RedisServer, TestCa};
    /// # let ca = TestCa::generate().unwrap();
    /// let server = RedisServer::builder().tls(ca.server_files()).start().unwrap();
    /// let port = server.tls_port().unwrap();
    /// assert_eq!(server.tls_url(), Some(format!("rediss://127.0.0.1:{port}")));
    /// assert_eq!(RedisServer::start().unwrap().tls_url(), None);
    /// ```
    pub fn tls_url(&self) -> Option<String> {
        self.tls_port
            .map(|port| format!("rediss://127.0.0.1:{port}"))
    }

    /// The TLS port, if the server was started with [`RedisServerBuilder::tls`]; it stays
    /// the same across [`RedisServer::restart`].
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::{RedisServer, TestCa};
    /// # let ca = TestCa::generate().unwrap();
    /// let server = RedisServer::builder().tls(ca.server_files()).start().unwrap();
    /// assert_ne!(server.tls_port(), Some(server.port()));
    /// ```
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// The port the server listens on; it stays the same across [`RedisServer::restart`].
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// let addr = ("127.0.0.1", server.port());
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's working dir (data, append-only file, log); removed on drop.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// assert!(server.dir().join("redis.log").exists());
    /// ```
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log so far, including the runs before each restart.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// assert!(server.log().contains("Ready to accept connections"));
    /// ```
    pub fn log(&self) -> String {
        read_lossy(&self.dir.path().join(LOG_FILE))
    }

    /// The process id, while the server runs.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// println!("redis-server is pid {:?}", server.pid());
    /// ```
    pub fn pid(&self) -> Option<u32> {
        self.state().running().map(|child| child.id())
    }

    /// Whether the process is alive (a paused server counts as running).
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// server.kill().unwrap();
    /// assert!(!server.is_running());
    /// ```
    pub fn is_running(&self) -> bool {
        self.state().running().is_some()
    }

    /// Shuts the server down gracefully (`SIGTERM`; the append-only file is flushed) and
    /// waits for it to exit. Does nothing if it is not running.
    ///
    /// If it has not exited within the [timeout](RedisServerBuilder::timeout), it is
    /// killed and [`Error::StopTimeout`] is returned.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// server.stop()?;
    /// # Ok::<(), jobs_tests::redis_server::Error>(())
    /// ```
    pub fn stop(&self) -> Result<(), Error> {
        let mut state = self.state();
        let paused = state.paused;
        let Some(child) = state.running() else {
            return Ok(());
        };
        let pid = child.id();
        self.signal(child, Signal::SIGTERM)?;
        if paused {
            // A stopped process acts on the SIGTERM only once it is continued.
            self.signal(child, Signal::SIGCONT)?;
        }
        let deadline = Instant::now() + self.config.timeout;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    state.child = None;
                    state.paused = false;
                    return Err(Error::StopTimeout {
                        pid,
                        port: self.port,
                        timeout: self.config.timeout,
                        log: log_tail(self.dir.path()),
                    });
                }
                Err(source) => return Err(self.process_error("wait for", pid, source)),
            }
        }
        state.child = None;
        state.paused = false;
        Ok(())
    }

    /// Kills the server (`SIGKILL`, as in a crash or power loss) and waits for it to exit.
    /// Does nothing if it is not running.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// server.kill()?;
    /// server.restart()?;
    /// # Ok::<(), jobs_tests::redis_server::Error>(())
    /// ```
    pub fn kill(&self) -> Result<(), Error> {
        let mut state = self.state();
        let Some(child) = state.running() else {
            return Ok(());
        };
        let pid = child.id();
        child
            .kill()
            .map_err(|source| self.process_error("kill", pid, source))?;
        child
            .wait()
            .map_err(|source| self.process_error("wait for", pid, source))?;
        state.child = None;
        state.paused = false;
        Ok(())
    }

    /// Starts the server again after [`stop`](Self::stop), [`kill`](Self::kill) or a
    /// crash: same port, same dir, same arguments, so with the append-only file on the
    /// data is still there. Waits until it answers `PING` (it answers `-LOADING` while it
    /// replays the file).
    ///
    /// Fails with [`Error::StillRunning`] if it runs, and with [`Error::PortTaken`] if
    /// another process took the port meanwhile.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// server.stop()?;
    /// server.restart()?;
    /// assert!(server.is_running());
    /// # Ok::<(), jobs_tests::redis_server::Error>(())
    /// ```
    pub fn restart(&self) -> Result<(), Error> {
        let mut state = self.state();
        if let Some(child) = state.running() {
            return Err(Error::StillRunning {
                pid: child.id(),
                port: self.port,
            });
        }
        let ports = Ports {
            port: self.port,
            tls_port: self.tls_port,
        };
        state.child = Some(launch(&self.config, self.dir.path(), ports)?);
        Ok(())
    }

    /// Freezes the server (`SIGSTOP`), as a stalled or partitioned server would look:
    /// connections are accepted by the kernel, but nothing answers.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// server.pause()?;
    /// // ... clients time out ...
    /// server.resume()?;
    /// # Ok::<(), jobs_tests::redis_server::Error>(())
    /// ```
    pub fn pause(&self) -> Result<(), Error> {
        self.send(Signal::SIGSTOP)?;
        self.state().paused = true;
        Ok(())
    }

    /// Unfreezes a server frozen by [`pause`](Self::pause) (`SIGCONT`).
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// server.pause()?;
    /// server.resume()?;
    /// # Ok::<(), jobs_tests::redis_server::Error>(())
    /// ```
    pub fn resume(&self) -> Result<(), Error> {
        self.send(Signal::SIGCONT)?;
        self.state().paused = false;
        Ok(())
    }

    /// Sends one command on a new connection and returns the reply as text, for tests
    /// that want raw access without a Redis client. Times out after ten seconds.
    ///
    /// Simple strings, errors and integers come back as their wire line, so they can be
    /// told apart (`+OK`, `-ERR unknown command ...`, `:1`); bulk strings as their
    /// content (`v`; the nil reply as `$-1`); arrays as their elements, one per line.
    /// An error reply is an `Ok` value: it is what the server said.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// assert_eq!(server.command(&["SET", "k", "v"])?, "+OK");
    /// assert_eq!(server.command(&["GET", "k"])?, "v");
    /// assert_eq!(server.command(&["GET", "missing"])?, "$-1");
    /// assert_eq!(server.command(&["INCR", "n"])?, ":1");
    /// assert_eq!(server.command(&["CONFIG", "GET", "appendonly"])?, "appendonly\nno");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn command(&self, args: &[impl AsRef<[u8]>]) -> io::Result<String> {
        self.command_with_timeout(args, COMMAND_TIMEOUT)
    }

    /// [`command`](Self::command) with the given connect, write and read timeout. A read
    /// that times out fails with [`io::ErrorKind::WouldBlock`] or
    /// [`io::ErrorKind::TimedOut`], depending on the platform.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use jobs_tests::redis_server::RedisServer;
    /// # let server = RedisServer::start().unwrap();
    /// server.pause().unwrap();
    /// assert!(server.command_with_timeout(&["PING"], Duration::from_millis(100)).is_err());
    /// ```
    pub fn command_with_timeout(
        &self,
        args: &[impl AsRef<[u8]>],
        timeout: Duration,
    ) -> io::Result<String> {
        let mut connection = connect(self.port, timeout)?;
        connection.get_mut().write_all(&encode(args))?;
        read_reply(&mut connection)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one
        // assignment.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send(&self, signal: Signal) -> Result<(), Error> {
        let mut state = self.state();
        let child = state
            .running()
            .ok_or(Error::NotRunning { port: self.port })?;
        self.signal(child, signal)
    }

    /// Signals our own child only; see the invariant on [`State`].
    fn signal(&self, child: &Child, signal: Signal) -> Result<(), Error> {
        let pid = child.id();
        let raw = i32::try_from(pid).expect("process ids fit in pid_t");
        signal::kill(Pid::from_raw(raw), signal)
            .map_err(|errno| self.process_error(&format!("send {signal} to"), pid, errno.into()))
    }

    fn process_error(&self, action: &str, pid: u32, source: io::Error) -> Error {
        Error::Process {
            action: action.to_owned(),
            pid,
            port: self.port,
            source,
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "---- redis-server on 127.0.0.1:{} (dir {}), last {LOG_TAIL_LINES} log lines ----\n{}\n---- end of redis-server log ----",
                self.port,
                self.dir.path().display(),
                log_tail(self.dir.path()),
            );
        }
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut child) = state.child.take() {
            // SIGKILL also ends a paused server; `kill` does not signal a reaped child.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Certificate files for a server that also listens with TLS; see
/// [`RedisServerBuilder::tls`]. All PEM.
///
/// ```no_run
/// use jobs_tests::redis_server::{RedisServer, TlsFiles};
///
/// let files = TlsFiles {
///     cert: "/etc/redis/tls/redis.crt".into(),
///     key: "/etc/redis/tls/redis.key".into(),
///     ca: "/etc/redis/tls/ca.crt".into(),
/// };
/// let server = RedisServer::builder().tls(files).start();
/// ```
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server's certificate (`--tls-cert-file`).
    pub cert: PathBuf,
    /// The server's private key (`--tls-key-file`).
    pub key: PathBuf,
    /// The CA that client certificates must be signed by (`--tls-ca-cert-file`).
    pub ca: PathBuf,
}

/// A throwaway certificate authority for TLS tests, made fresh by [`TestCa::generate`]: the
/// CA itself, a server certificate for `127.0.0.1`, `::1` and `localhost`, and a client
/// certificate, both signed by the CA. ECDSA P-256 keys; the files are PEM, in a temp dir
/// removed on drop (keep the `TestCa` as long as a server may restart with them).
///
/// ```no_run
/// use jobs_tests::redis_server::{RedisServer, TestCa};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ca = TestCa::generate()?;
/// let server = RedisServer::builder().tls(ca.server_files()).start()?;
/// // A client trusts `ca.ca_pem()`; for mutual TLS it presents
/// // `ca.client_cert_pem()` and `ca.client_key_pem()`.
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TestCa {
    dir: TempDir,
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
}

const CA_FILE: &str = "ca.crt";
const SERVER_CERT_FILE: &str = "server.crt";
const SERVER_KEY_FILE: &str = "server.key";

impl TestCa {
    /// Generates a new CA and its two certificates, and writes them to a temp dir.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::TestCa;
    /// let ca = TestCa::generate()?;
    /// assert!(ca.ca_pem().starts_with(b"-----BEGIN CERTIFICATE-----"));
    /// # Ok::<(), jobs_tests::redis_server::Error>(())
    /// ```
    pub fn generate() -> Result<Self, Error> {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };

        let failed = |action: &'static str| {
            move |e: rcgen::Error| Error::Setup {
                action,
                source: io::Error::other(e),
            }
        };
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(failed("make the test CA"))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "jobs test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().map_err(failed("make the test CA's key"))?;
        let ca =
            CertifiedIssuer::self_signed(ca_params, ca_key).map_err(failed("sign the test CA"))?;

        let leaf = |names: Vec<String>, purpose: ExtendedKeyUsagePurpose, cn: &str| {
            let mut params =
                CertificateParams::new(names).map_err(failed("make a test certificate"))?;
            params.distinguished_name.push(DnType::CommonName, cn);
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            params.extended_key_usages = vec![purpose];
            let key = KeyPair::generate().map_err(failed("make a test certificate's key"))?;
            let cert = params
                .signed_by(&key, &ca)
                .map_err(failed("sign a test certificate"))?;
            Ok::<_, Error>((cert.pem(), key.serialize_pem()))
        };
        let server_names = ["127.0.0.1", "::1", "localhost"].map(String::from).to_vec();
        let (server_cert, server_key) = leaf(
            server_names,
            ExtendedKeyUsagePurpose::ServerAuth,
            "redis-server",
        )?;
        let (client_cert_pem, client_key_pem) = leaf(
            vec!["jobs-client".to_owned()],
            ExtendedKeyUsagePurpose::ClientAuth,
            "jobs-client",
        )?;

        let dir = tempfile::Builder::new()
            .prefix("jobs-tls-")
            .tempdir()
            .map_err(|source| Error::Setup {
                action: "create a temp dir for test certificates",
                source,
            })?;
        let ca_pem = ca.pem();
        for (file, pem) in [
            (CA_FILE, &ca_pem),
            (SERVER_CERT_FILE, &server_cert),
            (SERVER_KEY_FILE, &server_key),
        ] {
            fs::write(dir.path().join(file), pem).map_err(|source| Error::Setup {
                action: "write a test certificate",
                source,
            })?;
        }
        Ok(TestCa {
            dir,
            ca_pem,
            client_cert_pem,
            client_key_pem,
        })
    }

    /// The server's certificate and key and the CA, as files for
    /// [`RedisServerBuilder::tls`].
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::{RedisServer, TestCa};
    /// # let ca = TestCa::generate().unwrap();
    /// let server = RedisServer::builder().tls(ca.server_files()).start();
    /// ```
    pub fn server_files(&self) -> TlsFiles {
        TlsFiles {
            cert: self.dir.path().join(SERVER_CERT_FILE),
            key: self.dir.path().join(SERVER_KEY_FILE),
            ca: self.dir.path().join(CA_FILE),
        }
    }

    /// The CA certificate (PEM), for a client to trust.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::TestCa;
    /// # let ca = TestCa::generate().unwrap();
    /// let trusted: Vec<u8> = ca.ca_pem();
    /// ```
    pub fn ca_pem(&self) -> Vec<u8> {
        self.ca_pem.clone().into_bytes()
    }

    /// A client certificate (PEM) signed by the CA, for mutual TLS.
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::TestCa;
    /// # let ca = TestCa::generate().unwrap();
    /// let (cert, key) = (ca.client_cert_pem(), ca.client_key_pem());
    /// ```
    pub fn client_cert_pem(&self) -> Vec<u8> {
        self.client_cert_pem.clone().into_bytes()
    }

    /// The client certificate's private key (PEM, PKCS#8).
    ///
    /// ```no_run
    /// # use jobs_tests::redis_server::TestCa;
    /// # let ca = TestCa::generate().unwrap();
    /// let key = ca.client_key_pem();
    /// ```
    pub fn client_key_pem(&self) -> Vec<u8> {
        self.client_key_pem.clone().into_bytes()
    }
}

/// Spawns the server on `ports` and waits until it answers `PING`; kills it on failure.
fn launch(config: &Config, dir: &Path, ports: Ports) -> Result<Child, Error> {
    let port = ports.port;
    let output = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(OUTPUT_FILE))
        .map_err(|source| Error::Setup {
            action: "open the output file of redis-server",
            source,
        })?;
    let stderr = output.try_clone().map_err(|source| Error::Setup {
        action: "open the output file of redis-server",
        source,
    })?;
    let mut command = Command::new(&config.binary);
    command
        .args(["--bind", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join(LOG_FILE))
        .args(["--daemonize", "no", "--save", "", "--appendonly"])
        .arg(if config.appendonly { "yes" } else { "no" });
    if let (Some(files), Some(tls_port)) = (&config.tls, ports.tls_port) {
        command
            .arg("--tls-port")
            .arg(tls_port.to_string())
            .arg("--tls-cert-file")
            .arg(&files.cert)
            .arg("--tls-key-file")
            .arg(&files.key)
            .arg("--tls-ca-cert-file")
            .arg(&files.ca)
            .args(["--tls-auth-clients", "optional"]);
    }
    command
        .args(&config.args)
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(stderr);
    let mut child = command.spawn().map_err(|source| {
        let binary = config.binary.clone();
        if source.kind() == io::ErrorKind::NotFound {
            Error::BinaryNotFound { binary, source }
        } else {
            Error::Spawn { binary, source }
        }
    })?;
    match wait_ready(config, dir, port, &mut child) {
        Ok(()) => Ok(child),
        Err(error) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(error)
        }
    }
}

/// Polls until our child answers `PING` on `port`, it exits, or the timeout passes.
fn wait_ready(config: &Config, dir: &Path, port: u16, child: &mut Child) -> Result<(), Error> {
    let deadline = Instant::now() + config.timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let log = log_tail(dir);
                let binary = config.binary.clone();
                return Err(if log.contains("Address already in use") {
                    Error::PortTaken { binary, port, log }
                } else {
                    Error::Exited {
                        binary,
                        port,
                        status,
                        log,
                    }
                });
            }
            Ok(None) => {}
            Err(source) => {
                return Err(Error::Process {
                    action: "wait for".to_owned(),
                    pid: child.id(),
                    port,
                    source,
                });
            }
        }
        // Refused (not listening yet) and `-LOADING` (replaying the append-only file)
        // both mean: look again.
        if let Ok(Some(pid)) = probe(port) {
            if pid == child.id() {
                return Ok(());
            }
            // Someone else's server got the port between our choosing and binding it.
            return Err(Error::PortTaken {
                binary: config.binary.clone(),
                port,
                log: log_tail(dir),
            });
        }
        if Instant::now() >= deadline {
            return Err(Error::NotReady {
                binary: config.binary.clone(),
                port,
                timeout: config.timeout,
                log: log_tail(dir),
            });
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// `PING`s the port; on `+PONG`, returns the answering server's pid (from `INFO server`).
fn probe(port: u16) -> io::Result<Option<u32>> {
    let mut connection = connect(port, PROBE_TIMEOUT)?;
    connection.get_mut().write_all(b"PING\r\n")?;
    if read_reply(&mut connection)? != "+PONG" {
        return Ok(None);
    }
    connection
        .get_mut()
        .write_all(&encode(&["INFO", "server"]))?;
    let info = read_reply(&mut connection)?;
    Ok(info
        .lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok()))
}

/// A port that was free a moment ago: the kernel picks it for a listener we then close.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn connect(port: u16, timeout: Duration) -> io::Result<BufReader<TcpStream>> {
    let stream =
        TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(BufReader::new(stream))
}

/// A command as a RESP array of bulk strings.
fn encode(args: &[impl AsRef<[u8]>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one RESP2 reply, rendered as documented on [`RedisServer::command`].
fn read_reply(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let line = String::from_utf8_lossy(line.strip_suffix(b"\r\n").unwrap_or(&line)).into_owned();
    let length = || {
        line[1..].parse::<i64>().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad length in {line:?}"),
            )
        })
    };
    match line.as_bytes().first() {
        Some(b'+' | b'-' | b':') => Ok(line),
        Some(b'$') => {
            let Ok(len) = usize::try_from(length()?) else {
                return Ok(line);
            };
            let mut data = vec![0; len + 2];
            reader.read_exact(&mut data)?;
            data.truncate(len);
            Ok(String::from_utf8_lossy(&data).into_owned())
        }
        Some(b'*') => {
            let Ok(len) = usize::try_from(length()?) else {
                return Ok(line);
            };
            let items = (0..len)
                .map(|_| read_reply(reader))
                .collect::<io::Result<Vec<_>>>()?;
            Ok(items.join("\n"))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a RESP2 reply: {line:?}"),
        )),
    }
}

/// The process's own output, if any, then the last lines of its log.
fn log_tail(dir: &Path) -> String {
    let output = read_lossy(&dir.join(OUTPUT_FILE));
    let log = read_lossy(&dir.join(LOG_FILE));
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
    match (output.trim(), tail.is_empty()) {
        ("", true) => "(empty)".to_owned(),
        ("", false) => tail,
        (output, true) => output.to_owned(),
        (output, false) => format!("[stdout/stderr]\n{output}\n[{LOG_FILE}]\n{tail}"),
    }
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}
