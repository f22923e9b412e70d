//! The function as configured: the options of `xray-local lambda` ([`Args`]) and what follows from them
//! ([`Function`]: its name, ARN, limits and environment), checked once at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::trace::Sampling;

/// The options of `xray-local lambda`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The function's executable (a `lambda_runtime` binary, or a cargo-lambda `bootstrap`).
    pub binary: PathBuf,
    /// Arguments for the executable (after `--`).
    #[arg(last = true)]
    pub args: Vec<String>,
    /// The function's name [default: the executable's file name].
    #[arg(long)]
    pub name: Option<String>,
    /// Where the Invoke API listens (POST /2015-03-31/functions/NAME/invocations).
    #[arg(long, default_value = "127.0.0.1:3001")]
    pub bind: SocketAddr,
    /// Where the Runtime API listens (port 0: any free port); the function gets it as AWS_LAMBDA_RUNTIME_API.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub runtime_api: SocketAddr,
    /// Where segment documents go, also given to the function as AWS_XRAY_DAEMON_ADDRESS
    /// [default: $AWS_XRAY_DAEMON_ADDRESS, else 127.0.0.1:2000].
    #[arg(long)]
    pub daemon: Option<String>,
    /// How long an invocation may run (e.g. 3s, 500ms, 15m).
    #[arg(long, default_value = "3s", value_parser = crate::units::parse_duration)]
    pub timeout: Duration,
    /// How long a new process may take to ask for its first invocation, as Lambda's init limit.
    #[arg(long, default_value = "10s", value_parser = crate::units::parse_duration)]
    pub init_timeout: Duration,
    /// Memory size in MB, as AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
    #[arg(long, default_value_t = 128)]
    pub memory: u32,
    /// Run up to this many invocations at once in one process (sets AWS_LAMBDA_MAX_CONCURRENCY); without it one at
    /// a time, the rest queued.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrency: Option<u32>,
    /// Region, as AWS_REGION and in the function's ARN [default: $AWS_REGION, else us-east-1].
    #[arg(long)]
    pub region: Option<String>,
    /// Account id in the function's ARN.
    #[arg(long, default_value = "123456789012")]
    pub account_id: String,
    /// Sampling of invocations whose caller leaves it open (no header, or no `Sampled`, or `Sampled=?`); a
    /// caller's `Sampled=1` or `Sampled=0` is always kept.
    #[arg(long, value_enum, default_value = "always")]
    pub sampled: Sampling,
    /// An environment variable for the function (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// The handler setting, as _HANDLER.
    #[arg(long, default_value = "bootstrap")]
    pub handler: String,
}

/// The function as configured, with what follows from the options.
#[derive(Debug, Clone)]
pub(crate) struct Function {
    pub(crate) name: String,
    pub(crate) arn: String,
    pub(crate) account_id: String,
    pub(crate) region: String,
    pub(crate) binary: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) bind: SocketAddr,
    pub(crate) runtime_api: SocketAddr,
    /// The daemon address as given, for AWS_XRAY_DAEMON_ADDRESS.
    pub(crate) daemon: String,
    pub(crate) daemon_udp: SocketAddr,
    pub(crate) timeout: Duration,
    pub(crate) init_timeout: Duration,
    pub(crate) memory: u32,
    pub(crate) max_concurrency: Option<u32>,
    pub(crate) sampling: Sampling,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) handler: String,
}

impl Function {
    pub(super) fn from_args(args: Args) -> Result<Self, String> {
        if !args.binary.is_file() {
            return Err(format!("no function executable at {}", args.binary.display()));
        }
        let name = match args.name {
            Some(name) => name,
            None => args.binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!("function name `{name}` is not 1 to 64 letters, digits, - or _ (use --name)"));
        }
        if args.account_id.len() != 12 || !args.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("account id `{}` is not 12 digits", args.account_id));
        }
        let env = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
        let region = args.region.or_else(|| env("AWS_REGION")).unwrap_or_else(|| "us-east-1".into());
        let daemon = args.daemon.or_else(|| env("AWS_XRAY_DAEMON_ADDRESS")).unwrap_or_else(|| "127.0.0.1:2000".into());
        let daemon_udp = xray_core::config::DaemonAddress::parse(&daemon).map_err(|e| e.to_string())?.udp;
        if args.timeout.is_zero() || args.init_timeout.is_zero() {
            return Err("--timeout and --init-timeout must be more than 0".into());
        }
        Ok(Self {
            arn: format!("arn:aws:lambda:{region}:{}:function:{name}", args.account_id),
            name,
            account_id: args.account_id,
            region,
            binary: args.binary,
            args: args.args,
            bind: args.bind,
            runtime_api: args.runtime_api,
            daemon,
            daemon_udp,
            timeout: args.timeout,
            init_timeout: args.init_timeout,
            memory: args.memory,
            max_concurrency: args.max_concurrency,
            sampling: args.sampled,
            env: args.env,
            handler: args.handler,
        })
    }

    /// How many invocations may run at once.
    pub(super) fn slots(&self) -> usize {
        self.max_concurrency.map_or(1, |n| n as usize)
    }

    #[cfg(test)]
    pub(crate) fn for_tests(name: &str) -> Self {
        let local: SocketAddr = ([127, 0, 0, 1], 0).into();
        Self {
            name: name.into(),
            arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            binary: PathBuf::from("bootstrap"),
            args: Vec::new(),
            bind: local,
            runtime_api: local,
            daemon: "127.0.0.1:2000".into(),
            daemon_udp: ([127, 0, 0, 1], 2000).into(),
            timeout: Duration::from_secs(3),
            init_timeout: Duration::from_secs(10),
            memory: 128,
            max_concurrency: None,
            sampling: Sampling::Always,
            env: Vec::new(),
            handler: "bootstrap".into(),
        }
    }
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: Args,
    }

    fn function(extra: &[&str]) -> Result<Function, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let exe = exe.to_string_lossy().into_owned();
        let argv = ["xray-local-lambda"].into_iter().chain(extra.iter().copied()).chain([exe.as_str()]);
        Function::from_args(Command::try_parse_from(argv).map_err(|e| e.to_string())?.args)
    }

    #[test]
    fn options_make_the_function_s_arn_and_limits() {
        let f =
            function(&["--name", "orders", "--region", "eu-west-1", "--max-concurrency", "3", "--timeout", "500ms"])
                .expect("valid options");
        assert_eq!(f.arn, "arn:aws:lambda:eu-west-1:123456789012:function:orders");
        assert_eq!(f.slots(), 3);
        assert_eq!(f.timeout, Duration::from_millis(500));
        assert_eq!(function(&["--name", "orders"]).map(|f| f.slots()), Ok(1));
    }

    #[test]
    fn bad_options_are_refused_with_a_reason() {
        let refused = |extra: &[&str]| function(extra).err().unwrap_or_default();
        assert!(refused(&["--name", "no spaces"]).contains("is not 1 to 64 letters"));
        assert!(refused(&["--name", "f", "--account-id", "12"]).contains("is not 12 digits"));
        assert!(refused(&["--name", "f", "--daemon", "nowhere"]).contains("daemon address"));
        assert!(refused(&["--name", "f", "--max-concurrency", "0"]).contains("0"));
        assert!(refused(&["--name", "f", "--env", "=x"]).contains("is not KEY=VALUE"));
        let missing = Function::from_args(Command::parse_from(["x", "/no/such/binary"]).args).err();
        assert_eq!(missing.as_deref(), Some("no function executable at /no/such/binary"));
    }
}
