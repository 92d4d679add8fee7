//! A stand-alone `sysprint` for trying the printer out: `cargo run -p sysflow-print --example sysprint -- -o json t.sf`.

use std::process::ExitCode;

use clap::Parser;
use sysflow_print::SysprintArgs;

fn main() -> ExitCode {
    let args = SysprintArgs::parse();
    match sysflow_print::run(&args) {
        Ok(status) => ExitCode::from(status.exit_code()),
        Err(e) => {
            eprintln!("sysprint: {e:#}");
            ExitCode::from(1)
        }
    }
}
