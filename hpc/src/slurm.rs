//! What Slurm says about jobs, as Slurm 22.05 says it: `squeue --json`
//! (openapi v0.0.38) and `scontrol show job -o`. Parsed into [`JobInfo`]s the
//! poller settles steps from.
//!
//! Facts these parsers rely on, recorded on the one-node cluster of
//! `tools/slurm-localhost.sh` (the outputs are in `tests/slurm-22.05/`):
//! - `squeue --json` ignores `-n` and `-t`: it lists every job the controller
//!   still holds, so the caller selects its own by name;
//! - `exit_code` is a raw wait status (768 is exit 3; a job killed by a signal
//!   carries the signal in its low bits);
//! - an array task's `job_id` is its own, with `array_job_id` and `array_task_id`;
//!   the tasks not started yet are one entry, whose `job_id` is the array's.

use serde::Deserialize;

/// A job's state, as Slurm names it (`job_state`, `JobState=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Waiting to start.
    Pending,
    /// Started.
    Running,
    /// Suspended.
    Suspended,
    /// Ending (the scheduler still holds it).
    Completing,
    /// Ended with exit code 0.
    Completed,
    /// Ended with a non-zero exit code.
    Failed,
    /// Cancelled by a user or an administrator.
    Cancelled,
    /// Killed at its time limit.
    Timeout,
    /// Killed for using more memory than it asked.
    OutOfMemory,
    /// Its node failed.
    NodeFail,
    /// Preempted by another job.
    Preempted,
    /// Ended at the deadline it was given.
    Deadline,
    /// Failed to launch.
    BootFail,
    /// Any other state Slurm names.
    Other(String),
}

impl State {
    /// The state named `name` (any case; `CANCELLED by 0` is cancelled).
    pub fn parse(name: &str) -> State {
        let word = name.split_whitespace().next().unwrap_or("");
        match word.to_ascii_uppercase().as_str() {
            "PENDING" => State::Pending,
            "RUNNING" => State::Running,
            "SUSPENDED" => State::Suspended,
            "COMPLETING" => State::Completing,
            "COMPLETED" => State::Completed,
            "FAILED" => State::Failed,
            "CANCELLED" => State::Cancelled,
            "TIMEOUT" => State::Timeout,
            "OUT_OF_MEMORY" => State::OutOfMemory,
            "NODE_FAIL" => State::NodeFail,
            "PREEMPTED" => State::Preempted,
            "DEADLINE" => State::Deadline,
            "BOOT_FAIL" => State::BootFail,
            other => State::Other(other.to_string()),
        }
    }

    /// The state as Slurm writes it (`TIMEOUT`, `OUT_OF_MEMORY`).
    pub fn name(&self) -> String {
        match self {
            State::Pending => "PENDING".into(),
            State::Running => "RUNNING".into(),
            State::Suspended => "SUSPENDED".into(),
            State::Completing => "COMPLETING".into(),
            State::Completed => "COMPLETED".into(),
            State::Failed => "FAILED".into(),
            State::Cancelled => "CANCELLED".into(),
            State::Timeout => "TIMEOUT".into(),
            State::OutOfMemory => "OUT_OF_MEMORY".into(),
            State::NodeFail => "NODE_FAIL".into(),
            State::Preempted => "PREEMPTED".into(),
            State::Deadline => "DEADLINE".into(),
            State::BootFail => "BOOT_FAIL".into(),
            State::Other(name) => name.clone(),
        }
    }

    /// True once the job has ended (whatever the way).
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            State::Pending | State::Running | State::Suspended | State::Completing
        ) && !matches!(self, State::Other(_))
    }
}

/// How a job's process ended, from a raw wait status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl Exit {
    /// The wait status `raw` (`exit_code` of `squeue --json`): 768 is exit 3,
    /// 15 is killed by SIGTERM.
    pub fn from_wait_status(raw: i64) -> Exit {
        let signal = (raw & 0x7f) as i32;
        if signal == 0 {
            Exit::Code(((raw >> 8) & 0xff) as i32)
        } else {
            Exit::Signal(signal)
        }
    }

    /// `ExitCode=CODE:SIGNAL` of `scontrol show job`.
    pub fn from_scontrol(text: &str) -> Option<Exit> {
        let (code, signal) = text.split_once(':')?;
        let (code, signal): (i32, i32) = (code.parse().ok()?, signal.parse().ok()?);
        Some(if signal != 0 {
            Exit::Signal(signal)
        } else {
            Exit::Code(code)
        })
    }
}

/// A job (or an array task) as Slurm shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    /// Its id (an array task's own id).
    pub job_id: u64,
    /// The array it belongs to (`None` for a plain job).
    pub array_job_id: Option<u64>,
    /// Its task index in the array; `None` for a plain job, and for the entry of
    /// the tasks not started yet.
    pub array_task_id: Option<u32>,
    /// The tasks not started yet that the entry stands for (`"4-9%2"`), if any.
    pub array_pending: Option<String>,
    /// Its name (`-J`).
    pub name: String,
    /// Its state.
    pub state: State,
    /// Why it is in that state (`Resources`, `PartitionConfig`, `NonZeroExitCode`).
    pub reason: Option<String>,
    /// How it ended, once it has.
    pub exit: Option<Exit>,
}

