//! `tem bundle`: the offline inspector kit. `export` writes a bundle signed
//! by the service; `tem verify --bundle` checks stamps with it and no
//! network, recording each check; `sync` uploads those checks as
//! inspections (and scans) when a network is back.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::service::bundle::{self, Bundle, OfflineChecker};

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Write a bundle signed by this service: public keys and their status,
    /// recalled batches and stamps, voided stamps, and each batch's product,
    /// producer, origin and dates.
    Export {
        /// Only producers in these provinces (repeatable); all by default.
        #[arg(long)]
        province: Vec<String>,
        #[arg(short, long, value_name = "FILE", default_value = "tem-bundle.json")]
        output: PathBuf,
    },
    /// Pin the service's key set in this kit: bundles are then accepted
    /// only when signed by one of its keys. Give the fingerprint the
    /// service's `tem keys list` prints (read it from the service's
    /// operator, not from the file); the key set comes from a file
    /// (`tem keys export`) or the service's URL.
    Trust {
        /// The fingerprint `tem keys list` prints on the service.
        #[arg(long)]
        fingerprint: String,
        /// The key set file (`tem keys export -o tem-keys.json`).
        #[arg(
            long,
            value_name = "FILE",
            conflicts_with = "url",
            required_unless_present = "url"
        )]
        keys: Option<PathBuf>,
        /// The service, e.g. https://tem.example.vn (its /.well-known/tem-keys.json).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Upload the checks `tem verify --bundle` recorded to a service, as
    /// inspection records (one per place) and scans. Uploaded checks are
    /// removed from the file, so running it twice uploads nothing twice.
    /// The first sync also pins the service's key set in this kit (your
    /// token proves it is your service); later ones follow its rotations.
    Sync {
        /// The checks file (by default BUNDLE.checks.jsonl next to the bundle).
        #[arg(long, value_name = "FILE")]
        checks: PathBuf,
        /// The service, e.g. https://tem.example.vn
        #[arg(long, value_name = "URL")]
        url: String,
        /// An inspector or admin token (or TEM_TOKEN).
        #[arg(long, env = "TEM_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

/// One line of a checks file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckRecord {
    pub at: String,
    pub code: String,
    pub verdict: String,
    pub serial: Option<String>,
    pub batch: Option<u32>,
    pub place: Option<String>,
    pub province: Option<String>,
    pub bundle_created_at: String,
}

pub fn run(config: &Config, cmd: BundleCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BundleCommand::Export { province, output } => {
            let ctx = super::context(config)?;
            let store = ctx.store();
            let ring = ctx.keys()?;
            let b = bundle::export(
                store,
                &ring.signer()?,
                ring.key_set(),
                &config.base_url,
                &province,
            )?;
            let text = serde_json::to_string_pretty(&b)?;
            std::fs::write(&output, text)
                .with_context(|| format!("writing {}", output.display()))?;
            let recalled = b
                .payload
                .batches
                .iter()
                .filter(|x| !x.recalls.is_empty())
                .count();
            let voided: usize = b.payload.batches.iter().map(|x| x.voided.len()).sum();
            println!(
                "bundle {}: {} batches ({recalled} recalled), {voided} voided stamps, {} keys, signed by {}",
                output.display(),
                b.payload.batches.len(),
                b.payload.keys.keys.len(),
                b.kid
            );
            Ok(ExitCode::SUCCESS)
        }
        BundleCommand::Trust {
            fingerprint,
            keys,
            url,
        } => {
            let set = match (keys, url) {
                (Some(path), _) => crate::codes::KeySet::read(&path)?,
                (None, Some(url)) => fetch_key_set(&agent(), &url)?,
                (None, None) => anyhow::bail!("give --keys FILE or --url URL"),
            };
            let found = set.fingerprint();
            let wanted = fingerprint
                .trim()
                .to_ascii_lowercase()
                .replace([' ', ':'], "-");
            if found != wanted {
                anyhow::bail!(
                    "the key set's fingerprint is {found}, not {wanted}: it is not the service's key set; nothing pinned"
                );
            }
            let store = trust_store();
            pin(&store, &set)?;
            println!(
                "pinned {} keys (fingerprint {found}) in {}",
                set.keys.len(),
                store.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        BundleCommand::Sync { checks, url, token } => sync(&checks, &url, token.as_deref()),
    }
}

/// Where the kit keeps the key set it trusts: `TEM_TRUST_STORE`, else
/// `$XDG_CONFIG_HOME/tem/trusted-keys.json` (`~/.config/tem/…`). A place
/// the inspector controls, never next to a bundle someone hands over.
pub fn trust_store() -> PathBuf {
    if let Some(path) = std::env::var_os("TEM_TRUST_STORE") {
        return path.into();
    }
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("tem")
        .join("trusted-keys.json")
}

/// Writes the pinned key set (mode 600, replaced atomically).
fn pin(store: &Path, set: &crate::codes::KeySet) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = store.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = store.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(serde_json::to_string_pretty(set)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, store).with_context(|| format!("writing {}", store.display()))?;
    Ok(())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn fetch_key_set(agent: &ureq::Agent, url: &str) -> anyhow::Result<crate::codes::KeySet> {
    let endpoint = format!("{}/.well-known/tem-keys.json", url.trim_end_matches('/'));
    let mut resp = agent
        .get(&endpoint)
        .call()
        .with_context(|| format!("GET {endpoint}"))?;
    if resp.status() != 200 {
        anyhow::bail!("GET {endpoint}: {}", resp.status());
    }
    let text = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .with_context(|| format!("GET {endpoint}"))?;
    let set: crate::codes::KeySet =
        serde_json::from_str(&text).with_context(|| format!("{endpoint}: not a key set"))?;
    if set.format != crate::codes::keyring::KEY_SET_FORMAT || set.decoded().count() == 0 {
        anyhow::bail!("{endpoint}: not a tem key set");
    }
    Ok(set)
}

/// The first sync pins the service's key set; later ones follow its
/// rotations. Only after the token was accepted: the service that knows
/// this inspector's token is the one to trust.
fn pin_on_sync(agent: &ureq::Agent, url: &str, token: &str) -> anyhow::Result<()> {
    let endpoint = format!("{}/api/v1/inspections", url.trim_end_matches('/'));
    let resp = agent
        .get(&endpoint)
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .with_context(|| format!("GET {endpoint}"))?;
    if resp.status() != 200 {
        anyhow::bail!(
            "the service refused the token ({}); nothing uploaded",
            resp.status()
        );
    }
    let set = fetch_key_set(agent, url)?;
    let store = trust_store();
    let before = crate::codes::KeySet::read(&store).ok();
    if before.as_ref() != Some(&set) {
        pin(&store, &set)?;
        match before {
            None => println!(
                "pinned the key set of {url} (fingerprint {}) in {}",
                set.fingerprint(),
                store.display()
            ),
            Some(_) => println!(
                "updated the pinned key set of {url} (fingerprint {})",
                set.fingerprint()
            ),
        }
    }
    Ok(())
}

/// Options of `tem verify` for offline checking with a bundle.
pub struct OfflineOptions<'a> {
    pub bundle: &'a Path,
    pub trust: Option<&'a Path>,
    pub max_age_days: u32,
    pub place: Option<String>,
    pub province: Option<String>,
    pub checks: Option<PathBuf>,
    pub json: bool,
}

