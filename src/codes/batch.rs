//! Many Ed25519 signatures at once, under a small set of known keys: one
//! batch equation for a group, with the groups that fail split in halves
//! until the bad signatures are found.
//!
//! For signatures (R_i, s_i) on messages M_i under keys A_i, with random
//! 128-bit z_i and k_i = SHA-512(R_i ‖ A_i ‖ M_i), the group holds when
//!
//! ```text
//! [−Σ z_i·s_i] B + Σ_A [Σ_{i: A_i = A} z_i·k_i] A + Σ [z_i] R_i = 0
//! ```
//!
//! the equation `ed25519_dalek::verify_batch` checks (cofactorless, random
//! coefficients), written so that the key terms collapse into one point per
//! key of the set: tem's scans are all signed by one or two keys, and B and
//! those keys sit in one precomputed table (`VartimeEdwardsPrecomputation`),
//! so a signature costs the decompression of R, one hash and a 128-bit
//! share of a multiscalar multiplication: about a quarter of a
//! `verify_strict`, against about half with `verify_batch` at the group
//! sizes scans come in (docs/benchmarks.md). The z_i come from the
//! operating system's CSPRNG, so a forger cannot choose signatures that
//! cancel out.
//!
//! The final answer for any signature in a failing group is always
//! `verify_strict`'s: groups of a few that fail are checked one by one.
//! Signatures that pass an equation but not `verify_strict` exist only as
//! re-encodings of a valid signature over the same message (a torsion
//! component added to R, which this cofactorless equation refuses unless
//! the random coefficient cancels it, as in `verify_batch`); they need a
//! signature the key's owner made, and the scan path also requires the code
//! to equal the registry's bytes, so they are never genuine there.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint, VartimeEdwardsPrecomputation};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimePrecomputedMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

/// One signature to check: the signed message, the signature and which
/// key of the `Keys` it claims.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The signed message (`codes::format::signed_message`).
    pub message: [u8; 33],
    /// Its signature.
    pub signature: Signature,
    /// Index of the key in `Keys`.
    pub key: usize,
}

