//! Decoding of SAML messages as they arrive: base64 (HTTP-POST binding), raw DEFLATE
//! (HTTP-Redirect binding), or raw XML; every step with a size cap.

use std::io::Read as _;

use super::error::SamlError;

/// Default cap on an encoded message: 256 KiB.
pub(crate) const DEFAULT_MAX_ENCODED_BYTES: usize = 256 * 1024;

/// Decodes a message that is either raw XML or base64 of XML (line breaks and other ASCII
/// white space inside the base64 are tolerated, anything else is not), refusing input longer
/// than `max_bytes` before any decoding. A leading UTF-8 byte order mark is removed; the
/// result must be UTF-8.
pub fn decode_post_message(input: &[u8], max_bytes: usize) -> Result<String, SamlError> {
    if input.len() > max_bytes {
        return Err(SamlError::Decode(format!(
            "message is {} bytes, more than the {max_bytes}-byte limit",
            input.len()
        )));
    }
    let trimmed = input.trim_ascii();
    let bytes = if looks_like_xml(trimmed) {
        trimmed.to_vec()
    } else {
        decode_base64(trimmed)?
    };
    into_utf8(bytes)
}

fn looks_like_xml(b: &[u8]) -> bool {
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    b.first() == Some(&b'<')
}

/// Strict standard base64 (with padding), ignoring ASCII white space.
pub(crate) fn decode_base64(input: &[u8]) -> Result<Vec<u8>, SamlError> {
    let engine = base64_simd::STANDARD;
    // Most messages are one line; decode them directly and only compact wrapped ones, copying
    // the runs between white space rather than byte by byte.
    engine
        .decode_to_vec(input)
        .or_else(|_| {
            let mut compact = Vec::with_capacity(input.len());
            for run in input.split(u8::is_ascii_whitespace) {
                compact.extend_from_slice(run);
            }
            engine.decode_to_vec(&compact)
        })
        .map_err(|_| {
            SamlError::Decode(format!(
                "expected padded standard base64 (A-Z, a-z, 0-9, '+', '/', '=' at the end, white \
                 space ignored), found {}",
                first_non_base64(input)
            ))
        })
}

/// What made `input` not base64, for the error: the first byte outside the alphabet, or the
/// length when every byte is in it.
fn first_non_base64(input: &[u8]) -> String {
    let in_alphabet = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    match input
        .iter()
        .enumerate()
        .find(|(_, b)| !in_alphabet(b) && !b.is_ascii_whitespace())
    {
        Some((at, b)) => format!("byte 0x{b:02X} at offset {at} of the base64 text"),
        None => {
            let symbols = input.iter().filter(|b| in_alphabet(b)).count();
            format!(
                "{symbols} symbols: a count that is not a multiple of 4, misplaced padding or \
                 stray bits after the last byte"
            )
        }
    }
}

fn into_utf8(mut bytes: Vec<u8>) -> Result<String, SamlError> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        SamlError::Decode(format!(
            "not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Inflates raw DEFLATE data (the HTTP-Redirect binding), refusing output longer than
/// `max_output` bytes. Output is produced incrementally, so a compression bomb costs at most
/// `max_output` bytes of memory.
pub fn inflate(compressed: &[u8], max_output: usize) -> Result<Vec<u8>, SamlError> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::DeflateDecoder::new(compressed).take(max_output as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| SamlError::Decode(format!("not raw DEFLATE data: {e}")))?;
    if out.len() > max_output {
        return Err(SamlError::Decode(format!(
            "inflated message exceeds the {max_output}-byte limit"
        )));
    }
    Ok(out)
}

/// Decodes an HTTP-Redirect binding value (already percent-decoded): base64, then raw
/// DEFLATE with the output capped at `max_output`, then UTF-8.
pub fn decode_redirect_message(value: &[u8], max_output: usize) -> Result<String, SamlError> {
    if value.len() > max_output {
        return Err(SamlError::Decode(format!(
            "message is {} bytes, more than the {max_output}-byte limit",
            value.len()
        )));
    }
    let compressed = decode_base64(value)?;
    into_utf8(inflate(&compressed, max_output)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use std::io::Write as _;

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn accepts_raw_xml_and_wrapped_base64() {
        assert_eq!(decode_post_message(b"  <a/>\n", 100).unwrap(), "<a/>");
        assert_eq!(decode_post_message(b"PGEv\r\nPg==\n", 100).unwrap(), "<a/>");
        let bom = base64::engine::general_purpose::STANDARD.encode(b"\xEF\xBB\xBF<a/>");
        assert_eq!(decode_post_message(bom.as_bytes(), 100).unwrap(), "<a/>");
    }

    #[test]
    fn refuses_oversized_non_base64_and_non_utf8() {
        assert!(
            matches!(decode_post_message(&[b'A'; 101], 100), Err(SamlError::Decode(m)) if m.contains("limit"))
        );
        assert!(matches!(
            decode_post_message(b"PGEv*g==", 100),
            Err(SamlError::Decode(_))
        ));
        assert!(
            matches!(decode_post_message(b"PGE", 100), Err(SamlError::Decode(_))),
            "unpadded"
        );
        let latin1 = base64::engine::general_purpose::STANDARD.encode(b"<a>\xE9</a>");
        assert!(
            matches!(decode_post_message(latin1.as_bytes(), 100), Err(SamlError::Decode(m)) if m.contains("UTF-8"))
        );
    }

    /// The SIMD decoder is as strict as the `base64` crate's standard engine (padding
    /// required, no stray bits after the last byte, nothing outside the alphabet) and decodes
    /// the same bytes: checked on every length up to 64 and single-byte mutations of them.
    #[test]
    fn simd_decoding_agrees_with_the_base64_crate() {
        let reference = &base64::engine::general_purpose::STANDARD;
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for len in 0..64usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let encoded = reference.encode(&data).into_bytes();
            for at in 0..encoded.len() {
                for b in [b'=', b'A', b'/', b'-', b' ', 0x80, encoded[at] ^ 1] {
                    let mut m = encoded.clone();
                    m[at] = b;
                    inputs.push(m);
                }
                inputs.push(encoded[..at].to_vec());
            }
            inputs.push(encoded);
        }
        let mut refused = 0;
        for input in &inputs {
            let ours = decode_base64(input).ok();
            let theirs = reference.decode(input).ok().or_else(|| {
                let compact: Vec<u8> = input
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                reference.decode(compact).ok()
            });
            assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(input));
            refused += usize::from(ours.is_none());
        }
        assert!(
            refused > inputs.len() / 4,
            "the mutations are mostly refused"
        );
    }

    #[test]
    fn refusals_say_what_was_found() {
        let reason = |input: &[u8]| match decode_base64(input) {
            Err(SamlError::Decode(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(reason(b"PGEv*g==").contains("byte 0x2A at offset 4"));
        assert!(reason(b"PGE").contains("3 symbols"));
    }

    #[test]
    fn inflate_caps_output() {
        let bomb = deflate(&vec![b'a'; 1_000_000]);
        assert!(bomb.len() < 5_000);
        assert!(matches!(inflate(&bomb, 10_000), Err(SamlError::Decode(m)) if m.contains("limit")));
        assert_eq!(inflate(&deflate(b"hello"), 5).unwrap(), b"hello");
        assert!(inflate(b"not deflate at all", 100).is_err());
        let encoded = base64::engine::general_purpose::STANDARD.encode(deflate(b"<r/>"));
        assert_eq!(
            decode_redirect_message(encoded.as_bytes(), 100).unwrap(),
            "<r/>"
        );
    }
}
