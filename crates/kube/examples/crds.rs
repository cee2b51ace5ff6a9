//! Regenerates the shipped CRD YAML (`deploy/crds/portcullis.yaml` and the chart's copy) from the Rust types.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let yaml = portcullis_kube::crd::crds_yaml()?;
    let root = portcullis_testkit::repo_root();
    for path in [
        "deploy/crds/portcullis.yaml",
        "deploy/helm/portcullis/crds/portcullis.yaml",
    ] {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().ok_or("no parent")?)?;
        std::fs::write(&p, &yaml)?;
        println!("wrote {}", p.display());
    }
    Ok(())
}
