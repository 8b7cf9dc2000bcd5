//! Validate a SAML Response from the command line, the way the SDK does it for a tenant.
//!
//! ```text
//! cargo run --example saml_check -- --cert IDP.pem --audience A --acs-url URL \
//!     [--idp-entity-id ID] [--in-response-to ID] [--now RFC3339] [--skew-secs N] \
//!     [--strict] [--allow-sha1] [--allow-idp-initiated] [--allow-weak-test-certs] [--show] FILE
//! ```
//!
//! By default the SDK's platform signature profile applies (RSA-SHA1 and 1024-bit keys from
//! the given certificate are accepted, as the Maestrano IdP signs); `--strict` selects
//! `SamlPolicy::strict()`, which refuses them unless `--allow-sha1` and
//! `--allow-weak-test-certs` say otherwise.
//!
//! FILE holds raw XML or the base64 `SAMLResponse` value. One JSON object is printed on
//! stdout; the exit status is 0 when the response is valid, 1 when it is not, 2 on a usage
//! error. `--show` pretty-prints the decoded XML on stderr. `--cert` may be repeated (key
//! rotation) and also accepts a bare RSA public key in PEM.

use std::process::ExitCode;

use maestrano::ports::InMemorySingleUseStore;
use maestrano::ports::{Clock, SystemClock};
use maestrano::saml::{Certificate, ResponseValidator, SamlPolicy, SpSettings};
// The decoded XML is shown with the SDK's own bounded decoder, which is not public API.
use maestrano::__private::decode_post_message;
use serde_json::json;
use time::OffsetDateTime;

const USAGE: &str = "usage: saml_check --cert IDP.pem --audience A --acs-url URL [--idp-entity-id ID] \
[--in-response-to ID] [--now RFC3339] [--skew-secs N] [--strict] [--allow-sha1] [--allow-idp-initiated] \
[--allow-weak-test-certs] [--show] FILE";

#[derive(Debug)]
struct FixedClock(OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

struct Args {
    certs: Vec<String>,
    audience: String,
    acs_url: String,
    idp_entity_id: Option<String>,
    in_response_to: Option<String>,
    now: Option<OffsetDateTime>,
    skew_secs: Option<f64>,
    strict: bool,
    allow_sha1: bool,
    allow_idp_initiated: bool,
    allow_weak_test_certs: bool,
    show: bool,
    file: String,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut certs = Vec::new();
    let (mut audience, mut acs_url, mut file) = (None, None, None);
    let (mut idp_entity_id, mut in_response_to, mut now, mut skew_secs) = (None, None, None, None);
    let (mut allow_sha1, mut allow_idp_initiated, mut allow_weak_test_certs, mut show) =
        (false, false, false, false);
    let mut strict = false;
    while let Some(arg) = argv.next() {
        let mut value = |name: &str| argv.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--cert" => certs.push(value("--cert")?),
            "--audience" => audience = Some(value("--audience")?),
            "--acs-url" => acs_url = Some(value("--acs-url")?),
            "--idp-entity-id" => idp_entity_id = Some(value("--idp-entity-id")?),
            "--in-response-to" => in_response_to = Some(value("--in-response-to")?),
            "--now" => {
                let v = value("--now")?;
                now = Some(
                    OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| format!("--now {v:?} is not RFC 3339: {e}"))?,
                );
            }
            "--skew-secs" => {
                let v = value("--skew-secs")?;
                let n: f64 = v
                    .parse()
                    .map_err(|_| format!("--skew-secs {v:?} is not a number"))?;
                if !(0.0..=86_400.0).contains(&n) {
                    return Err("--skew-secs must be between 0 and 86400".into());
                }
                skew_secs = Some(n);
            }
            "--strict" => strict = true,
            "--allow-sha1" => allow_sha1 = true,
            "--allow-idp-initiated" => allow_idp_initiated = true,
            "--allow-weak-test-certs" => allow_weak_test_certs = true,
            "--show" => show = true,
            "-h" | "--help" => return Err(String::new()),
            a if a.starts_with("--") => return Err(format!("unknown option {a}")),
            a if file.is_none() => file = Some(a.to_owned()),
            a => return Err(format!("unexpected argument {a}")),
        }
    }
    if certs.is_empty() {
        return Err("--cert is required".into());
    }
    Ok(Args {
        certs,
        audience: audience.ok_or("--audience is required")?,
        acs_url: acs_url.ok_or("--acs-url is required")?,
        idp_entity_id,
        in_response_to,
        now,
        skew_secs,
        strict,
        allow_sha1,
        allow_idp_initiated,
        allow_weak_test_certs,
        show,
        file: file.ok_or("FILE is required")?,
    })
}

