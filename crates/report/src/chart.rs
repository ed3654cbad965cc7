//! The report's chart: the running sum of returns over a period, as a PNG.
//!
//! Drawn in memory with `plotters` (bitmap backend) and encoded with `png`. No text at all —
//! the hosts have no system fonts, and the caption carries the numbers — so the picture is a
//! shape: a light grid (time lines at whole hours, days or weeks; value lines at round
//! steps that include zero), a grey zero baseline, and the sum as a step line that moves
//! when a position closes, green if the period ends at or above zero, red below, over a
//! faint fill down to zero. This is the one place a `Decimal` becomes an `f64`: for pixels.

use chrono::{DateTime, Utc};
use plotters::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// The chart's width in pixels.
pub const WIDTH: u32 = 800;
/// The chart's height in pixels.
pub const HEIGHT: u32 = 400;

/// Empty space around the plot, in pixels.
const MARGIN: u32 = 16;
const GRID: RGBColor = RGBColor(232, 234, 237);
const BASELINE: RGBColor = RGBColor(128, 134, 139);
const GAIN: RGBColor = RGBColor(22, 163, 74);
const LOSS: RGBColor = RGBColor(220, 38, 38);
/// At most this many time lines, and about this many value lines.
const MAX_TIME_LINES: i64 = 12;
const VALUE_LINES: f64 = 6.0;

/// An 800×400 PNG of the cumulative return `points` (time, running sum in percent, as
/// [`herald_domain::cumulative_returns`] gives them) from `from` to `to`: the sum starts at
/// zero at `from` and holds its last value until `to`. No points draw a flat line at zero;
/// points outside the period are drawn at its edges.
pub fn cumulative_return_png(
    points: &[(DateTime<Utc>, Decimal)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Vec<u8>> {
    let mut rgb = vec![0; WIDTH as usize * HEIGHT as usize * 3];
    draw(&mut rgb, points, from, to)?;
    encode(&rgb)
}

fn draw(
    rgb: &mut [u8],
    points: &[(DateTime<Utc>, Decimal)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<()> {
    let span = (to - from).num_seconds().max(1);
    let steps = step_line(points, from, span);
    let (low, high) = value_range(&steps);
    let last = steps.last().map_or(0.0, |(_, y)| *y);
    let colour = if last < 0.0 { LOSS } else { GAIN };

    let root = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let area = root.margin(MARGIN, MARGIN, MARGIN, MARGIN);
    let mut chart = ChartBuilder::on(&area).build_cartesian_2d(0.0..span as f64, low..high)?;

    let grid = GRID.stroke_width(1);
    let time_lines = time_lines(from.timestamp(), span);
    chart.draw_series(
        time_lines
            .into_iter()
            .map(|x| PathElement::new(vec![(x, low), (x, high)], grid)),
    )?;
    chart.draw_series(
        value_lines(low, high)
            .into_iter()
            .map(|y| PathElement::new(vec![(0.0, y), (span as f64, y)], grid)),
    )?;

    let mut outline = vec![(0.0, 0.0)];
    outline.extend(steps.iter().copied());
    outline.push((span as f64, 0.0));
    chart.draw_series(std::iter::once(Polygon::new(
        outline,
        colour.mix(0.12).filled(),
    )))?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 0.0), (span as f64, 0.0)],
        BASELINE.stroke_width(2),
    )))?;
    chart.draw_series(LineSeries::new(steps, colour.stroke_width(3)))?;
    root.present()?;
    Ok(())
}

/// The sum as a step line in (seconds since `from`, percent): from zero at the start, up
/// or down at each point, flat to the end.
fn step_line(
    points: &[(DateTime<Utc>, Decimal)],
    from: DateTime<Utc>,
    span: i64,
) -> Vec<(f64, f64)> {
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|(at, _)| *at);
    let mut line = vec![(0.0, 0.0)];
    let mut level = 0.0;
    for (at, sum) in sorted {
        let x = (at - from).num_seconds().clamp(0, span) as f64;
        let y = sum.to_f64().unwrap_or(0.0);
        line.push((x, level));
        line.push((x, y));
        level = y;
    }
    line.push((span as f64, level));
    line
}

/// The values shown: every point and zero, with a margin; ±1 % when all are zero.
fn value_range(line: &[(f64, f64)]) -> (f64, f64) {
    let (low, high) = line.iter().fold((0.0_f64, 0.0_f64), |(lo, hi), (_, y)| {
        (lo.min(*y), hi.max(*y))
    });
    if high - low < 1e-9 {
        return (-1.0, 1.0);
    }
    let pad = (high - low) * 0.08;
    (low - pad, high + pad)
}

/// Time lines at whole multiples (since the epoch, so days fall on midnight UTC) of the
/// shortest step that needs at most [`MAX_TIME_LINES`], in seconds since `start`.
fn time_lines(start: i64, span: i64) -> Vec<f64> {
    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;
    let steps = [
        HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
        7 * DAY,
        28 * DAY,
        91 * DAY,
        364 * DAY,
    ];
    let Some(step) = steps.into_iter().find(|s| span / s <= MAX_TIME_LINES) else {
        return Vec::new();
    };
    let first = start.div_euclid(step) * step + step;
    (0..)
        .map(|i| first + i * step - start)
        .take_while(|x| *x < span)
        .map(|x| x as f64)
        .collect()
}

/// Value lines at multiples of a round step (1, 2 or 5 × 10ⁿ) giving about [`VALUE_LINES`].
fn value_lines(low: f64, high: f64) -> Vec<f64> {
    let raw = (high - low) / VALUE_LINES;
    let magnitude = 10_f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last)
        .map(|k| k as f64 * step)
        .filter(|y| y.abs() > step / 2.0)
        .collect()
}

fn encode(rgb: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_lines_fall_on_whole_steps() {
        // A day from 09:30: every 3 hours, on the hour.
        let start = 1_795_000_000 - 1_795_000_000 % 3600 + 1800;
        let lines = time_lines(start, 24 * 3600);
        assert_eq!(lines.len(), 8);
        assert!(
            lines
                .iter()
                .all(|x| ((*x as i64 + start) % (3 * 3600)) == 0)
        );
        // A week: every day at midnight.
        assert_eq!(time_lines(0, 7 * 86_400).len(), 6);
        assert!(time_lines(0, 100 * 365 * 86_400).is_empty());
    }

    #[test]
    fn value_lines_are_round_and_leave_zero_to_the_baseline() {
        assert_eq!(value_lines(-1.0, 1.0), [-1.0, -0.5, 0.5, 1.0]);
        assert_eq!(value_lines(-0.3, 7.2), [2.0, 4.0, 6.0]);
        assert_eq!(value_lines(-45.0, 2.0), [-40.0, -30.0, -20.0, -10.0]);
    }
}
