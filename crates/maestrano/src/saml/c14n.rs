//! XML canonicalization: Exclusive XML Canonicalization 1.0 (with and without an
//! InclusiveNamespaces PrefixList) and Canonical XML 1.0, each with or without comments.
//!
//! Only the node sets XML-DSig produces for SAML are supported: a whole element subtree,
//! optionally minus one descendant subtree (the enveloped signature). Arbitrary XPath node
//! sets are not, which removes a whole class of signature-wrapping tricks.

use std::ops::Range;

use super::xml::{
    ATTRS_IN_ORDER, Document, END_AS_CANONICAL, NodeId, NodeKind, START_AS_CANONICAL, XML_NS,
    short_eq,
};

/// A canonicalization algorithm, as named by its XML-DSig URI.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum C14nMethod {
    /// `http://www.w3.org/2001/10/xml-exc-c14n#` (and `#WithComments`).
    Exclusive {
        /// Keep comments.
        with_comments: bool,
        /// The InclusiveNamespaces PrefixList; `#default` is the default namespace, stored as
        /// the empty string.
        inclusive_prefixes: Vec<String>,
    },
    /// `http://www.w3.org/TR/2001/REC-xml-c14n-20010315` (and `#WithComments`).
    Inclusive {
        /// Keep comments.
        with_comments: bool,
    },
}

/// URI of exclusive canonicalization without comments.
pub(crate) const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// URI of exclusive canonicalization with comments.
pub(crate) const EXC_C14N_WITH_COMMENTS: &str =
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
/// URI of Canonical XML 1.0 without comments.
pub(crate) const C14N_10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
/// URI of Canonical XML 1.0 with comments.
pub(crate) const C14N_10_WITH_COMMENTS: &str =
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";

impl C14nMethod {
    /// The method named by `uri`, with an empty prefix list; `None` for any other URI.
    pub fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            EXC_C14N => Self::Exclusive {
                with_comments: false,
                inclusive_prefixes: Vec::new(),
            },
            EXC_C14N_WITH_COMMENTS => Self::Exclusive {
                with_comments: true,
                inclusive_prefixes: Vec::new(),
            },
            C14N_10 => Self::Inclusive {
                with_comments: false,
            },
            C14N_10_WITH_COMMENTS => Self::Inclusive {
                with_comments: true,
            },
            _ => return None,
        })
    }

    /// Whether the algorithm keeps comments.
    pub fn with_comments(&self) -> bool {
        match self {
            Self::Exclusive { with_comments, .. } | Self::Inclusive { with_comments } => {
                *with_comments
            }
        }
    }

    /// Whether this is an exclusive algorithm (the only kind that takes a PrefixList).
    pub fn is_exclusive(&self) -> bool {
        matches!(self, Self::Exclusive { .. })
    }
}

/// Where canonical bytes go: a buffer, or a digest fed as they are produced.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Canonicalizes the root element of `xml` (parsed with the same hardening as SAML messages)
/// with `method`: a debugging aid, and the entry point of the canonicalization fuzz target.
pub fn canonicalize_document(
    xml: &str,
    method: &C14nMethod,
    limits: &super::xml::XmlLimits,
) -> Result<Vec<u8>, super::SamlError> {
    let doc = Document::parse(xml.to_owned(), limits)?;
    let mut out = Vec::with_capacity(xml.len());
    canonicalize(
        &doc,
        doc.root(),
        None,
        method,
        method.with_comments(),
        &mut out,
    );
    Ok(out)
}

