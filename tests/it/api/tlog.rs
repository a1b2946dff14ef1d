//! The audit log as a tiled transparency log, checked by independent code:
//! the `signed_note` crate verifies the checkpoint with the verifier key
//! the key set publishes, and the `tlog_tiles` crate (a port of Go's
//! sumdb/tlog) reads tem's tiles over HTTP, authenticates them against the
//! checkpoint, and proves entries from the entry bundles into the tree.

use serde_json::{Value, json};
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash, Tile, TileHashReader, TileReader};

use super::helpers::{TestApp, spawn_app};

/// Bytes of a public GET.
fn fetch(app: &TestApp, path: &str) -> (u16, Vec<u8>) {
    let mut resp = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .get(app.url(path))
        .call()
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_vec().unwrap_or_default())
}

/// The C2SP path of a tile (the crate's own paths are Go sumdb's, with the
/// tile height in them): written here from the spec, not from tem's code.
fn c2sp_path(t: &Tile) -> String {
    let mut n = t.level_index();
    let mut parts = vec![format!("{:03}", n % 1000)];
    while n >= 1000 {
        n /= 1000;
        parts.insert(0, format!("x{:03}", n % 1000));
    }
    let level = if t.is_data() {
        "entries".to_string()
    } else {
        t.level().to_string()
    };
    let partial = if t.width() == 256 {
        String::new()
    } else {
        format!(".p/{}", t.width())
    };
    format!("/log/tile/{level}/{}{partial}", parts.join("/"))
}

struct Http<'a>(&'a TestApp);

impl TileReader for Http<'_> {
    fn height(&self) -> u8 {
        8
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        Ok(tiles
            .iter()
            .map(|t| {
                let (status, body) = fetch(self.0, &c2sp_path(t));
                assert_eq!(status, 200, "{}", c2sp_path(t));
                body
            })
            .collect())
    }
    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

/// The checkpoint, verified with the published key: (size, root hash).
fn checkpoint(app: &TestApp) -> (u64, Hash) {
    let (_, keys) = fetch(app, "/.well-known/tem-keys.json");
    let keys: Value = serde_json::from_slice(&keys).unwrap();
    let vkey = keys["log_verifier_key"]
        .as_str()
        .expect("log_verifier_key in the key set");
    assert!(vkey.starts_with("tem.example.vn/log+"), "{vkey}");
    let (status, note) = fetch(app, "/log/checkpoint");
    assert_eq!(status, 200);
    let note = Note::from_bytes(&note).unwrap();
    let known = VerifierList::new(vec![Box::new(StandardVerifier::new(vkey).unwrap())]);
    note.verify(&known)
        .expect("the checkpoint's signature holds");
    let cp = Checkpoint::from_bytes(note.text()).unwrap();
    assert_eq!(cp.origin(), "tem.example.vn/log");
    (cp.size(), *cp.hash())
}

/// Entry `index` (0-based) from its entry bundle.
fn entry(app: &TestApp, size: u64, index: u64) -> Vec<u8> {
    let bundle = index / 256;
    let full = (bundle + 1) * 256 <= size;
    let width = if full { 256 } else { size % 256 };
    let t = Tile::new(8, 0, bundle, width as u32, true);
    let (status, data) = fetch(app, &c2sp_path(&t));
    assert_eq!(status, 200);
    let mut at = 0usize;
    let mut found = None;
    for i in 0..width {
        let len = u16::from_be_bytes([data[at], data[at + 1]]) as usize;
        if bundle * 256 + i == index {
            found = Some(data[at + 2..at + 2 + len].to_vec());
        }
        at += 2 + len;
    }
    assert_eq!(at, data.len(), "the bundle holds exactly {width} entries");
    found.unwrap()
}

