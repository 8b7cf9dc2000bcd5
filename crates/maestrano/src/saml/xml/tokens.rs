//! The XML tokenizer under [`Document::parse`](super::Document::parse).
//!
//! It replaced quick-xml on the hot path (issue 18): measured on this machine, quick-xml's
//! reader alone, events and attributes with nothing built from them, took 2.8 µs per KB of a
//! 266 KB response (1.8 µs on a 7 KB one), above the 1 µs per KB the whole validation is
//! allowed. This one scans with `memchr` and yields slices of the source, which is already a
//! `str`, so nothing is validated as UTF-8 twice and nothing is copied.
//!
//! It knows the syntax only: tags, attributes, text, references, comments, CDATA, processing
//! instructions, the XML declaration. It refuses a DTD on sight and checks that each end tag
//! names the element it closes; everything else a hostile document could try (names,
//! namespaces, duplicate attributes, references, characters, limits) is the tree builder's
//! work, as it was over quick-xml. The quick-xml build of the same tree stays as the oracle of
//! a differential test and fuzz target (`xml_differential`).

use super::{NAME_CLASS, NameSplit, XmlError, malformed};

/// One piece of the document, borrowed from its source.
pub(super) enum Token<'s> {
    /// `<?xml version=… encoding=…?>`.
    Decl {
        version: &'s str,
        encoding: Option<&'s str>,
    },
    /// A start tag or an empty-element tag: its name. Its attributes follow from
    /// [`Tokenizer::attribute`]; then [`Tokenizer::tag_end`] says where and how it ended.
    Start(&'s str, NameSplit),
    /// An end tag that closes the innermost open element; the offset just after it.
    End(usize),
    /// Character data up to the next markup or reference (not decoded).
    Text(&'s str),
    /// The content of a CDATA section.
    CData(&'s str),
    /// A reference: the text between `&` and `;`.
    Ref(&'s str),
    /// The content of a comment.
    Comment(&'s str),
    /// A processing instruction: its target and what follows it.
    Pi { target: &'s str, content: &'s str },
    /// The end of the document.
    Eof,
}

/// An attribute as read: its raw name, what was learnt of the name, its raw value.
pub(super) type RawAttribute<'s> = (&'s str, NameSplit, &'s str);

/// Reads a document token by token.
pub(super) struct Tokenizer<'s> {
    src: &'s str,
    pos: usize,
    /// Inside a start tag whose attributes are still being read.
    in_tag: bool,
    /// The start tag just read: whether it was an empty-element tag, and its end offset.
    last_tag: (bool, usize),
    /// The names of the open elements (offset and length in the source), to check end tags.
    open: Vec<(u32, u32)>,
    /// The name of the start tag being read.
    tag_name: (u32, u32),
}

/// What [`scan_attribute`] found.
enum Step {
    /// An attribute: the ranges of its name and value, and where scanning goes on.
    Attribute {
        key: (usize, usize),
        split: NameSplit,
        value: (usize, usize),
        next: usize,
    },
    /// The end of the tag: whether it was `/>`, and the offset just after it.
    End { empty: bool, next: usize },
}

/// The longest reference name the parser resolves: `#x10FFFF` (and `#1114111`).
const MAX_REFERENCE_NAME: usize = 8;

/// Reads a name from `i` up to the first byte `stop` accepts (or the end), checking on the way
/// whether it is an ASCII QName, so that the tree builder need not read it again: its end,
/// and the split (see [`NameSplit`]). The bytes `stop` accepts are never name characters.
#[inline]
fn scan_name(b: &[u8], i: usize, stop: impl Fn(u8) -> bool) -> (usize, NameSplit) {
    let class = |j: usize| b.get(j).map_or(0, |&c| NAME_CLASS[usize::from(c)]);
    let mut j = i;
    let mut colon = None;
    // One NCName, then at most one colon and another.
    let qname = loop {
        if class(j) != 2 {
            break false;
        }
        j += 1;
        j += b[j..]
            .iter()
            .position(|&c| NAME_CLASS[usize::from(c)] == 0)
            .unwrap_or(b.len() - j);
        match b.get(j) {
            Some(b':') if colon.is_none() => {
                colon = Some(j - i);
                j += 1;
            }
            Some(&c) if !stop(c) => break false,
            _ => break true,
        }
    };
    if qname {
        return (j, Some(colon));
    }
    // Anything else, non-ASCII included, is for the tree builder to judge; only the end is
    // looked for here.
    while b.get(j).is_some_and(|&c| !stop(c)) {
        j += 1;
    }
    (j, None)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_space(b[i]) {
        i += 1;
    }
    i
}

/// The first offset at or after `from` where `needle` starts.
fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(&b[from..], needle).map(|i| from + i)
}

/// Reads one attribute, or the end of the tag, at `i`. `closing` is what ends the tag (`>`,
/// with `/>` for an empty element; `?>` for the XML declaration).
fn scan_attribute(src: &str, i: usize, decl: bool, position: usize) -> Result<Step, XmlError> {
    let b = src.as_bytes();
    let start = i;
    let i = skip_space(b, i);
    match b.get(i) {
        None => return Err(malformed(position, "unclosed tag at end of document")),
        Some(b'>') if !decl => {
            return Ok(Step::End {
                empty: false,
                next: i + 1,
            });
        }
        Some(b'/') if !decl && b.get(i + 1) == Some(&b'>') => {
            return Ok(Step::End {
                empty: true,
                next: i + 2,
            });
        }
        Some(b'?') if decl && b.get(i + 1) == Some(&b'>') => {
            return Ok(Step::End {
                empty: true,
                next: i + 2,
            });
        }
        Some(_) if i == start => {
            return Err(malformed(
                i,
                format!(
                    "expected white space, '>' or '/>' in a tag, found {:?}",
                    char_at(src, i)
                ),
            ));
        }
        Some(_) => {}
    }
    let key_start = i;
    let (j, split) = scan_name(b, i, |c| {
        is_space(c) || matches!(c, b'=' | b'>' | b'/' | b'?' | b'<')
    });
    if j == key_start {
        return Err(malformed(
            j,
            format!("expected an attribute name, found {:?}", char_at(src, j)),
        ));
    }
    let key = (key_start, j);
    let j = skip_space(b, j);
    if b.get(j) != Some(&b'=') {
        return Err(malformed(
            j,
            format!(
                "expected '=' after attribute {:?}, found {:?}",
                &src[key.0..key.1],
                char_at(src, j)
            ),
        ));
    }
    let j = skip_space(b, j + 1);
    let quote = match b.get(j) {
        Some(&q @ (b'"' | b'\'')) => q,
        _ => {
            return Err(malformed(
                j,
                format!(
                    "expected a quoted value for attribute {:?}, found {:?}",
                    &src[key.0..key.1],
                    char_at(src, j)
                ),
            ));
        }
    };
    let end = memchr::memchr(quote, &b[j + 1..])
        .map(|k| j + 1 + k)
        .ok_or_else(|| malformed(j, "unterminated attribute value"))?;
    Ok(Step::Attribute {
        key,
        split,
        value: (j + 1, end),
        next: end + 1,
    })
}

/// The character at `i`, or `None` at the end (for error messages).
fn char_at(src: &str, i: usize) -> Option<char> {
    src.get(i..).and_then(|s| s.chars().next())
}

impl<'s> Tokenizer<'s> {
    pub(super) fn new(src: &'s str) -> Self {
        Self {
            src,
            // A byte order mark is not part of the document (XML 1.0 §4.3.3).
            pos: if src.starts_with('\u{FEFF}') { 3 } else { 0 },
            in_tag: false,
            last_tag: (false, 0),
            open: Vec::new(),
            tag_name: (0, 0),
        }
    }

    /// Where the next token starts.
    pub(super) fn position(&self) -> usize {
        self.pos
    }

    /// The next attribute of the start tag just read, as its raw name, what was learnt of
    /// the name, and its raw value; or `None` at the end of the tag.
    pub(super) fn attribute(&mut self) -> Result<Option<RawAttribute<'s>>, XmlError> {
        if !self.in_tag {
            return Ok(None);
        }
        match scan_attribute(self.src, self.pos, false, self.pos)? {
            Step::Attribute {
                key,
                split,
                value,
                next,
            } => {
                self.pos = next;
                Ok(Some((
                    &self.src[key.0..key.1],
                    split,
                    &self.src[value.0..value.1],
                )))
            }
            Step::End { empty, next } => {
                self.pos = next;
                self.in_tag = false;
                self.last_tag = (empty, next);
                if !empty {
                    // Only now is it known that the tag opened an element.
                    self.open.push(self.tag_name);
                }
                Ok(None)
            }
        }
    }

    /// How the start tag just read ended, once its attributes are read: whether it was an
    /// empty-element tag, and the offset just after it.
    pub(super) fn tag_end(&self) -> (bool, usize) {
        self.last_tag
    }

    pub(super) fn next_token(&mut self) -> Result<Token<'s>, XmlError> {
        // Attributes nobody read are still checked, so the tag's end is found.
        while self.attribute()?.is_some() {}
        let (src, b) = (self.src, self.src.as_bytes());
        let at = self.pos;
        let Some(&first) = b.get(at) else {
            return Ok(Token::Eof);
        };
        match first {
            b'<' => self.markup(at),
            b'&' => {
                // No reference the parser resolves is longer than `#x10FFFF`: look no further
                // for its `;`, so a stray `&` never makes the name the rest of the document.
                let window = &b[at + 1..(at + 2 + MAX_REFERENCE_NAME).min(b.len())];
                let semi = memchr::memchr(b';', window)
                    .map(|k| at + 1 + k)
                    .ok_or_else(|| {
                        malformed(
                            at,
                            format!(
                                "expected ';' within {MAX_REFERENCE_NAME} characters after '&'"
                            ),
                        )
                    })?;
                self.pos = semi + 1;
                Ok(Token::Ref(&src[at + 1..semi]))
            }
            _ => {
                let end = memchr::memchr2(b'<', b'&', &b[at..]).map_or(b.len(), |k| at + k);
                self.pos = end;
                Ok(Token::Text(&src[at..end]))
            }
        }
    }

    fn markup(&mut self, at: usize) -> Result<Token<'s>, XmlError> {
        let (src, b) = (self.src, self.src.as_bytes());
        let rest = &b[at + 1..];
        if rest.first() == Some(&b'/') {
            let gt = memchr::memchr(b'>', &b[at + 2..])
                .map(|k| at + 2 + k)
                .ok_or_else(|| malformed(at, "unclosed end tag at end of document"))?;
            let inner = &src[at + 2..gt];
            let name = inner.trim_end_matches([' ', '\t', '\n', '\r']);
            let Some((start, len)) = self.open.pop() else {
                return Err(malformed(at, "end tag without a start tag"));
            };
            let expected = &src[start as usize..(start + len) as usize];
            if name != expected {
                return Err(malformed(
                    at,
                    format!("expected end tag </{expected}>, found </{inner}>"),
                ));
            }
            self.pos = gt + 1;
            return Ok(Token::End(gt + 1));
        }
        if rest.starts_with(b"!--") {
            let close = find(b, at + 4, b"-->")
                .ok_or_else(|| malformed(at, "unclosed comment at end of document"))?;
            let content = &src[at + 4..close];
            // XML 1.0 §2.5: no "--" inside a comment, and none ending in "-".
            if find(content.as_bytes(), 0, b"--").is_some() || content.ends_with('-') {
                return Err(malformed(at, "'--' inside a comment"));
            }
            self.pos = close + 3;
            return Ok(Token::Comment(content));
        }
        if rest.starts_with(b"![CDATA[") {
            let close = find(b, at + 9, b"]]>")
                .ok_or_else(|| malformed(at, "unclosed CDATA section at end of document"))?;
            self.pos = close + 3;
            return Ok(Token::CData(&src[at + 9..close]));
        }
        if rest.first() == Some(&b'!') {
            if rest.len() >= 8 && rest[1..8].eq_ignore_ascii_case(b"DOCTYPE") {
                return Err(XmlError::Dtd);
            }
            return Err(malformed(
                at,
                "expected a comment or a CDATA section after '<!'",
            ));
        }
        if rest.first() == Some(&b'?') {
            let close = find(b, at + 2, b"?>").ok_or_else(|| {
                malformed(at, "unclosed processing instruction at end of document")
            })?;
            let inner = &src[at + 2..close];
            let split = inner.find([' ', '\t', '\n', '\r']).unwrap_or(inner.len());
            let (target, content) = inner.split_at(split);
            if target == "xml" {
                return self.declaration(at);
            }
            self.pos = close + 2;
            return Ok(Token::Pi { target, content });
        }
        // A start tag: its name runs to white space, `/` or `>`.
        let (name_end, split) = scan_name(b, at + 1, |c| is_space(c) || c == b'/' || c == b'>');
        if name_end == b.len() {
            return Err(malformed(at, "unclosed tag at end of document"));
        }
        self.pos = name_end;
        self.in_tag = true;
        self.tag_name = ((at + 1) as u32, (name_end - at - 1) as u32);
        Ok(Token::Start(&src[at + 1..name_end], split))
    }

    /// `<?xml` VersionInfo EncodingDecl? SDDecl? S? `?>` (XML 1.0 §2.8), in that order.
    fn declaration(&mut self, at: usize) -> Result<Token<'s>, XmlError> {
        let src = self.src;
        let mut i = at + 5;
        let mut seen = 0;
        let (mut version, mut encoding) = (None, None);
        loop {
            let step = scan_attribute(src, i, true, at).map_err(|e| match e {
                XmlError::Malformed { reason, .. } => {
                    malformed(at, format!("bad XML declaration: {reason}"))
                }
                other => other,
            })?;
            match step {
                Step::End { next, .. } => {
                    self.pos = next;
                    break;
                }
                Step::Attribute {
                    key, value, next, ..
                } => {
                    let (name, value) = (&src[key.0..key.1], &src[value.0..value.1]);
                    let rank = match name {
                        "version" => 1,
                        "encoding" => 2,
                        "standalone" if matches!(value, "yes" | "no") => 3,
                        _ => 0,
                    };
                    if rank <= seen || (seen == 0 && rank != 1) {
                        return Err(malformed(
                            at,
                            format!(
                                "bad XML declaration: expected version, then encoding and \
                                 standalone, found {name}={value:?}"
                            ),
                        ));
                    }
                    seen = rank;
                    match rank {
                        1 => version = Some(value),
                        2 => encoding = Some(value),
                        _ => {}
                    }
                    i = next;
                }
            }
        }
        let version =
            version.ok_or_else(|| malformed(at, "bad XML declaration: expected a version"))?;
        Ok(Token::Decl { version, encoding })
    }
}

