//! Image metadata for the SBOM, and a Dockerfile guessed from the image history.

use portcullis_image::{HistoryEntry, Image};

use crate::ImageMetadata;

/// The SBOM metadata of an opened image.
pub fn image_metadata(image: &Image) -> ImageMetadata {
    let c = &image.config;
    let history: Vec<String> = c
        .history
        .iter()
        .map(|h| h.created_by.clone().unwrap_or_default())
        .collect();
    ImageMetadata {
        manifest_digest: image.manifest_digest.clone(),
        image_id: Some(image.image_id.clone()).filter(|s| !s.is_empty()),
        reference: image.reference.as_ref().map(|r| r.to_string()),
        os: Some(c.os.clone()).filter(|s| !s.is_empty()),
        architecture: Some(c.architecture.clone()).filter(|s| !s.is_empty()),
        variant: c.variant.clone(),
        size: image.layers.iter().map(|l| l.size).sum(),
        layer_count: image.layers.len(),
        layers: image.layers.iter().map(|l| l.digest.clone()).collect(),
        created: c.created.clone(),
        labels: c.labels.clone(),
        env: c.env.clone(),
        user: c.user.clone().filter(|u| !u.is_empty()),
        exposed_ports: c.exposed_ports.clone(),
        entrypoint: c.entrypoint.clone(),
        cmd: c.cmd.clone(),
        dockerfile: guess_dockerfile(&c.history),
        history,
    }
}

/// One Dockerfile instruction from a history `created_by` (classic builder `/bin/sh -c #(nop) …`, classic
/// `RUN` as `/bin/sh -c …`, BuildKit `RUN /bin/sh -c … # buildkit`, `|N ARG=… /bin/sh -c …`).
pub fn instruction(created_by: &str) -> Option<String> {
    let s = created_by.trim();
    if s.is_empty() {
        return None;
    }
    let s = s.strip_suffix("# buildkit").unwrap_or(s).trim_end();
    // `|2 A=1 B=2 /bin/sh -c cmd`: build args prefix of RUN steps.
    let s = if let Some(rest) = s.strip_prefix('|') {
        match rest.find(" /bin/sh -c ") {
            Some(i) => &rest[i + 1..],
            None => rest,
        }
    } else {
        s
    };
    for shell in ["/bin/sh -c ", "/bin/bash -c ", "cmd /S /C "] {
        if let Some(rest) = s.strip_prefix(shell) {
            let rest = rest.trim();
            if let Some(nop) = rest.strip_prefix("#(nop)") {
                return Some(nop.trim().to_string());
            }
            return Some(format!("RUN {rest}"));
        }
    }
    if let Some(rest) = s.strip_prefix("RUN /bin/sh -c ") {
        return Some(format!("RUN {}", rest.trim()));
    }
    Some(s.to_string())
}

/// A Dockerfile reconstructed from the history, one instruction per step (oldest first); `None` without
/// history.
pub fn guess_dockerfile(history: &[HistoryEntry]) -> Option<String> {
    let lines: Vec<String> = history
        .iter()
        .filter_map(|h| h.created_by.as_deref().and_then(instruction))
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(lines.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_and_buildkit_history() {
        let h = |s: &str| HistoryEntry {
            created_by: Some(s.into()),
            ..HistoryEntry::default()
        };
        let history = [
            h(
                "/bin/sh -c #(nop) ADD file:9a4f77dfaba7fd2aa78186e4ef0e7486ad55101cefc1fabbc1b385601bb38920 in / ",
            ),
            h("/bin/sh -c #(nop)  CMD [\"bash\"]"),
            h("/bin/sh -c apt-get update && apt-get install -y curl"),
            h("|1 VERSION=1.2 /bin/sh -c echo $VERSION > /v"),
            h("RUN /bin/sh -c pip install flask # buildkit"),
            h("COPY app.py /app/ # buildkit"),
            h("ENV PATH=/usr/local/bin:/usr/bin"),
        ];
        let d = guess_dockerfile(&history).unwrap();
        assert_eq!(
            d,
            "ADD file:9a4f77dfaba7fd2aa78186e4ef0e7486ad55101cefc1fabbc1b385601bb38920 in /\n\
             CMD [\"bash\"]\n\
             RUN apt-get update && apt-get install -y curl\n\
             RUN echo $VERSION > /v\n\
             RUN pip install flask\n\
             COPY app.py /app/\n\
             ENV PATH=/usr/local/bin:/usr/bin\n"
        );
        assert_eq!(guess_dockerfile(&[]), None);
    }
}
