//! `tem audit monitor`: checks a tem log (or any C2SP tiled log of the
//! same hashing) from its public tiles alone, and that it only ever grew.
//! It verifies the checkpoint's signed note with a pinned verifier key,
//! reads every leaf tile and entry bundle, checks each entry against its
//! leaf and the leaves against the checkpoint's root, and, against the
//! checkpoint it kept from its last run, that the tree of that size still
//! has the same root (a fork or a rewrite otherwise).

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::audit::merkle;
use crate::audit::tiles::{self, ED25519, TILE_WIDTH, TilePath};

/// What a monitor keeps between runs (a small JSON file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// The log's verifier key, pinned at the first run.
    pub verifier_key: String,
    /// The checkpoint's origin.
    pub origin: String,
    /// How many entries the last checkpoint covered.
    pub size: u64,
    /// Its root, base64.
    pub root: String,
}

/// What one run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The log now.
    pub now: Seen,
    /// The size the last run saw, if there was one.
    pub before: Option<u64>,
    /// Entries checked against their leaves.
    pub entries: u64,
    /// Everything wrong; empty: the log is well formed and only grew.
    pub findings: Vec<String>,
}

/// A fetch of a path under the log's URL (`/log/checkpoint`, …).
pub type Fetch<'a> = &'a dyn Fn(&str) -> Result<Vec<u8>, String>;

/// Checks the log once. `pinned` is the verifier key to trust (from the
/// last run, or given); `before`, what the last run saw.
pub fn check(fetch: Fetch<'_>, pinned: &str, before: Option<&Seen>) -> Result<Report, String> {
    let note = fetch("/log/checkpoint")?;
    let (origin, size, root) = open_checkpoint(&note, pinned)?;
    let mut findings = Vec::new();
    let (leaves, entries) = leaves(fetch, size, &mut findings)?;
    let root_b64 = data_encoding::BASE64.encode(&root);
    if merkle::root(&leaves) != root {
        findings.push(format!(
            "the tiles do not give the checkpoint's root for {size} entries"
        ));
    }
    if let Some(b) = before {
        if b.origin != origin {
            findings.push(format!("the origin changed from {} to {origin}", b.origin));
        }
        if size < b.size {
            findings.push(format!("the log shrank from {} to {size} entries", b.size));
        } else if data_encoding::BASE64.encode(&merkle::root(&leaves[..b.size as usize])) != b.root
        {
            findings.push(format!(
                "the first {} entries no longer give the root seen last time: the log was rewritten or forked",
                b.size
            ));
        }
    }
    Ok(Report {
        now: Seen {
            verifier_key: pinned.to_string(),
            origin,
            size,
            root: root_b64,
        },
        before: before.map(|b| b.size),
        entries,
        findings,
    })
}

/// The checkpoint's origin, size and root, once its signature by `vkey`
/// holds (c2sp.org/signed-note, Ed25519).
pub fn open_checkpoint(note: &[u8], vkey: &str) -> Result<(String, u64, [u8; 32]), String> {
    let note = std::str::from_utf8(note).map_err(|_| "the checkpoint is not UTF-8")?;
    let (name, key) = read_vkey(vkey)?;
    let split = note
        .rfind("\n\n")
        .ok_or("the checkpoint has no signature lines")?;
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    let id = tiles::key_id(&name, ED25519, key.as_bytes());
    let signed = sigs.lines().any(|line| {
        let Some(rest) = line.strip_prefix(&format!("\u{2014} {name} ")) else {
            return false;
        };
        let Ok(bytes) = data_encoding::BASE64.decode(rest.as_bytes()) else {
            return false;
        };
        bytes.len() == 68
            && bytes[..4] == id
            && Signature::from_slice(&bytes[4..])
                .is_ok_and(|s| key.verify_strict(text.as_bytes(), &s).is_ok())
    });
    if !signed {
        return Err(format!(
            "the checkpoint is not signed by the pinned key {vkey} (did the log's key change?)"
        ));
    }
    let mut lines = text.lines();
    let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
        return Err("the checkpoint has fewer than three lines".into());
    };
    let size: u64 = size
        .parse()
        .map_err(|_| "the checkpoint's size is not a number")?;
    let root: [u8; 32] = data_encoding::BASE64
        .decode(root.as_bytes())
        .ok()
        .and_then(|r| r.try_into().ok())
        .ok_or("the checkpoint's root is not a base64 SHA-256")?;
    Ok((origin.to_string(), size, root))
}

/// A verifier key's name and Ed25519 key (`name+id+base64(0x01 ‖ key)`).
fn read_vkey(vkey: &str) -> Result<(String, VerifyingKey), String> {
    let bad = || format!("{vkey:?} is not an Ed25519 note verifier key");
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let typed = data_encoding::BASE64
        .decode(key.as_bytes())
        .map_err(|_| bad())?;
    let (kind, raw) = typed.split_first().ok_or_else(bad)?;
    let raw: [u8; 32] = raw.try_into().map_err(|_| bad())?;
    if *kind != ED25519 || id != data_encoding::HEXLOWER.encode(&tiles::key_id(name, ED25519, &raw))
    {
        return Err(bad());
    }
    Ok((
        name.to_string(),
        VerifyingKey::from_bytes(&raw).map_err(|_| bad())?,
    ))
}

/// Every leaf of the tree of `size` entries from the level-0 tiles, each
/// entry of the bundles checked against its leaf; and how many entries.
fn leaves(
    fetch: Fetch<'_>,
    size: u64,
    findings: &mut Vec<String>,
) -> Result<(Vec<merkle::Hash>, u64), String> {
    let mut leaves = Vec::with_capacity(size.min(1 << 24) as usize);
    let mut index = 0;
    while index * TILE_WIDTH < size {
        let width = (size - index * TILE_WIDTH).min(TILE_WIDTH);
        let tile = fetch(&format!(
            "/log/{}",
            TilePath::Hashes {
                level: 0,
                index,
                width
            }
            .path()
        ))?;
        let bundle = fetch(&format!(
            "/log/{}",
            TilePath::Entries { index, width }.path()
        ))?;
        if tile.len() as u64 != 32 * width {
            return Err(format!(
                "tile 0/{index} is {} bytes, not {}",
                tile.len(),
                32 * width
            ));
        }
        let mut at = 0usize;
        for (i, hash) in tile.chunks_exact(32).enumerate() {
            let len = bundle
                .get(at..at + 2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                .ok_or_else(|| format!("entry bundle {index} ends early"))?;
            let data = bundle
                .get(at + 2..at + 2 + len)
                .ok_or_else(|| format!("entry bundle {index} ends early"))?;
            at += 2 + len;
            let seq = index * TILE_WIDTH + i as u64 + 1;
            if merkle::leaf_hash(data) != hash {
                findings.push(format!(
                    "entry {seq} does not match its leaf hash (rewritten?)"
                ));
            }
            leaves.push(hash.try_into().map_err(|_| "a tile hash is not 32 bytes")?);
        }
        index += 1;
    }
    Ok((leaves, size))
}
