//! The randomness port: request IDs and nonces come from an injectable source.

use std::fmt::Debug;

/// The random source failed (the operating system refused to provide entropy).
#[derive(Debug, thiserror::Error)]
#[error("random source failed: {0}")]
pub struct RandomError(pub String);

/// A source of cryptographically secure random bytes.
pub trait RandomSource: Send + Sync + Debug {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's generator (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|e| RandomError(e.to_string()))
    }
}

impl<R: RandomSource + ?Sized> RandomSource for std::sync::Arc<R> {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        (**self).fill(buf)
    }
}

#[cfg(any(test, feature = "test-util"))]
pub use seq::SequenceRandom;

#[cfg(any(test, feature = "test-util"))]
mod seq {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::{RandomError, RandomSource};

    /// A predictable source for tests (feature `test-util`): each call fills the buffer with a
    /// counter-derived pattern, so two calls never return the same bytes.
    #[derive(Debug, Default)]
    pub struct SequenceRandom {
        counter: AtomicU64,
    }

    impl RandomSource for SequenceRandom {
        fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (n as u8).wrapping_mul(31).wrapping_add(i as u8);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_random_fills() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        OsRandom.fill(&mut a).unwrap();
        OsRandom.fill(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
