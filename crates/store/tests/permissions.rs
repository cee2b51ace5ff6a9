//! The SQLite store holds audit records and learned registry credentials: its files are created 0600, and an
//! existing world-readable file is tightened when opened.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn sqlite_store_files_are_private() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("store.db");
    let s = portcullis_store::open(db.to_str().unwrap()).unwrap();
    s.upsert_image("sha256:aa", Some("r/app:1"), &BTreeMap::new())
        .unwrap();
    assert_eq!(mode(&db), 0o600, "database file");
    for suffix in ["-wal", "-shm"] {
        let side = d.path().join(format!("store.db{suffix}"));
        assert!(side.exists(), "{} (WAL mode)", side.display());
        assert_eq!(mode(&side), 0o600, "{}", side.display());
    }
    drop(s);

    let old = d.path().join("old.db");
    std::fs::write(&old, b"").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = portcullis_store::open(old.to_str().unwrap()).unwrap();
    assert!(s.schema_version().unwrap() > 0);
    assert_eq!(mode(&old), 0o600, "an existing 0644 store is tightened");
}
