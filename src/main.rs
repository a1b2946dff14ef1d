fn main() -> std::process::ExitCode {
    if cfg!(feature = "bench-without-audit") {
        eprintln!(
            "warning: this tem was built for benchmarks without the audit log; do not use it for real data"
        );
    }
    tem::cli::run()
}
