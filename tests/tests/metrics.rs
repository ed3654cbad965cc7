//! `/metrics` and README.md's "Metrics" table hold each other: after one signal reaches a
//! trader and one command is answered, every metric the table lists is on `/metrics` with its
//! documented type and exactly its documented labels, and every `herald_` metric on
//! `/metrics` is in the table. With `herald all` (one registry, read on each of the four
//! metrics addresses) and with the four binaries (each read; together they show every
//! metric). The public API ports of ingest-api and admin-api answer `/metrics` 404.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, bail, ensure};
use herald_testkit::db::Backend;
use herald_tests::{Stack, WAIT, buy_signal, trader};

/// The addresses `/metrics` is read from: ingest-api's and admin-api's operational one,
/// the dispatcher's and the command-bot's.
const SERVICES: [&str; 4] = ["INGEST", "ADMIN", "DISPATCHER", "COMMAND_BOT"];

/// One row of the README's table.
#[derive(Debug)]
struct Documented {
    /// `counter`, `gauge` or `histogram`.
    kind: String,
    labels: BTreeSet<String>,
}

/// README.md's "Metrics" table, by metric name.
fn documented() -> anyhow::Result<BTreeMap<String, Documented>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path)?;
    let start = readme
        .find("\n## Metrics\n")
        .context("README.md has a Metrics section")?;
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut metrics = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `herald_")) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        ensure!(cells.len() == 4, "a row of four cells: {row}");
        let name = cells[0].trim_matches('`').to_string();
        let kind = cells[1]
            .split([',', ' '])
            .next()
            .unwrap_or_default()
            .to_string();
        ensure!(
            ["counter", "gauge", "histogram"].contains(&kind.as_str()),
            "{name}: type {:?}",
            cells[1]
        );
        let documented = Documented {
            kind,
            labels: label_names(cells[2]),
        };
        ensure!(
            metrics.insert(name.clone(), documented).is_none(),
            "{name} twice"
        );
    }
    ensure!(metrics.len() >= 20, "the table lists {}", metrics.len());
    Ok(metrics)
}

/// The label names of a labels cell: each backticked word followed by `:` (`` `outcome`:
/// `accepted`, … ``); `—` has none.
fn label_names(cell: &str) -> BTreeSet<String> {
    let parts: Vec<&str> = cell.split('`').collect();
    (1..parts.len())
        .step_by(2)
        .filter(|&i| parts.get(i + 1).is_some_and(|after| after.starts_with(':')))
        .map(|i| parts[i].to_string())
        .collect()
}

/// One series: its labels and value.
type Series = (BTreeMap<String, String>, f64);

/// What one `/metrics` text shows of each metric family: its type and the label names of
/// each of its series (a histogram's `_bucket`, `_sum` and `_count` under its own name,
/// without `le`), with each series' value.
#[derive(Debug, Default)]
struct Scraped {
    kinds: BTreeMap<String, String>,
    series: BTreeMap<String, Vec<Series>>,
}

impl Scraped {
    fn parse(text: &str) -> anyhow::Result<Self> {
        let mut scraped = Scraped::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').context("# TYPE name kind")?;
                scraped.kinds.insert(name.into(), kind.into());
            }
        }
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (name, labels, value) = sample(line).with_context(|| format!("line {line:?}"))?;
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|suffix| name.strip_suffix(suffix))
                .find(|base| scraped.kinds.get(*base).is_some_and(|k| k == "histogram"))
                .unwrap_or(name)
                .to_string();
            let mut labels = labels;
            labels.remove("le");
            scraped
                .series
                .entry(family)
                .or_default()
                .push((labels, value));
        }
        Ok(scraped)
    }

    /// The sum of `name`'s series whose labels include `with`.
    fn total(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.series
            .get(name)
            .into_iter()
            .flatten()
            .filter(|(labels, _)| {
                with.iter()
                    .all(|(k, v)| labels.get(*k).is_some_and(|got| got == v))
            })
            .map(|(_, value)| value)
            .sum()
    }
}