#[derive(Deserialize)]
struct Squeue {
    #[serde(default)]
    errors: Vec<serde_json::Value>,
    jobs: Vec<RawJob>,
}

#[derive(Deserialize)]
struct RawJob {
    job_id: u64,
    #[serde(default)]
    array_job_id: Option<u64>,
    #[serde(default)]
    array_task_id: Option<u32>,
    #[serde(default)]
    array_task_string: Option<String>,
    #[serde(default)]
    name: String,
    job_state: String,
    #[serde(default)]
    state_reason: Option<String>,
    #[serde(default)]
    exit_code: Option<i64>,
}

fn reason(text: Option<String>) -> Option<String> {
    text.filter(|r| !r.is_empty() && r != "None")
}

/// Parses the output of `squeue --json` (Slurm 22.05). Errors Slurm reports in
/// the document are returned as the error.
pub fn parse_squeue_json(text: &str) -> Result<Vec<JobInfo>, String> {
    let doc: Squeue = serde_json::from_str(text)
        .map_err(|e| format!("squeue --json printed no job list: {e}"))?;
    if !doc.errors.is_empty() {
        return Err(format!(
            "squeue --json reported errors: {}",
            serde_json::Value::Array(doc.errors)
        ));
    }
    Ok(doc
        .jobs
        .into_iter()
        .map(|j| {
            let state = State::parse(&j.job_state);
            let exit = state
                .is_final()
                .then(|| j.exit_code.map(Exit::from_wait_status))
                .flatten();
            JobInfo {
                job_id: j.job_id,
                array_job_id: j.array_job_id.filter(|&a| a != 0),
                array_task_id: j.array_task_id,
                array_pending: j.array_task_string.filter(|s| !s.is_empty()),
                name: j.name,
                state,
                reason: reason(j.state_reason),
                exit,
            }
        })
        .collect())
}

/// Where a step runs in Slurm: a plain job, or one task of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey {
    /// The job's id, or the array's.
    pub job: u64,
    /// The task of the array.
    pub task: Option<u32>,
}

impl JobKey {
    /// `ID` or `ARRAY_TASK`, as `scancel` and `squeue` write them.
    pub fn text(&self) -> String {
        match self.task {
            Some(t) => format!("{}_{t}", self.job),
            None => self.job.to_string(),
        }
    }

    /// Reads `ID` or `ARRAY_TASK`.
    pub fn parse(text: &str) -> Option<JobKey> {
        let text = text.trim();
        match text.split_once('_') {
            Some((job, task)) => Some(JobKey {
                job: job.parse().ok()?,
                task: Some(task.parse().ok()?),
            }),
            None => Some(JobKey {
                job: text.parse().ok()?,
                task: None,
            }),
        }
    }

    /// The entry of `jobs` that stands for this step: its own, or, for an array
    /// task not started yet, the array's entry whose pending tasks include it.
    pub fn find<'a>(&self, jobs: &'a [JobInfo]) -> Option<&'a JobInfo> {
        match self.task {
            None => jobs
                .iter()
                .find(|j| j.job_id == self.job && j.array_job_id.is_none()),
            Some(task) => jobs.iter().find(|j| {
                j.array_job_id == Some(self.job)
                    && (j.array_task_id == Some(task)
                        || j.array_pending
                            .as_deref()
                            .is_some_and(|p| tasks_include(p, task)))
            }),
        }
    }
}

/// True when the task list `text` (`0-4%2`, `3,5-7`) includes `task`.
pub fn tasks_include(text: &str, task: u32) -> bool {
    let list = text.split('%').next().unwrap_or("");
    list.split(',').any(|part| match part.split_once('-') {
        Some((a, b)) => match (a.parse::<u32>(), b.parse::<u32>()) {
            (Ok(a), Ok(b)) => (a..=b).contains(&task),
            _ => false,
        },
        None => part.parse::<u32>() == Ok(task),
    })
}

