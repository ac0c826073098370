//! One cell's runs boiled down to what a table row shows for one metric:
//! median and spread of the numbers, or the reason there are none.
//!
//! Precedence, first match wins: any failed or timed-out run makes the cell
//! a failure (a crash is not hidden behind the runs that worked), shown by
//! its most frequent reason; then
//! not-built, unsupported and skipped; then numbers, with verdicts such as
//! `starved` counted beside them.

use super::RunOutcome;

pub enum Summary {
    Numbers {
        median: f64,
        min: f64,
        max: f64,
        runs: usize,
        /// Runs that gave a verdict (`starved`) instead of a number.
        verdicts: Vec<String>,
    },
    /// No number to show, and why.
    Text(TextKind, String),
}

/// What kind of reason a `Summary::Text` gives, so charts can tell a bad
/// result from an absent one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TextKind {
    /// A run crashed or timed out.
    Failure,
    /// The runs gave a non-numeric result, such as `starved`.
    Verdict,
    /// Not built, unsupported or skipped: nothing was measured.
    Absent,
}

impl Summary {
    pub fn median(&self) -> Option<f64> {
        match self {
            Summary::Numbers { median, .. } => Some(*median),
            Summary::Text(..) => None,
        }
    }
}

/// The value of `metric` in each run that recorded it, in run order.
pub fn values<'a>(runs: &'a [RunOutcome], metric: &'a str) -> impl Iterator<Item = f64> + 'a {
    runs.iter().filter_map(move |run| match run {
        RunOutcome::Metrics(metrics) => metrics
            .iter()
            .find(|(key, _)| key == metric)
            .map(|(_, value)| *value),
        _ => None,
    })
}

pub fn summarize(runs: &[RunOutcome], metric: &str) -> Summary {
    let total = runs.len();
    let out_of = |count: usize| {
        if count == total {
            String::new()
        } else {
            format!(" ({count} of {total} runs)")
        }
    };
    let failures: Vec<&RunOutcome> = runs
        .iter()
        .filter(|run| matches!(run, RunOutcome::Failed(_) | RunOutcome::Timeout { .. }))
        .collect();
    let described: Vec<String> = failures
        .iter()
        .map(|failure| match failure {
            RunOutcome::Timeout { after_secs } => format!("timeout after {after_secs} s"),
            RunOutcome::Failed(reason) => format!("failed: {reason}"),
            _ => unreachable!("filtered to failures"),
        })
        .collect();
    // The most frequent reason: a crash can leave a knock-on panic first in
    // one run's stderr, while the other runs all name the cause.
    let most_frequent = described.iter().max_by_key(|candidate| {
        described
            .iter()
            .filter(|reason| reason == candidate)
            .count()
    });
    if let Some(what) = most_frequent {
        return Summary::Text(
            TextKind::Failure,
            format!("{what}{}", out_of(failures.len())),
        );
    }
    for run in runs {
        match run {
            RunOutcome::NotBuilt(features) => {
                return Summary::Text(
                    TextKind::Absent,
                    format!("not built (needs {})", features.join(", ")),
                )
            }
            RunOutcome::Unsupported(reason) => {
                return Summary::Text(TextKind::Absent, format!("unsupported: {reason}"))
            }
            RunOutcome::Skipped(reason) => {
                return Summary::Text(TextKind::Absent, format!("skipped: {reason}"))
            }
            _ => {}
        }
    }
    let mut numbers: Vec<f64> = values(runs, metric).collect();
    let verdicts: Vec<String> = runs
        .iter()
        .filter_map(|run| match run {
            RunOutcome::Verdict(verdict) => Some(verdict.clone()),
            _ => None,
        })
        .collect();
    if numbers.is_empty() {
        return match verdicts.first() {
            Some(verdict) => Summary::Text(
                TextKind::Verdict,
                format!("{verdict}{}", out_of(verdicts.len())),
            ),
            None => Summary::Text(TextKind::Failure, format!("no `{metric}` in any run")),
        };
    }
    numbers.sort_by(f64::total_cmp);
    Summary::Numbers {
        median: median_of_sorted(&numbers),
        min: numbers[0],
        max: numbers[numbers.len() - 1],
        runs: numbers.len(),
        verdicts,
    }
}

