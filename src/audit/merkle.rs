//! The Merkle tree of RFC 6962 (Certificate Transparency) / RFC 9162 §2.1:
//! tree hashes, inclusion proofs and consistency proofs, and their
//! verification. Leaves are hashed with a 0x00 prefix and inner nodes with
//! 0x01, so a leaf can never pass for a node.
//!
//! Proofs are computed from perfect subtrees (`Subtrees`): leaves in memory
//! for tests and small logs, the nodes the audit log stores for big ones.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf's or a subtree's.
pub type Hash = [u8; 32];

/// The hash of an entry: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an inner node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (n ≥ 2): where RFC 6962 splits.
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// Where the hashes of perfect subtrees come from: computed from leaves in
/// memory, or read from the nodes the audit log stores as it grows. Every
/// subtree RFC 6962 needs is a run of perfect, aligned subtrees, so proofs
/// and heads cost O(log n) lookups with stored nodes.
pub trait Subtrees {
    /// Why reading a subtree failed.
    type Error;
    /// The hash of leaves `index·2^level .. (index+1)·2^level`.
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// Leaves in memory.
impl Subtrees for &[Hash] {
    type Error = std::convert::Infallible;
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        let width = 1usize << level;
        let start = index as usize * width;
        Ok(root(&self[start..start + width]))
    }
}

/// MTH of leaves `start..end` (RFC 6962), from perfect subtrees.
pub fn range_hash<S: Subtrees>(s: &mut S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n == 0 {
        return Ok(Sha256::digest([]).into());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return s.perfect(n.trailing_zeros(), start / n);
    }
    let k = split(n as usize) as u64;
    let left = range_hash(s, start, start + k)?;
    let right = range_hash(s, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The tree head of these leaves (MTH); the hash of the empty string for none.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 6962 PATH).
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    let Ok(proof) = inclusion_proof_in(&mut { leaves }, index as u64, leaves.len() as u64);
    proof
}

/// The audit path of leaf `index` in the tree of the first `size` leaves.
pub fn inclusion_proof_in<S: Subtrees>(
    s: &mut S,
    index: u64,
    size: u64,
) -> Result<Option<Vec<Hash>>, S::Error> {
    if index >= size {
        return Ok(None);
    }
    let mut proof = Vec::new();
    path(s, 0, size, index, &mut proof)?;
    Ok(Some(proof))
}

fn path<S: Subtrees>(
    s: &mut S,
    start: u64,
    end: u64,
    m: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n as usize) as u64;
    if m < k {
        path(s, start, start + k, m, out)?;
        out.push(range_hash(s, start + k, end)?);
    } else {
        path(s, start + k, end, m - k, out)?;
        out.push(range_hash(s, start, start + k)?);
    }
    Ok(())
}

/// Checks that `leaf` is entry `index` of the tree of `size` entries whose
/// head is `head` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], head: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *head
}

/// The proof that the tree of the first `old` leaves is a prefix of the
/// tree of all `leaves` (RFC 6962 PROOF); `None` unless 0 < old ≤ len.
pub fn consistency_proof(leaves: &[Hash], old: usize) -> Option<Vec<Hash>> {
    let Ok(proof) = consistency_proof_in(&mut { leaves }, old as u64, leaves.len() as u64);
    proof
}

/// The proof that the tree of the first `old` leaves is a prefix of the
/// tree of the first `new` leaves; `None` unless 0 < old ≤ new.
pub fn consistency_proof_in<S: Subtrees>(
    s: &mut S,
    old: u64,
    new: u64,
) -> Result<Option<Vec<Hash>>, S::Error> {
    if old == 0 || old > new {
        return Ok(None);
    }
    let mut proof = Vec::new();
    subproof(s, 0, new, old, true, &mut proof)?;
    Ok(Some(proof))
}

fn subproof<S: Subtrees>(
    s: &mut S,
    start: u64,
    end: u64,
    m: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(range_hash(s, start, end)?);
        }
        return Ok(());
    }
    let k = split(n as usize) as u64;
    if m <= k {
        subproof(s, start, start + k, m, complete, out)?;
        out.push(range_hash(s, start + k, end)?);
    } else {
        subproof(s, start + k, end, m - k, false, out)?;
        out.push(range_hash(s, start, start + k)?);
    }
    Ok(())
}

/// The log's right edge while it is read in order: the perfect subtrees
/// of the leaves so far, so the head at any size costs O(log n) and a log
/// of a million entries is checked in one pass.
#[derive(Debug, Default, Clone)]
pub struct Frontier {
    /// (level, hash), levels strictly decreasing.
    stack: Vec<(u32, Hash)>,
    size: u64,
}

impl Frontier {
    /// Adds the next leaf.
    pub fn push(&mut self, leaf: Hash) {
        let (mut level, mut h) = (0u32, leaf);
        while let Some(&(top_level, top)) = self.stack.last() {
            if top_level != level {
                break;
            }
            self.stack.pop();
            h = node_hash(&top, &h);
            level += 1;
        }
        self.stack.push((level, h));
        self.size += 1;
    }

