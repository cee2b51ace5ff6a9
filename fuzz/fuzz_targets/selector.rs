//! Fuzzes ContainerAdmissionPolicy loading (YAML and JSON policy sets) and the label selector expressions they
//! carry, matched against a few labels.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use portcullis_policy::{CapSet, selector::Selector};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sel) = Selector::parse(text) {
        let labels: BTreeMap<String, String> = [("app", "web"), ("team", "a"), ("env", "prod")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let _ = sel.matches(&labels);
    }
    let _ = CapSet::from_yaml(text);
    let _ = CapSet::from_json(text);
});
