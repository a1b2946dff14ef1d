//! `tem token`: create, list, revoke API tokens.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Config;
use crate::domain::{Grant, ProducerId, Role};
use crate::service::tokens;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once (only its hash is stored).
    Create {
        /// admin (everything), producer (one producer's data), inspector
        /// (reads, reports, recalls) or seller (a shop: marks stamps sold at
        /// the till).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The producer a producer token is bound to; for a seller, the
        /// producers it sells for (repeat for several; none: all).
        #[arg(long, value_name = "ID")]
        producer: Vec<i64>,
        /// A seller's shop, as later scans name it ("sold by …").
        #[arg(long, value_name = "NAME")]
        shop: Option<String>,
        /// Limit an inspector to the producers of a province (repeat for several).
        #[arg(long, value_name = "NAME")]
        province: Vec<String>,
        /// Lifetime: days ("90d"), hours ("12h") or a last day ("2027-06-30").
        /// Default 90 days, at most 3 years.
        #[arg(long, value_name = "WHEN")]
        expires: Option<String>,
        /// A note saying who holds it ("Sở KH&CN Trà Vinh, anh Minh").
        #[arg(long)]
        label: Option<String>,
        /// Print JSON (the token and its record) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token at once.
    Revoke {
        /// The token's id from `tem token list`.
        id: i64,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "must be admin, producer, inspector or seller".into())
}

pub fn run(config: &Config, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let store = ctx.store();
    match cmd {
        TokenCommand::Create {
            role,
            producer,
            province,
            shop,
            expires,
            label,
            json,
        } => {
            let grant = grant(role, &producer, &province, shop.as_deref())?;
            let (token, info) = tokens::create(
                store,
                grant,
                label.as_deref(),
                expires.as_deref(),
                &super::cli_actor(),
            )?;
            if json {
                super::print_json(&serde_json::json!({ "token": token, "record": info }))?;
            } else {
                println!("{token}");
                eprintln!(
                    "token {} ({}) expires {}; it is shown only now: store it safely",
                    info.id,
                    info.grant.role.as_str(),
                    info.expires_at.strftime("%Y-%m-%d %H:%M UTC")
                );
            }
        }
        TokenCommand::List { json } => {
            let list = tokens::list(store)?;
            if json {
                super::print_json(&list)?;
            } else if list.is_empty() {
                println!("no tokens; create one with `tem token create --role …`");
            } else {
                let now = jiff::Timestamp::now();
                println!(
                    "ID    ROLE       PRODUCER  PROVINCES / SHOP      EXPIRES           STATUS   LABEL"
                );
                for t in list {
                    let status = if t.revoked_at.is_some() {
                        "revoked"
                    } else if t.expires_at <= now {
                        "expired"
                    } else {
                        "active"
                    };
                    println!(
                        "{:<5} {:<10} {:<9} {:<21} {:<17} {:<8} {}",
                        t.id,
                        t.grant.role.as_str(),
                        match (t.grant.producer, t.grant.sells_for.as_slice()) {
                            (Some(p), _) => p.to_string(),
                            (None, []) => "-".into(),
                            (None, ids) => ids
                                .iter()
                                .map(|p| p.to_string())
                                .collect::<Vec<_>>()
                                .join(","),
                        },
                        match &t.grant.shop {
                            Some(shop) => shop.clone(),
                            None if t.grant.provinces.is_empty() => "-".into(),
                            None => t.grant.provinces.join(", "),
                        },
                        t.expires_at.strftime("%Y-%m-%d %H:%M"),
                        status,
                        t.label.unwrap_or_default()
                    );
                }
            }
        }
        TokenCommand::Revoke { id } => {
            tokens::revoke(store, id, &super::cli_actor())?;
            println!("token {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The grant the options describe: a seller names its shop (and may list
/// producers); the others take at most one producer and no shop.
fn grant(
    role: Role,
    producers: &[i64],
    provinces: &[String],
    shop: Option<&str>,
) -> anyhow::Result<Grant> {
    if role == Role::Seller {
        let shop = shop.ok_or_else(|| anyhow::anyhow!("--shop: a seller token names its shop"))?;
        if !provinces.is_empty() {
            anyhow::bail!("--province: only inspector tokens are limited to provinces");
        }
        return Ok(Grant::seller(
            shop,
            producers.iter().map(|p| ProducerId(*p)).collect(),
        )?);
    }
    if shop.is_some() {
        anyhow::bail!("--shop: only seller tokens name a shop");
    }
    if producers.len() > 1 {
        anyhow::bail!("--producer: a producer token is bound to one producer");
    }
    Ok(Grant::new(
        role,
        producers.first().map(|p| ProducerId(*p)),
        provinces,
    )?)
}
