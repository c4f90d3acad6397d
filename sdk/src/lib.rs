//! The Hysope plugin SDK.
//!
//! A plugin declares its algorithm once, as an [`Algorithm`]: name, version,
//! description, typed inputs and outputs. From that one declaration the SDK
//!
//! - parses the command line the engine builds from the plugin's CWL descriptor
//!   (`--input-name value`), checking types and required inputs;
//! - prints the CWL v1.2 `CommandLineTool` descriptor itself, with our
//!   `hysope:WasmRequirement`, when the plugin is run with `--cwl`;
//! - offers [`log`], [`progress`] and [`cancelled`], which talk to the Hysope
//!   host inside the sandbox and fall back to stderr in a native build.
//!
//! ```
//! use hysope_sdk::{Algorithm, Input, Output};
//!
//! let algorithm = Algorithm::new("wse-offset", "1.0.0")
//!     .description("Adds a constant offset to water surface elevations")
//!     .input(Input::file("series").doc("CSV with a wse column"))
//!     .input(Input::double("offset").default_value(0.0).doc("metres"))
//!     .output(Output::file("shifted").glob("shifted.csv"));
//!
//! // What the engine passes as argv (argv[0] is the plugin's name).
//! let args = algorithm
//!     .parse(["wse-offset", "--series", "/in/0/a.csv", "--offset", "0.25"])
//!     .unwrap();
//! assert_eq!(args.file("series").unwrap().to_str(), Some("/in/0/a.csv"));
//! assert_eq!(args.double("offset").unwrap(), 0.25);
//!
//! // The same declaration gives the CWL descriptor.
//! let cwl = algorithm.cwl();
//! assert_eq!(cwl["class"], "CommandLineTool");
//! assert_eq!(cwl["inputs"]["offset"]["inputBinding"]["prefix"], "--offset");
//! assert_eq!(cwl["requirements"]["hysope:WasmRequirement"]["component"], "wse-offset.wasm");
//! ```
//!
//! A plugin's `main` is one call to [`run`]:
//!
//! ```no_run
//! # use hysope_sdk::{Algorithm, Input};
//! fn main() {
//!     let algorithm = Algorithm::new("hello", "0.1.0").input(Input::string("who"));
//!     hysope_sdk::run(&algorithm, |args| {
//!         let who = args.string("who")?;
//!         std::fs::write("hello.txt", format!("hello {who}\n"))?;
//!         hysope_sdk::progress(100.0, "done");
//!         Ok(())
//!     });
//! }
//! ```
#![deny(missing_docs)]

mod args;
mod cwl;
mod host;

pub use args::{ArgError, Args, Value};
pub use host::{LogLevel, cancelled, log, progress};

use std::path::PathBuf;

/// Namespace of Hysope's CWL extensions (`hysope:WasmRequirement`).
pub const CWL_NAMESPACE: &str = "https://hysope.dev/cwl#";

/// The type of an input, as CWL names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// A file, passed as its path inside the sandbox (`/in/...`).
    File,
    /// A directory, passed as its path inside the sandbox.
    Directory,
    /// Text.
    String,
    /// A 64-bit integer (CWL `long`).
    Int,
    /// A 64-bit float (CWL `double`).
    Double,
    /// A flag: present means true.
    Boolean,
}

impl InputType {
    fn cwl_name(self) -> &'static str {
        match self {
            InputType::File => "File",
            InputType::Directory => "Directory",
            InputType::String => "string",
            InputType::Int => "long",
            InputType::Double => "double",
            InputType::Boolean => "boolean",
        }
    }
}

/// One input of an algorithm.
#[derive(Debug, Clone)]
pub struct Input {
    id: String,
    kind: InputType,
    optional: bool,
    default: Option<Value>,
    doc: Option<String>,
    format: Option<String>,
}