/// The default checks file of a bundle: BUNDLE.checks.jsonl.
pub fn checks_path(bundle: &Path) -> PathBuf {
    let mut name = bundle.as_os_str().to_owned();
    name.push(".checks.jsonl");
    PathBuf::from(name)
}

/// `tem verify --bundle`: checks `texts` ((source, text) pairs) with no
/// network and appends one record per check to the checks file.
pub fn verify_offline(
    o: OfflineOptions<'_>,
    texts: &[(String, String)],
) -> anyhow::Result<ExitCode> {
    let b = open_trusted(&o)?;
    let created = b.created_at()?;
    let now = jiff::Timestamp::now();
    let age = now.duration_since(created);
    eprintln!(
        "bundle from {} made {} ago ({} batches, signed by trusted key {})",
        b.payload.service,
        bundle::age_text(age),
        b.payload.batches.len(),
        b.kid,
    );
    if age.as_hours() > i64::from(o.max_age_days) * 24 {
        eprintln!(
            "warning: the bundle is older than {} days: recalls and voids since {} are not known; export a new one when online",
            o.max_age_days,
            created.strftime("%Y-%m-%d %H:%M UTC")
        );
    }
    let checker = OfflineChecker::new(&b, jiff::Zoned::now().date());
    let checks_file = o.checks.clone().unwrap_or_else(|| checks_path(o.bundle));
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&checks_file)
        .with_context(|| format!("opening {}", checks_file.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut all_genuine = true;
    for (source, text) in texts {
        let v = checker.check(text);
        all_genuine &= v.verdict == crate::domain::scan::Verdict::Genuine;
        let record = CheckRecord {
            at: now.to_string(),
            code: text.clone(),
            verdict: v.verdict.to_string(),
            serial: v.serial.clone(),
            batch: v.batch.map(|x| x.id),
            place: o.place.clone(),
            province: o.province.clone(),
            bundle_created_at: b.payload.created_at.clone(),
        };
        serde_json::to_writer(&mut log, &record)?;
        writeln!(log)?;
        if o.json {
            serde_json::to_writer(&mut out, &v)?;
            writeln!(out)?;
            continue;
        }
        print_verdict(&mut out, &v, source, text)?;
    }
    out.flush()?;
    log.sync_all()?;
    eprintln!(
        "{} checks recorded in {} (upload them with `tem bundle sync`)",
        texts.len(),
        checks_file.display()
    );
    Ok(if all_genuine {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The bundle, checked against the key set the inspector trusts: --trust,
/// or the one pinned in this kit; never a key from the bundle itself.
fn open_trusted(o: &OfflineOptions<'_>) -> anyhow::Result<Bundle> {
    let text = std::fs::read_to_string(o.bundle)
        .with_context(|| format!("reading {}", o.bundle.display()))?;
    // Trust comes from the inspector's side only: --trust, or the key set
    // pinned in this kit; never from the bundle itself.
    let store = trust_store();
    let trust_file = o.trust.map(Path::to_path_buf).unwrap_or(store.clone());
    if !trust_file.exists() {
        anyhow::bail!(
            "{}: no trusted key set in this kit ({}); pin the service's keys once with `tem bundle trust --fingerprint …` or `tem bundle sync`, or pass --trust KEYSET; refusing to use the bundle",
            o.bundle.display(),
            store.display()
        );
    }
    let trusted = crate::codes::KeySet::read(&trust_file).context("the trusted key set")?;
    Bundle::open(&text, &trusted)
        .map_err(|e| anyhow::anyhow!("{}: {e}; refusing to use it", o.bundle.display()))
}

/// One offline verdict as a line: verdict, serial, batch, recall, caveat.
fn print_verdict(
    out: &mut impl Write,
    v: &bundle::OfflineVerdict<'_>,
    source: &str,
    text: &str,
) -> std::io::Result<()> {
    write!(out, "{:<12}", v.verdict)?;
    if let Some(s) = &v.serial {
        write!(out, " serial {s}")?;
    }
    if let Some(batch) = v.batch {
        write!(
            out,
            " — {} · lô {} · {} ({}) · SX {}{}",
            batch.product,
            batch.lot_code,
            batch.producer,
            batch.origin,
            batch.production_date,
            batch
                .expiry_date
                .as_deref()
                .map(|e| format!(" · HSD {e}"))
                .unwrap_or_default()
        )?;
    }
    if let Some(n) = &v.notice {
        write!(out, " — THU HỒI: {n}")?;
    }
    if let Some(c) = &v.caveat {
        write!(out, " ({c})")?;
    }
    if text.is_empty() {
        write!(out, " — no QR code found [{source}]")?;
    }
    writeln!(out)
}

/// The place a check was made, for grouping into inspections.
type Group = (Option<String>, Option<String>, String);

fn sync(path: &Path, url: &str, token: Option<&str>) -> anyhow::Result<ExitCode> {
    let token = token.context("give --token (an inspector or admin token) or TEM_TOKEN")?;
    let agent = agent();
    pin_on_sync(&agent, url, token)?;
    let records = read_checks(path)?;
    if records.is_empty() {
        println!("nothing to upload: {} has no checks", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    // One inspection per place (and bundle), in the order first seen.
    let mut groups: Vec<(Group, Vec<CheckRecord>)> = Vec::new();
    for r in records {
        let key = (
            r.place.clone(),
            r.province.clone(),
            r.bundle_created_at.clone(),
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    let endpoint = format!("{}/api/v1/inspections", url.trim_end_matches('/'));
    let mut uploaded = 0;
    while let Some(((place, province, bundle_at), list)) = groups.first().cloned() {
        let body = serde_json::json!({
            "place": place.clone().unwrap_or_else(|| "(không ghi địa điểm / place not given)".into()),
            "province": province,
            "at": list[0].at,
            "offline": {
                "bundle_created_at": bundle_at,
                "checks": list.iter().map(|r| serde_json::json!({
                    "code": r.code, "at": r.at, "verdict": r.verdict,
                })).collect::<Vec<_>>(),
            },
        });
        let mut resp = agent
            .post(&endpoint)
            .header("Authorization", format!("Bearer {token}"))
            .send_json(&body)
            .with_context(|| format!("POST {endpoint}"))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        if status != 201 {
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or(text);
            anyhow::bail!(
                "the service refused the checks ({status}): {message}; {uploaded} inspections uploaded, the rest stay in {}",
                path.display()
            );
        }
        let id = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["id"].as_i64())
            .unwrap_or_default();
        println!(
            "inspection {id}: {} checks at {}",
            list.len(),
            place.as_deref().unwrap_or("(no place)")
        );
        groups.remove(0);
        uploaded += 1;
        // Keep only what is not uploaded yet, so nothing is sent twice.
        write_checks(path, groups.iter().flat_map(|(_, l)| l.iter()))?;
    }
    println!(
        "{uploaded} inspections uploaded; {} is empty now",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read_checks(path: &Path) -> anyhow::Result<Vec<CheckRecord>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: not a check record", path.display(), n + 1))?,
        );
    }
    Ok(out)
}

/// Replaces the checks file atomically (write a temporary file, rename).
fn write_checks<'a>(
    path: &Path,
    records: impl Iterator<Item = &'a CheckRecord>,
) -> anyhow::Result<()> {
    let tmp = path.with_extension("jsonl.tmp");
    {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?,
        );
        for r in records {
            serde_json::to_writer(&mut f, r)?;
            writeln!(f)?;
        }
        f.into_inner()
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.display()))?
            .sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}
