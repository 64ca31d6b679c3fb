//! Line charts for the terminal (Unicode braille, or plain ASCII) and as SVG files.
//!
//! A [`Panel`] is one chart: some series of (x, y) points, marks on the x axis (e.g.
//! where the wire dropped a packet) and short labels placed in the plot ("slow start").
//! [`Panel::to_text`] draws it in at most 80 columns: with braille characters each cell
//! holds 2 × 4 dots, so a 66-column plot has 132 dots across; without Unicode each cell
//! is one `*`. [`write_svg`] draws the same panels, stacked, into an SVG file that opens
//! in any browser (the `plotters` crate's SVG backend).
//!
//! Contract: model → text or SVG; no sockets, no knowledge of where the numbers came from.

use std::path::Path;

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// (x, y), in x order.
    pub points: Vec<(f64, f64)>,
}

/// One chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub title: String,
    /// The y axis' unit, e.g. "segments" or "ms".
    pub y_unit: String,
    /// The x axis' name, e.g. "time (s)".
    pub x_label: String,
    pub series: Vec<Series>,
    /// Marks under the x axis: (x, what). Drawn as `▲`/`^` in a row of their own.
    pub marks: Vec<f64>,
    /// What the marks mean, for the legend ("▲ queue drop").
    pub marks_label: String,
    /// Text placed in the plot at (x, y), e.g. "slow start".
    pub notes: Vec<(f64, f64, String)>,
}

impl Panel {
    fn x_range(&self) -> (f64, f64) {
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0));
        let (lo, hi) = xs
            .chain(self.marks.iter().copied())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            });
        if lo.is_finite() && hi > lo {
            (lo.min(0.0), hi)
        } else {
            (0.0, 1.0)
        }
    }

    fn y_max(&self) -> f64 {
        let m = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max);
        if m > 0.0 { nice_ceiling(m) } else { 1.0 }
    }

    /// The chart as lines of text, `width` columns wide at most (80 is a terminal's),
    /// `height` rows of plot. Braille when `unicode`, else ASCII.
    pub fn to_text(&self, width: usize, height: usize, unicode: bool) -> Vec<String> {
        let y_max = self.y_max();
        let (x0, x1) = self.x_range();
        let label_w = fmt_num(y_max).len().max(4);
        let cols = width.saturating_sub(label_w + 2).max(10);
        let rows = height.max(3);
        let (px_w, px_h) = if unicode {
            (cols * 2, rows * 4)
        } else {
            (cols, rows)
        };
        let mut canvas = Canvas::new(px_w, px_h);
        let to_px = |x: f64, y: f64| -> (i64, i64) {
            let fx = ((x - x0) / (x1 - x0)).clamp(0.0, 1.0);
            let fy = (y / y_max).clamp(0.0, 1.0);
            (
                (fx * (px_w - 1) as f64).round() as i64,
                ((1.0 - fy) * (px_h - 1) as f64).round() as i64,
            )
        };
        for s in &self.series {
            let mut last: Option<(i64, i64)> = None;
            for &(x, y) in &s.points {
                let p = to_px(x, y);
                match last {
                    Some(q) => canvas.line(q, p),
                    None => canvas.set(p.0, p.1),
                }
                last = Some(p);
            }
        }
        let mut grid: Vec<Vec<char>> = if unicode {
            canvas.braille(cols, rows)
        } else {
            canvas.ascii(cols, rows)
        };
        for (x, y, text) in &self.notes {
            let fx = ((x - x0) / (x1 - x0)).clamp(0.0, 1.0);
            let fy = (y / y_max).clamp(0.0, 1.0);
            let col = (fx * (cols - 1) as f64).round() as usize;
            let row = ((1.0 - fy) * (rows - 1) as f64).round() as usize;
            let col = col.min(cols.saturating_sub(text.chars().count()));
            for (i, ch) in text.chars().enumerate() {
                if let Some(c) = grid.get_mut(row).and_then(|r| r.get_mut(col + i)) {
                    *c = ch;
                }
            }
        }
        let (vbar, corner, hbar, mark) = if unicode {
            ('│', '└', '─', '▲')
        } else {
            ('|', '+', '-', '^')
        };
        let mut out = Vec::new();
        out.push(format!("{} ({})", self.title, self.y_unit));
        for (r, line) in grid.iter().enumerate() {
            let label = if r == 0 {
                fmt_num(y_max)
            } else if r == rows / 2 {
                fmt_num(y_max / 2.0)
            } else {
                String::new()
            };
            let text: String = line.iter().collect();
            out.push(format!("{label:>label_w$} {vbar}{}", text.trim_end()));
        }
        out.push(format!(
            "{:>label_w$} {corner}{}",
            "0",
            hbar.to_string().repeat(cols)
        ));
        if !self.marks.is_empty() {
            let mut row = vec![' '; cols];
            for x in &self.marks {
                let fx = ((x - x0) / (x1 - x0)).clamp(0.0, 1.0);
                row[(fx * (cols - 1) as f64).round() as usize] = mark;
            }
            let text: String = row.into_iter().collect();
            out.push(format!("{:>label_w$}  {}", "", text.trim_end()));
        }
        let left = fmt_num(x0);
        let mid = fmt_num((x0 + x1) / 2.0);
        let right = fmt_num(x1);
        let mut axis = vec![' '; cols + 1];
        let put = |axis: &mut Vec<char>, at: usize, s: &str| {
            let at = at.min(axis.len().saturating_sub(s.len()));
            for (i, ch) in s.chars().enumerate() {
                axis[at + i] = ch;
            }
        };
        put(&mut axis, 0, &left);
        put(&mut axis, cols / 2 - mid.len() / 2, &mid);
        put(&mut axis, cols + 1 - right.len(), &right);
        let axis: String = axis.into_iter().collect();
        let line = format!("{:>label_w$} {} {}", "", axis.trim_end(), self.x_label);
        let mut legend = Vec::new();
        if line.chars().count() <= width {
            out.push(line);
        } else {
            out.push(format!("{:>label_w$} {}", "", axis.trim_end()));
            legend.push(format!("x: {}", self.x_label));
        }
        if self.series.len() > 1 {
            legend.extend(self.series.iter().map(|s| s.label.clone()));
        }
        if !self.marks.is_empty() {
            legend.push(format!("{mark} {}", self.marks_label));
        }
        if !legend.is_empty() {
            let sep = if unicode { " · " } else { "; " };
            out.push(format!("{:>label_w$}  {}", "", legend.join(sep)));
        }
        out
    }
}

