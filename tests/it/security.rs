//! What an adversary tries against a running `tem serve` and the command
//! line, each in its own process so that memory and exit codes are real:
//! image bombs through every door that takes a picture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::Env;
use serde_json::{Value, json};

const ADMIN: &str = "security-test-admin-token-0123456789";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

/// A PNG whose header declares `w × h` one-bit pixels, all black: a few
/// kilobytes on disk, gigabytes once decoded.
fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::One);
        enc.set_compression(png::Compression::High);
        let mut writer = enc.write_header().unwrap();
        let mut stream = writer.stream_writer().unwrap();
        let row = vec![0u8; w.div_ceil(8) as usize];
        for _ in 0..h {
            std::io::Write::write_all(&mut stream, &row).unwrap();
        }
        stream.finish().unwrap();
    }
    out
}

/// 30 megapixels of 16-bit RGBA: within the pixel limit, but 240 MB to
/// decode, over the allocation limit.
fn png_wide_pixels() -> Vec<u8> {
    let (w, h) = (6000u32, 5000u32);
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Sixteen);
        enc.set_compression(png::Compression::Fast);
        let mut writer = enc.write_header().unwrap();
        let mut stream = writer.stream_writer().unwrap();
        let row = vec![0u8; w as usize * 8];
        for _ in 0..h {
            std::io::Write::write_all(&mut stream, &row).unwrap();
        }
        stream.finish().unwrap();
    }
    out
}

/// A small real JPEG whose frame header is patched to say `w × h`.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut out)
        .encode_image(&image::RgbImage::new(16, 16))
        .unwrap();
    let sof = out.windows(2).position(|x| x == [0xff, 0xc0]).unwrap();
    out[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    out
}

/// The largest photo tem accepts: a 31-megapixel JPEG.
fn largest_photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(6400, 4800, |x, y| {
        image::Rgb([(x / 7) as u8, (y / 5) as u8, ((x + y) / 11) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&img)
        .unwrap();
    out
}

/// Peak resident memory of a process, in MB (VmHWM).
fn peak_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb / 1024
}

/// A dashboard session of the admin: the cookies and the CSRF secret.
fn sign_in(base: &str) -> (String, String) {
    let a = agent();
    let mut form = a.get(format!("{base}/app/sign-in")).call().unwrap();
    let pre_cookie = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("tem_pre="))
        .unwrap();
    let body = form.body_mut().read_to_string().unwrap();
    let pre = hidden(&body, "pre");
    let signed = a
        .post(format!("{base}/app/sign-in"))
        .header("Cookie", &pre_cookie)
        .send_form([("token", ADMIN), ("pre", pre.as_str()), ("next", "/app")])
        .unwrap();
    let session = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("tem_session="))
        .expect("signed in");
    let mut home = a
        .get(format!("{base}/app"))
        .header("Cookie", &session)
        .call()
        .unwrap();
    let csrf = hidden(&home.body_mut().read_to_string().unwrap(), "csrf");
    (session, csrf)
}

fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker).unwrap() + marker.len();
    body[start..].split('"').next().unwrap().to_string()
}

/// Posts a product with a photo through the dashboard form.
fn upload_product_photo(base: &str, session: &str, csrf: &str, photo: &[u8]) -> (u16, String) {
    let boundary = "----tembomb";
    let mut body = Vec::new();
    for (k, v) in [
        ("csrf", csrf),
        ("name", "Mật ong"),
        ("producer_id", "1"),
        ("ocop_group", "food"),
    ] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.img\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut r = agent()
        .post(format!("{base}/app/products"))
        .header("Cookie", session)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .send(&body[..])
        .unwrap();
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// Files an inspection with one photo through the API.
fn inspect_photo(base: &str, photo: &[u8]) -> (u16, Value) {
    let body = json!({
        "place": "Chợ Trà Vinh", "province": "Trà Vinh",
        "photos": [data_encoding::BASE64.encode(photo)],
    });
    let mut r = agent()
        .post(format!("{base}/api/v1/inspections"))
        .header("Authorization", format!("Bearer {ADMIN}"))
        .send_json(&body)
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null),
    )
}

