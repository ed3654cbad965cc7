//! From raw bytes to a map of field name → raw JSON text, or a [`Rejection::Malformed`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::Rejection;

/// The top-level fields of a JSON object, each kept as its raw text so that numbers are never
/// read as `f64`. Names and values borrow from the body (a name is copied only when it holds
/// an escape), so reading a signal's fields allocates almost nothing.
pub(super) struct Body<'a> {
    /// Field name → raw value. When a name repeats, the first occurrence is kept.
    pub fields: BTreeMap<Cow<'a, str>, &'a RawValue>,
    /// Names that occurred more than once (each listed once).
    pub duplicates: Vec<String>,
}

/// Reads `bytes` as one JSON object.
pub(super) fn read(bytes: &[u8]) -> Result<Body<'_>, Rejection> {
    let malformed = |why: String| Rejection::Malformed(why);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| malformed(format!("body is not valid UTF-8: {e}")))?;
    let start = text.trim_start();
    if start.is_empty() {
        return Err(malformed("body is empty".into()));
    }
    if !start.starts_with('{') {
        // Not an object: say what it is, or why it is not JSON at all.
        let whole: &RawValue =
            serde_json::from_str(text).map_err(|e| malformed(format!("invalid JSON: {e}")))?;
        return Err(malformed(format!(
            "expected a JSON object, got {}",
            JsonType::of(whole).described()
        )));
    }
    // One pass on the way every valid signal takes. On an error, the whole body is read again
    // as plain JSON so that the message is serde_json's for the document (a trailing comma is
    // "key must be a string"), not the one the map reader would give.
    serde_json::from_str(text).map_err(|e| {
        let why = serde_json::from_str::<&RawValue>(text).err().unwrap_or(e);
        malformed(format!("invalid JSON: {why}"))
    })
}

/// The type of a JSON value, told from its first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JsonType {
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
}

impl JsonType {
    /// The type of a value that serde_json has already checked for syntax.
    pub fn of(raw: &RawValue) -> Self {
        match raw.get().trim_start().as_bytes().first() {
            Some(b'n') => Self::Null,
            Some(b't' | b'f') => Self::Boolean,
            Some(b'"') => Self::String,
            Some(b'[') => Self::Array,
            Some(b'{') => Self::Object,
            _ => Self::Number,
        }
    }

    /// `a string`, `an array`, `null`, … for messages such as "must be a string, got a number".
    pub fn described(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Boolean => "a boolean",
            Self::Number => "a number",
            Self::String => "a string",
            Self::Array => "an array",
            Self::Object => "an object",
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Body<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(BodyVisitor(std::marker::PhantomData))
    }
}

struct BodyVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for BodyVisitor<'a> {
    type Value = Body<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body<'a>, A::Error> {
        let mut body = Body {
            fields: BTreeMap::new(),
            duplicates: Vec::new(),
        };
        while let Some(Name(name)) = map.next_key::<Name<'a>>()? {
            let value: &'a RawValue = map.next_value()?;
            match body.fields.entry(name) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(seen) => {
                    if !body.duplicates.iter().any(|d| d == seen.key()) {
                        body.duplicates.push(seen.key().to_string());
                    }
                }
            }
        }
        Ok(body)
    }
}

/// A field name, borrowed from the body unless it holds an escape.
struct Name<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(NameVisitor(std::marker::PhantomData))
    }
}

struct NameVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for NameVisitor<'a> {
    type Value = Name<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, name: &'de str) -> Result<Name<'a>, E> {
        Ok(Name(Cow::Borrowed(name)))
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Name<'a>, E> {
        Ok(Name(Cow::Owned(name.to_string())))
    }

    fn visit_string<E: serde::de::Error>(self, name: String) -> Result<Name<'a>, E> {
        Ok(Name(Cow::Owned(name)))
    }
}
