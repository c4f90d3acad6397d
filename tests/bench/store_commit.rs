//! `store-commit`: the latency of a durable commit of the store (`SharedDb`, the
//! path every job record and ingested product takes) on a given redb file, with
//! and without quick-repair ([`hysope_store::SharedDb::set_quick_repair`]),
//! alternating, each round N commits of one 600-byte row to a table of its own
//! (`bench_store_commit`, emptied at the end). Prints Markdown rows.
//!
//!     store-commit FILE [COMMITS] [ROUNDS]

use std::time::Instant;

use hysope_store::SharedDb;
use redb::TableDefinition;

const PROBE: TableDefinition<u64, &[u8]> = TableDefinition::new("bench_store_commit");

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        !args.is_empty(),
        "usage: store-commit FILE [COMMITS] [ROUNDS]"
    );
    let path = std::path::PathBuf::from(&args[0]);
    let commits: u64 = args.get(1).map(|a| a.parse()).transpose()?.unwrap_or(200);
    let rounds: usize = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(2);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let db = SharedDb::open(&path)?;
    println!("| quick-repair | file | commits | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    for round in 0..rounds * 2 {
        let quick = round % 2 == 1;
        db.set_quick_repair(quick);
        let mut times = Vec::with_capacity(commits as usize);
        for i in 0..commits {
            let started = Instant::now();
            db.write(
                Box::new(move |txn| {
                    txn.open_table(PROBE)?.insert(i, [7u8; 600].as_slice())?;
                    Ok(())
                }),
                true,
            )?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "| {} | {:.2} GB | {commits} | {:.3} | {:.3} |",
            if quick { "on" } else { "off" },
            size as f64 / 1e9,
            at(0.5),
            at(0.99)
        );
    }
    db.set_quick_repair(false);
    let txn = db.begin_write()?;
    txn.delete_table(PROBE)?;
    txn.commit()?;
    Ok(())
}
