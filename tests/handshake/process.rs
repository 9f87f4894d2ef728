//! The provider process of the handshake tests: the real `terraform-provider-meshfed` binary cargo
//! built, started as a subprocess with a clean plugin environment (or as Terraform starts it: magic
//! cookie, protocol versions, socket directory), its stdout read line by line and its stderr
//! collected, and killed when dropped. Needs nothing external.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-meshfed");
const MAGIC_COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
pub const SOURCE_ADDRESS: &str = "registry.terraform.io/meshfed/meshfed";

/// The longest any single step may take (the machine is small and busy).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running provider process; killed on drop.
pub struct ProviderProcess {
    child: Child,
    stdout_lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Drop for ProviderProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with a clean plugin environment: no cookie, no protocol list, no logging settings
/// inherited from whoever runs the tests.
pub fn provider_command() -> Command {
    let mut c = Command::new(BINARY);
    for var in [
        "TF_PLUGIN_MAGIC_COOKIE",
        "PLUGIN_PROTOCOL_VERSIONS",
        "PLUGIN_CLIENT_CERT",
        "PLUGIN_UNIX_SOCKET_DIR",
        "PLUGIN_MIN_PORT",
        "PLUGIN_MAX_PORT",
        "TF_LOG",
        "TF_LOG_PROVIDER",
        "TF_LOG_PROVIDER_MESHFED",
        "TF_REATTACH_PROVIDERS",
    ] {
        c.env_remove(var);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// As Terraform starts it: the cookie, protocols 5 and 6, the socket in `socket_dir`.
pub fn plugin_command(socket_dir: &Path) -> Command {
    let mut c = provider_command();
    c.env("TF_PLUGIN_MAGIC_COOKIE", MAGIC_COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_UNIX_SOCKET_DIR", socket_dir);
    c
}

impl ProviderProcess {
    pub fn spawn(mut command: Command) -> ProviderProcess {
        let mut child = command.spawn().expect("start terraform-provider-meshfed");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if tx
                            .send(String::from_utf8_lossy(&line).into_owned())
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stderr_pipe);
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock()
                    .expect("stderr buffer")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        ProviderProcess {
            child,
            stdout_lines: rx,
            stderr,
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line of stdout (with its newline), within the patience.
    pub fn next_line(&self, what: &str) -> String {
        match self.stdout_lines.recv_timeout(PATIENCE) {
            Ok(l) => l,
            Err(e) => panic!("no {what} on stdout ({e:?}); stderr:\n{}", self.stderr()),
        }
    }

    /// Everything written to stdout so far beyond what was read; `until_eof` waits for stdout
    /// to close (the process must have exited).
    pub fn rest_of_stdout(&self, until_eof: bool) -> String {
        let mut rest = String::new();
        loop {
            let wait = if until_eof {
                PATIENCE
            } else {
                Duration::from_millis(300)
            };
            match self.stdout_lines.recv_timeout(wait) {
                Ok(l) => rest.push_str(&l),
                Err(RecvTimeoutError::Disconnected) => return rest,
                Err(RecvTimeoutError::Timeout) if !until_eof => return rest,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("stdout did not close; stderr:\n{}", self.stderr())
                }
            }
        }
    }

    /// Waits for the process to exit, without blocking the async runtime.
    pub async fn exit_status(&mut self, what: &str) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the provider process") {
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "the provider did not exit ({what}) within {PATIENCE:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("poll the provider process")
            .is_none()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }
}

/// Runs the binary to its end (bounded), returning exit status, stdout and stderr.
pub async fn run_to_exit(command: Command) -> (ExitStatus, String, String) {
    let mut p = ProviderProcess::spawn(command);
    let status = p.exit_status("run to completion").await;
    let stdout = p.rest_of_stdout(true);
    // The stderr reader may still be draining the pipe.
    tokio::time::sleep(Duration::from_millis(100)).await;
    (status, stdout, p.stderr())
}
