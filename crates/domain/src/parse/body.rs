//! From raw bytes to a map of field name → raw JSON text, or a [`Rejection::Malformed`].

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::Rejection;

/// The top-level fields of a JSON object, each kept as its raw text so that numbers are never
/// read as `f64`.
pub(super) struct Body {
    /// Field name → raw value. When a name repeats, the first occurrence is kept.
    pub fields: BTreeMap<String, Box<RawValue>>,
    /// Names that occurred more than once (each listed once).
    pub duplicates: Vec<String>,
}

/// Reads `bytes` as one JSON object.
pub(super) fn read(bytes: &[u8]) -> Result<Body, Rejection> {
    let malformed = |why: String| Rejection::Malformed(why);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| malformed(format!("body is not valid UTF-8: {e}")))?;
    if text.trim().is_empty() {
        return Err(malformed("body is empty".into()));
    }
    let whole: &RawValue =
        serde_json::from_str(text).map_err(|e| malformed(format!("invalid JSON: {e}")))?;
    match JsonType::of(whole) {
        JsonType::Object => {}
        other => {
            return Err(malformed(format!(
                "expected a JSON object, got {}",
                other.described()
            )));
        }
    }
    serde_json::from_str(whole.get()).map_err(|e| malformed(format!("invalid JSON: {e}")))
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

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
        let mut body = Body {
            fields: BTreeMap::new(),
            duplicates: Vec::new(),
        };
        while let Some(name) = map.next_key::<String>()? {
            let value: Box<RawValue> = map.next_value()?;
            match body.fields.entry(name) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(seen) => {
                    if !body.duplicates.contains(seen.key()) {
                        body.duplicates.push(seen.key().clone());
                    }
                }
            }
        }
        Ok(body)
    }
}
