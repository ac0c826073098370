#[goroutines::main]
async fn main() {}
