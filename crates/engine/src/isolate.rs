//! Analysis in a separate worker process, so a hostile image (a decompression, path or metadata bomb) kills at
//! most its own analysis and never the webhook.
//!
//! [`ProcessAnalyser`] is the [`Analyser`] `serve` uses by default: per analysis it starts the `portcullis`
//! binary's hidden `analyse-worker` subcommand in its own process group, lowers its resource limits with
//! `prlimit` (memory as `RLIMIT_DATA` and `RLIMIT_AS`, CPU seconds, file size, open files, no core dumps) and
//! raises its OOM score (so the kernel kills a worker before the webhook when the Pod runs out of memory)
//! *before* handing it the job, so no byte of the image is read without them, then writes one [`WorkerJob`] as
//! JSON on its stdin and reads one [`WorkerOutcome`] as JSON from its stdout (bounded), with a wall-time kill of
//! the whole process group. The per-analysis work directory belongs to the parent and is removed on every exit
//! path. A worker that is killed or exceeds a limit ends as a permanent [`StageError`] naming the limit and the
//! image, so the image becomes `analysis_failed` at once. The worker side is [`run_worker`].

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::time::Duration;

use portcullis_image::{Credential, ImageRef, PullOptions};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::stages::{
    Analyser, Analysis, BoxFuture, LearnedCredentials, RegistryAnalyser, StageError,
};

/// Largest job a worker reads from its stdin (options and credentials; no image data).
const MAX_JOB_BYTES: u64 = 4 << 20;
/// Bytes of the worker's stderr kept (the end of it: errors come last).
const MAX_STDERR_BYTES: usize = 16 << 10;
/// The server's environment variables a worker inherits (everything else is cleared).
const WORKER_ENV: [&str; 14] = [
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "PORTCULLIS_LOG",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];
/// Longest stderr excerpt put into an error message.
const MAX_REASON_CHARS: usize = 300;

/// The resource limits of one analysis worker process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerLimits {
    /// Memory budget in bytes: `RLIMIT_DATA` (heap, anonymous mappings, thread stacks), which bounds what a
    /// bomb can make resident; `RLIMIT_AS` is set to twice this as a backstop for other mappings.
    pub memory_bytes: u64,
    /// CPU seconds (`RLIMIT_CPU`; the kernel sends SIGXCPU at the limit, SIGKILL 5 s later).
    pub cpu_seconds: u64,
    /// Wall time, after which the worker's process group is killed.
    pub wall_time: Duration,
    /// Largest file the worker may write (`RLIMIT_FSIZE`): bounds blob-cache entries and squashed content.
    pub file_bytes: u64,
    /// Most open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Largest answer (the analysis as JSON) read from the worker's stdout.
    pub max_output_bytes: u64,
}

impl Default for WorkerLimits {
    /// 224 MiB of memory (with the worker's own code resident, its RSS stays within the 256 MB budget of one
    /// analysis), 300 CPU seconds, 600 s of wall time, files up to 8 GiB (the largest layer squashing
    /// accepts), 256 open files, answers up to 64 MiB.
    fn default() -> Self {
        Self {
            memory_bytes: 224 << 20,
            cpu_seconds: 300,
            wall_time: Duration::from_secs(600),
            file_bytes: 8 << 30,
            open_files: 256,
            max_output_bytes: 64 << 20,
        }
    }
}

/// What a worker is asked to do: analyse one image with these options, inside `work_dir`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerJob {
    /// The image (pinned to its digest when known).
    pub image: ImageRef,
    /// Registry access options (credentials and network policy included).
    pub options: PullOptions,
    /// The namespaces whose learned pull-secret credentials may be used, in order, each with its credentials
    /// for this image's repository (tried first, in order; the answer says whose access pulled the image).
    pub learned: Vec<(String, Vec<Credential>)>,
    /// The directory the worker works in (created and removed by the parent).
    pub work_dir: PathBuf,
}

