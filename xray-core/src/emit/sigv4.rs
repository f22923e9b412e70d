//! SigV4 for X-Ray's own OTLP endpoint (feature `otlp-sigv4`): each request signed for service `xray` in the
//! endpoint's region, with credentials from the standard AWS chain (environment, profile, web identity, container,
//! instance metadata; in Lambda the function role's, from the environment), resolved on the sending thread and kept
//! until five minutes before they expire.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign as sign_request};
use aws_sigv4::sign::v4;

use super::otlp_http::Target;
use crate::config::OtlpSettings;

/// The chain and the runtime its providers need; credentials kept between requests.
struct Chain {
    runtime: tokio::runtime::Runtime,
    provider: aws_config::default_provider::credentials::DefaultCredentialsChain,
    cached: Mutex<Option<Credentials>>,
}

fn chain() -> Result<&'static Chain, String> {
    static CHAIN: OnceLock<Result<Chain, String>> = OnceLock::new();
    CHAIN
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("SigV4: cannot start the credentials runtime: {e}"))?;
            let provider =
                runtime.block_on(aws_config::default_provider::credentials::DefaultCredentialsChain::builder().build());
            Ok(Chain { runtime, provider, cached: Mutex::new(None) })
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn credentials() -> Result<Credentials, String> {
    let chain = chain()?;
    let mut cached = chain.cached.lock().unwrap_or_else(PoisonError::into_inner);
    let fresh = |c: &Credentials| c.expiry().is_none_or(|at| at > SystemTime::now() + Duration::from_secs(300));
    if let Some(credentials) = cached.as_ref().filter(|c| fresh(c)) {
        return Ok(credentials.clone());
    }
    let credentials = chain
        .runtime
        .block_on(chain.provider.provide_credentials())
        .map_err(|e| format!("SigV4: no AWS credentials: {e}"))?;
    *cached = Some(credentials.clone());
    Ok(credentials)
}

/// Adds the SigV4 headers (`Authorization`, `X-Amz-Date`, `X-Amz-Security-Token`) for `headers` and `body`, when
/// the settings name a region to sign for.
pub(super) fn sign(
    settings: &OtlpSettings,
    target: &Target,
    headers: &mut Vec<(String, String)>,
    body: &[u8],
) -> Result<(), String> {
    let Some(region) = &settings.sigv4_region else { return Ok(()) };
    let identity = credentials()?.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("xray")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("SigV4: {e}"))?
        .into();
    let url = format!("{}://{}{}", if target.https { "https" } else { "http" }, target.authority, target.path);
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| format!("SigV4: {e}"))?;
    let (instructions, _signature) = sign_request(signable, &params).map_err(|e| format!("SigV4: {e}"))?.into_parts();
    for (name, value) in instructions.headers() {
        headers.push((name.to_owned(), value.to_owned()));
    }
    Ok(())
}
