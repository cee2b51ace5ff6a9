//! A tag the store has seen on several digests (it was moved) resolves to the digest recorded last.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use portcullis_admission::ImageVerdicts;
use portcullis_store::Store;

#[test]
fn the_newest_digest_of_a_moved_tag_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::from(portcullis_store::open(&dir.path().join("t.db").display().to_string()).unwrap());
    let tag = "reg.example/app:1";
    let (old, new) = (digest(0x71), digest(0x72));
    store
        .upsert_image(&old, Some(tag), &Default::default())
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    store
        .upsert_image(&new, Some(tag), &Default::default())
        .unwrap();
    let (_t, stages) = stages("moved", Duration::ZERO);
    let srv = Server::start(store, stages, fast_config("moved"), false);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let e = srv.engine.clone();
    let v = srv.rt.as_ref().unwrap().block_on(async move {
        portcullis_engine::verdicts::EngineVerdicts::start(e, Duration::from_secs(3600), rx)
    });
    v.refresh_now().unwrap();
    let image = portcullis_admission::parse_image(tag).unwrap();
    assert_eq!(
        v.resolve_cached(&image).as_deref(),
        Some(new.as_str()),
        "the tag was moved to the newer digest"
    );
}
