//! The upgrade step: every run document ever written under schema
//! `iobuf-bench/1` is brought to the current shape here, as JSON, before it
//! is deserialised. Readers never see an old shape; the only place that
//! knows what older writers left out is [`upgrade`] and its steps.
//!
//! Each step fills in what one generation of writers did not record, with
//! the value that generation meant. A step leaves a field alone when it is
//! present, so upgrading a current document changes nothing, and upgrading
//! twice is the same as upgrading once.

use serde_json::{json, Map, Value};

use super::SCHEMA;

/// Brings a parsed run document to the current shape of schema
/// [`SCHEMA`], ready to deserialise: the top-level object.
///
/// The steps, in order:
/// 1. [`accept_schema`]: refuses what is not an `iobuf-bench/1` run
///    document (another schema, no `schema`, no `results` array).
/// 2. [`fill_identity_from_config`]: documents written before each result
///    carried its scenario's `kind`, `params` and `rate` recorded them once,
///    in `config`; each result takes them from there.
/// 3. [`fill_completion`]: documents written before runs could be
///    interrupted were whole; `complete` is `true` at the top and in every
///    result.
/// 4. [`fill_run_settings`]: documents written before `--check` levels
///    checked every operation (`check` is `"full"`), and those written
///    before `--runs` measured one round (`runs` is 1).
/// 5. [`fill_unrecorded_measurements`]: results that carry summaries but
///    no `histograms`, and `rounds` recorded as bare throughputs, get the
///    current shape with the missing parts unrecorded.
///
/// # Errors
///
/// One line saying why the document cannot be upgraded, without the file's
/// name (the caller adds it).
pub fn upgrade(value: Value) -> Result<Map<String, Value>, String> {
    let mut top = accept_schema(value)?;
    fill_identity_from_config(&mut top);
    fill_completion(&mut top);
    fill_run_settings(&mut top);
    fill_unrecorded_measurements(&mut top);
    Ok(top)
}

/// Step 1: the document is an object of schema [`SCHEMA`] with a `results`
/// array; nothing older or newer is a shape this reader knows how to bring
/// forward.
///
/// # Errors
///
/// Names what is missing or which schema was found.
fn accept_schema(value: Value) -> Result<Map<String, Value>, String> {
    let Value::Object(top) = value else {
        return Err("not an iobuf-bench run document (the top level is not a JSON object)".into());
    };
    match top.get("schema") {
        Some(Value::String(s)) if s == SCHEMA => {}
        Some(Value::String(s)) => {
            return Err(format!(
                "unsupported schema \"{s}\" (this iobuf-bench reads \"{SCHEMA}\")"
            ))
        }
        Some(_) => return Err("\"schema\" is not a string".into()),
        None => return Err("not an iobuf-bench run document (no \"schema\" field)".into()),
    }
    if !matches!(top.get("results"), Some(Value::Array(_))) {
        return Err("\"results\" is missing or not an array".into());
    }
    Ok(top)
}

/// Step 2: a result without `kind` or `params` takes them from its
/// scenario's definition in `config.scenarios` (found by name; `params`
/// absent or null there means `{}`), and one without `rate` takes
/// `config.rate` (absent: closed loop). A result whose scenario is not in
/// `config` keeps `kind` and `params` unrecorded.
fn fill_identity_from_config(top: &mut Map<String, Value>) {
    let config = top.get("config").cloned().unwrap_or(Value::Null);
    let config_rate = config.get("rate").filter(|r| r.is_number()).cloned();
    let scenario = |name: &str| {
        config
            .get("scenarios")
            .and_then(Value::as_array)?
            .iter()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
    };
    for result in results_mut(top) {
        let name = result
            .get("scenario")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(def) = name.as_deref().and_then(scenario) {
            if unrecorded(result, "kind") {
                if let Some(kind) = def.get("kind").filter(|k| k.is_string()) {
                    result.insert("kind".into(), kind.clone());
                }
            }
            if unrecorded(result, "params") {
                let params = def.get("params").filter(|p| !p.is_null()).cloned();
                result.insert(
                    "params".into(),
                    params.unwrap_or_else(|| Value::Object(Map::new())),
                );
            }
        }
        if unrecorded(result, "rate") {
            if let Some(rate) = &config_rate {
                result.insert("rate".into(), rate.clone());
            }
        }
    }
}

