//! A small W3C WebDriver client for the browser tests: starts Debian's `chromedriver` on a
//! free loopback port, opens one headless Chromium session, and speaks the protocol's
//! JSON over plain HTTP (no TLS: it is all on 127.0.0.1). The driver process is killed
//! when [`Browser`] is dropped, whatever the test's outcome.
//!
//! A missing `chromium` or `chromedriver` fails the test with the install hint: CI
//! installs them (`.ci/run`), and a skipped browser test would hide a broken dashboard.

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::time::Instant;

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long the driver may take to start, and the browser to open.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often [`Browser::wait_for`] looks again.
const POLL: Duration = Duration::from_millis(50);

type Error = Box<dyn std::error::Error + Send + Sync>;

/// `$name` if set, else `default`; it must exist.
fn binary(variable: &str, default: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} not found: the browser test needs it. Install it with \
         `apt-get install -y chromium chromium-driver` (or set ${variable} to its path); \
         package `{package}`",
        path.display()
    );
    path
}

/// One headless Chromium session, driven through its own chromedriver process.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: Client<HttpConnector, Full<Bytes>>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and opens a headless Chromium window of `width`×`height`.
    pub async fn start(width: u32, height: u32) -> Result<Browser, Error> {
        let chromium = binary("CHROMIUM", "/usr/bin/chromium", "chromium");
        let chromedriver = binary("CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver");
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            // Its own process group, so that drop takes the browser down with it.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chromedriver.display()))?;
        let profile = tempfile::tempdir()?;
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            http: Client::builder(TokioExecutor::new()).build_http(),
            _profile: profile,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match browser.call("GET", "/status", None).await {
                Ok(status) if status["ready"] == true => break,
                _ if Instant::now() > deadline => {
                    return Err("chromedriver did not become ready".into());
                }
                _ => tokio::time::sleep(POLL).await,
            }
        }
        let args = json!([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ]);
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": path_text(&chromium), "args": args },
        }}});
        let session = browser.call("POST", "/session", Some(capabilities)).await?;
        browser.session = session["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {session}"))?
            .to_owned();
        Ok(browser)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Error> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))?;
        let response = self.http.request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let answer: Value = serde_json::from_slice(&bytes)?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status}: {}", answer["value"]).into());
        }
        Ok(answer["value"].clone())
    }

    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Error> {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) -> Result<(), Error> {
        self.command("POST", "/url", Some(json!({ "url": url })))
            .await
            .map(drop)
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn eval(&self, script: &str, args: Value) -> Result<Value, Error> {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// The elements matching a CSS selector, as WebDriver element ids.
    pub async fn find_all(&self, css: &str) -> Result<Vec<String>, Error> {
        let found = self
            .command(
                "POST",
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
            .collect())
    }

    /// Clicks an element, as a user would (the driver scrolls it into view first).
    pub async fn click(&self, element: &str) -> Result<(), Error> {
        self.command(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await
        .map(drop)
    }

    /// An element's visible text.
    pub async fn text(&self, element: &str) -> Result<String, Error> {
        let text = self
            .command("GET", &format!("/element/{element}/text"), None)
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// Waits until `look` finds something, looking again every few ms until `timeout`:
    /// the page updates on its own (answers arrive, views refresh), so a test waits for
    /// what it expects to see rather than for a fixed time.
    pub async fn wait_for<T, F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        mut look: F,
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, Error>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = look().await? {
                return Ok(found);
            }
            if Instant::now() > deadline {
                let page = self
                    .eval("return document.body.innerText", json!([]))
                    .await?;
                return Err(format!(
                    "timed out waiting for {what}; the page shows:\n{}",
                    page.as_str().unwrap_or_default()
                )
                .into());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The element matching `css`, once there is one.
    pub async fn wait_for_element(&self, css: &str, timeout: Duration) -> Result<String, Error> {
        self.wait_for(css, timeout, || async {
            Ok(self.find_all(css).await?.into_iter().next())
        })
        .await
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Result<Vec<u8>, Error> {
        let data = self.command("GET", "/screenshot", None).await?;
        let text = data.as_str().ok_or("no screenshot data")?;
        Ok(base64::engine::general_purpose::STANDARD.decode(text)?)
    }

    /// Closes the browser (the driver goes with `drop`).
    pub async fn close(mut self) -> Result<(), Error> {
        let session = std::mem::take(&mut self.session);
        self.call("DELETE", &format!("/session/{session}"), None)
            .await
            .map(drop)
    }
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver's process group: the driver, and the browser it started.
        let group = nix::unistd::Pid::from_raw(self.driver.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
