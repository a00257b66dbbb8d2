use clap::Parser;

fn main() {
    let cli = ebm::cli::Cli::parse();
    if let Err(error) = ebm::cli::run(cli) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
