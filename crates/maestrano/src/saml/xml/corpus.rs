//! The test data as a corpus for differential tests of the XML layer: every document the
//! tests hold, and a fixed series of mutations of each.

use base64::Engine as _;

/// Every XML document and base64 message in the test data, as text.
pub(crate) fn corpus() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data"
    ))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let text = match path.extension().and_then(|e| e.to_str()) {
                Some("xml") => String::from_utf8(bytes).ok(),
                Some("base64") | None => {
                    let compact: Vec<u8> = bytes
                        .into_iter()
                        .filter(|b| !b.is_ascii_whitespace())
                        .collect();
                    base64::engine::general_purpose::STANDARD
                        .decode(compact)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .filter(|s| s.contains('<'))
                }
                _ => None,
            };
            if let Some(text) = text {
                out.push((path.display().to_string(), text));
            }
        }
    }
    out.sort();
    out
}

/// The seed of [`mutations`]: the same run every time.
pub(crate) const SEED: u64 = 0x2545_f491_4f6c_dd1d;

/// Pieces of XML syntax the mutations insert.
const PIECES: [&str; 33] = [
    "<",
    ">",
    "&",
    "\"",
    "'",
    "=",
    " ",
    "/",
    "?",
    "!",
    "-",
    "--",
    "]]>",
    "<!--",
    "-->",
    "?>",
    "/>",
    "</",
    "<![CDATA[",
    "&amp;",
    "&#x41;",
    "&#0;",
    "&bogus;",
    "<?xml ",
    "<!DOCTYPE a>",
    "<a>",
    "</a>",
    "<b/>",
    " x='1'",
    " x=\"1\"",
    "\r\n",
    "\t",
    "é",
];

/// `count` mutations of `text`, each one to three insertions, deletions or repeated insertions
/// of syntax, drawn from the xorshift generator `state`.
pub(crate) fn mutations(text: &str, count: usize, state: &mut u64) -> Vec<String> {
    let mut next = |n: usize| {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state % n as u64) as usize
    };
    (0..count)
        .map(|_| {
            let mut mutated = text.to_owned();
            for _ in 0..=next(3) {
                let mut at = next(mutated.len() + 1);
                while !mutated.is_char_boundary(at) {
                    at -= 1;
                }
                match next(3) {
                    0 => mutated.insert_str(at, PIECES[next(PIECES.len())]),
                    1 => {
                        let mut end = (at + 1 + next(8)).min(mutated.len());
                        while !mutated.is_char_boundary(end) {
                            end += 1;
                        }
                        mutated.replace_range(at..end, "");
                    }
                    _ => mutated
                        .replace_range(at..at, &PIECES[next(PIECES.len())].repeat(1 + next(2))),
                }
            }
            mutated
        })
        .collect()
}