impl Input {
    fn new(id: &str, kind: InputType) -> Self {
        Self {
            id: id.to_string(),
            kind,
            optional: false,
            default: None,
            doc: None,
            format: None,
        }
    }
    /// A required file input.
    pub fn file(id: &str) -> Self {
        Self::new(id, InputType::File)
    }
    /// A required directory input.
    pub fn directory(id: &str) -> Self {
        Self::new(id, InputType::Directory)
    }
    /// A required text input.
    pub fn string(id: &str) -> Self {
        Self::new(id, InputType::String)
    }
    /// A required integer input.
    pub fn int(id: &str) -> Self {
        Self::new(id, InputType::Int)
    }
    /// A required float input.
    pub fn double(id: &str) -> Self {
        Self::new(id, InputType::Double)
    }
    /// A boolean flag, false unless given.
    pub fn boolean(id: &str) -> Self {
        Self {
            default: Some(Value::Boolean(false)),
            ..Self::new(id, InputType::Boolean)
        }
    }
    /// Makes the input optional (CWL `type?`).
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
    /// Gives a default, used when the input is absent (also written into the CWL).
    pub fn default_value(mut self, value: impl Into<Value>) -> Self {
        self.default = Some(value.into());
        self
    }
    /// Documentation of the input.
    pub fn doc(mut self, doc: &str) -> Self {
        self.doc = Some(doc.to_string());
        self
    }
    /// The CWL `format` of a file input (an IRI, e.g. an EDAM format).
    pub fn format(mut self, format: &str) -> Self {
        self.format = Some(format.to_string());
        self
    }
    /// The input's identifier.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The input's type.
    pub fn kind(&self) -> InputType {
        self.kind
    }
    /// The command-line flag the input is passed with.
    pub fn flag(&self) -> String {
        format!("--{}", self.id.replace('_', "-"))
    }
}

/// The type of an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputType {
    /// One file matched by the glob.
    File,
    /// One directory matched by the glob.
    Directory,
    /// All files matched by the glob (CWL `File[]`).
    Files,
}

/// One output of an algorithm: what it writes into its output directory.
#[derive(Debug, Clone)]
pub struct Output {
    id: String,
    kind: OutputType,
    glob: String,
    optional: bool,
    doc: Option<String>,
    format: Option<String>,
}

impl Output {
    fn new(id: &str, kind: OutputType) -> Self {
        Self {
            id: id.to_string(),
            kind,
            glob: id.to_string(),
            optional: false,
            doc: None,
            format: None,
        }
    }
    /// A file output.
    pub fn file(id: &str) -> Self {
        Self::new(id, OutputType::File)
    }
    /// A directory output.
    pub fn directory(id: &str) -> Self {
        Self::new(id, OutputType::Directory)
    }
    /// A list of files output.
    pub fn files(id: &str) -> Self {
        Self::new(id, OutputType::Files)
    }
    /// The glob, relative to the output directory, that collects the output.
    pub fn glob(mut self, glob: &str) -> Self {
        self.glob = glob.to_string();
        self
    }
    /// Makes the output optional.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
    /// Documentation of the output.
    pub fn doc(mut self, doc: &str) -> Self {
        self.doc = Some(doc.to_string());
        self
    }
    /// The CWL `format` of the output.
    pub fn format(mut self, format: &str) -> Self {
        self.format = Some(format.to_string());
        self
    }
}

/// The declaration of an algorithm: the single source of its argument parsing
/// and of its CWL descriptor.
#[derive(Debug, Clone)]
pub struct Algorithm {
    name: String,
    version: String,
    label: Option<String>,
    description: Option<String>,
    inputs: Vec<Input>,
    outputs: Vec<Output>,
    component: Option<String>,
}

