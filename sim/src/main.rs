//! `genesys-sim` — run a local Genesys Cloud org.

use std::net::SocketAddr;
use std::time::Duration;

use genesys_sim::{Config, Org};

const USAGE: &str = "genesys-sim: a local Genesys Cloud org for tests and demos

USAGE: genesys-sim [OPTIONS]

  --listen ADDR          address to serve on (default 127.0.0.1:8089)
  --time-scale F         multiply every call-scenario duration by F (default 1; tests use 0.05)
  --token-ttl SECONDS    lifetime of issued access tokens (default 86399)
  --rate-limit N         API requests per token per window (default 300)
  --rate-window SECONDS  the rate-limit window (default 60, as Genesys)
  --heartbeat-secs S     Notifications WebSocket heartbeat period (default 30 × the time scale)
  --org FILE             replace the seed org with a JSON file of the same shape (sim/src/seed-org.json)
  --estimated-wait S     every queue's estimated wait time in seconds (default 90), or `none` when
                         Genesys cannot estimate; POST /__sim/queues/{id} changes one queue
  --quiet                no per-request log lines
  -h, --help             this text";

fn parse(args: &[String]) -> Result<Config, String> {
    let mut cfg = Config::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--listen" => {
                cfg.listen = value(a)?
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("--listen: {e}"))?
            }
            "--time-scale" => {
                cfg.time_scale = value(a)?
                    .parse()
                    .map_err(|e| format!("--time-scale: {e}"))?;
                if !(cfg.time_scale > 0.0 && cfg.time_scale.is_finite()) {
                    return Err("--time-scale must be a positive number".into());
                }
            }
            "--token-ttl" => {
                cfg.token_ttl =
                    Duration::from_secs(value(a)?.parse().map_err(|e| format!("--token-ttl: {e}"))?)
            }
            "--rate-limit" => {
                cfg.rate_limit = value(a)?
                    .parse()
                    .map_err(|e| format!("--rate-limit: {e}"))?
            }
            "--rate-window" => {
                let secs: f64 = value(a)?
                    .parse()
                    .map_err(|e| format!("--rate-window: {e}"))?;
                if !(secs > 0.0 && secs.is_finite()) {
                    return Err("--rate-window must be a positive number of seconds".into());
                }
                cfg.rate_window = Duration::from_secs_f64(secs);
            }
            "--heartbeat-secs" => {
                let secs: f64 = value(a)?
                    .parse()
                    .map_err(|e| format!("--heartbeat-secs: {e}"))?;
                if !(secs > 0.0 && secs.is_finite() && secs <= 86_400.0) {
                    return Err(
                        "--heartbeat-secs must be a positive number of seconds (at most 86400)"
                            .into(),
                    );
                }
                cfg.heartbeat = Some(Duration::from_secs_f64(secs));
            }
            "--org" => cfg.org = Org::from_file(&value(a)?)?,
            "--estimated-wait" => {
                let v = value(a)?;
                cfg.estimated_wait = if v == "none" {
                    None
                } else {
                    Some(v.parse().map_err(|e| {
                        format!("--estimated-wait: {e} (give whole seconds or none)")
                    })?)
                };
            }
            "--quiet" => cfg.quiet = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(cfg)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match parse(&args) {
        Ok(c) => c,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("genesys-sim: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        eprintln!("genesys-sim listening on http://{addr} (time scale {}, token ttl {} s, {} requests per {} s per token)", cfg.time_scale, cfg.token_ttl.as_secs(), cfg.rate_limit, cfg.rate_window.as_secs_f64());
        genesys_sim::serve(listener, cfg, shutdown_signal()).await.map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        eprintln!("genesys-sim: {e}");
        std::process::exit(1);
    }
    eprintln!("genesys-sim stopped");
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
