//! The JSON API and the guard, through `tower::ServiceExt::oneshot` on the in-memory
//! store: counts, paging, job details, retry and delete, batches, read-only mode, the
//! token, and mounting under a path.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jobs_core::{Client, JobError, JobId, MemoryBackend, job};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Pings a host.
#[job(queue = "net")]
async fn ping(host: String) -> Result<(), JobError> {
    let _ = host;
    Ok(())
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get(router: &Router, uri: &str) -> Answer {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(router: &Router, uri: &str, body: Value) -> Answer {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(router, request).await
}

async fn client_with_pings(n: usize) -> (Client<MemoryBackend>, Vec<JobId>) {
    let client = Client::new(MemoryBackend::new());
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            client
                .enqueue(Ping {
                    host: format!("node-{i}"),
                })
                .await
                .unwrap(),
        );
    }
    (client, ids)
}

/// Cancels the jobs: cancelled jobs are kept, listed and retried with the dead ones.
async fn kill(client: &Client<MemoryBackend>, ids: &[JobId]) {
    for id in ids {
        client.cancel("net", *id).await.unwrap();
    }
}

#[tokio::test]
async fn queues_show_their_counts_and_pause() {
    let (client, _) = client_with_pings(3).await;
    let router = jobs_web::router(client);
    let queues = get(&router, "/api/queues").await;
    assert_eq!(queues.status, StatusCode::OK);
    let queues = queues.json();
    assert_eq!(queues[0]["name"], "net");
    assert_eq!(queues[0]["ready"], 3);
    assert_eq!(queues[0]["paused"], false);

    let paused = post(&router, "/api/queues/net/pause", json!({})).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert_eq!(get(&router, "/api/queues/net").await.json()["paused"], true);
    post(&router, "/api/queues/net/resume", json!({})).await;
    assert_eq!(
        get(&router, "/api/queues/net").await.json()["paused"],
        false
    );

    let throughput = get(&router, "/api/throughput?minutes=5").await.json();
    assert_eq!(throughput.as_array().unwrap().len(), 5);
    let page = get(&router, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(r#"src="assets/app.js""#),
        "{}",
        page.body
    );
    let config = get(&router, "/api/config").await.json();
    assert_eq!(config, json!({ "read_only": false }));
    assert_eq!(get(&router, "/api/workers").await.json(), json!([]));
}

#[tokio::test]
async fn jobs_page_by_cursor() {
    let (client, ids) = client_with_pings(5).await;
    let router = jobs_web::router(client);
    let mut seen = Vec::new();
    let mut uri = "/api/queues/net/jobs?state=ready&limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = get(&router, &uri).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let page = page.json();
        pages += 1;
        for job in page["jobs"].as_array().unwrap() {
            assert_eq!(job["state"], "ready");
            assert_eq!(job["name"], "ping");
            assert!(job["args"]["host"].as_str().unwrap().starts_with("node-"));
            seen.push(job["id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => uri = format!("/api/queues/net/jobs?state=ready&limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected);

    let bad = get(&router, "/api/queues/net/jobs?state=sleeping").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad = get(&router, "/api/queues/net/jobs?state=ready&after=nonsense").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad = get(&router, "/api/queues/no%20spaces/jobs").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_job_shows_its_arguments_and_events() {
    let (client, ids) = client_with_pings(1).await;
    kill(&client, &ids).await;
    let router = jobs_web::router(client);
    let job = get(&router, &format!("/api/queues/net/jobs/{}", ids[0])).await;
    assert_eq!(job.status, StatusCode::OK, "{}", job.body);
    let job = job.json();
    assert_eq!(job["id"], ids[0].to_string());
    assert_eq!(job["state"], "cancelled");
    assert_eq!(job["args"], json!({ "host": "node-0" }));
    let kinds: Vec<&str> = job["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["enqueued", "cancelled"]);
    assert_eq!(job["events_complete"], true);
    assert_eq!(job["batch"], Value::Null);

    let missing = get(&router, &format!("/api/queues/net/jobs/{}", JobId::new())).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json()["error"].as_str().unwrap().contains("no job"));
    let bad = get(&router, "/api/queues/net/jobs/not-an-id").await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dead_jobs_are_retried_and_deleted_one_selected_or_all() {
    let (client, ids) = client_with_pings(6).await;
    kill(&client, &ids).await;
    let router = jobs_web::router(client.clone());
    let dead = get(&router, "/api/queues/net/jobs?state=dead").await.json();
    assert_eq!(dead["jobs"].as_array().unwrap().len(), 6);

    // One.
    let one = post(
        &router,
        &format!("/api/queues/net/jobs/{}/retry", ids[0]),
        json!({}),
    )
    .await;
    assert_eq!(
        (one.status, one.json()),
        (StatusCode::OK, json!({ "retried": 1 }))
    );
    let again = post(
        &router,
        &format!("/api/queues/net/jobs/{}/retry", ids[0]),
        json!({}),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let gone = post(
        &router,
        &format!("/api/queues/net/jobs/{}/delete", ids[1]),
        json!({}),
    )
    .await;
    assert_eq!(
        (gone.status, gone.json()),
        (StatusCode::OK, json!({ "deleted": 1 }))
    );
    let gone = post(
        &router,
        &format!("/api/queues/net/jobs/{}/delete", ids[1]),
        json!({}),
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // Selected.
    let selected = json!({ "ids": [ids[2].to_string(), ids[3].to_string()] });
    let deleted = post(&router, "/api/queues/net/delete", selected).await;
    assert_eq!(
        deleted.json(),
        json!({ "deleted": 2, "running": 0, "not_found": 0 })
    );
    let selected = json!({ "ids": [ids[4].to_string()] });
    let retried = post(&router, "/api/queues/net/retry", selected).await;
    assert_eq!(retried.json(), json!({ "retried": 1 }));

    // All: one dead job is left (ids[5]).
    let all = post(&router, "/api/queues/net/retry", json!({ "all": true })).await;
    assert_eq!(all.json(), json!({ "retried": 1 }));
    let stats = client.stats("net").await.unwrap();
    assert_eq!((stats.ready, stats.dead), (3, 0));

    // Purge: every ready job.
    let purged = post(
        &router,
        "/api/queues/net/purge",
        json!({ "state": "ready" }),
    )
    .await;
    assert_eq!(purged.json(), json!({ "deleted": 3, "state": "ready" }));
    let refused = post(
        &router,
        "/api/queues/net/purge",
        json!({ "state": "active" }),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    // Cancel one that waits.
    let id = client.enqueue(Ping { host: "x".into() }).await.unwrap();
    let cancel = post(
        &router,
        &format!("/api/queues/net/jobs/{id}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(cancel.json(), json!({ "outcome": "cancelled" }));
}

#[tokio::test]
async fn changes_must_be_sent_as_json() {
    let (client, ids) = client_with_pings(1).await;
    kill(&client, &ids).await;
    let router = jobs_web::router(client);
    let form = Request::post(format!("/api/queues/net/jobs/{}/retry", ids[0]))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&router, form).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test]
async fn read_only_refuses_every_change() {
    let (client, ids) = client_with_pings(2).await;
    kill(&client, &ids[..1]).await;
    let router = jobs_web::Dashboard::new(client.clone())
        .read_only(true)
        .router();
    assert_eq!(
        get(&router, "/api/config").await.json(),
        json!({ "read_only": true })
    );
    assert_eq!(get(&router, "/api/queues").await.status, StatusCode::OK);
    let job = format!("/api/queues/net/jobs/{}", ids[0]);
    assert_eq!(get(&router, &job).await.status, StatusCode::OK);
    for (uri, body) in [
        (format!("{job}/retry"), json!({})),
        (format!("{job}/delete"), json!({})),
        (format!("/api/queues/net/jobs/{}/cancel", ids[1]), json!({})),
        ("/api/queues/net/retry".to_owned(), json!({ "all": true })),
        (
            "/api/queues/net/delete".to_owned(),
            json!({ "ids": [ids[0].to_string()] }),
        ),
        (
            "/api/queues/net/purge".to_owned(),
            json!({ "state": "dead" }),
        ),
        ("/api/queues/net/pause".to_owned(), json!({})),
        ("/api/queues/net/resume".to_owned(), json!({})),
        (format!("/api/batches/{}/cancel", JobId::new()), json!({})),
    ] {
        let answer = post(&router, &uri, body).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(answer.json()["error"], "the dashboard is read-only");
    }
    let stats = client.stats("net").await.unwrap();
    assert_eq!((stats.ready, stats.dead, stats.paused), (1, 1, false));
}

#[tokio::test]
async fn the_token_is_required_as_a_bearer_or_a_cookie() {
    let (client, _) = client_with_pings(1).await;
    let router = jobs_web::Dashboard::new(client).token("s3cret t").router();

    let none = get(&router, "/api/queues").await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.json()["error"], "a token is required");
    let wrong = Request::get("/api/queues")
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&router, wrong).await.status, StatusCode::UNAUTHORIZED);
    let right = Request::get("/api/queues")
        .header(header::AUTHORIZATION, "Bearer s3cret t")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&router, right).await.status, StatusCode::OK);
    // Changes too.
    let change = post(&router, "/api/queues/net/pause", json!({})).await;
    assert_eq!(change.status, StatusCode::UNAUTHORIZED);

    // The page without a token: the login form.
    let page = get(&router, "/").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains(r#"name="token""#), "{}", page.body);
    // A wrong token in the address: the form again, no cookie.
    let page = get(&router, "/?token=guess").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.headers.get(header::SET_COOKIE).is_none());
    // The right one: a cookie, and back to the page without the token.
    let signed = get(&router, "/?token=s3cret%20t").await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert_eq!(signed.headers[header::LOCATION], "/");
    let cookie = signed.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = Request::get("/api/queues")
        .header(header::COOKIE, format!("other=1; {pair}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&router, with_cookie).await.status, StatusCode::OK);
    let forged = Request::get("/api/queues")
        .header(header::COOKIE, "jobs_web_token=733363726574")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&router, forged).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn it_mounts_under_a_path_of_the_host_application() {
    let (client, _) = client_with_pings(1).await;
    let app = Router::new()
        .route("/", axum::routing::get(|| async { "host" }))
        .nest(
            "/admin/jobs",
            jobs_web::Dashboard::new(client).token("t").router(),
        );

    let bare = get(&app, "/admin/jobs?token=t").await;
    assert_eq!(bare.status, StatusCode::SEE_OTHER);
    let cookie = bare.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("Path=/admin/jobs;"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = |uri: &str| {
        Request::get(uri)
            .header(header::COOKIE, pair.clone())
            .body(Body::empty())
            .unwrap()
    };
    // Served at the prefix itself, its links name the last segment: relative still.
    let page = send(&app, with_cookie("/admin/jobs")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(r#"src="jobs/assets/app.js""#),
        "{}",
        page.body
    );
    let script = send(&app, with_cookie("/admin/jobs/assets/app.js")).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(
        script.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let queues = send(&app, with_cookie("/admin/jobs/api/queues")).await;
    assert_eq!(queues.json()[0]["name"], "net");
    assert_eq!(get(&app, "/").await.body, "host");
}

#[tokio::test]
async fn a_batch_shows_its_counts_and_members() {
    let client = Client::new(MemoryBackend::new());
    let (batch, jobs) = client
        .batch()
        .jobs(["a", "b", "c"].map(|h| Ping { host: h.into() }))
        .enqueue()
        .await
        .unwrap();
    client.cancel("net", jobs[0]).await.unwrap();
    let router = jobs_web::router(client);
    let page = get(&router, &format!("/api/batches/{batch}?limit=2")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let page = page.json();
    assert_eq!(
        (page["total"].as_u64(), page["dead"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(page["next_offset"], 2);
    let members = page["members"].as_array().unwrap();
    assert_eq!(members[0]["id"], jobs[0].to_string());
    assert_eq!(members[0]["job"]["state"], "cancelled");
    assert_eq!(members[1]["job"]["args"], json!({ "host": "b" }));
    // A member's own page names its batch.
    let member = get(&router, &format!("/api/queues/net/jobs/{}", jobs[1]))
        .await
        .json();
    assert_eq!(member["batch"], batch.to_string());
    let rest = get(&router, &format!("/api/batches/{batch}?offset=2&limit=2"))
        .await
        .json();
    assert_eq!(rest["members"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_offset"], Value::Null);

    let paused = post(&router, &format!("/api/batches/{batch}/pause"), json!({})).await;
    assert_eq!(paused.json(), json!({ "paused": true }));
    assert_eq!(
        get(&router, &format!("/api/batches/{batch}")).await.json()["paused"],
        true
    );
    let cancelled = post(&router, &format!("/api/batches/{batch}/cancel"), json!({})).await;
    assert_eq!(cancelled.json(), json!({ "cancelled": 2, "requested": 0 }));
    let missing = get(&router, &format!("/api/batches/{}", JobId::new())).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
