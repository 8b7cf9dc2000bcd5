//! The tree built over quick-xml, the parser the crate used before its own tokenizer: the
//! oracle of the differential test and fuzz target. Only built with the hidden
//! `__xml-oracle` feature; never on the path of a message.

use std::fmt::Write as _;

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::{
    Document, MAX_SOURCE_BYTES, NodeKind, Parser, XmlError, XmlLimits, check_document_chars,
    malformed, resolve_reference,
};

impl Parser<'_> {
    /// [`Parser::run`] on quick-xml's events.
    fn run_quick_xml(mut self) -> Result<Self, XmlError> {
        check_document_chars(self.src)?;
        let mut reader = Reader::from_str(self.src);
        {
            let cfg = reader.config_mut();
            cfg.check_end_names = true;
            cfg.check_comments = true;
            cfg.allow_unmatched_ends = false;
            cfg.allow_dangling_amp = false;
            cfg.expand_empty_elements = false;
            cfg.trim_text_start = false;
            cfg.trim_text_end = false;
        }
        loop {
            let position = reader.buffer_position() as usize;
            let event = reader
                .read_event()
                .map_err(|e| malformed(reader.error_position() as usize, e.to_string()))?;
            match event {
                Event::Decl(decl) => {
                    let version = decl
                        .version()
                        .map_err(|e| malformed(position, e.to_string()))?;
                    let encoding = match decl.encoding() {
                        Some(e) => Some(e.map_err(|e| malformed(position, e.to_string()))?),
                        None => None,
                    };
                    self.declaration(&version, encoding.as_deref(), position)?;
                }
                Event::DocType(_) => return Err(XmlError::Dtd),
                Event::Start(ref start) | Event::Empty(ref start) => {
                    let empty = matches!(event, Event::Empty(_));
                    self.flush_text()?;
                    let mut attrs = Vec::new();
                    let mut iter = start.attributes();
                    iter.with_checks(false);
                    for attr in iter {
                        let attr = attr.map_err(|e| malformed(position, e.to_string()))?;
                        let key: &str = attr.key.as_ref();
                        attrs.push((key.to_owned(), attr.value.to_string()));
                    }
                    let mut attrs = attrs.iter();
                    let name = start.name();
                    let id = self.open_element(
                        name.as_ref(),
                        None,
                        || Ok(attrs.next().map(|(k, v)| (k.as_str(), None, v.as_str()))),
                        position,
                    )?;
                    let tag_end = reader.buffer_position() as usize;
                    self.nodes[id].src_range.1 = tag_end as u32;
                    if empty {
                        self.close_element(tag_end, None);
                    }
                }
                Event::End(_) => {
                    self.flush_text()?;
                    if self.stack.is_empty() {
                        return Err(malformed(position, "end tag without a start tag"));
                    }
                    self.close_element(reader.buffer_position() as usize, None);
                }
                Event::Text(text) => self.text(&text.into_inner(), position)?,
                Event::CData(cdata) => self.cdata(&cdata.into_inner(), position)?,
                Event::GeneralRef(r) => {
                    let c = resolve_reference(&r, position)?;
                    self.add_text_char(c, position)?;
                }
                Event::Comment(comment) => self.comment(&comment.into_inner())?,
                Event::PI(pi) => {
                    let content = pi.content();
                    self.pi(pi.target(), content, position)?;
                }
                Event::Eof => break,
            }
            self.seen_markup = true;
        }
        self.finish()
    }
}

