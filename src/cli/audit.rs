//! `tem audit`: sign the audit log's tree head; verify the log, here or on
//! a running service.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;
use crate::service::audit;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Sign the log's current tree head with the active key and store it.
    Sign {
        /// Print the signed head as JSON (keep it: `verify --kept-head`).
        #[arg(long)]
        json: bool,
    },
    /// Check every entry and every signed head; exit 1 on any finding.
    Verify {
        /// Check a running service instead of the local database, e.g.
        /// https://tem.example.vn (its public key set is fetched from it
        /// unless --key-set is given).
        #[arg(long, value_name = "URL")]
        remote: Option<String>,
        /// An admin or inspector token for --remote (or TEM_TOKEN): every
        /// entry and signed head through the API. Without one, --remote
        /// checks the log from its public tiles (as `tem audit monitor`,
        /// without keeping state).
        #[arg(long, env = "TEM_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// A key set file (tem-keys.json) to check head signatures with.
        #[arg(long, value_name = "FILE")]
        key_set: Option<std::path::PathBuf>,
        /// Tree heads you kept from before (JSON: one head, or a list as
        /// GET /api/v1/audit/heads gives): the log must still give each of
        /// them, i.e. it only grew since, even if the service dropped them.
        #[arg(long, value_name = "FILE")]
        kept_head: Vec<std::path::PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Watch a tem log from its public tiles alone (C2SP tlog-tiles): check
    /// the signed checkpoint, every entry against its leaf, the root, and
    /// that the log only grew since the last run (kept in --state). Exit 1
    /// on any finding. Run it from cron, on a machine tem does not control.
    Monitor {
        /// The service, e.g. https://tem.travinh.gov.vn (its `/log/…`).
        url: String,
        /// Where the last checkpoint seen is kept between runs.
        #[arg(long, value_name = "FILE", default_value = "tem-monitor.json")]
        state: std::path::PathBuf,
        /// The log's verifier key to trust (as `tem keys list` prints it);
        /// default: the one in --state, or on the first run the one the
        /// service publishes (trusted on first use, and pinned).
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config: &Config, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    if let AuditCommand::Monitor {
        url,
        state,
        key,
        json,
    } = &cmd
    {
        return super::monitor::run(url, state, key.as_deref(), *json);
    }
    if let AuditCommand::Verify {
        remote: Some(url),
        token,
        key_set,
        kept_head,
        json,
    } = &cmd
    {
        if token.is_none() && kept_head.is_empty() {
            // No token: what anyone can check, from the public tiles.
            return super::monitor::verify_from_tiles(url, key_set.as_deref(), *json);
        }
        let kept = read_kept_heads(kept_head)?;
        let v = remote_verify(url, token.as_deref(), key_set.as_deref(), kept)?;
        return report(&v, *json);
    }
    let ctx = super::context(config)?;
    let store = ctx.store();
    let ring = ctx.keys()?;
    match cmd {
        AuditCommand::Sign { json } => {
            let head = audit::sign_head(store, &ring.signer()?)?;
            if json {
                super::print_json(&head)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "signed tree head: {} entries, root {}, key {}",
                head.size, head.root, head.kid
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify {
            json, kept_head, ..
        } => {
            let kept = read_kept_heads(&kept_head)?;
            report(&audit::verify(store, &ring.key_set(), kept)?, json)
        }
        // Answered above, before any database is opened.
        AuditCommand::Monitor {
            url,
            state,
            key,
            json,
        } => super::monitor::run(&url, &state, key.as_deref(), json),
    }
}

/// Heads saved from before: each file holds one head or a list of them.
fn read_kept_heads(files: &[std::path::PathBuf]) -> anyhow::Result<Vec<crate::audit::TreeHead>> {
    let mut heads = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", f.display()))?;
        let list = match value {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        };
        for h in list {
            heads.push(
                serde_json::from_value(h)
                    .with_context(|| format!("{}: not a tree head", f.display()))?,
            );
        }
    }
    Ok(heads)
}

fn report(v: &audit::Verification, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        super::print_json(v)?;
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

/// Fetches the log and its heads from a service (pages of 1,000 entries)
/// and checks them as a local database is checked.
fn remote_verify(
    url: &str,
    token: Option<&str>,
    key_set: Option<&std::path::Path>,
    kept: Vec<crate::audit::TreeHead>,
) -> anyhow::Result<audit::Verification> {
    let base = url.trim_end_matches('/');
    let token =
        token.context("--remote needs --token (an admin or inspector token) or TEM_TOKEN")?;
    let agent = ureq::Agent::new_with_defaults();
    let get = |path: &str| -> anyhow::Result<String> {
        let mut resp = agent
            .get(format!("{base}{path}"))
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .with_context(|| format!("GET {base}{path}"))?;
        Ok(resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()?)
    };
    let keys: crate::codes::KeySet = match key_set {
        Some(path) => crate::codes::KeySet::read(path)?,
        None => serde_json::from_str(&get("/.well-known/tem-keys.json")?)
            .context("the service's key set")?,
    };
    let mut heads: Vec<crate::audit::TreeHead> =
        serde_json::from_str(&get("/api/v1/audit/heads")?).context("the service's tree heads")?;
    heads.extend(kept);
    let mut checker = audit::Checker::new(heads, &keys);
    let mut next = 1;
    loop {
        let path = format!("/api/v1/audit/entries?from={next}&limit=1000");
        let page: Vec<crate::audit::Entry> =
            serde_json::from_str(&get(&path)?).context("the service's audit entries")?;
        for e in &page {
            checker.push(e, &e.leaf());
        }
        next += page.len();
        if page.len() < 1000 {
            break;
        }
    }
    Ok(checker.finish())
}