#[test]
fn image_bombs_are_refused_at_every_door_and_memory_stays_bounded() {
    let env = Env::new();
    env.ok(&["demo"]);
    let mut cmd = env.cmd();
    cmd.env("TEM_ADMIN_TOKEN", ADMIN);
    let (mut serve, base) = crate::common::serve(cmd);
    let (session, csrf) = sign_in(&base);
    let bombs: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "PNG declaring 20,000 × 20,000",
            png_bomb(20_000, 20_000),
            "megapixels",
        ),
        (
            "PNG declaring 8,000 × 8,000",
            png_bomb(8_000, 8_000),
            "megapixels",
        ),
        (
            "JPEG declaring 20,000 × 20,000",
            jpeg_claiming(20_000, 20_000),
            "megapixels",
        ),
        (
            "JPEG declaring 65,000 × 65,000",
            jpeg_claiming(65_000, 65_000),
            "megapixels",
        ),
        ("30 MP of 16-bit RGBA", png_wide_pixels(), "memory"),
    ];
    for (what, bytes, says) in &bombs {
        let (status, page) = upload_product_photo(&base, &session, &csrf, bytes);
        assert!(
            (400..500).contains(&status),
            "product photo, {what}: {status}"
        );
        assert!(
            page.contains(says),
            "product photo, {what}: the page does not say {says}"
        );
        let (status, json) = inspect_photo(&base, bytes);
        assert_eq!(status, 400, "inspection photo, {what}: {json}");
        assert!(
            json["error"]["message"].as_str().unwrap().contains(says),
            "inspection photo, {what}: {json}"
        );
    }
    // The largest accepted photo goes through both doors.
    let photo = largest_photo();
    let (status, _) = upload_product_photo(&base, &session, &csrf, &photo);
    assert_eq!(status, 303, "the largest photo tem accepts");
    let (status, json) = inspect_photo(&base, &photo);
    assert_eq!(status, 201, "{json}");
    let peak = peak_mb(serve.id());
    serve.kill().unwrap();
    serve.wait().unwrap();
    eprintln!("tem serve peaked at {peak} MB");
    assert!(peak < 300, "tem serve peaked at {peak} MB");

    // The command line refuses the same files before decoding them.
    for (what, bytes, says) in &bombs {
        let path = env.path("bomb.png");
        std::fs::write(&path, bytes).unwrap();
        let out = env.run(&["verify", path.to_str().unwrap()]);
        assert!(!out.status.success(), "tem verify {what}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "tem verify {what}: {err}");
    }
}

