//! XML canonicalization: Exclusive XML Canonicalization 1.0 (with and without an
//! InclusiveNamespaces PrefixList) and Canonical XML 1.0, each with or without comments.
//!
//! Only the node sets XML-DSig produces for SAML are supported: a whole element subtree,
//! optionally minus one descendant subtree (the enveloped signature). Arbitrary XPath node
//! sets are not, which removes a whole class of signature-wrapping tricks.

use super::xml::{Document, NodeId, NodeKind, XML_NS, short_eq};

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
    let mut c = Canonicalizer {
        doc,
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
                c.in_scope.push((doc.str(d.prefix), doc.str(d.uri)));
            }
        }
    }
    let inherited_xml_attrs = if c.exclusive {
        Vec::new()
    } else {
        inherited_xml_attributes(doc, &ancestors)
    };
    c.node(apex, true, &inherited_xml_attrs);
}

/// The `xml:*` attributes of the apex's ancestors, nearest first, which Canonical XML 1.0
/// copies onto the apex element (§2.4).
fn inherited_xml_attributes<'d>(
    doc: &'d Document,
    ancestors: &[NodeId],
) -> Vec<(&'d str, &'d str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for &a in ancestors {
        if let Some(e) = doc.element(a) {
            for attr in doc.attrs(e) {
                if doc.str(attr.ns) == XML_NS {
                    let local = doc.str(attr.local);
                    if !out.iter().any(|(l, _)| *l == local) {
                        out.push((local, doc.str(attr.value)));
                    }
                }
            }
        }
    }
    out
}

struct Canonicalizer<'d, 'o, S: Sink> {
    doc: &'d Document,
    exclude: Option<NodeId>,
    with_comments: bool,
    exclusive: bool,
    inclusive_prefixes: &'o [String],
    /// Namespace bindings in scope in the document, innermost last.
    in_scope: Vec<(&'d str, &'d str)>,
    /// Namespace declarations rendered by output ancestors, innermost last.
    rendered: Vec<(&'d str, &'d str)>,
    attr_order: Vec<usize>,
    ns_out: Vec<(&'d str, &'d str)>,
    out: &'o mut S,
}

