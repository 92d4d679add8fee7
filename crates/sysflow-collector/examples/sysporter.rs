//! Manual runs: `cargo run --example sysporter -- -w /tmp/sf/ -G 30` (as root). `--dump FILE` prints a trace.

use clap::Parser;
use sysflow_collector::CollectArgs;

/// The collector's CLI, standalone.
#[derive(Parser)]
#[command(name = "sysporter", disable_version_flag = true)]
struct Cli {
    #[command(flatten)]
    args: CollectArgs,
    /// Print the records of a trace file instead of collecting.
    #[arg(long)]
    dump: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Some(path) = cli.dump {
        for rec in sysflow_format::TraceReader::open(&path)? {
            println!("{:?}", rec?);
        }
        return Ok(());
    }
    sysflow_collector::run(cli.args)
}