fn audit_actions(env: &Env, object: &str) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(env.path("tem.db")).unwrap();
    db.prepare("SELECT action, coalesce(after, '') FROM audit_log WHERE object = ?1 ORDER BY seq")
        .unwrap()
        .query_map([object], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Key changes from several processes at once (a dashboard rotation and a
/// command-line revocation) run one after the other: no revocation is lost,
/// one key stays active, each change has its audit entry, and revoked
/// private keys leave the key directory.
#[test]
fn concurrent_key_changes_lose_no_revocation() {
    let env = Env::new();
    env.ok(&["keys", "generate"]);
    for _ in 0..6 {
        env.ok(&["keys", "rotate"]);
    }
    let keys = env.path("keys");
    let ring = tem::codes::KeyRing::open(&keys).unwrap();
    let old: Vec<String> = ring
        .entries()
        .iter()
        .filter(|k| k.status == tem::codes::KeyStatus::VerifyOnly)
        .map(|k| k.kid.clone())
        .collect();
    assert_eq!(old.len(), 6);
    let mut children = Vec::new();
    for (i, kid) in old.iter().enumerate() {
        children.push(env.cmd().args(["keys", "revoke", kid]).spawn().unwrap());
        if i % 2 == 0 {
            children.push(env.cmd().args(["keys", "rotate"]).spawn().unwrap());
        }
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let ring = tem::codes::KeyRing::open(&keys).unwrap();
    for kid in &old {
        let k = ring.entries().iter().find(|k| &k.kid == kid).unwrap();
        assert_eq!(
            k.status,
            tem::codes::KeyStatus::Revoked,
            "{kid}: revocation lost"
        );
        assert!(
            !keys.join(format!("{kid}.pem")).exists(),
            "{kid}: private key left in keys/"
        );
        assert!(keys.join("revoked").join(format!("{kid}.pem")).exists());
        let actions = audit_actions(&env, &format!("key:{kid}"));
        assert!(
            actions.iter().any(|(a, _)| a == "keys.revoke"),
            "{kid}: {actions:?}"
        );
    }
    let active: Vec<_> = ring
        .entries()
        .iter()
        .filter(|k| k.status == tem::codes::KeyStatus::Active)
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(
        ring.entries().len(),
        1 + 6 + 3,
        "every rotation kept its key"
    );
    assert!(ring.signer().is_ok());
    env.ok(&["audit", "verify"]);
}

/// A crash between a key change (the files) and its audit entry: the next
/// start of `tem serve` records the change, so the audit log and the key
/// ring agree again; the revoked key's private file leaves `keys/`.
#[test]
fn a_key_change_cut_off_before_its_audit_entry_is_recorded_at_the_next_start() {
    let env = Env::new();
    env.ok(&["demo"]);
    let keys = env.path("keys");
    // What an interrupted `tem keys rotate` and `tem keys revoke` leave:
    // the key ring changed, the process killed before the audit entries
    // (and, for the revocation, before the private file was moved).
    let mut ring = tem::codes::KeyRing::open(&keys).unwrap();
    let first = ring.active().unwrap().kid.clone();
    let (second, _) = ring.rotate().unwrap();
    let pem = std::fs::read(keys.join(format!("{first}.pem"))).unwrap();
    ring.revoke(&first, Some("laptop stolen".into())).unwrap();
    std::fs::write(keys.join(format!("{first}.pem")), &pem).unwrap();
    std::fs::remove_dir_all(keys.join("revoked")).unwrap();
    assert!(
        audit_actions(&env, &format!("key:{second}")).is_empty(),
        "the state a crash leaves"
    );
    let (mut serve, _) = crate::common::serve(env.cmd());
    serve.kill().unwrap();
    serve.wait().unwrap();
    let rotated = audit_actions(&env, &format!("key:{second}"));
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    assert_eq!(rotated[0].0, "keys.rotate");
    assert!(rotated[0].1.contains("\"recovered\":true"), "{rotated:?}");
    let revoked = audit_actions(&env, &format!("key:{first}"));
    assert!(
        revoked
            .iter()
            .any(|(a, after)| a == "keys.revoke" && after.contains("laptop stolen")),
        "{revoked:?}"
    );
    assert!(!keys.join(format!("{first}.pem")).exists());
    env.ok(&["audit", "verify"]);
    // Nothing more to record the next time.
    let (mut serve, _) = crate::common::serve(env.cmd());
    serve.kill().unwrap();
    serve.wait().unwrap();
    assert_eq!(audit_actions(&env, &format!("key:{second}")).len(), 1);
}

/// Batch verification reads the stamps and the audit log in one snapshot:
/// stamps issued while it runs are in both or in neither, never a false
/// "compromised" that tem would sign.
#[test]
fn batch_verification_during_an_issuance_never_reports_tampering() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let env = Env::new();
    env.ok(&["demo"]);
    let store: std::sync::Arc<dyn tem::store::Store> =
        std::sync::Arc::new(tem::store::SqliteStore::open(&env.path("tem.db")).unwrap());
    let keys = env.path("keys");
    let batch = tem::domain::BatchId(1);
    let done = AtomicBool::new(false);
    // Verifications finished while the issuance went on: the issuance goes
    // on (up to 1,000 rounds) until there have been a few, however the
    // machine's load splits the time between the two.
    let overlapped = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let ring = tem::codes::KeyRing::open(&keys).unwrap();
            let mut rounds = 0;
            while rounds < 60 || (overlapped.load(Ordering::SeqCst) < 3 && rounds < 1_000) {
                rounds += 1;
                tem::service::issue::issue(
                    &*store,
                    &ring,
                    "https://tem.example.vn",
                    tem::service::issue::Order::plain(batch, 300),
                    &tem::domain::Actor::admin("test"),
                    &mut |_| Ok(()),
                )
                .unwrap();
            }
            done.store(true, Ordering::SeqCst);
        });
        let ctx = tem::service::Context::new(
            store.clone(),
            keys.clone(),
            "https://tem.example.vn".into(),
        );
        let inspector = tem::domain::Actor::admin("inspector");
        let (mut runs, mut during) = (0, 0);
        while !done.load(Ordering::SeqCst) || runs < 5 {
            if !done.load(Ordering::SeqCst) {
                during += 1;
            }
            let report = tem::service::verification::verify_batch(
                &ctx,
                batch,
                &Default::default(),
                &inspector,
            )
            .unwrap()
            .report;
            assert_ne!(
                report.verdict,
                tem::service::verification::Conclusion::Compromised,
                "run {runs}: {:?} {:?}",
                report.stamps,
                report.log
            );
            if !done.load(Ordering::SeqCst) {
                overlapped.fetch_add(1, Ordering::SeqCst);
            }
            runs += 1;
        }
        assert!(
            during >= 3,
            "only {during} verifications ran during the issuance"
        );
    });
}