/// Whether a writer left `field` out (absent or null).
fn unrecorded(result: &Map<String, Value>, field: &str) -> bool {
    result.get(field).is_none_or(Value::is_null)
}

/// Step 3: `complete` is `true` wherever a writer did not record it.
fn fill_completion(top: &mut Map<String, Value>) {
    top.entry("complete").or_insert(Value::Bool(true));
    for result in results_mut(top) {
        result.entry("complete").or_insert(Value::Bool(true));
    }
}

/// Step 4: `config.check` is `"full"` and `config.runs` is 1 where absent.
/// A document without a `config` object is left without one.
fn fill_run_settings(top: &mut Map<String, Value>) {
    if let Some(Value::Object(config)) = top.get_mut("config") {
        config.entry("check").or_insert_with(|| "full".into());
        config.entry("runs").or_insert_with(|| 1.into());
    }
}

/// Step 5: a result without `histograms` gets empty ones (an empty
/// serialisation is unrecorded: readers draw from the summaries); a round
/// given as a number is that round's throughput, and a round without `ops`
/// or `duration_s` has them as 0 (unrecorded: readers use only the
/// throughput of a round).
fn fill_unrecorded_measurements(top: &mut Map<String, Value>) {
    for result in results_mut(top) {
        if unrecorded(result, "histograms") {
            result.insert("histograms".into(), json!({"get": "", "put": ""}));
        }
        let Some(Value::Array(rounds)) = result.get_mut("rounds") else {
            continue;
        };
        for round in rounds {
            if round.is_number() {
                *round = json!({ "ops_per_sec": round.take() });
            }
            if let Value::Object(r) = round {
                r.entry("ops").or_insert(json!(0));
                r.entry("duration_s").or_insert(json!(0.0));
            }
        }
    }
}

