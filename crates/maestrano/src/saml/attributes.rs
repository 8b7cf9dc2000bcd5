//! The attributes of a verified assertion, kept in three allocations whatever their number:
//! one string holding every name and value back to back, and two index arrays. A typical
//! Maestrano login carries 15 attributes; an IdP may send thousands, and a `String` and a
//! `Vec` for each of them were an eighth of the validation of a large response.

use std::fmt;
use std::ops::Range;

/// The attributes of a [`VerifiedAssertion`](super::VerifiedAssertion): name → values, in
/// document order. Names are unique (validation refuses a repeated one).
///
/// ```
/// # fn show(assertion: &maestrano::saml::VerifiedAssertion) {
/// for attribute in assertion.attributes() {
///     let values: Vec<&str> = attribute.values().collect();
///     println!("{} = {values:?}", attribute.name());
/// }
/// let email = assertion.attributes().get("email").and_then(|a| a.first_value());
/// # let _ = email;
/// # }
/// ```
///
/// Its `Debug` output shows names and value counts, not values: Maestrano sends a bearer
/// session token (`mno_session`) among them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    /// Every name and value, back to back.
    text: String,
    /// Per attribute: its name in `text`, and its values as a range of `values`.
    entries: Vec<Entry>,
    /// Per value: its place in `text`.
    values: Vec<(u32, u32)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    name: (u32, u32),
    values: (u32, u32),
}

fn range((start, end): (u32, u32)) -> Range<usize> {
    start as usize..end as usize
}

/// A value that `count` values (the `i`th given by `value`) hold twice, found by sorting: no
/// hashing of attacker-chosen strings. Each value is sorted by its length and its last eight
/// bytes, read once into an integer, then by its bytes: names and IDs in one message often
/// share long prefixes and differ at the end (`group_name_1`, `group_name_2`), so nearly every
/// comparison is of two integers, where comparing the strings was a `memcmp` call each and 8%
/// of a 2,000-attribute validation. Equal values have equal keys, so they end up side by side.
pub(crate) fn first_repeated<'a>(
    count: usize,
    value: impl Fn(usize) -> &'a str,
) -> Option<&'a str> {
    let mut keyed: Vec<(u64, u32, u32)> = (0..count)
        .map(|i| {
            let b = value(i).as_bytes();
            let tail = b[b.len().saturating_sub(8)..]
                .iter()
                .fold(0u64, |k, &c| k << 8 | u64::from(c));
            // Lengths and indices are below the document size, which fits in 32 bits.
            (tail, b.len() as u32, i as u32)
        })
        .collect();
    keyed.sort_unstable_by(|a, b| {
        (a.1, a.0)
            .cmp(&(b.1, b.0))
            .then_with(|| value(a.2 as usize).cmp(value(b.2 as usize)))
    });
    keyed
        .windows(2)
        .map(|w| (value(w[0].2 as usize), value(w[1].2 as usize)))
        .find(|(a, b)| a == b)
        .map(|(a, _)| a)
}

impl Attributes {
    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The attributes in document order.
    pub fn iter(&self) -> AttributesIter<'_> {
        AttributesIter {
            set: self,
            entries: self.entries.iter(),
        }
    }

    /// A name two attributes share, if any.
    pub(crate) fn first_repeated_name(&self) -> Option<&str> {
        first_repeated(self.entries.len(), |i| {
            &self.text[range(self.entries[i].name)]
        })
    }

    /// The attribute named `name`, if the assertion has it.
    pub fn get(&self, name: &str) -> Option<Attribute<'_>> {
        self.iter().find(|a| a.name() == name)
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = Attribute<'a>;
    type IntoIter = AttributesIter<'a>;

    fn into_iter(self) -> AttributesIter<'a> {
        self.iter()
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|a| (a.name(), format!("{} value(s)", a.values().len()))),
            )
            .finish()
    }
}

/// One attribute of [`Attributes`]: its name and values.
#[derive(Clone, Copy)]
pub struct Attribute<'a> {
    set: &'a Attributes,
    entry: Entry,
}

impl<'a> Attribute<'a> {
    /// The attribute's `Name`.
    pub fn name(&self) -> &'a str {
        &self.set.text[range(self.entry.name)]
    }

    /// Its values (the text of each `AttributeValue`), in document order.
    pub fn values(&self) -> AttributeValues<'a> {
        AttributeValues {
            text: &self.set.text,
            values: self.set.values[range(self.entry.values)].iter(),
        }
    }

    /// Its first value.
    pub fn first_value(&self) -> Option<&'a str> {
        self.values().next()
    }
}

impl fmt::Debug for Attribute<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attribute")
            .field("name", &self.name())
            .field("values", &self.values().len())
            .finish()
    }
}

/// The attributes of [`Attributes`], in document order.
#[derive(Clone)]
pub struct AttributesIter<'a> {
    set: &'a Attributes,
    entries: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for AttributesIter<'a> {
    type Item = Attribute<'a>;

    fn next(&mut self) -> Option<Attribute<'a>> {
        let entry = *self.entries.next()?;
        Some(Attribute {
            set: self.set,
            entry,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl ExactSizeIterator for AttributesIter<'_> {}

impl fmt::Debug for AttributesIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_remaining(f, "AttributesIter", self.len())
    }
}

