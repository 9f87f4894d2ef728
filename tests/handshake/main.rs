//! The go-plugin handshake as Terraform runs it, without Terraform: the real
//! `terraform-provider-meshfed` binary cargo built, run as a subprocess (`process.rs`), its stdout
//! read for the handshake line, a real tonic client (`client.rs`; plain, or over AutoMTLS with
//! tokio-rustls in `automtls.rs`) on the announced unix socket, and GRPCController.Shutdown or a
//! signal to end it. Also: the binary run by hand, an unsupported protocol, SIGINT in plugin mode,
//! and debug mode. Every child process is killed when its test ends, pass or fail. Needs nothing
//! external: no Terraform, no control plane.

mod automtls;
mod client;
mod process;

use std::path::PathBuf;
use std::time::Duration;

use meshfed::tfplugin::wire::proto::plugin as gp;

use client::{assert_is_meshfed, get_schema, parse_handshake, plain_channel, shut_down, within};
use process::{ProviderProcess, SOURCE_ADDRESS, plugin_command, provider_command, run_to_exit};

#[tokio::test]
async fn run_by_hand_it_explains_itself_on_stderr_and_exits_1() {
    let (status, stdout, stderr) = run_to_exit(provider_command()).await;
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    assert_eq!(stdout, "", "nothing on stdout");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr:?}");
    assert!(lines[0].contains("Terraform"), "{stderr:?}");
}

#[tokio::test]
async fn a_client_offering_only_protocol_5_is_refused_naming_protocol_6() {
    let dir = tempfile::tempdir().expect("a socket directory");
    let mut c = plugin_command(dir.path());
    c.env("PLUGIN_PROTOCOL_VERSIONS", "5");
    let (status, stdout, stderr) = run_to_exit(c).await;
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    assert_eq!(stdout, "", "no handshake line");
    assert!(stderr.contains("protocol 6"), "{stderr:?}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read the socket directory")
        .collect();
    assert!(leftovers.is_empty(), "no socket is left: {leftovers:?}");
}

// As Terraform runs it

#[tokio::test]
async fn the_handshake_line_names_a_socket_that_serves_until_grpc_controller_shutdown() {
    let dir = tempfile::tempdir().expect("a socket directory");
    let mut p = ProviderProcess::spawn(plugin_command(dir.path()));
    let line = p.next_line("handshake line");
    let hs = parse_handshake(&line);
    assert_eq!(hs.cert, "", "no certificate without AutoMTLS: {line:?}");
    assert!(
        hs.socket.starts_with(dir.path()),
        "the socket is in PLUGIN_UNIX_SOCKET_DIR: {line:?}"
    );
    assert!(hs.socket.exists(), "the socket exists: {line:?}");

    let channel = within("connecting", plain_channel(&hs.socket))
        .await
        .expect("connect to the announced socket");
    // go-plugin opens the stdio stream right after connecting.
    let mut stdio = within(
        "StreamStdio",
        gp::grpc_stdio_client::GrpcStdioClient::new(channel.clone()).stream_stdio(()),
    )
    .await
    .expect("StreamStdio opens")
    .into_inner();
    let schema = within("GetProviderSchema", get_schema(channel.clone()))
        .await
        .expect("GetProviderSchema answers");
    assert_is_meshfed(&schema);
    assert_eq!(
        p.rest_of_stdout(false),
        "",
        "nothing but the handshake line reaches stdout"
    );

    shut_down(channel).await;
    let end = within("StreamStdio to end", stdio.message()).await;
    assert!(matches!(end, Ok(None)), "{end:?}");
    let status = p.exit_status("after GRPCController.Shutdown").await;
    assert!(status.success(), "exit {status:?}; stderr:\n{}", p.stderr());
    assert_eq!(
        p.rest_of_stdout(true),
        "",
        "nothing but the handshake line ever reaches stdout"
    );
    assert!(!hs.socket.exists(), "the socket file is removed on exit");
}

