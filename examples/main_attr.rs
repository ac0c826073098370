//! `#[goroutines::main]`: the program's `main` is its main goroutine.
//!
//! A pipeline, as in Go: one goroutine generates numbers, four square
//! them, and main (a goroutine itself) sums the squares. Every channel
//! operation parks a goroutine, never an OS thread.
//!
//! ```sh
//! cargo run --release --example main_attr
//! ```

use goroutines::chan;

#[goroutines::main]
fn main() {
    let (numbers, numbers_rx) = chan::bounded::<u64>(0);
    let (squares, squares_rx) = chan::bounded::<u64>(16);

    goroutines::go(move || {
        for n in 1..=100 {
            numbers.send(n).unwrap();
        }
        // Dropping the only sender closes the channel: the squarers' loops end.
    });
    for _ in 0..4 {
        let numbers_rx = numbers_rx.clone();
        let squares = squares.clone();
        goroutines::go(move || {
            for n in numbers_rx.iter() {
                squares.send(n * n).unwrap();
            }
        });
    }
    drop(squares); // the sum below ends when the last squarer is done

    let sum: u64 = squares_rx.iter().sum();
    assert_eq!(sum, 338_350);
    println!(
        "main is goroutine {}: the squares of 1..=100 add up to {sum}",
        goroutines::goroutine_id().expect("main runs as a goroutine"),
    );
}
