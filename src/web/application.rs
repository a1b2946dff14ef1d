//! Starting the HTTP service, the one way `tem serve` and the tests both do
//! it: bind the listener, build the state (which starts the scan pipeline),
//! start the background jobs, and serve. (`tem serve` first finishes a key
//! change a crash interrupted, `service::keys::reconcile`: a repair of the
//! key directory, which the tests' directories never need.)

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::Server;

use super::AppState;
use crate::config::{Config, ScanSettings};
use crate::domain::network::TrustedProxies;
use crate::render::pdf::Calibration;
use crate::service::{Context, ServiceError};

/// What the service needs besides its context (store, keys, base URL): the
/// parts of the configuration the server reads.
#[derive(Debug, Clone)]
pub struct Settings {
    /// host:port; port 0 picks a free one (`Application::port` says which).
    pub listen: String,
    /// The configured (or demo) admin token; none: only stored tokens.
    pub admin_token: Option<String>,
    /// The scan page's rules and limits.
    pub scan: ScanSettings,
    /// Printer profiles (`[printers.NAME]` in tem.toml).
    pub printers: BTreeMap<String, Calibration>,
    /// Whose X-Forwarded-For and X-Forwarded-Proto to believe.
    pub proxies: TrustedProxies,
    /// HTTP worker threads; none: one per core.
    pub workers: Option<usize>,
    /// How often the audit log's tree head is signed when it grew; none:
    /// never (tests that count audit entries).
    pub audit_head_every: Option<Duration>,
    /// Whether `/epcis/events` answers anyone (the public subset).
    pub epcis_public: bool,
}

impl Settings {
    /// The settings `tem serve` runs with.
    pub fn from_config(config: &Config, admin_token: Option<String>) -> Settings {
        Settings {
            listen: config.listen.clone(),
            admin_token,
            scan: config.scan,
            printers: config.printers.clone(),
            proxies: config.proxies.clone(),
            workers: config.workers,
            audit_head_every: Some(config.audit_head_every),
            epcis_public: config.epcis_public,
        }
    }
}

/// Why the service did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address cannot be listened on.
    #[error("cannot listen on {listen}: {source}")]
    Listen {
        /// The address (host:port).
        listen: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Building the service failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Reading the listener's address failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The running service: its address, and the server to wait on.
pub struct Application {
    address: SocketAddr,
    server: Server,
}

impl Application {
    /// Builds everything and starts listening. Call it outside any async
    /// runtime (building reads the store, whose PostgreSQL client blocks),
    /// then await `run_until_stopped` in the actix system that serves.
    pub fn build(settings: Settings, ctx: Context) -> Result<Application, StartError> {
        let listener =
            TcpListener::bind(&settings.listen).map_err(|source| StartError::Listen {
                listen: settings.listen.clone(),
                source,
            })?;
        let address = listener.local_addr()?;
        let state = AppState::build(ctx.clone(), &settings)?;
        if let Some(every) = settings.audit_head_every {
            crate::service::audit::spawn_head_signer(ctx, every);
        }
        let server = super::run(listener, state, settings.workers)?;
        Ok(Application { address, server })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Serves until the server is stopped (a signal, or the system ends).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
