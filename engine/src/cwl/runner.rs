//! The process runner: CommandLineTool, ExpressionTool and Workflow (DAG of steps run
//! concurrently as their inputs become available, scatter with its three methods,
//! `when`, `pickValue`, `linkMerge`, `valueFrom`, defaults, subworkflows).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::backend::Backend;

/// Jobs one scattered step may make, at most.
pub const MAX_SCATTER_WIDTH: usize = 10_000;
use super::expr::{Evaluator, Scope};
use super::tool::{ToolRun, run_command_line_tool, run_expression_tool};
use super::values::{self, path_of};
use crate::{Error, Result};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Requirements this runner implements: every class of CWL v1.2 and ours. Any
/// other requirement class makes the process unsupported (exit code 33 in
/// `cwl-runner`); unknown hints are ignored.
pub fn supports_requirement(class: &str) -> bool {
    super::validate::REQUIREMENT_CLASSES.contains(&class) || class == "hysope:WasmRequirement"
}

/// Runs processes on the backends it holds.
pub struct Runner {
    /// Each CommandLineTool goes to the first that accepts it.
    backends: Vec<Arc<dyn Backend>>,
    scratch: PathBuf,
    /// One permit per core: a tool holds `coresMin` of them while it runs.
    slots: Arc<tokio::sync::Semaphore>,
    cores: u32,
    fresh_outdir: bool,
    resolved: bool,
}

