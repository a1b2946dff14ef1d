//! `tem triage`: the queue of stamps that look copied and consumer reports.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Config;
use crate::domain::{BatchId, Grant};
use crate::service::triage;

#[derive(Debug, Subcommand)]
pub enum TriageCommand {
    /// Open items (alerts and consumer reports), newest first.
    List {
        /// Only this batch.
        #[arg(long)]
        batch: Option<u32>,
        /// Resolved items too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Resolve an item with an outcome and a note (both recorded).
    Resolve {
        /// alert or report
        kind: String,
        /// The item's id from `tem triage list`.
        id: i64,
        /// process-error, confirmed-counterfeit, no-action or other
        #[arg(long)]
        outcome: String,
        /// What was found and done.
        #[arg(long)]
        note: String,
    },
}

pub fn run(config: &Config, cmd: TriageCommand) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let store = ctx.store();
    // The command line is the administrator's: it sees every item.
    let grant = Grant::admin();
    match cmd {
        TriageCommand::List { batch, all, json } => {
            let items = triage::list(store, &grant, all, batch.map(BatchId))?;
            if json {
                super::print_json(&items)?;
            } else if items.is_empty() {
                println!("nothing to triage");
            } else {
                println!("KIND    ID     BATCH  STAMP   WHEN              SUMMARY");
                for i in items {
                    println!(
                        "{:<7} {:<6} {:<6} {:<7} {:<17} {}{}",
                        i.kind,
                        i.id,
                        i.batch_id,
                        i.seq.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                        i.at.strftime("%Y-%m-%d %H:%M"),
                        i.summary,
                        i.resolution
                            .map(|r| format!("  [{}: {}]", r.outcome, r.note))
                            .unwrap_or_default()
                    );
                }
            }
        }
        TriageCommand::Resolve {
            kind,
            id,
            outcome,
            note,
        } => {
            let item = triage::resolve(
                store,
                &grant,
                kind.parse()?,
                id,
                outcome.parse()?,
                &note,
                &super::cli_actor(),
            )?;
            println!("{} {} resolved: {outcome}", item.kind, item.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