/// Whether canonicalizing `xml` with `method`, copying from the source what reads as
/// canonical there, gives the bytes writing everything from the tree gives (`true` when `xml`
/// does not parse): with each of the first 32 elements as the apex, whole and without its
/// first element child (as an enveloped signature is left out). The property the
/// canonicalization fuzz target checks.
pub fn copying_agrees_with_writing(
    xml: &str,
    method: &C14nMethod,
    limits: &super::xml::XmlLimits,
) -> bool {
    let Ok(doc) = Document::parse(xml.to_owned(), limits) else {
        return true;
    };
    let comments = method.with_comments();
    (0..doc.len())
        .filter(|&n| doc.element(n).is_some())
        .take(32)
        .all(|apex| {
            let first_child = doc.child_elements(apex).next();
            [None, first_child].into_iter().all(|exclude| {
                let (mut copied, mut written) = (Vec::new(), Vec::new());
                canonicalize_with(&doc, apex, exclude, method, comments, true, &mut copied);
                canonicalize_with(&doc, apex, exclude, method, comments, false, &mut written);
                copied == written
            })
        })
}

/// Writes the canonical form of the subtree rooted at `apex`, leaving out the subtree rooted
/// at `exclude` (the enveloped signature), if any.
///
/// `with_comments` decides whether comments are output; it is separate from the method
/// because a same-document reference (`URI="#id"`) removes comments from the node set even
/// when the algorithm would keep them.
pub(crate) fn canonicalize<S: Sink>(
    doc: &Document,
    apex: NodeId,
    exclude: Option<NodeId>,
    method: &C14nMethod,
    with_comments: bool,
    out: &mut S,
) {
    canonicalize_with(doc, apex, exclude, method, with_comments, true, out);
}

/// [`canonicalize`], copying from the source what already reads as canonical when
/// `copy_source` is set; without it every byte is written from the tree, which the tests
/// compare against.
fn canonicalize_with<S: Sink>(
    doc: &Document,
    apex: NodeId,
    exclude: Option<NodeId>,
    method: &C14nMethod,
    with_comments: bool,
    copy_source: bool,
    sink: &mut S,
) {
    let out = Coalescing {
        src: doc.source().as_bytes(),
        pending: 0..0,
        sink,
    };
    let mut c = Canonicalizer {
        doc,
        copy_source,
        exclude,
        with_comments,
        exclusive: method.is_exclusive(),
        inclusive_prefixes: match method {
            C14nMethod::Exclusive {
                inclusive_prefixes, ..
            } => inclusive_prefixes.as_slice(),
            C14nMethod::Inclusive { .. } => &[],
        },
        in_scope: Vec::new(),
        rendered: Vec::new(),
        attr_order: Vec::new(),
        ns_out: Vec::new(),
        tag: Vec::new(),
        out,
    };
    // Namespaces declared above the apex are in scope for it; they have not been rendered.
    let mut ancestors = Vec::new();
    let mut cur = doc.parent(apex);
    while let Some(a) = cur {
        ancestors.push(a);
        cur = doc.parent(a);
    }
    for &a in ancestors.iter().rev() {
        if let Some(e) = doc.element(a) {
            for d in doc.ns_decls(e) {
                c.in_scope.push((doc.bytes(d.prefix), doc.bytes(d.uri)));
            }
        }
    }
    let inherited_xml_attrs = if c.exclusive {
        Vec::new()
    } else {
        inherited_xml_attributes(doc, &ancestors)
    };
    c.node(apex, true, &inherited_xml_attrs);
    c.out.flush();
}

/// A sink in front of the real one that merges slices of the source that follow each other
/// there into one: a run of markup and text that already reads as canonical goes to the
/// digest in one piece, straight from the message.
struct Coalescing<'d, 'o, S: Sink> {
    src: &'d [u8],
    /// The source bytes waiting to be put.
    pending: Range<usize>,
    sink: &'o mut S,
}

impl<S: Sink> Coalescing<'_, '_, S> {
    /// Puts `range` of the source, after what is pending if it continues it.
    fn put_source(&mut self, range: Range<usize>) {
        if self.pending.end == range.start && !self.pending.is_empty() {
            self.pending.end = range.end;
        } else {
            self.flush();
            self.pending = range;
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.sink.put(&self.src[self.pending.clone()]);
            self.pending = 0..0;
        }
    }
}