impl Runner {
    /// A runner over `backends` (each CommandLineTool goes to the first that
    /// accepts it, see [`Backend::accepts`]); scratch files go under `scratch`.
    /// Callers outside the engine get theirs from
    /// [`Engine::runner`](crate::Engine::runner), with the engine's backends.
    pub fn new(backends: Vec<Arc<dyn Backend>>, scratch: PathBuf) -> Self {
        // Asked once per process: the answer reads cgroup files.
        static CORES: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        let cores = *CORES.get_or_init(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1)
        });
        Self {
            backends,
            scratch,
            slots: Arc::new(tokio::sync::Semaphore::new(cores as usize)),
            cores,
            fresh_outdir: false,
            resolved: false,
        }
    }

    /// Says that the `outdir` given to [`Runner::run`] is a folder made empty for
    /// this run and for nothing else. A CommandLineTool then runs in it directly
    /// (no work folder made, no outputs moved: each folder or file created costs
    /// an inode, the dearest part of a small job on ext4), and what it leaves there
    /// that no output names is removed afterwards, so that `outdir` ends as it
    /// would have: the outputs only (and empty if the tool fails).
    pub fn with_fresh_outdir(mut self, fresh: bool) -> Self {
        self.fresh_outdir = fresh;
        self
    }

    /// Says that the scratch folder and the `outdir` given to [`Runner::run`] exist
    /// and are resolved paths (absolute, no symbolic link on the way): they are used
    /// as given, not created and resolved again at each run (a `readlink` per
    /// component of each path, and a `mkdir` and a `stat` per folder).
    pub fn with_resolved_dirs(mut self, resolved: bool) -> Self {
        self.resolved = resolved;
        self
    }

    /// Runs a loaded process with `job`, writing its outputs under `outdir`; returns the output object.
    pub async fn run(
        &self,
        process: &Value,
        job: &Map<String, Value>,
        outdir: &Path,
    ) -> Result<Value> {
        // Resolved once: outputs are checked against, moved into and pruned in
        // `outdir`; every folder of the run is made under the scratch folder, so
        // that the paths the tools see are resolved too.
        let (outdir, scratch) = match self.resolved {
            true => (outdir.to_path_buf(), self.scratch.clone()),
            false => (resolved_dir(outdir)?, resolved_dir(&self.scratch)?),
        };
        let outdir = &outdir;
        // Tools run in fresh folders; their outputs are then moved into `outdir`.
        // `cwl:requirements` in the job add to (and override) the process's own
        // (the process is copied only then).
        let mut job = job.clone();
        let extended;
        let process = match (job.remove("cwl:requirements"), process) {
            (Some(Value::Array(extra)), Value::Object(own)) => {
                let mut copy = own.clone();
                let mut reqs = values::items(process, "requirements").to_vec();
                reqs.extend(extra);
                copy.insert("requirements".into(), Value::Array(reqs));
                extended = Value::Object(copy);
                &extended
            }
            _ => process,
        };
        let job = &job;
        let root = scratch.join(values::unique_name("run"));
        let in_place = self.fresh_outdir
            && process.get("class").and_then(Value::as_str) == Some("CommandLineTool");
        let work = if in_place {
            outdir.clone()
        } else {
            root.join("job")
        };
        let result = self
            .run_process(
                process,
                Vec::new(),
                Vec::new(),
                job.clone(),
                work,
                "#".into(),
                root.clone(),
            )
            .await;
        let result = result.and_then(|mut output| {
            relocate(&mut output, outdir, &root)?;
            if in_place {
                prune(outdir, &mut output)?;
            }
            Ok(output)
        });
        if in_place && result.is_err() {
            // Whatever the failed tool wrote; `outdir` was empty before it.
            let _ = prune(outdir, &mut Value::Null);
        }
        let _ = std::fs::remove_dir_all(&root);
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn run_process<'a>(
        &'a self,
        process: &'a Value,
        inherited: Vec<Value>,
        inherited_hints: Vec<Value>,
        job: Map<String, Value>,
        outdir: PathBuf,
        at: String,
        root: PathBuf,
    ) -> BoxFuture<'a, Result<Value>> {
        Box::pin(async move {
            let own_requirements = values::items(process, "requirements");
            let mut requirements = inherited;
            requirements.extend_from_slice(own_requirements);
            let mut hints = values::items(process, "hints").to_vec();
            hints.extend(inherited_hints);
            for req in own_requirements {
                let class = req.get("class").and_then(Value::as_str).unwrap_or("");
                if !supports_requirement(class) {
                    return Err(Error::Unsupported {
                        location: format!("{at}/requirements"),
                        message: format!("requirement {class}"),
                    });
                }
            }
            // (A tool run in place runs in the caller's folder, which exists.)
            if !outdir.is_dir() {
                std::fs::create_dir_all(&outdir).map_err(|e| Error::io(&outdir, e))?;
            }
            let class = process.get("class").and_then(Value::as_str).unwrap_or("");
            // A tool's scratch holds only literals it materialises (each makes its
            // folder); workflows and expression tools use it as their work area.
            let scratch = root.join(values::unique_name("scratch"));
            if class != "CommandLineTool" {
                std::fs::create_dir_all(&scratch).map_err(|e| Error::io(&scratch, e))?;
            }
            let run = ToolRun {
                process,
                requirements: requirements.clone(),
                hints: hints.clone(),
                outdir: &outdir,
                scratch: &scratch,
                at: at.clone(),
            };
            match class {
                "CommandLineTool" => {
                    let Some(backend) = self
                        .backends
                        .iter()
                        .find(|b| b.accepts(&requirements, &hints))
                    else {
                        let message = match super::backend::is_wasm_tool(&requirements, &hints) {
                            true => "hysope:WasmRequirement without a wasm backend",
                            false => "no backend of this runner runs this tool",
                        };
                        return Err(Error::Unsupported {
                            location: at,
                            message: message.into(),
                        });
                    };
                    // Within the machine's cores: a tool holds `coresMin` slots (1 by
                    // default), unless it runs elsewhere (a batch system schedules it).
                    let wanted = super::tool::find_req(&requirements, "ResourceRequirement")
                        .or_else(|| super::tool::find_req(&hints, "ResourceRequirement"))
                        .and_then(|r| r.get("coresMin"))
                        .and_then(Value::as_f64)
                        .map(|c| c.ceil() as u32)
                        .unwrap_or(1)
                        .clamp(1, self.cores);
                    let _slots = match backend.remote() {
                        true => None,
                        false => Some(
                            self.slots
                                .acquire_many(wanted)
                                .await
                                .map_err(|_| Error::Setup("runner is shutting down".into()))?,
                        ),
                    };
                    // One span per tool run, whichever backend runs it.
                    let span = tracing::info_span!("tool", backend = backend.name(), at = %at);
                    tracing::Instrument::instrument(
                        run_command_line_tool(&run, backend.as_ref(), &job),
                        span,
                    )
                    .await
                }
                "ExpressionTool" => run_expression_tool(&run, &job),
                "Workflow" => {
                    self.run_workflow(process, requirements, hints, &job, &outdir, &scratch, &at)
                        .await
                }
                other => Err(Error::Unsupported {
                    location: format!("{at}/class"),
                    message: format!("class {other}"),
                }),
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_workflow(
        &self,
        wf: &Value,
        requirements: Vec<Value>,
        hints: Vec<Value>,
        job: &Map<String, Value>,
        outdir: &Path,
        scratch: &Path,
        at: &str,
    ) -> Result<Value> {
        let evaluator = Evaluator::for_requirements(&requirements);
        let inputs = super::tool::bind_job(wf, job, &evaluator, &requirements, scratch, at)?;
        let mut state: HashMap<String, Value> =
            inputs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let steps: Vec<Value> = values::items(wf, "steps").to_vec();
        let mut done: HashSet<String> = HashSet::new();
        // DAG scheduling: a step starts as soon as every step it reads from has
        // finished; independent steps run concurrently (tool runs are bounded by the
        // runner's slots).
        let mut started: HashSet<String> = HashSet::new();
        let mut running = futures::stream::FuturesUnordered::new();
        while done.len() < steps.len() {
            for step in &steps {
                let id = step_id(step).to_string();
                let ready = step_sources(step).iter().all(|src| {
                    !src.contains('/') || done.contains(src.split('/').next().unwrap_or(""))
                });
                if started.contains(&id) || !ready {
                    continue;
                }
                started.insert(id.clone());
                let step_dir = scratch.join(format!("step-{}", sanitize(&id)));
                let reqs = requirements.clone();
                let hints = hints.clone();
                let snapshot = state.clone();
                let evaluator = &evaluator;
                running.push(async move {
                    let result = self
                        .run_step(
                            step,
                            reqs,
                            hints,
                            &snapshot,
                            evaluator,
                            &step_dir,
                            &format!("{at}/steps/{id}"),
                        )
                        .await;
                    (id, result)
                });
            }
            let Some((id, result)) = futures::StreamExt::next(&mut running).await else {
                return Err(Error::cwl(
                    format!("{at}/steps"),
                    "the steps form a cycle or depend on unknown steps",
                ));
            };
            for (k, v) in result? {
                state.insert(format!("{id}/{k}"), v);
            }
            done.insert(id);
        }
        let mut out = Map::new();
        for output in values::items(wf, "outputs") {
            let id = output.get("id").and_then(Value::as_str).unwrap_or("");
            let sources: Vec<String> = values::string_list(output, "outputSource");
            let value = gather(
                &sources,
                &state,
                output.get("linkMerge"),
                output.get("pickValue"),
                &format!("{at}/outputs/{id}"),
            )?;
            let ty = output.get("type").cloned().unwrap_or(Value::Null);
            values::check_output(&value, &ty, &format!("{at}/outputs/{id}"))?;
            out.insert(id.to_string(), value);
        }
        let _ = outdir;
        Ok(Value::Object(out))
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_step(
        &self,
        step: &Value,
        requirements: Vec<Value>,
        hints: Vec<Value>,
        state: &HashMap<String, Value>,
        wf_evaluator: &Evaluator,
        dir: &Path,
        at: &str,
    ) -> Result<Map<String, Value>> {
        let mut reqs = requirements;
        reqs.extend_from_slice(values::items(step, "requirements"));
        let mut step_hints = values::items(step, "hints").to_vec();
        step_hints.extend(hints);
        let run = step
            .get("run")
            .ok_or_else(|| Error::cwl(at, "step without run"))?;
        let evaluator = if super::tool::find_req(&reqs, "InlineJavascriptRequirement").is_some() {
            Evaluator::for_requirements(&reqs)
        } else {
            wf_evaluator.clone()
        };
        // Step inputs before valueFrom.
        let mut raw = Map::new();
        for input in values::items(step, "in") {
            let id = input
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let sources: Vec<String> = values::string_list(input, "source");
            let mut value = if sources.is_empty() {
                Value::Null
            } else {
                let merged = gather(
                    &sources,
                    state,
                    input.get("linkMerge"),
                    input.get("pickValue"),
                    &format!("{at}/in/{id}"),
                )?;
                if sources.len() == 1 && input.get("linkMerge").is_some() && !merged.is_array() {
                    json!([merged])
                } else {
                    merged
                }
            };
            if value.is_null() {
                if let Some(default) = input.get("default") {
                    value = default.clone();
                }
            }
            if input.get("loadContents").and_then(Value::as_bool) == Some(true) {
                values::complete_files(&mut value, true, None, &format!("{at}/in/{id}"))?;
            }
            raw.insert(id, value);
        }
        let outs: Vec<String> = values::string_list(step, "out");
        let scatter: Vec<String> = values::string_list(step, "scatter");
        let method = step
            .get("scatterMethod")
            .and_then(Value::as_str)
            .unwrap_or("dotproduct");
        let step_inputs = |raw: &Map<String, Value>| -> Result<Map<String, Value>> {
            let mut done = raw.clone();
            let context = Value::Object(raw.clone());
            for input in values::items(step, "in") {
                let id = input.get("id").and_then(Value::as_str).unwrap_or("");
                if let Some(expr) = input.get("valueFrom") {
                    let self_ = raw.get(id).cloned().unwrap_or(Value::Null);
                    let mut self_ = self_;
                    values::complete_files(&mut self_, false, None, at).ok();
                    let v = evaluator.eval_value(
                        expr,
                        &Scope {
                            inputs: Some(&context),
                            self_: Some(&self_),
                            runtime: None,
                        },
                        &format!("{at}/in/{id}/valueFrom"),
                    )?;
                    done.insert(id.to_string(), v);
                }
            }
            Ok(done)
        };
        let condition = step.get("when").cloned();
        let run_one = |job: Map<String, Value>, n: usize, element_at: String| {
            let reqs = reqs.clone();
            let hints = step_hints.clone();
            let dir = dir.join(format!("{n}"));
            let condition = condition.clone();
            let evaluator = evaluator.clone();
            async move {
                if let Some(when) = &condition {
                    let scope_inputs = Value::Object(job.clone());
                    let go = evaluator.eval_value(
                        when,
                        &Scope {
                            inputs: Some(&scope_inputs),
                            ..Scope::default()
                        },
                        &format!("{at}/when"),
                    )?;
                    match go {
                        Value::Bool(true) => {}
                        Value::Bool(false) => return Ok(None),
                        other => {
                            return Err(Error::cwl(
                                format!("{at}/when"),
                                format!("when must evaluate to a boolean, not {other}"),
                            ));
                        }
                    }
                }
                let declared: HashSet<&str> = values::ids(run, "inputs").into_iter().collect();
                let job: Map<String, Value> = job
                    .into_iter()
                    .filter(|(k, _)| declared.contains(k.as_str()))
                    .collect();
                let root = dir.join("scratch");
                self.run_process(run, reqs, hints, job, dir.join("out"), element_at, root)
                    .await
                    .map(Some)
            }
        };
        if scatter.is_empty() {
            let job = step_inputs(&raw)?;
            let result = run_one(job, 0, at.to_string()).await?;
            return Ok(pick_outputs(&outs, result.as_ref()));
        }
        // Scatter: the jobs, and the shape of the result.
        let mut lists = Vec::new();
        for name in &scatter {
            let v = raw.get(name).cloned().unwrap_or(Value::Null);
            let Value::Array(items) = v else {
                return Err(Error::cwl(
                    format!("{at}/scatter"),
                    format!("scatter input {name} is not an array"),
                ));
            };
            lists.push(items);
        }
        // The width is known before any job is made: a cross product of two
        // lists of thousands would otherwise be millions of jobs in memory.
        let width = match method {
            "dotproduct" => lists.first().map(Vec::len).unwrap_or(0),
            _ => lists
                .iter()
                .try_fold(1usize, |n, l| n.checked_mul(l.len()))
                .unwrap_or(usize::MAX),
        };
        if width > MAX_SCATTER_WIDTH {
            return Err(Error::cwl(
                format!("{at}/scatter"),
                format!(
                    "a scatter of {width} jobs; a step may scatter to {MAX_SCATTER_WIDTH} at most"
                ),
            ));
        }
        let combos: Vec<Vec<usize>> = match method {
            "dotproduct" => {
                let n = lists.first().map(Vec::len).unwrap_or(0);
                if lists.iter().any(|l| l.len() != n) {
                    return Err(Error::cwl(
                        format!("{at}/scatter"),
                        "dotproduct scatter needs arrays of the same length",
                    ));
                }
                (0..n).map(|i| vec![i; lists.len()]).collect()
            }
            "nested_crossproduct" | "flat_crossproduct" => {
                let mut combos = vec![vec![]];
                for l in &lists {
                    combos = combos
                        .into_iter()
                        .flat_map(|c| {
                            (0..l.len()).map(move |i| {
                                let mut c = c.clone();
                                c.push(i);
                                c
                            })
                        })
                        .collect();
                }
                combos
            }
            other => {
                return Err(Error::cwl(
                    format!("{at}/scatterMethod"),
                    format!("unknown scatterMethod {other}"),
                ));
            }
        };
        let mut jobs = Vec::new();
        for combo in &combos {
            let mut job = raw.clone();
            for (k, name) in scatter.iter().enumerate() {
                job.insert(name.clone(), lists[k][combo[k]].clone());
            }
            jobs.push(step_inputs(&job)?);
        }
        let results = futures::future::join_all(
            jobs.into_iter()
                .enumerate()
                .map(|(n, job)| run_one(job, n, format!("{at}[{n}]"))),
        )
        .await;
        let results: Vec<Option<Value>> = results.into_iter().collect::<Result<_>>()?;
        let mut out = Map::new();
        for o in &outs {
            let flat: Vec<Value> = results
                .iter()
                .map(|r| {
                    r.as_ref()
                        .and_then(|r| r.get(o))
                        .cloned()
                        .unwrap_or(Value::Null)
                })
                .collect();
            let value = if method == "nested_crossproduct" && lists.len() > 1 {
                nest(&flat, &lists.iter().map(Vec::len).collect::<Vec<_>>())
            } else {
                Value::Array(flat)
            };
            out.insert(o.clone(), value);
        }
        Ok(out)
    }
}

fn nest(flat: &[Value], dims: &[usize]) -> Value {
    if dims.len() <= 1 {
        return Value::Array(flat.to_vec());
    }
    let inner: usize = dims[1..].iter().product();
    Value::Array(
        (0..dims[0])
            .map(|i| nest(&flat[i * inner..(i + 1) * inner], &dims[1..]))
            .collect(),
    )
}

fn pick_outputs(outs: &[String], result: Option<&Value>) -> Map<String, Value> {
    outs.iter()
        .map(|o| {
            (
                o.clone(),
                result
                    .and_then(|r| r.get(o))
                    .cloned()
                    .unwrap_or(Value::Null),
            )
        })
        .collect()
}

fn step_id(step: &Value) -> &str {
    step.get("id").and_then(Value::as_str).unwrap_or("")
}

fn step_sources(step: &Value) -> Vec<String> {
    values::items(step, "in")
        .iter()
        .flat_map(|i| values::items(i, "source"))
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Values of `sources` merged (`linkMerge`) and picked (`pickValue`).
fn gather(
    sources: &[String],
    state: &HashMap<String, Value>,
    link_merge: Option<&Value>,
    pick: Option<&Value>,
    at: &str,
) -> Result<Value> {
    let mut values = Vec::new();
    for s in sources {
        let v = state.get(s).cloned().ok_or_else(|| {
            Error::cwl(
                at,
                format!("source {s:?} is neither a workflow input nor a step output"),
            )
        })?;
        values.push(v);
    }
    let merged = if sources.len() == 1 && link_merge.is_none() {
        values.pop().unwrap_or(Value::Null)
    } else {
        match link_merge.and_then(Value::as_str).unwrap_or("merge_nested") {
            "merge_flattened" => Value::Array(
                values
                    .into_iter()
                    .flat_map(|v| match v {
                        Value::Array(a) => a,
                        other => vec![other],
                    })
                    .collect(),
            ),
            _ => Value::Array(values),
        }
    };
    let Some(pick) = pick.and_then(Value::as_str) else {
        return Ok(merged);
    };
    let items = match merged {
        Value::Array(a) => a,
        other => vec![other],
    };
    let non_null: Vec<Value> = items.into_iter().filter(|v| !v.is_null()).collect();
    match pick {
        "first_non_null" => non_null
            .into_iter()
            .next()
            .ok_or_else(|| Error::cwl(at, "pickValue first_non_null: every source is null")),
        "the_only_non_null" => {
            if non_null.len() == 1 {
                Ok(non_null.into_iter().next().unwrap_or(Value::Null))
            } else {
                Err(Error::cwl(
                    at,
                    format!(
                        "pickValue the_only_non_null: {} sources are not null",
                        non_null.len()
                    ),
                ))
            }
        }
        "all_non_null" => Ok(Value::Array(non_null)),
        other => Err(Error::cwl(at, format!("unknown pickValue {other}"))),
    }
}

/// Removes from `outdir` (a resolved path) every file and folder that no File or
/// Directory of `output` names (nor lies on the way to one).
fn prune(outdir: &Path, output: &mut Value) -> Result<()> {
    fn named(value: &mut Value, kept: &mut HashSet<PathBuf>) -> Result<()> {
        values::for_each_file(value, &mut |m| {
            kept.extend(path_of(&Value::Object(m.clone())));
            match m.get_mut("secondaryFiles") {
                Some(secondary) => named(secondary, kept),
                None => Ok(()),
            }
        })
    }
    let mut kept = HashSet::new();
    named(output, &mut kept)?;
    prune_in(outdir, &kept)
}

fn prune_in(dir: &Path, kept: &HashSet<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if kept.contains(&path) {
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && kept.iter().any(|k| k.starts_with(&path)) {
            prune_in(&path, kept)?;
        } else if is_dir {
            std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        } else {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

/// Moves output files made in the scratch area (`root`) into `outdir` (both
/// resolved paths) and copies those that live elsewhere (inputs passed through),
/// rewriting their paths. A file that two outputs name is moved once.
fn relocate(value: &mut Value, outdir: &Path, root: &Path) -> Result<()> {
    let mut moved = HashMap::new();
    relocate_in(value, outdir, root, &mut moved)
}

/// `dir` resolved (absolute, without symbolic links), made first if missing.
fn resolved_dir(dir: &Path) -> Result<PathBuf> {
    match std::fs::canonicalize(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            std::fs::canonicalize(dir)
        }
        resolved => resolved,
    }
    .map_err(|e| Error::io(dir, e))
}

fn relocate_in(
    value: &mut Value,
    outdir: &Path,
    root: &Path,
    moved: &mut HashMap<PathBuf, PathBuf>,
) -> Result<()> {
    values::for_each_file(value, &mut |m| {
        if let Some(path) = path_of(&Value::Object(m.clone())) {
            let real = values::real_path(&path, outdir);
            let target = match moved.get(&real) {
                Some(target) => Some(target.clone()),
                None if real.starts_with(outdir) || !real.exists() => None,
                None => {
                    let name = values::name_of(m, Some(&real), "output")?;
                    let mut target = outdir.join(&name);
                    let mut n = 2;
                    while target.exists() {
                        target = outdir.join(format!("{name}_{n}"));
                        n += 1;
                    }
                    let renamed = real.starts_with(root) && std::fs::rename(&real, &target).is_ok();
                    if !renamed {
                        values::copy_tree(&real, &target).map_err(|e| Error::io(&real, e))?;
                    }
                    moved.insert(real.clone(), target.clone());
                    Some(target)
                }
            };
            if let Some(target) = target {
                m.insert(
                    "location".into(),
                    json!(format!("file://{}", target.display())),
                );
                m.insert("path".into(), json!(target.display().to_string()));
                if let Some(parent) = target.parent() {
                    m.insert("dirname".into(), json!(parent.display().to_string()));
                }
                if m.get("class").and_then(Value::as_str) == Some("Directory")
                    && m.contains_key("listing")
                {
                    m.insert(
                        "listing".into(),
                        Value::Array(values::listing(&target, usize::MAX / 2)?),
                    );
                }
            }
        }
        if let Some(Value::Array(items)) = m.get_mut("secondaryFiles") {
            for i in items.iter_mut() {
                relocate_in(i, outdir, root, moved)?;
            }
        }
        Ok(())
    })
}
