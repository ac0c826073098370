#[goroutines::main(max_procs = "4")]
fn main() {}