/// The keys claims are checked against, with B and every key in one
/// precomputed table (built once per key set, reused for every group).
pub struct Keys {
    keys: Vec<VerifyingKey>,
    /// [B, A_0, A_1, …]; `None` when the set is empty.
    table: Option<VartimeEdwardsPrecomputation>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// The keys as one precomputed table.
    pub fn new(keys: Vec<VerifyingKey>) -> Keys {
        let table = (!keys.is_empty()).then(|| {
            let points = std::iter::once(ED25519_BASEPOINT_POINT)
                .chain(keys.iter().map(VerifyingKey::to_edwards));
            VartimeEdwardsPrecomputation::new(points)
        });
        Keys { keys, table }
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Groups of this many or fewer that fail their equation are checked one by one.
const SINGLES_BELOW: usize = 4;

/// What checking a list of claims found, and what it cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// Whether each claim holds, in the claims' order.
    pub ok: Vec<bool>,
    /// Batch equations computed.
    pub equations: usize,
    /// Claims checked on their own with `verify_strict`.
    pub single_checks: usize,
}

/// Checks every claim, `chunk` claims per first equation (1 checks each one
/// on its own; a large chunk is cheapest when nearly every signature is
/// good, a small one when many are bad).
pub fn verify_claims(keys: &Keys, claims: &[Claim], chunk: usize) -> Checked {
    let mut out = Checked {
        ok: vec![true; claims.len()],
        ..Checked::default()
    };
    let chunk = chunk.max(1);
    for (i, part) in claims.chunks(chunk).enumerate() {
        bisect(keys, part, i * chunk, &mut out);
    }
    out
}

fn single(keys: &Keys, claim: &Claim, at: usize, out: &mut Checked) {
    out.single_checks += 1;
    out.ok[at] = keys.keys.get(claim.key).is_some_and(|key| {
        !key.is_weak() && key.verify_strict(&claim.message, &claim.signature).is_ok()
    });
}

fn bisect(keys: &Keys, claims: &[Claim], start: usize, out: &mut Checked) {
    match claims.len() {
        0 => return,
        1 => return single(keys, &claims[0], start, out),
        _ => {}
    }
    out.equations += 1;
    if equation_holds(keys, claims) {
        return;
    }
    if claims.len() <= SINGLES_BELOW {
        for (i, claim) in claims.iter().enumerate() {
            single(keys, claim, start + i, out);
        }
        return;
    }
    let half = claims.len() / 2;
    bisect(keys, &claims[..half], start, out);
    bisect(keys, &claims[half..], start + half, out);
}

/// The batch equation of the module doc for one group. False when any R
/// does not decompress, any s is not canonical, or any key is unknown or
/// weak: the group is then split and its members judged one by one.
fn equation_holds(keys: &Keys, claims: &[Claim]) -> bool {
    let Some(table) = &keys.table else {
        return false;
    };
    let mut b_coefficient = Scalar::ZERO;
    let mut key_coefficients = vec![Scalar::ZERO; keys.keys.len()];
    let mut zs = Vec::with_capacity(claims.len());
    let mut rs: Vec<EdwardsPoint> = Vec::with_capacity(claims.len());
    for claim in claims {
        let Some(key) = keys.keys.get(claim.key).filter(|k| !k.is_weak()) else {
            return false;
        };
        let Some(r) = CompressedEdwardsY(*claim.signature.r_bytes()).decompress() else {
            return false;
        };
        let Some(s) =
            Option::<Scalar>::from(Scalar::from_canonical_bytes(*claim.signature.s_bytes()))
        else {
            return false;
        };
        let mut hash = Sha512::new();
        hash.update(claim.signature.r_bytes());
        hash.update(key.as_bytes());
        hash.update(claim.message);
        let k = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
        let z = Scalar::from(rand::random::<u128>());
        b_coefficient -= z * s;
        key_coefficients[claim.key] += z * k;
        zs.push(z);
        rs.push(r);
    }
    let statics: Vec<Scalar> = std::iter::once(b_coefficient)
        .chain(key_coefficients)
        .collect();
    table
        .vartime_mixed_multiscalar_mul(&statics, &zs, &rs)
        .is_identity()
}

/// The first chunk size for a stream whose recent share of bad signatures
/// is `bad_share` (0..=1): the whole group while bad signatures are rare, and
/// smaller chunks as they become common, down to one-by-one checks when
/// about half are bad (a flood of forged codes), where bisection would cost
/// more than checking each.
pub fn chunk_for(bad_share: f64, group: usize) -> usize {
    if bad_share.is_nan() || bad_share <= 1.0 / 512.0 {
        return group.max(1);
    }
    // Expected bad signatures per chunk kept near one half.
    let target = (0.5 / bad_share).floor().max(1.0) as usize;
    let mut chunk = 1;
    while chunk * 2 <= target {
        chunk *= 2;
    }
    chunk.clamp(1, group.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

    fn signer(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[i; 32])
    }

    /// `n` claims under keys 0 and 1 of a two-key set; those in `bad` are
    /// spoiled in one of several ways.
    fn claims(n: usize, bad: &[usize]) -> (Keys, Vec<Claim>) {
        let signers = [signer(3), signer(4)];
        let keys = Keys::new(signers.iter().map(|s| s.verifying_key()).collect());
        let claims = (0..n)
            .map(|i| {
                let key = i % 2;
                let mut message = [0u8; 33];
                message[..8].copy_from_slice(&(i as u64).to_be_bytes());
                let mut signature = signers[key].sign(&message);
                if bad.contains(&i) {
                    match i % 4 {
                        // Signed, but for another message.
                        0 => message[32] ^= 1,
                        // The other key's signature.
                        1 => signature = signers[0].sign(&message),
                        // Another signature's R with this s.
                        2 => {
                            let other = signers[key].sign(b"other");
                            let mut bytes = signature.to_bytes();
                            bytes[..32].copy_from_slice(&other.r_bytes()[..]);
                            signature = Signature::from_bytes(&bytes);
                        }
                        // Claims a key the set does not have.
                        _ => {
                            return Claim {
                                message,
                                signature,
                                key: 9,
                            };
                        }
                    }
                }
                Claim {
                    message,
                    signature,
                    key,
                }
            })
            .collect();
        (keys, claims)
    }

    #[test]
    fn every_bad_signature_is_found_in_any_chunking() {
        let bad = [0, 5, 6, 7, 8, 63, 200, 255];
        let (keys, c) = claims(256, &bad);
        for chunk in [1, 3, 16, 64, 256, 1000] {
            let ok = verify_claims(&keys, &c, chunk).ok;
            let found: Vec<usize> = (0..256).filter(|&i| !ok[i]).collect();
            assert_eq!(found, bad, "chunk {chunk}");
        }
        assert!(verify_claims(&keys, &[], 8).ok.is_empty());
        let empty = Keys::new(Vec::new());
        assert_eq!(verify_claims(&empty, &c[..3], 3).ok, [false; 3]);
    }

    #[test]
    fn good_groups_cost_one_equation_and_bad_ones_few_checks() {
        let (keys, good) = claims(256, &[]);
        let checked = verify_claims(&keys, &good, 256);
        assert!(checked.ok.iter().all(|&b| b));
        assert_eq!((checked.equations, checked.single_checks), (1, 0));
        // One bad signature in 256: 1 + 2 × 6 equations down to a group of 4.
        let (keys, one_bad) = claims(256, &[100]);
        let checked = verify_claims(&keys, &one_bad, 256);
        assert_eq!(checked.ok.iter().filter(|&&b| !b).count(), 1);
        assert!(checked.single_checks <= 4, "{checked:?}");
        assert!(checked.equations <= 13, "{}", checked.equations);
        // Chunks of one are strict single checks, no equations.
        let (keys, few) = claims(8, &[]);
        let checked = verify_claims(&keys, &few, 1);
        assert_eq!((checked.equations, checked.single_checks), (0, 8));
    }

    /// A valid signature re-encoded with a torsion point added to R is
    /// refused by one-by-one checks (as `verify_strict` refuses it), and by
    /// an equation unless the random coefficient cancels the torsion (1 in 8
    /// for an order-8 point): batch equations share that with
    /// `ed25519_dalek::verify_batch`.
    #[test]
    fn a_torsion_component_in_r_is_refused_by_single_checks_and_most_equations() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        let s = signer(5);
        let keys = Keys::new(vec![s.verifying_key()]);
        let message = [1u8; 33];
        let good = s.sign(&message);
        let r = CompressedEdwardsY(*good.r_bytes()).decompress().unwrap();
        let mut bytes = good.to_bytes();
        bytes[..32].copy_from_slice((r + EIGHT_TORSION[1]).compress().as_bytes());
        let malleated = Signature::from_bytes(&bytes);
        assert!(
            s.verifying_key()
                .verify_strict(&message, &malleated)
                .is_err()
        );
        let claims: Vec<Claim> = (0..16)
            .map(|i| Claim {
                message,
                signature: if i == 7 { malleated } else { good },
                key: 0,
            })
            .collect();
        let ok = verify_claims(&keys, &claims, 1).ok;
        assert!(!ok[7]);
        assert_eq!(ok.iter().filter(|&&b| b).count(), 15);
        let refused = (0..64)
            .filter(|_| !verify_claims(&keys, &claims, 16).ok[7])
            .count();
        assert!(refused >= 40, "refused in only {refused} of 64 equations");
    }

