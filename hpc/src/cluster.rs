//! The Slurm commands the backend calls, each call counted (the benchmark and
//! the metrics report them): `sbatch --parsable`, `squeue --json`, `scancel`,
//! `scontrol show config`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::slurm::{JobInfo, JobKey, parse_squeue_json};

/// How many times each Slurm command was called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Calls {
    /// `sbatch`.
    pub sbatch: u64,
    /// `squeue`.
    pub squeue: u64,
    /// `scancel`.
    pub scancel: u64,
    /// `scontrol`.
    pub scontrol: u64,
    /// `sinfo`.
    pub sinfo: u64,
}

/// What the controller says of its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterLimits {
    /// Array indexes must be below it (`MaxArraySize`).
    pub max_array_size: u32,
    /// How long a finished job stays in squeue (`MinJobAge`).
    pub min_job_age: Duration,
    /// The cores of the partition's nodes (`sinfo %C`), 1 when unknown.
    pub cpus: u32,
}

/// The Slurm client commands of this machine.
#[derive(Debug, Default)]
pub struct Slurm {
    sbatch: AtomicU64,
    squeue: AtomicU64,
    scancel: AtomicU64,
    scontrol: AtomicU64,
    sinfo: AtomicU64,
}

async fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| format!("{program} printed non-UTF-8 text"))
}

/// The total of `sinfo -h -o %C` (`ALLOCATED/IDLE/OTHER/TOTAL`, a line per
/// partition shown).
pub fn parse_cpus(text: &str) -> Option<u32> {
    let mut total = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        total += line.trim().rsplit('/').next()?.parse::<u32>().ok()?;
    }
    (total > 0).then_some(total)
}

/// Reads `MaxArraySize` and `MinJobAge` from `scontrol show config`.
pub fn parse_config(text: &str) -> ClusterLimits {
    let mut limits = ClusterLimits {
        max_array_size: 1001,
        min_job_age: Duration::from_secs(300),
        cpus: 1,
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let number = value.split_whitespace().next().and_then(|v| v.parse().ok());
        match (key.trim(), number) {
            ("MaxArraySize", Some(n)) => limits.max_array_size = n as u32,
            ("MinJobAge", Some(n)) => limits.min_job_age = Duration::from_secs(n),
            _ => {}
        }
    }
    limits
}

impl Slurm {
    /// The calls made so far.
    pub fn calls(&self) -> Calls {
        Calls {
            sbatch: self.sbatch.load(Ordering::Relaxed),
            squeue: self.squeue.load(Ordering::Relaxed),
            scancel: self.scancel.load(Ordering::Relaxed),
            scontrol: self.scontrol.load(Ordering::Relaxed),
            sinfo: self.sinfo.load(Ordering::Relaxed),
        }
    }

    /// The controller's limits and the cores of `partition` (the default one
    /// when `None`); an error says Slurm cannot be reached.
    pub async fn limits(&self, partition: Option<&str>) -> Result<ClusterLimits, String> {
        self.scontrol.fetch_add(1, Ordering::Relaxed);
        let mut limits = parse_config(&run("scontrol", &["show", "config"]).await?);
        self.sinfo.fetch_add(1, Ordering::Relaxed);
        let mut args = vec!["-h", "-o", "%C"];
        if let Some(p) = partition {
            args.extend(["-p", p]);
        }
        let text = run("sinfo", &args).await?;
        limits.cpus = parse_cpus(&text).unwrap_or(1);
        Ok(limits)
    }

    /// Submits `script`; the job's (or the array's) id. A request Slurm refuses
    /// (memory beyond every node, an unknown partition) is the error, in Slurm's words.
    pub async fn submit(&self, script: &Path) -> Result<u64, String> {
        self.sbatch.fetch_add(1, Ordering::Relaxed);
        let path = script
            .to_str()
            .ok_or("the job script's path is not UTF-8")?;
        let out = run("sbatch", &["--parsable", path]).await?;
        // `ID` or `ID;CLUSTER`.
        out.trim()
            .split(';')
            .next()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| format!("sbatch --parsable printed {:?}, not a job id", out.trim()))
    }

    /// Every job the controller holds (22.05 ignores filters with `--json`).
    pub async fn queue(&self) -> Result<Vec<JobInfo>, String> {
        self.squeue.fetch_add(1, Ordering::Relaxed);
        parse_squeue_json(&run("squeue", &["--json"]).await?)
    }

    /// Cancels jobs or array tasks.
    pub async fn cancel(&self, keys: &[JobKey]) -> Result<(), String> {
        if keys.is_empty() {
            return Ok(());
        }
        self.scancel.fetch_add(1, Ordering::Relaxed);
        let ids: Vec<String> = keys.iter().map(JobKey::text).collect();
        let args: Vec<&str> = ids.iter().map(String::as_str).collect();
        run("scancel", &args).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_from_scontrol_show_config() {
        let text = "Configuration data as of 2026-12-02T10:00:00\nMaxArraySize            = 1001\nMaxJobCount             = 10000\nMinJobAge               = 10 sec\n";
        assert_eq!(
            parse_config(text),
            ClusterLimits {
                max_array_size: 1001,
                min_job_age: Duration::from_secs(10),
                cpus: 1,
            }
        );
        assert_eq!(parse_cpus("0/2/0/2\n"), Some(2));
        assert_eq!(parse_cpus("4/60/0/64\n0/8/0/8\n"), Some(72));
        assert_eq!(parse_cpus(""), None);
    }
}
