//! Configuration: defaults → `tem.toml` → `TEM_*` environment → command-line
//! flags. Checked once at start; the rest of tem gets typed values.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::codes::format::normalise_base_url;
use crate::render::pdf::Calibration;

/// The raw, file-and-environment view of the settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Raw {
    db: String,
    /// The same as `db` (the name other services use for a database URL);
    /// it wins when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    keys: PathBuf,
    base_url: String,
    listen: String,
    admin_token: Option<String>,
    log_format: String,
    workers: Option<usize>,
    /// `tem serve` signs the audit log's tree head this often (seconds) when
    /// the log grew.
    audit_head_seconds: u64,
    /// `tem verify --bundle` warns when a bundle is older than this (days).
    bundle_max_age_days: u32,
    #[serde(default)]
    printers: std::collections::BTreeMap<String, Calibration>,
    #[serde(default)]
    scan: ScanSettings,
    /// Proxies (addresses or networks) whose forwarding headers tem believes.
    #[serde(default)]
    trusted_proxies: Vec<String>,
    /// Whether anyone may query the public subset of the EPCIS events
    /// (commissioning and recalls) at `/epcis/events`.
    #[serde(default)]
    epcis_public: bool,
}

/// `[scan]` in tem.toml: the repeat-scan rules and request limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanSettings {
    /// Warn when this many different devices scanned a stamp (default 3).
    pub devices: u32,
    /// Warn at this many scans within 24 hours (default 3).
    pub scans_per_day: u32,
    /// Warn at this many scans within 7 days (default 10).
    pub scans_per_week: u32,
    /// Warn when shared locations are this far apart, km (default 300).
    pub distant_km: f64,
    /// Verifications per client network per minute; 0 = no limit (default 600).
    pub rate_per_minute: u32,
    /// Older switch: believe X-Forwarded-For / X-Forwarded-Proto from
    /// proxies on this machine (loopback). `trusted_proxies` lists others.
    pub trust_proxy: bool,
}

impl Default for ScanSettings {
    fn default() -> Self {
        let r = crate::domain::scan::RepeatRules::default();
        ScanSettings {
            devices: r.devices,
            scans_per_day: r.scans_per_day,
            scans_per_week: r.scans_per_week,
            distant_km: r.distant_km,
            rate_per_minute: 600,
            trust_proxy: false,
        }
    }
}

impl ScanSettings {
    /// The repeat-scan rules these settings describe.
    pub fn rules(&self) -> crate::domain::scan::RepeatRules {
        crate::domain::scan::RepeatRules {
            devices: self.devices,
            scans_per_day: self.scans_per_day,
            scans_per_week: self.scans_per_week,
            distant_km: self.distant_km,
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw {
            db: "tem.db".into(),
            database_url: None,
            keys: "keys".into(),
            base_url: "https://tem.example.vn".into(),
            listen: "127.0.0.1:8080".into(),
            admin_token: None,
            log_format: "text".into(),
            workers: None,
            audit_head_seconds: 600,
            bundle_max_age_days: 7,
            printers: Default::default(),
            scan: ScanSettings::default(),
            trusted_proxies: Vec::new(),
            epcis_public: false,
        }
    }
}

/// Which database to use.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// The URL, which may hold a password: `Debug` leaves it out.
    Postgres(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Database::Postgres(url) => f.debug_tuple("Postgres").field(&redacted(url)).finish(),
        }
    }
}

/// A database URL with its password replaced, for printing.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:…@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl Database {
    /// `sqlite:PATH`, a plain path, or `postgres://…`.
    pub fn parse(s: &str) -> Result<Database, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("database: must not be empty (a file path or postgres:// URL)".into());
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Database::Postgres(s.to_string()));
        }
        let path = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
            .unwrap_or(s);
        if path.is_empty() {
            return Err("database: `sqlite:` needs a file path".into());
        }
        Ok(Database::Sqlite(PathBuf::from(path)))
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// Settings after checking.
#[derive(Debug, Clone)]
pub struct Config {
    /// The database.
    pub db: Database,
    /// The key directory.
    pub keys: PathBuf,
    /// The base URL printed in stamps.
    pub base_url: String,
    /// Where `tem serve` listens (host:port).
    pub listen: String,
    /// The admin token, if configured (never logged).
    pub admin_token: Option<SecretString>,
    /// How logs are written.
    pub log_format: LogFormat,
    /// HTTP worker threads; none: one per core.
    pub workers: Option<usize>,
    /// How often `tem serve` signs the audit log's tree head (when it grew).
    pub audit_head_every: std::time::Duration,
    /// Offline bundles older than this get a warning.
    pub bundle_max_age_days: u32,
    /// Printer corrections by profile name (`[printers.NAME]` in tem.toml).
    pub printers: std::collections::BTreeMap<String, Calibration>,
    /// The scan page's rules and limits.
    pub scan: ScanSettings,
    /// Whose X-Forwarded-For and X-Forwarded-Proto to believe.
    pub proxies: crate::domain::network::TrustedProxies,
    /// Whether `/epcis/events` answers anyone (the public subset).
    pub epcis_public: bool,
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The configuration file given with --config.
    pub config_file: Option<PathBuf>,
    /// --db.
    pub db: Option<String>,
    /// --keys.
    pub keys: Option<PathBuf>,
    /// --base-url.
    pub base_url: Option<String>,
    /// --listen.
    pub listen: Option<String>,
}

