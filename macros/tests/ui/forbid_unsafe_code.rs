#![forbid(unsafe_code)]

#[goroutines::main(unsafe(migrate_goroutines))]
fn main() {}
