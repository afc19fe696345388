//! A hand-written SVG chart of a sweep: throughput (top) and p99 latency (bottom, log scale)
//! against concurrency (log scale), one coloured line per target.

use std::fmt::Write as _;

use crate::report::Summary;

const W: f64 = 820.0;
const PANEL_H: f64 = 250.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 50.0;
const GAP: f64 = 70.0;
const COLOURS: [&str; 6] = [
    "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Round-number axis ticks from 0 to at least `max`.
fn linear_ticks(max: f64) -> Vec<f64> {
    let max = if max > 0.0 { max } else { 1.0 };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let n = (max / step).ceil() as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

fn fmt_rps(v: f64) -> String {
    if v >= 1000.0 {
        format!("{}k", (v / 1000.0 * 10.0).round() / 10.0)
    } else {
        format!("{v:.0}")
    }
}

fn fmt_ms(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v} ms")
    }
}

/// The chart for `rows` (sweep medians), titled `title`. `p99_limit_ms` draws a dashed line.
pub fn chart(title: &str, rows: &[Summary], p99_limit_ms: Option<f64>) -> String {
    let mut labels: Vec<&str> = Vec::new();
    for r in rows {
        if !labels.contains(&r.label.as_str()) {
            labels.push(&r.label);
        }
    }
    let mut levels: Vec<usize> = rows.iter().map(|r| r.connections.max(1)).collect();
    levels.sort_unstable();
    levels.dedup();
    let (cmin, cmax) = (
        *levels.first().unwrap_or(&1) as f64,
        *levels.last().unwrap_or(&1) as f64,
    );
    let plot_w = W - LEFT - RIGHT;
    let x = |c: usize| {
        if cmax <= cmin {
            LEFT + plot_w / 2.0
        } else {
            LEFT + ((c.max(1) as f64).ln() - cmin.ln()) / (cmax.ln() - cmin.ln()) * plot_w
        }
    };
    let h_total = TOP + 2.0 * PANEL_H + GAP + 60.0;
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h_total}" viewBox="0 0 {W} {h_total}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(o, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{}" y="24" font-size="15" font-weight="bold" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        esc(title)
    );

    // Top panel: throughput, linear.
    let rps_max = rows.iter().map(|r| r.rps).fold(0.0, f64::max);
    let ticks = linear_ticks(rps_max);
    let ytop = *ticks.last().unwrap_or(&1.0);
    let y0 = TOP;
    let y_rps = |v: f64| y0 + PANEL_H - v / ytop * PANEL_H;
    panel_frame(&mut o, y0, &levels, &x, "throughput (req/s)");
    for t in &ticks {
        let y = y_rps(*t);
        grid_line(&mut o, y, &fmt_rps(*t));
    }
    // Bottom panel: p99, log scale over whole decades.
    let y1 = TOP + PANEL_H + GAP;
    let p99s: Vec<f64> = rows
        .iter()
        .map(|r| r.p99 as f64 / 1e6)
        .filter(|v| *v > 0.0)
        .collect();
    let mut lo = p99s.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = p99s.iter().copied().fold(0.0, f64::max);
    if let Some(l) = p99_limit_ms {
        lo = lo.min(l);
        hi = hi.max(l);
    }
    if !lo.is_finite() {
        lo = 0.1;
        hi = 10.0;
    }
    let dlo = lo.log10().floor();
    let dhi = hi.log10().ceil().max(dlo + 1.0);
    let y_lat = |ms: f64| {
        let v = ms.max(10f64.powf(dlo)).log10();
        y1 + PANEL_H - (v - dlo) / (dhi - dlo) * PANEL_H
    };
    panel_frame(&mut o, y1, &levels, &x, "p99 latency (log scale)");
    let mut d = dlo;
    while d <= dhi + 1e-9 {
        grid_line(&mut o, y_lat(10f64.powf(d)), &fmt_ms(10f64.powf(d)));
        d += 1.0;
    }
    if let Some(l) = p99_limit_ms {
        let y = y_lat(l);
        let _ = writeln!(
            o,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#555" stroke-dasharray="6,4"/><text x="{}" y="{:.1}" fill="#555">limit {}</text>"##,
            LEFT + plot_w,
            LEFT + plot_w + 6.0,
            y + 4.0,
            fmt_ms(l)
        );
    }
    // X axis labels under both panels.
    for y in [y0, y1] {
        for &c in &levels {
            let _ = writeln!(
                o,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{c}</text>"#,
                x(c),
                y + PANEL_H + 16.0
            );
        }
        let _ = writeln!(
            o,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333">concurrent connections</text>"##,
            LEFT + plot_w / 2.0,
            y + PANEL_H + 32.0
        );
    }
    // Series.
    for (k, label) in labels.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let mut pts: Vec<&Summary> = rows.iter().filter(|r| r.label == *label).collect();
        pts.sort_by_key(|r| r.connections);
        for (yf, val) in [
            (
                &y_rps as &dyn Fn(f64) -> f64,
                (|r: &Summary| r.rps) as fn(&Summary) -> f64,
            ),
            (&y_lat, |r: &Summary| r.p99 as f64 / 1e6),
        ] {
            let path: Vec<String> = pts
                .iter()
                .map(|r| format!("{:.1},{:.1}", x(r.connections), yf(val(r))))
                .collect();
            let _ = writeln!(
                o,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                path.join(" ")
            );
            for r in &pts {
                let _ = writeln!(
                    o,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{colour}"><title>{}: {} conns, {:.0} req/s, p99 {:.2} ms</title></circle>"#,
                    x(r.connections),
                    yf(val(r)),
                    esc(label),
                    r.connections,
                    r.rps,
                    r.p99 as f64 / 1e6
                );
            }
        }
        let ly = TOP + 10.0 + k as f64 * 20.0;
        let lx = LEFT + plot_w + 20.0;
        let _ = writeln!(
            o,
            r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            esc(label)
        );
    }
    o.push_str("</svg>\n");
    o
}

fn panel_frame(o: &mut String, y: f64, levels: &[usize], x: &dyn Fn(usize) -> f64, title: &str) {
    let plot_w = W - LEFT - RIGHT;
    let _ = writeln!(
        o,
        r##"<rect x="{LEFT}" y="{y}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#999"/>"##
    );
    for &c in levels {
        let _ = writeln!(
            o,
            r##"<line x1="{:.1}" x2="{:.1}" y1="{y}" y2="{}" stroke="#eee"/>"##,
            x(c),
            x(c),
            y + PANEL_H
        );
    }
    let _ = writeln!(
        o,
        r#"<text x="{}" y="{}" font-weight="bold">{}</text>"#,
        LEFT,
        y - 8.0,
        esc(title)
    );
}

fn grid_line(o: &mut String, y: f64, label: &str) {
    let plot_w = W - LEFT - RIGHT;
    let _ = writeln!(
        o,
        r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
        LEFT + plot_w,
        LEFT - 6.0,
        y + 4.0,
        esc(label)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(linear_ticks(140_000.0).last().copied(), Some(150_000.0));
        assert_eq!(
            linear_ticks(0.0),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
    }

    #[test]
    fn chart_has_a_line_per_target_and_escapes_labels() {
        let row = |label: &str, c, rps| Summary {
            label: label.into(),
            connections: c,
            rps,
            p99: 1_000_000,
            ..Summary::default()
        };
        let rows = vec![
            row("a<b", 1, 10.0),
            row("a<b", 100, 100.0),
            row("n", 1, 5.0),
        ];
        let svg = chart("t & u", &rows, Some(30.0));
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("a&lt;b") && svg.contains("t &amp; u"));
    }
}