#[cfg(test)]
mod tests {
    use crate::saml::XmlLimits;
    use crate::saml::xml::{Document, XmlError};

    fn parse(xml: &str) -> Result<Document, XmlError> {
        Document::parse(xml.to_owned(), &XmlLimits::default())
    }

    /// What the tokenizer learns of a name while finding its end agrees with the tree
    /// builder's own check, and covers every ASCII QName: every name of up to four
    /// characters drawn from name starts, name characters, colons, non-ASCII letters and
    /// characters no name holds.
    #[test]
    fn names_split_while_scanned_split_as_the_tree_builder_splits_them() {
        let alphabet = ["a", "_", "1", "-", ".", ":", "é", "%"];
        let mut names = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = names
                .iter()
                .flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}")))
                .collect();
            names.extend(longer);
        }
        names.sort();
        names.dedup();
        let mut fast = 0;
        for name in &names {
            let (end, split) = super::scan_name(name.as_bytes(), 0, |c| c == b' ');
            assert_eq!(end, name.len());
            let slow = super::super::split_qname(name);
            if split.is_some() {
                fast += 1;
                assert_eq!(super::super::split_known(name, split), slow, "{name:?}");
            } else {
                assert!(slow.is_none() || !name.is_ascii(), "{name:?}: {slow:?}");
            }
        }
        assert!(fast > 300, "{fast}");
    }

    /// The syntax XML 1.0 allows, each form once.
    #[test]
    fn every_form_of_the_syntax_is_read() {
        for xml in [
            "<a/>",
            "<a />",
            "<a></a >",
            "<a\n\tx = 'single' y=\"double\"\r\n/>",
            "<?xml version=\"1.0\"?><a/>",
            "<?xml version='1.0' encoding='utf-8' standalone='no' ?><a/>",
            "\u{FEFF}<?xml version=\"1.0\"?><a/>",
            "<a><!-- a - comment --><![CDATA[<&>]]>&lt;&#x41;&#65;<?pi some data?></a>",
            "<a>]]</a>",
            "<a x='>'>></a>",
            "<?xml-stylesheet href='x'?><a/>",
        ] {
            assert!(parse(xml).is_ok(), "{xml:?}: {:?}", parse(xml).err());
        }
    }

    /// What XML 1.0 refuses, each with the reason the error gives.
    #[test]
    fn malformed_syntax_is_refused_with_what_was_expected() {
        for (xml, reason) in [
            ("<a x='1'y='2'/>", "expected white space"),
            ("<a x/>", "expected '=' after attribute \"x\""),
            ("<a x=1/>", "expected a quoted value"),
            ("<a x='1/>", "unterminated attribute value"),
            ("<a><b></a></b>", "expected end tag </b>, found </a>"),
            ("<a></ a>", "expected end tag </a>"),
            ("<a>", "unclosed element"),
            ("<a", "unclosed tag"),
            ("<a x='1'", "unclosed tag"),
            ("</a>", "end tag without a start tag"),
            ("<a><!-- a -- b --></a>", "'--' inside a comment"),
            ("<a><!-- a ---></a>", "'--' inside a comment"),
            ("<a><!-- a </a>", "unclosed comment"),
            ("<a><![CDATA[ x </a>", "unclosed CDATA"),
            (
                "<a><!ELEMENT a></a>",
                "expected a comment or a CDATA section",
            ),
            ("<a><?pi </a>", "unclosed processing instruction"),
            ("<a>&amp</a>", "expected ';'"),
            ("<a>&#x0000000041;</a>", "expected ';' within 8 characters"),
            ("<?xml encoding='UTF-8'?><a/>", "bad XML declaration"),
            (
                "<?xml version='1.0' standalone='yes' encoding='UTF-8'?><a/>",
                "bad XML declaration",
            ),
            (
                "<?xml version='1.0' standalone='maybe'?><a/>",
                "bad XML declaration",
            ),
            (
                "<?xml version='1.0'encoding='UTF-8'?><a/>",
                "bad XML declaration",
            ),
            ("<?xml?><a/>", "bad XML declaration"),
            (
                "<a/><?xml version='1.0'?>",
                "XML declaration not at the start",
            ),
            ("<>", "bad element name"),
            ("<a></a><b/>", "content after the root element"),
        ] {
            match parse(xml) {
                Err(XmlError::Malformed { reason: found, .. }) => {
                    assert!(found.contains(reason), "{xml:?}: {found}")
                }
                other => panic!("{xml:?}: {other:?}"),
            }
        }
        // A reason quotes the document, bounded whatever the document sizes.
        let huge = format!("<a></{}>", "b".repeat(100_000));
        match parse(&huge) {
            Err(XmlError::Malformed { reason, .. }) => {
                assert!(reason.len() <= 256 + '…'.len_utf8(), "{}", reason.len());
                assert!(reason.starts_with("expected end tag </a>"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        for xml in ["<!DOCTYPE a><a/>", "<a/><!doctype a>"] {
            assert!(matches!(parse(xml), Err(XmlError::Dtd)), "{xml:?}");
        }
    }
}
