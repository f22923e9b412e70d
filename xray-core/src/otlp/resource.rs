//! The resource every span is sent with: the service and the Lambda function it runs in, read from the environment
//! once, with `OTEL_RESOURCE_ATTRIBUTES` merged over what was detected.

use std::sync::OnceLock;

use super::proto::{Value, attribute, string};
use crate::config::percent_decode;
use crate::diag::diag;

/// The version of this crate, sent as `telemetry.sdk.version` and the scope's version.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The resource's attributes, in the order they are sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Resource {
    pub(crate) attributes: Vec<(String, ResourceValue)>,
}

/// A resource attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResourceValue {
    Str(String),
    Int(i64),
    Strs(Vec<String>),
}

impl Resource {
    /// Detects the resource through `lookup` (an environment variable's value). A bad `OTEL_RESOURCE_ATTRIBUTES`
    /// entry gets a diagnostic and is skipped.
    pub(crate) fn detect(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let mut resource = Self::default();
        let function = get("AWS_LAMBDA_FUNCTION_NAME");
        let from_env = get("OTEL_RESOURCE_ATTRIBUTES").map(|text| parse_attributes(&text)).unwrap_or_default();
        let service = get("OTEL_SERVICE_NAME")
            .or_else(|| from_env.iter().find(|(k, _)| k == "service.name").map(|(_, v)| v.clone()))
            .or_else(|| get("POWERTOOLS_SERVICE_NAME"))
            .or_else(|| function.clone())
            .unwrap_or_else(|| "unknown_service".to_owned());
        resource.put("service.name", ResourceValue::Str(service));
        resource.put("cloud.provider", ResourceValue::Str("aws".into()));
        if function.is_some() {
            resource.put("cloud.platform", ResourceValue::Str("aws_lambda".into()));
        }
        if let Some(region) = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")) {
            resource.put("cloud.region", ResourceValue::Str(region));
        }
        if let Some(name) = function {
            resource.put("faas.name", ResourceValue::Str(name));
        }
        if let Some(version) = get("AWS_LAMBDA_FUNCTION_VERSION") {
            resource.put("faas.version", ResourceValue::Str(version));
        }
        if let Some(stream) = get("AWS_LAMBDA_LOG_STREAM_NAME") {
            resource.put("faas.instance", ResourceValue::Str(stream));
        }
        if let Some(memory) = get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|m| m.trim().parse::<i64>().ok()) {
            // Semantic conventions give it in bytes; Lambda in MiB.
            resource.put("faas.max_memory", ResourceValue::Int(memory * 1024 * 1024));
        }
        if let Some(group) = get("AWS_LAMBDA_LOG_GROUP_NAME") {
            resource.put("aws.log.group.names", ResourceValue::Strs(vec![group]));
        }
        for (key, value) in from_env {
            if key != "service.name" {
                resource.put(&key, ResourceValue::Str(value));
            }
        }
        resource.put("telemetry.sdk.name", ResourceValue::Str("xray-rs".into()));
        resource.put("telemetry.sdk.language", ResourceValue::Str("rust".into()));
        resource.put("telemetry.sdk.version", ResourceValue::Str(VERSION.into()));
        resource
    }

    /// Sets `key`, replacing an earlier value.
    fn put(&mut self, key: &str, value: ResourceValue) {
        match self.attributes.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((key.to_owned(), value)),
        }
    }

    /// The fields of the `Resource` message.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (key, value) in &self.attributes {
            match value {
                ResourceValue::Str(s) => attribute(&mut out, 1, key, Value::Str(s)),
                ResourceValue::Int(i) => attribute(&mut out, 1, key, Value::Int(*i)),
                ResourceValue::Strs(items) => {
                    let items: Vec<&str> = items.iter().map(String::as_str).collect();
                    attribute(&mut out, 1, key, Value::Strs(&items));
                }
            }
        }
        out
    }
}

/// `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs separated by commas, keys and values percent-decoded.
fn parse_attributes(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let parsed =
            entry.split_once('=').and_then(|(k, v)| Some((percent_decode(k.trim())?, percent_decode(v.trim())?)));
        match parsed {
            Some((key, value)) if !key.is_empty() => out.push((key, value)),
            _ => diag!(
                BadEnvVar,
                "OTEL_RESOURCE_ATTRIBUTES entry `{entry}` is not `key=value` (percent-encoded UTF-8); skipped"
            ),
        }
    }
    out
}

/// The fields of the `InstrumentationScope` message: this crate.
pub(crate) fn scope() -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, 1, "xray-rs");
    string(&mut out, 2, VERSION);
    out
}

/// The process's resource and scope, encoded once.
pub(crate) fn process() -> &'static (Vec<u8>, Vec<u8>) {
    static ENCODED: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    ENCODED.get_or_init(|| (Resource::detect(&|key| std::env::var(key).ok()).encode(), scope()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn detect(vars: &[(&str, &str)]) -> Resource {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        Resource::detect(&|k| vars.get(k).cloned())
    }

    fn get<'a>(resource: &'a Resource, key: &str) -> Option<&'a ResourceValue> {
        resource.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn text(value: &str) -> Option<&ResourceValue> {
        // Leaked for the comparison's lifetime only in tests.
        Some(Box::leak(Box::new(ResourceValue::Str(value.into()))))
    }

    #[test]
    fn the_service_name_comes_from_otel_then_powertools_then_the_function() {
        let lambda = [("AWS_LAMBDA_FUNCTION_NAME", "orders"), ("AWS_REGION", "eu-west-1")];
        assert_eq!(get(&detect(&lambda), "service.name"), text("orders"));
        let powertools = [lambda[0], ("POWERTOOLS_SERVICE_NAME", "shop")];
        assert_eq!(get(&detect(&powertools), "service.name"), text("shop"));
        let attrs = [powertools[0], powertools[1], ("OTEL_RESOURCE_ATTRIBUTES", "service.name=fromattrs")];
        assert_eq!(get(&detect(&attrs), "service.name"), text("fromattrs"));
        let otel = [attrs[0], attrs[1], attrs[2], ("OTEL_SERVICE_NAME", "otel")];
        assert_eq!(get(&detect(&otel), "service.name"), text("otel"));
        let r = detect(&lambda);
        assert_eq!(get(&r, "cloud.platform"), text("aws_lambda"));
        assert_eq!(get(&r, "cloud.region"), text("eu-west-1"));
        assert_eq!(get(&r, "faas.name"), text("orders"));
    }

    #[test]
    fn resource_attributes_are_percent_decoded_and_bad_entries_reported() {
        let before = crate::diag::count(crate::diag::DiagKind::BadEnvVar);
        let r = detect(&[("OTEL_RESOURCE_ATTRIBUTES", "team=pay%20ments, deployment.environment=prod,bad,x=%zz")]);
        assert_eq!(get(&r, "team"), text("pay ments"));
        assert_eq!(get(&r, "deployment.environment"), text("prod"));
        assert_eq!(get(&r, "bad"), None);
        assert_eq!(get(&r, "x"), None);
        assert!(crate::diag::count(crate::diag::DiagKind::BadEnvVar) >= before + 2);
    }
}
