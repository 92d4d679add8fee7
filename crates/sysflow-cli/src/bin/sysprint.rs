//! `sysprint`: the reference's trace printer, flag for flag (same as `sysflow print`).
fn main() -> std::process::ExitCode {
    sysflow_cli::main_as(sysflow_cli::Tool::Sysprint, std::env::args_os().collect())
}
