//! `tem serve`: the web service.

use std::net::TcpListener;
use std::process::ExitCode;

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::web::{self, AppState};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8080. Default 127.0.0.1:8080.
    #[arg(long, env = "TEM_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// On an empty database, load the demo data, generate a key, issue a few
    /// stamps, and print where to look.
    #[arg(long)]
    pub demo: bool,
}

/// Signs the audit log's tree head every `every` while entries were added,
/// with the active key, so entries are covered by a signature within that
/// time; a missing key is logged and tried again next time.
fn spawn_head_signer(
    store: std::sync::Arc<dyn crate::store::Store>,
    keys: std::path::PathBuf,
    every: std::time::Duration,
) {
    let sign = move || -> Result<Option<u64>, crate::service::ServiceError> {
        let signed = store
            .audit_heads()?
            .iter()
            .map(|h| h.size)
            .max()
            .unwrap_or(0);
        if store.audit_entries(signed + 1, 1)?.is_empty() {
            return Ok(None);
        }
        let signer = crate::codes::KeyRing::open(&keys)?.signer()?;
        Ok(Some(
            crate::service::audit::sign_head(&*store, &signer)?.size,
        ))
    };
    let spawned = std::thread::Builder::new()
        .name("tem-audit-heads".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                match sign() {
                    Ok(Some(size)) => tracing::info!(size, "audit tree head signed"),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot sign the audit tree head"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the audit head signer");
    }
}

pub fn run(config: &Config, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config)?;
    let mut admin_token = config
        .admin_token
        .as_ref()
        .map(|t| t.expose_secret().to_string());
    if args.demo {
        if store.producers()?.is_empty() {
            let (report, issued) = super::registry::load_demo(config, &*store)?;
            eprintln!(
                "demo: loaded {} producers, {} products, {} batches; issued {issued} stamps",
                report.producers, report.products, report.batches
            );
        } else {
            eprintln!("demo: the database already has data; nothing loaded");
        }
        if admin_token.is_none() {
            // A demo needs a token to try the API; it lives only in this process.
            let token = web::random_token();
            eprintln!(
                "demo: admin token for this run (set TEM_ADMIN_TOKEN to choose your own): {token}"
            );
            admin_token = Some(token);
        }
    }
    if config.keys.is_dir() {
        // A key change interrupted by a crash is finished before serving.
        crate::service::keys::reconcile(&config.keys, &*store)?;
    }
    let listener = TcpListener::bind(&config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let mut state = AppState::with_scan_settings(
        store,
        config.keys.clone(),
        config.base_url.clone(),
        admin_token.as_deref(),
        &config.scan,
    )?;
    state.printers = config.printers.clone();
    state.proxies = config.proxies.clone();
    spawn_head_signer(
        state.store.clone(),
        config.keys.clone(),
        config.audit_head_every,
    );
    eprintln!("tem is listening on http://{addr}");
    eprintln!("  dashboard:     http://{addr}/app  (sign in with a token)");
    eprintln!("  health:        http://{addr}/healthz");
    eprintln!("  public keys:   http://{addr}/.well-known/tem-keys.json");
    eprintln!("  API document:  http://{addr}/api/openapi.json");
    eprintln!(
        "  batches (API): curl -H 'Authorization: Bearer <token>' http://{addr}/api/v1/batches"
    );
    if args.demo {
        eprintln!(
            "  verify a demo stamp offline: tem export --batch 1 --count 1 --csv - ; tem verify <url>"
        );
    }
    actix_web::rt::System::new().block_on(async move {
        let server = web::run(listener, state, config.workers)?;
        server.await
    })?;
    Ok(ExitCode::SUCCESS)
}
