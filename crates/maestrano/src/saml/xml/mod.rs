//! A hardened, immutable XML tree for SAML messages, on the crate's own tokenizer.
//!
//! The document is parsed once. Everything XML-DSig needs later (namespaces, comments,
//! processing instructions, exact text) is kept, and everything a hostile document could use
//! to confuse a signature check is refused up front: DTDs and entity declarations, entity
//! references other than the five predefined ones, unbound prefixes, duplicate attributes,
//! anything but one root element, and documents past the size limits.
//!
//! Nodes are stored in document order in one vector, and each node records where its subtree
//! ends, so a subtree is a contiguous slice: canonicalization is a linear scan and excluding
//! the enveloped signature is skipping a range.

use std::ops::Range;

use tokens::{RawAttribute, Token, Tokenizer};

/// What the tokenizer learnt of a name while finding its end: `Some(colon)` when it is an
/// ASCII QName (prefix and local part both NCNames), split at byte `colon` if it has one;
/// `None` when the tree builder must check it the long way ([`split_qname`]).
type NameSplit = Option<Option<usize>>;

#[cfg(test)]
pub(crate) mod corpus;
#[cfg(feature = "__xml-oracle")]
mod oracle;
mod tokens;

#[cfg(feature = "__xml-oracle")]
pub use oracle::differential;

/// The XML namespace, bound to the `xml` prefix by definition.
pub(crate) const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of namespace declarations.
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// Limits on the shape of a parsed document. Defaults fit the largest real SAML responses
/// with a wide margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct XmlLimits {
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most attributes (namespace declarations excluded) on one element.
    pub max_attributes_per_element: usize,
    /// Most namespace declarations on one element.
    pub max_namespace_declarations_per_element: usize,
    /// Most namespace declarations in scope at any element (on it and its ancestors): every
    /// name lookup scans them.
    pub max_namespaces_in_scope: usize,
    /// Most nodes (elements, text, comments, processing instructions) in the document.
    pub max_nodes: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_attributes_per_element: 64,
            max_namespace_declarations_per_element: 32,
            max_namespaces_in_scope: 128,
            max_nodes: 200_000,
        }
    }
}

/// Why a document was refused by the parser.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// The document has a DOCTYPE (DTDs can declare entities and attribute defaults that
    /// change what is signed).
    #[error("DOCTYPE declarations are forbidden")]
    Dtd,
    /// A limit was exceeded.
    #[error("document exceeds the {limit} limit of {max}")]
    Limit {
        /// Which limit.
        limit: &'static str,
        /// Its value.
        max: usize,
    },
    /// The document is not well-formed XML, or uses a feature refused here.
    #[error("malformed XML at byte {position}: {reason}")]
    Malformed {
        /// Byte offset in the document, approximately where the problem was seen.
        position: usize,
        /// What was wrong.
        reason: String,
    },
}

/// A string in the document: either a slice of the source or of the side buffer holding text
/// that needed decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u32,
    /// Length, with the top bit set when the span points into the side buffer.
    len: u32,
}

const DECODED_BIT: u32 = 1 << 31;

/// The largest source a [`Span`] can address with room to spare: the side buffer holds at
/// most about as many bytes as the source, and both must stay under [`DECODED_BIT`].
/// Past this, offsets would be truncated and spans would point at the wrong text.
const MAX_SOURCE_BYTES: usize = 512 * 1024 * 1024;

impl Span {
    pub(crate) const EMPTY: Span = Span { start: 0, len: 0 };

    fn src(range: Range<usize>) -> Self {
        Span {
            start: range.start as u32,
            len: (range.end - range.start) as u32,
        }
    }

    fn decoded(range: Range<usize>) -> Self {
        Span {
            start: range.start as u32,
            len: (range.end - range.start) as u32 | DECODED_BIT,
        }
    }

    pub(crate) fn is_empty(self) -> bool {
        self.len & !DECODED_BIT == 0
    }

    /// The length of the string in bytes.
    pub(crate) fn len_bytes(self) -> usize {
        (self.len & !DECODED_BIT) as usize
    }

    /// Where the span lies in the source, if it is a source span.
    pub(crate) fn source_range(self) -> Option<Range<usize>> {
        (self.len & DECODED_BIT == 0).then(|| self.range())
    }

    fn range(self) -> Range<usize> {
        self.start as usize..self.start as usize + self.len_bytes()
    }

    /// The string the span names, in the source or the side buffer.
    fn resolve<'b>(self, src: &'b str, decoded: &'b str) -> &'b str {
        let buf = if self.len & DECODED_BIT != 0 {
            decoded
        } else {
            src
        };
        &buf[self.range()]
    }

    /// [`resolve`](Self::resolve) as bytes, without finding character boundaries again: for
    /// comparisons and canonical output.
    fn resolve_bytes<'b>(self, src: &'b str, decoded: &'b str) -> &'b [u8] {
        let buf = if self.len & DECODED_BIT != 0 {
            decoded
        } else {
            src
        };
        &buf.as_bytes()[self.range()]
    }
}

/// The identifier of a node in a [`Document`].
pub(crate) type NodeId = usize;