impl Algorithm {
    /// Starts a declaration; `name` is also the component's file stem.
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.to_string(),
            version: version.to_string(),
            label: None,
            description: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            component: None,
        }
    }
    /// A one-line title.
    pub fn label(mut self, label: &str) -> Self {
        self.label = Some(label.to_string());
        self
    }
    /// What the algorithm computes (CWL `doc`).
    pub fn description(mut self, description: &str) -> Self {
        self.description = Some(description.to_string());
        self
    }
    /// Adds an input.
    pub fn input(mut self, input: Input) -> Self {
        self.inputs.push(input);
        self
    }
    /// Adds an output.
    pub fn output(mut self, output: Output) -> Self {
        self.outputs.push(output);
        self
    }
    /// How the CWL names the component (default `<name>.wasm`).
    pub fn component(mut self, component: &str) -> Self {
        self.component = Some(component.to_string());
        self
    }
    /// The algorithm's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The algorithm's version.
    pub fn version(&self) -> &str {
        &self.version
    }
    /// The declared inputs.
    pub fn inputs(&self) -> &[Input] {
        &self.inputs
    }

    /// Parses `argv` (with `argv[0]`) against the declared inputs.
    pub fn parse<I, S>(&self, argv: I) -> Result<Args, ArgError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        args::parse(self, argv.into_iter().map(Into::into).skip(1).collect())
    }

    /// The CWL v1.2 `CommandLineTool` descriptor, as JSON (which is valid YAML).
    pub fn cwl(&self) -> serde_json::Value {
        cwl::descriptor(self)
    }

    /// The usage text printed on `--help` and after argument errors.
    pub fn usage(&self) -> String {
        let mut text = format!("{} {}\n", self.name, self.version);
        if let Some(d) = &self.description {
            text.push_str(d);
            text.push('\n');
        }
        text.push_str("\noptions:\n");
        for input in &self.inputs {
            let kind = input.kind.cwl_name();
            let need = match (&input.default, input.optional) {
                (Some(v), _) => format!(" (default {v})"),
                (None, true) => " (optional)".to_string(),
                (None, false) => " (required)".to_string(),
            };
            let doc = input.doc.as_deref().unwrap_or("");
            text.push_str(&format!("  {} <{kind}>{need}  {doc}\n", input.flag()));
        }
        text.push_str(
            "  --cwl  print the CWL descriptor and exit\n  --help  print this text and exit\n",
        );
        text
    }
}

/// Exit code for wrong arguments (`sysexits` EX_USAGE), in the sandbox as natively.
pub const EXIT_USAGE: i32 = 64;
/// Exit code for bad input data (`sysexits` EX_DATAERR), in the sandbox as natively.
pub const EXIT_DATA: i32 = 65;

/// Ends the plugin with exit code `code`, which reaches the host as it is: through
/// WASI 0.2.12's `exit-with-code` inside the sandbox (`std::process::exit` there
/// carries only success or failure, every failure becoming 1), as the process's
/// exit code in a native build. stdout and stderr are flushed first. A CWL
/// descriptor can then tell failures apart (`successCodes`, `permanentFailCodes`).
pub fn exit(code: u8) -> ! {
    #[cfg(target_arch = "wasm32")]
    {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        wasip2::cli::exit::exit_with_code(code);
    }
    std::process::exit(i32::from(code))
}

/// Writes one output file into the output directory (the working directory), with an
/// error that names the file and says when no output directory was mounted.
pub fn write_output(name: &str, contents: impl AsRef<[u8]>) -> Result<(), BoxError> {
    let contents = contents.as_ref();
    let written = match direct::write(name, contents) {
        Some(written) => written,
        None => std::fs::write(name, contents),
    };
    written.map_err(|e| {
        let hint = if cfg!(target_arch = "wasm32") && std::env::var_os("HYSOPE_OUT").is_none() {
            " (no output directory is mounted: run with --out DIR)"
        } else {
            ""
        };
        format!("cannot write {name}: {e}{hint}").into()
    })
}