impl<S: Sink> Sink for Coalescing<'_, '_, S> {
    fn put(&mut self, bytes: &[u8]) {
        self.flush();
        self.sink.put(bytes);
    }
}

/// The `xml:*` attributes of the apex's ancestors, nearest first, which Canonical XML 1.0
/// copies onto the apex element (§2.4).
fn inherited_xml_attributes<'d>(
    doc: &'d Document,
    ancestors: &[NodeId],
) -> Vec<(&'d [u8], &'d [u8])> {
    let mut out: Vec<(&[u8], &[u8])> = Vec::new();
    for &a in ancestors {
        if let Some(e) = doc.element(a) {
            for attr in doc.attrs(e) {
                if doc.bytes(attr.ns) == XML_NS.as_bytes() {
                    let local = doc.bytes(attr.local);
                    if !out.iter().any(|(l, _)| *l == local) {
                        out.push((local, doc.bytes(attr.value)));
                    }
                }
            }
        }
    }
    out
}

struct Canonicalizer<'d, 'o, S: Sink> {
    doc: &'d Document,
    /// Copy from the source what reads as canonical there.
    copy_source: bool,
    exclude: Option<NodeId>,
    with_comments: bool,
    exclusive: bool,
    inclusive_prefixes: &'o [String],
    /// Namespace bindings in scope in the document, innermost last.
    in_scope: Vec<(&'d [u8], &'d [u8])>,
    /// Namespace declarations rendered by output ancestors, innermost last.
    rendered: Vec<(&'d [u8], &'d [u8])>,
    attr_order: Vec<usize>,
    ns_out: Vec<(&'d [u8], &'d [u8])>,
    /// The start tag being assembled.
    tag: Vec<u8>,
    out: Coalescing<'d, 'o, S>,
}

