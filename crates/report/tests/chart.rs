//! The cumulative-return chart: a real 800×400 PNG, of a sensible size, whose line is
//! where the figures put it.

use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use herald_report::{HEIGHT, WIDTH, cumulative_return_png};
use rust_decimal::Decimal;

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
const GREEN: [u8; 3] = [22, 163, 74];
const RED: [u8; 3] = [220, 38, 38];

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// A day's period.
fn day() -> (DateTime<Utc>, DateTime<Utc>) {
    (at("2026-11-29T12:00:00Z"), at("2026-11-30T12:00:00Z"))
}

/// The decoded picture: (width, height, RGB bytes).
fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    assert_eq!(png_bytes[..8], SIGNATURE, "not a PNG");
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a sane size")];
    let frame = reader.next_frame(&mut pixels).expect("PNG data");
    assert_eq!(frame.color_type, png::ColorType::Rgb);
    pixels.truncate(frame.buffer_size());
    (frame.width, frame.height, pixels)
}

fn count(pixels: &[u8], colour: [u8; 3]) -> usize {
    pixels.chunks(3).filter(|p| *p == colour).count()
}

/// How many pixels of `colour` lie in rows `rows`.
fn count_in_rows(pixels: &[u8], colour: [u8; 3], rows: std::ops::Range<u32>) -> usize {
    let row_bytes = WIDTH as usize * 3;
    rows.map(|y| {
        let start = y as usize * row_bytes;
        count(&pixels[start..start + row_bytes], colour)
    })
    .sum()
}

#[test]
fn a_rising_period_is_a_green_line_up_and_to_the_right() {
    let (from, to) = day();
    let points = [
        (at("2026-11-29T15:00:00Z"), d("1.5")),
        (at("2026-11-29T20:00:00Z"), d("-0.75")),
        (
            at("2026-11-30T09:00:00Z"),
            d("3.0011904761904761904761904762"),
        ),
    ];
    let bytes = cumulative_return_png(&points, from, to).unwrap();
    assert!(
        (2_000..150_000).contains(&bytes.len()),
        "{} bytes",
        bytes.len()
    );
    let (width, height, pixels) = decode(&bytes);
    assert_eq!((width, height), (800, 400));
    assert_eq!((WIDTH, HEIGHT), (800, 400));
    assert!(count(&pixels, GREEN) > 500, "the line is green");
    assert_eq!(count(&pixels, RED), 0);
    // The highest value is at the top of the plot.
    assert!(count_in_rows(&pixels, GREEN, 0..60) > 50);
}

#[test]
fn a_falling_period_is_red() {
    let (from, to) = day();
    let points = [(at("2026-11-30T00:00:00Z"), d("-2.3"))];
    let (_, _, pixels) = decode(&cumulative_return_png(&points, from, to).unwrap());
    assert!(count(&pixels, RED) > 500, "the line is red");
    assert_eq!(count(&pixels, GREEN), 0);
    // Below zero: the lowest value is at the bottom of the plot.
    assert!(count_in_rows(&pixels, RED, 340..400) > 50);
}

#[test]
fn no_points_draw_a_flat_line_at_zero() {
    let (from, to) = day();
    let bytes = cumulative_return_png(&[], from, to).unwrap();
    let (width, height, pixels) = decode(&bytes);
    assert_eq!((width, height), (800, 400));
    // The range is ±1 %, so zero (and the line on it) is in the middle.
    assert!(count_in_rows(&pixels, GREEN, 195..205) > 600);
    assert_eq!(count_in_rows(&pixels, GREEN, 0..190), 0);
    assert_eq!(count_in_rows(&pixels, GREEN, 210..400), 0);
}

#[test]
fn odd_inputs_still_make_a_picture() {
    let (from, to) = day();
    // A single point; points outside the period; an empty period; a huge value.
    for (points, from, to) in [
        (vec![(at("2026-11-30T06:00:00Z"), d("0.5"))], from, to),
        (
            vec![
                (from - TimeDelta::days(3), d("1")),
                (to + TimeDelta::days(3), d("-4")),
            ],
            from,
            to,
        ),
        (vec![(from, d("2"))], from, from),
        (vec![(from, Decimal::MAX)], to, from),
    ] {
        let bytes = cumulative_return_png(&points, from, to).unwrap();
        let (width, height, _) = decode(&bytes);
        assert_eq!((width, height), (800, 400));
    }
}
