//! The `saml_check` example behaves as documented: JSON on stdout, exit 0 / 1 / 2.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// `cargo test` builds the examples next to the test binaries.
fn saml_check() -> Command {
    let mut path: PathBuf = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.push("examples");
    path.push(format!("saml_check{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} was not built", path.display());
    Command::new(path)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn write_temp(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("saml_check_cli_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn a_valid_response_prints_its_values_and_exits_0() {
    let file = write_temp(
        "valid.b64",
        &b64(&signed_assertion(&Spec::default(), &key("idp-2048"))),
    );
    let out = saml_check()
        .args(["--cert", &format!("{FIXTURES}/keys/idp-2048.crt")])
        .args([
            "--audience",
            AUDIENCE,
            "--acs-url",
            ACS,
            "--idp-entity-id",
            IDP,
        ])
        .args([
            "--in-response-to",
            REQUEST_ID,
            "--now",
            "2024-05-01T10:01:00Z",
            "--show",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["valid"], true);
    assert_eq!(v["name_id"], "usr-1");
    assert_eq!(v["attributes"]["group_uid"], serde_json::json!(["cld-1"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\n  <saml:Issuer>"),
        "--show pretty-prints: {stderr}"
    );
}

#[test]
fn an_invalid_response_prints_its_class_and_exits_1() {
    let file = write_temp(
        "expired.xml",
        &signed_assertion(&Spec::default(), &key("idp-2048")),
    );
    let out = saml_check()
        .args(["--cert", &format!("{FIXTURES}/keys/idp-2048.crt")])
        .args(["--audience", AUDIENCE, "--acs-url", ACS])
        .args([
            "--in-response-to",
            REQUEST_ID,
            "--now",
            "2024-05-01T11:00:00Z",
            "--skew-secs",
            "0",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["valid"], false);
    assert_eq!(v["error"], "conditions_expired");
    assert!(v["detail"].as_str().unwrap().contains("2024-05-01"));
}

#[test]
fn corpus_flags_map_to_the_insecure_switches() {
    let s = format!("{SHARED}/saml");
    let run = |extra: &[&str]| {
        saml_check()
            .args([
                "--cert",
                &format!("{s}/python3-saml/derived/settings1-idp-cert.pem"),
            ])
            .args(["--audience", "http://stuff.com/endpoints/metadata.php"])
            .args([
                "--acs-url",
                "https://pitbulk.no-ip.org/newonelogin/demo1/index.php?acs",
            ])
            .args(["--now", "2014-02-19T01:37:31Z"])
            .args(extra)
            .arg(format!(
                "{s}/python3-saml/data/responses/valid_response.xml.base64"
            ))
            .output()
            .unwrap()
    };
    let irt = [
        "--in-response-to",
        "ONELOGIN_5fe9d6e499b2f0913206aab3f7191729049bb807",
    ];
    // The strict profile refuses the RSA-SHA1 signature unless SHA-1 is allowed; the default
    // platform profile accepts it from the pinned certificate.
    let out = run(&[&irt[..], &["--strict", "--allow-weak-test-certs"]].concat());
    assert_eq!(json(&out)["error"], "algorithm_not_allowed");
    let out = run(&[
        &irt[..],
        &["--strict", "--allow-weak-test-certs", "--allow-sha1"],
    ]
    .concat());
    assert_eq!(out.status.code(), Some(0));
    let out = run(&[&irt[..], &["--allow-weak-test-certs"]].concat());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        json(&out)["name_id"],
        "492882615acf31c8096b627245d76ae53036c090"
    );
    let out = run(&["--allow-weak-test-certs", "--allow-sha1"]);
    assert_eq!(json(&out)["error"], "unsolicited_response");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["--audience", "a", "--acs-url", "u", "f"],
        vec!["--cert", "c.pem", "--acs-url", "u", "f"],
        vec![
            "--cert",
            "/nonexistent.pem",
            "--audience",
            "a",
            "--acs-url",
            "u",
            "f",
        ],
        vec!["--bogus"],
        vec![
            "--cert",
            "c",
            "--audience",
            "a",
            "--acs-url",
            "u",
            "--now",
            "yesterday",
            "f",
        ],
    ] {
        let out = saml_check().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
    }
}