/// Parses one line of `scontrol show job -o ID` (`Key=Value` pairs; values hold
/// no spaces except `Command=` and the like at the end, which are not read).
pub fn parse_scontrol_line(line: &str) -> Result<JobInfo, String> {
    let mut fields = std::collections::HashMap::new();
    for pair in line.split_whitespace() {
        if let Some((k, v)) = pair.split_once('=') {
            fields.entry(k).or_insert(v);
        }
    }
    let get = |k: &str| fields.get(k).copied();
    let job_id = get("JobId")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no JobId in {line:?}"))?;
    let state = State::parse(get("JobState").ok_or("no JobState")?);
    let exit = state
        .is_final()
        .then(|| get("ExitCode").and_then(Exit::from_scontrol))
        .flatten();
    Ok(JobInfo {
        job_id,
        array_job_id: get("ArrayJobId").and_then(|v| v.parse().ok()),
        array_task_id: get("ArrayTaskId").and_then(|v| v.parse().ok()),
        array_pending: None,
        name: get("JobName").unwrap_or("").to_string(),
        state,
        reason: reason(get("Reason").map(str::to_string)),
        exit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_pending_tasks() {
        assert_eq!(JobKey::parse("41_3").unwrap().text(), "41_3");
        assert_eq!(
            JobKey::parse("41\n").unwrap(),
            JobKey {
                job: 41,
                task: None
            }
        );
        assert!(JobKey::parse("x_1").is_none());
        assert!(tasks_include("0-4%2", 4));
        assert!(!tasks_include("0-4%2", 5));
        assert!(tasks_include("3,5-7", 6));
        assert!(!tasks_include("3,5-7", 4));
        let jobs = parse_squeue_json(&recorded("squeue-mixed.json")).unwrap();
        for job in &jobs {
            let key = JobKey {
                job: job.array_job_id.unwrap_or(job.job_id),
                task: job.array_task_id,
            };
            if job.array_pending.is_none() {
                assert_eq!(key.find(&jobs), Some(job));
            }
        }
    }

    fn recorded(name: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/slurm-22.05")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn wait_statuses_are_codes_or_signals() {
        assert_eq!(Exit::from_wait_status(0), Exit::Code(0));
        assert_eq!(Exit::from_wait_status(768), Exit::Code(3));
        assert_eq!(Exit::from_wait_status(15), Exit::Signal(15));
        assert_eq!(Exit::from_scontrol("3:0"), Some(Exit::Code(3)));
        assert_eq!(Exit::from_scontrol("0:15"), Some(Exit::Signal(15)));
        assert_eq!(Exit::from_scontrol("x"), None);
    }

    #[test]
    fn a_recorded_squeue_of_every_kind_of_job() {
        let jobs = parse_squeue_json(&recorded("squeue-mixed.json")).unwrap();
        let by_id = |id: u64| jobs.iter().find(|j| j.job_id == id).unwrap();
        // A job that exited 0, one that exited 3.
        assert_eq!(by_id(2).state, State::Completed);
        assert_eq!(by_id(2).exit, Some(Exit::Code(0)));
        assert_eq!(by_id(3).state, State::Failed);
        assert_eq!(by_id(3).exit, Some(Exit::Code(3)));
        assert_eq!(by_id(3).reason.as_deref(), Some("NonZeroExitCode"));
        // More cores than any node: pends for ever, saying why.
        assert_eq!(by_id(5).state, State::Pending);
        assert_eq!(by_id(5).reason.as_deref(), Some("PartitionConfig"));
        assert_eq!(by_id(5).exit, None);
        // A cancelled pending job.
        assert_eq!(by_id(7).state, State::Cancelled);
        // An array of 5 tasks, 2 at a time: started tasks have their own ids, the
        // ones not started are one entry with the array's id.
        let tasks: Vec<&JobInfo> = jobs.iter().filter(|j| j.array_job_id == Some(4)).collect();
        assert_eq!(tasks.len(), 5);
        let waiting = by_id(4);
        assert_eq!(waiting.array_task_id, Some(4));
        assert_eq!(waiting.reason.as_deref(), Some("JobArrayTaskLimit"));
        assert_eq!(by_id(9).array_task_id, Some(1));
        // squeue --json ignores -n: another job is there too.
        assert!(jobs.iter().any(|j| j.name == "wrap"));
        assert!(jobs.iter().filter(|j| j.name == "hysope-rec").count() >= 9);
    }

    #[test]
    fn a_recorded_timeout() {
        let jobs = parse_squeue_json(&recorded("squeue-timeout.json")).unwrap();
        let job = jobs.iter().find(|j| j.job_id == 6).unwrap();
        assert_eq!(job.state, State::Timeout, "{job:?}");
        assert!(job.state.is_final());
        assert_eq!(job.reason.as_deref(), Some("TimeLimit"));
        assert_eq!(job.exit, Some(Exit::Signal(15)));
        let line = parse_scontrol_line(&recorded("scontrol-timeout.txt")).unwrap();
        assert_eq!(line.state, State::Timeout);
    }

    #[test]
    fn recorded_scontrol_lines() {
        let pending = parse_scontrol_line(&recorded("scontrol-pending.txt")).unwrap();
        assert_eq!(pending.job_id, 5);
        assert_eq!(pending.state, State::Pending);
        assert_eq!(pending.reason.as_deref(), Some("PartitionConfig"));
        let failed = parse_scontrol_line(&recorded("scontrol-failed.txt")).unwrap();
        assert_eq!(failed.state, State::Failed);
        assert_eq!(failed.exit, Some(Exit::Code(3)));
        assert!(parse_scontrol_line("garbage").is_err());
        assert!(parse_squeue_json("not json").is_err());
        assert!(
            parse_squeue_json(r#"{"errors": [{"error": "x"}], "jobs": []}"#)
                .unwrap_err()
                .contains("errors")
        );
    }
}
