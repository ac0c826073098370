//! One SVG bar chart per case, written by hand (no plotting crate), for the
//! README to embed. One panel per (size, metric); one row per peer: a bar
//! to the median, a whisker from min to max, the value at the bar's end.
//! Peers without a number show their reason in grey instead of a bar.

use std::fmt::Write as _;

use super::summary::{format_value, summarize, Summary, TextKind};
use super::CaseResults;
use crate::cases::Better;
use crate::peer::Peer;

const WIDTH: f64 = 860.0;
const LABEL_X: f64 = 12.0;
const BAR_X: f64 = 120.0;
const BAR_SPAN: f64 = 560.0;
const ROW: f64 = 24.0;
const BAR_HEIGHT: f64 = 16.0;
const PANEL_HEAD: f64 = 48.0;
const PANEL_GAP: f64 = 18.0;

fn colour(peer: Peer) -> &'static str {
    match peer {
        Peer::OursPinned => "#2b6cb0",
        Peer::OursGo => "#63b3ed",
        Peer::Go => "#00add8",
        Peer::Tokio => "#c05621",
        Peer::May => "#805ad5",
        Peer::Threads => "#718096",
    }
}

pub fn render(results: &CaseResults, runs_per_peer: usize) -> String {
    let case = results.case;
    let mut body = String::new();
    let mut y = 0.0;
    for size in &results.sizes {
        for metric in case.metrics {
            let summaries: Vec<(Peer, Summary)> = size
                .cells
                .iter()
                .map(|cell| (cell.peer, summarize(&cell.runs, metric.key)))
                .collect();
            let scale = summaries
                .iter()
                .filter_map(|(_, summary)| match summary {
                    Summary::Numbers { max, .. } => Some(*max),
                    Summary::Text(..) => None,
                })
                .fold(0.0_f64, f64::max);
            let better = match metric.better {
                Better::Lower => "lower is better",
                Better::Higher => "higher is better",
            };
            let _ = writeln!(
                body,
                r#"<text x="{LABEL_X}" y="{:.1}" class="title">{} — {} — {}</text>"#,
                y + 18.0,
                escape(case.name),
                escape(&case.size_unit.describe(size.size)),
                escape(metric.key),
            );
            let _ = writeln!(
                body,
                r#"<text x="{LABEL_X}" y="{:.1}" class="sub">{}; {better}. Bar: median of {runs_per_peer} run(s); whisker: min–max.</text>"#,
                y + 36.0,
                escape(metric.unit),
            );
            y += PANEL_HEAD;
            for (peer, summary) in &summaries {
                let middle = y + ROW / 2.0;
                let _ = writeln!(
                    body,
                    r#"<text x="{LABEL_X}" y="{:.1}" class="peer">{}</text>"#,
                    middle + 4.0,
                    peer.name()
                );
                match summary {
                    Summary::Numbers {
                        median, min, max, ..
                    } if scale > 0.0 => {
                        let to_x = |value: f64| BAR_X + BAR_SPAN * (value / scale).max(0.0);
                        let _ = writeln!(
                            body,
                            r#"<rect x="{BAR_X}" y="{:.1}" width="{:.1}" height="{BAR_HEIGHT}" fill="{}"/>"#,
                            middle - BAR_HEIGHT / 2.0,
                            to_x(*median) - BAR_X,
                            colour(*peer)
                        );
                        let _ = writeln!(
                            body,
                            r#"<path d="M{:.1} {middle:.1}H{:.1}M{:.1} {:.1}V{:.1}M{:.1} {:.1}V{:.1}" class="whisker"/>"#,
                            to_x(*min),
                            to_x(*max),
                            to_x(*min),
                            middle - 4.0,
                            middle + 4.0,
                            to_x(*max),
                            middle - 4.0,
                            middle + 4.0,
                        );
                        let _ = writeln!(
                            body,
                            r#"<text x="{:.1}" y="{:.1}" class="value">{}</text>"#,
                            to_x(*max) + 6.0,
                            middle + 4.0,
                            format_value(*median)
                        );
                    }
                    Summary::Numbers { median, .. } => {
                        let _ = writeln!(
                            body,
                            r#"<text x="{BAR_X}" y="{:.1}" class="value">{}</text>"#,
                            middle + 4.0,
                            format_value(*median)
                        );
                    }
                    Summary::Text(kind, text) => {
                        let class = match kind {
                            TextKind::Absent => "absent",
                            TextKind::Failure | TextKind::Verdict => "bad",
                        };
                        let _ = writeln!(
                            body,
                            r#"<text x="{BAR_X}" y="{:.1}" class="{class}">{}</text>"#,
                            middle + 4.0,
                            escape(&shorten(text, 105))
                        );
                    }
                }
                y += ROW;
            }
            y += PANEL_GAP;
        }
    }
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y:.0}" viewBox="0 0 {WIDTH} {y:.0}" font-family="Helvetica, Arial, sans-serif">
<style>
.title {{ font-size: 15px; font-weight: bold; fill: #1a202c; }}
.sub {{ font-size: 12px; fill: #4a5568; }}
.peer {{ font-size: 13px; fill: #1a202c; }}
.value {{ font-size: 12px; fill: #1a202c; }}
.absent {{ font-size: 12px; font-style: italic; fill: #a0aec0; }}
.bad {{ font-size: 12px; fill: #c53030; }}
.whisker {{ stroke: #1a202c; stroke-width: 1.2; fill: none; }}
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
{body}</svg>
"##
    )
}

fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let cut: String = text.chars().take(limit).collect();
    format!("{cut}…")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