/// What a worker answers: the analysis, or the stage error the in-process analyser would have returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WorkerOutcome {
    /// The image was analysed.
    Analysed(Box<Analysis>),
    /// The analysis failed (pull refused, budget exceeded, unsupported format, …).
    Failed(StageError),
}

/// Why [`run_worker`] could not run its job.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Reading the job or writing the answer failed.
    #[error("analysis worker: {what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The job is not a [`WorkerJob`].
    #[error(
        "analysis worker: the job on stdin is not valid (at most {MAX_JOB_BYTES} bytes of WorkerJob JSON; \
         this subcommand is started by `portcullis serve`, not by hand): {0}"
    )]
    Job(String),
}

/// The worker side: reads one [`WorkerJob`] (bounded) from `input`, analyses the image on a current-thread
/// runtime with the same [`RegistryAnalyser`] the inline mode uses, and writes one [`WorkerOutcome`] to `output`.
pub fn run_worker(input: impl Read, mut output: impl Write) -> Result<(), WorkerError> {
    // Dies with the server (a worker outliving it would run unwatched until its CPU limit).
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL)).map_err(
        |e| WorkerError::Io {
            what: "asking to be killed with the parent process",
            source: e.into(),
        },
    )?;
    let mut buf = Vec::new();
    input
        .take(MAX_JOB_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|source| WorkerError::Io {
            what: "reading the job from stdin",
            source,
        })?;
    if buf.len() as u64 > MAX_JOB_BYTES {
        return Err(WorkerError::Job(format!("more than {MAX_JOB_BYTES} bytes")));
    }
    let job: WorkerJob =
        serde_json::from_slice(&buf).map_err(|e| WorkerError::Job(e.to_string()))?;
    let learned = LearnedCredentials::default();
    for (ns, credentials) in &job.learned {
        learned.learn(ns, &job.image, credentials);
    }
    let namespaces: Vec<String> = job.learned.iter().map(|(ns, _)| ns.clone()).collect();
    let analyser = RegistryAnalyser {
        opts: job.options,
        work_dir: job.work_dir,
        learned,
        platforms: Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| WorkerError::Io {
            what: "starting the async runtime",
            source,
        })?;
    let outcome = match rt.block_on(analyser.analyse(&job.image, &namespaces)) {
        Ok(a) => WorkerOutcome::Analysed(Box::new(a)),
        Err(e) => WorkerOutcome::Failed(e),
    };
    serde_json::to_writer(&mut output, &outcome)
        .map_err(std::io::Error::from)
        .and_then(|()| output.flush())
        .map_err(|source| WorkerError::Io {
            what: "writing the answer to stdout",
            source,
        })
}

/// Runs each analysis in a worker process (see the module documentation).
pub struct ProcessAnalyser {
    /// The program to start (the `portcullis` binary).
    pub program: PathBuf,
    /// Its arguments (`["analyse-worker"]`).
    pub args: Vec<String>,
    /// Registry access options.
    pub opts: PullOptions,
    /// Parent of the per-analysis work directories.
    pub work_dir: PathBuf,
    /// Credentials learned from pull secrets, tried first.
    pub learned: LearnedCredentials,
    /// Limits of each worker.
    pub limits: WorkerLimits,
    /// The platforms the cluster runs: an index's selected platform manifests are listed here (a bounded
    /// manifest read) and each is then analysed by its own worker, as with [`RegistryAnalyser`].
    pub platforms: Vec<portcullis_image::Platform>,
}

impl Analyser for ProcessAnalyser {
    fn analyse<'a>(
        &'a self,
        image: &'a ImageRef,
        namespaces: &'a [String],
    ) -> BoxFuture<'a, Result<Analysis, StageError>> {
        Box::pin(self.run(image, namespaces))
    }
}

