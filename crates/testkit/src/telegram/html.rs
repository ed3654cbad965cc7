//! Telegram's HTML parse mode, transcribed from tdlib's `parse_html` (`MessageEntity.cpp`):
//! the same tags, the same entity decoding and the same error texts, so that text the real
//! Bot API rejects is rejected here too.
//!
//! Supported tags: `b strong i em u ins s strike del a(href) code pre blockquote
//! tg-spoiler span(class="tg-spoiler")`. Named entities `&lt; &gt; &amp; &quot;` and numeric
//! ones `&#NN; &#xHH;` are decoded; like Telegram, an `&` that starts no known entity is kept
//! as it is.

use serde_json::{Value, json};

/// A message entity (offsets and lengths in UTF-16 code units, as the Bot API counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entity {
    pub kind: EntityKind,
    pub offset: usize,
    pub length: usize,
}

/// What an entity does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntityKind {
    Bold,
    Italic,
    Underline,
    Strikethrough,
    Spoiler,
    Code,
    Pre(Option<String>),
    TextLink(String),
    Blockquote,
    ExpandableBlockquote,
    /// `<code class="language-x">` until we know whether a `<pre>` encloses it.
    CodeWithLanguage(String),
}

impl Entity {
    /// The Bot API JSON of this entity.
    pub fn to_json(&self) -> Value {
        let mut v = json!({ "offset": self.offset, "length": self.length });
        let kind = match &self.kind {
            EntityKind::Bold => "bold",
            EntityKind::Italic => "italic",
            EntityKind::Underline => "underline",
            EntityKind::Strikethrough => "strikethrough",
            EntityKind::Spoiler => "spoiler",
            EntityKind::Code | EntityKind::CodeWithLanguage(_) => "code",
            EntityKind::Pre(language) => {
                if let Some(language) = language {
                    v["language"] = json!(language);
                }
                "pre"
            }
            EntityKind::TextLink(url) => {
                v["url"] = json!(url);
                "text_link"
            }
            EntityKind::Blockquote => "blockquote",
            EntityKind::ExpandableBlockquote => "expandable_blockquote",
        };
        v["type"] = json!(kind);
        v
    }
}

/// Visible text and entities of a parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub text: String,
    pub entities: Vec<Entity>,
}

const TAGS: &[&str] = &[
    "a",
    "b",
    "strong",
    "i",
    "em",
    "s",
    "strike",
    "del",
    "u",
    "ins",
    "pre",
    "code",
    "span",
    "tg-spoiler",
    "blockquote",
];

struct Open {
    tag: String,
    argument: String,
    expandable: bool,
    offset: usize,
    text_pos: usize,
}

/// tdlib's `is_space` (the NUL it also counts is our end of input).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'\x0b')
}

/// Parses `input` as Telegram HTML; the error is tdlib's message (without the
/// `Bad Request: can't parse entities: ` prefix).
pub(crate) fn parse(input: &str) -> Result<Parsed, String> {
    let b = input.as_bytes();
    let n = b.len();
    let at = |i: usize| if i < n { b[i] } else { 0 };
    let mut text = String::with_capacity(n);
    let mut utf16 = 0usize;
    let mut entities = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < n {
        let c = b[i];
        if c == b'&'
            && let Some((ch, next)) = decode_entity(b, i)?
        {
            text.push(ch);
            utf16 += ch.len_utf16();
            i = next;
            continue;
        }
        if c != b'<' {
            let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
            text.push(ch);
            utf16 += ch.len_utf16();
            i += ch.len_utf8();
            continue;
        }
        let begin = i;
        i += 1;
        if at(i) != b'/' {
            // A start tag.
            while i < n && !is_space(b[i]) && b[i] != b'>' {
                i += 1;
            }
            if i >= n {
                return Err(format!("Unclosed start tag at byte offset {begin}"));
            }
            let tag = input[begin + 1..i].to_lowercase();
            if !TAGS.contains(&tag.as_str()) {
                return Err(format!(
                    "Unsupported start tag \"{tag}\" at byte offset {begin}"
                ));
            }
            let (argument, expandable, end) = parse_attributes(input, &tag, begin, i)?;
            i = end;
            if tag == "span" && argument != "spoiler" {
                return Err(format!(
                    "Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin}"
                ));
            }
            stack.push(Open {
                tag,
                argument,
                expandable,
                offset: utf16,
                text_pos: text.len(),
            });
            i += 1; // past '>'
        } else {
            // An end tag.
            if stack.is_empty() {
                return Err(format!("Unexpected end tag at byte offset {begin}"));
            }
            while i < n && !is_space(b[i]) && b[i] != b'>' {
                i += 1;
            }
            let end_tag = &input[begin + 2..i];
            while i < n && is_space(b[i]) {
                i += 1;
            }
            if at(i) != b'>' {
                return Err(format!("Unclosed end tag at byte offset {begin}"));
            }
            let open = stack.pop().expect("checked non-empty");
            if !end_tag.is_empty() && end_tag != open.tag {
                return Err(format!(
                    "Unmatched end tag at byte offset {begin}, expected \"</{}>\", found \"</{end_tag}>\"",
                    open.tag
                ));
            }
            if utf16 > open.offset {
                close_entity(&mut entities, open, utf16, &text);
            }
            i += 1; // past '>'
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            open.tag
        ));
    }
    for entity in &mut entities {
        // A language only survives on a <pre>.
        if let EntityKind::CodeWithLanguage(_) = entity.kind {
            entity.kind = EntityKind::Code;
        }
    }
    entities.sort_by_key(|e| (e.offset, std::cmp::Reverse(e.length)));
    Ok(Parsed { text, entities })
}

