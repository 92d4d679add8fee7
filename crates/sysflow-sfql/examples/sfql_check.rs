//! Compiles sfql queries given as arguments and prints either `ok` or the error (a quick syntax checker).
//!
//! ```text
//! cargo run -p sysflow-sfql --example sfql_check -- 'type = PE and' 'proc.name in (sh, bash)'
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for q in std::env::args().skip(1) {
        match sysflow_sfql::Query::compile(&q) {
            Ok(_) => println!("ok: {q}"),
            Err(e) => {
                println!("{e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
