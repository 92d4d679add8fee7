//! `sfprocessor` as a standalone example binary (the project's CLI crate provides the real one): used by the tests
//! that check terminal output, and handy for manual runs.

fn main() {
    let args = sysflow_processor::cli::ProcessArgs::parse_from_go_style(std::env::args_os());
    if let Err(e) = sysflow_processor::run(args) {
        eprintln!("sfprocessor: {e:#}");
        std::process::exit(1);
    }
}