/// Parses the attributes of a start tag from `i` (just after the tag name) up to its `>`;
/// returns the tag's argument (href, code language, span class without `tg-`), whether a
/// blockquote is expandable, and the position of the `>`.
fn parse_attributes(
    input: &str,
    tag: &str,
    begin: usize,
    mut i: usize,
) -> Result<(String, bool, usize), String> {
    let b = input.as_bytes();
    let n = b.len();
    let at = |i: usize| if i < n { b[i] } else { 0 };
    let mut argument = String::new();
    let mut expandable = false;
    while at(i) != b'>' {
        while i < n && is_space(b[i]) {
            i += 1;
        }
        if i >= n {
            return Err(format!("Unclosed start tag at byte offset {begin}"));
        }
        if b[i] == b'>' {
            break;
        }
        let name_begin = i;
        while i < n && !is_space(b[i]) && b[i] != b'=' && b[i] != b'>' {
            i += 1;
        }
        let name = &input[name_begin..i];
        if name.is_empty() {
            return Err(format!(
                "Empty attribute name in the tag \"{tag}\" at byte offset {begin}"
            ));
        }
        while i < n && is_space(b[i]) {
            i += 1;
        }
        if at(i) != b'=' {
            if tag == "blockquote" && name.eq_ignore_ascii_case("expandable") {
                expandable = true;
                continue;
            }
            if i >= n {
                return Err(format!("Unclosed start tag at byte offset {begin}"));
            }
            return Err(format!(
                "Expected equal sign in declaration of an attribute of the tag \"{tag}\" at byte offset {begin}"
            ));
        }
        i += 1;
        while i < n && is_space(b[i]) {
            i += 1;
        }
        if i >= n {
            return Err(format!(
                "Unclosed start tag \"{tag}\" at byte offset {begin}"
            ));
        }
        let mut value = String::new();
        if b[i] != b'\'' && b[i] != b'"' {
            // A name token: letters, digits, periods, hyphens; case-insensitive.
            let token_begin = i;
            while i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'-') {
                i += 1;
            }
            value = input[token_begin..i].to_lowercase();
            if !is_space(at(i)) && at(i) != b'>' {
                return Err(format!(
                    "Unexpected end of name token at byte offset {token_begin}"
                ));
            }
        } else {
            let quote = b[i];
            i += 1;
            while i < n && b[i] != quote {
                if b[i] == b'&'
                    && let Some((ch, next)) = decode_entity(b, i)?
                {
                    value.push(ch);
                    i = next;
                    continue;
                }
                let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
                value.push(ch);
                i += ch.len_utf8();
            }
            if i < n {
                i += 1; // past the closing quote
            }
        }
        if i >= n {
            return Err(format!("Unclosed start tag at byte offset {begin}"));
        }
        let prefix = match (tag, name) {
            ("a", "href") => Some(""),
            ("code", "class") => Some("language-"),
            ("span", "class") => Some("tg-"),
            _ => None,
        };
        if let Some(rest) = prefix.and_then(|p| value.strip_prefix(p)) {
            argument = rest.to_owned();
        }
    }
    Ok((argument, expandable, i))
}

