//! Chrome trace-event JSON (`{"traceEvents":[...]}`), which Perfetto and
//! `chrome://tracing` open.
//!
//! Layout: one process ("goroutines"); one thread lane per P ("P0", ...),
//! per M ("M3") and one for other threads, named by `thread_name` metadata
//! and ordered by `thread_sort_index`. Goroutine execution is a complete
//! ("X") slice named "g42" on its P's lane and its M's lane; M idle time is
//! an "idle" slice; everything else is a thread-scoped instant ("i"). Times
//! are microseconds since the trace started, with nanosecond decimals.

use super::timeline::{json_str, us, Timeline};
use std::fmt::Write;

const PID: u32 = 1;

/// The whole document.
pub(crate) fn render(t: &Timeline) -> String {
    let mut out = String::with_capacity(64 + 160 * (t.slices.len() + t.markers.len()));
    out.push_str("{\"traceEvents\":[\n");
    let mut first = true;
    let mut item = |out: &mut String, s: String| {
        if !first {
            out.push_str(",\n");
        }
        first = false;
        out.push_str(&s);
    };
    item(
        &mut out,
        format!(
            "{{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":{PID},\"tid\":0,\"args\":{{\"name\":\"goroutines\"}}}}"
        ),
    );
    for (i, lane) in t.lanes.iter().enumerate() {
        let tid = lane.tid();
        item(
            &mut out,
            format!(
                "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{PID},\"tid\":{tid},\"args\":{{\"name\":{}}}}}",
                json_str(&lane.name())
            ),
        );
        item(
            &mut out,
            format!(
                "{{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":{PID},\"tid\":{tid},\"args\":{{\"sort_index\":{i}}}}}"
            ),
        );
    }
    for s in &t.slices {
        let mut e = String::new();
        let _ = write!(
            e,
            "{{\"ph\":\"X\",\"name\":{},\"cat\":\"{}\",\"pid\":{PID},\"tid\":{},\"ts\":{},\"dur\":{},\"args\":{{\"goroutine\":{},\"end\":{}}}}}",
            json_str(&s.name),
            if s.g == 0 { "idle" } else { "goroutine" },
            s.lane.tid(),
            us(s.start),
            us(s.end - s.start),
            s.g,
            json_str(&s.detail)
        );
        item(&mut out, e);
    }
    for m in &t.markers {
        item(
            &mut out,
            format!(
                "{{\"ph\":\"i\",\"s\":\"t\",\"name\":{},\"cat\":{},\"pid\":{PID},\"tid\":{},\"ts\":{}}}",
                json_str(&m.label),
                json_str(m.kind.name()),
                m.lane.tid(),
                us(m.ts)
            ),
        );
    }
    let _ = write!(
        out,
        "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{{\"events\":{},\"dropped\":{}}}}}\n",
        t.events, t.dropped
    );
    out
}