/// A dump of the tree, to compare two builds of it: every node with its strings, its
/// subtree's end and its source offsets.
fn dump(doc: &Document) -> String {
    let mut out = String::new();
    for (id, node) in doc.nodes.iter().enumerate() {
        let _ = write!(out, "{id} parent {} end {} ", node.parent, node.end);
        match &node.kind {
            NodeKind::Element(e) => {
                let _ = write!(
                    out,
                    "element {:?}:{:?} in {:?} at {:?}",
                    doc.str(e.prefix),
                    doc.str(e.local),
                    doc.str(e.ns),
                    node.src_range
                );
                for d in doc.ns_decls(e) {
                    let _ = write!(out, " xmlns:{:?}={:?}", doc.str(d.prefix), doc.str(d.uri));
                }
                for a in doc.attrs(e) {
                    let _ = write!(
                        out,
                        " {:?}:{:?} in {:?} = {:?}",
                        doc.str(a.prefix),
                        doc.str(a.local),
                        doc.str(a.ns),
                        doc.str(a.value)
                    );
                }
            }
            NodeKind::Text(t) => {
                let _ = write!(out, "text {:?}", doc.str(*t));
            }
            NodeKind::Comment(t) => {
                let _ = write!(out, "comment {:?}", doc.str(*t));
            }
            NodeKind::Pi { target, data } => {
                let _ = write!(out, "pi {:?} {:?}", doc.str(*target), doc.str(*data));
            }
        }
        out.push('\n');
    }
    out
}

/// The refusals where XML 1.0 is with the tokenizer and quick-xml is lax: attributes with
/// no white space between them (§3.1 `S Attribute`), the XML declaration's pseudo-attributes
/// out of order, unknown or malformed (§2.8).
const STRICTER: &[&str] = &[
    "expected white space, '>' or '/>' in a tag",
    "bad XML declaration",
];

/// Parses `src` with the crate's tokenizer and with quick-xml: `Err` with both outcomes
/// when one accepts what the other refuses, or when they build different trees.
///
/// Where quick-xml is laxer than XML 1.0 (white space between attributes, the XML
/// declaration), the tokenizer's refusal stands.
pub fn differential(src: &str, limits: &XmlLimits) -> Result<(), String> {
    if src.len() > MAX_SOURCE_BYTES {
        return Ok(());
    }
    // quick-xml skips a byte order mark but counts its offsets from after it; both skip it
    // when it is gone.
    let src = src.strip_prefix('\u{FEFF}').unwrap_or(src);
    let ours = Parser::new(src, limits).run();
    let theirs = Parser::new(src, limits).run_quick_xml();
    let build = |p: Parser<'_>| Document {
        src: src.to_owned(),
        decoded: p.decoded,
        nodes: p.nodes,
        attrs: p.attrs,
        ns_decls: p.ns_decls,
    };
    match (ours, theirs) {
        (Ok(a), Ok(b)) => {
            let (a, b) = (dump(&build(a)), dump(&build(b)));
            if a == b {
                Ok(())
            } else {
                Err(format!("different trees:\nours:\n{a}\nquick-xml:\n{b}"))
            }
        }
        (Err(_), Err(_)) => Ok(()),
        (Ok(_), Err(e)) => Err(format!("accepted by ours, refused by quick-xml: {e}")),
        (Err(XmlError::Malformed { reason, .. }), Ok(_))
            if STRICTER.iter().any(|s| reason.starts_with(s)) =>
        {
            Ok(())
        }
        (Err(e), Ok(_)) => Err(format!("refused by ours ({e}), accepted by quick-xml")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::corpus::{SEED, corpus, mutations};
    use super::*;

    fn limits() -> XmlLimits {
        XmlLimits {
            max_nodes: 1_000_000,
            ..XmlLimits::default()
        }
    }

    /// The tokenizer builds the same tree as quick-xml from every document in the test data
    /// (standard interop, the official SDKs' fixtures, signature-wrapping attacks), and
    /// accepts and refuses the same mutations of them.
    #[test]
    fn the_tokenizer_agrees_with_quick_xml_on_the_corpus_and_its_mutations() {
        let corpus = corpus();
        assert!(corpus.len() > 60, "{}", corpus.len());
        let mut state = SEED;
        let mut refused = 0;
        for (name, text) in &corpus {
            if let Err(e) = differential(text, &limits()) {
                panic!("{name}: {e}");
            }
            for mutated in mutations(text, 150, &mut state) {
                if let Err(e) = differential(&mutated, &limits()) {
                    panic!("{name}, mutated:\n{mutated}\n{e}");
                }
                refused += usize::from(Document::parse(mutated, &limits()).is_err());
            }
        }
        // The mutations reach the refusals as well as the acceptances.
        assert!(refused > 1_000, "{refused}");
    }
}
