//! A throwaway PostgreSQL server, started with the Debian `initdb`/`pg_ctl` binaries in a temp directory on a
//! free port (as the `postgres` user when running as root) and stopped on drop. Used by the store's, the
//! engine's and the binary's tests; fails with a clear message when PostgreSQL is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Directory of the PostgreSQL server binaries (`PORTCULLIS_PG_BIN` overrides).
pub fn pg_bin_dir() -> PathBuf {
    std::env::var_os("PORTCULLIS_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

/// A running throwaway PostgreSQL server.
pub struct PgServer {
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgServer {
    /// Initialises and starts a server; the error says what is missing.
    pub fn start() -> Result<PgServer, String> {
        let bin = pg_bin_dir();
        for tool in ["initdb", "pg_ctl", "postgres"] {
            if !bin.join(tool).is_file() {
                return Err(format!(
                    "PostgreSQL server binary {} is missing: install Debian's postgresql-15 \
                     (scripts/setup.d/60-store.sh) or set PORTCULLIS_PG_BIN",
                    bin.join(tool).display()
                ));
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("portcullis-pg-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let as_postgres = is_root();
        if as_postgres {
            // initdb refuses to run as root: hand the directory to the `postgres` system user.
            let status = Command::new("chown")
                .args(["postgres:", &dir.path().display().to_string()])
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(
                    "running as root but cannot chown the test directory to the `postgres` user \
                     (does it exist? install postgresql-15)"
                        .into(),
                );
            }
        }
        let port = crate::free_port().map_err(|e| format!("no free port: {e}"))?;
        let server = PgServer {
            dir,
            port,
            as_postgres,
        };
        let data = server.dir.path().join("data");
        server.run(
            &bin.join("initdb"),
            &[
                "-D",
                &data.display().to_string(),
                "-A",
                "trust",
                "-U",
                "portcullis",
                "--no-sync",
                "--no-instructions",
            ],
        )?;
        server.pg_ctl_start()?;
        Ok(server)
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let data = self.dir.path().join("data");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        self.run(
            &pg_bin_dir().join("pg_ctl"),
            &[
                "-D",
                &data.display().to_string(),
                "-o",
                &opts,
                "-l",
                &self.dir.path().join("log").display().to_string(),
                "-w",
                "start",
            ],
        )
    }

    /// Stops the server (fast shutdown: connections are closed), keeping its data for [`PgServer::resume`].
    pub fn stop(&self) -> Result<(), String> {
        let data = self.dir.path().join("data").display().to_string();
        self.run(
            &pg_bin_dir().join("pg_ctl"),
            &["-D", &data, "-m", "fast", "-w", "stop"],
        )
    }

    /// Starts a stopped server again on the same port with the same data.
    pub fn resume(&self) -> Result<(), String> {
        self.pg_ctl_start()
    }

    fn run(&self, tool: &Path, args: &[&str]) -> Result<(), String> {
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(tool);
            c
        } else {
            Command::new(tool)
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| format!("{}: {e}", tool.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
            Err(format!(
                "{} failed: {}{}\n{log}",
                tool.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Connection URL of the server's `postgres` database (superuser `portcullis`, trust auth).
    pub fn url(&self) -> String {
        format!("postgres://portcullis@127.0.0.1:{}/postgres", self.port)
    }

    /// Creates a fresh database and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        let mut c = postgres::Client::connect(&self.url(), postgres::NoTls)
            .map_err(|e| format!("connect: {e}"))?;
        c.batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .map_err(|e| format!("create database: {e}"))?;
        Ok(format!(
            "postgres://portcullis@127.0.0.1:{}/{name}",
            self.port
        ))
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").display().to_string();
        let _ = self.run(
            &pg_bin_dir().join("pg_ctl"),
            &["-D", &data, "-m", "immediate", "stop"],
        );
    }
}
