//! `tem audit monitor URL`: fetches a log's public tiles and checks them
//! (`service::tlog_monitor`), keeping what it saw for the next run.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::service::tlog_monitor::{self, Seen};

/// Largest response read: a full entry bundle of large entries.
const MAX_BYTES: u64 = 64 << 20;

/// GETs of paths under `url`, each at most `MAX_BYTES`.
fn fetcher(url: &str) -> impl Fn(&str) -> Result<Vec<u8>, String> {
    let base = url.trim_end_matches('/').to_string();
    let agent = ureq::Agent::new_with_defaults();
    move |path: &str| -> Result<Vec<u8>, String> {
        let mut resp = agent
            .get(format!("{base}{path}"))
            .call()
            .map_err(|e| format!("GET {base}{path}: {e}"))?;
        resp.body_mut()
            .with_config()
            .limit(MAX_BYTES)
            .read_to_vec()
            .map_err(|e| format!("GET {base}{path}: {e}"))
    }
}

/// `tem audit verify --remote URL` without a token: the log checked from
/// its public tiles, under the log key of the key set (`--key-set`, or the
/// service's own).
pub fn verify_from_tiles(
    url: &str,
    key_set: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let fetch = fetcher(url);
    let keys: crate::codes::KeySet = match key_set {
        Some(path) => crate::codes::KeySet::read(path)?,
        None => serde_json::from_slice(
            &fetch("/.well-known/tem-keys.json").map_err(anyhow::Error::msg)?,
        )
        .context("the service's key set")?,
    };
    // The note key's name is the log's origin, the checkpoint's first
    // line (the URL asked may be a proxy's); the key itself is the key
    // set's active one, which the signature must verify under.
    let note = fetch("/log/checkpoint").map_err(anyhow::Error::msg)?;
    let origin = String::from_utf8_lossy(&note)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let vkey = crate::service::tlog::verifier_key(
        &keys,
        &format!("https://{}", origin.trim_end_matches("/log")),
    )
    .context("the key set has no active key to check the log's checkpoint with")?;
    let report = tlog_monitor::check(&fetch, &vkey, None).map_err(anyhow::Error::msg)?;
    print(&report, json)
}

fn print(report: &tlog_monitor::Report, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        super::print_json(report)?;
    } else {
        let grew = match report.before {
            Some(b) => format!(", grown from {b} consistently"),
            None => String::new(),
        };
        println!(
            "log {}: {} entries checked against their leaves, root {}{grew}",
            report.now.origin, report.entries, report.now.root
        );
        for f in &report.findings {
            println!("FINDING: {f}");
        }
    }
    Ok(if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn run(url: &str, state: &Path, key: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let fetch = fetcher(url);
    let before: Option<Seen> = match std::fs::read(state) {
        Ok(bytes) => Some(
            serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a monitor state file", state.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", state.display())),
    };
    let pinned = match (key, &before) {
        (Some(k), _) => k.to_string(),
        (None, Some(b)) => b.verifier_key.clone(),
        (None, None) => {
            let keys: serde_json::Value = serde_json::from_slice(
                &fetch("/.well-known/tem-keys.json").map_err(anyhow::Error::msg)?,
            )
            .context("the service's key set")?;
            let k = keys["log_verifier_key"]
                .as_str()
                .context("the service publishes no log_verifier_key")?
                .to_string();
            eprintln!(
                "trusting the log's key on first use: {k} (compare it with `tem keys list` on the server, or pass --key)"
            );
            k
        }
    };
    let report =
        tlog_monitor::check(&fetch, &pinned, before.as_ref()).map_err(anyhow::Error::msg)?;
    if report.findings.is_empty() {
        // Only a sound log moves the mark: a bad one keeps being reported.
        let tmp = super::temp_path(state)?;
        std::fs::write(&tmp, serde_json::to_vec_pretty(&report.now)?)?;
        std::fs::rename(&tmp, state).with_context(|| format!("writing {}", state.display()))?;
    }
    print(&report, json)
}
