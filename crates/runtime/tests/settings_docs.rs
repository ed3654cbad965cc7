//! The settings as documented and as deployed, held against [`Settings`]:
//!
//! - the README names every setting as `HERALD_<FIELD>`;
//! - `docker-compose.yml` and the files under `deploy/` name only real settings (or
//!   `HERALD_CONFIG`, which says where the settings file is);
//! - the environment each deployed process gets (every Herald service in the compose file,
//!   every Deployment and Job in `deploy/k8s/`) loads through [`Settings::load_from`], and the
//!   processes that talk to Telegram get a token.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use figment::Jail;
use figment::providers::Env;
use herald_runtime::Settings;
use yaml_rust2::{Yaml, YamlLoader};

/// Read by `Settings::load` although it is not a field: the settings file's path.
const NOT_FIELDS: [&str; 1] = ["HERALD_CONFIG"];

/// The subcommands of `herald` that need `HERALD_TELEGRAM_TOKEN`.
const NEED_TOKEN: [&str; 3] = ["dispatcher", "command-bot", "all"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `HERALD_<FIELD>` for every field of `Settings`, and `HERALD_<SECTION>_<FIELD>` for every
/// field of its sections (`admin`).
fn settings() -> BTreeSet<String> {
    let serde_json::Value::Object(fields) = serde_json::to_value(Settings::default()).unwrap()
    else {
        panic!("Settings serialises as a map");
    };
    let mut names = BTreeSet::new();
    for (field, value) in &fields {
        match value {
            serde_json::Value::Object(section) => {
                names.extend(section.keys().map(|f| format!("{field}_{f}")));
            }
            _ => {
                names.insert(field.clone());
            }
        }
    }
    names
        .iter()
        .map(String::as_str)
        // Never serialised, so that they are never printed.
        .chain(["telegram_token", "admin_jwt_secret", "otlp_endpoint"])
        .map(|field| format!("HERALD_{}", field.to_ascii_uppercase()))
        .collect()
}

/// Every whole `HERALD_…` name in `text` (`HERALD_LOG` is not found inside
/// `HERALD_LOG_FORMAT`; `HERALD_*` is no name).
fn names_in(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_';
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices("HERALD_") {
        if at > 0 && (is_name(bytes[at - 1]) || bytes[at - 1].is_ascii_lowercase()) {
            continue;
        }
        let len = bytes[at..].iter().take_while(|&&b| is_name(b)).count();
        let name = text[at..at + len].trim_end_matches('_');
        if name.len() > "HERALD".len() {
            names.insert(name.to_string());
        }
    }
    names
}

#[test]
fn names_are_found_whole() {
    let text = "`HERALD_LOG_FORMAT`=json, HERALD_*_ADDR, XHERALD_NO, $HERALD_NATS_URL\nHERALD_LOG";
    let found: Vec<String> = names_in(text).into_iter().collect();
    assert_eq!(
        found,
        ["HERALD_LOG", "HERALD_LOG_FORMAT", "HERALD_NATS_URL"]
    );
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn k8s_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    files_under(&root().join("deploy/k8s"), &mut files);
    files.retain(|f| f.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    files.sort();
    assert!(!files.is_empty(), "deploy/k8s holds manifests");
    files
}

#[test]
fn the_readme_names_every_setting() {
    let path = root().join("README.md");
    let documented = names_in(&read(&path));
    let missing: Vec<String> = settings().difference(&documented).cloned().collect();
    assert!(
        missing.is_empty(),
        "README.md does not document these settings of herald_runtime::Settings \
         (add them to its settings table): {}",
        missing.join(", ")
    );
}

#[test]
fn deploy_files_name_only_real_settings() {
    let mut files = vec![root().join("docker-compose.yml")];
    files_under(&root().join("deploy"), &mut files);
    let known: BTreeSet<String> = settings()
        .into_iter()
        .chain(NOT_FIELDS.map(String::from))
        .collect();
    let mut unknown = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue; // not text
        };
        for name in names_in(&text).difference(&known) {
            let shown = file
                .strip_prefix(root())
                .unwrap_or(file)
                .display()
                .to_string();
            unknown.push(format!("{shown}: {name}"));
        }
    }
    assert!(
        unknown.is_empty(),
        "not settings of herald_runtime::Settings (environment variable = HERALD_ + field name, \
         upper case):\n  {}",
        unknown.join("\n  ")
    );
    let compose = names_in(&read(&root().join("docker-compose.yml")));
    assert!(
        compose.contains("HERALD_DATABASE_URL"),
        "compose sets the database"
    );
}

