//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sysflow_processor::config::RawPipeline;
use sysflow_processor::driver::{Driver, FileDriver};
use sysflow_processor::pipeline::{Pipeline, RunOptions, RunReport};

/// `../shared/processor-resources/resources`, or `None` (with a printed reason) when it is absent.
pub fn resources() -> Option<PathBuf> {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/processor-resources/resources");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIP: {} is absent", p.display());
        None
    }
}

/// A trace of the reference resources.
pub fn trace(res: &Path, name: &str) -> PathBuf {
    res.join("traces").join(name)
}

/// Writes `text` as `pipeline.json` in `dir`, validates it (no environment overrides) and builds the pipeline.
pub fn build(dir: &Path, text: &str, options: RunOptions) -> Pipeline {
    let path = dir.join("pipeline.json");
    std::fs::write(&path, text).unwrap();
    let raw = RawPipeline::load(&path).unwrap();
    let config = raw.validate().unwrap_or_else(|e| panic!("{e}"));
    Pipeline::build(config, options).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Runs a pipeline on a trace file or directory.
pub fn run_file(pipeline: Pipeline, input: &Path) -> RunReport {
    pipeline
        .run(
            Driver::File(FileDriver::new(input)),
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// A reader → engine → file exporter pipeline.
pub fn simple_pipeline(engine_keys: &str, exporter_keys: &str, out: &Path) -> String {
    format!(
        r#"{{"pipeline":[
          {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
          {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan"{engine_keys}}},
          {{"processor":"exporter","in":"evt eventchan","export":"file","file.path":"{}"{exporter_keys}}}
        ]}}"#,
        out.display()
    )
}

/// Lines of a JSON-lines output file, parsed.
pub fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSON line ({e}): {l}")))
        .collect()
}
