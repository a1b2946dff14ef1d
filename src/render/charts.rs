//! Small SVG charts for the dashboard's pages, drawn on the server: no
//! script and no CDN, a few hundred bytes on a cheap phone.

/// Escapes text for HTML or SVG.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Scans per day (the last 60 days with scans) as an SVG bar chart, drawn
/// here: no script, no CDN. The largest count labels the scale; `label`
/// names the chart for screen readers.
pub fn scans_per_day(per_day: &[(String, u64)], label: &str) -> String {
    if per_day.is_empty() {
        return String::new();
    }
    let days = &per_day[per_day.len().saturating_sub(60)..];
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let (w, h, pad) = (600.0_f64, 160.0_f64, 22.0_f64);
    let bar = (w - 2.0 * pad) / days.len() as f64;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(label)
    );
    svg.push_str(&format!(
        r#"<text x="{pad}" y="14" class="axis">{max}</text><line x1="{pad}" y1="{}" x2="{}" y2="{}" class="base"/>"#,
        h - pad,
        w - pad,
        h - pad
    ));
    for (i, (day, n)) in days.iter().enumerate() {
        let bh = ((h - 2.0 * pad) * (*n as f64) / max as f64).max(1.0);
        let x = pad + i as f64 * bar;
        svg.push_str(&format!(
            r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}"><title>{}: {n}</title></rect>"#,
            h - pad - bh,
            (bar - 1.0).max(1.0),
            escape(day)
        ));
    }
    if let (Some((first, _)), Some((last, _))) = (days.first(), days.last()) {
        svg.push_str(&format!(
            r#"<text x="{pad}" y="{}" class="axis">{}</text><text x="{}" y="{}" class="axis" text-anchor="end">{}</text>"#,
            h - 6.0,
            escape(first),
            w - pad,
            h - 6.0,
            escape(last)
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// Scans per province as horizontal SVG bars, most first (at most 12):
/// (province, scans) pairs.
pub fn scans_by_province(rows: &[(&str, u64)], label: &str) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let rows = &rows[..rows.len().min(12)];
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let (w, row_h, label_w) = (600.0_f64, 22.0_f64, 230.0_f64);
    let h = row_h * rows.len() as f64 + 4.0;
    let mut svg = format!(
        r#"<svg class="chart" id="province-chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(label)
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 2.0 + i as f64 * row_h;
        let bw = ((w - label_w - 60.0) * r.1 as f64 / max as f64).max(1.0);
        svg.push_str(&format!(
            r#"<text x="4" y="{:.1}" class="axis">{}</text><rect x="{label_w}" y="{:.1}" width="{bw:.1}" height="{:.1}"/><text x="{:.1}" y="{:.1}" class="axis">{}</text>"#,
            y + 15.0,
            escape(r.0),
            y + 3.0,
            row_h - 6.0,
            label_w + bw + 6.0,
            y + 15.0,
            r.1
        ));
    }
    svg.push_str("</svg>");
    svg
}
