//! The batch report as a printable HTML page (A4 print styles).

use askama::Template;

use crate::report::batch::BatchReport;

/// The report's style sheet, served at `/static/report.css` and embedded in
/// files written by `tem report --html`.
pub const CSS: &str = include_str!("../../assets/static/report.css");

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    r: &'a BatchReport,
    generated: String,
    first_scan: String,
    last_scan: String,
    inline_css: Option<&'a str>,
    css_href: String,
}

impl ReportPage<'_> {
    fn time(&self, t: &jiff::Timestamp) -> String {
        vietnam_time(*t)
    }
}

/// A time as people in Vietnam read it (UTC+7): "17:03 27/11/2026".
pub fn local_time(t: jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .strftime("%H:%M %d/%m/%Y")
        .to_string()
}

fn vietnam_time(t: jiff::Timestamp) -> String {
    format!("{} (UTC+7)", local_time(t))
}

/// `css_href` links the style sheet (served pages, whose CSP forbids inline
/// styles); `None` embeds it (a file to keep or print).
pub fn html(report: &BatchReport, css_href: Option<&str>) -> Result<String, askama::Error> {
    ReportPage {
        r: report,
        generated: vietnam_time(report.generated_at),
        first_scan: report
            .scans
            .first_scan_at
            .map(vietnam_time)
            .unwrap_or_else(|| "—".into()),
        last_scan: report
            .scans
            .last_scan_at
            .map(vietnam_time)
            .unwrap_or_else(|| "—".into()),
        inline_css: css_href.is_none().then_some(CSS),
        css_href: css_href.unwrap_or_default().to_string(),
    }
    .render()
}