#[derive(Debug, Clone, Copy)]
pub(crate) struct NsDecl {
    /// Empty for the default namespace.
    pub(crate) prefix: Span,
    pub(crate) uri: Span,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Attr {
    pub(crate) prefix: Span,
    pub(crate) local: Span,
    /// The namespace URI, empty for an unprefixed attribute.
    pub(crate) ns: Span,
    pub(crate) value: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub(crate) prefix: Span,
    pub(crate) local: Span,
    /// The namespace URI, empty when the element is in no namespace.
    pub(crate) ns: Span,
    pub(crate) attrs: Range<u32>,
    pub(crate) ns_decls: Range<u32>,
}

impl Element {
    /// The length in bytes of the name as written, `prefix:local` or `local`.
    pub(crate) fn qname_len(&self) -> usize {
        match self.prefix.len_bytes() {
            0 => self.local.len_bytes(),
            p => p + 1 + self.local.len_bytes(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Element(Element),
    Text(Span),
    Comment(Span),
    Pi { target: Span, data: Span },
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) kind: NodeKind,
    /// The parent element; the root points at itself.
    pub(crate) parent: NodeId,
    /// One past the last node of this node's subtree.
    pub(crate) end: NodeId,
    /// Byte offsets of the node in the source: start, end of the start tag, end; only
    /// maintained for elements.
    pub(crate) src_range: (u32, u32, u32),
    /// What canonicalization may copy from the source as written ([`START_AS_CANONICAL`],
    /// [`END_AS_CANONICAL`]) and whether the attributes are in canonical order
    /// ([`ATTRS_IN_ORDER`]); only set for elements, by the parser of record.
    pub(crate) shape: u8,
}

/// The start tag reads exactly as Canonical XML writes it, but for the namespace declarations
/// canonicalization renders on it, which go right after the name: `<`, the name, each
/// attribute as ` name="value"` in canonical order with a value that needed no decoding (so
/// none that canonicalization escapes), then `>`; and the element declares no namespace.
pub(crate) const START_AS_CANONICAL: u8 = 1;
/// The end tag reads `</name>`, with no white space before its `>`.
pub(crate) const END_AS_CANONICAL: u8 = 2;
/// The attributes are in canonical order (by namespace URI, then local name).
pub(crate) const ATTRS_IN_ORDER: u8 = 4;

/// A parsed, immutable XML document.
#[derive(Debug)]
pub(crate) struct Document {
    src: String,
    decoded: String,
    nodes: Vec<Node>,
    attrs: Vec<Attr>,
    ns_decls: Vec<NsDecl>,
}

impl Document {
    /// Parses `src` (without a byte order mark) under `limits`.
    pub(crate) fn parse(src: String, limits: &XmlLimits) -> Result<Document, XmlError> {
        if src.len() > MAX_SOURCE_BYTES {
            return Err(XmlError::Limit {
                limit: "document size in bytes",
                max: MAX_SOURCE_BYTES,
            });
        }
        let p = Parser::new(&src, limits).run()?;
        let (decoded, nodes, attrs, ns_decls) = (p.decoded, p.nodes, p.attrs, p.ns_decls);
        Ok(Document {
            src,
            decoded,
            nodes,
            attrs,
            ns_decls,
        })
    }

    pub(crate) fn str(&self, span: Span) -> &str {
        span.resolve(&self.src, &self.decoded)
    }

    /// The bytes of `span`: what [`str`](Self::str) returns without finding character
    /// boundaries again, for comparisons and canonical output.
    #[inline]
    pub(crate) fn bytes(&self, span: Span) -> &[u8] {
        span.resolve_bytes(&self.src, &self.decoded)
    }

    /// The root element.
    pub(crate) fn root(&self) -> NodeId {
        0
    }

    /// The source text.
    pub(crate) fn source(&self) -> &str {
        &self.src
    }

    /// The byte range of element `id` in [`source`](Self::source).
    pub(crate) fn source_range(&self, id: NodeId) -> Range<usize> {
        let (a, _, b) = self.nodes[id].src_range;
        a as usize..b as usize
    }

    /// The byte offset just past the start tag of element `id`.
    pub(crate) fn start_tag_end(&self, id: NodeId) -> usize {
        self.nodes[id].src_range.1 as usize
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub(crate) fn element(&self, id: NodeId) -> Option<&Element> {
        match &self.nodes[id].kind {
            NodeKind::Element(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn parent(&self, id: NodeId) -> Option<NodeId> {
        let p = self.nodes[id].parent;
        (p != id).then_some(p)
    }

    pub(crate) fn attrs(&self, e: &Element) -> &[Attr] {
        &self.attrs[e.attrs.start as usize..e.attrs.end as usize]
    }

    pub(crate) fn ns_decls(&self, e: &Element) -> &[NsDecl] {
        &self.ns_decls[e.ns_decls.start as usize..e.ns_decls.end as usize]
    }

    /// Whether `id` is an element with this namespace and local name.
    pub(crate) fn is(&self, id: NodeId, ns: &str, local: &str) -> bool {
        self.element(id).is_some_and(|e| {
            self.bytes(e.local) == local.as_bytes() && self.bytes(e.ns) == ns.as_bytes()
        })
    }

    pub(crate) fn local_name(&self, id: NodeId) -> &str {
        self.element(id).map_or("", |e| self.str(e.local))
    }

    pub(crate) fn qname(&self, id: NodeId) -> String {
        match self.element(id) {
            Some(e) if e.prefix.is_empty() => self.str(e.local).to_owned(),
            Some(e) => format!("{}:{}", self.str(e.prefix), self.str(e.local)),
            None => String::new(),
        }
    }

    /// The value of the attribute with no namespace and this local name.
    pub(crate) fn attr(&self, id: NodeId, local: &str) -> Option<&str> {
        let e = self.element(id)?;
        self.attrs(e)
            .iter()
            .find(|a| a.ns.is_empty() && self.bytes(a.local) == local.as_bytes())
            .map(|a| self.str(a.value))
    }

    /// Every attribute of every element, in document order.
    pub(crate) fn all_attrs(&self) -> &[Attr] {
        &self.attrs
    }

    /// Whether `node` is `ancestor` or lies inside its subtree.
    pub(crate) fn is_inside(&self, node: NodeId, ancestor: NodeId) -> bool {
        node >= ancestor && node < self.nodes[ancestor].end
    }

    /// Children of `id`, in order.
    pub(crate) fn children(&self, id: NodeId) -> Children<'_> {
        Children {
            doc: self,
            next: id + 1,
            end: self.nodes[id].end,
        }
    }

    /// Element children of `id`, in order.
    pub(crate) fn child_elements(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.children(id)
            .filter(|&c| matches!(self.nodes[c].kind, NodeKind::Element(_)))
    }

    /// Element children with this namespace and local name.
    pub(crate) fn children_named<'a>(
        &'a self,
        id: NodeId,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = NodeId> + 'a {
        let mut is = self.matcher(ns, local);
        self.child_elements(id).filter(move |&c| is(c))
    }

    /// A test of "is an element with this namespace and local name" for many elements in
    /// turn. Elements bound by one declaration share its span, so the namespace is compared
    /// once per span met rather than once per element.
    fn matcher<'a>(&'a self, ns: &'a str, local: &'a str) -> impl FnMut(NodeId) -> bool + 'a {
        let mut last: Option<(Span, bool)> = None;
        move |c| {
            let Some(e) = self.element(c) else {
                return false;
            };
            if self.bytes(e.local) != local.as_bytes() {
                return false;
            }
            match last {
                Some((span, same)) if span == e.ns => same,
                _ => {
                    let same = self.bytes(e.ns) == ns.as_bytes();
                    last = Some((e.ns, same));
                    same
                }
            }
        }
    }

    /// Descendant elements (not `id` itself) with this namespace and local name.
    pub(crate) fn descendants_named<'a>(
        &'a self,
        id: NodeId,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = NodeId> + 'a {
        let mut is = self.matcher(ns, local);
        (id + 1..self.nodes[id].end).filter(move |&c| is(c))
    }

    /// The concatenation of every text node below `id`, in document order. Comments and
    /// processing instructions contribute nothing and split nothing, so a value cannot be
    /// truncated by inserting one.
    pub(crate) fn text_content(&self, id: NodeId) -> String {
        let mut out = String::with_capacity(self.text_content_len(id));
        self.push_text_content(id, &mut out);
        out
    }

    /// [`text_content`](Self::text_content), appended to `out`.
    pub(crate) fn push_text_content(&self, id: NodeId, out: &mut String) {
        for n in id..self.nodes[id].end {
            if let NodeKind::Text(t) = self.nodes[n].kind {
                out.push_str(self.str(t));
            }
        }
    }

    /// The length in bytes of [`text_content`](Self::text_content).
    pub(crate) fn text_content_len(&self, id: NodeId) -> usize {
        (id..self.nodes[id].end)
            .map(|n| match self.nodes[n].kind {
                NodeKind::Text(t) => t.len_bytes(),
                _ => 0,
            })
            .sum()
    }

    /// Whether `id` has element children.
    pub(crate) fn has_child_elements(&self, id: NodeId) -> bool {
        self.child_elements(id).next().is_some()
    }
}

/// Iterator over the children of a node.
pub(crate) struct Children<'a> {
    doc: &'a Document,
    next: NodeId,
    end: NodeId,
}

impl Iterator for Children<'_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.next >= self.end {
            return None;
        }
        let id = self.next;
        self.next = self.doc.nodes[id].end;
        Some(id)
    }
}

