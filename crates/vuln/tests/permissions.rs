//! The vulnerability database file is created 0600 (with its WAL side files).

use std::os::unix::fs::PermissionsExt;

#[test]
fn vuln_db_files_are_private() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("vuln.db");
    let _db = portcullis_vuln::VulnDb::open(&path).unwrap();
    for p in [path.clone(), d.path().join("vuln.db-wal")] {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
}
