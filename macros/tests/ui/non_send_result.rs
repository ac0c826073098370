use std::error::Error;

#[goroutines::main]
fn main() -> Result<(), Box<dyn Error>> {
    Ok(())
}
