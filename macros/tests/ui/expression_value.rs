#[goroutines::main(stack_size = 1 << 20)]
fn main() {}
