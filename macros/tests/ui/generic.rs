#[goroutines::main]
fn main<T>() {}
