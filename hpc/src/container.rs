//! The command line that runs a CWL tool's command in a container
//! (`DockerRequirement`): Apptainer or Singularity, as cwltool's `--singularity`
//! runs them (`exec --contain --cleanenv --ipc --pid`, no network unless the tool
//! asks for it, inputs bound read-only, the output folder as the working
//! directory, the environment through `--env`), or bubblewrap on the same image
//! folder for sites (and tests) without Apptainer: a real runtime on a
//! root-filesystem folder with the same binds.
//!
//! Inside, the output folder is [`OUTDIR`] and the temporary folder [`TMPDIR`].

use std::path::{Path, PathBuf};

/// Where the tool's output folder is inside the container (its working directory).
pub const OUTDIR: &str = "/var/spool/cwl";
/// Where its temporary folder is inside the container.
pub const TMPDIR: &str = "/tmp";

/// Which container runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `apptainer`.
    Apptainer,
    /// `singularity` (the same flags).
    Singularity,
    /// `bwrap` on an image folder.
    Bwrap,
}

impl Runtime {
    /// The runtime named `name` (`apptainer`, `singularity`, `bwrap`).
    pub fn parse(name: &str) -> Result<Runtime, String> {
        match name {
            "apptainer" => Ok(Runtime::Apptainer),
            "singularity" => Ok(Runtime::Singularity),
            "bwrap" | "bubblewrap" => Ok(Runtime::Bwrap),
            other => Err(format!(
                "container runtime {other:?}: apptainer, singularity or bwrap"
            )),
        }
    }
}

/// A file or folder of the host seen inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// On the host.
    pub host: PathBuf,
    /// Inside.
    pub guest: PathBuf,
    /// Writable inside (inputs are not).
    pub writable: bool,
}

/// One run of a command in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRun {
    /// The image: a SIF file or a root-filesystem folder (bwrap: a folder).
    pub image: PathBuf,
    /// The staged inputs.
    pub binds: Vec<Bind>,
    /// The output folder on the host (the working directory inside).
    pub outdir: PathBuf,
    /// The temporary folder on the host.
    pub tmpdir: PathBuf,
    /// The environment of the command (nothing else of the host's).
    pub env: Vec<(String, String)>,
    /// The tool asked for the network (`NetworkAccess`).
    pub network: bool,
    /// The command and its arguments.
    pub argv: Vec<String>,
}

fn text(path: &Path) -> Result<String, String> {
    let s = path
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))?;
    if !path.is_absolute() {
        return Err(format!("{s} is not an absolute path"));
    }
    if s.contains(':') || s.contains(',') || s.chars().any(|c| c.is_control()) {
        return Err(format!(
            "{s:?} holds ':' ',' or a control character, which a bind cannot name"
        ));
    }
    Ok(s.to_string())
}

