//! Runs SysFlow traces through a policy set and prints per-rule alert counts and the cost report.
//!
//! `cargo run -p sysflow-policy --release --example alerts -- [--enrich] [--reference] POLICIES TRACE...`

use std::process::ExitCode;
use std::sync::Arc;

use sysflow_format::{FlatReader, RecordKind};
use sysflow_policy::{Compat, EngineConfig, Mode, PolicyEngine};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = EngineConfig::default();
    args.retain(|a| match a.as_str() {
        "--enrich" => {
            config.mode = Mode::Enrich;
            false
        }
        "--reference" => {
            config.compat = Compat::Reference;
            false
        }
        _ => true,
    });
    if args.len() < 2 {
        eprintln!("usage: alerts [--enrich] [--reference] POLICIES TRACE...");
        return ExitCode::from(2);
    }
    let engine = match PolicyEngine::load(&[&args[0]], &config) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for w in engine.warnings() {
        eprintln!("warning: {w}");
    }
    let mut eval = engine.evaluator();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for trace in &args[1..] {
        let reader = match FlatReader::open(trace) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {trace}: {e}");
                return ExitCode::FAILURE;
            }
        };
        for rec in reader {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {trace}: {e}");
                    break;
                }
            };
            // The reference flattener does not emit process flows and network events.
            if matches!(
                rec.kind(),
                RecordKind::ProcessFlow | RecordKind::NetworkEvent
            ) {
                continue;
            }
            let v = eval.evaluate(&rec);
            for r in &v.rules {
                *counts.entry(r.name.clone()).or_default() += 1;
            }
        }
    }
    eval.flush();
    for (rule, n) in &counts {
        println!("{n:>7}  {rule}");
    }
    print!("{}", engine.cost_report().to_table());
    ExitCode::SUCCESS
}
