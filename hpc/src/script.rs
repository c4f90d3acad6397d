//! The batch script of a Slurm job: one step, or an array whose every element
//! runs its own step. A step is a folder on the shared disk holding `run.sh`
//! (what the step runs: a container command line, or `hysope` on the step's
//! invocation); the script runs it in that folder under an exact `timeout` when
//! the tool has a time limit, and writes the exit code to `exit-code` in the
//! folder (through a temporary file and a rename, so that a reader never sees
//! half a number). Success is that file saying 0 *and* Slurm's last state
//! being COMPLETED.
//!
//! Resources: `--cpus-per-task` and `--mem` always (without `--mem`, Slurm 22.05
//! gives a job the whole node's memory); `--time` with a margin over the tool's
//! limit, so that the exact `timeout` inside ends the step first and says so;
//! no `--tmp` (refused on nodes without TmpDisk); `--no-requeue` (a requeued
//! step would run twice).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// What the site's configuration adds to every job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// `--qos`.
    pub qos: Option<String>,
    /// More `#SBATCH` arguments, as given (`--constraint=cpu`).
    pub extra: Vec<String>,
}

/// One Slurm job: a step, or an array of steps alike in their resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// The job name: one per run, so that one `squeue` selects all its jobs.
    pub name: String,
    /// Cores per task (`coresMin`, rounded up).
    pub cores: u32,
    /// Memory per task in MiB (`ramMin`, rounded up).
    pub mem_mib: u64,
    /// The tool's own time limit (`ToolTimeLimit`), if any.
    pub time_limit: Option<Duration>,
    /// The step's folder; for an array, the folder of the elements `0..n`.
    pub dir: PathBuf,
    /// `Some((n, throttle))` for an array of `n` elements, at most `throttle`
    /// running at once.
    pub array: Option<(u32, Option<u32>)>,
}

/// The margin of `--time` over a tool's own limit: a tenth of it, a minute at
/// least.
pub fn margin(limit: Duration) -> Duration {
    (limit / 10).max(Duration::from_secs(60))
}

/// A value quoted for `sh`.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn check_option(arg: &str) -> Result<(), String> {
    if arg.chars().any(|c| c.is_control()) {
        return Err(format!(
            "the Slurm argument {arg:?} holds a control character"
        ));
    }
    Ok(())
}

impl JobSpec {
    /// The batch script, with the site's arguments. Refuses values that would
    /// break out of an `#SBATCH` line.
    pub fn render(&self, site: &Site) -> Result<String, String> {
        let mut out = String::from("#!/bin/sh\n");
        let mut arg = |text: String| -> Result<(), String> {
            check_option(&text)?;
            writeln!(out, "#SBATCH {text}").map_err(|e| e.to_string())
        };
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!(
                "job name {:?}: letters, digits, '-', '_' or '.'",
                self.name
            ));
        }
        arg(format!("--job-name={}", self.name))?;
        arg(format!("--cpus-per-task={}", self.cores.max(1)))?;
        arg(format!("--mem={}M", self.mem_mib.max(1)))?;
        if let Some(limit) = self.time_limit {
            let minutes = (limit + margin(limit)).as_secs().div_ceil(60);
            arg(format!("--time={minutes}"))?;
        }
        arg("--no-requeue".into())?;
        let dir = self.dir.display().to_string();
        // `#SBATCH` lines are split on blanks and read quotes: the work folder is
        // kept to characters that mean nothing there.
        if !dir.starts_with('/')
            || !dir
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-+@%=,:".contains(c))
        {
            return Err(format!(
                "the step folder {dir:?} must be absolute and hold only letters, digits and / . _ - + @ % = , :"
            ));
        }
        match self.array {
            Some((n, throttle)) => {
                if n == 0 {
                    return Err("an array of no element".into());
                }
                let throttle = throttle.map(|t| format!("%{t}")).unwrap_or_default();
                arg(format!("--array=0-{}{throttle}", n - 1))?;
                arg(format!("--output={dir}/%a/slurm.out"))?;
            }
            None => arg(format!("--output={dir}/slurm.out"))?,
        }
        for (key, value) in [
            ("partition", &site.partition),
            ("account", &site.account),
            ("qos", &site.qos),
        ] {
            if let Some(value) = value {
                arg(format!("--{key}={value}"))?;
            }
        }
        for extra in &site.extra {
            arg(extra.clone())?;
        }
        let step = match self.array {
            Some(_) => format!("{}/\"$SLURM_ARRAY_TASK_ID\"", quote(&dir)),
            None => quote(&dir),
        };
        let run = match self.time_limit {
            Some(limit) => format!(
                "timeout --signal=TERM --kill-after=10 {} sh ./run.sh",
                limit.as_secs().max(1)
            ),
            None => "sh ./run.sh".to_string(),
        };
        write!(
            out,
            "set -u\n\
             step={step}\n\
             cd \"$step\" || exit 97\n\
             {run}\n\
             code=$?\n\
             printf '%s\\n' \"$code\" > exit-code.tmp && mv exit-code.tmp exit-code\n\
             exit \"$code\"\n"
        )
        .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// An array of workers that run the steps of one pool: each worker claims a
