//! Helpers shared by the fuzz targets: a one-file filesystem view so private cataloguers can be reached through
//! their public entry points, and a per-process scratch directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use portcullis_image::{Entry, EntryKind, FsView};

/// A scratch directory private to this fuzzer process (on tmpfs when there is one), created once.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("portcullis-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    })
}

/// A view holding the single kept file `path` (absolute) with `content`, plus its parent directories, written
/// under `scratch()/view` (the previous content is replaced).
pub fn one_file_view(path: &str, content: &[u8], mode: u32) -> FsView {
    let root = scratch().join("view");
    let _ = std::fs::remove_dir_all(&root);
    let disk = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(disk.parent().expect("absolute path")).expect("view directories");
    std::fs::write(&disk, content).expect("view file");
    let mut entries = BTreeMap::new();
    let entry = |kind, size, mode| Entry {
        kind,
        size,
        mode,
        uid: 0,
        gid: 0,
        layer: 0,
        kept: false,
    };
    let mut dir = String::new();
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    entries.insert("/".to_string(), entry(EntryKind::Dir, 0, 0o755));
    for c in &parts[..parts.len() - 1] {
        dir.push('/');
        dir.push_str(c);
        entries.insert(dir.clone(), entry(EntryKind::Dir, 0, 0o755));
    }
    let mut file = entry(EntryKind::File, content.len() as u64, mode);
    file.kept = true;
    entries.insert(path.to_string(), file);
    FsView {
        entries,
        content_dir: root,
        layer_digests: vec![format!("sha256:{}", "0".repeat(64))],
    }
}

/// Writes `content` to a scratch file named `name` and returns its path.
pub fn scratch_file(name: &str, content: &[u8]) -> PathBuf {
    let p = scratch().join(name);
    std::fs::write(&p, content).expect("scratch file");
    p
}
