//! `catalog-scale`: the embedded catalogue at the scale of the SWOT river database.
//! Run twice. The first run makes REACHES synthetic reaches seen PASSES times each
//! ([`hysope_catalog::synthetic`]), ingests them into `DATA_DIR/store.redb` and
//! reports the ingest rate. The second (the file is there) measures, in a process
//! that has done nothing else: the time to open the file and the memory resident
//! after it, and in-process p50/p99 of a STAC search at limit 100, one reach's full
//! series, the series of the reaches in a river's box, and a features page for a
//! map view. Prints Markdown table rows.
//!
//!     catalog-scale DATA_DIR REACHES PASSES [QUERIES]
//!
//! QUERIES 0 measures the open alone.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hysope_catalog::features::FeatureQuery;
use hysope_catalog::search::{PageStart, SearchQuery};
use hysope_catalog::series::SeriesRequest;
use hysope_catalog::synthetic::{self, Rng, Spec};
use hysope_catalog::{CatalogStore, RedbCatalog};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let at = |q: f64| {
        times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.99))
}

fn main() -> anyhow::Result<()> {
    // The store's own account of its open (phases in ms) goes to stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "hysope_catalog=info".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 3,
        "usage: catalog-scale DATA_DIR REACHES PASSES [QUERIES]"
    );
    let dir = PathBuf::from(&args[0]);
    let spec = Spec {
        reaches: args[1].parse()?,
        passes: args[2].parse()?,
        reaches_per_product: 500,
        seed: 22,
    };
    let queries: usize = args.get(3).map(|q| q.parse()).transpose()?.unwrap_or(200);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("store.redb");
    if !path.exists() {
        let reaches = synthetic::reaches(&spec);
        let store = RedbCatalog::open(&path)?;
        let (mut products, mut observations) = (0usize, 0usize);
        let start = Instant::now();
        for product in synthetic::products(&spec, &reaches) {
            observations += product.observations.len();
            products += 1;
            store.ingest(product)?;
            if products % 1000 == 0 {
                eprintln!(
                    "{products} products, {observations} observations, {:.0} s",
                    start.elapsed().as_secs_f64()
                );
            }
        }
        let took = start.elapsed().as_secs_f64();
        println!(
            "| ingest | {products} products, {observations} reach observations, {} reaches | {took:.1} s | {:.0} observations/s, {:.1} products/s |",
            spec.reaches,
            observations as f64 / took,
            products as f64 / took
        );
        return Ok(());
    }
    let size = std::fs::metadata(&path)?.len();
    let before = rss_kib();
    let start = Instant::now();
    let store = RedbCatalog::open(&path)?;
    let open = start.elapsed().as_secs_f64();
    let after = rss_kib();
    let items = store.item_count()?;
    println!(
        "| open | {:.2} GB file, {items} items | {open:.2} s | {:.0} MiB resident after open ({:.0} MiB before) |",
        size as f64 / 1e9,
        after as f64 / 1024.0,
        before as f64 / 1024.0
    );
    if queries == 0 {
        return Ok(());
    }
    let reaches = synthetic::reaches(&spec);
    let now = chrono::Utc::now().timestamp_micros();
    let mut rng = Rng::new(5);
    let pick = |rng: &mut Rng| &reaches[(rng.next_u64() % reaches.len() as u64) as usize];

    // STAC search at limit 100 in one collection, first pages and deep pages.
    let mut times = Vec::new();
    for i in 0..queries {
        let query = SearchQuery {
            collections: vec!["SWOT_L2_HR_RiverSP_Reach".into()],
            limit: 100,
            start: PageStart::Offset(100 * (i % (items as usize / 100).clamp(1, 50))),
            ..Default::default()
        };
        let t = Instant::now();
        let page = store.search_stored(&query)?;
        times.push(t.elapsed());
        anyhow::ensure!(
            page.items.len() == 100,
            "a search page of {}",
            page.items.len()
        );
    }
    let (p50, p99) = percentiles(times);
    println!(
        "| STAC search, one collection, limit 100 (its first pages, up to 50, in turn) | {queries} queries | p50 {p50:.2} ms | p99 {p99:.2} ms |"
    );

    // One reach's full series, as the CSV rows are read.
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..queries {
        let r = pick(&mut rng);
        let t = Instant::now();
        let request = SeriesRequest::from_params(
            "reaches",
            &[("ids".into(), r.id.clone())],
            Some("text/csv"),
        )?;
        let (obs, _, _) = request.rows(&store, &r.id)?;
        times.push(t.elapsed());
        rows += obs.len();
    }
    let (p50, p99) = percentiles(times);
    println!(
        "| one reach's full series | {queries} reaches, {:.1} observations each | p50 {p50:.2} ms | p99 {p99:.2} ms |",
        rows as f64 / queries as f64
    );

    // The series of the reaches in a river's box (about a hundred reaches).
    let mut times = Vec::new();
    let (mut features, mut observations) = (0, 0);
    let n = queries.min(50);
    for _ in 0..n {
        let r = pick(&mut rng);
        let river: Vec<&synthetic::Reach> = reaches
            .iter()
            .filter(|x| x.name == r.name && x.id[..6] == r.id[..6])
            .collect();
        let b = river.iter().flat_map(|x| x.line.iter()).fold(
            [f64::MAX, f64::MAX, f64::MIN, f64::MIN],
            |b, p| {
                [
                    b[0].min(p[0]),
                    b[1].min(p[1]),
                    b[2].max(p[0]),
                    b[3].max(p[1]),
                ]
            },
        );
        let bbox = format!("{},{},{},{}", b[0], b[1], b[2], b[3]);
        let t = Instant::now();
        let request =
            SeriesRequest::from_params("reaches", &[("bbox".into(), bbox)], Some("text/csv"))?;
        let targets = request.resolve(&store, now)?;
        let mut bytes = 0;
        hysope_catalog::series::write(&request, &store, &targets, |chunk| {
            bytes += chunk.len();
            true
        })?;
        times.push(t.elapsed());
        features += targets.len();
        observations += bytes;
    }
    let (p50, p99) = percentiles(times);
    println!(
        "| series of the reaches in a river's box, CSV | {n} boxes, {:.0} reaches and {:.0} kB each | p50 {p50:.1} ms | p99 {p99:.1} ms |",
        features as f64 / n as f64,
        observations as f64 / n as f64 / 1e3
    );

    // A features page for a map view: a 10-degree box, up to 1,000 reaches.
    let mut times = Vec::new();
    let mut returned = 0;
    for _ in 0..queries {
        let r = pick(&mut rng);
        let (x, y) = (r.line[0][0], r.line[0][1]);
        let query = FeatureQuery::from_params(
            "reaches",
            &[
                (
                    "bbox".into(),
                    format!(
                        "{},{},{},{}",
                        (x - 5.0).max(-180.0),
                        (y - 5.0).max(-90.0),
                        (x + 5.0).min(180.0),
                        (y + 5.0).min(90.0)
                    ),
                ),
                ("limit".into(), "1000".into()),
            ],
            now,
        )?;
        let t = Instant::now();
        let page = store.features(&query)?;
        let body = serde_json::to_vec(&page.features)?;
        times.push(t.elapsed());
        returned += page.features.len();
        std::hint::black_box(body);
    }
    let (p50, p99) = percentiles(times);
    println!(
        "| features page for a map view (10-degree box, limit 1000, as JSON) | {queries} pages, {:.0} reaches each | p50 {p50:.1} ms | p99 {p99:.1} ms |",
        returned as f64 / queries as f64
    );
    Ok(())
}
