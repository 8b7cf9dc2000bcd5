//! Decoding of SAML messages as they arrive: base64 (HTTP-POST binding), raw DEFLATE
//! (HTTP-Redirect binding), or raw XML; every step with a size cap.

use std::io::Read as _;

use base64::Engine as _;

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
    let engine = &base64::engine::general_purpose::STANDARD;
    // Most messages are one line; decode them directly and only compact wrapped ones, copying
    // the runs between white space rather than byte by byte.
    engine
        .decode(input)
        .or_else(|_| {
            let mut compact = Vec::with_capacity(input.len());
            for run in input.split(u8::is_ascii_whitespace) {
                compact.extend_from_slice(run);
            }
            engine.decode(&compact)
        })
        .map_err(|e| SamlError::Decode(format!("not base64: {e}")))
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