impl Config {
    /// Reads defaults, then tem.toml, then TEM_* variables, then `overrides`; checks everything once.
    pub fn load(overrides: &Overrides) -> Result<Config, String> {
        let file = overrides
            .config_file
            .clone()
            .unwrap_or_else(|| PathBuf::from("tem.toml"));
        if overrides.config_file.is_some() && !file.exists() {
            return Err(format!("config file {} does not exist", file.display()));
        }
        let raw: Raw = Figment::from(Serialized::defaults(Raw::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("TEM_").ignore(&["test_database_url"]))
            .extract()
            .map_err(|e| format!("configuration ({}): {e}", file.display()))?;
        Self::check(raw, overrides)
    }

    fn check(mut raw: Raw, o: &Overrides) -> Result<Config, String> {
        if let Some(url) = raw.database_url.take() {
            raw.db = url;
        }
        if let Some(db) = &o.db {
            raw.db = db.clone();
        }
        if let Some(keys) = &o.keys {
            raw.keys = keys.clone();
        }
        if let Some(b) = &o.base_url {
            raw.base_url = b.clone();
        }
        if let Some(l) = &o.listen {
            raw.listen = l.clone();
        }
        let log_format = match raw.log_format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(format!("log_format: must be text or json (got {other:?})")),
        };
        let admin_token = match raw.admin_token.filter(|t| !t.is_empty()) {
            // Short tokens can be guessed; 20 characters is 100+ bits in base32.
            Some(t) if t.len() < 20 => {
                return Err("admin_token (TEM_ADMIN_TOKEN): must be at least 20 characters".into());
            }
            other => other.map(SecretString::from),
        };
        Ok(Config {
            db: Database::parse(&raw.db)?,
            keys: raw.keys,
            base_url: normalise_base_url(&raw.base_url).map_err(|e| format!("base_url: {e}"))?,
            listen: raw.listen,
            admin_token,
            log_format,
            workers: raw.workers,
            audit_head_every: {
                if raw.audit_head_seconds == 0 || raw.audit_head_seconds > 86_400 {
                    return Err(
                        "audit_head_seconds (TEM_AUDIT_HEAD_SECONDS): must be 1 to 86400".into(),
                    );
                }
                std::time::Duration::from_secs(raw.audit_head_seconds)
            },
            bundle_max_age_days: {
                if raw.bundle_max_age_days == 0 || raw.bundle_max_age_days > 366 {
                    return Err(
                        "bundle_max_age_days (TEM_BUNDLE_MAX_AGE_DAYS): must be 1 to 366".into(),
                    );
                }
                raw.bundle_max_age_days
            },
            printers: {
                for (name, c) in &raw.printers {
                    c.check().map_err(|e| format!("printers.{name}: {e}"))?;
                }
                raw.printers
            },
            proxies: crate::domain::network::TrustedProxies::parse(
                &raw.trusted_proxies,
                raw.scan.trust_proxy,
            )?,
            scan: raw.scan,
            epcis_public: raw.epcis_public,
        })
    }

    /// The key directory.
    pub fn keys_dir(&self) -> &Path {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_forms() {
        assert_eq!(
            Database::parse("tem.db").unwrap(),
            Database::Sqlite("tem.db".into())
        );
        assert_eq!(
            Database::parse("sqlite:/x/t.db").unwrap(),
            Database::Sqlite("/x/t.db".into())
        );
        assert!(matches!(
            Database::parse("postgres://u@h/db").unwrap(),
            Database::Postgres(_)
        ));
        assert!(Database::parse(" ").is_err());
        let shown = format!(
            "{:?}",
            Database::parse("postgres://tem:pw-123@db/tem").unwrap()
        );
        assert!(
            !shown.contains("pw-123") && shown.contains("db/tem"),
            "{shown}"
        );
    }

    #[test]
    fn database_url_names_the_database_and_the_flag_still_wins() {
        let raw = Raw {
            database_url: Some("postgres://tem@db/tem".into()),
            ..Raw::default()
        };
        let c = Config::check(raw.clone(), &Overrides::default()).unwrap();
        assert_eq!(c.db, Database::Postgres("postgres://tem@db/tem".into()));
        let o = Overrides {
            db: Some("local.db".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::check(raw, &o).unwrap().db,
            Database::Sqlite("local.db".into())
        );
    }

    #[test]
    fn overrides_win_and_values_are_checked() {
        let o = Overrides {
            base_url: Some("HTTPS://Tem.VN/".into()),
            ..Default::default()
        };
        let c = Config::check(Raw::default(), &o).unwrap();
        assert_eq!(c.base_url, "https://tem.vn");
        let raw = Raw {
            admin_token: Some("short".into()),
            ..Raw::default()
        };
        assert!(
            Config::check(raw, &Overrides::default())
                .unwrap_err()
                .contains("admin_token")
        );
        let raw = Raw {
            log_format: "xml".into(),
            ..Raw::default()
        };
        assert!(Config::check(raw, &Overrides::default()).is_err());
    }
}