    /// How many leaves have been added.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// MTH of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(&(_, mut r)) = it.next() else {
            return Sha256::digest([]).into();
        };
        for (_, left) in it {
            r = node_hash(left, &r);
        }
        r
    }
}

/// Checks that the tree of `old` entries with head `old_head` is a prefix of
/// the tree of `new` entries with head `new_head` (RFC 9162 §2.1.4.2): the
/// log only grew.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_head: &Hash,
    new_head: &Hash,
    proof: &[Hash],
) -> bool {
    if old == 0 || old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_head == new_head;
    }
    // When `old` is a power of two its head is the first hash of the path.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_head);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && fr == *old_head && sr == *new_head
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
            .collect()
    }

    fn hex(h: &Hash) -> String {
        data_encoding::HEXLOWER.encode(h)
    }

    #[test]
    fn known_heads() {
        // RFC 6962: the empty tree's head is SHA-256 of the empty string,
        // and a one-entry tree's head is its leaf hash.
        assert_eq!(
            hex(&root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let l = leaves(3);
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
    }

    #[test]
    fn every_inclusion_proof_verifies_and_no_tampered_one_does() {
        for n in 1..=40 {
            let l = leaves(n);
            let head = root(&l);
            for m in 0..n {
                let proof = inclusion_proof(&l, m).unwrap();
                assert!(
                    verify_inclusion(&l[m], m as u64, n as u64, &proof, &head),
                    "n={n} m={m}"
                );
                // Another leaf, another index, another size, a changed path.
                let other = leaf_hash(b"forged");
                assert!(!verify_inclusion(&other, m as u64, n as u64, &proof, &head));
                if n > 1 {
                    assert!(!verify_inclusion(
                        &l[m],
                        ((m + 1) % n) as u64,
                        n as u64,
                        &proof,
                        &head
                    ));
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_inclusion(&l[m], m as u64, n as u64, &bad, &head));
                }
                // (The tree size is bound to the head by the signed tree head,
                // not by the path: for n = 3 the same path also fits size 4.)
            }
            assert!(inclusion_proof(&l, n).is_none());
        }
    }

    #[test]
    fn consistency_proofs_show_the_log_only_grew() {
        for n in 1..=33 {
            let l = leaves(n);
            let new_head = root(&l);
            for m in 1..=n {
                let old_head = root(&l[..m]);
                let proof = consistency_proof(&l, m).unwrap();
                assert!(
                    verify_consistency(m as u64, n as u64, &old_head, &new_head, &proof),
                    "{m}->{n}"
                );
                // A rewritten history: entry 0 of the old tree changed.
                let mut rewritten = l.clone();
                rewritten[0] = leaf_hash(b"rewritten");
                let forged_head = root(&rewritten[..m]);
                assert!(
                    !verify_consistency(m as u64, n as u64, &forged_head, &new_head, &proof),
                    "{m}->{n}"
                );
                if m < n {
                    let mut bad = proof.clone();
                    let last = bad.len() - 1;
                    bad[last][5] ^= 0x40;
                    assert!(
                        !verify_consistency(m as u64, n as u64, &old_head, &new_head, &bad),
                        "{m}->{n}"
                    );
                }
            }
        }
        assert!(consistency_proof(&leaves(3), 0).is_none());
    }

    /// Stored perfect subtrees (as the audit log keeps them) give the same
    /// heads and proofs as the leaves, and the frontier the same heads.
    #[test]
    fn stored_subtrees_and_frontier_agree_with_the_leaves() {
        struct Stored(std::collections::HashMap<(u32, u64), Hash>, usize);
        impl Subtrees for Stored {
            type Error = ();
            fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, ()> {
                self.1 += 1;
                self.0.get(&(level, index)).copied().ok_or(())
            }
        }
        let l = leaves(70);
        let mut stored = Stored(Default::default(), 0);
        let mut frontier = Frontier::default();
        for (i, leaf) in l.iter().enumerate() {
            // What the store does on append: the leaf, then every subtree it completes.
            let (mut level, mut idx, mut h) = (0u32, i as u64, *leaf);
            stored.0.insert((0, idx), h);
            while idx % 2 == 1 {
                h = node_hash(&stored.0[&(level, idx - 1)], &h);
                level += 1;
                idx /= 2;
                stored.0.insert((level, idx), h);
            }
            frontier.push(*leaf);
            let n = i as u64 + 1;
            assert_eq!(frontier.root(), root(&l[..=i]));
            assert_eq!(range_hash(&mut stored, 0, n), Ok(root(&l[..=i])));
            for m in 0..n {
                assert_eq!(
                    inclusion_proof_in(&mut stored, m, n).unwrap(),
                    inclusion_proof(&l[..=i], m as usize)
                );
                assert_eq!(
                    consistency_proof_in(&mut stored, m + 1, n).unwrap(),
                    consistency_proof(&l[..=i], m as usize + 1)
                );
            }
        }
        // O(log n) lookups per proof.
        stored.1 = 0;
        inclusion_proof_in(&mut stored, 37, 70).unwrap();
        assert!(stored.1 <= 14, "{} lookups", stored.1);
        assert!(!verify_consistency(4, 3, &[0; 32], &[0; 32], &[]));
    }
}
