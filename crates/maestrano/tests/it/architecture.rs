//! The module graph runs one way (ARCHITECTURE.md, "Layers"): each module of `src/` imports
//! only the modules below it. This reads the sources as text: every `crate::<module>` path
//! outside comments and outside the unit tests at the end of a file must be allowed by the
//! table below.

use std::collections::BTreeMap;
use std::path::Path;

/// Each module and the modules it may use. Keep in step with ARCHITECTURE.md.
const ALLOWED: &[(&str, &[&str])] = &[
    ("types", &[]),
    ("redact", &["types"]),
    ("timestamp", &["types"]),
    ("ports", &["types"]),
    ("saml", &["ports", "timestamp", "types"]),
    ("routes", &["types"]),
    ("openid", &["ports", "saml", "timestamp", "types"]),
    (
        "config",
        &["ports", "redact", "routes", "saml", "timestamp", "types"],
    ),
    ("rest", &["ports", "redact", "types"]),
    (
        "sso",
        &["config", "openid", "ports", "saml", "timestamp", "types"],
    ),
    (
        "api",
        &["config", "ports", "redact", "rest", "timestamp", "types"],
    ),
    (
        "connec",
        &["config", "ports", "redact", "rest", "timestamp", "types"],
    ),
    ("idmap", &["config", "ports", "types"]),
    (
        "webhook",
        &[
            "config", "connec", "idmap", "ports", "rest", "routes", "types",
        ],
    ),
    (
        "push",
        &["config", "connec", "idmap", "ports", "rest", "types"],
    ),
    (
        "health",
        &["config", "connec", "idmap", "rest", "timestamp", "types"],
    ),
    ("reconcile", &["api", "ports", "types", "webhook"]),
    (
        "offboard",
        &["config", "idmap", "ports", "types", "webhook"],
    ),
    (
        "adapters",
        &[
            "config", "idmap", "offboard", "ports", "push", "saml", "types", "webhook",
        ],
    ),
    (
        "test_util",
        &["connec", "idmap", "ports", "types", "webhook"],
    ),
    (
        "error",
        &[
            "api",
            "config",
            "connec",
            "idmap",
            "offboard",
            "openid",
            "ports",
            "reconcile",
            "routes",
            "saml",
            "sso",
            "types",
            "webhook",
        ],
    ),
];

/// Files that are unit tests as a whole (`#[cfg(test)] mod …;`), which may use the fakes.
const TEST_ONLY: &[&str] = &["saml/conformance.rs"];

fn module_of(path: &Path, src: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::<module>` names a file's code uses, without comments and without the
/// `#[cfg(test)]` module that ends the file.
fn used_modules(text: &str) -> Vec<String> {
    let code = match text.find("\n#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                out.push(name);
            }
            rest = after;
        }
    }
    out
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files {
        let module = module_of(&file, &src);
        if module == "lib" {
            continue; // the crate root re-exports everything: it is the top
        }
        if TEST_ONLY.iter().any(|t| file.ends_with(t)) {
            continue;
        }
        let Some(may) = allowed.get(module.as_str()) else {
            violations.push(format!(
                "{}: module {module:?} is not in the table",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for used in used_modules(&text) {
            if used != module && !may.contains(&used.as_str()) {
                violations.push(format!("{}: {module} uses crate::{used}", file.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_a_violation() {
    let text = "use crate::sso::SsoFlow;\n// crate::api in a comment\n#[cfg(test)]\nmod tests { use crate::api; }";
    assert_eq!(used_modules(text), ["sso"]);
}
