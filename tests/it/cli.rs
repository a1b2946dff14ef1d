//! The `tem` command line as a user drives it: a real database file and key
//! directory in a temporary folder, the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Env;

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn demo_is_idempotent_and_batch_list_json_has_the_contract_fields() {
    let env = Env::new();
    env.ok(&["demo"]);
    let first = env.batches();
    assert!(first.len() >= 7);
    env.ok(&["demo"]);
    let second = env.batches();
    assert_eq!(first, second, "a second `tem demo` must change nothing");
    for b in &second {
        for field in [
            "id",
            "lot_code",
            "product_id",
            "product_name",
            "producer_id",
        ] {
            assert!(b.get(field).is_some(), "batch list lacks {field}: {b}");
        }
    }
    let names: Vec<&str> = second
        .iter()
        .map(|b| b["product_name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Bưởi da xanh Hùng Hòa"));
    // Keys were generated with private files readable only by the owner.
    let pems: Vec<_> = std::fs::read_dir(env.path("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
        .collect();
    assert_eq!(pems.len(), 1);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&pems[0]).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn ten_thousand_stamps_issue_export_and_verify_offline() {
    let env = Env::new();
    env.ok(&["demo"]);
    let batch = env.batches()[0]["id"].as_u64().unwrap();
    let before = env.stamp_count(batch);
    let csv_path = env.path("stamps.csv");
    let out = env.ok(&[
        "issue",
        "--batch",
        &batch.to_string(),
        "--count",
        "10000",
        "--csv",
        csv_path.to_str().unwrap(),
    ]);
    assert!(out.contains("issued 10000 stamps"), "{out}");
    assert!(out.contains("QR version 6"), "{out}");
    assert_eq!(env.stamp_count(batch), before + 10_000);

    let (header, rows) = read_csv(&csv_path);
    for col in ["serial", "short_code", "url"] {
        assert!(header.iter().any(|h| h == col), "CSV lacks {col}");
    }
    assert_eq!(rows.len(), 10_000);
    let serial_col = header.iter().position(|h| h == "serial").unwrap();
    let serials: HashSet<&str> = rows.iter().map(|r| r[serial_col].as_str()).collect();
    assert_eq!(serials.len(), 10_000, "serials must be unique");

    // Export the public keys, then verify every stamp with nothing but them.
    let keyfile = env.path("tem-keys.json");
    env.ok(&["keys", "export", "-o", keyfile.to_str().unwrap()]);
    let out = env
        .cmd()
        .env("TEM_KEYS", &keyfile)
        .env("TEM_DB", env.path("no-database-needed.db"))
        .args([
            "verify",
            "--json",
            "--from-file",
            csv_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(lines.len(), 10_000);
    let url_col = header.iter().position(|h| h == "url").unwrap();
    for (line, row) in lines.iter().zip(&rows) {
        assert_eq!(line["verdict"], "genuine");
        assert_eq!(line["batch"].as_u64(), Some(batch));
        assert_eq!(line["serial"].as_str(), Some(row[serial_col].as_str()));
        assert!(row[url_col].starts_with("https://tem.example.vn/"));
    }
    assert!(
        !env.path("no-database-needed.db").exists(),
        "offline verification must not touch a database"
    );

    // `tem export` writes the same rows for the same numbers.
    let exported = env.path("export.csv");
    let first_seq = (before + 1).to_string();
    env.ok(&[
        "export",
        "--batch",
        &batch.to_string(),
        "--from",
        &first_seq,
        "--csv",
        exported.to_str().unwrap(),
    ]);
    let (_, export_rows) = read_csv(&exported);
    assert_eq!(export_rows, rows);
}

#[test]
fn rotated_keys_keep_verifying_and_revoked_keys_do_not() {
    let env = Env::new();
    env.ok(&["demo"]);
    let batch = env.batches()[0]["id"].as_u64().unwrap().to_string();
    let old_csv = env.path("old.csv");
    env.ok(&[
        "issue",
        "--batch",
        &batch,
        "--count",
        "3",
        "--csv",
        old_csv.to_str().unwrap(),
    ]);
    let (header, rows) = read_csv(&old_csv);
    let url = rows[0][header.iter().position(|h| h == "url").unwrap()].clone();
    let old_kid = rows[0][header.iter().position(|h| h == "kid").unwrap()].clone();

    let out = env.ok(&["keys", "rotate"]);
    assert!(out.contains("verify-only"), "{out}");
    let verdict = json_lines(&env.ok(&["verify", "--json", &url]));
    assert_eq!(verdict[0]["verdict"], "genuine");
    assert_eq!(verdict[0]["kid"].as_str(), Some(old_kid.as_str()));

    env.ok(&["keys", "revoke", &old_kid, "--reason", "thử nghiệm"]);
    let out = env.run(&["verify", "--json", &url]);
    assert_eq!(out.status.code(), Some(1), "a non-genuine code must exit 1");
    assert_eq!(
        json_lines(&String::from_utf8(out.stdout).unwrap())[0]["verdict"],
        "revoked-key"
    );

    // New stamps are signed by the new key and are genuine.
    let new_csv = env.path("new.csv");
    env.ok(&[
        "issue",
        "--batch",
        &batch,
        "--count",
        "2",
        "--csv",
        new_csv.to_str().unwrap(),
    ]);
    let (_, new_rows) = read_csv(&new_csv);
    assert_ne!(new_rows[0][4], old_kid);
    assert_eq!(
        json_lines(&env.ok(&["verify", "--json", &new_rows[0][5]]))[0]["verdict"],
        "genuine"
    );

    // A key set without the signing key: unknown-key.
    let other = Env::new();
    other.ok(&["keys", "generate"]);
    let out = other.run(&["verify", "--json", &new_rows[0][5]]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json_lines(&String::from_utf8(out.stdout).unwrap())[0]["verdict"],
        "unknown-key"
    );
}

#[test]
fn verify_prints_one_verdict_per_code_with_the_right_exit_status() {
    let env = Env::new();
    env.ok(&["demo"]);
    let batch = env.batches()[1]["id"].as_u64().unwrap();
    let csv_path = env.path("s.csv");
    env.ok(&[
        "issue",
        "--batch",
        &batch.to_string(),
        "--count",
        "2",
        "--csv",
        csv_path.to_str().unwrap(),
    ]);
    let (_, rows) = read_csv(&csv_path);
    let good = rows[0][5].clone();
    let mut forged = good.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });

    let text = env.ok(&["verify", &good, &format!("  {}  ", good.to_uppercase())]);
    assert_eq!(text.lines().filter(|l| l.starts_with("genuine")).count(), 2);

    let out = env.run(&["verify", "--json", &good, &forged, "not-a-code"]);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&String::from_utf8(out.stdout).unwrap());
    let verdicts: Vec<&str> = lines
        .iter()
        .map(|l| l["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["genuine", "forged", "malformed"]);
    assert_eq!(lines[0]["batch"].as_u64(), Some(batch));
    for l in &lines {
        for field in ["verdict", "serial", "kid", "batch"] {
            assert!(l.get(field).is_some(), "JSON line lacks {field}: {l}");
        }
    }
}

#[test]
fn verify_reads_every_stamp_in_a_photo() {
    let env = Env::new();
    env.ok(&["demo"]);
    let batch = env.batches()[2]["id"].as_u64().unwrap();
    let csv_path = env.path("s.csv");
    env.ok(&[
        "issue",
        "--batch",
        &batch.to_string(),
        "--count",
        "4",
        "--csv",
        csv_path.to_str().unwrap(),
    ]);
    let (_, rows) = read_csv(&csv_path);
    let urls: Vec<String> = rows.iter().map(|r| r[5].clone()).collect();

    // Four stamps side by side in one picture, as on a shelf.
    let tiles: Vec<image::GrayImage> = urls.iter().map(|u| render_qr(u, 5)).collect();
    let tile = tiles[0].width();
    let mut picture =
        image::GrayImage::from_pixel(tile * 2 + 60, tile * 2 + 60, image::Luma([255]));
    for (i, t) in tiles.iter().enumerate() {
        image::imageops::overlay(
            &mut picture,
            t,
            i64::from((i as u32 % 2) * (tile + 20) + 20),
            i64::from((i as u32 / 2) * (tile + 20) + 20),
        );
    }
    let photo = env.path("shelf.png");
    picture.save(&photo).unwrap();

    let lines = json_lines(&env.ok(&["verify", "--json", photo.to_str().unwrap()]));
    let mut found: Vec<String> = lines
        .iter()
        .map(|l| l["serial"].as_str().unwrap().to_string())
        .collect();
    found.sort();
    let mut expected: Vec<String> = rows.iter().map(|r| r[2].clone()).collect();
    expected.sort();
    assert_eq!(found, expected);
    assert!(lines.iter().all(|l| l["verdict"] == "genuine"));

    // A picture with no code is reported, not ignored.
    let blank = env.path("blank.png");
    image::GrayImage::from_pixel(200, 200, image::Luma([255]))
        .save(&blank)
        .unwrap();
    let out = env.run(&["verify", "--json", blank.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let line = &json_lines(&String::from_utf8(out.stdout).unwrap())[0];
    assert_eq!(line["verdict"], "malformed");
    assert!(line["reason"].as_str().unwrap().contains("no QR code"));
}

fn render_qr(url: &str, scale: u32) -> image::GrayImage {
    let code = tem::codes::StampCode::parse(url).unwrap();
    let qr =
        tem::codes::format::qr_for("https://tem.example.vn", &code, qrcode::EcLevel::M).unwrap();
    crate::common::render_qr(&qr, scale)
}

#[test]
fn a_killed_issuance_leaves_no_stamp_behind() {
    let env = Env::new();
    env.ok(&["demo"]);
    let batch = env.batches()[0]["id"].as_u64().unwrap();
    let before = env.stamp_count(batch);
    let csv_path = env.path("big.csv");
    let mut child = env
        .cmd()
        .args([
            "issue",
            "--batch",
            &batch.to_string(),
            "--count",
            "1000000",
            "--csv",
            csv_path.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the issuance is well under way: its temporary CSV holds rows
    // that the open transaction has already written.
    let started = Instant::now();
    let tmp_written = || {
        std::fs::read_dir(env.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.starts_with(".big.csv")
                    && e.metadata().map(|m| m.len() > 500_000).unwrap_or(false)
            })
    };
    while !tmp_written() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "issuance ended before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "issuance never started writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    assert_eq!(
        env.stamp_count(batch),
        before,
        "a killed issuance must leave no stamp"
    );
    assert!(!csv_path.exists(), "no CSV may appear under the real name");
    // The database is healthy: the next issuance works and numbers continue.
    let out = env.ok(&["issue", "--batch", &batch.to_string(), "--count", "5"]);
    assert!(
        out.contains(&format!("numbers {}–{}", before + 1, before + 5)),
        "{out}"
    );
}

#[test]
fn bad_input_gets_a_clear_message_and_exit_status_2() {
    let env = Env::new();
    env.ok(&["demo"]);
    let err = env.fails(&["issue", "--batch", "999", "--count", "5"], 2);
    assert!(err.contains("batch 999 does not exist"), "{err}");
    let err = env.fails(&["issue", "--batch", "1", "--count", "0"], 2);
    assert!(
        err.contains("count") && err.contains("between 1 and 1000000"),
        "{err}"
    );
    let err = env.fails(
        &[
            "producer",
            "add",
            "--kind",
            "farm",
            "--name",
            "A",
            "--commune",
            "B",
            "--province",
            "C",
        ],
        2,
    );
    assert!(err.contains("kind: must be one of"), "{err}");
    let err = env.fails(
        &[
            "product",
            "add",
            "--producer",
            "1",
            "--name",
            "Gạo",
            "--gtin",
            "123",
        ],
        2,
    );
    assert!(err.contains("gtin"), "{err}");
    let err = env.fails(
        &[
            "batch",
            "add",
            "--product",
            "1",
            "--lot",
            "DT-2026-HT2",
            "--production-date",
            "2024-06-15",
            "--quantity",
            "5",
        ],
        2,
    );
    assert!(err.contains("already used"), "{err}");
    let err = env.fails(&["verify"], 2);
    assert!(err.contains("nothing to verify"), "{err}");
    let err = env.fails(&["keys", "generate"], 2);
    assert!(err.contains("already exists"), "{err}");
    let err = env.fails(&["keys", "revoke", "0000000000000000"], 2);
    assert!(err.contains("no key"), "{err}");
    let err = env.fails(&["batch", "list", "--base-url", "ftp://x"], 2);
    assert!(err.contains("base_url"), "{err}");
    // Nothing changed.
    assert_eq!(env.batches().len(), 7);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn help_explains_the_commands() {
    let env = Env::new();
    let help = env.ok(&["--help"]);
    for cmd in ["serve", "demo", "keys", "issue", "verify", "batch"] {
        assert!(help.contains(cmd), "--help lacks {cmd}");
    }
    let issue_help = env.ok(&["issue", "--help"]);
    assert!(issue_help.contains("--csv") && issue_help.contains("--count"));
}

#[test]
fn tokens_are_shown_once_stored_hashed_and_revocable() {
    let env = Env::new();
    env.ok(&["demo"]);
    let token = env
        .ok(&[
            "token",
            "create",
            "--role",
            "producer",
            "--producer",
            "1",
            "--label",
            "HTX Dân Tiến",
        ])
        .trim()
        .to_string();
    assert!(
        token.starts_with("tem_") && token.len() >= 4 + 52,
        "{token}"
    );
    let list = env.ok(&["token", "list", "--json"]);
    let tokens: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(tokens[0]["role"], "producer");
    assert_eq!(tokens[0]["producer"], 1);
    assert_eq!(tokens[0]["label"], "HTX Dân Tiến");
    // Neither the list nor the database file holds the token.
    assert!(!list.contains(&token));
    let db = std::fs::read(env.path("tem.db")).unwrap();
    let wal = std::fs::read(env.path("tem.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "token stored in clear"
        );
    }
    env.ok(&["token", "revoke", "1"]);
    assert!(
        env.fails(&["token", "revoke", "1"], 2)
            .contains("already revoked")
    );
    assert!(
        env.fails(&["token", "revoke", "99"], 2)
            .contains("token 99 does not exist")
    );
    assert!(
        env.fails(&["token", "create", "--role", "producer"], 2)
            .contains("--producer")
    );
    assert!(
        env.fails(&["token", "create", "--role", "chief"], 2)
            .contains("admin, producer, inspector or seller")
    );
    // A seller names its shop; only a seller does.
    assert!(
        env.fails(&["token", "create", "--role", "seller"], 2)
            .contains("--shop")
    );
    assert!(
        env.fails(
            &["token", "create", "--role", "inspector", "--shop", "X"],
            2
        )
        .contains("only seller tokens")
    );
    let seller: serde_json::Value = serde_json::from_str(&env.ok(&[
        "token",
        "create",
        "--role",
        "seller",
        "--shop",
        "Quầy Chợ Trà Vinh",
        "--producer",
        "1",
        "--json",
    ]))
    .unwrap();
    assert_eq!(seller["record"]["role"], "seller");
    assert_eq!(seller["record"]["shop"], "Quầy Chợ Trà Vinh");
    assert_eq!(seller["record"]["sells_for"], serde_json::json!([1]));
    assert!(
        env.fails(
            &[
                "token",
                "create",
                "--role",
                "admin",
                "--expires",
                "2020-01-01"
            ],
            2
        )
        .contains("expires")
    );
    assert!(
        env.fails(
            &["token", "create", "--role", "producer", "--producer", "999"],
            2
        )
        .contains("producer 999 does not exist")
    );
}

#[test]
fn every_state_change_is_an_event_in_the_epcis_export() {
    let env = Env::new();
    env.ok(&["demo"]);
    env.ok(&["producer", "list"]);
    // Batch 2 of the demo: its stamps, then each kind of change once.
    let issued = env.stamp_count(2);
    env.ok(&[
        "sheet",
        "--batch",
        "2",
        "--from",
        "1",
        "--count",
        "10",
        "-o",
        &env.path("p.csv").display().to_string(),
    ]);
    env.ok(&["activate", "--batch", "2", "--from", "1", "--count", "4"]);
    assert!(
        env.fails(
            &["activate", "--batch", "2", "--from", "9", "--count", "5"],
            2
        )
        .contains("never printed")
    );
    env.ok(&[
        "void",
        "--batch",
        "2",
        "--from",
        "10",
        "--count",
        "1",
        "--reason",
        "in hỏng",
    ]);
    env.ok(&[
        "recall",
        "--batch",
        "2",
        "--from",
        "5",
        "--count",
        "2",
        "--reason",
        "nhiễm khuẩn",
        "--notice",
        "Ngừng sử dụng",
    ]);
    env.ok(&["lift", "--batch", "2", "--reason", "kiểm nghiệm lại đạt"]);
    let out = env.path("events.json");
    env.ok(&[
        "export",
        "--batch",
        "2",
        "--epcis",
        &out.display().to_string(),
    ]);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    // JSON-LD with the EPCIS 2.0 context.
    assert_eq!(
        doc["@context"][0],
        "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
    );
    assert_eq!(
        (doc["type"].as_str(), doc["schemaVersion"].as_str()),
        (Some("EPCISDocument"), Some("2.0"))
    );
    let events = doc["epcisBody"]["eventList"].as_array().unwrap();
    let summary: Vec<(String, String, String, usize)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "ObjectEvent");
            assert!(
                e["eventTime"]
                    .as_str()
                    .unwrap()
                    .parse::<jiff::Timestamp>()
                    .is_ok()
            );
            assert!(e["tem:actor"].as_str().is_some_and(|a| !a.is_empty()));
            (
                e["tem:action"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["bizStep"].as_str().unwrap().to_string(),
                e["epcList"].as_array().unwrap().len(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str, n: u64| {
        (a.to_string(), b.to_string(), c.to_string(), n as usize)
    };
    assert_eq!(
        summary,
        vec![
            s("commission", "ADD", "commissioning", issued),
            s("print", "OBSERVE", "encoding", 10),
            s("activate", "OBSERVE", "packing", 4),
            s("void", "DELETE", "decommissioning", 1),
            s("recall", "OBSERVE", "holding", 2),
            s("lift", "OBSERVE", "holding", issued),
        ],
        "one event per state change (the refused activation left none)"
    );
    assert_eq!(events[4]["disposition"], "recalled");
    assert_eq!(events[3]["tem:reason"], "in hỏng");
    // Identifiers are the stamps of the batch, each once per event.
    let export = env.ok(&["export", "--batch", "2", "--csv", "-"]);
    let serials: HashSet<String> = export
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().to_string())
        .collect();
    let epcs: HashSet<String> = events[0]["epcList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(epcs, serials);
}

/// Runs `tem audit verify` and returns (exit code, output).
fn audit_verify(env: &Env) -> (i32, String) {
    let out = env.run(&["audit", "verify"]);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn audit_verify_detects_rows_changed_deleted_inserted_or_swapped() {
    let env = Env::new();
    a_history_of_changes(&env);
    let entries = every_change_is_an_entry_naming_who_made_it(&env);
    each_tampering_with_a_copy_is_detected(&env);
    a_kept_head_catches_a_log_rewritten_with_its_hashes(&env);
    stored_subtrees_dropped_are_rebuilt_on_open(&env, entries);
}

/// Demo data, a print job, a void, a token and a signed head.
fn a_history_of_changes(env: &Env) {
    env.ok(&["demo"]);
    env.ok(&[
        "sheet",
        "--batch",
        "1",
        "--from",
        "1",
        "--count",
        "5",
        "-o",
        &env.path("p.csv").display().to_string(),
    ]);
    env.ok(&[
        "void",
        "--batch",
        "1",
        "--from",
        "5",
        "--count",
        "1",
        "--reason",
        "in hỏng",
    ]);
    env.ok(&["token", "create", "--role", "inspector"]);
    env.ok(&["audit", "sign"]);
}

/// Returns how many entries the log holds.
fn every_change_is_an_entry_naming_who_made_it(env: &Env) -> i64 {
    let (code, out) = audit_verify(env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact"), "{out}");
    let entries: i64 = {
        let db = rusqlite::Connection::open(env.path("tem.db")).unwrap();
        db.query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))
            .unwrap()
    };
    assert!(entries > 10, "every change is an entry: {entries}");
    let actions: Vec<String> = {
        let db = rusqlite::Connection::open(env.path("tem.db")).unwrap();
        let mut stmt = db.prepare("SELECT DISTINCT action FROM audit_log").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for a in [
        "producer.create",
        "stamps.commission",
        "stamps.print",
        "stamps.void",
        "token.create",
    ] {
        assert!(actions.iter().any(|x| x == a), "no {a} entry: {actions:?}");
    }
    // Who: the demo loader, and the person at the command line.
    let actor = |action: &str| -> String {
        let db = rusqlite::Connection::open(env.path("tem.db")).unwrap();
        db.query_row(
            "SELECT actor FROM audit_log WHERE action = ?1 ORDER BY seq DESC LIMIT 1",
            [action],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(actor("producer.create"), "tem demo");
    assert!(actor("token.create").starts_with("cli:"));
    assert!(actor("stamps.void").starts_with("cli:"));
    entries
}

fn each_tampering_with_a_copy_is_detected(env: &Env) {
    let tamper = |sql: &str, why: &str| {
        let copy = Env::new();
        std::fs::copy(env.path("tem.db"), copy.path("tem.db")).unwrap();
        for ext in ["-wal", "-shm"] {
            let _ = std::fs::copy(
                env.path(&format!("tem.db{ext}")),
                copy.path(&format!("tem.db{ext}")),
            );
        }
        copy_dir(&env.path("keys"), &copy.path("keys"));
        let db = rusqlite::Connection::open(copy.path("tem.db")).unwrap();
        db.execute_batch(sql).unwrap();
        drop(db);
        let (code, out) = audit_verify(&copy);
        assert_eq!(code, 1, "{why} not detected: {out}");
        assert!(out.contains("TAMPERED"), "{out}");
        out
    };
    // A row changed (and its stored hash updated to match): the signed head differs.
    tamper(
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 3",
        "edited row",
    );
    tamper(
        "UPDATE audit_log SET actor = 'someone else', leaf = zeroblob(32) WHERE seq = 3",
        "edited row with its hash",
    );
    let out = tamper("DELETE FROM audit_log WHERE seq = 2", "deleted row");
    assert!(out.contains("jump"), "{out}");
    tamper(
        "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 4; UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1004;
         INSERT INTO audit_log (seq, at, actor, action, object, leaf) VALUES (4, '2026-01-01T00:00:00Z', 'x', 'stamps.void', 'batch:1', zeroblob(32))",
        "inserted row",
    );
    tamper(
        "UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -1",
        "swapped rows",
    );
}

/// Someone with the database rewrites an entry, its stored hash and drops
/// every signed head: the log alone looks intact, but a head an inspector
/// kept from before catches it.
fn a_kept_head_catches_a_log_rewritten_with_its_hashes(env: &Env) {
    let kept = env.path("kept-head.json");
    std::fs::write(&kept, env.ok(&["audit", "sign", "--json"])).unwrap();
    {
        let copy = Env::new();
        std::fs::copy(env.path("tem.db"), copy.path("tem.db")).unwrap();
        copy_dir(&env.path("keys"), &copy.path("keys"));
        let db = rusqlite::Connection::open(copy.path("tem.db")).unwrap();
        let (at, action, object, after): (String, String, String, Option<String>) = db
            .query_row(
                "SELECT at, action, object, after FROM audit_log WHERE seq = 2",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        let entry = tem::audit::Entry {
            seq: 2,
            at,
            actor: "someone else".into(),
            action,
            object,
            before: None,
            after: after.map(|a| serde_json::from_str(&a).unwrap()),
        };
        db.execute(
            "UPDATE audit_log SET actor = 'someone else', leaf = ?1 WHERE seq = 2",
            [&entry.leaf()[..]],
        )
        .unwrap();
        db.execute("DELETE FROM audit_heads", []).unwrap();
        drop(db);
        let (code, out) = audit_verify(&copy);
        assert_eq!(code, 0, "without a kept head nothing shows: {out}");
        let out = copy.run(&["audit", "verify", "--kept-head", kept.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.contains("no longer give the signed head"),
            "{stdout}"
        );
    }
}

/// A database from before the stored subtrees (V9): they are rebuilt on
/// open, the log grows on them and its new head is the recomputed one.
fn stored_subtrees_dropped_are_rebuilt_on_open(env: &Env, entries: i64) {
    {
        let db = rusqlite::Connection::open(env.path("tem.db")).unwrap();
        db.execute("DELETE FROM audit_nodes", []).unwrap();
    }
    env.ok(&[
        "void", "--batch", "1", "--from", "4", "--count", "1", "--reason", "rách",
    ]);
    env.ok(&["audit", "sign"]);
    let (code, out) = audit_verify(env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 signed heads checked"), "{out}");
    let nodes: i64 = rusqlite::Connection::open(env.path("tem.db"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM audit_nodes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        nodes as u32,
        (entries + 1) as u32 - (entries as u32 + 1).count_ones()
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn the_running_service_signs_audit_heads_on_its_own() {
    let env = Env::new();
    env.ok(&["demo"]);
    let mut serve = env
        .cmd()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TEM_AUDIT_HEAD_SECONDS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let heads = loop {
        let n: i64 = rusqlite::Connection::open(env.path("tem.db"))
            .and_then(|db| db.query_row("SELECT COUNT(*) FROM audit_heads", [], |r| r.get(0)))
            .unwrap_or(0);
        if n > 0 || started.elapsed() > Duration::from_secs(20) {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // With nothing new, no second head.
    std::thread::sleep(Duration::from_millis(2500));
    let after: i64 = rusqlite::Connection::open(env.path("tem.db"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM audit_heads", [], |r| r.get(0))
        .unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(heads, 1, "a head within seconds of starting");
    assert_eq!(after, 1, "no new head while the log did not grow");
    let (code, out) = audit_verify(&env);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("0 entries after the last signed head"),
        "{out}"
    );
    let bad = env
        .cmd()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TEM_AUDIT_HEAD_SECONDS", "0")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("audit_head_seconds"));
}

#[test]
fn audit_verify_checks_a_running_service_too() {
    let env = Env::new();
    env.ok(&["demo"]);
    env.ok(&["audit", "sign"]);
    let token = "remote-audit-token-0123456789";
    let mut cmd = env.cmd();
    cmd.env("TEM_ADMIN_TOKEN", token);
    let (mut serve, url) = crate::common::serve(cmd);
    let verify = |t: &str| {
        env.cmd()
            .args(["audit", "verify", "--remote", &url, "--token", t])
            .output()
            .unwrap()
    };
    let ok = verify(token);
    let ok_out = String::from_utf8_lossy(&ok.stdout).into_owned();
    // Without a token: from the public tiles, under the key set's key.
    let from_tiles = || {
        env.cmd()
            .args(["audit", "verify", "--remote", &url])
            .env_remove("TEM_TOKEN")
            .output()
            .unwrap()
    };
    let tiles_ok = from_tiles();
    assert_eq!(
        tiles_ok.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&tiles_ok.stdout),
        String::from_utf8_lossy(&tiles_ok.stderr)
    );
    assert!(
        String::from_utf8_lossy(&tiles_ok.stdout).contains("entries checked against their leaves")
    );
    // Someone with database access edits history behind the service's back.
    rusqlite::Connection::open(env.path("tem.db"))
        .unwrap()
        .execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2", [])
        .unwrap();
    let bad = verify(token);
    let tiles_bad = from_tiles();
    let wrong_token = verify("not-a-token-at-all-0000000");
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(ok.status.code(), Some(0), "{ok_out}");
    assert!(ok_out.contains("intact"), "{ok_out}");
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&bad.stdout)
    );
    assert!(String::from_utf8_lossy(&bad.stdout).contains("TAMPERED"));
    assert_eq!(tiles_bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&tiles_bad.stdout).contains("FINDING: entry 2 does not match"),
        "{}",
        String::from_utf8_lossy(&tiles_bad.stdout)
    );
    assert_eq!(wrong_token.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&wrong_token.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&wrong_token.stderr)
    );
}

#[test]
fn inspect_records_an_inspection_with_duplicates_and_a_pdf() {
    let env = Env::new();
    env.ok(&["demo"]);
    let csv = env.path("p.csv").display().to_string();
    env.ok(&[
        "sheet", "--batch", "1", "--from", "1", "--count", "3", "-o", &csv,
    ]);
    let first_url = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .find(|c| c.starts_with("http"))
        .unwrap()
        .to_string();
    let pdf = env.path("bien-ban.pdf");
    let out = env.run(&[
        "inspect",
        "--place",
        "Chợ Bến Thành",
        "--province",
        "Hồ Chí Minh",
        "--from-file",
        &csv,
        &first_url,
        "--pdf",
        &pdf.display().to_string(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a duplicate is a problem: {stdout}"
    );
    assert!(stdout.contains("DUPLICATE of #1"), "{stdout}");
    assert!(
        stdout.contains("4 stamps, 3 genuine, 1 with problems (1 duplicates)"),
        "{stdout}"
    );
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    // Stored, with its audit entry; the log still verifies.
    let db = rusqlite::Connection::open(env.path("tem.db")).unwrap();
    let (place, actor): (String, String) = db
        .query_row("SELECT place, inspector FROM inspections", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(place, "Chợ Bến Thành");
    assert!(actor.starts_with("cli:"), "{actor}");
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'inspection.create'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    env.ok(&["audit", "sign"]);
    assert_eq!(audit_verify(&env).0, 0);

    // All genuine: exit 0. Bad input: a clear error, exit 2, nothing stored.
    env.ok(&["inspect", "--place", "Chợ Bến Thành", &first_url]);
    let err = env.fails(&["inspect", "--place", " ", &first_url], 2);
    assert!(err.contains("place"), "{err}");
    let err = env.fails(&["inspect", "--place", "Chợ", "missing.png"], 2);
    assert!(err.contains("missing.png"), "{err}");
    let n: i64 = db
        .query_row("SELECT COUNT(*) FROM inspections", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

/// The URLs of stamps `1..=n` of demo batch 1, printed.
fn printed_urls(env: &Env, n: u32) -> Vec<String> {
    let csv = env.path("printed.csv").display().to_string();
    env.ok(&[
        "sheet",
        "--batch",
        "1",
        "--from",
        "1",
        "--count",
        &n.to_string(),
        "-o",
        &csv,
    ]);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "url").unwrap();
    lines
        .map(|l| l.split(',').nth(col).unwrap().to_string())
        .collect()
}

/// The offline kit's world: a service whose batch 1 has stamp 4 recalled
/// and stamp 5 voided, and an inspector's laptop (no database, no keys, no
/// server) holding the service's bundle and the key set it pins.
struct Kit {
    service: Env,
    field: Env,
    /// Printed stamps 1–5 of batch 1.
    urls: Vec<String>,
    /// Stamp 2's URL with its last digit changed.
    forged: String,
    bundle: std::path::PathBuf,
    trust: std::path::PathBuf,
}

impl Kit {
    fn new() -> Kit {
        let service = Env::new();
        service.ok(&["demo"]);
        let urls = printed_urls(&service, 5);
        service.ok(&[
            "void",
            "--batch",
            "1",
            "--from",
            "5",
            "--count",
            "1",
            "--reason",
            "in hỏng",
        ]);
        service.ok(&[
            "recall",
            "--batch",
            "1",
            "--from",
            "4",
            "--count",
            "1",
            "--reason",
            "nhiễm khuẩn",
            "--notice",
            "Ngừng sử dụng tem số 4",
        ]);
        let bundle_path = service.path("bundle.json");
        let out = service.ok(&["bundle", "export", "-o", &bundle_path.display().to_string()]);
        assert!(out.contains("1 recalled"), "{out}");
        let keyset = service.path("tem-keys.json");
        service.ok(&["keys", "export", "-o", &keyset.display().to_string()]);
        let mut forged = urls[1].clone();
        let last = forged.pop().unwrap();
        forged.push(if last == '1' { '2' } else { '1' });
        let field = Env::new();
        let (bundle, trust) = (field.path("bundle.json"), field.path("tem-keys.json"));
        std::fs::copy(&bundle_path, &bundle).unwrap();
        std::fs::copy(&keyset, &trust).unwrap();
        Kit {
            service,
            field,
            urls,
            forged,
            bundle,
            trust,
        }
    }

    /// `tem verify --bundle` on the laptop, at a market in Trà Vinh.
    fn verify(&self, bundle: &Path, extra: &[&str]) -> std::process::Output {
        let mut args = vec![
            "verify",
            "--bundle",
            bundle.to_str().unwrap(),
            "--trust",
            self.trust.to_str().unwrap(),
            "--place",
            "Chợ Trà Vinh",
            "--province",
            "Trà Vinh",
        ];
        args.extend_from_slice(extra);
        self.field.run(&args)
    }

    /// Where `tem verify --bundle` keeps the checks it made.
    fn checks(&self) -> std::path::PathBuf {
        self.field.path("bundle.json.checks.jsonl")
    }

    fn checks_kept(&self) -> usize {
        std::fs::read_to_string(self.checks())
            .unwrap()
            .lines()
            .count()
    }

    /// The bundle as the service signed it.
    fn read_bundle(&self) -> tem::service::bundle::Bundle {
        serde_json::from_str(&std::fs::read_to_string(&self.bundle).unwrap()).unwrap()
    }

    /// Writes `b` signed by `signer` to the laptop as `name`.
    fn write_signed(
        &self,
        name: &str,
        mut b: tem::service::bundle::Bundle,
        signer: &tem::codes::Signer,
    ) -> std::path::PathBuf {
        use tem::service::bundle::BUNDLE_DOMAIN;
        let sig = signer.sign_document(BUNDLE_DOMAIN, &serde_json::to_vec(&b.payload).unwrap());
        b.signature = data_encoding::BASE64URL_NOPAD.encode(&sig);
        b.kid = signer.kid().to_string();
        let path = self.field.path(name);
        std::fs::write(&path, serde_json::to_string(&b).unwrap()).unwrap();
        path
    }
}

#[test]
fn offline_bundle_checks_stamps_with_no_network_and_syncs_later() {
    let kit = Kit::new();
    the_kit_judges_stamps_offline(&kit);
    a_stale_bundle_is_a_warning_not_a_failure(&kit);
    edited_and_impostor_bundles_are_refused_and_record_nothing(&kit);
    back_online_the_checks_become_an_inspection_and_scans(&kit);
}

fn the_kit_judges_stamps_offline(kit: &Kit) {
    let u = &kit.urls;
    let out = kit.verify(&kit.bundle, &[&u[0], &u[3], &u[4], &kit.forged]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with("genuine"), "{stdout}");
    assert!(lines[0].contains("Hợp tác xã"), "origin shown: {stdout}");
    assert!(
        lines[1].starts_with("recalled") && lines[1].contains("Ngừng sử dụng tem số 4"),
        "{stdout}"
    );
    assert!(lines[2].starts_with("voided"), "{stdout}");
    assert!(lines[3].starts_with("forged"), "{stdout}");
    assert!(
        stderr.contains("minutes ago") && stderr.contains("trusted"),
        "{stderr}"
    );
    assert!(!stderr.contains("warning"), "a fresh bundle: {stderr}");
    assert!(
        !kit.field.path("tem.db").exists(),
        "offline checks touch no database"
    );
    assert_eq!(kit.checks_kept(), 4);
}

/// Signed by the service ten days ago.
fn a_stale_bundle_is_a_warning_not_a_failure(kit: &Kit) {
    let ring = tem::codes::KeyRing::open(&kit.service.path("keys")).unwrap();
    let mut old = kit.read_bundle();
    old.payload.created_at =
        (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(240)).to_string();
    let stale = kit.write_signed("stale.json", old, &ring.signer().unwrap());
    let out = kit.verify(&stale, &[&kit.urls[0]]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("10 days ago"), "{stderr}");
    assert!(
        stderr.contains("warning: the bundle is older than 7 days"),
        "{stderr}"
    );
    let out = kit.verify(&stale, &["--max-age", "30", &kit.urls[0]]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
}

fn edited_and_impostor_bundles_are_refused_and_record_nothing(kit: &Kit) {
    let checks_before = kit.checks_kept();
    // Edited by hand: the recall removed.
    let text = std::fs::read_to_string(&kit.bundle).unwrap();
    let edited = kit.field.path("edited.json");
    std::fs::write(
        &edited,
        text.replace("Ngừng sử dụng tem số 4", "Bình thường"),
    )
    .unwrap();
    let out = kit.verify(&edited, &[&kit.urls[3]]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("changed after tem signed it"), "{stderr}");
    assert!(out.stdout.is_empty());
    // Re-signed by someone else's key, with that key put in the bundle.
    let mut forged_bundle = kit.read_bundle();
    forged_bundle
        .payload
        .batches
        .iter_mut()
        .for_each(|b| b.recalls.clear());
    let mallory = tem::codes::Signer::from_secret([7u8; 32]);
    forged_bundle
        .payload
        .keys
        .keys
        .push(tem::codes::keyring::PublicKeyEntry::new(
            mallory.public_key(),
            tem::codes::KeyStatus::Active,
        ));
    let impostor = kit.write_signed("impostor.json", forged_bundle, &mallory);
    let out = kit.verify(&impostor, &[&kit.urls[3]]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not in the key set you trust"), "{stderr}");
    assert_eq!(
        kit.checks_kept(),
        checks_before,
        "refused bundles record nothing"
    );
}

fn back_online_the_checks_become_an_inspection_and_scans(kit: &Kit) {
    let token = "sync-admin-token-0123456789abcdef";
    let mut cmd = kit.service.cmd();
    cmd.env("TEM_ADMIN_TOKEN", token);
    let (mut serve, url) = crate::common::serve(cmd);
    let checks = kit.checks();
    let sync = |token: &str| {
        kit.field.run(&[
            "bundle",
            "sync",
            "--checks",
            checks.to_str().unwrap(),
            "--url",
            &url,
            "--token",
            token,
        ])
    };
    let out = sync("wrong-token");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    assert_eq!(kit.checks_kept(), 4, "kept after a failure");
    let out = sync(token);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("4 checks at Chợ Trà Vinh"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(&checks).unwrap(),
        "",
        "nothing left to send"
    );
    assert!(String::from_utf8_lossy(&sync(token).stdout).contains("nothing to upload"));
    let _ = serve.kill();
    let _ = serve.wait();

    let db = rusqlite::Connection::open(kit.service.path("tem.db")).unwrap();
    let (source, province, items): (String, String, i64) = db
        .query_row(
            "SELECT source, province, (SELECT COUNT(*) FROM inspection_items WHERE inspection_id = i.id) FROM inspections i",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (source.as_str(), province.as_str(), items),
        ("offline", "Trà Vinh", 4)
    );
    let offline_verdicts: Vec<(String, String)> = db
        .prepare("SELECT verdict, offline_verdict FROM inspection_items ORDER BY n")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        offline_verdicts,
        [
            ("genuine", "genuine"),
            ("recalled", "recalled"),
            ("voided", "voided"),
            ("forged", "forged")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // Scans for the three registered stamps, none for the forged one.
    let scans: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM scans WHERE agent = 'tem offline kit'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(scans, 3);
}

/// A product with everything Circular 02 asks for and a valid OCOP rating
/// (decided `ocop_age_days` ago), a batch with stages, 20 stamps: 1–10
/// printed, 1–3 activated, 10 voided. Returns the batch id.
fn complete_batch(env: &Env, ocop_age_days: i64) -> u32 {
    let today = jiff::Zoned::now().date();
    let decided = today - jiff::Span::new().days(ocop_age_days);
    let product = serde_json::json!({
        "producer_id": 1, "name": "Bưởi da xanh Cầu Kè", "ocop_group": "food",
        "ocop": {"stars": 4, "decision_no": "99/QĐ-UBND", "decision_date": decided.to_string()},
        "images": ["buoi-da-xanh.jpg"],
        "certifications": [{"name": "VietGAP", "number": "VG-01", "valid_until": (today + jiff::Span::new().days(400)).to_string()}],
    });
    std::fs::write(env.path("product.json"), product.to_string()).unwrap();
    let out = env.ok(&[
        "product",
        "add",
        "--input",
        env.path("product.json").to_str().unwrap(),
        "--json",
    ]);
    let product: Value = serde_json::from_str(&out).unwrap();
    let batch = serde_json::json!({
        "lot_code": "BX-2026-01", "production_date": (today - jiff::Span::new().days(10)).to_string(),
        "shelf_life_days": 60, "quantity": 20,
        "stages": [{"name": "Thu hoạch", "place": "Vườn ấp Trà Ốt", "time": (today - jiff::Span::new().days(11)).to_string()}],
    });
    std::fs::write(env.path("batch.json"), batch.to_string()).unwrap();
    let out = env.ok(&[
        "batch",
        "add",
        "--product",
        &product["id"].to_string(),
        "--input",
        env.path("batch.json").to_str().unwrap(),
        "--json",
    ]);
    let batch: Value = serde_json::from_str(&out).unwrap();
    let id = batch["id"].as_u64().unwrap() as u32;
    let b = id.to_string();
    env.ok(&["issue", "--batch", &b, "--count", "20"]);
    let csv = env.path("p.csv").display().to_string();
    env.ok(&[
        "sheet", "--batch", &b, "--from", "1", "--count", "10", "-o", &csv,
    ]);
    env.ok(&["activate", "--batch", &b, "--from", "1", "--count", "3"]);
    env.ok(&[
        "void",
        "--batch",
        &b,
        "--from",
        "10",
        "--count",
        "1",
        "--reason",
        "in hỏng",
    ]);
    env.ok(&["audit", "sign"]);
    id
}

fn verify_batch_json(env: &Env, batch: u32) -> (i32, Value) {
    let out = env.run(&["verify", "--batch", &batch.to_string(), "--json"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), json)
}

fn kinds(report: &Value) -> Vec<String> {
    report["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn batch_verification_finds_rows_changed_behind_tems_back() {
    let env = Env::new();
    env.ok(&["demo"]);
    let batch = complete_batch(&env, 200);

    // Clean: exit 0, a signed report that verify-report accepts.
    let report = env.path("report.json");
    let pdf = env.path("report.pdf");
    let out = env.run(&[
        "verify",
        "--batch",
        &batch.to_string(),
        "-o",
        report.to_str().unwrap(),
        "--pdf",
        pdf.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("CLEAN"), "{stdout}");
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    let signed: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(signed["report"]["verdict"], "clean");
    assert_eq!(signed["report"]["stamps"]["total"], 20);
    assert_eq!(signed["report"]["stamps"]["signatures_ok"], 20);
    assert_eq!(signed["report"]["log"]["audit_log_intact"], true);
    let ok = env.ok(&["verify-report", report.to_str().unwrap()]);
    assert!(ok.contains("valid") && ok.contains("clean"), "{ok}");
    // The report edited after signing (its verdict, or a number): refused.
    for (from, to) in [
        ("\"clean\"", "\"findings\""),
        ("\"signatures_ok\": 20", "\"signatures_ok\": 21"),
    ] {
        let text = std::fs::read_to_string(&report).unwrap();
        assert!(text.contains(from), "{from}");
        let edited = env.path("edited.json");
        std::fs::write(&edited, text.replacen(from, to, 1)).unwrap();
        let err = env.fails(&["verify-report", edited.to_str().unwrap()], 1);
        assert!(err.contains("changed after tem signed it"), "{err}");
    }
    // Stored, with its audit entry.
    let db = rusqlite::Connection::open(env.path("tem.db")).unwrap();
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM verifications WHERE verdict = 'clean'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);

    // Each change made directly in SQLite, on a copy, is a finding.
    let tampered = |sql: &str, on: u32| -> Value {
        let copy = Env::new();
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::copy(
                env.path(&format!("tem.db{ext}")),
                copy.path(&format!("tem.db{ext}")),
            );
        }
        copy_dir(&env.path("keys"), &copy.path("keys"));
        let db = rusqlite::Connection::open(copy.path("tem.db")).unwrap();
        db.execute_batch(sql).unwrap();
        drop(db);
        let (code, report) = verify_batch_json(&copy, on);
        assert_eq!(code, 1, "{report}");
        assert_eq!(report["report"]["verdict"], "compromised", "{report}");
        report
    };
    let b = batch;
    // A stamp inserted with a well-formed serial and a made-up signature.
    let r = tampered(
        &format!(
            "INSERT INTO stamps (batch_id, seq, serial, issuance_id, state, signature)
             SELECT batch_id, 21, serial + 7, issuance_id, 1, zeroblob(64) FROM stamps WHERE batch_id = {b} AND seq = 1"
        ),
        b,
    );
    let k = kinds(&r);
    assert!(
        k.contains(&"bad-signature".into()) && k.contains(&"not-in-log".into()),
        "{k:?}"
    );
    assert_eq!(r["report"]["stamps"]["bad_signatures"], 1);
    // A stamp moved to another batch: missing here, forged there.
    let r = tampered(
        &format!("UPDATE stamps SET batch_id = 1, seq = 9999 WHERE batch_id = {b} AND seq = 5"),
        b,
    );
    assert!(kinds(&r).contains(&"missing-row".into()), "{r}");
    let r = tampered(
        &format!("UPDATE stamps SET batch_id = 1, seq = 9999 WHERE batch_id = {b} AND seq = 5"),
        1,
    );
    assert!(kinds(&r).contains(&"bad-signature".into()), "{r}");
    // A stamp deleted.
    let r = tampered(
        &format!("DELETE FROM stamps WHERE batch_id = {b} AND seq = 7"),
        b,
    );
    assert!(kinds(&r).contains(&"missing-row".into()), "{r}");
    assert_eq!(r["report"]["log"]["missing_rows"], 1);
    // A state changed (a voided stamp made good again).
    let r = tampered(
        &format!("UPDATE stamps SET state = 1 WHERE batch_id = {b} AND seq = 10"),
        b,
    );
    assert!(kinds(&r).contains(&"altered-state".into()), "{r}");
    // An audit entry removed (the print job's).
    let r = tampered(
        &format!("DELETE FROM audit_log WHERE action = 'stamps.print' AND object = 'batch:{b}'"),
        b,
    );
    let k = kinds(&r);
    assert!(
        k.contains(&"audit-log".into()) && k.contains(&"altered-state".into()),
        "{k:?}"
    );
    assert_eq!(r["report"]["log"]["audit_log_intact"], false);
}

#[test]
fn batch_verification_reports_a_lapsed_ocop_rating() {
    let env = Env::new();
    env.ok(&["demo"]);
    // Decided 37 months ago: past its 36 months.
    let batch = complete_batch(&env, 37 * 31);
    let (code, report) = verify_batch_json(&env, batch);
    assert_eq!(code, 1);
    assert_eq!(report["report"]["verdict"], "findings", "{report}");
    let lapsed = report["report"]["data"]["lapsed"].as_array().unwrap();
    assert!(
        lapsed
            .iter()
            .any(|l| l.as_str().unwrap().contains("OCOP 4-star")),
        "{lapsed:?}"
    );
    // A batch missing what consumers must be shown: findings too.
    let (_, demo) = verify_batch_json(&env, 2);
    let missing = demo["report"]["data"]["missing"].as_array().unwrap();
    assert!(
        missing
            .iter()
            .any(|m| m.as_str().unwrap().contains("product image")),
        "{missing:?}"
    );
}

#[test]
fn backup_copies_a_live_database_that_checks_out() {
    let env = Env::new();
    env.ok(&["demo"]);
    env.ok(&["audit", "sign"]);
    // While tem serves (and holds the database open).
    let (mut serve, _) = crate::common::serve(env.cmd());
    let copy = env.path("backup.db");
    let out = env.ok(&["backup", "-o", copy.to_str().unwrap()]);
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(out.contains("integrity ok"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // The copy is a whole tem database: same stamps, an intact audit log.
    let out = env.ok(&["--db", copy.to_str().unwrap(), "audit", "verify"]);
    assert!(out.contains("intact"), "{out}");
    let count = |db: &Path| -> i64 {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM stamps", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&copy), count(&env.path("tem.db")));
    // An existing file is not overwritten without --force.
    let err = env.fails(&["backup", "-o", copy.to_str().unwrap()], 2);
    assert!(err.contains("--force"), "{err}");
    env.ok(&["backup", "-o", copy.to_str().unwrap(), "--force"]);
}

#[test]
fn a_bundle_for_one_province_holds_only_its_batches() {
    let env = Env::new();
    env.ok(&["demo"]);
    let file = env.path("tq.json");
    env.ok(&[
        "bundle",
        "export",
        "--province",
        "tuyên quang",
        "-o",
        file.to_str().unwrap(),
    ]);
    let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let batches = bundle["payload"]["batches"].as_array().unwrap();
    assert!(!batches.is_empty());
    assert!(
        batches.iter().all(|b| b["province"] == "Tuyên Quang"),
        "{batches:?}"
    );
    assert_eq!(
        bundle["payload"]["provinces"],
        serde_json::json!(["tuyên quang"])
    );
    // A stamp of another province: genuine by its signature, its batch not in the bundle.
    let csv = env.path("p.csv");
    env.ok(&[
        "sheet",
        "--batch",
        "1",
        "--from",
        "1",
        "--count",
        "1",
        "-o",
        csv.to_str().unwrap(),
    ]);
    let url = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .find(|c| c.starts_with("http"))
        .unwrap()
        .to_string();
    // Pinned with the fingerprint the service prints.
    let listed = env.ok(&["keys", "list"]);
    assert!(
        listed.contains("audit log verifier key: ") && listed.contains("/log+"),
        "{listed}"
    );
    let fingerprint = listed
        .split("key set fingerprint: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let keys = env.path("tem-keys.json");
    env.ok(&["keys", "export", "-o", keys.to_str().unwrap()]);
    env.ok(&[
        "bundle",
        "trust",
        "--keys",
        keys.to_str().unwrap(),
        "--fingerprint",
        &fingerprint,
    ]);
    let out = env.ok(&["verify", "--bundle", file.to_str().unwrap(), &url]);
    assert!(
        out.starts_with("genuine") && out.contains("not in this bundle"),
        "{out}"
    );
}

/// The field kit trusts only keys the inspector pinned: a forger's bundle,
/// signed by the forger's key and carrying it, is refused (exit 2) however
/// it is presented, and nothing is pinned without the right fingerprint.
#[test]
fn the_field_kit_refuses_bundles_it_has_no_pinned_key_for() {
    use tem::service::bundle::{BUNDLE_DOMAIN, Bundle};
    let service = Env::new();
    service.ok(&["demo"]);
    let urls = printed_urls(&service, 2);
    let real = service.path("bundle.json");
    service.ok(&["bundle", "export", "-o", real.to_str().unwrap()]);
    let keys = service.path("tem-keys.json");
    service.ok(&["keys", "export", "-o", keys.to_str().unwrap()]);
    let fingerprint = tem::codes::KeySet::read(&keys).unwrap().fingerprint();
    // Mallory's bundle: a key set of her own, every stamp of hers genuine.
    let mallory = tem::codes::Signer::from_secret([7u8; 32]);
    let mut fake: Bundle = serde_json::from_str(&std::fs::read_to_string(&real).unwrap()).unwrap();
    fake.payload.keys = tem::codes::KeySet::new(vec![tem::codes::keyring::PublicKeyEntry::new(
        mallory.public_key(),
        tem::codes::KeyStatus::Active,
    )]);
    let sig = mallory.sign_document(BUNDLE_DOMAIN, &serde_json::to_vec(&fake.payload).unwrap());
    fake.signature = data_encoding::BASE64URL_NOPAD.encode(&sig);
    fake.kid = mallory.kid().to_string();
    let fake_path = service.path("fake.json");
    std::fs::write(&fake_path, serde_json::to_string(&fake).unwrap()).unwrap();
    let forged = format!(
        "https://tem.example.vn/{}",
        mallory
            .sign(tem::domain::Serial(42), tem::domain::BatchId(1))
            .to_digits()
    );

    let field = Env::new();
    let verify = |bundle: &Path, code: &str| {
        field.run(&["verify", "--bundle", bundle.to_str().unwrap(), code])
    };
    // Nothing pinned yet: no bundle is used, not even the real one.
    for bundle in [&fake_path, &real] {
        let out = verify(bundle, &forged);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("no trusted key set"), "{err}");
        assert!(out.stdout.is_empty());
    }
    // A wrong fingerprint pins nothing.
    let err = field.fails(
        &[
            "bundle",
            "trust",
            "--keys",
            keys.to_str().unwrap(),
            "--fingerprint",
            "0000-0000-0000-0000-0000-0000-0000-0000",
        ],
        2,
    );
    assert!(err.contains("nothing pinned"), "{err}");
    assert!(!field.path("trusted-keys.json").exists());
    field.ok(&[
        "bundle",
        "trust",
        "--keys",
        keys.to_str().unwrap(),
        "--fingerprint",
        &fingerprint,
    ]);
    // Mallory's bundle is refused; the service's is used.
    let out = verify(&fake_path, &forged);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not in the key set you trust"), "{err}");
    let out = verify(&real, &forged);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("unknown-key"));
    let out = verify(&real, &urls[0]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("genuine"));

    // A kit with no pin pins the service's key set on its first sync.
    let fresh = Env::new();
    let token = "kit-admin-token-0123456789abcdef";
    let mut cmd = service.cmd();
    cmd.env("TEM_ADMIN_TOKEN", token);
    let (mut serve, url) = crate::common::serve(cmd);
    let checks = fresh.path("none.jsonl");
    std::fs::write(&checks, "").unwrap();
    let out = fresh.run(&[
        "bundle",
        "sync",
        "--checks",
        checks.to_str().unwrap(),
        "--url",
        &url,
        "--token",
        "wrong",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !fresh.path("trusted-keys.json").exists(),
        "a refused token pins nothing"
    );
    let out = fresh.run(&[
        "bundle",
        "sync",
        "--checks",
        checks.to_str().unwrap(),
        "--url",
        &url,
        "--token",
        token,
    ]);
    let _ = serve.kill();
    let _ = serve.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(&fingerprint), "{stdout}");
    let out = fresh.run(&["verify", "--bundle", real.to_str().unwrap(), &urls[1]]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = fresh.run(&["verify", "--bundle", fake_path.to_str().unwrap(), &forged]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn issuing_with_claim_codes_makes_the_claim_key_once_for_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.ok(&["demo"]);
    let key = env.path("keys/claim.key");
    assert!(!key.exists(), "no claim key before a claim issuance");
    env.ok(&["issue", "--batch", "1", "--count", "3", "--claim-codes"]);
    let first = std::fs::read(&key).unwrap();
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    env.ok(&["issue", "--batch", "1", "--count", "2", "--claim-codes"]);
    assert_eq!(std::fs::read(&key).unwrap(), first, "made once, then kept");
    let db = rusqlite::Connection::open(env.path("tem.db")).unwrap();
    let claim_issuances: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM issuances WHERE claim_codes = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(claim_issuances, 2);
}

/// `tem issue --gs1`: the CSV's URLs are GS1 Digital Link URIs with the
/// product's GTIN, which `tem verify` verifies offline; a product without a
/// GTIN is refused with a message, and nothing is issued.
#[test]
fn stamps_issued_in_gs1_form_verify_offline_and_need_a_gtin() {
    let env = Env::new();
    env.ok(&["demo"]);
    let batch = env.batches()[0]["id"].as_u64().unwrap().to_string();
    let err = env.fails(&["issue", "--batch", &batch, "--count", "1", "--gs1"], 2);
    assert!(err.contains("GTIN"), "{err}");
    let out = env.ok(&[
        "product",
        "add",
        "--producer",
        "1",
        "--name",
        "Mật ong bạc hà",
        "--gtin",
        "8938505974194",
    ]);
    let product = out
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .expect("the new product's id")
        .to_string();
    env.ok(&[
        "batch",
        "add",
        "--product",
        &product,
        "--lot",
        "MO-1",
        "--production-date",
        "2026-11-01",
        "--shelf-life-days",
        "365",
        "--quantity",
        "10",
    ]);
    let gs1_batch = env
        .batches()
        .iter()
        .find(|b| b["lot_code"] == "MO-1")
        .expect("the new batch")["id"]
        .as_u64()
        .unwrap()
        .to_string();
    let csv = env.path("gs1.csv");
    let out = env.ok(&[
        "issue",
        "--batch",
        &gs1_batch,
        "--count",
        "2",
        "--gs1",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(out.contains("QR version 8"), "{out}");
    let (header, rows) = read_csv(&csv);
    let url = &rows[0][header.iter().position(|h| h == "url").unwrap()];
    assert!(
        url.starts_with("https://tem.example.vn/01/08938505974194/21/") && url.contains("?s=1"),
        "{url}"
    );
    let verdict = json_lines(&env.ok(&["verify", "--json", url]));
    assert_eq!(verdict[0]["verdict"], "genuine", "{verdict:?}");
}

/// `tem audit monitor URL` against a running `tem serve`: trusts the log's
/// key on first use and keeps what it saw; the next run checks the log
/// only grew; a state file whose root the log no longer gives (as after a
/// rewrite) is a finding with exit 1, and the state is left as it was.
#[test]
fn audit_monitor_watches_a_running_log_and_reports_a_rewrite() {
    let env = Env::new();
    env.ok(&["demo"]);
    let (mut serve, url) = crate::common::serve(env.cmd());
    let state = env.path("monitor.json");
    let state_arg = state.to_str().unwrap();
    let first = env.run(&["audit", "monitor", &url, "--state", state_arg]);
    let out = String::from_utf8_lossy(&first.stdout).to_string();
    let err = String::from_utf8_lossy(&first.stderr).to_string();
    assert!(first.status.success(), "{out}{err}");
    assert!(
        out.contains("entries checked against their leaves"),
        "{out}"
    );
    assert!(err.contains("trusting the log's key on first use"), "{err}");
    let second = env.ok(&["audit", "monitor", &url, "--state", state_arg]);
    assert!(second.contains("grown from"), "{second}");
    let mut seen: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    seen["root"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    std::fs::write(&state, seen.to_string()).unwrap();
    let bad = env.run(&["audit", "monitor", &url, "--state", state_arg]);
    let _ = serve.kill();
    let _ = serve.wait();
    let out = String::from_utf8_lossy(&bad.stdout).to_string();
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FINDING") && out.contains("rewritten or forked"),
        "{out}"
    );
    let kept: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(kept, seen, "a bad run leaves the state as it was");
}