/// Loads the settings from exactly `env` (and no settings file), as a process would.
// The closure's error type, figment::Error, is figment's Jail API, not ours.
#[allow(clippy::result_large_err)]
fn load(env: &BTreeMap<String, String>) -> Result<Settings, String> {
    let mut loaded = None;
    Jail::expect_with(|jail| {
        jail.clear_env();
        for (name, value) in env {
            jail.set_env(name, value);
        }
        let file = jail.directory().join("herald.toml");
        loaded =
            Some(Settings::load_from(&file, Env::prefixed("HERALD_")).map_err(|e| e.to_string()));
        Ok(())
    });
    loaded.expect("the jail ran")
}

/// Checks that one deployed process's environment loads, and has a token if it needs one.
fn check_process(what: &str, subcommand: &str, env: &BTreeMap<String, String>) {
    let settings = load(env).unwrap_or_else(|e| panic!("{what}: {e}"));
    if NEED_TOKEN.contains(&subcommand) {
        assert!(
            settings.require_telegram_token().is_ok(),
            "{what} runs `herald {subcommand}` without HERALD_TELEGRAM_TOKEN"
        );
    }
    assert!(
        settings.database_url.starts_with("postgres"),
        "{what}: deployed services use PostgreSQL, not {}",
        settings
            .database_url
            .split("://")
            .next()
            .unwrap_or_default()
    );
}