/// The service checks the caller's grant itself, whoever calls it (an API
/// handler, a dashboard form, a future job): a producer's actor gets "not
/// found" from every use case on another producer's batch, and nothing is
/// written.
#[test]
fn every_batch_use_case_refuses_another_producers_actor() {
    use tem::domain::{Actor, BatchId, Grant, Role, StageInput};
    use tem::service::issue::Order;
    use tem::service::{ServiceError, registry};
    let env = Env::new();
    env.ok(&["demo"]);
    let store: std::sync::Arc<dyn tem::store::Store> =
        std::sync::Arc::new(tem::store::SqliteStore::open(&env.path("tem.db")).unwrap());
    let ctx = tem::service::Context::new(
        store.clone(),
        env.path("keys"),
        "https://tem.example.vn".into(),
    );
    let batch = registry::batch(&*store, BatchId(1)).unwrap();
    let owner = registry::product(&*store, batch.product_id)
        .unwrap()
        .producer_id;
    let other = registry::producers(&*store)
        .unwrap()
        .into_iter()
        .find(|p| p.id != owner)
        .unwrap();
    let intruder = Actor {
        grant: Grant::new(Role::Producer, Some(other.id), &[]).unwrap(),
        name: "token 9 (producer)".into(),
    };
    let (stamps_before, audit_before) = (
        store.stamp_counts(batch.id).unwrap(),
        store.audit_size().unwrap(),
    );
    let rules = Default::default();
    let id = batch.id;
    let refused: Vec<(&str, Result<(), ServiceError>)> = vec![
        (
            "issue",
            tem::service::issue::issue_for(&ctx, Order::plain(id, 5), &intruder).map(drop),
        ),
        (
            "activate",
            tem::service::lifecycle::activate(&*store, id, 1, 5, &intruder).map(drop),
        ),
        (
            "void",
            tem::service::lifecycle::void(&*store, id, 1, 1, "lost", &intruder).map(drop),
        ),
        (
            "recall",
            tem::service::lifecycle::recall(&*store, id, None, "test", "do not eat", &intruder)
                .map(drop),
        ),
        (
            "lift",
            tem::service::lifecycle::lift(&*store, id, "test", &intruder).map(drop),
        ),
        (
            "stats",
            tem::service::lifecycle::stats(&*store, &intruder.grant, id, &rules).map(drop),
        ),
        (
            "add stage",
            registry::add_stage(
                &*store,
                id,
                StageInput {
                    name: "Đóng gói".into(),
                    ..Default::default()
                },
                &intruder,
            )
            .map(drop),
        ),
        (
            "create batch",
            registry::create_batch(&*store, batch.product_id, Default::default(), &intruder)
                .map(drop),
        ),
        (
            "report",
            tem::service::report::batch(&*store, &intruder.grant, id, &rules).map(drop),
        ),
        (
            "verify",
            tem::service::verification::verify_batch(&ctx, id, &rules, &intruder).map(drop),
        ),
        (
            "stamps",
            tem::service::access::stamps(&*store, &intruder.grant, id, 1, 10).map(drop),
        ),
        (
            "stamp CSV",
            tem::service::stamp_export::status_csv(
                &*store,
                &intruder.grant,
                ctx.base_url(),
                id,
                (1, 10),
            )
            .map(drop),
        ),
        (
            "overview",
            tem::service::batch_overview::overview(&*store, &intruder.grant, id, &rules).map(drop),
        ),
        (
            "sheet preview",
            tem::service::sheet_preview::jpeg(
                &ctx,
                &intruder,
                id,
                tem::render::layout::Layout::builtin("a4-65").unwrap(),
                tem::render::label::Lang::Vi,
            )
            .map(drop),
        ),
    ];
    for (what, result) in refused {
        assert!(
            matches!(result, Err(ServiceError::NotFound { .. })),
            "{what}: {result:?}"
        );
    }
    assert_eq!(store.stamp_counts(batch.id).unwrap(), stamps_before);
    assert_eq!(
        store.audit_size().unwrap(),
        audit_before,
        "nothing recorded"
    );
    // The owner's actor is let through (the refusals above are about who).
    let owner_actor = Actor {
        grant: Grant::new(Role::Producer, Some(owner), &[]).unwrap(),
        name: "token 8 (producer)".into(),
    };
    tem::service::lifecycle::stats(&*store, &owner_actor.grant, id, &rules).unwrap();
    tem::service::issue::issue_for(&ctx, Order::plain(id, 1), &owner_actor).unwrap();
}
