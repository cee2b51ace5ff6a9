//! Minimal analyser front end for benchmarks: `sbom-analyse SOURCE OUT.json` runs [`portcullis_sbom::analyse`]
//! (pull or open, squash, catalogue) and writes the native JSON SBOM. Used by `bench/sbom-vs-syft` so the
//! benchmark measures exactly the library, with the same code path as `portcullis sbom`.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: sbom-analyse SOURCE OUT.json");
        return std::process::ExitCode::from(2);
    }
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let source = portcullis_image::Source::parse(&args[1])?;
        let work = tempfile::tempdir()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let sbom = rt.block_on(portcullis_sbom::analyse(
            &source,
            &portcullis_image::PullOptions::default(),
            work.path(),
        ))?;
        std::fs::write(
            &args[2],
            portcullis_sbom::render(&sbom, portcullis_sbom::OutputFormat::Json)?,
        )?;
        Ok(())
    };
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
