//! `sysprint`: the reference's trace printer, flag for flag (same as `sysflow print`). Only the printer is linked in,
//! so that it starts fast.
fn main() -> std::process::ExitCode {
    sysflow_print::main_with(std::env::args_os().collect())
}
