//! The human-readable table.

use crate::Sbom;

/// Renders `NAME VERSION TYPE SOURCE` columns, aligned, with a header line naming the distro.
pub(crate) fn render(sbom: &Sbom) -> String {
    let rows: Vec<[String; 4]> = sbom
        .packages
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.version.clone(),
                super::type_name(p.package_type),
                p.source_name.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let head = ["NAME", "VERSION", "TYPE", "SOURCE"];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    if let Some(d) = &sbom.distro {
        out.push_str(&format!(
            "# {} — distro {} {}, {} packages\n",
            sbom.source,
            d.id,
            d.version_id.as_deref().unwrap_or("(no version)"),
            sbom.packages.len()
        ));
    } else {
        out.push_str(&format!(
            "# {} — no distro detected, {} packages\n",
            sbom.source,
            sbom.packages.len()
        ));
    }
    let line = |cells: [&str; 4]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        )
    };
    out.push_str(&line(head));
    for r in &rows {
        out.push_str(line([&r[0], &r[1], &r[2], &r[3]]).trim_end());
        out.push('\n');
    }
    out
}
