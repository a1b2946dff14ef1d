//! The stamp code against its specification: the published test vectors,
//! round trips, tamper resistance, key status, and QR decoding by an
//! independent decoder (zbarimg).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde::Deserialize;
use tem::codes::format::{CODE_LEN, Kid, StampCode, qr_for, qr_version, signed_message};
use tem::codes::keyring::{KeySet, KeyStatus, PublicKeyEntry};
use tem::codes::{CodeVerdict, Signer, Verifier};
use tem::domain::{BatchId, Serial};

#[derive(Deserialize)]
struct VectorFile {
    base_url: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    secret_key: String,
    public_key: String,
    kid: String,
    serial: String,
    batch: u32,
    signed_message: String,
    signature: String,
    code: String,
    url: String,
    short_code: String,
    qr_version: i16,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    let v: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

fn vectors() -> VectorFile {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/test-vectors/stamp-v1.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn key_set(signer: &Signer, status: KeyStatus) -> KeySet {
    KeySet::new(vec![PublicKeyEntry::new(signer.public_key(), status)])
}

#[test]
fn test_vectors_from_the_spec_are_reproduced_exactly() {
    let file = vectors();
    assert!(file.vectors.len() >= 3);
    for v in &file.vectors {
        let signer = Signer::from_secret(unhex::<32>(&v.secret_key));
        assert_eq!(hex(&signer.public_key()), v.public_key);
        assert_eq!(signer.kid().to_string(), v.kid);
        let serial = Serial::parse(&v.serial).unwrap();
        let batch = BatchId(v.batch);
        assert_eq!(
            hex(&signed_message(&signer.kid(), serial, batch)),
            v.signed_message
        );
        let code = signer.sign(serial, batch);
        assert_eq!(hex(&code.signature), v.signature);
        assert_eq!(code.to_digits(), v.code);
        assert_eq!(code.url(&file.base_url), v.url);
        assert_eq!(serial.short_code().to_string(), v.short_code);
        let qr = qr_for(&file.base_url, &code, qrcode::EcLevel::M).unwrap();
        assert_eq!(qr_version(&qr), v.qr_version);
        // And the verifier accepts the URL as published.
        let check = Verifier::new(&key_set(&signer, KeyStatus::Active)).check(&v.url);
        assert_eq!(check.verdict, CodeVerdict::Genuine);
        assert_eq!(check.kid, Kid::parse(&v.kid));
    }
}

#[test]
fn every_stamp_fits_qr_version_6_at_level_m_with_the_default_base_url() {
    let signer = Signer::from_secret([3; 32]);
    for serial in [0, 1, u64::MAX, 0x8000_0000_0000_0000] {
        for batch in [1, 4_294_967_295] {
            let code = signer.sign(Serial(serial), BatchId(batch));
            let qr = qr_for("https://tem.example.vn", &code, qrcode::EcLevel::M).unwrap();
            assert!(qr_version(&qr) <= 6, "version {}", qr_version(&qr));
        }
    }
}

#[test]
fn a_stamp_signed_by_a_revoked_key_is_revoked_key() {
    let signer = Signer::from_secret([5; 32]);
    let url = signer
        .sign(Serial(77), BatchId(3))
        .url("https://tem.example.vn");
    let check = Verifier::new(&key_set(&signer, KeyStatus::Revoked)).check(&url);
    assert_eq!(check.verdict, CodeVerdict::RevokedKey);
    // A rotated (verify-only) key still verifies.
    let check = Verifier::new(&key_set(&signer, KeyStatus::VerifyOnly)).check(&url);
    assert_eq!(check.verdict, CodeVerdict::Genuine);
}

#[test]
fn a_stamp_signed_by_a_key_not_in_the_set_is_unknown_key() {
    let signer = Signer::from_secret([5; 32]);
    let other = Signer::from_secret([6; 32]);
    assert_ne!(signer.kid().hint(), other.kid().hint());
    let url = signer
        .sign(Serial(77), BatchId(3))
        .url("https://tem.example.vn");
    let check = Verifier::new(&key_set(&other, KeyStatus::Active)).check(&url);
    assert_eq!(check.verdict, CodeVerdict::UnknownKey);
    assert_eq!(check.code.unwrap().serial, Serial(77));
}

#[test]
fn a_signature_from_an_impostor_key_with_a_colliding_hint_is_forged() {
    let genuine = Signer::from_secret([5; 32]);
    // Find an impostor key whose 2-byte kid hint collides with the genuine one.
    let impostor = (0u32..)
        .map(|i| {
            let mut secret = [0u8; 32];
            secret[..4].copy_from_slice(&i.to_le_bytes());
            Signer::from_secret(secret)
        })
        .find(|s| s.kid().hint() == genuine.kid().hint())
        .unwrap();
    let url = impostor
        .sign(Serial(9), BatchId(1))
        .url("https://tem.example.vn");
    let check = Verifier::new(&key_set(&genuine, KeyStatus::Active)).check(&url);
    assert_eq!(check.verdict, CodeVerdict::Forged);
}

#[test]
fn malformed_input_is_a_verdict_not_a_panic() {
    let verifier = Verifier::new(&key_set(&Signer::from_secret([1; 32]), KeyStatus::Active));
    for input in [
        "",
        " ",
        "https://tem.example.vn/",
        "hello",
        "1",
        &"9".repeat(189),
        "١٢٣",
        "https://x/%00",
        "\u{0}",
    ] {
        assert_eq!(
            verifier.check(input).verdict,
            CodeVerdict::Malformed,
            "{input:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_then_parse_round_trips(serial: u64, batch: u32, hint: [u8; 2], sig in proptest::array::uniform32(any::<u8>()), sig2 in proptest::array::uniform32(any::<u8>())) {
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&sig);
        signature[32..].copy_from_slice(&sig2);
        let code = StampCode { kid_hint: hint, serial: Serial(serial), batch: BatchId(batch), signature };
        let digits = code.to_digits();
        prop_assert_eq!(digits.len(), CODE_LEN);
        prop_assert_eq!(StampCode::parse(&digits).unwrap(), code);
        prop_assert_eq!(StampCode::parse(&code.url("https://tem.example.vn")).unwrap(), code);
    }

    #[test]
    fn changing_any_character_of_a_genuine_code_is_never_genuine(
        serial: u64, batch: u32, position in 0usize..CODE_LEN, replacement in proptest::char::any()
    ) {
        let signer = Signer::from_secret([11; 32]);
        let verifier = Verifier::new(&key_set(&signer, KeyStatus::Active));
        let digits = signer.sign(Serial(serial), BatchId(batch)).to_digits();
        let original = digits.as_bytes()[position] as char;
        prop_assume!(replacement != original);
        let mut tampered: Vec<char> = digits.chars().collect();
        tampered[position] = replacement;
        let tampered: String = tampered.into_iter().collect();
        prop_assert_ne!(verifier.check(&tampered).verdict, CodeVerdict::Genuine);
    }

    #[test]
    fn changing_any_byte_of_the_signed_payload_is_never_genuine(
        serial: u64, batch: u32, field in 0usize..4, position in 0usize..64, flip in 1u8..=255
    ) {
        let signer = Signer::from_secret([12; 32]);
        let verifier = Verifier::new(&key_set(&signer, KeyStatus::Active));
        let mut code = signer.sign(Serial(serial), BatchId(batch));
        match field {
            0 => code.kid_hint[position % 2] ^= flip,
            1 => code.serial = Serial(code.serial.0 ^ (u64::from(flip) << (8 * (position % 8)))),
            2 => code.batch = BatchId(code.batch.0 ^ (u32::from(flip) << (8 * (position % 4)))),
            _ => code.signature[position] ^= flip,
        }
        prop_assert_ne!(verifier.check(&code.to_digits()).verdict, CodeVerdict::Genuine);
    }
}

/// Renders a stamp's QR code as a PNG and reads it back with zbarimg, a
/// decoder tem does not use: the printed URL must come back byte for byte.
#[test]
fn zbarimg_reads_the_stamp_qr_back_exactly() {
    if std::process::Command::new("zbarimg")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("zbarimg is missing: run the tests through scripts/test, which installs zbar-tools");
    }
    let signer = Signer::from_secret([21; 32]);
    let code = signer.sign(Serial(0xfeed_beef_0000_0001), BatchId(1234));
    let url = code.url("https://tem.example.vn");
    let qr = qr_for("https://tem.example.vn", &code, qrcode::EcLevel::M).unwrap();
    let image = crate::common::render_qr(&qr, 6);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stamp.png");
    image.save(&path).unwrap();
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "zbarimg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim_end(), url);
    // tem's own photo decoder agrees.
    assert_eq!(tem::codes::photo::decode_file(&path).unwrap(), vec![url]);
}

#[derive(Deserialize)]
struct Gs1VectorFile {
    base_url: String,
    vectors: Vec<Gs1Vector>,
}

#[derive(Deserialize)]
struct Gs1Vector {
    secret_key: String,
    kid: String,
    serial: String,
    batch: u32,
    gtin: String,
    signature: String,
    s: String,
    url: String,
    qr_version: i16,
}

/// The GS1 form's vectors (computed apart from tem, from stamp-v1.json's
/// signatures): tem writes the same URL, reads it back to the same code,
/// verifies it, and its symbol has the published version.
#[test]
fn gs1_form_test_vectors_are_reproduced_exactly() {
    use tem::codes::StampForm;
    use tem::codes::format::qr_bits;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/test-vectors/stamp-gs1-v1.json"
    ))
    .unwrap();
    let file: Gs1VectorFile = serde_json::from_str(&text).unwrap();
    assert!(file.vectors.len() >= 3);
    for v in &file.vectors {
        let signer = Signer::from_secret(unhex::<32>(&v.secret_key));
        assert_eq!(signer.kid().to_string(), v.kid);
        let code = signer.sign(Serial::parse(&v.serial).unwrap(), BatchId(v.batch));
        assert_eq!(hex(&code.signature), v.signature);
        assert_eq!(code.gs1_param(), v.s);
        let form = StampForm::Gs1 {
            gtin: v.gtin.clone(),
        };
        assert_eq!(code.url_in(&file.base_url, &form), v.url);
        assert_eq!(StampCode::parse(&v.url).unwrap(), code);
        let bits = qr_bits(&code.segments(&file.base_url, &form), qrcode::EcLevel::M).unwrap();
        assert_eq!(bits.version(), qrcode::Version::Normal(v.qr_version));
        let check = Verifier::new(&key_set(&signer, KeyStatus::Active)).check(&v.url);
        assert_eq!(check.verdict, CodeVerdict::Genuine, "{}", v.url);
    }
}

proptest! {
    /// Any stamp in GS1 form reads back as the same code, and changing any
    /// digit of its signature parameter breaks it (malformed or forged,
    /// never genuine).
    #[test]
    fn gs1_form_round_trips_and_resists_tampering(
        serial in any::<u64>(), batch in any::<u32>(), at in 0usize..170, digit in 0u8..10,
    ) {
        use tem::codes::StampForm;
        let signer = Signer::from_secret([9; 32]);
        let code = signer.sign(Serial(serial), BatchId(batch));
        let form = StampForm::Gs1 { gtin: "08938505974194".into() };
        let url = code.url_in("https://tem.example.vn", &form);
        prop_assert_eq!(StampCode::parse(&url).unwrap(), code);
        let start = url.find("?s=").unwrap() + 3;
        let mut bytes = url.clone().into_bytes();
        let new = b'0' + digit;
        prop_assume!(bytes[start + at] != new);
        bytes[start + at] = new;
        let tampered = String::from_utf8(bytes).unwrap();
        let check = Verifier::new(&key_set(&signer, KeyStatus::Active)).check(&tampered);
        prop_assert_ne!(check.verdict, CodeVerdict::Genuine);
    }
}
