//! The audit log as a tiled transparency log (C2SP tlog-tiles, signed-note,
//! tlog-checkpoint): tile paths, the checkpoint's note text, and note key
//! identifiers. Pure functions; `service::tlog` serves them.

use sha2::{Digest, Sha256};

/// Hashes in a full tile (and entries in a full bundle).
pub const TILE_WIDTH: u64 = 256;
/// Levels of the tree a tile spans (`TILE_WIDTH` = 2^8).
pub const TILE_HEIGHT: u32 = 8;
/// The signature type byte of Ed25519 note signatures.
pub const ED25519: u8 = 0x01;

/// A tile or an entry bundle, as its path names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`: hashes of subtrees at tree level 8·L.
    Hashes {
        /// The tile's level.
        level: u8,
        /// Its index in the level.
        index: u64,
        /// How many hashes: 256 for a full tile.
        width: u64,
    },
    /// `tile/entries/<N>[.p/<W>]`: the entries themselves.
    Entries {
        /// The bundle's index.
        index: u64,
        /// How many entries: 256 for a full bundle.
        width: u64,
    },
}

impl TilePath {
    /// Reads a path under the log's prefix (`tile/0/x001/234.p/17`); `None`
    /// for anything the spec does not allow (leading zeroes, a width of 0
    /// or 256 after `.p/`, a level above 63…).
    pub fn parse(path: &str) -> Option<TilePath> {
        let rest = path.strip_prefix("tile/")?;
        let (level, rest) = rest.split_once('/')?;
        let (index, width) = match rest.split_once(".p/") {
            Some((index, w)) => {
                let w = number(w)?;
                ((1..TILE_WIDTH).contains(&w)).then_some((index, w))?
            }
            None => (rest, TILE_WIDTH),
        };
        let index = tile_index(index)?;
        if level == "entries" {
            return Some(TilePath::Entries { index, width });
        }
        let level = number(level).filter(|l| *l <= 63)? as u8;
        Some(TilePath::Hashes {
            level,
            index,
            width,
        })
    }

    /// The path, as `parse` reads it.
    pub fn path(&self) -> String {
        let (head, index, width) = match *self {
            TilePath::Hashes {
                level,
                index,
                width,
            } => (level.to_string(), index, width),
            TilePath::Entries { index, width } => ("entries".to_string(), index, width),
        };
        let mut parts: Vec<String> = Vec::new();
        let mut n = index;
        loop {
            parts.push(format!("{:03}", n % 1000));
            n /= 1000;
            if n == 0 {
                break;
            }
        }
        parts.reverse();
        let last = parts.len() - 1;
        for p in &mut parts[..last] {
            p.insert(0, 'x');
        }
        let partial = match width {
            TILE_WIDTH => String::new(),
            w => format!(".p/{w}"),
        };
        format!("tile/{head}/{}{partial}", parts.join("/"))
    }
}

/// A decimal number without leading zeroes.
fn number(s: &str) -> Option<u64> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse().ok()).flatten()
}

/// `x001/x234/067` → 1234067: 3-digit elements, all but the last `x`-led.
fn tile_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() > 7 {
        return None;
    }
    let mut n: u64 = 0;
    for (i, p) in parts.iter().enumerate() {
        let digits = if i + 1 < parts.len() {
            p.strip_prefix('x')?
        } else {
            p
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n
            .checked_mul(1000)?
            .checked_add(digits.parse::<u64>().ok()?)?;
    }
    Some(n)
}

/// The checkpoint's note text (c2sp.org/tlog-checkpoint): origin, size and
/// the root hash in standard base64, each on its line.
pub fn checkpoint_text(origin: &str, size: u64, root: &[u8; 32]) -> String {
    let root = data_encoding::BASE64.encode(root);
    format!("{origin}\n{size}\n{root}\n")
}

/// A note key's ID: SHA-256(name ‖ 0x0A ‖ type ‖ public key), first 4 bytes.
pub fn key_id(name: &str, kind: u8, public_key: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', kind]);
    h.update(public_key);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The verifier key a note client configures: `name+hex(key ID)+base64(type ‖ key)`.
pub fn verifier_key(name: &str, public_key: &[u8; 32]) -> String {
    let mut typed = vec![ED25519];
    typed.extend_from_slice(public_key);
    format!(
        "{name}+{}+{}",
        data_encoding::HEXLOWER.encode(&key_id(name, ED25519, public_key)),
        data_encoding::BASE64.encode(&typed)
    )
}

/// The signature line of a note: `— name base64(key ID ‖ signature)`.
pub fn signature_line(name: &str, public_key: &[u8; 32], signature: &[u8; 64]) -> String {
    let mut sig = key_id(name, ED25519, public_key).to_vec();
    sig.extend_from_slice(signature);
    format!("\u{2014} {name} {}\n", data_encoding::BASE64.encode(&sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_read_and_write_as_the_spec_spells_them() {
        let t = TilePath::parse("tile/1/x001/x234/067.p/8").unwrap();
        assert_eq!(
            t,
            TilePath::Hashes {
                level: 1,
                index: 1_234_067,
                width: 8
            }
        );
        assert_eq!(t.path(), "tile/1/x001/x234/067.p/8");
        assert_eq!(
            TilePath::parse("tile/entries/000").unwrap(),
            TilePath::Entries {
                index: 0,
                width: 256
            }
        );
        assert_eq!(
            TilePath::Entries {
                index: 1000,
                width: 256
            }
            .path(),
            "tile/entries/x001/000"
        );
        for bad in [
            "tile/01/000",
            "tile/0/1",
            "tile/0/001/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/08",
            "tile/64/000",
            "tile/0/x000",
            "tile/0/",
            "tiles/0/000",
        ] {
            assert_eq!(TilePath::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_specs_example_verifier_key_id_is_reproduced() {
        // signed-note's example: example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k
        let typed = data_encoding::BASE64
            .decode(b"AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
            .unwrap();
        let key: [u8; 32] = typed[1..].try_into().unwrap();
        assert_eq!(
            verifier_key("example.com/foo", &key),
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
        );
    }
}
