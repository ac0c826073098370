//! Turns the sorted event list into what both writers draw: lanes (one per
//! P, one per M, one for threads that are neither), goroutine slices and
//! point markers.
//!
//! A goroutine slice opens at its `Run` event and closes at the next
//! `Park`, `Yield` or `Exit` recorded on the same P; a slice still open when
//! another `Run` arrives on that P (its end was dropped) or when the trace
//! stops is closed there. Each slice appears twice: on its P's lane and on
//! its M's lane. An M's idle time (`MIdle` to `MWake`) is a slice named
//! "idle" on the M's lane.

use super::recorder::{Event, Kind, NONE};
use std::collections::BTreeMap;

/// Where something is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Lane {
    P(u32),
    M(u32),
    /// Threads that are not Ms (the blocking pool, plain threads).
    Other,
}

impl Lane {
    pub(crate) fn name(self) -> String {
        match self {
            Lane::P(p) => format!("P{p}"),
            Lane::M(m) => format!("M{m}"),
            Lane::Other => "other threads".to_string(),
        }
    }

    /// Chrome's thread id for the lane: Ps first, then Ms, then the rest.
    pub(crate) fn tid(self) -> u64 {
        match self {
            Lane::P(p) => p as u64,
            Lane::M(m) => 100_000 + m as u64,
            Lane::Other => 1_000_000,
        }
    }
}

/// A span of time on a lane.
pub(crate) struct Slice {
    pub(crate) lane: Lane,
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// The goroutine, 0 for an idle slice.
    pub(crate) g: u64,
    /// "g42" or "idle".
    pub(crate) name: String,
    /// How it ended, e.g. "park: chan receive".
    pub(crate) detail: String,
}

/// A point event on a lane.
pub(crate) struct Marker {
    pub(crate) lane: Lane,
    pub(crate) ts: u64,
    pub(crate) kind: Kind,
    pub(crate) label: String,
}

pub(crate) struct Timeline {
    /// Every lane that has something on it, in display order.
    pub(crate) lanes: Vec<Lane>,
    pub(crate) slices: Vec<Slice>,
    pub(crate) markers: Vec<Marker>,
    /// Last event time.
    pub(crate) end: u64,
    pub(crate) events: usize,
    pub(crate) dropped: u64,
}

/// The lane a point event goes on: its P, else its M, else "other".
fn home_lane(e: &Event) -> Lane {
    if e.p != NONE {
        Lane::P(e.p)
    } else if e.m != NONE {
        Lane::M(e.m)
    } else {
        Lane::Other
    }
}

fn label(e: &Event) -> String {
    match e.kind {
        Kind::Spawn if e.arg != 0 => format!("spawn g{} (by g{})", e.g, e.arg),
        Kind::Spawn => format!("spawn g{} (from a thread)", e.g),
        Kind::Park => format!("park g{}: {}", e.g, e.name),
        Kind::Ready => format!("ready g{}", e.g),
        Kind::Steal => format!("steal {} from P{}", e.arg, e.g),
        Kind::SyscallEnter => format!("g{} enters syscall", e.g),
        Kind::SyscallExit => format!("g{} back from syscall", e.g),
        Kind::TimerFire => "timer fires".to_string(),
        Kind::Netpoll => format!("netpoll woke {}", e.arg),
        Kind::HandOff => format!("hand P{} to M{}", e.g, e.arg),
        Kind::MIdle => format!("M gives up P{}", e.g),
        Kind::MWake => format!("M wakes with P{}", e.g),
        k => format!("{} g{}", k.name(), e.g),
    }
}