/// How a worker run ended, before interpretation.
struct Finished {
    status: std::process::ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

impl ProcessAnalyser {
    async fn run(&self, image: &ImageRef, namespaces: &[String]) -> Result<Analysis, StageError> {
        if let Some(index) = crate::stages::index_analysis(
            &self.opts,
            &self.learned,
            &self.platforms,
            image,
            namespaces,
        )
        .await?
        {
            return Ok(index);
        }
        // Removed when dropped: on success, on error and when the worker was killed.
        let work = crate::stages::analysis_work_dir(&self.work_dir)?;
        let job = WorkerJob {
            image: image.clone(),
            options: self.opts.clone(),
            learned: namespaces
                .iter()
                .map(|ns| (ns.clone(), self.learned.for_image(ns, image)))
                .collect(),
            work_dir: work.path().to_path_buf(),
        };
        let job = serde_json::to_vec(&job).map_err(|e| {
            StageError::permanent(format!("encoding the analysis job for {image}: {e}"))
        })?;
        let mut child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            // Only what a pull needs: not the store DSN, API token or other secrets of the server's
            // environment (registry credentials come with the job, on stdin).
            .env_clear()
            .envs(std::env::vars_os().filter(|(k, _)| {
                k.to_str().is_some_and(|k| WORKER_ENV.contains(&k))
            }))
            // Fewer malloc arenas: each reserves 64 MiB of address space.
            .env("MALLOC_ARENA_MAX", "2")
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                StageError::transient(format!(
                    "starting the analysis worker {} for {image}: {e}; check the binary is installed and \
                     executable, or run with --analysis-isolation inline",
                    self.program.display()
                ))
            })?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw);
        let Some(pid) = pid else {
            return Err(StageError::transient(format!(
                "the analysis worker for {image} exited before its limits could be set"
            )));
        };
        if let Err(e) = apply_limits(pid, &self.limits) {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(StageError::transient(format!(
                "setting the resource limits of the analysis worker for {image}: {e}; the process needs \
                 permission to lower its children's limits (prlimit), or run with --analysis-isolation inline"
            )));
        }
        let ended =
            tokio::time::timeout(self.limits.wall_time, self.exchange(&mut child, job, pid)).await;
        let finished = match ended {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                kill_group(pid);
                let _ = child.wait().await;
                return Err(e.for_image(image));
            }
            Err(_) => {
                kill_group(pid);
                let _ = child.wait().await;
                return Err(StageError::permanent(format!(
                    "analysis worker exceeded its wall-time limit ({} s) analysing {image} and was killed",
                    self.limits.wall_time.as_secs()
                )));
            }
        };
        drop(work);
        if !finished.stderr.trim().is_empty() {
            tracing::debug!(%image, stderr = %finished.stderr.trim(), "analysis worker's log (its last 16 KiB)");
        }
        interpret(finished, &self.limits, image)
    }

    /// Writes the job, reads both outputs (bounded) and waits for the exit.
    async fn exchange(
        &self,
        child: &mut tokio::process::Child,
        job: Vec<u8>,
        pid: rustix::process::Pid,
    ) -> Result<Finished, Exchange> {
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Exchange::Pipes);
        };
        let write = async move {
            // A worker that dies early closes its stdin: the exit status tells why, not this error.
            let _ = stdin.write_all(&job).await;
            drop(stdin);
        };
        let cap = self.limits.max_output_bytes;
        let read_out = async move {
            let mut out = Vec::new();
            let r = stdout.take(cap + 1).read_to_end(&mut out).await;
            if out.len() as u64 > cap {
                kill_group(pid);
                return Err(Exchange::TooLarge(cap));
            }
            r.map_err(Exchange::Read)?;
            Ok(out)
        };
        let ((), out, err) = tokio::join!(write, read_out, tail(stderr, MAX_STDERR_BYTES));
        let stdout = out?;
        let status = child.wait().await.map_err(Exchange::Read)?;
        Ok(Finished {
            status,
            stdout,
            stderr: err,
        })
    }
}