impl ContainerRun {
    /// The command line for `runtime`.
    pub fn command(&self, runtime: Runtime) -> Result<Vec<String>, String> {
        if self.argv.is_empty() {
            return Err("no command to run in the container".into());
        }
        for (k, _) in &self.env {
            if k.is_empty()
                || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || k.starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(format!("environment variable name {k:?}"));
            }
        }
        match runtime {
            Runtime::Apptainer | Runtime::Singularity => self.apptainer(runtime),
            Runtime::Bwrap => self.bwrap(),
        }
    }

    fn apptainer(&self, runtime: Runtime) -> Result<Vec<String>, String> {
        let program = if runtime == Runtime::Apptainer {
            "apptainer"
        } else {
            "singularity"
        };
        let mut out: Vec<String> = [program, "exec", "--contain", "--cleanenv", "--ipc", "--pid"]
            .map(String::from)
            .to_vec();
        if !self.network {
            out.extend(["--net", "--network", "none"].map(String::from));
        }
        for b in &self.binds {
            let mode = if b.writable { "rw" } else { "ro" };
            out.push("--bind".into());
            out.push(format!("{}:{}:{mode}", text(&b.host)?, text(&b.guest)?));
        }
        out.push("--bind".into());
        out.push(format!("{}:{OUTDIR}:rw", text(&self.outdir)?));
        out.push("--bind".into());
        out.push(format!("{}:{TMPDIR}:rw", text(&self.tmpdir)?));
        out.push("--pwd".into());
        out.push(OUTDIR.into());
        for (k, v) in &self.env {
            out.push("--env".into());
            out.push(format!("{k}={v}"));
        }
        out.push(text(&self.image)?);
        out.extend(self.argv.iter().cloned());
        Ok(out)
    }

    fn bwrap(&self) -> Result<Vec<String>, String> {
        let image = text(&self.image)?;
        if !self.image.is_dir() {
            return Err(format!(
                "bwrap runs an image folder (a root filesystem); {image} is not one"
            ));
        }
        let mut out: Vec<String> = ["bwrap", "--unshare-all"].map(String::from).to_vec();
        if self.network {
            out.push("--share-net".into());
        }
        out.extend(["--die-with-parent", "--new-session", "--tmpfs", "/"].map(String::from));
        // The image's top level, read-only, on a writable root where the binds'
        // mount points can be made.
        let mut entries: Vec<_> = std::fs::read_dir(&self.image)
            .map_err(|e| format!("cannot read the image {image}: {e}"))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            if matches!(name.as_str(), "proc" | "dev" | "tmp") {
                continue;
            }
            let path = entry.path();
            let guest = format!("/{name}");
            match std::fs::read_link(&path) {
                Ok(target) => {
                    out.push("--symlink".into());
                    out.push(target.to_string_lossy().into_owned());
                    out.push(guest);
                }
                Err(_) => {
                    out.push("--ro-bind".into());
                    out.push(text(&path)?);
                    out.push(guest);
                }
            }
        }
        out.extend(["--proc", "/proc", "--dev", "/dev"].map(String::from));
        out.push("--bind".into());
        out.push(text(&self.tmpdir)?);
        out.push(TMPDIR.into());
        for b in &self.binds {
            out.push(if b.writable { "--bind" } else { "--ro-bind" }.into());
            out.push(text(&b.host)?);
            out.push(text(&b.guest)?);
        }
        out.push("--bind".into());
        out.push(text(&self.outdir)?);
        out.push(OUTDIR.into());
        out.extend(["--chdir", OUTDIR, "--clearenv"].map(String::from));
        for (k, v) in &self.env {
            out.push("--setenv".into());
            out.push(k.clone());
            out.push(v.clone());
        }
        out.push("--".into());
        out.extend(self.argv.iter().cloned());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(image: PathBuf, network: bool) -> ContainerRun {
        ContainerRun {
            image,
            binds: vec![Bind {
                host: "/shared/run/inputs/reach.zip".into(),
                guest: "/var/lib/cwl/stg1/reach.zip".into(),
                writable: false,
            }],
            outdir: "/shared/run/out".into(),
            tmpdir: "/shared/run/tmp".into(),
            env: vec![
                ("HOME".into(), OUTDIR.into()),
                ("TMPDIR".into(), TMPDIR.into()),
            ],
            network,
            argv: vec![
                "filter".into(),
                "--product".into(),
                "/var/lib/cwl/stg1/reach.zip".into(),
            ],
        }
    }

    #[test]
    fn apptainer_as_cwltool_runs_it() {
        let cmd = run("/images/swot-tools.sif".into(), false)
            .command(Runtime::Apptainer)
            .unwrap();
        assert_eq!(
            cmd.join(" "),
            "apptainer exec --contain --cleanenv --ipc --pid --net --network none \
             --bind /shared/run/inputs/reach.zip:/var/lib/cwl/stg1/reach.zip:ro \
             --bind /shared/run/out:/var/spool/cwl:rw --bind /shared/run/tmp:/tmp:rw \
             --pwd /var/spool/cwl --env HOME=/var/spool/cwl --env TMPDIR=/tmp \
             /images/swot-tools.sif filter --product /var/lib/cwl/stg1/reach.zip"
        );
        let with_net = run("/images/x.sif".into(), true)
            .command(Runtime::Singularity)
            .unwrap();
        assert_eq!(with_net[0], "singularity");
        assert!(!with_net.contains(&"--network".to_string()));
    }

    #[test]
    fn bwrap_binds_the_image_folder_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("busybox");
        for d in ["bin", "etc", "proc"] {
            std::fs::create_dir_all(image.join(d)).unwrap();
        }
        std::os::unix::fs::symlink("usr/lib", image.join("lib")).unwrap();
        let cmd = run(image.clone(), false).command(Runtime::Bwrap).unwrap();
        let i = image.display();
        assert_eq!(
            cmd.join(" "),
            format!(
                "bwrap --unshare-all --die-with-parent --new-session --tmpfs / \
                 --ro-bind {i}/bin /bin --ro-bind {i}/etc /etc --symlink usr/lib /lib \
                 --proc /proc --dev /dev --bind /shared/run/tmp /tmp \
                 --ro-bind /shared/run/inputs/reach.zip /var/lib/cwl/stg1/reach.zip \
                 --bind /shared/run/out /var/spool/cwl --chdir /var/spool/cwl --clearenv \
                 --setenv HOME /var/spool/cwl --setenv TMPDIR /tmp \
                 -- filter --product /var/lib/cwl/stg1/reach.zip"
            )
        );
        let net = run(image, true).command(Runtime::Bwrap).unwrap();
        assert_eq!(net[2], "--share-net");
    }

    #[test]
    fn what_a_bind_or_the_environment_cannot_name_is_refused() {
        let mut r = run("/images/x.sif".into(), false);
        r.binds[0].host = "/a:b".into();
        assert!(r.command(Runtime::Apptainer).unwrap_err().contains("':'"));
        let mut r = run("/images/x.sif".into(), false);
        r.outdir = "relative".into();
        assert!(
            r.command(Runtime::Apptainer)
                .unwrap_err()
                .contains("absolute")
        );
        let mut r = run("/images/x.sif".into(), false);
        r.env.push(("BAD NAME".into(), "x".into()));
        assert!(r.command(Runtime::Apptainer).is_err());
        let r = run("/images/x.sif".into(), false);
        assert!(
            r.command(Runtime::Bwrap)
                .unwrap_err()
                .contains("image folder")
        );
        assert!(Runtime::parse("docker").is_err());
    }

    /// A real run under bubblewrap on a busybox image folder (tests/install-tools.sh
    /// installs bubblewrap and busybox-static).
    #[test]
    fn bwrap_runs_a_command_in_a_busybox_image() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("image");
        std::fs::create_dir_all(image.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", image.join("bin/busybox"))
            .expect("/bin/busybox (busybox-static; tests/install-tools.sh)");
        for applet in ["sh", "cat", "env"] {
            std::os::unix::fs::symlink("busybox", image.join("bin").join(applet)).unwrap();
        }
        let (inputs, out, tmp) = (
            dir.path().join("in"),
            dir.path().join("out"),
            dir.path().join("tmp"),
        );
        for d in [&inputs, &out, &tmp] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(inputs.join("a.txt"), "from the host\n").unwrap();
        let run = ContainerRun {
            image,
            binds: vec![Bind {
                host: inputs.join("a.txt"),
                guest: "/var/lib/cwl/stg1/a.txt".into(),
                writable: false,
            }],
            outdir: out.clone(),
            tmpdir: tmp,
            env: vec![("PATH".into(), "/bin".into()), ("GREETING".into(), "hi".into())],
            network: false,
            argv: vec![
                "sh".into(),
                "-c".into(),
                "cat /var/lib/cwl/stg1/a.txt > copy.txt; env > env.txt; echo no > /var/lib/cwl/stg1/a.txt".into(),
            ],
        };
        let cmd = run.command(Runtime::Bwrap).unwrap();
        let status = std::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .status()
            .expect("bwrap (bubblewrap; tests/install-tools.sh)");
        // The input is read-only: the last write fails, and so does the command.
        assert!(!status.success());
        assert_eq!(
            std::fs::read_to_string(out.join("copy.txt")).unwrap(),
            "from the host\n"
        );
        assert_eq!(
            std::fs::read_to_string(inputs.join("a.txt")).unwrap(),
            "from the host\n"
        );
        let env = std::fs::read_to_string(out.join("env.txt")).unwrap();
        assert!(env.contains("GREETING=hi"), "{env}");
        assert!(
            !env.contains("HOME=/root"),
            "the host's environment leaked: {env}"
        );
    }
}