/// Text being accumulated between two markup events: the tokenizer splits text at
/// references and CDATA sections, but the tree keeps one text node per run of character data.
enum PendingText {
    None,
    /// One slice of the source that needed no decoding.
    Borrowed(Span),
    /// Decoded text in the side buffer, starting at this offset.
    Decoded(usize),
}

struct Parser<'a> {
    src: &'a str,
    limits: &'a XmlLimits,
    decoded: String,
    nodes: Vec<Node>,
    attrs: Vec<Attr>,
    ns_decls: Vec<NsDecl>,
    /// Open elements.
    stack: Vec<NodeId>,
    /// Namespace bindings in scope, innermost last: (prefix, uri).
    ns_stack: Vec<(Span, Span)>,
    /// Length of `ns_stack` when each open element was entered.
    ns_marks: Vec<usize>,
    pending: PendingText,
    root_done: bool,
    seen_markup: bool,
    /// Attributes of the element being opened, before their prefixes are resolved; kept
    /// between elements to reuse its allocation.
    scratch_attrs: Vec<(Span, Span, Span)>,
    /// Where the XML namespace URI is stored, once some `xml:` attribute needed it.
    xml_ns: Option<Span>,
    /// The length the start tag just opened has if written as Canonical XML writes it, when
    /// all else about it is (see [`START_AS_CANONICAL`]).
    canonical_tag_len: Option<usize>,
}

/// The most bytes of a malformed-document reason: the reasons quote names and values of the
/// document, which an attacker sizes.
const MAX_REASON_BYTES: usize = 256;

fn malformed(position: usize, reason: impl Into<String>) -> XmlError {
    let mut reason = reason.into();
    if reason.len() > MAX_REASON_BYTES {
        let mut end = MAX_REASON_BYTES;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push('…');
    }
    XmlError::Malformed { position, reason }
}

