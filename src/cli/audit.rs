//! `tem audit`: sign the audit log's tree head; verify the log.

use std::process::ExitCode;

use clap::Subcommand;

use crate::codes::KeyRing;
use crate::config::Config;
use crate::service::audit;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Sign the log's current tree head with the active key and store it.
    Sign,
    /// Check every entry and every signed head; exit 1 on any finding.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config: &Config, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config)?;
    let ring = KeyRing::open(config.keys_dir())?;
    match cmd {
        AuditCommand::Sign => {
            let head = audit::sign_head(&*store, &ring.signer()?)?;
            println!(
                "signed tree head: {} entries, root {}, key {}",
                head.size, head.root, head.kid
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { json } => {
            let v = audit::verify(&*store, &ring.key_set())?;
            if json {
                super::print_json(&v)?;
            } else {
                for f in &v.findings {
                    println!("FAIL {f}");
                }
                println!(
                    "{} entries, {} signed heads checked, {} entries after the last signed head: {}",
                    v.entries,
                    v.heads_checked,
                    v.unsigned_tail,
                    if v.findings.is_empty() {
                        "intact"
                    } else {
                        "TAMPERED"
                    }
                );
            }
            Ok(if v.findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
