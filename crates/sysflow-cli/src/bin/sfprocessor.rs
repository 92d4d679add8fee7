//! `sfprocessor`: the reference's processor, Go-style flags (same as `sysflow process`).
fn main() -> std::process::ExitCode {
    sysflow_cli::main_as(
        sysflow_cli::Tool::Sfprocessor,
        std::env::args_os().collect(),
    )
}
