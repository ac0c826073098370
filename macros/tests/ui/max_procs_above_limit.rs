#[goroutines::main(max_procs = 100_000)]
fn main() {}