/// A failure talking to the worker.
enum Exchange {
    Pipes,
    Read(std::io::Error),
    TooLarge(u64),
}

impl Exchange {
    fn for_image(self, image: &ImageRef) -> StageError {
        match self {
            Exchange::Pipes => StageError::transient(format!(
                "the analysis worker for {image} started without its pipes"
            )),
            Exchange::Read(e) => StageError::transient(format!(
                "reading the analysis worker's answer for {image}: {e}"
            )),
            Exchange::TooLarge(cap) => StageError::permanent(format!(
                "analysis worker's answer for {image} exceeded {cap} bytes and was cut off; the image's SBOM is \
                 too large to record"
            )),
        }
    }
}

/// Reads `r` to its end, keeping the last `cap` bytes (so a chatty worker never blocks on a full pipe).
async fn tail(mut r: impl AsyncRead + Unpin, cap: usize) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 8192];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                kept.extend_from_slice(&chunk[..n]);
                if kept.len() > cap {
                    kept.drain(..kept.len() - cap);
                }
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Kills the worker's process group (it leads its own group).
fn kill_group(pid: rustix::process::Pid) {
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

/// Lowers the worker's limits. Runs before the job is written, and the worker reads nothing else first.
fn apply_limits(pid: rustix::process::Pid, l: &WorkerLimits) -> std::io::Result<()> {
    use rustix::process::{Resource, Rlimit, prlimit};
    let set = |res, soft: u64, hard: u64| {
        prlimit(
            Some(pid),
            res,
            Rlimit {
                current: Some(soft),
                maximum: Some(hard),
            },
        )
        .map(drop)
        .map_err(std::io::Error::from)
    };
    set(Resource::Data, l.memory_bytes, l.memory_bytes)?;
    let address_space = l
        .memory_bytes
        .saturating_mul(2)
        .max(l.memory_bytes + (512 << 20));
    set(Resource::As, address_space, address_space)?;
    set(
        Resource::Cpu,
        l.cpu_seconds,
        l.cpu_seconds.saturating_add(5),
    )?;
    set(Resource::Fsize, l.file_bytes, l.file_bytes)?;
    set(Resource::Nofile, l.open_files, l.open_files)?;
    set(Resource::Core, 0, 0)?;
    // When the Pod's (or machine's) memory runs out, the kernel kills a worker before the webhook. Raising
    // one's child's score needs no privilege; where /proc is not writable the limits above still hold.
    if let Err(e) = std::fs::write(
        format!("/proc/{}/oom_score_adj", pid.as_raw_nonzero()),
        "1000",
    ) {
        tracing::info!(error = %e, "cannot raise the analysis worker's OOM score; the webhook may be picked first");
    }
    Ok(())
}

/// The last non-empty line of the worker's stderr, shortened: what it said before it ended.
fn last_words(stderr: &str) -> String {
    let line = stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut s: String = line.chars().take(MAX_REASON_CHARS).collect();
    if line.chars().count() > MAX_REASON_CHARS {
        s.push('…');
    }
    s
}

/// What the exit of a worker means for the analysis.
fn interpret(f: Finished, limits: &WorkerLimits, image: &ImageRef) -> Result<Analysis, StageError> {
    if f.status.success() {
        return match serde_json::from_slice::<WorkerOutcome>(&f.stdout) {
            Ok(WorkerOutcome::Analysed(a)) => Ok(*a),
            Ok(WorkerOutcome::Failed(e)) => Err(e),
            Err(e) => Err(StageError::permanent(format!(
                "analysis worker's answer for {image} is not readable ({e}); the worker binary may not match \
                 this server's version"
            ))),
        };
    }
    Err(classify(
        f.status.signal(),
        f.status.code(),
        &f.stderr,
        limits,
        image,
    ))
}

/// The error for a worker that did not exit successfully.
fn classify(
    signal: Option<i32>,
    code: Option<i32>,
    stderr: &str,
    limits: &WorkerLimits,
    image: &ImageRef,
) -> StageError {
    let mib = limits.memory_bytes >> 20;
    let out_of_memory = stderr.contains("memory allocation of") || stderr.contains("out of memory");
    let words = match stderr.lines().find(|l| l.contains("memory allocation of")) {
        Some(line) => last_words(line),
        None => last_words(stderr),
    };
    let said = if words.is_empty() {
        String::new()
    } else {
        format!("; it said: {words}")
    };
    let msg = match (signal, code) {
        (Some(24), _) => format!(
            "analysis worker exceeded its CPU time limit ({} s) analysing {image}: killed by SIGXCPU",
            limits.cpu_seconds
        ),
        (Some(25), _) => format!(
            "analysis worker exceeded its file size limit ({} bytes) analysing {image}: killed by SIGXFSZ",
            limits.file_bytes
        ),
        (Some(sig @ (6 | 7 | 9 | 11)), _) if out_of_memory || sig == 9 || sig == 11 => format!(
            "analysis worker exceeded its memory limit ({mib} MiB) analysing {image}: killed by {}{said}",
            signal_name(sig)
        ),
        (Some(sig), _) => format!(
            "analysis worker analysing {image} was killed by {}{said}",
            signal_name(sig)
        ),
        (None, _) if out_of_memory => {
            format!("analysis worker exceeded its memory limit ({mib} MiB) analysing {image}{said}")
        }
        (None, Some(c)) => {
            format!("analysis worker analysing {image} failed with exit status {c}{said}")
        }
        (None, None) => format!("analysis worker analysing {image} ended without a status{said}"),
    };
    StageError::permanent(msg)
}

fn signal_name(sig: i32) -> String {
    match sig {
        6 => "SIGABRT".into(),
        7 => "SIGBUS".into(),
        9 => "SIGKILL".into(),
        11 => "SIGSEGV".into(),
        24 => "SIGXCPU".into(),
        25 => "SIGXFSZ".into(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ImageRef {
        ImageRef::parse("registry.example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000")
            .unwrap()
    }

    #[test]
    fn a_worker_refuses_a_job_that_is_not_one_without_panicking() {
        let mut out = Vec::new();
        let e = run_worker(&b"{\"image\": 1}"[..], &mut out).unwrap_err();
        assert!(
            e.to_string().contains("the job on stdin is not valid")
                && e.to_string().contains("serve"),
            "{e}"
        );
        let huge = vec![b' '; (MAX_JOB_BYTES + 10) as usize];
        let e = run_worker(&huge[..], &mut out).unwrap_err();
        assert!(e.to_string().contains("more than"), "{e}");
        assert!(out.is_empty(), "nothing is answered for a bad job");
    }

    #[test]
    fn each_way_a_worker_dies_names_its_limit_and_the_image() {
        let l = WorkerLimits::default();
        let e = classify(
            Some(6),
            None,
            "memory allocation of 1073741824 bytes failed\n",
            &l,
            &image(),
        );
        assert!(e.permanent);
        assert!(
            e.message.contains("memory limit (224 MiB)")
                && e.message.contains("SIGABRT")
                && e.message.contains("registry.example/app"),
            "{e}"
        );
        let e = classify(Some(24), None, "", &l, &image());
        assert!(e.message.contains("CPU time limit (300 s)"), "{e}");
        let e = classify(Some(25), None, "", &l, &image());
        assert!(e.message.contains("file size limit"), "{e}");
        let e = classify(Some(9), None, "", &l, &image());
        assert!(
            e.message.contains("memory limit") && e.message.contains("SIGKILL"),
            "{e}"
        );
        let e = classify(
            None,
            Some(101),
            &format!("x\n{}\n", "y".repeat(5000)),
            &l,
            &image(),
        );
        assert!(e.message.contains("exit status 101"), "{e}");
        assert!(
            e.message.len() < 700,
            "stderr is shortened: {}",
            e.message.len()
        );
    }
}
