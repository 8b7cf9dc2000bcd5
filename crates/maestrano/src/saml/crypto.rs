//! The crypto provider: digests and RSA PKCS#1 v1.5 verification, nothing else.
//!
//! Like rustls, the protocol code talks to a small provider interface, so the backend can be
//! swapped: RustCrypto (`rsa`, `sha2`, `sha1`; pure Rust, the default) or, with the
//! `aws-lc-rs` feature, AWS-LC (faster, FIPS-capable).

use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use super::cert::Certificate;

/// A digest algorithm of XML-DSig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigestAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// Which implementation does the cryptography.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CryptoBackend {
    /// RustCrypto: pure Rust, the default.
    #[default]
    RustCrypto,
    /// AWS-LC through `aws-lc-rs` (feature `aws-lc-rs`).
    #[cfg(feature = "aws-lc-rs")]
    AwsLcRs,
}

impl CryptoBackend {
    /// Every backend compiled into this build.
    pub fn available() -> &'static [CryptoBackend] {
        &[
            CryptoBackend::RustCrypto,
            #[cfg(feature = "aws-lc-rs")]
            CryptoBackend::AwsLcRs,
        ]
    }

    pub(crate) fn provider(self) -> &'static dyn CryptoProvider {
        match self {
            CryptoBackend::RustCrypto => &RustCryptoProvider,
            #[cfg(feature = "aws-lc-rs")]
            CryptoBackend::AwsLcRs => &aws::AwsLcProvider,
        }
    }
}

/// An incremental digest.
pub(crate) trait DigestCtx {
    fn update(&mut self, data: &[u8]);
    fn finish(self: Box<Self>) -> Vec<u8>;
}

/// What the SAML code needs from cryptography.
pub(crate) trait CryptoProvider: Sync {
    fn digest(&self, alg: DigestAlg) -> Box<dyn DigestCtx>;

    /// Verifies an RSASSA-PKCS1-v1_5 signature over `message` (which this function hashes).
    fn verify_rsa_pkcs1(
        &self,
        alg: DigestAlg,
        key: &Certificate,
        message: &[u8],
        signature: &[u8],
    ) -> bool;
}

/// Adapts a digest to the canonicalizer's output, so canonical bytes are hashed as they are
/// produced instead of being buffered whole. The canonicalizer writes many tiny pieces; they
/// are gathered into blocks first, because each digest update has a fixed cost.
pub(crate) struct DigestSink {
    ctx: Box<dyn DigestCtx>,
    buf: Vec<u8>,
}

const DIGEST_BLOCK: usize = 8 * 1024;

impl DigestSink {
    pub(crate) fn new(ctx: Box<dyn DigestCtx>) -> Self {
        Self {
            ctx,
            buf: Vec::with_capacity(DIGEST_BLOCK),
        }
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.ctx.update(&self.buf);
        self.ctx.finish()
    }
}

impl super::c14n::Sink for DigestSink {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > DIGEST_BLOCK {
            self.ctx.update(&self.buf);
            self.buf.clear();
            if bytes.len() >= DIGEST_BLOCK {
                self.ctx.update(bytes);
                return;
            }
        }
        self.buf.extend_from_slice(bytes);
    }
}

struct RustCryptoProvider;

struct RcDigest<D>(D);

impl<D: sha2::Digest> DigestCtx for RcDigest<D> {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finish(self: Box<Self>) -> Vec<u8> {
        self.0.finalize().to_vec()
    }
}

impl CryptoProvider for RustCryptoProvider {
    fn digest(&self, alg: DigestAlg) -> Box<dyn DigestCtx> {
        match alg {
            DigestAlg::Sha1 => Box::new(RcDigest(Sha1::new())),
            DigestAlg::Sha256 => Box::new(RcDigest(Sha256::new())),
            DigestAlg::Sha384 => Box::new(RcDigest(Sha384::new())),
            DigestAlg::Sha512 => Box::new(RcDigest(Sha512::new())),
        }
    }

    fn verify_rsa_pkcs1(
        &self,
        alg: DigestAlg,
        key: &Certificate,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        use rsa::pkcs1v15::Pkcs1v15Sign;
        let (scheme, hashed) = match alg {
            DigestAlg::Sha1 => (Pkcs1v15Sign::new::<Sha1>(), Sha1::digest(message).to_vec()),
            DigestAlg::Sha256 => (
                Pkcs1v15Sign::new::<Sha256>(),
                Sha256::digest(message).to_vec(),
            ),
            DigestAlg::Sha384 => (
                Pkcs1v15Sign::new::<Sha384>(),
                Sha384::digest(message).to_vec(),
            ),
            DigestAlg::Sha512 => (
                Pkcs1v15Sign::new::<Sha512>(),
                Sha512::digest(message).to_vec(),
            ),
        };
        key.rsa_public_key()
            .verify(scheme, &hashed, signature)
            .is_ok()
    }
}

#[cfg(feature = "aws-lc-rs")]
mod aws {
    use aws_lc_rs::digest;
    use aws_lc_rs::signature::{self, UnparsedPublicKey};

    use super::{CryptoProvider, DigestAlg, DigestCtx};
    use crate::saml::Certificate;

    pub(super) struct AwsLcProvider;

    struct AwsDigest(digest::Context);

    impl DigestCtx for AwsDigest {
        fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }

        fn finish(self: Box<Self>) -> Vec<u8> {
            self.0.finish().as_ref().to_vec()
        }
    }

    impl CryptoProvider for AwsLcProvider {
        fn digest(&self, alg: DigestAlg) -> Box<dyn DigestCtx> {
            let a = match alg {
                DigestAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
                DigestAlg::Sha256 => &digest::SHA256,
                DigestAlg::Sha384 => &digest::SHA384,
                DigestAlg::Sha512 => &digest::SHA512,
            };
            Box::new(AwsDigest(digest::Context::new(a)))
        }

        fn verify_rsa_pkcs1(
            &self,
            alg: DigestAlg,
            key: &Certificate,
            message: &[u8],
            sig: &[u8],
        ) -> bool {
            // Key size policy is enforced by the caller; accept what the caller allowed.
            let params: &'static signature::RsaParameters = match alg {
                DigestAlg::Sha1 => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                DigestAlg::Sha256 => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                DigestAlg::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                DigestAlg::Sha512 => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
            };
            UnparsedPublicKey::new(params, key.rsa_pkcs1_der())
                .verify(message, sig)
                .is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_gathering_sink_hashes_exactly_what_it_was_given() {
        use crate::saml::c14n::Sink;
        let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for pieces in [1usize, 7, 100, 8191, 8192, 8193, 20_000] {
            let mut sink = DigestSink::new(RustCryptoProvider.digest(DigestAlg::Sha256));
            for chunk in data.chunks(pieces) {
                sink.put(chunk);
            }
            sink.put(b"");
            assert_eq!(
                sink.finish(),
                Sha256::digest(&data).to_vec(),
                "pieces of {pieces}"
            );
        }
    }

    #[test]
    fn digests_match_known_values() {
        for backend in CryptoBackend::available() {
            let p = backend.provider();
            let mut d = p.digest(DigestAlg::Sha256);
            d.update(b"ab");
            d.update(b"c");
            let out = d.finish();
            assert_eq!(out, Sha256::digest(b"abc").to_vec(), "{backend:?}");
            let mut d = p.digest(DigestAlg::Sha1);
            d.update(b"abc");
            assert_eq!(d.finish(), Sha1::digest(b"abc").to_vec(), "{backend:?}");
        }
    }
}
