//! The `SecretSource` port: where the app's own secrets come from, read when they are needed
//! so that a rotated secret is picked up without a restart.
//!
//! Two implementations ship: [`EnvSecrets`] (process environment variables) and
//! [`FileSecrets`] (one file per secret, as Kubernetes and Docker mount them). For Vault or a
//! cloud KMS, implement the trait over its client: `secret` is called on every use (each
//! configuration refresh for the developer platform's secret), so cache in the
//! implementation if the store is slow, and return [`SecretError::Source`] (which fails the
//! refresh closed; the registry keeps the last good configuration) when it cannot answer.

use std::fmt::Debug;
use std::path::PathBuf;

use async_trait::async_trait;

use crate::types::Secret;

/// Largest secret read from a file.
const MAX_SECRET_BYTES: usize = 64 * 1024;

/// A secret could not be read. It never holds the secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The source has no secret of that name.
    #[error("secret {name}: expected it to be set, found nothing")]
    Missing {
        /// The secret's name.
        name: String,
    },
    /// The secret (or its name) is not what the SDK accepts.
    #[error("secret {name}: expected {expected}")]
    Invalid {
        /// The secret's name.
        name: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The source failed (a file that cannot be read, a vault that does not answer).
    #[error("secret {name}: the source failed: {message}")]
    Source {
        /// The secret's name.
        name: String,
        /// What failed (no secret in it).
        message: String,
    },
}

/// Where secrets come from.
///
/// ```
/// use maestrano::config::{EnvSecrets, SecretSource};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let secrets = EnvSecrets::new("MAESTRANO_DOC_EXAMPLE_");
/// // `env_secret` is read from MAESTRANO_DOC_EXAMPLE_ENV_SECRET, which is not set here.
/// let missing = secrets.secret("env_secret").await.unwrap_err();
/// assert!(missing.to_string().contains("env_secret"));
/// # }
/// ```
#[async_trait]
pub trait SecretSource: Send + Sync + Debug {
    /// The secret named `name` (letters, digits, `_`, `-` and `.`; not starting with `.`), as
    /// it is now.
    async fn secret(&self, name: &str) -> Result<Secret, SecretError>;
}

/// Refuses names that could leave the source's namespace (a path, a `..`).
fn check_name(name: &str) -> Result<(), SecretError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(SecretError::Invalid {
            name: crate::types::shown(name),
            expected: "a name of letters, digits, '_', '-' and '.', not starting with '.'",
        })
    }
}

/// Refuses an empty secret or one with control characters (it goes into headers).
fn check_value(name: &str, value: String) -> Result<Secret, SecretError> {
    if value.is_empty() || value.chars().any(char::is_control) {
        return Err(SecretError::Invalid {
            name: name.to_owned(),
            expected: "a non-empty secret without control characters",
        });
    }
    Ok(Secret::new(value))
}

/// Secrets from environment variables: `name` is read from `{prefix}{NAME}`, upper-cased,
/// `-` and `.` as `_` (`env_secret` with prefix `MNO_` is `MNO_ENV_SECRET`).
#[derive(Debug, Clone)]
pub struct EnvSecrets {
    prefix: String,
}

impl EnvSecrets {
    /// Secrets from variables named with `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    fn variable(&self, name: &str) -> String {
        let tail: String = name
            .chars()
            .map(|c| match c {
                '-' | '.' => '_',
                c => c.to_ascii_uppercase(),
            })
            .collect();
        format!("{}{tail}", self.prefix)
    }
}

#[async_trait]
impl SecretSource for EnvSecrets {
    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        check_name(name)?;
        match std::env::var(self.variable(name)) {
            Ok(value) => check_value(name, value),
            Err(std::env::VarError::NotPresent) => Err(SecretError::Missing {
                name: name.to_owned(),
            }),
            Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::Invalid {
                name: name.to_owned(),
                expected: "UTF-8",
            }),
        }
    }
}

/// Secrets from files: `name` is the file `{dir}/{name}` (a Kubernetes or Docker secret
/// mount), read on every call, at most 64 KiB, one trailing line break removed.
#[derive(Debug, Clone)]
pub struct FileSecrets {
    dir: PathBuf,
}

impl FileSecrets {
    /// Secrets from the files of `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl SecretSource for FileSecrets {
    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        check_name(name)?;
        let path = self.dir.join(name);
        let source = |message: String| SecretError::Source {
            name: name.to_owned(),
            message,
        };
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SecretError::Missing {
                    name: name.to_owned(),
                });
            }
            Err(e) => return Err(source(e.kind().to_string())),
        };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_SECRET_BYTES as u64 + 1),
            &mut bytes,
        )
        .map_err(|e| source(e.kind().to_string()))?;
        if bytes.len() > MAX_SECRET_BYTES {
            return Err(SecretError::Invalid {
                name: name.to_owned(),
                expected: "at most 64 KiB",
            });
        }
        let mut text = String::from_utf8(bytes).map_err(|_| SecretError::Invalid {
            name: name.to_owned(),
            expected: "UTF-8",
        })?;
        for suffix in ["\r\n", "\n"] {
            if let Some(stripped) = text.strip_suffix(suffix) {
                text.truncate(stripped.len());
                break;
            }
        }
        check_value(name, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_are_read_on_every_call_and_names_stay_inside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = FileSecrets::new(dir.path());
        std::fs::write(dir.path().join("env_secret"), "first\n").unwrap();
        assert_eq!(
            secrets.secret("env_secret").await.unwrap().expose(),
            "first"
        );
        std::fs::write(dir.path().join("env_secret"), "rotated\r\n").unwrap();
        assert_eq!(
            secrets.secret("env_secret").await.unwrap().expose(),
            "rotated"
        );
        for bad in ["../etc/passwd", ".hidden", "a/b", ""] {
            assert!(
                matches!(secrets.secret(bad).await, Err(SecretError::Invalid { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            secrets.secret("absent").await,
            Err(SecretError::Missing { .. })
        ));
        std::fs::write(dir.path().join("two_lines"), "a\nb").unwrap();
        let refused = secrets.secret("two_lines").await.unwrap_err();
        assert!(matches!(refused, SecretError::Invalid { .. }));
        assert!(!refused.to_string().contains("a\nb"), "{refused}");
        std::fs::write(dir.path().join("huge"), vec![b'x'; MAX_SECRET_BYTES + 1]).unwrap();
        assert!(matches!(
            secrets.secret("huge").await,
            Err(SecretError::Invalid { .. })
        ));
    }

    #[test]
    fn environment_names_are_prefixed_and_upper_cased() {
        assert_eq!(
            EnvSecrets::new("MNO_").variable("env-secret.v2"),
            "MNO_ENV_SECRET_V2"
        );
    }
}