/// The result entries that are objects (others are left for the
/// deserialiser to refuse, naming their index).
fn results_mut(top: &mut Map<String, Value>) -> impl Iterator<Item = &mut Map<String, Value>> {
    top.get_mut("results")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document as the first writers wrote it: the scenario's kind,
    /// params and rate only in `config`, no `complete`, no `check`, no
    /// `runs`, no `pool_stats`.
    fn oldest() -> Value {
        json!({
            "schema": "iobuf-bench/1",
            "meta": {"version": "0.1.0", "timestamp": "2025-11-26T12:00:00Z"},
            "config": {
                "rate": 1000.0,
                "scenarios": [
                    {"name": "pairs", "kind": "pairs"},
                    {"name": "deep", "kind": "hold", "params": {"hold": 8}}
                ]
            },
            "results": [
                {"scenario": "pairs", "pool": "iobuf", "rounds": [3.0, {"ops_per_sec": 4.0}]},
                {"scenario": "deep", "pool": "mutex"},
                {"scenario": "unlisted", "pool": "mutex"}
            ]
        })
    }

    #[test]
    fn an_old_document_is_brought_to_the_current_shape() {
        let v = Value::Object(upgrade(oldest()).unwrap());
        assert_eq!(v["complete"], true);
        assert_eq!(v["config"]["check"], "full");
        assert_eq!(v["config"]["runs"], 1);
        let r = &v["results"];
        assert_eq!(r[0]["kind"], "pairs");
        assert_eq!(r[0]["params"], json!({}));
        assert_eq!(r[1]["kind"], "hold");
        assert_eq!(r[1]["params"], json!({"hold": 8}));
        for i in 0..3 {
            assert_eq!(r[i]["rate"], 1000.0);
            assert_eq!(r[i]["complete"], true);
            assert!(r[i].get("pool_stats").is_none());
        }
        assert_eq!(r[0]["histograms"], json!({"get": "", "put": ""}));
        assert_eq!(
            r[0]["rounds"],
            json!([
                {"ops_per_sec": 3.0, "ops": 0, "duration_s": 0.0},
                {"ops_per_sec": 4.0, "ops": 0, "duration_s": 0.0}
            ])
        );
        // A scenario the config does not define keeps its identity unrecorded.
        assert!(r[2].get("kind").is_none());
        assert!(r[2].get("params").is_none());
    }

    #[test]
    fn recorded_fields_are_kept_and_upgrading_twice_changes_nothing() {
        let mut doc = oldest();
        doc["complete"] = json!(false);
        doc["config"]["check"] = json!("sampled");
        doc["config"]["runs"] = json!(3);
        doc["results"][0]["kind"] = json!("burst");
        doc["results"][0]["rate"] = json!(5.0);
        doc["results"][0]["complete"] = json!(false);
        let once = Value::Object(upgrade(doc).unwrap());
        assert_eq!(once["complete"], false);
        assert_eq!(once["config"]["check"], "sampled");
        assert_eq!(once["config"]["runs"], 3);
        assert_eq!(once["results"][0]["kind"], "burst");
        assert_eq!(once["results"][0]["rate"], 5.0);
        assert_eq!(once["results"][0]["complete"], false);
        assert_eq!(Value::Object(upgrade(once.clone()).unwrap()), once);
    }

    #[test]
    fn a_document_that_cannot_be_upgraded_says_why() {
        let refused = |v: Value| upgrade(v).unwrap_err();
        let mut newer = oldest();
        newer["schema"] = json!("iobuf-bench/2");
        assert_eq!(
            refused(newer),
            "unsupported schema \"iobuf-bench/2\" (this iobuf-bench reads \"iobuf-bench/1\")"
        );
        let mut unmarked = oldest();
        unmarked.as_object_mut().unwrap().remove("schema");
        assert!(refused(unmarked).contains("no \"schema\" field"));
        let mut no_results = oldest();
        no_results["results"] = json!({"pairs": 1});
        assert!(refused(no_results).contains("\"results\" is missing or not an array"));
        assert!(refused(json!([1, 2])).contains("top level is not a JSON object"));
    }

    /// One result as the first writers wrote it: every measured field, but
    /// no kind, params, rate, complete, rounds or pool_stats.
    fn old_result(scenario: &str, pool: &str, ops_per_sec: f64) -> Value {
        let stats = json!({"p50": 40, "p90": 50, "p99": 90, "p999": 200, "p9999": 400, "max": 900, "mean": 45.5});
        json!({
            "scenario": scenario, "tier": "small", "threads": 2, "producers": 2, "consumers": 2,
            "capacity": 1024, "pool": pool, "duration_s": 0.5, "ops": 1000, "ops_per_sec": ops_per_sec,
            "latency_ns": {"get": stats, "put": stats}, "per_thread_ops": [500, 500],
            "integrity": {"duplicates": 0, "corrupted": 0},
        })
    }

    #[test]
    fn an_old_document_reads_into_the_current_types() {
        let doc = json!({
            "schema": "iobuf-bench/1",
            "meta": {"version": "0.1.0", "timestamp": "2025-11-26T12:00:00Z",
                     "host": {"cpu_model": "Test CPU", "logical_cores": 2}},
            "config": {"rate": 500.0, "scenarios": [{"name": "deep", "kind": "hold", "params": {"hold": 8}}]},
            "results": [old_result("deep", "iobuf", 2e6), old_result("deep", "crossbeam", 1e6)],
        });
        let path = std::path::Path::new("old.json");
        let run = super::super::read::parse(path, &doc.to_string()).unwrap();
        assert_eq!(run.config["check"], "full");
        assert_eq!(run.meta.host.cpu_model, "Test CPU");
        let r = &run.results[0];
        assert_eq!(
            (r.kind.as_str(), r.rate, r.complete),
            ("hold", Some(500.0), true)
        );
        assert_eq!(r.params, json!({"hold": 8}));
        assert_eq!(r.pool_stats, None);
        assert_eq!(r.integrity.lost, 0);
        assert_eq!(r.latency_ns.get.p99, 90);
        assert!(r.histogram_text(super::super::read::Op::Get).is_none());
        let key = r.key();
        assert_eq!(key, run.results[1].key(), "both pools measured one case");
        assert_eq!(key.kind.as_deref(), Some("hold"));
        assert_eq!(key.params.as_deref(), Some(r#"{"hold":8}"#));
    }

    #[test]
    fn a_document_refused_by_the_upgrade_names_the_file() {
        let mut doc = oldest();
        doc["schema"] = json!("iobuf-bench/0");
        let path = std::path::Path::new("ancient.json");
        let err = super::super::read::parse(path, &doc.to_string()).unwrap_err();
        assert_eq!(
            err,
            "ancient.json: unsupported schema \"iobuf-bench/0\" (this iobuf-bench reads \"iobuf-bench/1\")"
        );
    }
}
