//! Ignore rules (in Grype's spirit).