/// One sample line: `name{k="v",…} value` or `name value`.
fn sample(line: &str) -> anyhow::Result<(&str, BTreeMap<String, String>, f64)> {
    let name_end = line.find(['{', ' ']).context("a name")?;
    let name = &line[..name_end];
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inside) = rest.strip_prefix('{') {
        let mut chars = inside.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next().context("an unclosed {")?;
            match c {
                '}' => {
                    rest = &inside[i + 1..];
                    break;
                }
                ',' => {}
                '=' => {
                    ensure!(chars.next().map(|(_, c)| c) == Some('"'), "a quoted value");
                    let mut value = String::new();
                    loop {
                        match chars.next().context("an unclosed value")?.1 {
                            '\\' => value.push(chars.next().context("an escape")?.1),
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                c => key.push(c),
            }
        }
    }
    let value = rest.trim().split(' ').next().unwrap_or_default();
    Ok((name, labels, value.parse()?))
}

/// Runs the signal and the command that every metric needs: a trader subscribes through the
/// bot (`/start`, `/subscribe`: commands), a signal is posted and reaches them, and a wrong
/// admin login is refused.
async fn exercise(stack: &Stack) -> anyhow::Result<()> {
    let alice = trader(9101, "Alice");
    stack.subscribe(&alice).await?;
    let key = stack.api_key().await?;
    let (status, body) = stack
        .post_signal(
            Some(&key),
            buy_signal(uuid::Uuid::now_v7(), "BTC/USD").to_string(),
        )
        .await?;
    ensure!(status == 202, "{body}");
    stack.telegram.wait_for_messages(alice.id, 3, WAIT).await?;
    let refused = reqwest::Client::new()
        .post(format!("{}/api/auth/verify", stack.ops_url("ADMIN")))
        .json(&serde_json::json!({"telegram_id": 9101, "code": "000000", "totp": "000000"}))
        .send()
        .await?;
    ensure!(
        refused.status() == 401,
        "a wrong login: {}",
        refused.status()
    );
    Ok(())
}

async fn scrape(stack: &Stack, which: &str) -> anyhow::Result<Scraped> {
    let response = reqwest::get(stack.metrics_url(which)).await?;
    ensure!(response.status() == 200, "{which}: {}", response.status());
    Scraped::parse(&response.text().await?)
}

/// Every documented metric in `scraped` with its type and labels, and nothing undocumented.
fn holds(documented: &BTreeMap<String, Documented>, scraped: &Scraped) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for (name, doc) in documented {
        let Some(series) = scraped.series.get(name) else {
            problems.push(format!("{name} is not on /metrics"));
            continue;
        };
        let kind = scraped.kinds.get(name).map(String::as_str);
        if kind != Some(doc.kind.as_str()) {
            problems.push(format!("{name} is a {kind:?}, documented {}", doc.kind));
        }
        for (labels, _) in series {
            let names: BTreeSet<String> = labels.keys().cloned().collect();
            if names != doc.labels {
                problems.push(format!(
                    "{name} has labels {names:?}, documented {:?}",
                    doc.labels
                ));
                break;
            }
        }
    }
    for name in scraped.series.keys() {
        if name.starts_with("herald_") && !documented.contains_key(name) {
            problems.push(format!(
                "{name} is on /metrics but not in README.md's table"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// What the one signal and the one command must have moved.
fn moved(scraped: &Scraped) -> Vec<String> {
    let checks: [(&str, &[(&str, &str)]); 7] = [
        ("herald_ingest_signals_total", &[("outcome", "accepted")]),
        ("herald_dispatcher_deliveries_total", &[("outcome", "sent")]),
        ("herald_dispatcher_delivery_latency_seconds", &[]),
        ("herald_command_bot_commands_total", &[("command", "start")]),
        (
            "herald_telegram_budget_acquired_total",
            &[("priority", "bulk")],
        ),
        ("herald_admin_logins_total", &[("outcome", "bad_code")]),
        (
            "herald_http_requests_total",
            &[
                ("service", "ingest-api"),
                ("route", "/api/signals"),
                ("status", "202"),
            ],
        ),
    ];
    checks
        .iter()
        .filter(|(name, with)| scraped.total(name, with) < 1.0)
        .map(|(name, with)| format!("{name}{with:?} did not move"))
        .collect()
}

/// Runs `check` until it finds no problem (the gauges are refreshed, the signal's counters
/// moved), up to [`WAIT`]; then fails with the problems it found last.
async fn until_none_left<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Vec<String>>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let problems = check().await?;
        if problems.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{what}, after {WAIT:?}:\n  {}", problems.join("\n  "));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The ports the public APIs answer on: no metrics there.
async fn public_ports_have_no_metrics(stack: &Stack) -> anyhow::Result<()> {
    for which in ["INGEST", "ADMIN"] {
        let response = reqwest::get(format!("{}/metrics", stack.ops_url(which))).await?;
        ensure!(response.status() == 404, "{which}: {}", response.status());
        let body: serde_json::Value = response.json().await?;
        ensure!(body["error"]["code"] == "not_found", "{which}: {body}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_metric_is_on_metrics_with_herald_all() -> anyhow::Result<()> {
    let documented = documented()?;
    let stack = Stack::start_all(Backend::Sqlite, &[]).await?;
    exercise(&stack).await?;
    public_ports_have_no_metrics(&stack).await?;
    // One process, one registry: each address shows every metric.
    for which in SERVICES {
        until_none_left(&format!("{which}'s /metrics"), || async {
            let scraped = scrape(&stack, which).await?;
            let mut problems = holds(&documented, &scraped).err().unwrap_or_default();
            problems.extend(moved(&scraped));
            Ok(problems)
        })
        .await?;
    }
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_metric_is_on_metrics_of_the_four_binaries() -> anyhow::Result<()> {
    let documented = documented()?;
    let stack = Stack::start_separate(Backend::Postgres, &[]).await?;
    exercise(&stack).await?;
    public_ports_have_no_metrics(&stack).await?;
    until_none_left("the services' /metrics together", || async {
        let mut all = String::new();
        for which in SERVICES {
            let text = reqwest::get(stack.metrics_url(which)).await?.text().await?;
            // Each process counts its own failures, and only its own.
            let own = Scraped::parse(&text)?;
            let services: BTreeSet<&str> = own
                .series
                .get("herald_errors_total")
                .into_iter()
                .flatten()
                .filter_map(|(labels, _)| labels.get("service").map(String::as_str))
                .collect();
            let expected = which.to_ascii_lowercase().replace('_', "-");
            let expected = match expected.as_str() {
                "ingest" => "ingest-api",
                "admin" => "admin-api",
                other => other,
            };
            if services != BTreeSet::from([expected]) {
                bail!("{which} counts the errors of {services:?}");
            }
            all.push_str(&text);
            all.push('\n');
        }
        // Together: every family once, with each process's series.
        let scraped = Scraped::parse(&all)?;
        let mut problems = holds(&documented, &scraped).err().unwrap_or_default();
        problems.extend(moved(&scraped));
        Ok(problems)
    })
    .await?;
    stack.shutdown().await
}

#[test]
fn the_exposition_parser_reads_labels_with_braces_commas_and_escapes() {
    let (name, labels, value) = sample(
        r#"herald_http_requests_total{service="admin-api",route="/api/users/{id}",status="200",x="a\"b,c"} 3"#,
    )
    .unwrap();
    assert_eq!(name, "herald_http_requests_total");
    assert_eq!(labels["route"], "/api/users/{id}");
    assert_eq!(labels["x"], "a\"b,c");
    assert_eq!(value, 3.0);
    assert_eq!(
        label_names("`service`: `ingest-api`, `admin-api`; `route`: a template (`/api/x`)"),
        BTreeSet::from(["service".to_string(), "route".to_string()])
    );
    assert!(label_names("—").is_empty());
}
