//! `moving-median N WINDOW`: computes the moving median of the built-in series and
//! prints its checksum.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let window: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(31);
    let series = hysope_guest_moving_median::series(n);
    let median = hysope_guest_moving_median::moving_median(&series, window);
    println!("{}", hysope_guest_moving_median::checksum(&median));
}
