//! Read arbitrary bytes as an IdP certificate the way the configuration gives one
//! (`sso.x509_certificate`: PEM, PEM with literal `\n` escapes, bare base64 DER, or a bare RSA
//! public key), as DER, and the first line as a fingerprint (`sso.x509_fingerprint`, the
//! fingerprint mode). The configuration comes from the developer platform or its cache file, so
//! untrusted. A certificate that parses reads back identically from its DER and its PEM, and a
//! fingerprint from its normal form; a fingerprint matches a certificate exactly when it is
//! that certificate's hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::saml::{Certificate, Fingerprint};

fn reads_back(cert: &Certificate) {
    for again in [
        Certificate::from_der(cert.der()).unwrap(),
        Certificate::from_pem(&cert.to_pem()).unwrap(),
    ] {
        assert_eq!(&again, cert);
        assert_eq!(again.sha1_fingerprint(), cert.sha1_fingerprint());
        assert_eq!(again.subject(), cert.subject());
        assert_eq!(again.key_bits(), cert.key_bits());
        assert_eq!(again.not_before(), cert.not_before());
        assert_eq!(again.not_after(), cert.not_after());
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = Certificate::from_der(data) {
        reads_back(&cert);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fingerprint = Fingerprint::parse(text.lines().next().unwrap_or(""));
    if let Ok(fp) = &fingerprint {
        assert!(matches!(fp.as_bytes().len(), 20 | 32));
        assert_eq!(Fingerprint::parse(&fp.to_string()).as_ref(), Ok(fp));
        assert_eq!(
            Fingerprint::parse(&fp.to_string().to_uppercase()).as_ref(),
            Ok(fp)
        );
    }
    let pem = Certificate::from_pem(text);
    if let Ok(cert) = &pem {
        reads_back(cert);
    }
    // A bare key's "DER" is its PKCS#1 key, and its SHA-1 fingerprint the hash of that.
    for cert in [pem, Certificate::from_public_key_pem(text)]
        .iter()
        .flatten()
    {
        let own = cert.sha1_fingerprint();
        assert!(own.matches(cert.der()));
        assert_eq!(Fingerprint::parse(&own.to_string()).as_ref(), Ok(own));
        if let Ok(fp) = &fingerprint {
            let matches = fp.matches(cert.der());
            assert_eq!(matches, fp.of_same_kind(cert.der()) == *fp);
            if let Fingerprint::Sha1(_) = fp {
                assert_eq!(matches, fp == own);
            }
        }
    }
});
