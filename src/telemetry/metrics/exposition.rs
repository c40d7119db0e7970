//! The two text formats `/metrics` speaks: OpenMetrics 1.0 (what prometheus-client writes, and
//! what Prometheus asks for first) and the classic Prometheus text format 0.0.4 (what plain
//! HTTP clients and `promtool check metrics` read).
//!
//! The formats differ, for what the switch exposes, in three places: OpenMetrics names a
//! counter family without its `_total` suffix in `# HELP`/`# TYPE`, it has `# UNIT` lines, and
//! it ends with `# EOF`. The classic text is derived from the OpenMetrics text line by line.

use std::collections::HashSet;

/// The Content-Type of OpenMetrics text.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The Content-Type of the Prometheus text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which text format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0.
    OpenMetrics,
    /// Prometheus text 0.0.4.
    Prometheus,
}

impl Format {
    /// OpenMetrics when the `Accept` header names it, the Prometheus text format otherwise.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    /// The Content-Type of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::Prometheus => PROMETHEUS_CONTENT_TYPE,
        }
    }
}

/// The Prometheus text format of an OpenMetrics exposition.
pub(super) fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let rewritten = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match rewritten {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn counter_families_get_their_total_suffix_and_openmetrics_lines_go() {
        let openmetrics = "# HELP x_calls Calls.\n# TYPE x_calls counter\nx_calls_total{a=\"b\"} 3\n\
                           # HELP x_age_seconds Age.\n# TYPE x_age_seconds gauge\n\
                           # UNIT x_age_seconds seconds\nx_age_seconds 2\n# EOF\n";
        assert_eq!(
            to_prometheus_text(openmetrics),
            "# HELP x_calls_total Calls.\n# TYPE x_calls_total counter\nx_calls_total{a=\"b\"} 3\n\
             # HELP x_age_seconds Age.\n# TYPE x_age_seconds gauge\nx_age_seconds 2\n"
        );
    }

    #[test]
    fn prometheus_asking_for_openmetrics_gets_it_and_others_get_plain_text() {
        let prometheus =
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Prometheus);
        assert_eq!(Format::negotiate(None), Format::Prometheus);
    }
}