/// step from the pool's `queue` folder (a `mv` of its link into `claimed/`,
/// atomic on one file system: two workers never claim the same step), writes its
/// own Slurm id to the step's `job` file, runs the step in its folder (output in
/// `slurm.out`, under an exact `timeout` when the pool's steps have a limit),
/// writes the step's `exit-code` through a rename, and claims the next. A worker
/// with nothing to claim for `linger` seconds ends (writing `workers/ID.done`),
/// at once when the pool's folder is gone (its run is over);
/// one with a time limit claims a step only when the step's limit still fits in
/// what is left of its own.
///
/// When Slurm ends the worker (scancel, its node set down, preemption) it
/// signals every process of the job one after another (`proctrack/linuxproc`),
/// so the step may die before the worker hears its own SIGTERM. A step ended
/// by a signal therefore gets a second for the worker's own to arrive; a worker
/// told to stop writes no `exit-code` and claims nothing more, and the poller
/// settles the step from the worker's Slurm state (NODE_FAIL runs it again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSpec {
    /// One name per run (`hysope-RUN`).
    pub name: String,
    /// Each worker's cores (the pool's steps').
    pub cores: u32,
    /// Each worker's memory in MiB.
    pub mem_mib: u64,
    /// The pool's steps' time limit.
    pub step_limit: Option<Duration>,
    /// The worker's own time limit (`--time`): room for several steps.
    pub worker_limit: Option<Duration>,
    /// The pool's folder (`queue/`, `claimed/`, `workers/`).
    pub pool: PathBuf,
    /// Workers in the array.
    pub workers: u32,
    /// Workers running at once (`%N`).
    pub throttle: Option<u32>,
    /// Seconds an idle worker waits for another step.
    pub linger: Duration,
}

