//! `jobs-fill DATA_DIR N`: writes N finished jobs (processes echo and
//! swot-river-filter; 90 % successful, 9 % failed, 1 % dismissed; one a second back
//! from now) into the job store of a gateway data folder, for the `/jobs`
//! benchmarks at scale. Commits in batches of 10,000.

use hysope_jobs::{Job, JobStore, RedbJobStore, Status, now_ms};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: jobs-fill DATA_DIR N");
    };
    let n: u64 = n.parse()?;
    std::fs::create_dir_all(&dir)?;
    let file = hysope_server::STORE_FILE;
    let store = RedbJobStore::open(&std::path::Path::new(&dir).join(file))?;
    let now = now_ms();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..n {
        let created = now - (n - i) * 1000;
        let status = match i % 100 {
            0 => Status::Dismissed,
            1..=9 => Status::Failed,
            _ => Status::Successful,
        };
        let process = if i % 10 == 3 {
            "swot-river-filter"
        } else {
            "echo"
        };
        batch.push(Job {
            id: format!("{:08x}-0000-4000-8000-{:012x}", i, i),
            process_id: process.into(),
            status,
            message: if status == Status::Failed { "plugin exited with code 1".into() } else { "finished".into() },
            created,
            started: Some(created + 1),
            finished: Some(created + 20),
            updated: created + 20,
            progress: 100,
            inputs: serde_json::from_value(serde_json::json!({"stringInput": format!("job {i}")}))?,
            outputs: None,
            response: "document".into(),
            subscriber: None,
            results: (status == Status::Successful).then(|| {
                serde_json::json!({"echo": {"class": "File", "location": "echo.json", "basename": "echo.json", "size": 40,
                    "checksum": "sha1$0000000000000000000000000000000000000000"}, "files": []})
            }),
            attempts: 1,
            failure: (status == Status::Failed).then_some(hysope_jobs::FailureKind::ProcessFailed),
            base_url: None,
            owner: Some("bench".into()),
            revision: 0,
            lease_until: None,
            dispatched: false,
            log: Vec::new(),
            request_id: None,
            rule: None,
            rule_chain: Vec::new(),
        });
        if batch.len() == 10_000 {
            store.put_all(&batch)?;
            batch.clear();
        }
    }
    store.put_all(&batch)?;
    println!("{n} jobs in {dir}/{file}");
    Ok(())
}
