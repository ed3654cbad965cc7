//! The deployment files watch only metrics Herald exports: every metric named by a query of
//! the Grafana dashboards (`deploy/grafana/*.json`) and by an expression or annotation of the
//! Prometheus rules (`deploy/prometheus/alerts.yaml`) is one README.md's "Metrics" section
//! lists (and another test holds `/metrics` to that list). A histogram's series (`_bucket`,
//! `_sum`, `_count`) count as its own name. Every panel's queries name at least one Herald
//! metric (or `up`), on the dashboard's `${datasource}`.
//!
//! Pure file checks: no service runs. The rules themselves are tested by promtool
//! (`scripts/check-deploy`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

const HISTOGRAM_SERIES: [&str; 3] = ["_bucket", "_sum", "_count"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The identifiers of `text` (PromQL names: letters, digits, `_` and `:`), in order.
fn identifiers(text: &str) -> Vec<&str> {
    let is_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let is_part = |c: char| is_start(c) || c.is_ascii_digit();
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match start {
            Some(s) if !is_part(c) => {
                out.push(&text[s..i]);
                start = None;
            }
            None if is_start(c) => start = Some(i),
            _ => {}
        }
    }
    out
}

/// `expr` without its string literals ("…", '…', `…`): label values are not metric names.
fn without_strings(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut quote = None;
    let mut escaped = false;
    for c in expr.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q != '`' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                    out.push(' ');
                }
            }
            None if matches!(c, '"' | '\'' | '`') => quote = Some(c),
            None => out.push(c),
        }
    }
    out
}

/// The `herald_*` names in `text`.
fn herald_names(text: &str) -> BTreeSet<String> {
    identifiers(text)
        .into_iter()
        .filter(|name| name.starts_with("herald_"))
        .map(str::to_string)
        .collect()
}

