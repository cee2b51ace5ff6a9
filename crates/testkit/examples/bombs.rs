//! Writes every hostile image of `portcullis_testkit::bombs` as an OCI layout under a directory (for
//! `bench/bombs`): `cargo run -p portcullis-testkit --example bombs -- OUT_DIR`. Prints `NAME LAYOUT` lines.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: bombs OUT_DIR");
        return ExitCode::from(2);
    };
    let out = std::path::PathBuf::from(out);
    for (name, build) in portcullis_testkit::bombs::ALL {
        let dir = out.join(name);
        match build(&dir) {
            Ok(layout) => println!("{name} {}", layout.display()),
            Err(e) => {
                eprintln!("writing bomb {name} under {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
