//! `cargo xtask <task>`: the project's tasks in one place (the alias is in `.cargo/config.toml`). Each task
//! runs the same commands a person would, printing them first, so nothing here is a second implementation of a
//! script: `crds` calls the kube crate's CRD generator and `deploy/render.sh`, `test` calls `scripts/test`,
//! `cluster-up` the testkit's `cluster-up` example, `bench` the criterion benches and `bench/*` scripts.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const HELP: &str = "\
usage: cargo xtask <task> [args]

tasks:
  crds                 regenerate deploy/crds and the chart's CRDs from crates/kube/src/crd.rs, then
                       re-render deploy/manifests/portcullis.yaml from the Helm chart (deploy/render.sh)
  test [cargo args]    run the setup scripts (as root) and cargo test --workspace (scripts/test)
  cluster-up           start etcd + kube-apiserver + kube-controller-manager on loopback until Ctrl-C
  bench [name] [args]  benchmarks; without a name the in-process ones (squash, evaluate, vuln):
                         squash    layer squashing (portcullis-image)
                         evaluate  policy evaluation, 1,000 packages x 2,000 findings (portcullis-policy)
                         vuln      matching and importing all of ../shared/vulndata (portcullis-vuln)
                         engine    queue round trips, SQLite vs PostgreSQL, and verdict lookups
                         webhook   /validate vs a do-nothing server under oha (bench/webhook)
                         sbom      the analyser vs Syft on the same image (bench/sbom-vs-syft)
                         bombs     peak RSS and wall time per hostile image under the worker's limits
                                   (bench/bombs)
                         resources a replica's RSS and CPU idle, analysing, under load (bench/resources)
                         webhook-engine  the real serve with the engine snapshot vs a do-nothing server
                                   (bench/webhook-engine)
                         attested-sbom  an attested SBOM vs layer analysis on a debootstrapped Debian
                                   bookworm image (bench/attested-sbom; downloads ~100 MB once)
  fuzz [seconds]       run the `review` fuzz target (cargo-fuzz, nightly) seeded with the captured reviews
                       (default 60 s)
  deny                 cargo deny check licenses bans sources (deny.toml)
  help                 this text
";

/// A task failed: what was run and how it ended, or what is missing.
#[derive(Debug)]
struct TaskError(String);

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Result<T = ()> = std::result::Result<T, TaskError>;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let task = args
        .next()
        .map(|t| t.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rest: Vec<OsString> = args.collect();
    let outcome = match task.as_str() {
        "crds" => no_args(&task, &rest).and_then(|()| crds()),
        "test" => run(Command::new(root().join("scripts/test")).args(&rest)),
        "cluster-up" => run(Command::new(root().join("scripts/cluster-up")).args(&rest)),
        "bench" => bench(&rest),
        "fuzz" => fuzz(&rest),
        "deny" => deny(&rest),
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        "" => Err(TaskError(format!("no task given\n\n{HELP}"))),
        other => Err(TaskError(format!("unknown task `{other}`\n\n{HELP}"))),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (the parent of this crate).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `cargo`, the one that runs this task when there is one.
fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

/// The shared test data: `PORTCULLIS_SHARED`, else `shared/` beside the repository.
fn shared() -> PathBuf {
    std::env::var_os("PORTCULLIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared"))
}

fn no_args(task: &str, rest: &[OsString]) -> Result {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(TaskError(format!("`{task}` takes no arguments")))
    }
}

