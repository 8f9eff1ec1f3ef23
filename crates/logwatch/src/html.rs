//! The batch report as one self-contained HTML page: summary, a
//! requests-per-minute curve (inline SVG), status mix, top lists, attacks
//! by class with examples, floods with their evidence, decisions. Every
//! value from the log is escaped: the log is the attacker's text.

use std::fmt::Write;

use crate::record::lossy;
use crate::report::Report;
use crate::time::format_rfc3339;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn time(ms: Option<i64>) -> String {
    ms.map(format_rfc3339).unwrap_or_else(|| "—".into())
}

fn svg_curve(values: &[(i64, u64)]) -> String {
    if values.len() < 2 {
        return String::new();
    }
    let (width, height) = (900.0, 160.0);
    let max = values.iter().map(|v| v.1).max().unwrap_or(1).max(1) as f64;
    let (t0, t1) = (values[0].0 as f64, values[values.len() - 1].0 as f64);
    let span = (t1 - t0).max(1.0);
    let mut points = String::new();
    for (t, v) in values {
        let x = (*t as f64 - t0) / span * width;
        let y = height - (*v as f64 / max) * (height - 10.0);
        let _ = write!(points, "{x:.1},{y:.1} ");
    }
    format!(
        "<svg viewBox=\"0 0 {width} {height}\" width=\"100%\" height=\"{height}\" role=\"img\" aria-label=\"requests per minute\"><polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"1.5\" points=\"{points}\"/><text x=\"4\" y=\"12\" font-size=\"11\">max {max:.0}/min</text></svg>"
    )
}

/// Renders the report as an HTML page.
pub fn render_html(report: &Report) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>sitewarden logwatch report</title><style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}}th{{background:#f3f3f3}}code{{word-break:break-all}}.n{{text-align:right}}</style></head><body><h1>Access log analysis</h1>"
    );
    let _ = write!(
        h,
        "<p>{} lines, {} requests, {} bad lines; from {} to {}; {} attack requests; {} flood(s); {} address(es) to block.</p>",
        report.lines,
        report.requests,
        report.bad_lines,
        time(report.first_time),
        time(report.last_time),
        report.attacks_total,
        report.floods.len(),
        report.decisions.len()
    );
    h.push_str("<h2>Requests per minute</h2>");
    let curve: Vec<(i64, u64)> = report
        .requests_per_minute
        .iter()
        .map(|m| (m.minute_ms, m.requests))
        .collect();
    h.push_str(&svg_curve(&curve));
    let s = &report.status_mix;
    let _ = write!(
        h,
        "<h2>Status mix</h2><table><tr><th>1xx</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th>other</th></tr><tr><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr></table>",
        s.informational, s.success, s.redirect, s.client_error, s.server_error, s.other
    );
    h.push_str("<h2>Attacks by class</h2><table><tr><th>class</th><th>requests</th><th>addresses</th><th>examples</th></tr>");
    for class in &report.attacks_by_class {
        let examples: Vec<String> = class
            .examples
            .iter()
            .map(|a| {
                format!(
                    "{} {} <code>{}</code> ({}, {:.2})",
                    escape(&format_rfc3339(a.time_ms)),
                    a.ip,
                    escape(&a.request),
                    escape(&a.rule),
                    a.confidence
                )
            })
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td></tr>",
            class.class.as_str(),
            class.requests,
            class.ips,
            examples.join("<br>")
        );
    }
    h.push_str("</table><h2>Floods</h2>");
    for flood in &report.floods {
        let sources: Vec<String> = flood
            .top_sources
            .iter()
            .map(|s| {
                format!(
                    "{} ({}, {:.1}%{})",
                    s.ip,
                    s.requests,
                    s.share * 100.0,
                    if s.new { ", new" } else { "" }
                )
            })
            .collect();
        let paths: Vec<String> = flood
            .top_paths
            .iter()
            .map(|p| format!("<code>{}</code> ({})", escape(&p.value), p.count))
            .collect();
        let curve: Vec<(i64, u64)> = flood
            .rate_curve
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64, u64::from(*v)))
            .collect();
        let _ = write!(
            h,
            "<h3>{:?} flood {}{} → {}</h3><p>{}</p>{}<p>Top sources: {}</p><p>Top paths: {}</p>",
            flood.kind,
            escape(&flood.site),
            escape(&format_rfc3339(flood.start_ms)),
            escape(&format_rfc3339(flood.end_ms)),
            escape(&flood.explanation),
            svg_curve(&curve),
            sources.join(", "),
            paths.join(", ")
        );
    }
    h.push_str("<h2>Decisions</h2><table><tr><th>address</th><th>action</th><th>until</th><th>why</th></tr>");
    for d in report.decisions.iter().chain(&report.spared) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td></tr>",
            d.ip,
            d.action,
            escape(&format_rfc3339(d.until_ms)),
            escape(&d.explanation).replace('\n', "<br>")
        );
    }
    h.push_str("</table>");
    for (title, list) in [
        ("Top paths", &report.top_paths),
        ("Top user agents", &report.top_user_agents),
    ] {
        let _ = write!(h, "<h2>{title}</h2><table>");
        for item in list {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td class=n>{}</td></tr>",
                escape(&item.value),
                item.count
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Top addresses</h2><table><tr><th>address</th><th>requests</th><th>first seen</th><th>last seen</th></tr>");
    for ip in &report.top_ips {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=n>{}</td><td>{}</td><td>{}</td></tr>",
            ip.ip,
            ip.requests,
            format_rfc3339(ip.first_ms),
            format_rfc3339(ip.last_ms)
        );
    }
    h.push_str("</table><h2>Bad lines</h2><table>");
    for bad in &report.bad_line_samples {
        let _ = write!(
            h,
            "<tr><td>{}:{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&bad.file),
            bad.offset,
            escape(&bad.reason),
            escape(&lossy(bad.sample.as_bytes()))
        );
    }
    h.push_str("</table></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_attacker_text() {
        assert_eq!(escape("<script>\"'&"), "&lt;script&gt;&quot;&#39;&amp;");
    }
}
