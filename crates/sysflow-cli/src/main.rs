//! The `sysflow` binary. Also answers to the reference tool names when invoked under them (a symlink or copy named
//! `sysprint`, `sysporter` or `sfprocessor`).
fn main() -> std::process::ExitCode {
    sysflow_cli::main_from(std::env::args_os().collect())
}