/// The `Debug` output of an iterator here: how many items remain, never their text.
fn debug_remaining(f: &mut fmt::Formatter<'_>, name: &str, remaining: usize) -> fmt::Result {
    f.debug_struct(name).field("remaining", &remaining).finish()
}

/// The values of one [`Attribute`], in document order.
#[derive(Clone)]
pub struct AttributeValues<'a> {
    text: &'a str,
    values: std::slice::Iter<'a, (u32, u32)>,
}

impl<'a> Iterator for AttributeValues<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        Some(&self.text[range(*self.values.next()?)])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.values.size_hint()
    }
}

impl DoubleEndedIterator for AttributeValues<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        Some(&self.text[range(*self.values.next_back()?)])
    }
}

impl ExactSizeIterator for AttributeValues<'_> {}

impl fmt::Debug for AttributeValues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_remaining(f, "AttributeValues", self.len())
    }
}

/// Builds [`Attributes`] one attribute at a time; the document's text is appended straight
/// into the shared string.
pub(crate) struct AttributesBuilder {
    set: Attributes,
}

impl AttributesBuilder {
    /// A builder whose arrays hold `attributes` and `values` without growing, and whose text
    /// holds `text_bytes`.
    pub(crate) fn with_capacity(attributes: usize, values: usize, text_bytes: usize) -> Self {
        Self {
            set: Attributes {
                text: String::with_capacity(text_bytes),
                entries: Vec::with_capacity(attributes),
                values: Vec::with_capacity(values),
            },
        }
    }

    fn offset(&self) -> u32 {
        // The text is a copy of parts of one document, whose size `Document::parse` caps
        // far below `u32::MAX`.
        u32::try_from(self.set.text.len()).unwrap_or(u32::MAX)
    }

    /// Starts an attribute named `name`; its values follow with [`value`](Self::value).
    pub(crate) fn attribute(&mut self, name: &str) {
        let start = self.offset();
        self.set.text.push_str(name);
        let first = self.set.values.len() as u32;
        self.set.entries.push(Entry {
            name: (start, self.offset()),
            values: (first, first),
        });
    }

    /// Adds a value to the current attribute, written by `write` into the shared text.
    pub(crate) fn value(&mut self, write: impl FnOnce(&mut String)) {
        let start = self.offset();
        write(&mut self.set.text);
        let end = self.offset();
        self.set.values.push((start, end));
        if let Some(last) = self.set.entries.last_mut() {
            last.values.1 = self.set.values.len() as u32;
        }
    }

    pub(crate) fn finish(self) -> Attributes {
        self.set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(attributes: &[(&str, &[&str])]) -> Attributes {
        let mut b = AttributesBuilder::with_capacity(0, 0, 0);
        for (name, values) in attributes {
            b.attribute(name);
            for v in *values {
                b.value(|s| s.push_str(v));
            }
        }
        b.finish()
    }

    #[test]
    fn names_and_values_come_back_in_document_order() {
        let a = build(&[("a", &["1", "2"]), ("b", &[]), ("", &[""]), ("c", &["3"])]);
        let listed: Vec<(&str, Vec<&str>)> =
            a.iter().map(|x| (x.name(), x.values().collect())).collect();
        assert_eq!(
            listed,
            [
                ("a", vec!["1", "2"]),
                ("b", vec![]),
                ("", vec![""]),
                ("c", vec!["3"])
            ]
        );
        assert_eq!(a.len(), 4);
        assert_eq!(a.get("a").unwrap().values().next_back(), Some("2"));
        assert_eq!(a.get("b").unwrap().first_value(), None);
        assert_eq!(a.get("c").unwrap().first_value(), Some("3"));
        assert!(a.get("d").is_none());
        assert!(build(&[]).is_empty());
    }

    /// Values whose sort keys collide (same length, same last eight bytes) are still told
    /// apart, and a repeat among them still found, whatever lies between its two places.
    #[test]
    fn repeats_are_found_when_sort_keys_collide() {
        let colliding = ["a_12345678", "b_12345678", "c_12345678"];
        assert_eq!(first_repeated(3, |i| colliding[i]), None);
        let repeated = [
            "a_12345678",
            "b_12345678",
            "c_12345678",
            "b_12345678",
            "a_1",
        ];
        assert_eq!(first_repeated(5, |i| repeated[i]), Some("b_12345678"));
        let set = build(&[
            ("x_12345678", &[]),
            ("y_12345678", &[]),
            ("x_12345678", &[]),
        ]);
        assert_eq!(set.first_repeated_name(), Some("x_12345678"));
        assert_eq!(build(&[("x", &[]), ("y", &[])]).first_repeated_name(), None);
    }

    #[test]
    fn debug_shows_names_and_counts_not_values() {
        let a = build(&[("mno_session", &["secret-token"])]);
        let shown = format!("{a:?} {:?}", a.get("mno_session").unwrap());
        assert!(shown.contains("mno_session") && shown.contains("1 value"));
        assert!(!shown.contains("secret-token"), "{shown}");
    }
}