/// Builds the timeline from events sorted by time.
pub(crate) fn build(events: &[Event], dropped: u64) -> Timeline {
    let end = events.last().map_or(0, |e| e.ts);
    let mut slices = Vec::new();
    let mut markers = Vec::new();
    // Open goroutine slice per P: (g, start, m).
    let mut running: BTreeMap<u32, (u64, u64, u32)> = BTreeMap::new();
    // Open idle slice per M: start.
    let mut idle: BTreeMap<u32, u64> = BTreeMap::new();
    let mut lanes = std::collections::BTreeSet::new();
    let close =
        |slices: &mut Vec<Slice>, p: u32, (g, start, m): (u64, u64, u32), at: u64, how: String| {
            for lane in [Lane::P(p), Lane::M(m)] {
                if lane == Lane::M(NONE) {
                    continue;
                }
                slices.push(Slice {
                    lane,
                    start,
                    end: at,
                    g,
                    name: format!("g{g}"),
                    detail: how.clone(),
                });
            }
        };
    for e in events {
        if e.p != NONE {
            lanes.insert(Lane::P(e.p));
        }
        if e.m != NONE {
            lanes.insert(Lane::M(e.m));
        }
        match e.kind {
            Kind::Run if e.p != NONE => {
                if let Some(open) = running.insert(e.p, (e.g, e.ts, e.m)) {
                    close(&mut slices, e.p, open, e.ts, "end not recorded".into());
                }
            }
            Kind::Park | Kind::Yield | Kind::Exit if e.p != NONE => {
                match running.remove(&e.p) {
                    Some(open) if open.0 == e.g => {
                        let how = match e.kind {
                            Kind::Park => format!("park: {}", e.name),
                            k => k.name().to_string(),
                        };
                        close(&mut slices, e.p, open, e.ts, how);
                    }
                    Some(open) => close(&mut slices, e.p, open, e.ts, "end not recorded".into()),
                    None => {}
                }
                if e.kind == Kind::Park {
                    markers.push(Marker {
                        lane: Lane::P(e.p),
                        ts: e.ts,
                        kind: e.kind,
                        label: label(e),
                    });
                }
            }
            Kind::MIdle if e.m != NONE => {
                idle.insert(e.m, e.ts);
                markers.push(Marker {
                    lane: Lane::M(e.m),
                    ts: e.ts,
                    kind: e.kind,
                    label: label(e),
                });
            }
            Kind::MWake if e.m != NONE => {
                if let Some(start) = idle.remove(&e.m) {
                    slices.push(Slice {
                        lane: Lane::M(e.m),
                        start,
                        end: e.ts,
                        g: 0,
                        name: "idle".into(),
                        detail: format!("woke with P{}", e.g),
                    });
                }
                markers.push(Marker {
                    lane: Lane::M(e.m),
                    ts: e.ts,
                    kind: e.kind,
                    label: label(e),
                });
            }
            Kind::Run | Kind::Park | Kind::Yield | Kind::Exit => {}
            _ => markers.push(Marker {
                lane: home_lane(e),
                ts: e.ts,
                kind: e.kind,
                label: label(e),
            }),
        }
    }
    for (p, open) in std::mem::take(&mut running) {
        close(&mut slices, p, open, end, "still running at stop".into());
    }
    for (m, start) in idle {
        slices.push(Slice {
            lane: Lane::M(m),
            start,
            end,
            g: 0,
            name: "idle".into(),
            detail: "still idle at stop".into(),
        });
    }
    for mk in &markers {
        lanes.insert(mk.lane);
    }
    Timeline {
        lanes: lanes.into_iter().collect(),
        slices,
        markers,
        end,
        events: events.len(),
        dropped,
    }
}

/// `s` as a JSON string literal, with `<`, `>` and `&` escaped too so the
/// result can sit inside an HTML `<script>`.
pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Nanoseconds as Chrome's microseconds.
pub(crate) fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: u64, kind: Kind, p: u32, g: u64) -> Event {
        Event {
            ts,
            kind,
            p,
            m: 3,
            g,
            arg: 0,
            name: "chan receive",
        }
    }

    #[test]
    fn run_then_park_is_one_slice_on_the_p_and_one_on_the_m() {
        let t = build(&[ev(10, Kind::Run, 1, 42), ev(30, Kind::Park, 1, 42)], 0);
        assert_eq!(t.slices.len(), 2);
        assert_eq!(t.slices[0].lane, Lane::P(1));
        assert_eq!(t.slices[1].lane, Lane::M(3));
        assert_eq!((t.slices[0].start, t.slices[0].end), (10, 30));
        assert_eq!(t.slices[0].name, "g42");
        assert_eq!(t.slices[0].detail, "park: chan receive");
        assert_eq!(t.lanes, vec![Lane::P(1), Lane::M(3)]);
    }

    #[test]
    fn a_slice_left_open_is_closed_at_the_next_run_or_at_stop() {
        let t = build(
            &[
                ev(10, Kind::Run, 0, 1),
                ev(20, Kind::Run, 0, 2),
                ev(50, Kind::Ready, 0, 9),
            ],
            0,
        );
        let p0: Vec<_> = t.slices.iter().filter(|s| s.lane == Lane::P(0)).collect();
        assert_eq!((p0[0].g, p0[0].end), (1, 20));
        assert_eq!((p0[1].g, p0[1].end), (2, 50));
    }

    #[test]
    fn json_strings_escape_quotes_controls_and_html() {
        assert_eq!(
            json_str("a\"b\\c\n</script>"),
            r#""a\"b\\c\n\u003c/script\u003e""#
        );
    }
}