/// Turns a closed, non-empty tag into its entity (tdlib's rules, including `<pre><code
/// class="language-x">` becoming one `pre` with a language).
fn close_entity(entities: &mut Vec<Entity>, open: Open, utf16: usize, text: &str) {
    let offset = open.offset;
    let length = utf16 - offset;
    let same_range = |e: &Entity| e.offset == offset && e.length == length;
    let kind = match open.tag.as_str() {
        "b" | "strong" => EntityKind::Bold,
        "i" | "em" => EntityKind::Italic,
        "u" | "ins" => EntityKind::Underline,
        "s" | "strike" | "del" => EntityKind::Strikethrough,
        "span" | "tg-spoiler" => EntityKind::Spoiler,
        "blockquote" if open.expandable => EntityKind::ExpandableBlockquote,
        "blockquote" => EntityKind::Blockquote,
        "a" => {
            let url = if open.argument.is_empty() {
                text[open.text_pos..].to_owned()
            } else {
                open.argument
            };
            match check_url(&url) {
                Some(url) => EntityKind::TextLink(url),
                None => return, // Telegram silently drops links it can't use.
            }
        }
        "code" if !open.argument.is_empty() => {
            if let Some(last) = entities.last_mut()
                && same_range(last)
                && last.kind == EntityKind::Pre(None)
            {
                last.kind = EntityKind::Pre(Some(open.argument));
                return;
            }
            EntityKind::CodeWithLanguage(open.argument)
        }
        "code" => EntityKind::Code,
        "pre" => {
            if let Some(last) = entities.last_mut()
                && same_range(last)
                && let EntityKind::CodeWithLanguage(language) = &last.kind
            {
                last.kind = EntityKind::Pre(Some(language.clone()));
                return;
            }
            EntityKind::Pre(None)
        }
        _ => return,
    };
    entities.push(Entity {
        kind,
        offset,
        length,
    });
}

