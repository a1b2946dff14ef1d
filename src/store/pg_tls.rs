//! How tem reaches PostgreSQL over a network: TLS (rustls), chosen by
//! `sslmode` in the URL as libpq does.
//!
//! | `sslmode` | what |
//! |---|---|
//! | `disable` | plain TCP |
//! | `require` | TLS, the server's certificate not checked (encrypts, does not authenticate) |
//! | `verify-full` | TLS, the certificate checked against the system's roots (or `sslrootcert=FILE`) and the host name |
//!
//! Without `sslmode`: `verify-full` for every host but this machine
//! (`localhost`, `127.0.0.1`, `::1`) and Unix sockets, where it is
//! `disable`. A password then never crosses a network in the clear unless
//! the URL says so.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{StoreError, StoreResult};

/// `sslmode` values tem understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Require,
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Require => "require",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(s: &str) -> StoreResult<SslMode> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "require" => Ok(SslMode::Require),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(StoreError::database(format!(
                "the PostgreSQL URL's sslmode={other:?} is not one tem knows: use disable, require or verify-full"
            ))),
        }
    }
}

/// A parsed URL: the connection settings and how to secure them.
pub struct Target {
    pub config: postgres::Config,
    pub mode: SslMode,
    pub tls: MakeRustlsConnect,
}

/// Splits `sslmode` and `sslrootcert` off a postgres:// URL (the driver
/// knows neither `verify-full` nor root files) and builds the TLS side.
pub fn target(url: &str) -> StoreResult<Target> {
    let invalid =
        |why: String| StoreError::database(format!("the PostgreSQL URL is not valid: {why}"));
    let mut parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    let (mut mode, mut root) = (None, None);
    let rest: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(k, v)| match k.as_ref() {
            "sslmode" => {
                mode = Some(v.into_owned());
                None
            }
            "sslrootcert" => {
                root = Some(v.into_owned());
                None
            }
            _ => Some((k.into_owned(), v.into_owned())),
        })
        .collect();
    if rest.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(rest);
    }
    let mut config: postgres::Config = parsed
        .as_str()
        .parse()
        .map_err(|e: postgres::Error| invalid(e.to_string()))?;
    let mode = match mode {
        Some(m) => SslMode::parse(&m)?,
        None if is_local(&config) => SslMode::Disable,
        None => SslMode::VerifyFull,
    };
    config.ssl_mode(match mode {
        SslMode::Disable => postgres::config::SslMode::Disable,
        SslMode::Require | SslMode::VerifyFull => postgres::config::SslMode::Require,
    });
    // The ring provider named, whatever other crates enable.
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::database(format!("TLS: {e}")))?;
    let tls = match mode {
        SslMode::Disable | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified))
            .with_no_client_auth(),
        SslMode::VerifyFull => builder
            .with_root_certificates(roots(root.as_deref())?)
            .with_no_client_auth(),
    };
    Ok(Target {
        config,
        mode,
        tls: MakeRustlsConnect::new(tls),
    })
}

/// This machine: no network to protect.
fn is_local(config: &postgres::Config) -> bool {
    config.get_hosts().iter().all(|h| match h {
        postgres::config::Host::Tcp(h) => {
            matches!(h.as_str(), "localhost" | "127.0.0.1" | "::1" | "[::1]")
        }
        postgres::config::Host::Unix(_) => true,
    })
}

/// The roots certificates are checked against: `sslrootcert`'s file, or the
/// operating system's store.
fn roots(file: Option<&str>) -> StoreResult<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    StoreError::database(format!("sslrootcert {path}: not PEM certificates ({e})"))
                })?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| StoreError::database(format!("sslrootcert {path}: {e}")))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(StoreError::database(
            "sslmode=verify-full: no root certificates to check the server with (install ca-certificates, or give sslrootcert=FILE)",
        ));
    }
    Ok(roots)
}

/// `sslmode=require`: encrypt, but take the server's certificate as it is
/// (what libpq does for `require`). The handshake's signatures are still
/// checked, so the connection is with whoever holds the certificate's key.
#[derive(Debug)]
struct Unverified;

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_defaults_to_verify_full_off_this_machine() {
        let mode = |url: &str| target(url).map(|t| t.mode);
        assert_eq!(
            mode("postgres://u:p@localhost/db").unwrap(),
            SslMode::Disable
        );
        assert_eq!(
            mode("postgres://u:p@127.0.0.1:5433/db").unwrap(),
            SslMode::Disable
        );
        assert_eq!(
            mode("postgres://u:p@localhost/db?sslmode=require").unwrap(),
            SslMode::Require
        );
        assert_eq!(
            mode("postgres://u:p@db.internal/db?sslmode=disable").unwrap(),
            SslMode::Disable
        );
        let err = mode("postgres://u:p@db.internal/db?sslmode=prefer")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("disable, require or verify-full"), "{err}");
        assert!(!err.contains(":p@"), "{err}");
        let err = mode("postgres://u:p@db.internal/db?sslrootcert=/nonexistent.pem")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("sslrootcert"), "{err}");
        // Other parameters stay with the driver.
        let t = target("postgres://u:p@localhost/db?application_name=x&sslmode=disable").unwrap();
        assert_eq!(t.config.get_application_name(), Some("x"));
    }
}