#[test]
fn an_independent_tlog_client_checks_the_checkpoint_tiles_and_entries() {
    let app = spawn_app();
    // 600 audit entries: two full tiles of leaves, a partial one, and a
    // level-1 tile.
    for i in 0..600 {
        let r = app.post(
            "/api/v1/producers",
            &json!({"kind": "household", "name": format!("Hộ {i}"), "commune": "Dân Thành", "province": "Trà Vinh"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let (size, root) = checkpoint(&app);
    assert!(size >= 600, "{size}");
    let reader = Http(&app);
    let hashes = TileHashReader::new(size, root, &reader);
    // The tree hash from tiles alone equals the signed root.
    assert_eq!(tlog_tiles::tree_hash(size, &hashes).unwrap(), root);
    // Entries from the bundles prove into the tree.
    for index in [0, 255, 256, 511, size - 1] {
        let data = entry(&app, size, index);
        let proof = tlog_tiles::prove_record(size, index, &hashes).unwrap();
        tlog_tiles::check_record(&proof, size, root, index, tlog_tiles::record_hash(&data))
            .unwrap_or_else(|e| panic!("entry {index}: {e:?}"));
    }
    // Full tiles are immutable; a tile past the tree is 404.
    let (status, _) = fetch(&app, "/log/tile/0/000");
    assert_eq!(status, 200);
    assert_eq!(fetch(&app, "/log/tile/0/999").0, 404);
    assert_eq!(fetch(&app, "/log/tile/0/000.p/0").0, 404);
    assert_eq!(
        fetch(&app, "/log/tile/1/000").0,
        404,
        "a level-1 tile needs 65,536 entries"
    );

    // An entry changed behind tem's back no longer proves into the tree.
    // (The last one: a full bundle already served is kept in memory, as
    // it was; a partial one is read again each time.)
    app.execute_sql(&format!(
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = {size}"
    ));
    let last = size - 1;
    let data = entry(&app, size, last);
    let proof = tlog_tiles::prove_record(size, last, &hashes).unwrap();
    assert!(
        tlog_tiles::check_record(&proof, size, root, last, tlog_tiles::record_hash(&data)).is_err(),
        "a rewritten entry must not check"
    );
}

/// `tem audit monitor`'s check, from the public tiles alone: a sound log
/// that grew passes; a fork (the tree of a size seen before now gives
/// another root), a checkpoint not signed by the pinned key and an entry
/// rewritten in the database are each reported.
#[test]
fn the_monitor_checks_the_log_from_its_tiles_and_catches_rewrites_and_forks() {
    use tem::service::tlog_monitor;
    let app = spawn_app();
    let add = |n: usize| {
        for i in 0..n {
            let r = app.post(
                "/api/v1/producers",
                &json!({"kind": "household", "name": format!("Hộ {i}"), "commune": "Dân Thành", "province": "Trà Vinh"}),
            );
            assert_eq!(r.status, 201, "{}", r.body);
        }
    };
    add(300);
    let get = |path: &str| -> Result<Vec<u8>, String> {
        match fetch(&app, path) {
            (200, body) => Ok(body),
            (status, _) => Err(format!("{path}: {status}")),
        }
    };
    let (_, keys) = fetch(&app, "/.well-known/tem-keys.json");
    let keys: Value = serde_json::from_slice(&keys).unwrap();
    let vkey = keys["log_verifier_key"].as_str().unwrap().to_string();
    let first = tlog_monitor::check(&get, &vkey, None).unwrap();
    assert!(first.findings.is_empty(), "{:?}", first.findings);
    assert!(first.now.size >= 300 && first.entries == first.now.size);
    add(10);
    let second = tlog_monitor::check(&get, &vkey, Some(&first.now)).unwrap();
    assert!(second.findings.is_empty(), "{:?}", second.findings);
    assert_eq!(second.before, Some(first.now.size));
    assert!(second.now.size >= first.now.size + 10);
    // A fork: what the monitor saw of that size had another root.
    let mut forked = first.now.clone();
    forked.root = data_encoding::BASE64.encode(&[7u8; 32]);
    let r = tlog_monitor::check(&get, &vkey, Some(&forked)).unwrap();
    assert!(
        r.findings.iter().any(|f| f.contains("rewritten or forked")),
        "{:?}",
        r.findings
    );
    // Shrunk: the monitor saw more entries than the log has now.
    let mut bigger = second.now.clone();
    bigger.size += 1;
    let r = tlog_monitor::check(&get, &vkey, Some(&bigger)).unwrap();
    assert!(
        r.findings.iter().any(|f| f.contains("shrank")),
        "{:?}",
        r.findings
    );
    // Another key than the pinned one.
    let other = tem::audit::tiles::verifier_key("tem.example.vn/log", &[9u8; 32]);
    let err = tlog_monitor::check(&get, &other, None).unwrap_err();
    assert!(err.contains("not signed by the pinned key"), "{err}");
    // An entry rewritten behind tem's back (the last: full bundles already
    // served are kept in memory as they were).
    let last = second.now.size;
    app.execute_sql(&format!(
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = {last}"
    ));
    let r = tlog_monitor::check(&get, &vkey, Some(&second.now)).unwrap();
    let expected = format!("entry {last} does not match");
    assert!(
        r.findings.iter().any(|f| f.contains(&expected)),
        "{:?}",
        r.findings
    );
}