fn load_yaml(path: &Path) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// A scalar as text.
fn text(yaml: &Yaml) -> Option<String> {
    match yaml {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A mapping with its `<<` merge key applied (compose files use them; YAML 1.2 loaders do
/// not apply them).
fn merged(yaml: &Yaml) -> BTreeMap<String, Yaml> {
    let mut out = BTreeMap::new();
    let Yaml::Hash(hash) = yaml else {
        return out;
    };
    if let Some(base) = hash.get(&Yaml::String("<<".into())) {
        out.extend(merged(base));
    }
    for (key, value) in hash {
        let key = text(key).expect("a scalar key");
        if key != "<<" {
            out.insert(key, value.clone());
        }
    }
    out
}

/// Compose's `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`: a default is
/// used as written, a required variable gets a sample value.
fn interpolate(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closing brace") + start;
        let expr = &rest[start + 2..end];
        let op = &expr[expr.find([':', '-', '?', '+']).unwrap_or(expr.len())..];
        let default = op.strip_prefix(":-").or_else(|| op.strip_prefix('-'));
        out.push_str(default.unwrap_or("123456:sample"));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out.replace("$$", "$")
}

#[test]
fn each_compose_service_gets_settings_that_load() {
    let path = root().join("docker-compose.yml");
    let doc = load_yaml(&path).remove(0);
    let mut checked = Vec::new();
    for (name, service) in merged(&doc["services"]) {
        let service = merged(&service);
        let runs_herald = service
            .get("image")
            .and_then(text)
            .is_some_and(|image| image.starts_with("herald"));
        if !runs_herald {
            continue;
        }
        let subcommand = match service.get("command") {
            Some(Yaml::Array(args)) => args.first().and_then(text),
            Some(other) => text(other),
            None => None,
        }
        .unwrap_or_else(|| "all".into());
        let env: BTreeMap<String, String> =
            merged(service.get("environment").unwrap_or(&Yaml::Null))
                .into_iter()
                .map(|(k, v)| (k, interpolate(&text(&v).unwrap_or_default())))
                .collect();
        check_process(
            &format!("docker-compose.yml service {name}"),
            &subcommand,
            &env,
        );
        checked.push(subcommand);
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "admin-api",
            "command-bot",
            "dispatcher",
            "ingest-api",
            "migrate"
        ],
        "the compose file runs each service and the migration"
    );
}

/// Every document of every manifest in deploy/k8s.
fn k8s_documents() -> Vec<(PathBuf, Yaml)> {
    k8s_files()
        .into_iter()
        .flat_map(|f| load_yaml(&f).into_iter().map(move |d| (f.clone(), d)))
        .filter(|(_, d)| !d.is_null())
        .collect()
}

/// `data` or `stringData` of every ConfigMap or Secret of `kind`, by name.
fn k8s_maps(docs: &[(PathBuf, Yaml)], kind: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    docs.iter()
        .filter(|(_, d)| d["kind"].as_str() == Some(kind))
        .map(|(_, d)| {
            let data = if d["stringData"].is_badvalue() {
                &d["data"]
            } else {
                &d["stringData"]
            };
            let values = merged(data)
                .into_iter()
                .map(|(k, v)| (k, text(&v).unwrap_or_default()))
                .collect();
            (d["metadata"]["name"].as_str().unwrap().to_string(), values)
        })
        .collect()
}

#[test]
fn each_kubernetes_workload_gets_settings_that_load() {
    let docs = k8s_documents();
    let config_maps = k8s_maps(&docs, "ConfigMap");
    let secrets = k8s_maps(&docs, "Secret");
    let lookup = |maps: &BTreeMap<String, BTreeMap<String, String>>, r: &Yaml| {
        let name = r["name"].as_str().expect("a referenced name");
        maps.get(name)
            .unwrap_or_else(|| panic!("{name} is referenced but not in deploy/k8s"))
            .clone()
    };
    let mut checked = Vec::new();
    for (file, doc) in &docs {
        let kind = doc["kind"].as_str().unwrap_or_default();
        if !["Deployment", "Job"].contains(&kind) {
            continue;
        }
        let name = doc["metadata"]["name"].as_str().unwrap();
        for container in doc["spec"]["template"]["spec"]["containers"]
            .as_vec()
            .unwrap()
        {
            let mut env = BTreeMap::new();
            for from in container["envFrom"].as_vec().into_iter().flatten() {
                if !from["configMapRef"].is_badvalue() {
                    env.extend(lookup(&config_maps, &from["configMapRef"]));
                }
                if !from["secretRef"].is_badvalue() {
                    env.extend(lookup(&secrets, &from["secretRef"]));
                }
            }
            for var in container["env"].as_vec().into_iter().flatten() {
                let key = var["name"].as_str().unwrap().to_string();
                let value = if let Some(v) = text(&var["value"]) {
                    v
                } else {
                    let (maps, r) = if !var["valueFrom"]["secretKeyRef"].is_badvalue() {
                        (&secrets, &var["valueFrom"]["secretKeyRef"])
                    } else {
                        (&config_maps, &var["valueFrom"]["configMapKeyRef"])
                    };
                    let wanted = r["key"].as_str().expect("a referenced key");
                    lookup(maps, r)
                        .remove(wanted)
                        .unwrap_or_else(|| panic!("{name}: {wanted} is not in the referenced map"))
                };
                env.insert(key, value);
            }
            let subcommand = container["args"][0].as_str().unwrap_or("all");
            let what = format!(
                "{} {kind} {name}",
                file.file_name().unwrap().to_string_lossy()
            );
            check_process(&what, subcommand, &env);
            checked.push(subcommand.to_string());
        }
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "admin-api",
            "command-bot",
            "dispatcher",
            "ingest-api",
            "migrate"
        ],
        "deploy/k8s runs each service and the migration"
    );
}