impl<'d, S: Sink> Canonicalizer<'d, '_, S> {
    fn lookup<'a>(stack: &'a [(&'d str, &'d str)], prefix: &str) -> Option<&'d str> {
        stack
            .iter()
            .rev()
            .find(|(p, _)| short_eq(p, prefix))
            .map(|(_, u)| *u)
    }

    fn node(&mut self, id: NodeId, is_apex: bool, inherited_xml: &[(&'d str, &'d str)]) {
        if Some(id) == self.exclude {
            return;
        }
        let doc = self.doc;
        match &doc.node(id).kind {
            NodeKind::Text(t) => escape_text(doc.str(*t), self.out),
            NodeKind::Comment(t) => {
                if self.with_comments {
                    self.out.put(b"<!--");
                    self.out.put(doc.str(*t).as_bytes());
                    self.out.put(b"-->");
                }
            }
            NodeKind::Pi { target, data } => {
                self.out.put(b"<?");
                self.out.put(doc.str(*target).as_bytes());
                let data = doc.str(*data);
                if !data.is_empty() {
                    self.out.put(b" ");
                    self.out.put(data.as_bytes());
                }
                self.out.put(b"?>");
            }
            NodeKind::Element(e) => {
                let in_scope_mark = self.in_scope.len();
                let rendered_mark = self.rendered.len();
                for d in doc.ns_decls(e) {
                    self.in_scope.push((doc.str(d.prefix), doc.str(d.uri)));
                }
                self.ns_out.clear();
                if self.exclusive {
                    self.exclusive_namespaces(e);
                } else {
                    self.inclusive_namespaces(e, is_apex);
                }
                self.ns_out.sort_unstable_by(|a, b| a.0.cmp(b.0));
                self.ns_out.dedup_by(|a, b| a.0 == b.0);

                let prefix = doc.str(e.prefix);
                let local = doc.str(e.local);
                self.out.put(b"<");
                if !prefix.is_empty() {
                    self.out.put(prefix.as_bytes());
                    self.out.put(b":");
                }
                self.out.put(local.as_bytes());
                let ns_out = std::mem::take(&mut self.ns_out);
                for &(p, uri) in &ns_out {
                    if p.is_empty() {
                        self.out.put(b" xmlns=\"");
                    } else {
                        self.out.put(b" xmlns:");
                        self.out.put(p.as_bytes());
                        self.out.put(b"=\"");
                    }
                    escape_attr(uri, self.out);
                    self.out.put(b"\"");
                    self.rendered.push((p, uri));
                }
                self.ns_out = ns_out;

                let attrs = doc.attrs(e);
                let mut order = std::mem::take(&mut self.attr_order);
                order.clear();
                order.extend(0..attrs.len());
                order.sort_unstable_by(|&a, &b| {
                    let (a, b) = (&attrs[a], &attrs[b]);
                    (doc.str(a.ns), doc.str(a.local)).cmp(&(doc.str(b.ns), doc.str(b.local)))
                });
                // Inherited xml:* attributes sort among the element's own by local name; the
                // XML namespace URI sorts after the empty namespace of unprefixed ones.
                let mut inherited: Vec<(&str, &str)> = inherited_xml
                    .iter()
                    .filter(|(l, _)| {
                        !attrs
                            .iter()
                            .any(|a| doc.str(a.ns) == XML_NS && doc.str(a.local) == *l)
                    })
                    .copied()
                    .collect();
                inherited.sort_unstable();
                let mut inh = inherited.iter().peekable();
                for &i in &order {
                    let a = &attrs[i];
                    let (ans, alocal) = (doc.str(a.ns), doc.str(a.local));
                    while let Some(&&(l, v)) = inh.peek() {
                        if (XML_NS, l) < (ans, alocal) {
                            self.write_attr("xml", l, v);
                            inh.next();
                        } else {
                            break;
                        }
                    }
                    self.write_attr(doc.str(a.prefix), alocal, doc.str(a.value));
                }
                for &(l, v) in inh {
                    self.write_attr("xml", l, v);
                }
                self.attr_order = order;
                self.out.put(b">");

                for child in doc.children(id) {
                    self.node(child, false, &[]);
                }

                self.out.put(b"</");
                if !prefix.is_empty() {
                    self.out.put(prefix.as_bytes());
                    self.out.put(b":");
                }
                self.out.put(local.as_bytes());
                self.out.put(b">");
                self.in_scope.truncate(in_scope_mark);
                self.rendered.truncate(rendered_mark);
            }
        }
    }

    fn write_attr(&mut self, prefix: &str, local: &str, value: &str) {
        self.out.put(b" ");
        if !prefix.is_empty() {
            self.out.put(prefix.as_bytes());
            self.out.put(b":");
        }
        self.out.put(local.as_bytes());
        self.out.put(b"=\"");
        escape_attr(value, self.out);
        self.out.put(b"\"");
    }

    /// Decides whether prefix `p` (empty: the default namespace) needs a declaration on this
    /// element, given the rendered declarations of output ancestors, and queues it.
    fn consider(&mut self, p: &'d str) {
        let uri = Self::lookup(&self.in_scope, p).unwrap_or("");
        let rendered = Self::lookup(&self.rendered, p);
        if p.is_empty() {
            // xmlns="" is only needed to undo a non-empty default rendered above.
            match (uri.is_empty(), rendered) {
                (true, None) | (true, Some("")) => {}
                (_, Some(r)) if r == uri => {}
                _ => self.ns_out.push((p, uri)),
            }
        } else if !uri.is_empty() && rendered != Some(uri) {
            self.ns_out.push((p, uri));
        }
    }

    fn exclusive_namespaces(&mut self, e: &super::xml::Element) {
        let doc = self.doc;
        self.consider(doc.str(e.prefix));
        for a in doc.attrs(e) {
            let p = doc.str(a.prefix);
            if !p.is_empty() && p != "xml" {
                self.consider(p);
            }
        }
        for i in 0..self.inclusive_prefixes.len() {
            // The prefix list borrows from the method, not the document; map it to the
            // document's own spelling of the prefix, which is what `in_scope` holds.
            let wanted = self.inclusive_prefixes[i].as_str();
            if let Some(&(p, _)) = self.in_scope.iter().rev().find(|(p, _)| *p == wanted) {
                self.consider(p);
            }
        }
    }

    fn inclusive_namespaces(&mut self, e: &super::xml::Element, is_apex: bool) {
        let doc = self.doc;
        if is_apex {
            // Every namespace in scope at the apex is rendered, nearest binding per prefix.
            let mut seen: Vec<&'d str> = Vec::new();
            for i in (0..self.in_scope.len()).rev() {
                let (p, _) = self.in_scope[i];
                if !seen.contains(&p) {
                    seen.push(p);
                    self.consider(p);
                }
            }
        } else {
            for d in doc.ns_decls(e) {
                self.consider(doc.str(d.prefix));
            }
        }
    }
}

fn escape_text<S: Sink>(s: &str, out: &mut S) {
    escape(s, out, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

fn escape_attr<S: Sink>(s: &str, out: &mut S) {
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

fn escape<S: Sink>(s: &str, out: &mut S, map: impl Fn(u8) -> Option<&'static [u8]>) {
    let bytes = s.as_bytes();
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