    #[test]
    fn chunks_shrink_as_forgeries_grow() {
        assert_eq!(chunk_for(0.0, 256), 256);
        assert_eq!(chunk_for(f64::NAN, 256), 256);
        assert_eq!(chunk_for(0.5, 256), 1);
        assert_eq!(chunk_for(1.0, 256), 1);
        assert_eq!(chunk_for(0.05, 256), 8);
        assert_eq!(chunk_for(0.01, 256), 32);
        assert_eq!(chunk_for(0.01, 16), 16);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Whatever the bytes, a claim is accepted exactly when
        /// `verify_strict` accepts it.
        #[test]
        fn same_answers_as_verify_strict(
            flips in proptest::collection::vec((0usize..24, 0usize..97, 0u8..=255), 0..6),
            chunk in 1usize..32,
        ) {
            let (keys, mut c) = claims(24, &[]);
            for (i, at, value) in flips {
                let mut bytes = c[i].signature.to_bytes();
                match at {
                    0..64 => bytes[at] ^= value,
                    64..97 => c[i].message[at - 64] ^= value,
                    _ => unreachable!(),
                }
                c[i].signature = Signature::from_bytes(&bytes);
            }
            let expected: Vec<bool> = c
                .iter()
                .map(|cl| keys.keys[cl.key].verify_strict(&cl.message, &cl.signature).is_ok())
                .collect();
            prop_assert_eq!(verify_claims(&keys, &c, chunk).ok, expected);
        }
    }
}
