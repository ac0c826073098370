#[goroutines::main(migrate_goroutines)]
fn main() {}
