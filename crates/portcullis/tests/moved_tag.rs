//! A moved tag is followed (issue #12 hole 2), through the real binary: `portcullis serve --tag-ttl 2` in policy
//! mode over a real docker-registry admits `moved/app:1` while it is a clean image; once the tag is pushed over
//! with a vulnerable image, reviews decide on the newest known digest and say so ("re-resolution pending") until
//! the lookup is repeated, then the new image is analysed and denied.

mod common;

use std::time::{Duration, Instant};

use common::{
    Serve, debian_and_ghsa_db, https_client, pod_review, validate, wait_ready, write_bookworm_image,
};
use portcullis_testkit::{Mode, Registry, free_port};

const TOKEN: &str = "moved-tag-admin-token";
#[test]
fn a_moved_tag_is_followed_after_the_tag_ttl() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let (clean, vulnerable) = (tmp.path().join("clean"), tmp.path().join("vulnerable"));
    write_bookworm_image(&clean, None);
    // lodash 4.17.11: GHSA-jf85-cpcp-j695 (CVE-2019-10744), critical, fixed in 4.17.12.
    write_bookworm_image(&vulnerable, Some("4.17.11"));
    reg.push(&clean, "v1", "moved/app:1", false).unwrap();
    let image = format!("{}/moved/app:1", reg.addr);

    let vuln_db = tmp.path().join("vuln.db");
    debian_and_ghsa_db(&vuln_db);
    let config = tmp.path().join("admission.yaml");
    std::fs::write(&config, "default: { mode: policy, policy: default }\n").unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "--vuln-db",
            vuln_db.to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
            "--tag-ttl",
            "2",
        ],
        &[("PORTCULLIS_ADMIN_TOKEN", TOKEN)],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();

    // The clean image: queued, analysed, admitted.
    let t = Instant::now();
    loop {
        let r = validate(&http, port, &pod_review(&[&image], "shop", "clean"));
        if r["response"]["allowed"] == true {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the clean image was never admitted: {r}\n{}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // The tag moves to the vulnerable image.
    reg.push(&vulnerable, "v1", "moved/app:1", false).unwrap();
    let t = Instant::now();
    let mut pending_said = false;
    let denied = loop {
        let r = validate(&http, port, &pod_review(&[&image], "shop", "moved"));
        let warnings = r["response"]["warnings"].to_string();
        if warnings.contains("decided on the newest known digest")
            && warnings.contains("re-resolution pending")
        {
            pending_said = true;
        }
        let message = r["response"]["status"]["message"].as_str().unwrap_or("");
        if r["response"]["allowed"] == false && message.contains("GHSA-jf85-cpcp-j695") {
            break r;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the moved tag's new image was never judged: {r}\n{}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        pending_said,
        "a review decided while the tag was being looked up again says so: {denied}"
    );
    eprintln!("moved tag judged anew after {:?}", t.elapsed());
}