/// XML 1.0 `Char`, for characters that arrive through character references. The raw
/// document is checked separately and faster by [`check_document_chars`].
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Refuses characters XML 1.0 does not allow anywhere (C0 controls other than tab, line
/// feed and carriage return; U+FFFE and U+FFFF).
fn check_document_chars(src: &str) -> Result<(), XmlError> {
    let bytes = src.as_bytes();
    let allowed = |b: u8| b >= 0x20 || b == b'\t' || b == b'\n' || b == b'\r';
    // One branch-free pass over blocks (which the compiler vectorizes, the flags being bytes)
    // finds both a control character and an 0xEF byte, the first byte of U+FFFE and U+FFFF
    // (EF BF BE, EF BF BF) and of few other characters; only a block holding one is looked
    // at again.
    for (i, block) in bytes.chunks(64).enumerate() {
        let (bad, ef) = block.iter().fold((0u8, 0u8), |(bad, ef), &b| {
            let control = u8::from(b < 0x20)
                & u8::from(b != b'\t')
                & u8::from(b != b'\n')
                & u8::from(b != b'\r');
            (bad | control, ef | u8::from(b == 0xEF))
        });
        let (ok, ef) = (bad == 0, ef != 0);
        if !ok {
            let at = block.iter().position(|&b| !allowed(b)).unwrap_or(0);
            return Err(malformed(
                i * 64 + at,
                format!("control character U+{:04X}", block[at]),
            ));
        }
        if ef {
            for (j, _) in block.iter().enumerate().filter(|(_, b)| **b == 0xEF) {
                let at = i * 64 + j;
                // The two bytes after it may lie in the next block.
                if bytes.get(at + 1) == Some(&0xBF)
                    && matches!(bytes.get(at + 2), Some(0xBE | 0xBF))
                {
                    return Err(malformed(at, "non-character U+FFFE or U+FFFF"));
                }
            }
        }
    }
    Ok(())
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (!c.is_ascii() && c.is_alphabetic())
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || c.is_ascii_digit()
        || matches!(c, '-' | '.' | '\u{B7}')
        || (!c.is_ascii() && c.is_alphanumeric())
}

pub(crate) fn is_ncname(s: &str) -> bool {
    let b = s.as_bytes();
    // Almost every name in a SAML message is ASCII: check those bytes without decoding.
    if b.is_ascii() {
        return b
            .first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    }
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// Escapes text for element content or a double-quoted attribute value in XML this crate
/// writes. White space other than a space becomes a character reference, so attribute value
/// normalization leaves it as it was.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// The class of each byte in a name: 2 may start an NCName, 1 may continue one, 0 may
/// not appear in one (`:` separates prefix and local name).
const NAME_CLASS: [u8; 256] = {
    // Indexed by any byte, so that a lookup needs no bounds check; non-ASCII bytes are 0 and
    // names holding them are checked the long way.
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() || c == b'_' {
            2
        } else if c.is_ascii_digit() || c == b'-' || c == b'.' {
            1
        } else {
            0
        };
        b += 1;
    }
    t
};

/// Splits a qualified name into (prefix, local), checking both are NCNames. ASCII names,
/// nearly all of them, are checked in one table-driven pass.
fn split_qname(name: &str) -> Option<(&str, &str)> {
    let b = name.as_bytes();
    let mut colon = None;
    let mut at_start = true;
    for (i, &c) in b.iter().enumerate() {
        if c >= 0x80 {
            return split_qname_unicode(name);
        }
        match NAME_CLASS[c as usize] {
            2 => at_start = false,
            1 if !at_start => {}
            _ if c == b':' && colon.is_none() && !at_start => {
                colon = Some(i);
                at_start = true;
            }
            _ => return None,
        }
    }
    if at_start {
        return None;
    }
    Some(match colon {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => ("", name),
    })
}

/// [`split_qname`], trusting what the tokenizer already learnt of the name.
fn split_known(name: &str, split: NameSplit) -> Option<(&str, &str)> {
    match split {
        Some(Some(colon)) => Some((&name[..colon], &name[colon + 1..])),
        Some(None) => Some(("", name)),
        None => split_qname(name),
    }
}

fn split_qname_unicode(name: &str) -> Option<(&str, &str)> {
    match name.split_once(':') {
        Some((p, l)) if is_ncname(p) && is_ncname(l) => Some((p, l)),
        None if is_ncname(name) => Some(("", name)),
        _ => None,
    }
}

/// Resolves a predefined entity or character reference (the text between `&` and `;`).
fn resolve_reference(name: &str, position: usize) -> Result<char, XmlError> {
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let n = if let Some(hex) = name.strip_prefix("#x") {
                if hex.is_empty() || hex.len() > 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(malformed(
                        position,
                        format!("bad character reference &{name};"),
                    ));
                }
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                if dec.is_empty() || dec.len() > 7 || !dec.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(malformed(
                        position,
                        format!("bad character reference &{name};"),
                    ));
                }
                dec.parse::<u32>().ok()
            } else {
                return Err(malformed(
                    position,
                    format!("entity reference &{name}; is not one of the five predefined entities"),
                ));
            };
            match n.and_then(char::from_u32) {
                Some(c) if is_xml_char(c) => c,
                _ => {
                    return Err(malformed(
                        position,
                        format!("character reference &{name}; is not an XML character"),
                    ));
                }
            }
        }
    };
    Ok(c)
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, limits: &'a XmlLimits) -> Self {
        Self {
            src,
            limits,
            decoded: String::new(),
            nodes: Vec::new(),
            attrs: Vec::new(),
            ns_decls: Vec::new(),
            stack: Vec::new(),
            ns_stack: Vec::new(),
            ns_marks: Vec::new(),
            pending: PendingText::None,
            root_done: false,
            seen_markup: false,
            scratch_attrs: Vec::new(),
            xml_ns: None,
            canonical_tag_len: None,
        }
    }

    /// The span of `s`, which must be a slice of the source; text that is not (quick-xml
    /// returned an owned copy) is copied into the side buffer.
    fn span_of(&mut self, s: &str) -> Span {
        match self.source_offset(s) {
            Some(at) => Span::src(at..at + s.len()),
            None => self.push_decoded(s),
        }
    }

    /// Where `s` starts in the source, if it is a slice of it.
    fn source_offset(&self, s: &str) -> Option<usize> {
        let base = self.src.as_ptr() as usize;
        let p = s.as_ptr() as usize;
        (p >= base && p + s.len() <= base + self.src.len()).then(|| p - base)
    }

    fn push_decoded(&mut self, s: &str) -> Span {
        let start = self.decoded.len();
        self.decoded.push_str(s);
        Span::decoded(start..self.decoded.len())
    }

    fn str(&self, span: Span) -> &str {
        span.resolve(self.src, &self.decoded)
    }

    /// [`Document::bytes`] while parsing.
    #[inline]
    fn bytes(&self, span: Span) -> &[u8] {
        span.resolve_bytes(self.src, &self.decoded)
    }

    fn push_node(&mut self, kind: NodeKind) -> Result<NodeId, XmlError> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(XmlError::Limit {
                limit: "node count",
                max: self.limits.max_nodes,
            });
        }
        let id = self.nodes.len();
        let parent = self.stack.last().copied().unwrap_or(id);
        self.nodes.push(Node {
            kind,
            parent,
            end: id + 1,
            src_range: (0, 0, 0),
            shape: 0,
        });
        Ok(id)
    }

    fn lookup_ns(&self, prefix: &str) -> Option<Span> {
        self.ns_stack
            .iter()
            .rev()
            .find(|(p, _)| short_eq(self.bytes(*p), prefix.as_bytes()))
            .map(|(_, u)| *u)
    }

    /// Appends character data (already decoded, line ends normalised or not) to the pending
    /// text node.
    /// `raw` holds a carriage return if `cr`.
    fn add_text_piece(&mut self, raw: &str, cr: bool, position: usize) -> Result<(), XmlError> {
        if self.stack.is_empty() {
            if raw
                .bytes()
                .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            {
                return Ok(());
            }
            return Err(malformed(position, "text outside the root element"));
        }
        if matches!(self.pending, PendingText::None) && !cr {
            self.pending = PendingText::Borrowed(self.span_of(raw));
            return Ok(());
        }
        self.pending_to_decoded();
        push_normalised_eol(&mut self.decoded, raw);
        Ok(())
    }

    /// Moves the pending text into the side buffer, so that more can be appended to it.
    fn pending_to_decoded(&mut self) {
        match self.pending {
            PendingText::None => self.pending = PendingText::Decoded(self.decoded.len()),
            PendingText::Borrowed(span) => {
                let start = self.decoded.len();
                let text = self.str(span).to_owned();
                self.decoded.push_str(&text);
                self.pending = PendingText::Decoded(start);
            }
            PendingText::Decoded(_) => {}
        }
    }

    fn add_text_char(&mut self, c: char, position: usize) -> Result<(), XmlError> {
        if self.stack.is_empty() {
            return Err(malformed(position, "reference outside the root element"));
        }
        self.pending_to_decoded();
        self.decoded.push(c);
        Ok(())
    }

    fn flush_text(&mut self) -> Result<(), XmlError> {
        let span = match std::mem::replace(&mut self.pending, PendingText::None) {
            PendingText::None => return Ok(()),
            PendingText::Borrowed(span) => span,
            PendingText::Decoded(start) => Span::decoded(start..self.decoded.len()),
        };
        let id = self.push_node(NodeKind::Text(span))?;
        self.close_node(id);
        Ok(())
    }

    /// Records that node `id` (a leaf) is complete.
    fn close_node(&mut self, id: NodeId) {
        self.nodes[id].end = id + 1;
    }

    fn run(mut self) -> Result<Self, XmlError> {
        check_document_chars(self.src)?;
        let src = self.src;
        self.reserve_for(src);
        let mut tokens = Tokenizer::new(src);
        loop {
            let position = tokens.position();
            match tokens.next_token()? {
                Token::Decl { version, encoding } => {
                    self.declaration(version, encoding, position)?;
                }
                Token::Start(name, split) => {
                    self.flush_text()?;
                    let id = self.open_element(name, split, || tokens.attribute(), position)?;
                    let (empty, tag_end) = tokens.tag_end();
                    self.nodes[id].src_range.1 = tag_end as u32;
                    if !empty && self.canonical_tag_len == Some(tag_end - position) {
                        self.nodes[id].shape |= START_AS_CANONICAL;
                    }
                    if empty {
                        self.close_element(tag_end, None);
                    }
                }
                Token::End(end) => {
                    self.flush_text()?;
                    self.close_element(end, Some(end - position));
                }
                Token::Text(raw) => self.text(raw, position)?,
                Token::CData(raw) => self.cdata(raw, position)?,
                Token::Ref(name) => {
                    let c = resolve_reference(name, position)?;
                    self.add_text_char(c, position)?;
                }
                Token::Comment(raw) => self.comment(raw)?,
                Token::Pi { target, content } => self.pi(target, content, position)?,
                Token::Eof => break,
            }
            self.seen_markup = true;
        }
        self.finish()
    }

    /// The XML declaration: only at the start, version 1.0, UTF-8 if it names an encoding.
    fn declaration(
        &mut self,
        version: &str,
        encoding: Option<&str>,
        position: usize,
    ) -> Result<(), XmlError> {
        if self.seen_markup {
            return Err(malformed(position, "XML declaration not at the start"));
        }
        if version != "1.0" {
            return Err(malformed(
                position,
                format!("expected XML version 1.0, found {version:?}"),
            ));
        }
        if let Some(enc) = encoding
            && !enc.eq_ignore_ascii_case("utf-8")
        {
            return Err(malformed(
                position,
                format!("expected encoding UTF-8, found {enc:?}"),
            ));
        }
        Ok(())
    }

    fn text(&mut self, raw: &str, position: usize) -> Result<(), XmlError> {
        // One scan settles both questions for nearly all text: without a `>` there is no
        // `]]>`, and without a carriage return no line end to normalise.
        let (cr, gt) = match memchr::memchr2(b'>', b'\r', raw.as_bytes()) {
            None => (false, false),
            Some(_) => (raw.contains('\r'), raw.contains("]]>")),
        };
        if gt {
            return Err(malformed(position, "']]>' in text"));
        }
        self.add_text_piece(raw, cr, position)
    }

    fn cdata(&mut self, raw: &str, position: usize) -> Result<(), XmlError> {
        if self.stack.is_empty() {
            return Err(malformed(position, "CDATA outside the root element"));
        }
        self.add_text_piece(raw, raw.contains('\r'), position)
    }

    fn comment(&mut self, raw: &str) -> Result<(), XmlError> {
        self.flush_text()?;
        if !self.stack.is_empty() {
            let span = if raw.contains('\r') {
                let mut s = String::new();
                push_normalised_eol(&mut s, raw);
                self.push_decoded(&s)
            } else {
                self.span_of(raw)
            };
            let id = self.push_node(NodeKind::Comment(span))?;
            self.close_node(id);
        }
        Ok(())
    }

    fn pi(&mut self, target: &str, content: &str, position: usize) -> Result<(), XmlError> {
        self.flush_text()?;
        if target.eq_ignore_ascii_case("xml") {
            return Err(malformed(position, "XML declaration not at the start"));
        }
        if !is_ncname(target) {
            return Err(malformed(position, "bad processing instruction target"));
        }
        if !self.stack.is_empty() {
            let target = self.span_of(target);
            let content = content.trim_start_matches([' ', '\t', '\n', '\r']);
            let data = if content.contains('\r') {
                let mut s = String::new();
                push_normalised_eol(&mut s, content);
                self.push_decoded(&s)
            } else {
                self.span_of(content)
            };
            let id = self.push_node(NodeKind::Pi { target, data })?;
            self.close_node(id);
        }
        Ok(())
    }

    /// The checks at the end of the document.
    fn finish(self) -> Result<Self, XmlError> {
        if !self.stack.is_empty() {
            return Err(malformed(
                self.src.len(),
                "unclosed element at end of document",
            ));
        }
        if self.nodes.is_empty() {
            return Err(malformed(self.src.len(), "no root element"));
        }
        Ok(self)
    }

    /// Sizes the node and attribute arrays once from a count of `<` and `=`: on large
    /// documents a series of doubling reallocations (each a copy of the array so far) cost
    /// more than the parse itself. Every node other than text starts with `<`, and text is
    /// always followed by one, so the count of `<` is close to the node count of a SAML
    /// message; every attribute has its `=`. Both are capped by the input length, so markup
    /// stuffed with `<` or `=` (inside comments, say) cannot inflate the reservation beyond a
    /// few bytes per input byte; past the estimate the arrays simply grow.
    fn reserve_for(&mut self, src: &str) {
        // Byte-wide counters over short chunks, which the compiler vectorizes.
        let count = |c: u8| -> usize {
            src.as_bytes()
                .chunks(255)
                .map(|chunk| usize::from(chunk.iter().fold(0u8, |n, &b| n + u8::from(b == c))))
                .sum()
        };
        let (lt, eq) = (count(b'<'), count(b'='));
        let cap = src.len() / 16;
        self.nodes.reserve(lt.min(cap).min(self.limits.max_nodes));
        self.attrs.reserve(eq.min(cap));
    }

    /// Opens the element of a start tag named `qname`, whose raw attributes (name, value)
    /// `next_attr` yields; the element's id.
    fn open_element<'k>(
        &mut self,
        qname: &str,
        name_split: NameSplit,
        mut next_attr: impl FnMut() -> Result<Option<RawAttribute<'k>>, XmlError>,
        position: usize,
    ) -> Result<NodeId, XmlError> {
        if self.root_done {
            return Err(malformed(position, "content after the root element"));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmlError::Limit {
                limit: "element depth",
                max: self.limits.max_depth,
            });
        }
        let (prefix, local) = split_known(qname, name_split)
            .ok_or_else(|| malformed(position, format!("bad element name {qname:?}")))?;
        let (prefix, local) = (self.span_of(prefix), self.span_of(local));
        // `<name>`, then ` key="value"` per attribute: the tag's length if it is written the
        // canonical way; with each key after a space and each value before a double quote,
        // an equal length leaves no room for other white space or quoting.
        let mut canonical_len = Some(qname.len() + 2);

        self.ns_marks.push(self.ns_stack.len());
        let decl_start = self.ns_decls.len();
        // Attributes are read twice: namespace declarations first, because an attribute's
        // prefix may be declared after it on the same element.
        let mut raw_attrs = std::mem::take(&mut self.scratch_attrs);
        raw_attrs.clear();
        // Duplicates are checked below by expanded name (and by prefix for declarations).
        while let Some((key, key_split, raw_value)) = next_attr()? {
            let value = self.decode_attr_value(raw_value, position)?;
            canonical_len = canonical_len.and_then(|n| {
                let bytes = self.src.as_bytes();
                let key_at = self.source_offset(key)?;
                let value_end = self.source_offset(raw_value)? + raw_value.len();
                let written = key_at > 0
                    && bytes[key_at - 1] == b' '
                    && bytes.get(value_end) == Some(&b'"')
                    && value.source_range().is_some();
                written.then_some(n + key.len() + raw_value.len() + 4)
            });
            if key == "xmlns" || key.starts_with("xmlns:") {
                canonical_len = None;
                let prefix_str = key.strip_prefix("xmlns:").unwrap_or("");
                if key.starts_with("xmlns:") && !is_ncname(prefix_str) {
                    return Err(malformed(
                        position,
                        format!("bad namespace prefix {prefix_str:?}"),
                    ));
                }
                let uri = self.str(value);
                if prefix_str == "xmlns" || uri == XMLNS_NS {
                    return Err(malformed(
                        position,
                        "the xmlns prefix and namespace are reserved",
                    ));
                }
                if (prefix_str == "xml") != (uri == XML_NS) {
                    return Err(malformed(
                        position,
                        "the xml prefix is bound to the XML namespace only",
                    ));
                }
                if !prefix_str.is_empty() && uri.is_empty() {
                    return Err(malformed(
                        position,
                        format!("prefix {prefix_str:?} cannot be undeclared in XML 1.0"),
                    ));
                }
                if self.ns_decls.len() - decl_start
                    >= self.limits.max_namespace_declarations_per_element
                {
                    return Err(XmlError::Limit {
                        limit: "namespace declarations per element",
                        max: self.limits.max_namespace_declarations_per_element,
                    });
                }
                if self.ns_decls[decl_start..]
                    .iter()
                    .any(|d| self.str(d.prefix) == prefix_str)
                {
                    return Err(malformed(
                        position,
                        format!("namespace prefix {prefix_str:?} declared twice"),
                    ));
                }
                let p = self.span_of(prefix_str);
                if prefix_str == "xml" {
                    // Declaring xml is allowed but changes nothing; it is not rendered.
                    continue;
                }
                if self.ns_stack.len() >= self.limits.max_namespaces_in_scope {
                    return Err(XmlError::Limit {
                        limit: "namespace declarations in scope",
                        max: self.limits.max_namespaces_in_scope,
                    });
                }
                self.ns_decls.push(NsDecl {
                    prefix: p,
                    uri: value,
                });
                self.ns_stack.push((p, value));
            } else {
                if raw_attrs.len() >= self.limits.max_attributes_per_element {
                    return Err(XmlError::Limit {
                        limit: "attributes per element",
                        max: self.limits.max_attributes_per_element,
                    });
                }
                let (ap, al) = split_known(key, key_split)
                    .ok_or_else(|| malformed(position, format!("bad attribute name {key:?}")))?;
                raw_attrs.push((self.span_of(ap), self.span_of(al), value));
            }
        }
        let prefix_str = self.str(prefix);
        let ns = if prefix_str == "xml" {
            return Err(malformed(position, "elements cannot use the xml prefix"));
        } else {
            match self.lookup_ns(prefix_str) {
                Some(uri) => uri,
                None if prefix_str.is_empty() => Span::EMPTY,
                None => {
                    return Err(malformed(
                        position,
                        format!("unbound prefix {prefix_str:?}"),
                    ));
                }
            }
        };
        let attr_start = self.attrs.len();
        let mut in_order = true;
        for &(ap, al, value) in &raw_attrs {
            let ap_str = self.str(ap);
            let ans = if ap_str.is_empty() {
                Span::EMPTY
            } else if ap_str == "xml" {
                self.push_static_xml_ns()
            } else {
                self.lookup_ns(ap_str)
                    .ok_or_else(|| malformed(position, format!("unbound prefix {ap_str:?}")))?
            };
            let (ans_bytes, al_bytes) = (self.bytes(ans), self.bytes(al));
            if let Some(prev) = self.attrs[attr_start..].last() {
                in_order &= (self.bytes(prev.ns), self.bytes(prev.local)) < (ans_bytes, al_bytes);
            }
            if self.attrs[attr_start..]
                .iter()
                .any(|o| self.bytes(o.local) == al_bytes && self.bytes(o.ns) == ans_bytes)
            {
                return Err(malformed(
                    position,
                    format!("duplicate attribute {:?}", self.str(al)),
                ));
            }
            self.attrs.push(Attr {
                prefix: ap,
                local: al,
                ns: ans,
                value,
            });
        }
        self.scratch_attrs = raw_attrs;
        let element = Element {
            prefix,
            local,
            ns,
            attrs: attr_start as u32..self.attrs.len() as u32,
            ns_decls: decl_start as u32..self.ns_decls.len() as u32,
        };
        let id = self.push_node(NodeKind::Element(element))?;
        self.nodes[id].src_range.0 = position as u32;
        self.nodes[id].shape = if in_order { ATTRS_IN_ORDER } else { 0 };
        self.canonical_tag_len = canonical_len.filter(|_| in_order);
        self.stack.push(id);
        Ok(id)
    }

    /// A span holding the XML namespace URI, shared by every `xml:` attribute.
    fn push_static_xml_ns(&mut self) -> Span {
        if let Some(span) = self.xml_ns {
            return span;
        }
        let span = self.push_decoded(XML_NS);
        self.xml_ns = Some(span);
        span
    }

    /// Closes the innermost open element, whose end tag (if it has one, `end_tag_len` bytes
    /// long) ends at `src_end`.
    fn close_element(&mut self, src_end: usize, end_tag_len: Option<usize>) {
        if let Some(id) = self.stack.pop() {
            self.nodes[id].end = self.nodes.len();
            self.nodes[id].src_range.2 = src_end as u32;
            if let NodeKind::Element(e) = &self.nodes[id].kind
                && end_tag_len == Some(e.qname_len() + 3)
            {
                self.nodes[id].shape |= END_AS_CANONICAL;
            }
            if let Some(mark) = self.ns_marks.pop() {
                self.ns_stack.truncate(mark);
            }
            if self.stack.is_empty() {
                self.root_done = true;
            }
        }
    }

    /// Decodes an attribute value: references resolved, line ends normalised, and literal
    /// white space characters replaced by spaces as XML 1.0 §3.3.3 requires for CDATA
    /// attributes (all attributes are CDATA without a DTD).
    fn decode_attr_value(&mut self, raw: &str, position: usize) -> Result<Span, XmlError> {
        // One branch-free pass decides whether the value is used as written: no `<`, `&` or
        // white space other than a space (the only bytes below 0x20 the document may hold).
        if !raw
            .bytes()
            .fold(false, |hit, b| hit | (b < 0x20) | (b == b'&') | (b == b'<'))
        {
            return Ok(self.span_of(raw));
        }
        if raw.contains('<') {
            return Err(malformed(position, "'<' in an attribute value"));
        }
        let start = self.decoded.len();
        let mut rest = raw;
        while let Some(i) = rest.find(['&', '\t', '\n', '\r']) {
            self.decoded.push_str(&rest[..i]);
            let c = rest.as_bytes()[i];
            rest = &rest[i + 1..];
            match c {
                b'&' => {
                    let end = rest.find(';').ok_or_else(|| {
                        malformed(position, "unterminated reference in attribute")
                    })?;
                    let ch = resolve_reference(&rest[..end], position)?;
                    self.decoded.push(ch);
                    rest = &rest[end + 1..];
                }
                b'\r' => {
                    self.decoded.push(' ');
                    rest = rest.strip_prefix('\n').unwrap_or(rest);
                }
                _ => self.decoded.push(' '),
            }
        }
        self.decoded.push_str(rest);
        Ok(Span::decoded(start..self.decoded.len()))
    }
}

