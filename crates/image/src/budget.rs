//! Budgets by name: `max_layer_bytes=2GiB`, as `serve --budget`, `sbom --budget` and the chart's
//! `analysis.budgets` give them. Every budget of [`crate::Limits`] and the registry ones of
//! [`crate::PullOptions`] can be set; sizes take `KiB`/`MiB`/`GiB`/`TiB` (or `K`/`M`/`G`/`T`) suffixes.

use crate::PullOptions;

/// The budget names [`PullOptions::set_budget`] understands.
pub const NAMES: [&str; 11] = [
    "max_entries",
    "max_path_bytes",
    "max_path_len",
    "max_path_depth",
    "max_header_bytes",
    "max_kept_file",
    "max_kept_total",
    "max_layer_bytes",
    "max_image_bytes",
    "max_document_bytes",
    "max_cache_bytes",
];

/// Parses `123`, `64KiB`, `4 MiB`, `2G` into bytes (or a count).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        format!(
            "{text:?} is not a size: write a whole number, optionally with KiB, MiB, GiB or TiB"
        )
    })?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" | "k" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        "T" | "TiB" => 40,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use KiB, MiB, GiB or TiB, or none for bytes or a count)"
            ));
        }
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

impl PullOptions {
    /// Sets one budget from `name=value` (see [`NAMES`]); zero is refused (it would refuse every image).
    pub fn set_budget(&mut self, spec: &str) -> Result<(), String> {
        let (name, value) = spec.split_once('=').ok_or_else(|| {
            format!("budget {spec:?}: write NAME=VALUE, e.g. max_layer_bytes=2GiB")
        })?;
        let name = name.trim();
        let n = parse_size(value).map_err(|e| format!("budget {name}: {e}"))?;
        if n == 0 {
            return Err(format!(
                "budget {name}: 0 would refuse every image; give a positive value"
            ));
        }
        let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let l = &mut self.limits;
        match name {
            "max_entries" => l.max_entries = count(n),
            "max_path_bytes" => l.max_path_bytes = n,
            "max_path_len" => l.max_path_len = count(n),
            "max_path_depth" => l.max_path_depth = count(n),
            "max_header_bytes" => l.max_header_bytes = n,
            "max_kept_file" => l.max_kept_file = n,
            "max_kept_total" => l.max_kept_total = n,
            "max_layer_bytes" => l.max_layer_bytes = n,
            "max_image_bytes" => l.max_image_bytes = n,
            "max_document_bytes" => self.max_document_bytes = n,
            "max_cache_bytes" => self.max_cache_bytes = n,
            other => {
                return Err(format!(
                    "unknown budget {other:?}; the budgets are: {}",
                    NAMES.join(", ")
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_names() {
        assert_eq!(parse_size("123").unwrap(), 123);
        assert_eq!(parse_size("64KiB").unwrap(), 64 << 10);
        assert_eq!(parse_size("4 MiB").unwrap(), 4 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert!(parse_size("2 GB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(
            parse_size("99999999999T")
                .unwrap_err()
                .contains("too large")
        );
        let mut o = PullOptions::default();
        for name in NAMES {
            o.set_budget(&format!("{name}=7")).unwrap();
        }
        assert_eq!(o.limits.max_path_depth, 7);
        assert_eq!(o.limits.max_layer_bytes, 7);
        assert_eq!(o.max_document_bytes, 7);
        assert!(
            o.set_budget("max_layers=1")
                .unwrap_err()
                .contains("max_entries, max_path_bytes")
        );
        assert!(
            o.set_budget("max_entries")
                .unwrap_err()
                .contains("NAME=VALUE")
        );
        assert!(
            o.set_budget("max_entries=0")
                .unwrap_err()
                .contains("positive")
        );
    }
}
