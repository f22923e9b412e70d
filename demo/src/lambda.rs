//! A function of the stack run by `xray-local lambda`: its own binary behind the Lambda Runtime API, invoked on the
//! Lambda Invoke API at a loopback port, with Lambda's segments sent to the daemon.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::process::Service;

/// The region and account the stack pretends to run in.
pub const REGION: &str = "us-east-1";
/// The account id in ARNs.
pub const ACCOUNT_ID: &str = "123456789012";

/// A function as the stack deploys it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The function's name (and the name `xray-local lambda` gives it).
    pub name: &'static str,
    /// The cargo package whose binary of the same name is the function.
    pub package: &'static str,
    /// The function's own environment (what `template.yaml` sets).
    pub env: Vec<(String, String)>,
    /// How many invocations one process runs at once (`--max-concurrency`, as Lambda Managed Instances do); one
    /// at a time when `None`.
    pub max_concurrency: Option<u32>,
}

/// A running `xray-local lambda`.
#[derive(Debug)]
pub struct Emulator {
    service: Service,
    name: &'static str,
    invoke: SocketAddr,
}

impl Emulator {
    /// Runs `binary` as the function `spec.name`, with Lambda's segments sent to `daemon`. `active` is the
    /// function's tracing mode: `Active` samples invocations that come without a decision, `PassThrough` only
    /// follows a caller's. `aws_env` points the AWS SDK at the local services.
    pub fn start(
        xray_local: &Path,
        binary: &Path,
        spec: &FunctionSpec,
        daemon: SocketAddr,
        active: bool,
        aws_env: &[(String, String)],
        log_dir: &Path,
    ) -> io::Result<Self> {
        let mut command = Command::new(xray_local);
        command.arg("lambda").arg(binary).args(["--name", spec.name, "--bind", "127.0.0.1:0"]);
        command.args(["--daemon", &daemon.to_string(), "--region", REGION, "--account-id", ACCOUNT_ID]);
        command.args(["--timeout", "10s", "--sampled", if active { "always" } else { "never" }]);
        if let Some(n) = spec.max_concurrency {
            command.args(["--max-concurrency", &n.to_string()]);
        }
        for (key, value) in &spec.env {
            command.arg("--env").arg(format!("{key}={value}"));
        }
        // Whatever AWS settings the user's shell has must not reach the local functions.
        for key in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_XRAY_SDK_ENABLED"] {
            command.env_remove(key);
        }
        command.envs(aws_env.iter().map(|(k, v)| (k, v)));
        let mut service = Service::spawn(spec.name, command, log_dir)?;
        let invoke = service.wait_for(Duration::from_secs(20), |line| {
            line.split_once("invoke at http://")?.1.split('/').next()?.parse().ok()
        })?;
        Ok(Self { service, name: spec.name, invoke })
    }

    /// The function's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The Invoke API's URL for this function.
    pub fn invoke_url(&self) -> String {
        format!("http://{}/2015-03-31/functions/{}/invocations", self.invoke, self.name)
    }

    /// The emulator's process id.
    pub fn pid(&self) -> u32 {
        self.service.pid()
    }
}
