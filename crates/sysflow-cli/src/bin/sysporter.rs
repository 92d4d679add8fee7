//! `sysporter`: the reference's collector, same flags (same as `sysflow collect`).
fn main() -> std::process::ExitCode {
    sysflow_cli::main_as(sysflow_cli::Tool::Sysporter, std::env::args_os().collect())
}