fn load_cert(path: &str) -> Result<Certificate, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    let cert = if text.contains("PUBLIC KEY-----") {
        Certificate::from_public_key_pem(&text)
    } else if text.contains("-----BEGIN") {
        Certificate::from_pem(&text)
    } else {
        Certificate::from_der(&bytes)
    };
    cert.map_err(|e| format!("{path}: {e}"))
}

/// Indents the XML for reading; falls back to the text as it is when it does not parse.
fn pretty(xml: &str) -> String {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut writer = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Text(t)) if t.trim().is_empty() => {}
            Ok(e) => {
                if writer.write_event(e).is_err() {
                    return xml.to_owned();
                }
            }
            Err(_) => return xml.to_owned(),
        }
    }
    String::from_utf8(writer.into_inner()).unwrap_or_else(|_| xml.to_owned())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("saml_check: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let certs: Result<Vec<_>, _> = args.certs.iter().map(|c| load_cert(c)).collect();
    let certs = match certs {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("saml_check: {msg}");
            return ExitCode::from(2);
        }
    };
    let message = match std::fs::read(&args.file) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("saml_check: cannot read {}: {e}", args.file);
            return ExitCode::from(2);
        }
    };

    let mut policy = if args.strict {
        SamlPolicy::strict()
    } else {
        SamlPolicy::default()
    };
    policy.insecure_allow_sha1 = args.allow_sha1;
    policy.insecure_allow_idp_initiated = args.allow_idp_initiated;
    policy.insecure_allow_weak_test_certs = args.allow_weak_test_certs;
    if let Some(s) = args.skew_secs {
        policy.clock_skew = time::Duration::seconds_f64(s);
    }
    if args.show {
        match decode_post_message(&message, policy.max_message_bytes) {
            Ok(xml) => eprintln!("{}", pretty(&xml)),
            Err(e) => eprintln!("(cannot decode for --show: {e})"),
        }
    }
    let mut settings = SpSettings::new(args.acs_url, args.audience, certs).with_policy(policy);
    settings.idp_entity_id = args.idp_entity_id;

    let clock: Box<dyn Clock> = match args.now {
        Some(t) => Box::new(FixedClock(t)),
        None => Box::new(SystemClock),
    };
    let validator = ResponseValidator::new(settings);
    let cache = InMemorySingleUseStore::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime always builds");
    let outcome = runtime.block_on(validator.validate(
        &message,
        args.in_response_to.as_deref(),
        clock.now(),
        &cache,
    ));
    let rfc3339 = |t: Option<OffsetDateTime>| {
        t.and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
    };
    match outcome {
        Ok(a) => {
            let attributes: serde_json::Map<String, serde_json::Value> = a
                .attributes()
                .iter()
                .map(|a| (a.name().to_owned(), json!(a.values().collect::<Vec<_>>())))
                .collect();
            let out = json!({
                "valid": true,
                "name_id": a.name_id().value,
                "name_id_format": a.name_id().format,
                "issuer": a.issuer(),
                "assertion_id": a.assertion_id(),
                "in_response_to": a.in_response_to(),
                "session_index": a.session_index(),
                "session_not_on_or_after": rfc3339(a.session_not_on_or_after()),
                "not_on_or_after": rfc3339(a.not_on_or_after()),
                "attributes": attributes,
            });
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!(
                "{}",
                json!({"valid": false, "error": e.class(), "detail": e.to_string()})
            );
            ExitCode::from(1)
        }
    }
}
