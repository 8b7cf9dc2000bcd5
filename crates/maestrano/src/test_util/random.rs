use std::sync::atomic::{AtomicU64, Ordering};

use crate::ports::{RandomError, RandomSource};

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
