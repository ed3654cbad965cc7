//! Just enough `multipart/form-data` for the Bot API: text fields, and the files of uploads
//! (`sendPhoto`'s `photo`, or the part an `attach://<name>` value names, as teloxide sends).

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// The part's `name`.
    pub name: String,
    /// The part's `filename`, if it has one (then it is a file, even if empty).
    pub filename: Option<String>,
    /// The part's content.
    pub data: Vec<u8>,
}

/// The text fields of a multipart body, or `None` if it cannot be read. File parts are
/// skipped.
#[cfg(test)]
pub(crate) fn text_fields(content_type: &str, body: &[u8]) -> Option<Vec<(String, String)>> {
    Some(
        parts(content_type, body)?
            .into_iter()
            .filter(|p| p.filename.is_none())
            .map(|p| (p.name, String::from_utf8_lossy(&p.data).into_owned()))
            .collect(),
    )
}

/// Every named part of a multipart body, in order, or `None` if it cannot be read.
pub(crate) fn parts(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    // Every delimiter after the first is preceded by a line break, which is not content.
    let inner_delimiter = format!("\r\n--{boundary}");
    let mut parts = Vec::new();
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        let end = find(rest, inner_delimiter.as_bytes())?;
        let part = rest[..end].strip_prefix(b"\r\n").unwrap_or(&rest[..end]);
        let split = find(part, b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&part[..split]);
        let value = &part[split + 4..];
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
        let param = |key: &str| {
            disposition.split(';').map(str::trim).find_map(|p| {
                p.strip_prefix(key)
                    .and_then(|v| v.strip_prefix('='))
                    .map(|v| v.trim_matches('"').to_owned())
            })
        };
        if let Some(name) = param("name") {
            parts.push(Part {
                name,
                filename: param("filename"),
                data: value.to_vec(),
            });
        }
        rest = &rest[end + inner_delimiter.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_byte_for_byte() {
        let mut body = b"--b\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n42\r\n\
--b\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"\"\r\n\r\n"
            .to_vec();
        let file = b"\x89PNG\r\n\x1a\n\r\n--not-the-boundary\r\n";
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n--b--\r\n");
        let parts = parts("multipart/form-data; boundary=\"b\"", &body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].data, b"42");
        assert_eq!(parts[0].filename, None);
        assert_eq!(parts[1].name, "photo");
        assert_eq!(parts[1].filename.as_deref(), Some(""));
        assert_eq!(parts[1].data, file);
    }

    #[test]
    fn reads_text_fields_and_skips_files() {
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\nhttps://a.b/c\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"certificate\"; filename=\"c.pem\"\r\n\
Content-Type: application/octet-stream\r\n\r\nBINARY\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"drop_pending_updates\"\r\n\r\ntrue\r\n--XyZ--\r\n";
        let fields = text_fields("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(
            fields,
            [
                ("url".to_owned(), "https://a.b/c".to_owned()),
                ("drop_pending_updates".to_owned(), "true".to_owned())
            ]
        );
    }
}