impl<'d, S: Sink> Canonicalizer<'d, '_, S> {
    fn lookup<'a>(stack: &'a [(&'d [u8], &'d [u8])], prefix: &[u8]) -> Option<&'d [u8]> {
        stack
            .iter()
            .rev()
            .find(|(p, _)| short_eq(p, prefix))
            .map(|(_, u)| *u)
    }

    fn node(&mut self, id: NodeId, is_apex: bool, inherited_xml: &[(&'d [u8], &'d [u8])]) {
        if Some(id) == self.exclude {
            return;
        }
        let doc = self.doc;
        match &doc.node(id).kind {
            NodeKind::Text(t) => match t.source_range() {
                // Text straight from the source is its own canonical form when it holds
                // nothing canonicalization escapes. Character data outside CDATA can still
                // hold `>`; a CDATA section's content can hold `&` and `<` too, which the
                // source shows unescaped: copying those would let `<![CDATA[&amp;]]>` (the
                // text "&amp;") digest as the text "&".
                Some(r) if self.copy_source && !needs_text_escape(doc.bytes(*t)) => {
                    self.out.put_source(r)
                }
                _ => escape_text(doc.bytes(*t), &mut self.out),
            },
            NodeKind::Comment(t) => {
                if self.with_comments {
                    self.out.put(b"<!--");
                    self.out.put(doc.bytes(*t));
                    self.out.put(b"-->");
                }
            }
            NodeKind::Pi { target, data } => {
                self.out.put(b"<?");
                self.out.put(doc.bytes(*target));
                let data = doc.bytes(*data);
                if !data.is_empty() {
                    self.out.put(b" ");
                    self.out.put(data);
                }
                self.out.put(b"?>");
            }
            NodeKind::Element(e) => {
                let in_scope_mark = self.in_scope.len();
                let rendered_mark = self.rendered.len();
                for d in doc.ns_decls(e) {
                    self.in_scope.push((doc.bytes(d.prefix), doc.bytes(d.uri)));
                }
                self.ns_out.clear();
                if self.exclusive {
                    self.exclusive_namespaces(e);
                } else {
                    self.inclusive_namespaces(e, is_apex);
                }
                self.ns_out.sort_unstable_by(|a, b| a.0.cmp(b.0));
                self.ns_out.dedup_by(|a, b| a.0 == b.0);

                let prefix = doc.bytes(e.prefix);
                let local = doc.bytes(e.local);
                let node = doc.node(id);
                let (start, tag_end, end) = node.src_range;
                let (start, tag_end, end) = (start as usize, tag_end as usize, end as usize);
                if self.copy_source
                    && node.shape & START_AS_CANONICAL != 0
                    && inherited_xml.is_empty()
                {
                    if self.ns_out.is_empty() {
                        self.out.put_source(start..tag_end);
                    } else {
                        // The declarations canonicalization adds come first, right after the
                        // name; the attributes as written follow them.
                        let name_end = start + 1 + e.qname_len();
                        self.out.put_source(start..name_end);
                        self.put_assembled(|c, tag| c.namespace_declarations(tag));
                        self.out.put_source(name_end..tag_end);
                    }
                } else {
                    self.put_assembled(|c, tag| {
                        c.start_tag(e, node.shape, prefix, local, inherited_xml, tag);
                    });
                }

                for child in doc.children(id) {
                    self.node(child, false, &[]);
                }

                if self.copy_source && node.shape & END_AS_CANONICAL != 0 {
                    self.out.put_source(end - e.qname_len() - 3..end);
                } else {
                    self.out.put(b"</");
                    if !prefix.is_empty() {
                        self.out.put(prefix);
                        self.out.put(b":");
                    }
                    self.out.put(local);
                    self.out.put(b">");
                }
                self.in_scope.truncate(in_scope_mark);
                self.rendered.truncate(rendered_mark);
            }
        }
    }

    /// Puts what `build` appends to the reused tag buffer, in one piece: a tag is a dozen
    /// short pieces.
    fn put_assembled(&mut self, build: impl FnOnce(&mut Self, &mut Vec<u8>)) {
        let mut tag = std::mem::take(&mut self.tag);
        tag.clear();
        build(self, &mut tag);
        self.out.put(&tag);
        self.tag = tag;
    }

    /// Appends the start tag of `e` written from the tree to `tag`: name, the queued
    /// namespace declarations, the attributes in canonical order.
    fn start_tag(
        &mut self,
        e: &super::xml::Element,
        shape: u8,
        prefix: &'d [u8],
        local: &'d [u8],
        inherited_xml: &[(&'d [u8], &'d [u8])],
        tag: &mut Vec<u8>,
    ) {
        let doc = self.doc;
        tag.push(b'<');
        if !prefix.is_empty() {
            tag.extend_from_slice(prefix);
            tag.push(b':');
        }
        tag.extend_from_slice(local);
        self.namespace_declarations(tag);

        let attrs = doc.attrs(e);
        let mut order = std::mem::take(&mut self.attr_order);
        order.clear();
        order.extend(0..attrs.len());
        // The parser's word that they are in order is taken only along with the copying, so
        // that writing everything from the tree stays the independent reference.
        if !(self.copy_source && shape & ATTRS_IN_ORDER != 0) {
            order.sort_unstable_by(|&a, &b| {
                let (a, b) = (&attrs[a], &attrs[b]);
                (doc.bytes(a.ns), doc.bytes(a.local)).cmp(&(doc.bytes(b.ns), doc.bytes(b.local)))
            });
        }
        // Inherited xml:* attributes sort among the element's own by local name; the XML
        // namespace URI sorts after the empty namespace of unprefixed ones.
        let mut inherited: Vec<(&[u8], &[u8])> = inherited_xml
            .iter()
            .filter(|(l, _)| {
                !attrs
                    .iter()
                    .any(|a| doc.bytes(a.ns) == XML_NS.as_bytes() && doc.bytes(a.local) == *l)
            })
            .copied()
            .collect();
        inherited.sort_unstable();
        let mut inh = inherited.iter().peekable();
        for &i in &order {
            let a = &attrs[i];
            let (ans, alocal) = (doc.bytes(a.ns), doc.bytes(a.local));
            while let Some(&&(l, v)) = inh.peek() {
                if (XML_NS.as_bytes(), l) < (ans, alocal) {
                    write_attr(tag, b"xml", l, v);
                    inh.next();
                } else {
                    break;
                }
            }
            write_attr(tag, doc.bytes(a.prefix), alocal, doc.bytes(a.value));
        }
        for &(l, v) in inh {
            write_attr(tag, b"xml", l, v);
        }
        self.attr_order = order;
        tag.push(b'>');
    }

    /// Appends the queued namespace declarations to `tag`, and records them as rendered.
    fn namespace_declarations(&mut self, tag: &mut Vec<u8>) {
        for &(p, uri) in &self.ns_out {
            if p.is_empty() {
                tag.extend_from_slice(b" xmlns=\"");
            } else {
                tag.extend_from_slice(b" xmlns:");
                tag.extend_from_slice(p);
                tag.extend_from_slice(b"=\"");
            }
            escape_attr(uri, tag);
            tag.push(b'"');
            self.rendered.push((p, uri));
        }
    }

    /// Decides whether prefix `p` (empty: the default namespace) needs a declaration on this
    /// element, given the rendered declarations of output ancestors, and queues it.
    fn consider(&mut self, p: &'d [u8]) {
        let uri = Self::lookup(&self.in_scope, p).unwrap_or(b"");
        let rendered = Self::lookup(&self.rendered, p);
        if p.is_empty() {
            // xmlns="" is only needed to undo a non-empty default rendered above.
            match (uri.is_empty(), rendered) {
                (true, None) | (true, Some([])) => {}
                (_, Some(r)) if same(r, uri) => {}
                _ => self.ns_out.push((p, uri)),
            }
        } else if !uri.is_empty() && !rendered.is_some_and(|r| same(r, uri)) {
            self.ns_out.push((p, uri));
        }
    }

    fn exclusive_namespaces(&mut self, e: &super::xml::Element) {
        let doc = self.doc;
        self.consider(doc.bytes(e.prefix));
        for a in doc.attrs(e) {
            let p = doc.bytes(a.prefix);
            if !p.is_empty() && p != b"xml" {
                self.consider(p);
            }
        }
        for i in 0..self.inclusive_prefixes.len() {
            // The prefix list borrows from the method, not the document; map it to the
            // document's own spelling of the prefix, which is what `in_scope` holds.
            let wanted = self.inclusive_prefixes[i].as_str();
            if let Some(&(p, _)) = self
                .in_scope
                .iter()
                .rev()
                .find(|(p, _)| *p == wanted.as_bytes())
            {
                self.consider(p);
            }
        }
    }

    fn inclusive_namespaces(&mut self, e: &super::xml::Element, is_apex: bool) {
        let doc = self.doc;
        if is_apex {
            // Every namespace in scope at the apex is rendered, nearest binding per prefix.
            let mut seen: Vec<&'d [u8]> = Vec::new();
            for i in (0..self.in_scope.len()).rev() {
                let (p, _) = self.in_scope[i];
                if !seen.contains(&p) {
                    seen.push(p);
                    self.consider(p);
                }
            }
        } else {
            for d in doc.ns_decls(e) {
                self.consider(doc.bytes(d.prefix));
            }
        }
    }
}

