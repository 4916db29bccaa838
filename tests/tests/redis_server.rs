//! The `RedisServer` test support itself, against the real `redis-server` binary.
//!
//! Run with: cargo test -p jobs-tests --test redis_server

use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use jobs_tests::redis_server::{Error, RedisServer};
use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

type Result = anyhow::Result<()>;

fn pid_exists(pid: u32) -> bool {
    // Signal 0 checks that the process exists without touching it.
    kill(Pid::from_raw(i32::try_from(pid).unwrap()), None) != Err(Errno::ESRCH)
}

#[test]
fn starts_answers_and_drop_removes_process_and_dir() -> Result {
    let server = RedisServer::start()?;
    assert_eq!(server.command(&["PING"])?, "+PONG");
    assert_eq!(server.url(), format!("redis://127.0.0.1:{}", server.port()));
    assert_ne!(
        server.port(),
        6379,
        "must not reuse the shared server's port"
    );
    assert!(server.is_running());
    let info = server.command(&["INFO", "server"])?;
    assert!(
        info.contains(&format!("tcp_port:{}", server.port())),
        "{info}"
    );
    assert!(server.log().contains("Ready to accept connections"));

    let pid = server.pid().expect("a started server has a pid");
    let dir = server.dir().to_owned();
    assert!(pid_exists(pid));
    assert!(dir.is_dir());

    drop(server);
    assert!(!pid_exists(pid), "pid {pid} still exists after drop");
    assert!(!dir.exists(), "{} still exists after drop", dir.display());
    Ok(())
}

#[test]
fn defaults_turn_persistence_off_and_bind_loopback() -> Result {
    let server = RedisServer::start()?;
    assert_eq!(server.command(&["CONFIG", "GET", "save"])?, "save\n");
    assert_eq!(
        server.command(&["CONFIG", "GET", "appendonly"])?,
        "appendonly\nno"
    );
    assert_eq!(
        server.command(&["CONFIG", "GET", "bind"])?,
        "bind\n127.0.0.1"
    );
    assert_eq!(
        server.command(&["CONFIG", "GET", "dir"])?,
        format!("dir\n{}", server.dir().canonicalize()?.display())
    );
    Ok(())
}

#[test]
fn command_renders_each_reply_type() -> Result {
    let server = RedisServer::start()?;
    assert_eq!(server.command(&["SET", "k", "v"])?, "+OK");
    assert_eq!(server.command(&["GET", "k"])?, "v");
    assert_eq!(server.command(&["GET", "missing"])?, "$-1");
    assert_eq!(server.command(&["INCR", "n"])?, ":1");
    assert_eq!(server.command(&["SET", "empty", ""])?, "+OK");
    assert_eq!(server.command(&["GET", "empty"])?, "");
    assert_eq!(server.command(&["SET", "lines", "a\r\nb"])?, "+OK");
    assert_eq!(server.command(&["GET", "lines"])?, "a\r\nb");
    assert_eq!(server.command(&["RPUSH", "l", "x", "y"])?, ":2");
    assert_eq!(server.command(&["LRANGE", "l", "0", "-1"])?, "x\ny");
    let error = server.command(&["NO-SUCH-COMMAND"])?;
    assert!(error.starts_with("-ERR unknown command"), "{error}");
    Ok(())
}

#[test]
fn extra_args_reach_the_server() -> Result {
    let server = RedisServer::builder()
        .arg("--maxmemory")
        .arg("2mb")
        .args(["--maxmemory-policy", "noeviction"])
        .start()?;
    assert_eq!(
        server.command(&["CONFIG", "GET", "maxmemory"])?,
        "maxmemory\n2097152"
    );
    assert_eq!(
        server.command(&["CONFIG", "GET", "maxmemory-policy"])?,
        "maxmemory-policy\nnoeviction"
    );
    Ok(())
}

#[test]
fn two_servers_get_different_ports_and_data() -> Result {
    let first = RedisServer::start()?;
    let second = RedisServer::start()?;
    assert_ne!(first.port(), second.port());
    assert_ne!(first.dir(), second.dir());
    assert_eq!(first.command(&["SET", "k", "first"])?, "+OK");
    assert_eq!(second.command(&["GET", "k"])?, "$-1");
    Ok(())
}

#[test]
fn aof_keeps_data_across_kill_and_restart() -> Result {
    // `always` fsyncs before replying, so the SIGKILL cannot lose the write.
    let server = RedisServer::builder()
        .appendonly(true)
        .arg("--appendfsync")
        .arg("always")
        .start()?;
    let port = server.port();
    assert_eq!(server.command(&["SET", "k", "v"])?, "+OK");

    server.kill()?;
    assert!(!server.is_running());
    assert!(
        server.command(&["PING"]).is_err(),
        "a killed server answered"
    );

    server.restart()?;
    assert!(server.is_running());
    assert_eq!(server.port(), port);
    assert_eq!(server.command(&["GET", "k"])?, "v");
    Ok(())
}

