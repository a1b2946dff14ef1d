//! Benchmark: what one signature check costs, one by one (`verify_strict`)
//! and in batch equations of the sizes scans come in, with
//! `ed25519_dalek::verify_batch` and with `codes::batch` (the key terms
//! collapsed into one precomputed table). One thread; microseconds per
//! signature, median of RUNS runs.
//!
//! Usage: cargo run --release --example verify_rates [SIGNATURES=20000] [RUNS=5]

use std::time::Instant;

use ed25519_dalek::{Signature, Signer as _, SigningKey};
use tem::codes::batch::{Claim, Keys, verify_claims};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let key = SigningKey::from_bytes(&[7; 32]);
    let vk = key.verifying_key();
    let messages: Vec<[u8; 33]> = (0..n)
        .map(|i| {
            let mut m = [0u8; 33];
            m[..8].copy_from_slice(&(i as u64).to_be_bytes());
            m
        })
        .collect();
    let signatures: Vec<Signature> = messages.iter().map(|m| key.sign(m)).collect();
    let per_sig = |f: &dyn Fn()| -> f64 {
        median(
            (0..runs)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64() * 1e6 / n as f64
                })
                .collect(),
        )
    };
    let strict = per_sig(&|| {
        for (m, s) in messages.iter().zip(&signatures) {
            assert!(vk.verify_strict(m, s).is_ok());
        }
    });
    println!("| group | verify_strict µs | ed25519_dalek::verify_batch µs | codes::batch µs |");
    println!("|---|---|---|---|");
    let keys = Keys::new(vec![vk]);
    let claims: Vec<Claim> = messages
        .iter()
        .zip(&signatures)
        .map(|(m, s)| Claim {
            message: *m,
            signature: *s,
            key: 0,
        })
        .collect();
    for group in [8usize, 16, 32, 64, 256] {
        let dalek = per_sig(&|| {
            for (ms, ss) in messages.chunks(group).zip(signatures.chunks(group)) {
                let refs: Vec<&[u8]> = ms.iter().map(|m| &m[..]).collect();
                let keys = vec![vk; ms.len()];
                assert!(ed25519_dalek::verify_batch(&refs, ss, &keys).is_ok());
            }
        });
        let ours = per_sig(&|| {
            for chunk in claims.chunks(group) {
                assert!(verify_claims(&keys, chunk, group).ok.iter().all(|&b| b));
            }
        });
        println!("| {group} | {strict:.1} | {dalek:.1} | {ours:.1} |");
    }
}