/// Output files written straight on the WASI descriptor of the output directory.
mod direct {
    /// Writes `name` (a plain relative path) in the mounted output directory, the
    /// working directory, with positioned writes on its WASI descriptor: one host
    /// call per write, where a file stream takes several and a hop of the host to
    /// its blocking threads. None when it does not apply (not in the sandbox, no
    /// output directory, another working directory, an unusual path): then the
    /// caller writes through `std::fs`.
    #[cfg(target_arch = "wasm32")]
    pub fn write(name: &str, bytes: &[u8]) -> Option<std::io::Result<()>> {
        use wasip2::filesystem::types::{DescriptorFlags, ErrorCode, OpenFlags, PathFlags};
        let out = std::env::var("HYSOPE_OUT").ok()?;
        if name.starts_with('/')
            || name
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return None;
        }
        if std::env::current_dir().ok()? != std::path::Path::new(&out) {
            return None;
        }
        let (dir, _) = wasip2::filesystem::preopens::get_directories()
            .into_iter()
            .find(|(_, path)| *path == out)?;
        let error = |code: ErrorCode| std::io::Error::other(code.message());
        let written = dir
            .open_at(
                PathFlags::empty(),
                name,
                OpenFlags::CREATE | OpenFlags::TRUNCATE,
                DescriptorFlags::WRITE,
            )
            .map_err(error)
            .and_then(|file| {
                let mut done = 0;
                while done < bytes.len() {
                    let n = file.write(&bytes[done..], done as u64).map_err(error)?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                    done += n as usize;
                }
                Ok(())
            });
        Some(written)
    }

    /// Outside the sandbox `std::fs` writes directly.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn write(_name: &str, _bytes: &[u8]) -> Option<std::io::Result<()>> {
        None
    }
}

/// An input file's name (for messages: `{name}: what is wrong`) and its bytes, with
/// an error that names the path when it cannot be read.
pub fn read_input(path: &std::path::Path) -> Result<(String, Vec<u8>), BoxError> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("input")
        .to_string();
    Ok((name, bytes))
}

/// An input file's name and its text; text that is not UTF-8 is a [`DataError`].
pub fn read_input_text(path: &std::path::Path) -> Result<(String, String), BoxError> {
    let (name, bytes) = read_input(path)?;
    let text =
        String::from_utf8(bytes).map_err(|e| DataError(format!("{name}: not UTF-8 text: {e}")))?;
    Ok((name, text))
}

/// An error a plugin's body returns: its message is printed and the plugin exits non-zero.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An error caused by the input data (a file that is not what it should be),
/// which makes the plugin exit with [`EXIT_DATA`].
#[derive(Debug)]
pub struct DataError(pub String);

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DataError {}

/// Runs a plugin: handles `--cwl` and `--help`, parses the arguments, moves into the
/// output directory (`$HYSOPE_OUT`) and calls `body`. Returns when all went well, so
/// that `main` ends normally (exit status 0): in the sandbox that is the cheap way
/// out, where `exit` unwinds the component as a trap, whose backtrace the host
/// records. Otherwise exits with the status the failure calls for.
pub fn run<F>(algorithm: &Algorithm, body: F)
where
    F: FnOnce(&Args) -> Result<(), BoxError>,
{
    let argv: Vec<String> = std::env::args().collect();
    if argv.iter().skip(1).any(|a| a == "--cwl") {
        println!(
            "{}",
            serde_json::to_string_pretty(&algorithm.cwl()).unwrap_or_default()
        );
        return;
    }
    if argv.iter().skip(1).any(|a| a == "--help" || a == "-h") {
        print!("{}", algorithm.usage());
        return;
    }
    let args = match algorithm.parse(argv) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("{}: {error}\n\n{}", algorithm.name, algorithm.usage());
            exit(EXIT_USAGE as u8);
        }
    };
    if let Some(out) = std::env::var_os("HYSOPE_OUT") {
        let out = PathBuf::from(out);
        if let Err(error) = std::env::set_current_dir(&out) {
            eprintln!(
                "{}: cannot enter output directory {}: {error}",
                algorithm.name,
                out.display()
            );
            exit(1);
        }
    }
    match body(&args) {
        Ok(()) => {}
        Err(error) => {
            if cfg!(target_arch = "wasm32") {
                log(LogLevel::Error, &error.to_string());
            }
            eprintln!("{}: error: {error}", algorithm.name);
            let code = if error.is::<DataError>() {
                EXIT_DATA
            } else {
                1
            };
            exit(code as u8);
        }
    }
}