/// Byte equality, answered without comparing when both are the same slice of the document:
/// a namespace rendered above is most often the very declaration in scope.
fn same(a: &[u8], b: &[u8]) -> bool {
    (std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()) || a == b
}

/// Appends ` prefix:local="value"` (no `prefix:` when it is empty), the value escaped.
fn write_attr(tag: &mut Vec<u8>, prefix: &[u8], local: &[u8], value: &[u8]) {
    tag.push(b' ');
    if !prefix.is_empty() {
        tag.extend_from_slice(prefix);
        tag.push(b':');
    }
    tag.extend_from_slice(local);
    tag.extend_from_slice(b"=\"");
    escape_attr(value, tag);
    tag.push(b'"');
}

/// Whether [`escape_text`] would change `s`.
fn needs_text_escape(s: &[u8]) -> bool {
    s.iter().fold(false, |hit, &b| {
        hit | matches!(b, b'&' | b'<' | b'>' | b'\r')
    })
}

fn escape_text<S: Sink>(s: &[u8], out: &mut S) {
    escape(s, out, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

fn escape_attr<S: Sink>(s: &[u8], out: &mut S) {
    escape(s, out, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

fn escape<S: Sink>(bytes: &[u8], out: &mut S, map: impl Fn(u8) -> Option<&'static [u8]>) {
    // Most values need no escaping at all: find that out with one branch-free pass.
    if bytes
        .iter()
        .fold(true, |clean, &b| clean & map(b).is_none())
    {
        out.put(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(rep) = map(b) {
            out.put(&bytes[start..i]);
            out.put(rep);
            start = i + 1;
        }
    }
    out.put(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::XmlLimits;
    use crate::saml::xml::Document;

    fn doc(s: &str) -> Document {
        Document::parse(s.to_owned(), &XmlLimits::default()).unwrap()
    }

    fn exc(d: &Document, apex: NodeId, prefixes: &[&str]) -> String {
        let m = C14nMethod::Exclusive {
            with_comments: false,
            inclusive_prefixes: prefixes.iter().map(|s| s.to_string()).collect(),
        };
        let mut out = Vec::new();
        canonicalize(d, apex, None, &m, false, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn inc(d: &Document, apex: NodeId) -> String {
        let mut out = Vec::new();
        canonicalize(
            d,
            apex,
            None,
            &C14nMethod::Inclusive {
                with_comments: false,
            },
            false,
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn exclusive_renders_only_visibly_used_namespaces() {
        let d = doc(
            r#"<r xmlns:a="urn:a" xmlns:b="urn:b" xmlns="urn:d"><a:x b:y="1" z="2"><c/></a:x></r>"#,
        );
        assert_eq!(
            exc(&d, 1, &[]),
            r#"<a:x xmlns:a="urn:a" xmlns:b="urn:b" z="2" b:y="1"><c xmlns="urn:d"></c></a:x>"#
        );
        assert_eq!(
            exc(&d, 1, &[""]),
            r#"<a:x xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b" z="2" b:y="1"><c></c></a:x>"#
        );
    }

    /// Counts the pieces put, to see the source being copied in runs.
    #[derive(Default)]
    struct Pieces {
        bytes: Vec<u8>,
        puts: usize,
    }

    impl Sink for Pieces {
        fn put(&mut self, bytes: &[u8]) {
            self.bytes.extend_from_slice(bytes);
            self.puts += 1;
        }
    }

    /// Copying what reads as canonical from the source writes the same bytes as writing
    /// everything from the tree: on every document of the test data and 60 mutations of
    /// each, at each of the first 30 elements as the apex (and without the first Signature below it), with
    /// each method. And it does copy: a third fewer pieces reach the digest
    /// even from these documents, most of which declare namespaces on many elements.
    #[test]
    fn copying_from_the_source_writes_what_the_tree_writes() {
        use crate::saml::xml::corpus::{SEED, corpus, mutations};
        let limits = XmlLimits {
            max_nodes: 1_000_000,
            ..XmlLimits::default()
        };
        let methods = [
            C14nMethod::from_uri(EXC_C14N).unwrap(),
            C14nMethod::from_uri(EXC_C14N_WITH_COMMENTS).unwrap(),
            C14nMethod::from_uri(C14N_10).unwrap(),
            C14nMethod::from_uri(C14N_10_WITH_COMMENTS).unwrap(),
            C14nMethod::Exclusive {
                with_comments: false,
                inclusive_prefixes: vec!["xs".into(), String::new()],
            },
        ];
        let (mut copied_puts, mut written_puts, mut documents) = (0, 0, 0);
        let mut state = SEED;
        for (name, text) in corpus() {
            for text in std::iter::once(text.clone()).chain(mutations(&text, 60, &mut state)) {
                let Ok(d) = Document::parse(text.clone(), &limits) else {
                    continue;
                };
                documents += 1;
                for apex in (0..d.len()).filter(|&n| d.element(n).is_some()).take(30) {
                    let signature =
                        (apex + 1..d.node(apex).end).find(|&n| d.local_name(n) == "Signature");
                    for exclude in [None, signature] {
                        for m in &methods {
                            let (mut copied, mut written) = (Pieces::default(), Pieces::default());
                            let comments = m.with_comments();
                            canonicalize_with(&d, apex, exclude, m, comments, true, &mut copied);
                            canonicalize_with(&d, apex, exclude, m, comments, false, &mut written);
                            assert!(
                                copied.bytes == written.bytes,
                                "{name}, apex {apex}, {m:?}:\n{}\n{}\n{text}",
                                String::from_utf8_lossy(&copied.bytes),
                                String::from_utf8_lossy(&written.bytes),
                            );
                            copied_puts += copied.puts;
                            written_puts += written.puts;
                        }
                    }
                }
            }
        }
        assert!(documents > 1_500, "{documents}");
        assert!(
            copied_puts * 3 < written_puts * 2,
            "{copied_puts} vs {written_puts}"
        );
    }

    /// What canonicalization escapes is never copied from the source: CDATA content shows
    /// `&`, `<` and `>` raw, character data `>`, and a single-quoted value may hold `"`.
    #[test]
    fn text_and_values_that_need_escaping_are_written_not_copied() {
        for (xml, canonical) in [
            ("<a><![CDATA[&amp;]]></a>", "<a>&amp;amp;</a>"),
            ("<a><![CDATA[x<y>z]]></a>", "<a>x&lt;y&gt;z</a>"),
            ("<a>x>y</a>", "<a>x&gt;y</a>"),
            ("<a>&amp;</a>", "<a>&amp;</a>"),
            ("<a b='\"'></a>", "<a b=\"&quot;\"></a>"),
            ("<a b=\"&#9;\"></a>", "<a b=\"&#x9;\"></a>"),
            ("<a b=\"1\"\tc=\"2\"></a>", "<a b=\"1\" c=\"2\"></a>"),
            ("<a c=\"2\" b=\"1\"></a>", "<a b=\"1\" c=\"2\"></a>"),
            ("<a b = \"1\"></a >", "<a b=\"1\"></a>"),
            ("<a/>", "<a></a>"),
        ] {
            assert_eq!(exc(&doc(xml), 0, &[]), canonical, "{xml}");
        }
    }

    #[test]
    fn inclusive_renders_every_namespace_in_scope_and_xml_attributes_at_the_apex() {
        let d = doc(r#"<r xmlns:a="urn:a" xml:lang="en"><s xmlns:b="urn:b"><t/></s></r>"#);
        assert_eq!(
            inc(&d, 1),
            r#"<s xmlns:a="urn:a" xmlns:b="urn:b" xml:lang="en"><t></t></s>"#
        );
    }

    #[test]
    fn attributes_sort_by_namespace_then_name_and_values_are_escaped() {
        let d = doc(
            "<e xmlns:z=\"urn:a\" xmlns:y=\"urn:b\" y:a=\"1\" z:b=\"2\" b=\"&lt;&amp;&quot;&#9;&#10;&#13;\" a=\"x\">&lt;&gt;&amp;&#13;</e>",
        );
        assert_eq!(
            exc(&d, 0, &[]),
            "<e xmlns:y=\"urn:b\" xmlns:z=\"urn:a\" a=\"x\" b=\"&lt;&amp;&quot;&#x9;&#xA;&#xD;\" z:b=\"2\" y:a=\"1\">&lt;&gt;&amp;&#xD;</e>"
        );
    }

    #[test]
    fn excluded_subtree_and_comments() {
        let d = doc("<a><!--c--><s><t/></s><?p  d?>x</a>");
        let m = C14nMethod::Exclusive {
            with_comments: true,
            inclusive_prefixes: vec![],
        };
        let mut out = Vec::new();
        canonicalize(&d, 0, Some(2), &m, true, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "<a><!--c--><?p d?>x</a>");
        let mut out = Vec::new();
        canonicalize(&d, 0, None, &m, false, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<a><s><t></t></s><?p d?>x</a>"
        );
    }

    #[test]
    fn default_namespace_is_undone_with_an_empty_declaration() {
        let d = doc(r#"<a xmlns="urn:d"><b xmlns=""><c/></b></a>"#);
        assert_eq!(
            exc(&d, 0, &[]),
            r#"<a xmlns="urn:d"><b xmlns=""><c></c></b></a>"#
        );
        assert_eq!(exc(&d, 1, &[]), r#"<b><c></c></b>"#);
        assert_eq!(inc(&d, 1), r#"<b><c></c></b>"#);
    }
}

/// Known-answer tests from libxml2's canonicalization suite
/// (`tests/data/saml/libxml2-c14n/C14N.tsv`), which must match byte for byte.
#[cfg(test)]
mod libxml2_known_answers {
    use super::*;
    use crate::saml::XmlLimits;
    use crate::saml::xml::Document;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/saml/libxml2-c14n/");

    fn read(rel: &str) -> String {
        std::fs::read_to_string(format!("{DIR}{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// The selections in the suite are all "the subtree of the first element named X".
    fn apex_named(doc: &Document, local: &str) -> NodeId {
        (0..doc.len())
            .find(|&n| doc.local_name(n) == local)
            .unwrap_or_else(|| panic!("no element {local}"))
    }

    #[test]
    fn every_case_matches_byte_for_byte() {
        let tsv = read("C14N.tsv");
        let mut ran = 0;
        for line in tsv.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            let (case, input, expected_file, algorithm, prefix_list) =
                (cols[0], cols[1], cols[3], cols[7], cols[8]);
            let mut input = read(input);
            let mut expected = read(expected_file);
            if input.contains("<!DOCTYPE") {
                // Our parser refuses DTDs; the suite documents how to run these cases
                // without one: drop the DOCTYPE and what it contributed.
                let start = input.find("<!DOCTYPE").unwrap();
                let end = input[start..].find("]>").unwrap() + start + 2;
                input.replace_range(start..end, "");
                expected = expected.replace(" attr=\"default\"", "");
                if case == "example-4" {
                    expected = expected.replace(
                        "<normId id=\"' &#xD;&#xA;&#x9; '\">",
                        "<normId id=\" '    &#xD;&#xA;&#x9;   ' \">",
                    );
                }
            }
            let doc = Document::parse(input, &XmlLimits::default()).unwrap();
            let apex = match case {
                "test-2" => apex_named(&doc, "SignedInfo"),
                "merlin-c14n-two-09" | "merlin-c14n-two-18" => apex_named(&doc, "Something"),
                "test-0" | "test-1" => apex_named(&doc, "e6"),
                _ => doc.root(),
            };
            let prefixes: Vec<String> = match prefix_list {
                "none" => Vec::new(),
                list => list
                    .split_whitespace()
                    .map(|p| {
                        if p == "#default" {
                            String::new()
                        } else {
                            p.to_owned()
                        }
                    })
                    .collect(),
            };
            let method = if algorithm.starts_with("exclusive") {
                C14nMethod::Exclusive {
                    with_comments: false,
                    inclusive_prefixes: prefixes,
                }
            } else {
                C14nMethod::Inclusive {
                    with_comments: false,
                }
            };
            let mut out = Vec::new();
            canonicalize(&doc, apex, None, &method, false, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                expected,
                "case {case} ({algorithm})"
            );
            ran += 1;
        }
        assert_eq!(ran, 7, "every row of C14N.tsv ran");
    }
}