impl WorkerSpec {
    /// The batch script, with the site's arguments.
    pub fn render(&self, site: &Site) -> Result<String, String> {
        if self.workers == 0 {
            return Err("an array of no worker".into());
        }
        let mut header = JobSpec {
            name: self.name.clone(),
            cores: self.cores,
            mem_mib: self.mem_mib,
            time_limit: self.worker_limit,
            dir: self.pool.clone(),
            array: Some((self.workers, self.throttle)),
        }
        .render(site)?;
        // The same #SBATCH lines, each worker's output in workers/.
        let cut = header.find("set -u\n").unwrap_or(header.len());
        header.truncate(cut);
        let pool = self.pool.display().to_string();
        let header = header.replace(
            &format!("--output={pool}/%a/slurm.out"),
            &format!("--output={pool}/workers/%A_%a.out"),
        );
        let run = match self.step_limit {
            Some(limit) => format!(
                "timeout --signal=TERM --kill-after=10 {} sh ./run.sh",
                limit.as_secs().max(1)
            ),
            None => "sh ./run.sh".to_string(),
        };
        let budget = match (self.worker_limit, self.step_limit) {
            (Some(worker), Some(step)) => format!(
                "[ $(( $(date +%s) - start + {} )) -lt {} ] || break\n    ",
                step.as_secs() + margin(step).as_secs(),
                worker.as_secs()
            ),
            _ => String::new(),
        };
        let ticks = (self.linger.as_millis() / 20).max(1);
        let mut out = header;
        write!(
            out,
            "set -u\n\
             pool={pool}\n\
             me=\"${{SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}}_${{SLURM_ARRAY_TASK_ID:-0}}\"\n\
             stop=\n\
             trap 'stop=1' TERM\n\
             start=$(date +%s)\n\
             idle=0\n\
             while [ -z \"$stop\" ]; do\n    \
             {budget}claimed=\n    \
             for entry in \"$pool\"/queue/*; do\n        \
             [ -L \"$entry\" ] || continue\n        \
             name=${{entry##*/}}\n        \
             if mv \"$entry\" \"$pool/claimed/$name\" 2>/dev/null; then claimed=$name; break; fi\n    \
             done\n    \
             if [ -z \"$claimed\" ]; then\n        \
             [ -d \"$pool/queue\" ] || break\n        \
             [ \"$idle\" -ge {ticks} ] && break\n        \
             idle=$((idle + 1))\n        \
             sleep 0.02\n        \
             continue\n    \
             fi\n    \
             idle=0\n    \
             step=$(readlink \"$pool/claimed/$claimed\")\n    \
             printf '%s\\n' \"$me\" > \"$step/job.tmp\" && mv \"$step/job.tmp\" \"$step/job\"\n    \
             [ -n \"$stop\" ] && exit 143\n    \
             (cd \"$step\" && {run}) > \"$step/slurm.out\" 2>&1 < /dev/null\n    \
             code=$?\n    \
             [ \"$code\" -gt 128 ] && [ -z \"$stop\" ] && sleep 1\n    \
             [ -n \"$stop\" ] && exit 143\n    \
             printf '%s\\n' \"$code\" > \"$step/exit-code.tmp\" && mv \"$step/exit-code.tmp\" \"$step/exit-code\"\n\
             done\n\
             [ -n \"$stop\" ] && exit 143\n\
             {{ : > \"$pool/workers/$me.done\"; }} 2>/dev/null\n\
             exit 0\n",
            pool = quote(&pool),
        )
        .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_with_a_time_limit_and_a_site() {
        let spec = JobSpec {
            name: "hysope-0193a1".into(),
            cores: 2,
            mem_mib: 512,
            time_limit: Some(Duration::from_secs(90)),
            dir: "/shared/work/run-1/step-filter".into(),
            array: None,
        };
        let site = Site {
            partition: Some("debug".into()),
            account: Some("swot".into()),
            qos: None,
            extra: vec!["--constraint=cpu".into()],
        };
        assert_eq!(
            spec.render(&site).unwrap(),
            "#!/bin/sh\n\
             #SBATCH --job-name=hysope-0193a1\n\
             #SBATCH --cpus-per-task=2\n\
             #SBATCH --mem=512M\n\
             #SBATCH --time=3\n\
             #SBATCH --no-requeue\n\
             #SBATCH --output=/shared/work/run-1/step-filter/slurm.out\n\
             #SBATCH --partition=debug\n\
             #SBATCH --account=swot\n\
             #SBATCH --constraint=cpu\n\
             set -u\n\
             step='/shared/work/run-1/step-filter'\n\
             cd \"$step\" || exit 97\n\
             timeout --signal=TERM --kill-after=10 90 sh ./run.sh\n\
             code=$?\n\
             printf '%s\\n' \"$code\" > exit-code.tmp && mv exit-code.tmp exit-code\n\
             exit \"$code\"\n"
        );
    }

    #[test]
    fn an_array_throttled_without_a_time_limit() {
        let spec = JobSpec {
            name: "hysope-0193a1".into(),
            cores: 0,
            mem_mib: 100,
            time_limit: None,
            dir: "/shared/work/run-2/scatter".into(),
            array: Some((500, Some(50))),
        };
        let script = spec.render(&Site::default()).unwrap();
        assert_eq!(
            script,
            "#!/bin/sh\n\
             #SBATCH --job-name=hysope-0193a1\n\
             #SBATCH --cpus-per-task=1\n\
             #SBATCH --mem=100M\n\
             #SBATCH --no-requeue\n\
             #SBATCH --array=0-499%50\n\
             #SBATCH --output=/shared/work/run-2/scatter/%a/slurm.out\n\
             set -u\n\
             step='/shared/work/run-2/scatter'/\"$SLURM_ARRAY_TASK_ID\"\n\
             cd \"$step\" || exit 97\n\
             sh ./run.sh\n\
             code=$?\n\
             printf '%s\\n' \"$code\" > exit-code.tmp && mv exit-code.tmp exit-code\n\
             exit \"$code\"\n"
        );
    }

    #[test]
    fn workers_of_a_pool() {
        let spec = WorkerSpec {
            name: "hysope-run-1".into(),
            cores: 1,
            mem_mib: 100,
            step_limit: Some(Duration::from_secs(60)),
            worker_limit: Some(Duration::from_secs(600)),
            pool: "/shared/work/run-1/pools/1c-100m-60s".into(),
            workers: 2,
            throttle: None,
            linger: Duration::from_secs(3),
        };
        let script = spec.render(&Site::default()).unwrap();
        assert_eq!(
            script,
            "#!/bin/sh\n\
             #SBATCH --job-name=hysope-run-1\n\
             #SBATCH --cpus-per-task=1\n\
             #SBATCH --mem=100M\n\
             #SBATCH --time=11\n\
             #SBATCH --no-requeue\n\
             #SBATCH --array=0-1\n\
             #SBATCH --output=/shared/work/run-1/pools/1c-100m-60s/workers/%A_%a.out\n\
             set -u\n\
             pool='/shared/work/run-1/pools/1c-100m-60s'\n\
             me=\"${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}_${SLURM_ARRAY_TASK_ID:-0}\"\n\
             stop=\n\
             trap 'stop=1' TERM\n\
             start=$(date +%s)\n\
             idle=0\n\
             while [ -z \"$stop\" ]; do\n    \
             [ $(( $(date +%s) - start + 120 )) -lt 600 ] || break\n    \
             claimed=\n    \
             for entry in \"$pool\"/queue/*; do\n        \
             [ -L \"$entry\" ] || continue\n        \
             name=${entry##*/}\n        \
             if mv \"$entry\" \"$pool/claimed/$name\" 2>/dev/null; then claimed=$name; break; fi\n    \
             done\n    \
             if [ -z \"$claimed\" ]; then\n        \
             [ -d \"$pool/queue\" ] || break\n        \
             [ \"$idle\" -ge 150 ] && break\n        \
             idle=$((idle + 1))\n        \
             sleep 0.02\n        \
             continue\n    \
             fi\n    \
             idle=0\n    \
             step=$(readlink \"$pool/claimed/$claimed\")\n    \
             printf '%s\\n' \"$me\" > \"$step/job.tmp\" && mv \"$step/job.tmp\" \"$step/job\"\n    \
             [ -n \"$stop\" ] && exit 143\n    \
             (cd \"$step\" && timeout --signal=TERM --kill-after=10 60 sh ./run.sh) > \"$step/slurm.out\" 2>&1 < /dev/null\n    \
             code=$?\n    \
             [ \"$code\" -gt 128 ] && [ -z \"$stop\" ] && sleep 1\n    \
             [ -n \"$stop\" ] && exit 143\n    \
             printf '%s\\n' \"$code\" > \"$step/exit-code.tmp\" && mv \"$step/exit-code.tmp\" \"$step/exit-code\"\n\
             done\n\
             [ -n \"$stop\" ] && exit 143\n\
             { : > \"$pool/workers/$me.done\"; } 2>/dev/null\n\
             exit 0\n"
        );
        assert!(
            WorkerSpec { workers: 0, ..spec }
                .render(&Site::default())
                .is_err()
        );
    }

    #[test]
    fn margins_and_refusals() {
        assert_eq!(margin(Duration::from_secs(30)), Duration::from_secs(60));
        assert_eq!(
            margin(Duration::from_secs(36_000)),
            Duration::from_secs(3_600)
        );
        let mut spec = JobSpec {
            name: "bad name".into(),
            cores: 1,
            mem_mib: 1,
            time_limit: None,
            dir: "/w".into(),
            array: None,
        };
        assert!(spec.render(&Site::default()).is_err());
        spec.name = "ok".into();
        let site = Site {
            extra: vec!["--comment=x\n#SBATCH --uid=0".into()],
            ..Site::default()
        };
        assert!(
            spec.render(&site)
                .unwrap_err()
                .contains("control character")
        );
        spec.array = Some((0, None));
        assert!(spec.render(&Site::default()).is_err());
        spec.array = None;
        for dir in ["relative/dir", "/with space", "/it's", "/a\nb"] {
            spec.dir = dir.into();
            assert!(
                spec.render(&Site::default())
                    .unwrap_err()
                    .contains("step folder"),
                "{dir}"
            );
        }
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
