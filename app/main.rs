fn main() -> std::process::ExitCode {
    kamikarte::cli::main()
}
