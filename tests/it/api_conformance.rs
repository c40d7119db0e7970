//! The OpenAPI document checked against the live API by a real tool: schemathesis (PyPI)
//! generates requests for every documented operation, valid and invalid, and checks that the
//! switch answers with a documented status, content type and body schema and never with a
//! 5xx. `scripts/test` installs the pinned version and exports `SCHEMATHESIS`; without it the
//! test fails, it never skips.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::call_peers::caller;
use crate::harness::{Switch, password_of, token};
use crate::phone::Phone;

/// The checks that make "answers as documented": no 5xx; documented status codes, content
/// types and body schemas; invalid input refused with 4xx; operations that declare the bearer
/// scheme refuse requests without a valid token.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,negative_data_rejection,ignored_auth";

/// Test cases per operation and phase.
const MAX_EXAMPLES: &str = "30";

/// Wall-clock bound of the whole schemathesis run.
const RUN_WITHIN: Duration = Duration::from_secs(300);

/// The schemathesis binary: `$SCHEMATHESIS`, else where `scripts/test` installs it.
fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    let installed = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-tools/schemathesis/bin/schemathesis");
    assert!(
        installed.is_file(),
        "schemathesis is missing: scripts/test installs the pinned version into \
         target/test-tools/schemathesis and exports SCHEMATHESIS; run it once, or set \
         SCHEMATHESIS=/path/to/schemathesis"
    );
    installed
}

#[test]
fn every_documented_endpoint_answers_as_the_openapi_document_says() {
    let tool = schemathesis();
    let switch = Switch::start();
    // Something in each list, so item schemas are checked against real items too.
    let mut phone = Phone::new(&switch, "1000", &password_of(1000));
    assert_eq!(
        phone
            .register(&["<sip:1000@192.0.2.10:5060>"], Some(600))
            .status()
            .as_u16(),
        200
    );
    caller("call_uac_480", switch.addr(), "1002")
        .run()
        .assert_success("a call that leaves a record");

    let work = tempfile::tempdir().expect("temp dir");
    let out_path = work.path().join("schemathesis.out");
    let out = std::fs::File::create(&out_path).expect("output file");
    let mut child = Command::new(&tool)
        .current_dir(work.path())
        .arg("run")
        .arg(switch.api_url("/api/v1/openapi.json"))
        .args(["--checks", CHECKS])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", token("admin")),
        ])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", "4"])
        .args(["--workers", "2"])
        .args(["--request-timeout", "10"])
        .args(["--generation-database", "none"])
        .arg("--no-color")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("output file"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run schemathesis at {}: {e}", tool.display()));

    let deadline = Instant::now() + RUN_WITHIN;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for schemathesis") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    match status {
        Some(status) if status.success() => {}
        Some(status) => panic!(
            "schemathesis found answers that differ from the OpenAPI document ({status}):\n{output}"
        ),
        None => panic!("schemathesis ran longer than {RUN_WITHIN:?}:\n{output}"),
    }
}