/// Runs `cmd` from the repository root, printing it first; fails when it cannot start or exits non-zero.
fn run(cmd: &mut Command) -> Result {
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(root());
    }
    cmd.env("PORTCULLIS_SHARED", shared());
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    eprintln!("+ {}", shown.trim_end());
    let status = cmd
        .status()
        .map_err(|e| TaskError(format!("cannot run `{shown}`: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(TaskError(format!("`{shown}` failed ({status})")))
    }
}

/// `cargo +<toolchain>` through the rustup proxy (the `cargo` running this task is one toolchain's own).
fn cargo_on(toolchain: &str) -> Command {
    let mut c = Command::new("cargo");
    c.arg(format!("+{toolchain}")).current_dir(root());
    c
}

/// Whether `cargo <sub> --version` works (an installed cargo subcommand), on `toolchain` if given.
fn has_cargo_subcommand(sub: &str, toolchain: Option<&str>) -> bool {
    let mut c = match toolchain {
        Some(t) => cargo_on(t),
        None => cargo(),
    };
    c.args([sub, "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn crds() -> Result {
    run(cargo().args(["run", "-q", "-p", "portcullis-kube", "--example", "crds"]))?;
    run(Command::new("bash").arg(root().join("deploy/render.sh")))
}

fn bench(rest: &[OsString]) -> Result {
    let (name, extra) = match rest.split_first() {
        Some((n, extra)) => (n.to_string_lossy().into_owned(), extra),
        None => {
            for name in ["squash", "evaluate", "vuln"] {
                bench(&[OsString::from(name)])?;
            }
            return Ok(());
        }
    };
    let criterion = |package: &str, bench: &str| -> Result {
        run(cargo()
            .args(["bench", "-p", package, "--bench", bench, "--"])
            .args(extra))
    };
    match name.as_str() {
        "squash" => criterion("portcullis-image", "squash"),
        "evaluate" => criterion("portcullis-policy", "evaluate"),
        "vuln" => criterion("portcullis-vuln", "vuln"),
        "engine" => run(cargo()
            .args([
                "test",
                "-p",
                "portcullis-engine",
                "--release",
                "--test",
                "bench",
                "--",
                "--ignored",
                "--nocapture",
            ])
            .args(extra)),
        "webhook" => run(Command::new(root().join("bench/webhook")).args(extra)),
        "sbom" | "sbom-vs-syft" => run(Command::new(root().join("bench/sbom-vs-syft")).args(extra)),
        "bombs" => run(Command::new(root().join("bench/bombs")).args(extra)),
        "resources" => run(Command::new(root().join("bench/resources")).args(extra)),
        "webhook-engine" => run(Command::new(root().join("bench/webhook-engine")).args(extra)),
        "attested-sbom" => run(Command::new(root().join("bench/attested-sbom")).args(extra)),
        other => Err(TaskError(format!(
            "unknown benchmark `{other}` (squash, evaluate, vuln, engine, webhook, webhook-engine, sbom, bombs, resources, attested-sbom)"
        ))),
    }
}

fn fuzz(rest: &[OsString]) -> Result {
    let seconds: u64 = match rest {
        [] => 60,
        [s] => s.to_string_lossy().parse().map_err(|_| {
            TaskError(format!(
                "`{}` is not a number of seconds",
                s.to_string_lossy()
            ))
        })?,
        _ => return Err(TaskError("usage: cargo xtask fuzz [seconds]".into())),
    };
    if !has_cargo_subcommand("fuzz", Some("nightly")) {
        return Err(TaskError(
            "cargo-fuzz on a nightly toolchain is needed: rustup toolchain install nightly && \
             cargo install cargo-fuzz (see fuzz/README.md)"
                .into(),
        ));
    }
    let fixtures = shared().join("fixtures/admission-review");
    let seed = root().join("fuzz/seed");
    std::fs::create_dir_all(&seed)
        .map_err(|e| TaskError(format!("creating {}: {e}", seed.display())))?;
    let entries = std::fs::read_dir(&fixtures).map_err(|e| {
        TaskError(format!(
            "reading the seed reviews in {}: {e} (set PORTCULLIS_SHARED)",
            fixtures.display()
        ))
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "json") {
            let dest = seed.join(entry.file_name());
            std::fs::copy(&path, &dest)
                .map_err(|e| TaskError(format!("copying {}: {e}", path.display())))?;
        }
    }
    run(cargo_on("nightly")
        .current_dir(root().join("fuzz"))
        .args(["fuzz", "run", "review", "--"])
        .arg(format!("-max_total_time={seconds}"))
        .arg("seed/"))
}

fn deny(rest: &[OsString]) -> Result {
    if !has_cargo_subcommand("deny", None) {
        return Err(TaskError(
            "cargo-deny is not installed: cargo install --locked cargo-deny".into(),
        ));
    }
    run(cargo()
        .args([
            "deny",
            "check",
            "--hide-inclusion-graph",
            "licenses",
            "bans",
            "sources",
        ])
        .args(rest))
}