/// Every metric name README.md's "## Metrics" section lists in backticks.
fn documented() -> BTreeSet<String> {
    let readme = read("README.md");
    let start = readme
        .find("\n## Metrics\n")
        .expect("README.md has a \"## Metrics\" section");
    let section = &readme[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    let section = &section[..end];
    let names: BTreeSet<String> = section
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(herald_names)
        .collect();
    assert!(
        names.len() >= 10,
        "README.md's Metrics section lists only {names:?}"
    );
    names
}

/// `name` as documented: itself, or the histogram it is a series of. None if neither is.
fn resolve(name: &str, documented: &BTreeSet<String>) -> Option<String> {
    if documented.contains(name) {
        return Some(name.to_string());
    }
    HISTOGRAM_SERIES
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .find(|base| documented.contains(*base))
        .map(str::to_string)
}

/// One place a deployment file names metrics: where (for the failure message) and the names.
struct Use {
    place: String,
    names: BTreeSet<String>,
}

/// (panel title, expr) of every target of `dashboard`'s panels, rows' panels included, after
/// checking that each panel draws on the `${datasource}` variable.
fn dashboard_targets(file: &str, dashboard: &Value) -> Vec<(String, String)> {
    let mut panels: Vec<&Value> = Vec::new();
    for panel in dashboard["panels"]
        .as_array()
        .expect("a dashboard has panels")
    {
        panels.push(panel);
        if let Some(inner) = panel["panels"].as_array() {
            panels.extend(inner);
        }
    }
    let mut out = Vec::new();
    for panel in panels {
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().unwrap_or("?").to_string();
        let targets = panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        assert!(!targets.is_empty(), "{file}: panel {title:?} has no query");
        for target in targets {
            for datasource in [&panel["datasource"], &target["datasource"]] {
                assert_eq!(
                    datasource["uid"], "${datasource}",
                    "{file}: panel {title:?} must use the ${{datasource}} variable"
                );
            }
            let expr = target["expr"].as_str().unwrap_or_default();
            assert!(
                !expr.trim().is_empty(),
                "{file}: panel {title:?} has an empty query"
            );
            out.push((title.clone(), expr.to_string()));
        }
    }
    out
}

fn dashboards() -> Vec<Use> {
    let dir = repo().join("deploy/grafana");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/grafana exists")
        .map(|entry| entry.expect("listing deploy/grafana").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboard in deploy/grafana");
    let mut uses = Vec::new();
    for path in files {
        let file = format!(
            "deploy/grafana/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let dashboard: Value = serde_json::from_str(&read(&file))
            .unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        let variables = dashboard["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            variables.iter().any(|v| v["name"] == "datasource"
                && v["type"] == "datasource"
                && v["query"] == "prometheus"),
            "{file} has no Prometheus datasource variable named `datasource`"
        );
        for (title, expr) in dashboard_targets(&file, &dashboard) {
            let code = without_strings(&expr);
            let names = herald_names(&code);
            assert!(
                !names.is_empty() || identifiers(&code).contains(&"up"),
                "{file}: panel {title:?} queries no Herald metric: {expr}"
            );
            uses.push(Use {
                place: format!("{file}, panel {title:?}"),
                names,
            });
        }
    }
    uses
}

fn rules() -> Vec<Use> {
    let file = "deploy/prometheus/alerts.yaml";
    let docs = YamlLoader::load_from_str(&read(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut uses = Vec::new();
    for group in docs[0]["groups"].as_vec().expect("rule groups") {
        for rule in group["rules"].as_vec().expect("a group's rules") {
            let name = rule["alert"]
                .as_str()
                .or_else(|| rule["record"].as_str())
                .expect("a rule is an alert or a recording rule");
            let expr = rule["expr"].as_str().expect("a rule has an expr");
            let names = herald_names(&without_strings(expr));
            assert!(
                !names.is_empty() || identifiers(expr).contains(&"up"),
                "{file}: {name} queries no Herald metric: {expr}"
            );
            uses.push(Use {
                place: format!("{file}, {name} (expr)"),
                names,
            });
            // The queries an annotation tells the operator to run, too.
            if let Yaml::Hash(annotations) = &rule["annotations"] {
                for (key, text) in annotations {
                    uses.push(Use {
                        place: format!("{file}, {name} ({})", key.as_str().unwrap_or("?")),
                        names: herald_names(text.as_str().unwrap_or_default()),
                    });
                }
            }
        }
    }
    uses
}

#[test]
fn dashboards_and_alerts_name_only_documented_metrics() {
    let documented = documented();
    let uses: Vec<Use> = dashboards().into_iter().chain(rules()).collect();
    let mut unknown = Vec::new();
    let mut used = BTreeSet::new();
    for u in &uses {
        for name in &u.names {
            match resolve(name, &documented) {
                Some(metric) => {
                    used.insert(metric);
                }
                None => unknown.push(format!("{}: {name}", u.place)),
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "metrics that README.md's \"## Metrics\" section does not list (Herald does not export \
         them, or the README misses them):\n  {}",
        unknown.join("\n  ")
    );
    // The signal path's spine is watched at all.
    for metric in [
        "herald_ingest_signals_total",
        "herald_dispatcher_deliveries_total",
        "herald_telegram_requests_total",
    ] {
        assert!(used.contains(metric), "nothing watches {metric}");
    }
}

#[test]
fn names_are_found_in_promql() {
    let expr = r#"histogram_quantile(0.99, sum by (le) (rate(herald_dispatcher_send_duration_seconds_bucket{job=~"herald_x.*"}[5m]))) / on() up"#;
    let code = without_strings(expr);
    assert_eq!(
        herald_names(&code).into_iter().collect::<Vec<_>>(),
        ["herald_dispatcher_send_duration_seconds_bucket"]
    );
    assert!(identifiers(&code).contains(&"up"));
    let documented = BTreeSet::from(["herald_dispatcher_send_duration_seconds".to_string()]);
    assert_eq!(
        resolve(
            "herald_dispatcher_send_duration_seconds_bucket",
            &documented
        )
        .as_deref(),
        Some("herald_dispatcher_send_duration_seconds")
    );
    assert_eq!(resolve("herald_dispatcher_sends_total", &documented), None);
}
