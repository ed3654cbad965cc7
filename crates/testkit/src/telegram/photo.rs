//! The photos the double accepts (`sendPhoto` uploads): PNG files it checks as far as
//! Herald's charts need — the signature, an `IHDR` chunk first with a correct CRC and a size
//! within [`MIN_SIDE`]..=[`MAX_SIDE`] pixels each way, well-formed chunks up to an `IEND`
//! that ends the file, at most [`MAX_PHOTO_BYTES`] — and [`png`], which makes such files for
//! tests.

/// The largest photo Telegram takes (10 MB).
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// The smallest width and height the double accepts, in pixels.
pub const MIN_SIDE: u32 = 100;

/// The largest width and height the double accepts, in pixels.
pub const MAX_SIDE: u32 = 4096;

/// Telegram's description of a photo it cannot read.
pub(crate) const IMAGE_PROCESS_FAILED: &str = "IMAGE_PROCESS_FAILED";

/// Telegram's description of a photo of the wrong size.
pub(crate) const INVALID_DIMENSIONS: &str = "PHOTO_INVALID_DIMENSIONS";

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// One chunk: its type, its data and the CRC stored after it.
struct Chunk<'a> {
    kind: [u8; 4],
    data: &'a [u8],
    crc: u32,
}

/// Splits the chunk at the start of `bytes` from the rest, if it is complete.
fn chunk(bytes: &[u8]) -> Option<(Chunk<'_>, &[u8])> {
    let length = usize::try_from(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?)).ok()?;
    let kind: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
    let data = bytes.get(8..8usize.checked_add(length)?)?;
    let crc_at = 8 + length;
    let crc = u32::from_be_bytes(bytes.get(crc_at..crc_at + 4)?.try_into().ok()?);
    Some((Chunk { kind, data, crc }, &bytes[crc_at + 4..]))
}

/// The width and height of a PNG the double accepts as a photo, or the reason it refuses it
/// (Telegram's `IMAGE_PROCESS_FAILED` for anything but a readable PNG within the size limit,
/// `PHOTO_INVALID_DIMENSIONS` for a width or height out of range).
pub(crate) fn check_png(bytes: &[u8]) -> Result<(u32, u32), &'static str> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(IMAGE_PROCESS_FAILED);
    }
    let mut rest = bytes.strip_prefix(&SIGNATURE).ok_or(IMAGE_PROCESS_FAILED)?;
    let (header, after) = chunk(rest).ok_or(IMAGE_PROCESS_FAILED)?;
    if &header.kind != b"IHDR"
        || header.data.len() != 13
        || crc32(&[&header.kind, header.data]) != header.crc
    {
        return Err(IMAGE_PROCESS_FAILED);
    }
    let side = |at: usize| u32::from_be_bytes([0, 1, 2, 3].map(|i| header.data[at + i]));
    let (width, height) = (side(0), side(4));
    rest = after;
    loop {
        let (next, after) = chunk(rest).ok_or(IMAGE_PROCESS_FAILED)?;
        if &next.kind == b"IHDR" {
            return Err(IMAGE_PROCESS_FAILED);
        }
        if &next.kind == b"IEND" {
            if !next.data.is_empty() || !after.is_empty() {
                return Err(IMAGE_PROCESS_FAILED);
            }
            break;
        }
        rest = after;
    }
    let in_range = |side: u32| (MIN_SIDE..=MAX_SIDE).contains(&side);
    if !in_range(width) || !in_range(height) {
        return Err(INVALID_DIMENSIONS);
    }
    Ok((width, height))
}

/// A valid PNG of `width` × `height` pixels (8-bit greyscale, black, uncompressed): what a
/// test sends as a chart. Not limited to the sizes the double accepts, so tests can send
/// the wrong ones too.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 0 (greyscale), deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[8, 0, 0, 0, 0]);
    // Every scanline: filter type 0, then one zero byte per pixel.
    let row = usize::try_from(width).unwrap_or(0) + 1;
    let raw = vec![0u8; row * usize::try_from(height).unwrap_or(0)];
    let mut png = SIGNATURE.to_vec();
    push_chunk(&mut png, b"IHDR", &header);
    push_chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    push_chunk(&mut png, b"IEND", &[]);
    png
}

fn push_chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let length = u32::try_from(data.len()).unwrap_or(u32::MAX);
    png.extend_from_slice(&length.to_be_bytes());
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    png.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
}

/// `data` as a zlib stream of stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(usize::from(u16::MAX)).collect()
    };
    let last = blocks.len() - 1;
    for (i, block) in blocks.into_iter().enumerate() {
        out.push(u8::from(i == last));
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// The CRC-32 (ISO-HDLC, as PNG uses) of the concatenated `parts`.
fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = !0u32;
    for &byte in parts.iter().copied().flatten() {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_pngs() {
        // The CRC of every IEND chunk.
        assert_eq!(crc32(&[b"IEND"]), 0xAE42_6082);
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
    }

    #[test]
    fn made_pngs_pass_and_broken_ones_fail() {
        assert_eq!(check_png(&png(640, 480)), Ok((640, 480)));
        assert_eq!(check_png(&png(100, 4096)), Ok((100, 4096)));
        assert_eq!(check_png(&png(99, 200)), Err(INVALID_DIMENSIONS));
        assert_eq!(check_png(&png(200, 4097)), Err(INVALID_DIMENSIONS));

        let good = png(200, 150);
        assert_eq!(
            check_png(&good[..good.len() - 1]),
            Err(IMAGE_PROCESS_FAILED)
        );
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(check_png(&trailing), Err(IMAGE_PROCESS_FAILED));
        let mut bad_crc = good.clone();
        bad_crc[8 + 8 + 13] ^= 1;
        assert_eq!(check_png(&bad_crc), Err(IMAGE_PROCESS_FAILED));
        let mut bad_signature = good.clone();
        bad_signature[1] = b'J';
        assert_eq!(check_png(&bad_signature), Err(IMAGE_PROCESS_FAILED));
        let no_iend = &good[..good.len() - 12];
        assert_eq!(check_png(no_iend), Err(IMAGE_PROCESS_FAILED));
        assert_eq!(check_png(b""), Err(IMAGE_PROCESS_FAILED));
    }

    #[test]
    fn the_made_pixels_inflate() {
        // Stored blocks: the header, then each block's flag, LEN, NLEN and bytes, then Adler.
        let data = vec![7u8; 70_000];
        let z = zlib_stored(&data);
        assert_eq!(&z[..2], &[0x78, 0x01]);
        assert_eq!(z[2], 0);
        assert_eq!(z.len(), 2 + 5 + 65_535 + 5 + (70_000 - 65_535) + 4);
    }
}
