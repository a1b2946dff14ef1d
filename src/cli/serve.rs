//! `tem serve`: the web service.

use std::process::ExitCode;

use secrecy::ExposeSecret;

use crate::config::Config;
use crate::web::{self};

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

pub fn run(config: &Config, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let ctx = open_waiting(config)?;
    let mut admin_token = config
        .admin_token
        .as_ref()
        .map(|t| t.expose_secret().to_string());
    if args.demo {
        match crate::service::demo::load_and_issue(&ctx, true)? {
            Some(start) => {
                super::registry::print_demo_key(&start, config);
                let r = &start.report;
                eprintln!(
                    "demo: loaded {} producers, {} products, {} batches; issued {} stamps",
                    r.producers, r.products, r.batches, start.issued
                );
            }
            None => eprintln!("demo: the database already has data; nothing loaded"),
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
        crate::service::keys::reconcile(&config.keys, ctx.store())?;
    }
    let settings = web::Settings::from_config(config, admin_token);
    let app = web::Application::build(settings, ctx)?;
    let addr = app.address();
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
    actix_web::rt::System::new().block_on(app.run_until_stopped())?;
    Ok(ExitCode::SUCCESS)
}

/// Opens the database. A PostgreSQL server that cannot be reached yet (a
/// node started before it, or during an outage) is waited for, with a log
/// line at each try, 1 s apart at first and at most 30 s: under systemd or
/// a container the node comes up by itself once the database does. Any
/// other failure (a wrong password, a SQLite file that cannot be opened)
/// ends the command at once.
fn open_waiting(config: &Config) -> anyhow::Result<crate::service::Context> {
    let mut wait = std::time::Duration::from_secs(1);
    loop {
        match super::context(config) {
            Err(e)
                if matches!(config.db, crate::config::Database::Postgres(_))
                    && e.downcast_ref::<crate::service::ServiceError>()
                        .is_some_and(|e| e.is_unavailable()) =>
            {
                tracing::warn!(
                    retry_in_s = wait.as_secs(),
                    "the database cannot be reached yet ({e:#}); trying again"
                );
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
            other => return other,
        }
    }
}
