//! Fuzzes jar/war/ear reading (zip central directory, nested archives, MANIFEST.MF, pom.properties, pom.xml).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let _ = portcullis_sbom::lang::java::archive_packages(
        std::io::Cursor::new(data),
        "/app/fuzz.jar",
        0,
        &mut out,
        &mut problems,
    );
    let text = String::from_utf8_lossy(data);
    let _ = portcullis_sbom::lang::java::parse_manifest(&text);
    let _ = portcullis_sbom::lang::java::parse_pom_properties(&text);
    let _ = portcullis_sbom::lang::java::parse_pom_xml(&text);
});