/// `text` broken into lines of at most `width` columns at spaces, each line after the
/// first starting with `indent`.
pub fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let len = cur.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if cur.is_empty() {
            if !lines.is_empty() {
                cur.push_str(indent);
            }
        } else {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Whether the terminal's locale can show Unicode (braille): `LC_ALL`, `LC_CTYPE` or
/// `LANG`, the first one set, names UTF-8. Otherwise the charts are plain ASCII.
pub fn unicode_locale() -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .is_some_and(|s| {
            let s = s.to_ascii_lowercase();
            s.contains("utf-8") || s.contains("utf8")
        })
}

/// A bitmap of dots.
struct Canvas {
    w: usize,
    h: usize,
    dots: Vec<bool>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Canvas {
        Canvas {
            w,
            h,
            dots: vec![false; w * h],
        }
    }

    fn set(&mut self, x: i64, y: i64) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            self.dots[y as usize * self.w + x as usize] = true;
        }
    }

    /// Bresenham's line.
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64)) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    fn get(&self, x: usize, y: usize) -> bool {
        x < self.w && y < self.h && self.dots[y * self.w + x]
    }

    /// Braille cells (U+2800 + dot bits), 2 × 4 dots each.
    fn braille(&self, cols: usize, rows: usize) -> Vec<Vec<char>> {
        const BITS: [[u32; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];
        (0..rows)
            .map(|r| {
                (0..cols)
                    .map(|c| {
                        let mut b = 0;
                        for (dx, col) in BITS.iter().enumerate() {
                            for (dy, bit) in col.iter().enumerate() {
                                if self.get(c * 2 + dx, r * 4 + dy) {
                                    b |= bit;
                                }
                            }
                        }
                        if b == 0 {
                            ' '
                        } else {
                            char::from_u32(0x2800 + b).unwrap_or('*')
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// One `*` per dot.
    fn ascii(&self, cols: usize, rows: usize) -> Vec<Vec<char>> {
        (0..rows)
            .map(|r| {
                (0..cols)
                    .map(|c| if self.get(c, r) { '*' } else { ' ' })
                    .collect()
            })
            .collect()
    }
}

/// The smallest "round" number at or above `v`: 1, 2, 2.5 or 5 times a power of ten.
fn nice_ceiling(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

/// A number for an axis: no more digits than it needs.
fn fmt_num(v: f64) -> String {
    if v == v.trunc() || v.abs() >= 10.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Draws `panels` stacked into an SVG file at `path`.
pub fn write_svg(path: &Path, title: &str, panels: &[Panel]) -> Result<(), String> {
    use plotters::prelude::*;
    let colors = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(255, 127, 14),
    ];
    let height = 80 + 320 * panels.len().max(1) as u32;
    let root = SVGBackend::new(path, (960, height)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| err(&e))?;
    let areas = root.split_evenly((panels.len().max(1), 1));
    for (panel, area) in panels.iter().zip(areas.iter()) {
        let (x0, x1) = panel.x_range();
        let y_max = panel.y_max();
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("{} ({})", panel.title, panel.y_unit),
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, 0.0..y_max)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(panel.x_label.as_str())
            .y_desc(panel.y_unit.as_str())
            .draw()
            .map_err(|e| err(&e))?;
        for (i, s) in panel.series.iter().enumerate() {
            let c = colors[i % colors.len()];
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(s.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c));
        }
        if !panel.marks.is_empty() {
            let red = RGBColor(214, 39, 40);
            chart
                .draw_series(
                    panel
                        .marks
                        .iter()
                        .map(|x| TriangleMarker::new((*x, y_max * 0.02), 5, red.filled())),
                )
                .map_err(|e| err(&e))?
                .label(panel.marks_label.as_str())
                .legend(move |(x, y)| TriangleMarker::new((x + 8, y), 5, red.filled()));
        }
        for (x, y, text) in &panel.notes {
            chart
                .draw_series(std::iter::once(Text::new(
                    text.clone(),
                    (*x, *y),
                    ("sans-serif", 14),
                )))
                .map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel() -> Panel {
        Panel {
            title: "cwnd".into(),
            y_unit: "segments".into(),
            x_label: "time (s)".into(),
            series: vec![Series {
                label: "flow 1".into(),
                points: (0..=40)
                    .map(|i| {
                        let t = i as f64 * 0.05;
                        (
                            t,
                            if i < 10 {
                                2f64.powi(i / 2)
                            } else {
                                20.0 + (i % 10) as f64
                            },
                        )
                    })
                    .collect(),
            }],
            marks: vec![0.5, 1.0, 1.5],
            marks_label: "queue drop".into(),
            notes: vec![(0.0, 30.0, "slow start".into())],
        }
    }

    #[test]
    fn text_charts_fit_80_columns_in_braille_and_ascii() {
        for unicode in [true, false] {
            let lines = panel().to_text(80, 10, unicode);
            for l in &lines {
                assert!(l.chars().count() <= 80, "{l:?}");
            }
            assert!(lines[0].starts_with("cwnd (segments)"));
            let body = lines.join("\n");
            assert!(body.contains("slow start"), "{body}");
            assert!(body.contains("queue drop"), "{body}");
            if unicode {
                assert!(body.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)));
            } else {
                assert!(body.is_ascii(), "{body}");
                assert!(body.contains('*') && body.contains('^'));
            }
        }
    }

    #[test]
    fn wrap_keeps_to_the_width() {
        let w = wrap("the quick brown fox jumps over the lazy dog", 15, "  ");
        assert_eq!(
            w,
            ["the quick brown", "  fox jumps", "  over the lazy", "  dog"]
        );
        assert!(wrap("", 10, "").is_empty());
    }

    #[test]
    fn axis_numbers_are_round() {
        assert_eq!(nice_ceiling(29.0), 50.0);
        assert_eq!(nice_ceiling(20.0), 20.0);
        assert_eq!(nice_ceiling(0.23), 0.25);
        assert_eq!(fmt_num(2.5), "2.5");
        assert_eq!(fmt_num(40.0), "40");
    }

    #[test]
    fn svg_is_written_and_well_formed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.svg");
        write_svg(&path, "test", &[panel(), panel()]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("slow start") && svg.contains("cwnd (segments)"));
        assert!(svg.contains("<polyline"));
    }
}