/// Whether two short strings (prefixes) are equal, compared in line: a call to `memcmp`
/// for a few bytes cost more than the comparison.
pub(crate) fn short_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Appends `raw` with `\r\n` and lone `\r` turned into `\n` (XML 1.0 §2.11).
fn push_normalised_eol(out: &mut String, raw: &str) {
    let mut rest = raw;
    while let Some(i) = rest.find('\r') {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = &rest[i + 1..];
        rest = rest.strip_prefix('\n').unwrap_or(rest);
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_characters_and_controls_are_refused_wherever_they_fall() {
        // At every offset, so that U+FFFE and U+FFFF also straddle the 64-byte blocks.
        for pad in 0..70 {
            for bad in ["\u{FFFE}", "\u{FFFF}", "\u{1}", "\u{1F}"] {
                let xml = format!("<a>{}{bad}</a>", "x".repeat(pad));
                assert!(
                    matches!(
                        Document::parse(xml.clone(), &XmlLimits::default()),
                        Err(XmlError::Malformed { .. })
                    ),
                    "{pad} {bad:?}"
                );
            }
            // Characters that start with 0xEF but are allowed.
            let fine = format!("<a>{}\u{FFFD}\u{F000}\u{FEFF}</a>", "x".repeat(pad));
            assert!(
                Document::parse(fine, &XmlLimits::default()).is_ok(),
                "{pad}"
            );
        }
    }

    fn parse(s: &str) -> Result<Document, XmlError> {
        Document::parse(s.to_owned(), &XmlLimits::default())
    }

    fn reason(r: Result<Document, XmlError>) -> String {
        match r {
            Err(XmlError::Malformed { reason, .. }) => reason,
            other => panic!("expected a malformed error, got {other:?}"),
        }
    }

    #[test]
    fn builds_a_preorder_tree_with_namespaces() {
        let d = parse(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<p:a xmlns:p="urn:p" xmlns="urn:d" x="1"><b p:y="2">t&amp;u<![CDATA[<v>]]></b><!--c--><?pi data?><c/></p:a>"#,
        )
        .unwrap();
        let root = d.root();
        assert!(d.is(root, "urn:p", "a"));
        assert_eq!(d.attr(root, "x"), Some("1"));
        let kids: Vec<_> = d.children(root).collect();
        assert_eq!(kids.len(), 4);
        let b = kids[0];
        assert!(d.is(b, "urn:d", "b"));
        assert_eq!(d.text_content(b), "t&u<v>");
        assert_eq!(d.children(b).count(), 1, "text pieces merge into one node");
        assert!(matches!(d.node(kids[1]).kind, NodeKind::Comment(_)));
        assert!(matches!(d.node(kids[2]).kind, NodeKind::Pi { .. }));
        assert!(d.is(kids[3], "urn:d", "c"));
        assert_eq!(d.parent(kids[3]), Some(root));
        assert_eq!(
            &d.source()[d.source_range(b)],
            "<b p:y=\"2\">t&amp;u<![CDATA[<v>]]></b>"
        );
        assert_eq!(&d.source()[d.source_range(kids[3])], "<c/>");
        let e = d.element(b).unwrap();
        let a = d.attrs(e)[0];
        assert_eq!(d.str(a.ns), "urn:p");
        assert_eq!(d.str(a.value), "2");
    }

    #[test]
    fn line_ends_and_attribute_whitespace_are_normalised() {
        let d = parse("<a x=\"1\r\n2\t3&#9;4\">l1\r\nl2\rl3&#13;</a>").unwrap();
        assert_eq!(d.attr(0, "x"), Some("1 2 3\t4"));
        assert_eq!(d.text_content(0), "l1\nl2\nl3\r");
    }

    #[test]
    fn refuses_dtds_and_entities() {
        assert_eq!(
            parse("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>").unwrap_err(),
            XmlError::Dtd
        );
        assert!(reason(parse("<a>&x;</a>")).contains("predefined"));
        assert!(reason(parse("<a b=\"&x;\"/>")).contains("predefined"));
        assert!(reason(parse("<a>&#0;</a>")).contains("character"));
        assert!(reason(parse("<a>&#xD800;</a>")).contains("character"));
    }

    #[test]
    fn refuses_bad_structure() {
        assert!(reason(parse("<a/><b/>")).contains("after the root"));
        assert!(reason(parse("<a/>x")).contains("outside the root"));
        assert!(!reason(parse("<a><b></a>")).is_empty());
        assert!(reason(parse("<a>")).contains("unclosed"));
        assert!(reason(parse("<p:a/>")).contains("unbound"));
        assert!(reason(parse("<a p:x=\"1\"/>")).contains("unbound"));
        assert!(!reason(parse("<a x=\"1\" x=\"2\"/>")).is_empty());
        assert!(
            reason(parse(
                "<a xmlns:p=\"urn:x\" xmlns:q=\"urn:x\" p:x=\"1\" q:x=\"2\"/>"
            ))
            .contains("duplicate")
        );
        assert!(reason(parse("<a xmlns:p=\"\"/>")).contains("undeclared"));
        assert!(reason(parse("<a xmlns:p=\"urn:1\" xmlns:p=\"urn:2\"/>")).contains("twice"));
        assert!(reason(parse("<a xmlns:=\"urn:1\"/>")).contains("prefix"));
        assert!(reason(parse("<a xmlns=\"urn:1\" xmlns=\"urn:1\"/>")).contains("twice"));
        assert!(reason(parse("<a x=\"1\" x=\"1\"/>")).contains("duplicate"));
        assert!(reason(parse("<a>\u{1}</a>")).contains("control"));
        assert!(!reason(parse("<a x=\"<\"/>")).is_empty());
        assert!(reason(parse("<a/><?xml version=\"1.0\"?>")).contains("declaration"));
        assert!(
            reason(parse("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>")).contains("UTF-8")
        );
        assert!(reason(parse("")).contains("no root"));
    }

    #[test]
    fn limits_are_enforced() {
        let deep = "<a>".repeat(70) + &"</a>".repeat(70);
        assert_eq!(
            parse(&deep).unwrap_err(),
            XmlError::Limit {
                limit: "element depth",
                max: 64
            }
        );
        let attrs: String = (0..65).map(|i| format!(" a{i}=\"\"")).collect();
        assert!(matches!(
            parse(&format!("<a{attrs}/>")).unwrap_err(),
            XmlError::Limit {
                limit: "attributes per element",
                ..
            }
        ));
        let decls: String = (0..20)
            .map(|i| format!(" xmlns:p{i}=\"urn:{i}\""))
            .collect();
        let nested = format!("{}{}", format!("<a{decls}>").repeat(7), "</a>".repeat(7));
        assert!(matches!(
            parse(&nested).unwrap_err(),
            XmlError::Limit {
                limit: "namespace declarations in scope",
                max: 128
            }
        ));
        let limits = XmlLimits {
            max_nodes: 10,
            ..XmlLimits::default()
        };
        let many = format!("<a>{}</a>", "<b/>".repeat(10));
        assert!(matches!(
            Document::parse(many, &limits).unwrap_err(),
            XmlError::Limit {
                limit: "node count",
                ..
            }
        ));
    }

    #[test]
    fn qualified_names_are_checked_in_ascii_and_beyond() {
        for ok in ["a", "saml:Assertion", "_x-1.2", "p:_", "été", "ns:名前"] {
            assert!(split_qname(ok).is_some(), "{ok}");
        }
        for bad in [
            "", ":", "a:", ":a", "a:b:c", "1a", "a:1b", "-a", "a b", "a\u{e9}:", "::",
        ] {
            assert!(split_qname(bad).is_none(), "{bad:?}");
        }
        assert_eq!(split_qname("saml:Assertion"), Some(("saml", "Assertion")));
        assert_eq!(split_qname("ID"), Some(("", "ID")));
    }

    #[test]
    fn xml_attributes_share_one_namespace_span() {
        // Each `xml:` attribute used to search the whole source for the XML namespace URI and,
        // not finding it, append another copy to the side buffer: quadratic time, about 12 s
        // of CPU for a 256 KiB document of such attributes.
        let attrs: String = (0..64).map(|i| format!(" xml:a{i}=\"\"")).collect();
        let d = parse(&format!("<r>{}</r>", format!("<b{attrs}/>").repeat(100))).unwrap();
        assert_eq!(d.decoded, XML_NS);
        let e = d.element(1).unwrap();
        assert!(d.attrs(e).iter().all(|a| d.str(a.ns) == XML_NS));
    }

    #[test]
    fn text_content_ignores_comments_and_pis() {
        let d = parse("<a>user@<!--x-->example.com<?p q?></a>").unwrap();
        assert_eq!(d.text_content(0), "user@example.com");
    }
    #[test]
    fn node_arrays_are_sized_once_and_markup_cannot_inflate_them() {
        // A SAML-shaped document fits in the first reservation: no regrowth.
        let attribute =
            r#"<s:Attribute Name="n"><s:AttributeValue t="x">v</s:AttributeValue></s:Attribute>"#;
        let src = format!(r#"<s:A xmlns:s="urn:s">{}</s:A>"#, attribute.repeat(500));
        let d = parse(&src).unwrap();
        let lt = src.bytes().filter(|&b| b == b'<').count();
        assert_eq!((d.nodes.len(), d.nodes.capacity()), (1_501, lt));
        assert_eq!(d.attrs.capacity(), 1_001);

        // `<` and `=` inside a comment count toward the estimate but the input length caps it.
        let src = format!("<a><!--{}--></a>", "<=".repeat(50_000));
        let d = parse(&src).unwrap();
        assert_eq!(d.nodes.len(), 2);
        assert!(d.nodes.capacity() <= src.len() / 16);
        assert!(d.attrs.capacity() <= src.len() / 16);
    }
    #[test]
    fn escaped_text_parses_back_to_itself_in_attributes_and_content() {
        let original = "a&b<c>d\"e'f\tg\nh\ri  j";
        let d = parse(&format!(
            r#"<r v="{}">{}</r>"#,
            escape(original),
            escape(original)
        ))
        .unwrap();
        assert_eq!(d.attr(0, "v"), Some(original));
        assert_eq!(d.text_content(0), original);
    }
}