#[test]
fn without_aof_kill_and_restart_loses_data() -> Result {
    let server = RedisServer::start()?;
    assert_eq!(server.command(&["SET", "k", "v"])?, "+OK");
    server.kill()?;
    server.restart()?;
    assert_eq!(server.command(&["GET", "k"])?, "$-1");
    Ok(())
}

#[test]
fn stop_is_graceful_and_flushes_the_aof() -> Result {
    // Default `appendfsync everysec`: only the graceful shutdown makes the write durable.
    let server = RedisServer::builder().appendonly(true).start()?;
    assert_eq!(server.command(&["SET", "k", "v"])?, "+OK");
    let pid = server.pid().unwrap();

    server.stop()?;
    assert!(!server.is_running());
    assert!(!pid_exists(pid));
    assert!(
        server.log().contains("ready to exit, bye bye"),
        "{}",
        server.log()
    );

    server.restart()?;
    assert_eq!(server.command(&["GET", "k"])?, "v");
    // One log across both runs.
    assert_eq!(
        server.log().matches("Ready to accept connections").count(),
        2
    );
    Ok(())
}

#[test]
fn stop_and_kill_do_nothing_when_not_running() -> Result {
    let server = RedisServer::start()?;
    server.stop()?;
    server.stop()?;
    server.kill()?;
    assert_eq!(server.pid(), None);
    Ok(())
}

#[test]
fn pause_stalls_and_resume_answers_again() -> Result {
    let server = RedisServer::start()?;
    server.pause()?;
    assert!(server.is_running(), "a paused server is still running");
    let error = server
        .command_with_timeout(&["PING"], Duration::from_millis(200))
        .expect_err("a paused server answered");
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{error:?}"
    );

    server.resume()?;
    assert_eq!(server.command(&["PING"])?, "+PONG");
    Ok(())
}

#[test]
fn stop_ends_a_paused_server() -> Result {
    let server = RedisServer::start()?;
    server.pause()?;
    server.stop()?;
    assert!(!server.is_running());
    assert!(server.log().contains("ready to exit, bye bye"));
    Ok(())
}

#[test]
fn missing_binary_says_how_to_install_it() {
    let error = RedisServer::builder()
        .binary("/nonexistent/redis-server")
        .start()
        .expect_err("a bogus binary started");
    assert!(matches!(error, Error::BinaryNotFound { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("/nonexistent/redis-server"), "{message}");
    assert!(
        message.contains("apt-get install redis-server"),
        "{message}"
    );
    assert!(message.contains("$REDIS_SERVER"), "{message}");
}

#[test]
fn a_server_that_exits_at_once_reports_its_output() {
    let error = RedisServer::builder()
        .arg("--no-such-directive")
        .arg("1")
        .start()
        .expect_err("a bad directive was accepted");
    assert!(matches!(error, Error::Exited { .. }), "{error}");
    assert!(error.to_string().contains("no-such-directive"), "{error}");
}

#[test]
fn restart_refuses_a_running_server_and_pause_a_stopped_one() -> Result {
    let server = RedisServer::start()?;
    let error = server.restart().expect_err("restarted a running server");
    assert!(matches!(error, Error::StillRunning { .. }), "{error}");

    server.kill()?;
    let error = server.pause().expect_err("paused a stopped server");
    assert!(matches!(error, Error::NotRunning { .. }), "{error}");
    let error = server.resume().expect_err("resumed a stopped server");
    assert!(matches!(error, Error::NotRunning { .. }), "{error}");
    Ok(())
}

#[test]
fn restart_keeps_its_port_even_when_taken() -> Result {
    let server = RedisServer::start()?;
    server.stop()?;
    let squatter = TcpListener::bind((Ipv4Addr::LOCALHOST, server.port()))?;

    let error = server.restart().expect_err("restarted on a taken port");
    assert!(matches!(error, Error::PortTaken { .. }), "{error}");
    assert!(!server.is_running());

    drop(squatter);
    server.restart()?;
    assert_eq!(server.command(&["PING"])?, "+PONG");
    Ok(())
}

#[tokio::test]
async fn usable_from_async_code() -> Result {
    let server = tokio::task::spawn_blocking(RedisServer::start).await??;
    assert_eq!(server.command(&["PING"])?, "+PONG");
    Ok(())
}