fn median_of_sorted(numbers: &[f64]) -> f64 {
    let middle = numbers.len() / 2;
    if numbers.len() % 2 == 1 {
        numbers[middle]
    } else {
        (numbers[middle - 1] + numbers[middle]) / 2.0
    }
}

/// A value with as many digits as a reader can use: `1,234,567`, `312.4`,
/// `12.35`, `0.412`.
pub fn format_value(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1000.0 {
        let rounded = value.round();
        let sign = if rounded < 0.0 { "-" } else { "" };
        format!("{sign}{}", crate::cases::thousands(rounded.abs() as u64))
    } else if magnitude >= 100.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(value: f64) -> RunOutcome {
        RunOutcome::Metrics(vec![("ns".to_string(), value)])
    }

    #[test]
    fn a_failed_run_hides_the_numbers_of_the_others() {
        let runs = [
            measured(1.0),
            RunOutcome::Failed("boom".into()),
            measured(3.0),
        ];
        match summarize(&runs, "ns") {
            Summary::Text(TextKind::Failure, text) => {
                assert_eq!(text, "failed: boom (1 of 3 runs)")
            }
            _ => panic!("a failure must not summarize to numbers"),
        }
    }

    #[test]
    fn the_most_frequent_failure_reason_is_shown() {
        let runs = [
            RunOutcome::Failed("knock-on".into()),
            RunOutcome::Failed("cause".into()),
            RunOutcome::Failed("cause".into()),
        ];
        match summarize(&runs, "ns") {
            Summary::Text(TextKind::Failure, text) => assert_eq!(text, "failed: cause"),
            _ => panic!("expected a failure"),
        }
    }

    #[test]
    fn a_timeout_is_shown_as_such() {
        let runs = [RunOutcome::Timeout { after_secs: 30 }];
        match summarize(&runs, "ns") {
            Summary::Text(TextKind::Failure, text) => assert_eq!(text, "timeout after 30 s"),
            _ => panic!("a timeout must not summarize to numbers"),
        }
    }

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_pair() {
        let runs = [measured(4.0), measured(1.0), measured(3.0), measured(2.0)];
        match summarize(&runs, "ns") {
            Summary::Numbers {
                median,
                min,
                max,
                runs,
                ..
            } => assert_eq!((median, min, max, runs), (2.5, 1.0, 4.0, 4)),
            Summary::Text(_, text) => panic!("expected numbers, got {text}"),
        }
    }

    #[test]
    fn verdicts_without_numbers_show_the_verdict() {
        let runs = [
            RunOutcome::Verdict("starved".into()),
            RunOutcome::Verdict("starved".into()),
        ];
        match summarize(&runs, "ns") {
            Summary::Text(TextKind::Verdict, text) => assert_eq!(text, "starved"),
            _ => panic!("expected the verdict"),
        }
    }

    #[test]
    fn not_built_names_the_missing_features() {
        let runs = [RunOutcome::NotBuilt(vec![
            "ours-chan".into(),
            "ours-time".into(),
        ])];
        match summarize(&runs, "ns") {
            Summary::Text(TextKind::Absent, text) => {
                assert_eq!(text, "not built (needs ours-chan, ours-time)")
            }
            _ => panic!("expected not built"),
        }
    }

    #[test]
    fn values_keep_the_digits_a_reader_can_use() {
        assert_eq!(format_value(1_234_567.4), "1,234,567");
        assert_eq!(format_value(312.44), "312.4");
        assert_eq!(format_value(12.345), "12.35");
        assert_eq!(format_value(0.41234), "0.412");
    }
}
