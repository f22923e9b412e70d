//! Starting and supervising the function's process.
//!
//! Like Lambda, the process starts when an invocation needs it (a cold start) and then stays warm. When it exits
//! or crashes, what ran in it fails with `Runtime.ExitError` and the next invocation starts a new one. It runs in
//! its own process group, so Ctrl-C in a terminal reaches xray-local only, and xray-local ends the whole group
//! (SIGTERM, then SIGKILL after [`GRACE`]) when it stops, after a timeout, and after the process exits, so no
//! child of the function outlives it. On Linux the process also gets SIGKILL if xray-local dies without
//! cleaning up.

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::function::Function;
use super::hub::Hub;
use crate::clock::now_secs;

/// How long the process has to exit after SIGTERM.
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// The environment Lambda gives a function, on top of xray-local's own (so credentials and endpoints set for
/// local work reach it), then the user's `--env`.
pub(crate) fn environment(function: &Function, runtime_api: SocketAddr) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", function.memory.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", function.name)),
        ("AWS_REGION", function.region.clone()),
        ("AWS_DEFAULT_REGION", function.region.clone()),
        ("AWS_XRAY_DAEMON_ADDRESS", function.daemon.clone()),
        ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into()),
        ("_HANDLER", function.handler.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(n) = function.max_concurrency {
        env.push(("AWS_LAMBDA_MAX_CONCURRENCY".into(), n.to_string()));
    }
    if let Some(dir) = function.binary.parent().filter(|d| !d.as_os_str().is_empty()) {
        env.push(("LAMBDA_TASK_ROOT".into(), dir.display().to_string()));
    }
    env.extend(function.env.iter().cloned());
    env
}

/// The command that starts the function.
fn command(function: &Function, runtime_api: SocketAddr) -> Command {
    let mut command = Command::new(&function.binary);
    command
        .args(&function.args)
        // Set per invocation by Lambda's runtimes, never for the process: an inherited one would be wrong.
        .env_remove("_X_AMZN_TRACE_ID")
        .env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
        .envs(environment(function, runtime_api))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches nothing of the parent's memory.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

/// Starts the function whenever invocations wait and none runs, until xray-local stops. Runs on the thread that
/// started xray-local's runtime, which lives as long as xray-local (the parent-death signal is tied to it).
pub(crate) async fn supervise(hub: Arc<Hub>, runtime_api: SocketAddr) {
    while hub.wait_for_work().await {
        let started = now_secs();
        let mut child = match command(&hub.function, runtime_api).spawn() {
            Ok(child) => child,
            Err(err) => {
                let problem = format!("cannot start {}: {err}", hub.function.binary.display());
                hub.spawn_failed(&problem, started, now_secs());
                continue;
            }
        };
        let group = child.id();
        let generation = hub.spawned(started);
        let init_limit = tokio::time::sleep(hub.function.init_timeout);
        tokio::pin!(init_limit);
        let status = loop {
            let notified = hub.changed();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if hub.kill_requested(generation) {
                break terminate(&mut child, group).await;
            }
            tokio::select! {
                status = child.wait() => break describe(status),
                () = &mut notified => {}
                () = &mut init_limit, if !init_limit.is_elapsed() => hub.init_timed_out(generation),
            }
        };
        // Whatever the function left running in its group goes with it.
        signal_group(group, Signal::Kill);
        hub.exited(&status, now_secs());
    }
}

/// Stops the process: SIGTERM to its group, SIGKILL after [`GRACE`].
async fn terminate(child: &mut Child, group: Option<u32>) -> String {
    signal_group(group, Signal::Term);
    match tokio::time::timeout(GRACE, child.wait()).await {
        Ok(status) => describe(status),
        Err(_) => {
            signal_group(group, Signal::Kill);
            let _ = child.start_kill();
            describe(child.wait().await)
        }
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

fn signal_group(group: Option<u32>, signal: Signal) {
    #[cfg(unix)]
    if let Some(pid) = group.and_then(|pid| libc::pid_t::try_from(pid).ok()) {
        let signal = match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        // SAFETY: kill has no memory effects; a group that is already gone only makes it return ESRCH.
        unsafe {
            libc::kill(-pid, signal);
        }
    }
    #[cfg(not(unix))]
    let _ = (group, signal);
}

/// How the process ended, in Lambda's words ("exit status 1", "signal: killed").
fn describe(status: std::io::Result<ExitStatus>) -> String {
    let status = match status {
        Ok(status) => status,
        Err(err) => return format!("unknown ({err})"),
    };
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        match status.signal() {
            Some(libc::SIGKILL) => return "signal: killed".into(),
            Some(libc::SIGTERM) => return "signal: terminated".into(),
            Some(libc::SIGSEGV) => return "signal: segmentation fault".into(),
            Some(libc::SIGABRT) => return "signal: aborted".into(),
            Some(other) => return format!("signal: {other}"),
            None => {}
        }
    }
    status.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_gets_lambda_s_environment_then_the_user_s() {
        let mut function = Function::for_tests("orders");
        function.max_concurrency = Some(4);
        function.env = vec![("AWS_REGION".into(), "eu-west-1".into()), ("GREETING".into(), "hi".into())];
        let env = environment(&function, "127.0.0.1:9001".parse().expect("addr"));
        let get = |key: &str| env.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:9001"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_NAME"), Some("orders"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some("128"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_VERSION"), Some("$LATEST"));
        assert_eq!(get("AWS_XRAY_DAEMON_ADDRESS"), Some("127.0.0.1:2000"));
        assert_eq!(get("AWS_XRAY_CONTEXT_MISSING"), Some("LOG_ERROR"));
        assert_eq!(get("_HANDLER"), Some("bootstrap"));
        assert_eq!(get("AWS_LAMBDA_MAX_CONCURRENCY"), Some("4"));
        assert_eq!(get("AWS_REGION"), Some("eu-west-1"), "--env wins");
        assert_eq!(get("GREETING"), Some("hi"));
        function.max_concurrency = None;
        let env = environment(&function, "127.0.0.1:9001".parse().expect("addr"));
        assert!(!env.iter().any(|(k, _)| k == "AWS_LAMBDA_MAX_CONCURRENCY"));
    }

    #[cfg(unix)]
    #[test]
    fn exits_are_described_as_lambda_does() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(describe(Ok(ExitStatus::from_raw(3 << 8))), "exit status 3");
        assert_eq!(describe(Ok(ExitStatus::from_raw(libc::SIGKILL))), "signal: killed");
    }
}
