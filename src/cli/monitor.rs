//! `tem audit monitor URL`: fetches a log's public tiles and checks them
//! (`service::tlog_monitor`), keeping what it saw for the next run.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::service::tlog_monitor::{self, Seen};

/// Largest response read: a full entry bundle of large entries.
const MAX_BYTES: u64 = 64 << 20;

pub fn run(url: &str, state: &Path, key: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let base = url.trim_end_matches('/').to_string();
    let agent = ureq::Agent::new_with_defaults();
    let fetch = move |path: &str| -> Result<Vec<u8>, String> {
        let mut resp = agent
            .get(format!("{base}{path}"))
            .call()
            .map_err(|e| format!("GET {base}{path}: {e}"))?;
        resp.body_mut()
            .with_config()
            .limit(MAX_BYTES)
            .read_to_vec()
            .map_err(|e| format!("GET {base}{path}: {e}"))
    };
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
    if json {
        super::print_json(&report)?;
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
