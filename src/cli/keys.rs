//! `tem keys`: generate, list, rotate, revoke, export.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::codes::KeyRing;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create the first signing key (refused if an active key exists).
    Generate,
    /// List keys with their status.
    List {
        /// Print the key set as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a new active key; the current one becomes verify-only, so stamps
    /// already printed stay genuine.
    Rotate,
    /// Mark a key compromised. Stamps tem issued with it still scan genuine
    /// (the registry vouches for them); any other code it signs scans
    /// `revoked-key`, and offline verifiers say `revoked-key` for all of them.
    Revoke {
        /// The key id (16 hex digits) from `tem keys list`.
        kid: String,
        /// Why, for the record (e.g. "laptop stolen").
        #[arg(long)]
        reason: Option<String>,
    },
    /// Write the public key set (JSON) for offline verifiers.
    Export {
        /// Output file; standard output when omitted.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

pub fn run(config: &Config, cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    let dir = config.keys_dir();
    let ring = KeyRing::open(dir)?;
    match cmd {
        KeysCommand::Generate => {
            let ctx = super::context(config)?;
            let store = ctx.store();
            let kid = crate::service::keys::generate(dir, store, &super::cli_actor())?;
            println!("generated signing key {kid} in {}", dir.display());
            println!(
                "the private key file is readable only by you (mode 600); back it up safely, never commit it"
            );
        }
        KeysCommand::List { json } => {
            if json {
                super::print_json(&ring.key_set())?;
            } else if ring.entries().is_empty() {
                println!("no keys in {}; run `tem keys generate`", dir.display());
            } else {
                println!("KID               STATUS       VALID FROM            VALID UNTIL");
                for k in ring.entries() {
                    let status = serde_json::to_value(k.status)?
                        .as_str()
                        .unwrap_or("?")
                        .to_string();
                    let until = k
                        .valid_until
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "-".into());
                    println!(
                        "{:<16}  {:<11}  {:<20}  {}",
                        k.kid,
                        status,
                        k.valid_from.to_string(),
                        until
                    );
                }
                println!(
                    "key set fingerprint: {} (inspectors pin it with `tem bundle trust`)",
                    ring.key_set().fingerprint()
                );
                if let Some(vkey) =
                    crate::service::tlog::verifier_key(&ring.key_set(), &config.base_url)
                {
                    println!(
                        "audit log verifier key: {vkey} (tlog clients check {}/log/checkpoint with it)",
                        config.base_url
                    );
                }
            }
        }
        KeysCommand::Rotate => {
            let ctx = super::context(config)?;
            let store = ctx.store();
            let (kid, retired) = crate::service::keys::rotate(dir, store, &super::cli_actor())?;
            println!("new active key {kid}");
            if let Some(old) = retired {
                println!("key {old} is now verify-only: stamps it signed stay genuine");
            }
        }
        KeysCommand::Revoke { kid, reason } => {
            let ctx = super::context(config)?;
            let store = ctx.store();
            let kid = crate::service::keys::revoke(
                dir,
                store,
                &kid,
                reason.as_deref(),
                &super::cli_actor(),
            )?;
            let ring = KeyRing::open(dir)?;
            println!(
                "key {kid} revoked: stamps tem issued with it still scan genuine; any other code it signs scans revoked-key"
            );
            if ring.active().is_none() {
                println!("there is no active key now; run `tem keys rotate` before issuing stamps");
            }
        }
        KeysCommand::Export { output } => {
            let json = serde_json::to_string_pretty(&ring.key_set())?;
            match output {
                Some(path) => {
                    std::fs::write(&path, json + "\n")
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!(
                        "wrote the public key set to {} (fingerprint {})",
                        path.display(),
                        ring.key_set().fingerprint()
                    );
                }
                None => println!("{json}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
