//! Just enough `multipart/form-data` to read text fields: teloxide sends some methods
//! (`setWebhook`, which may carry a certificate) as multipart. File parts are skipped.

/// The text fields of a multipart body, or `None` if it cannot be read.
pub(crate) fn text_fields(content_type: &str, body: &[u8]) -> Option<Vec<(String, String)>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut fields = Vec::new();
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(fields);
        }
        let end = find(rest, delimiter.as_bytes())?;
        let part = rest[..end].strip_prefix(b"\r\n").unwrap_or(&rest[..end]);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
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
        if param("filename").is_none()
            && let Some(name) = param("name")
        {
            fields.push((name, String::from_utf8_lossy(value).into_owned()));
        }
        rest = &rest[end + delimiter.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

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