/// A usable link target, as Telegram would keep it: http(s) URLs as they are, bare domains
/// with `http://` in front; anything else is dropped.
fn check_url(url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty()
        || url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>'))
    {
        return None;
    }
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(rest) = lower.strip_prefix("https://") {
        rest
    } else if let Some(rest) = lower.strip_prefix("http://") {
        rest
    } else if !lower.contains("://") && lower.contains('.') {
        return Some(format!("http://{url}"));
    } else {
        return None;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    (!host.is_empty()).then(|| url.to_owned())
}

/// tdlib's `decode_html_entity`: `Ok(None)` when `&` starts no entity (it is then kept as
/// text); an error when the decoded code point is no Unicode scalar value.
fn decode_entity(b: &[u8], pos: usize) -> Result<Option<(char, usize)>, String> {
    let at = |i: usize| if i < b.len() { b[i] } else { 0 };
    let mut end = pos + 1;
    let value: u64;
    if at(pos + 1) == b'#' {
        end += 1;
        let mut v: u64 = 0;
        if at(pos + 2) == b'x' {
            end += 1;
            while at(end).is_ascii_hexdigit() {
                v = v
                    .saturating_mul(16)
                    .saturating_add(u64::from((at(end) as char).to_digit(16).unwrap_or(0)));
                end += 1;
            }
        } else {
            while at(end).is_ascii_digit() {
                v = v
                    .saturating_mul(10)
                    .saturating_add(u64::from(at(end) - b'0'));
                end += 1;
            }
        }
        if v == 0 || v >= 0x10ffff || end - pos >= 10 {
            return Ok(None);
        }
        value = v;
    } else {
        while at(end).is_ascii_alphabetic() {
            end += 1;
        }
        value = match &b[pos + 1..end] {
            b"lt" => u64::from(b'<'),
            b"gt" => u64::from(b'>'),
            b"amp" => u64::from(b'&'),
            b"quot" => u64::from(b'"'),
            _ => return Ok(None),
        };
    }
    if at(end) == b';' {
        end += 1;
    }
    let ch = u32::try_from(value).ok().and_then(char::from_u32).ok_or_else(|| {
        "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units".to_owned()
    })?;
    Ok(Some((ch, end)))
}

/// Telegram trims whitespace around a message; entities move with the text and are cut to it.
pub(crate) fn trim(parsed: Parsed) -> Parsed {
    let is_trimmed = |c: char| matches!(c, ' ' | '\n' | '\t' | '\r');
    let start_trimmed = parsed.text.trim_start_matches(is_trimmed);
    let lead_utf16: usize = parsed.text[..parsed.text.len() - start_trimmed.len()]
        .encode_utf16()
        .count();
    let text = start_trimmed.trim_end_matches(is_trimmed).to_owned();
    let len = text.encode_utf16().count();
    let entities = parsed
        .entities
        .into_iter()
        .filter_map(|e| {
            let start = e.offset.saturating_sub(lead_utf16).min(len);
            let end = (e.offset + e.length).saturating_sub(lead_utf16).min(len);
            (end > start).then_some(Entity {
                kind: e.kind,
                offset: start,
                length: end - start,
            })
        })
        .collect();
    Parsed { text, entities }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(html: &str) -> String {
        parse(html).unwrap().text
    }

    fn err(html: &str) -> String {
        parse(html).unwrap_err()
    }

    #[test]
    fn strips_tags_and_decodes_entities() {
        assert_eq!(
            text("<b>BTC/USD</b> &lt;buy&gt; @ 64&#44;000 &amp; up &#x1F680; &quot;ok&quot;"),
            "BTC/USD <buy> @ 64,000 & up 🚀 \"ok\""
        );
        assert_eq!(text("AT&T &unknown; stays"), "AT&T &unknown; stays");
        assert_eq!(
            text(
                "<strong>a</strong><em>b</em><ins>c</ins><strike>d</strike><del>e</del>\
                 <tg-spoiler>f</tg-spoiler><span class=\"tg-spoiler\">g</span>\
                 <blockquote>h</blockquote><a href=\"https://x.org\">i</a><code>j</code><pre>k</pre>"
            ),
            "abcdefghijk"
        );
    }

    #[test]
    fn entities_count_utf16_units() {
        let parsed =
            parse("🚀 <b>Buy</b> <a href='https://example.com/a?b=1&amp;c=2'>link</a>").unwrap();
        assert_eq!(
            parsed.entities,
            vec![
                Entity {
                    kind: EntityKind::Bold,
                    offset: 3,
                    length: 3
                },
                Entity {
                    kind: EntityKind::TextLink("https://example.com/a?b=1&c=2".into()),
                    offset: 7,
                    length: 4
                },
            ]
        );
    }

    #[test]
    fn pre_with_language() {
        let parsed = parse("<pre><code class=\"language-rust\">fn x()</code></pre>").unwrap();
        assert_eq!(
            parsed.entities,
            vec![Entity {
                kind: EntityKind::Pre(Some("rust".into())),
                offset: 0,
                length: 6
            }]
        );
        let parsed = parse("<code class=\"language-rust\">x</code> y").unwrap();
        assert_eq!(parsed.entities[0].kind, EntityKind::Code);
    }

    #[test]
    fn rejects_what_telegram_rejects() {
        assert_eq!(err("a < b"), "Unsupported start tag \"\" at byte offset 2");
        assert_eq!(err("1 <2"), "Unclosed start tag at byte offset 2");
        assert_eq!(
            err("a <2 b> c"),
            "Unsupported start tag \"2\" at byte offset 2"
        );
        assert_eq!(
            err("<div>x</div>"),
            "Unsupported start tag \"div\" at byte offset 0"
        );
        assert_eq!(
            err("<b>x"),
            "Can't find end tag corresponding to start tag \"b\""
        );
        assert_eq!(err("x</b>"), "Unexpected end tag at byte offset 1");
        assert_eq!(
            err("<b><i>x</b></i>"),
            "Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\""
        );
        assert_eq!(err("<b"), "Unclosed start tag at byte offset 0");
        assert_eq!(
            err("<span>x</span>"),
            "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0"
        );
        assert_eq!(
            err("<a href>x</a>"),
            "Expected equal sign in declaration of an attribute of the tag \"a\" at byte offset 0"
        );
        assert!(err("&#xD800;").starts_with("Text contains invalid Unicode"));
    }

    #[test]
    fn trims_like_telegram() {
        let parsed = trim(parse("\n  <b>hi</b> there \n").unwrap());
        assert_eq!(parsed.text, "hi there");
        assert_eq!(parsed.entities[0].offset, 0);
        assert_eq!(parsed.entities[0].length, 2);
    }
}
