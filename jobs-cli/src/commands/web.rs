//! `jobs web`: the dashboard (`jobs-web`) on its own, with Prometheus metrics.

use std::time::Duration;

use axum::routing::get;
use metrics_exporter_prometheus::PrometheusBuilder;

use crate::cli::WebArgs;
use crate::connect::JobsClient;
use crate::exit::Exit;

/// How often the queue-depth gauges are read from the store.
const DEPTHS_EVERY: Duration = Duration::from_secs(15);

/// Serves until Ctrl-C.
pub async fn run(client: JobsClient, args: WebArgs) -> anyhow::Result<Exit> {
    let mut dashboard = jobs_web::Dashboard::new(client.clone()).read_only(args.read_only);
    if let Some(token) = args.token {
        dashboard = dashboard.token(token);
    }
    let mut app = dashboard.router();
    if !args.no_metrics {
        let handle = PrometheusBuilder::new().install_recorder()?;
        // This process is the one that refreshes the queue-depth gauges (not every worker).
        jobs_core::metrics::spawn_queue_depths(client, None, DEPTHS_EVERY);
        let upkeep = handle.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                upkeep.run_upkeep();
            }
        });
        let render = get(move || std::future::ready(handle.render()));
        app = app.route("/metrics", render);
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    // On stdout: a script (or a test) that asked for port 0 reads where it went.
    println!("dashboard on http://{addr}/ (metrics at /metrics); Ctrl-C to stop");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(Exit::Ok)
}
