fn main() -> std::process::ExitCode {
    tem::cli::run()
}