#[tokio::test]
async fn an_interrupt_in_plugin_mode_is_left_to_stop_provider_and_serving_continues() {
    let dir = tempfile::tempdir().expect("a socket directory");
    let mut p = ProviderProcess::spawn(plugin_command(dir.path()));
    let hs = parse_handshake(&p.next_line("handshake line"));
    let channel = within("connecting", plain_channel(&hs.socket))
        .await
        .expect("connect to the announced socket");
    // Terraform forwards Ctrl-C to the process group, then sends StopProvider.
    p.signal("INT");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(p.is_running(), "SIGINT must not kill the provider");
    let schema = within("GetProviderSchema", get_schema(channel.clone()))
        .await
        .expect("GetProviderSchema still answers");
    assert_is_meshfed(&schema);
    shut_down(channel).await;
    let status = p.exit_status("after GRPCController.Shutdown").await;
    assert!(status.success(), "exit {status:?}; stderr:\n{}", p.stderr());
}

/// A provider whose CLI is gone (crashed, or killed with SIGKILL) is never asked to stop: it
/// notices that its parent process changed and shuts down by itself within seconds, instead of
/// lingering with the CLI's output streams open.
#[tokio::test]
async fn a_provider_whose_cli_is_gone_shuts_down_by_itself() {
    let dir = tempfile::tempdir().expect("a socket directory");
    // A shell stands in for the CLI: it starts the provider, says its pid and exits 2 s later
    // (once the provider has started and knows its parent).
    let shell = plugin_command(dir.path());
    let program = shell.get_program().to_owned();
    let mut command = std::process::Command::new("sh");
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .arg("-c")
        .arg("\"$0\" & echo \"pid $!\"; sleep 2")
        .arg(program)
        .envs(
            shell
                .get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        );
    for (k, v) in shell.get_envs() {
        if v.is_none() {
            command.env_remove(k);
        }
    }
    let mut p = ProviderProcess::spawn(command);
    let line = p.next_line("the provider's pid");
    let pid: u32 = line
        .strip_prefix("pid ")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("not a pid line: {line:?}"));
    parse_handshake(&p.next_line("handshake line"));
    let _ = p.exit_status("the shell").await;
    let gone = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("State:") && l.contains('Z'))
            })
            .unwrap_or(true)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !gone(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "the orphaned provider (pid {pid}) still runs 10 s after its parent exited"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// Debug mode

#[tokio::test]
async fn debug_mode_prints_tf_reattach_providers_and_serves_until_sigterm() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let mut command = provider_command();
    command.arg("--debug").env("TMPDIR", tmp.path());
    let mut p = ProviderProcess::spawn(command);

    let mut printed = String::new();
    let reattach = loop {
        let line = p.next_line("TF_REATTACH_PROVIDERS");
        printed.push_str(&line);
        if let Some(start) = line.find("TF_REATTACH_PROVIDERS='") {
            let rest = &line[start + "TF_REATTACH_PROVIDERS='".len()..];
            let end = rest.rfind('\'').expect("the value is quoted");
            break rest[..end].to_string();
        }
        assert!(
            printed.len() < 10_000,
            "no TF_REATTACH_PROVIDERS in {printed:?}"
        );
    };
    let v: serde_json::Value = serde_json::from_str(&reattach)
        .unwrap_or_else(|e| panic!("TF_REATTACH_PROVIDERS is JSON ({e}): {reattach}"));
    let entry = &v[SOURCE_ADDRESS];
    assert!(entry.is_object(), "it names {SOURCE_ADDRESS}: {v}");
    assert_eq!(entry["Protocol"], "grpc", "{v}");
    assert_eq!(entry["ProtocolVersion"], 6, "{v}");
    assert_eq!(entry["Pid"], p.pid(), "{v}");
    assert_eq!(entry["Addr"]["Network"], "unix", "{v}");
    let socket = PathBuf::from(entry["Addr"]["String"].as_str().expect("a socket path"));
    assert!(socket.starts_with(tmp.path()), "{socket:?} is in TMPDIR");

    let channel = within("connecting", plain_channel(&socket))
        .await
        .expect("connect to the debug socket");
    let schema = within("GetProviderSchema", get_schema(channel.clone()))
        .await
        .expect("GetProviderSchema answers in debug mode");
    assert_is_meshfed(&schema);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(p.is_running(), "it keeps serving");

    p.signal("TERM");
    let status = p.exit_status("after SIGTERM").await;
    drop(channel);
    assert!(status.success(), "exit {status:?}; stderr:\n{}", p.stderr());
    assert!(!socket.exists(), "the socket file is removed on exit");
}
