//! Which trace an invocation joins, and the header the function is given.
//!
//! Lambda keeps the caller's `Root`, `Lineage` and unknown keys, decides sampling when the caller left it open
//! (`Sampled=?` or no `Sampled`), and names its own function segment as the `Parent`, so everything the function
//! records hangs under that segment. Without a usable header it starts a new trace.

use clap::ValueEnum;
use xray_core::sampling::{LocalSampler, SamplingRequest};
use xray_core::{Sampled, SegmentId, TraceHeader, TraceId};

/// How invocations that arrive without a sampling decision are sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Sampling {
    /// Every one (the local default: each run is worth seeing).
    Always,
    /// None: the function gets `Sampled=0` and no documents are sent.
    Never,
    /// Lambda's own rule: the first invocation each second, then 5% of the rest.
    Rate,
}

impl Sampling {
    /// The option's value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Rate => "rate",
        }
    }

    fn decide(self, sampler: &LocalSampler) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Rate => sampler.sample(&SamplingRequest::default()),
        }
    }
}

/// The trace of one invocation.
#[derive(Debug, Clone)]
pub(crate) struct Trace {
    /// What the function gets as `Lambda-Runtime-Trace-Id`.
    pub(crate) header: TraceHeader,
    /// The caller's segment, parent of the `AWS::Lambda` segment.
    pub(crate) caller: Option<SegmentId>,
    /// The `AWS::Lambda` segment.
    pub(crate) service_id: SegmentId,
    /// The `AWS::Lambda::Function` segment, the header's `Parent`.
    pub(crate) function_id: SegmentId,
    /// Whether documents are sent.
    pub(crate) sampled: bool,
}

impl Trace {
    /// The trace for an invocation that came with `incoming` (the `X-Amzn-Trace-Id` value, if any). A header that
    /// does not parse is reported in the second value; what is valid of it is kept ([`TraceHeader::salvage`]):
    /// its `Root` (else a new trace starts), `Lineage` and unknown keys, and `Parent` and `Sampled` where they are
    /// unambiguous.
    pub(crate) fn start(
        incoming: Option<&str>,
        sampling: Sampling,
        sampler: &LocalSampler,
    ) -> (Trace, Option<xray_core::header::HeaderError>) {
        let (service_id, function_id) = (SegmentId::new(), SegmentId::new());
        let parsed = incoming.map(TraceHeader::parse);
        let (header, caller, sampled, problem) = match parsed {
            Some(Ok(header)) => {
                let sampled = decision(header.sampled(), sampling, sampler);
                let caller = header.parent();
                (header.with_parent(function_id).with_sampled(flag(sampled)), caller, sampled, None)
            }
            Some(Err(problem)) => {
                // What is valid of a malformed header is kept, as xray-core does: its Root, its Lineage (Lambda's
                // loop detection) and unknown keys; Parent and Sampled only where unambiguous.
                let salvaged = TraceHeader::salvage(incoming.unwrap_or_default());
                let (header, caller) = match salvaged.header {
                    Some(header) => {
                        let caller = header.parent();
                        (header, caller)
                    }
                    None => {
                        let mut header = TraceHeader::new(TraceId::new(), None, Sampled::Unknown);
                        for (key, value) in salvaged.extra {
                            header.push_extra(key, value);
                        }
                        (header, None)
                    }
                };
                let sampled = decision(header.sampled(), sampling, sampler);
                (header.with_parent(function_id).with_sampled(flag(sampled)), caller, sampled, Some(problem))
            }
            None => {
                let sampled = sampling.decide(sampler);
                let header = TraceHeader::new(TraceId::new(), Some(function_id), flag(sampled));
                (header, None, sampled, None)
            }
        };
        (Trace { header, caller, service_id, function_id, sampled }, problem)
    }

    /// The trace id.
    pub(crate) fn root(&self) -> TraceId {
        self.header.root()
    }
}

/// The caller's decision when it made one, else the local setting's.
fn decision(caller: Sampled, sampling: Sampling, sampler: &LocalSampler) -> bool {
    match caller {
        Sampled::Yes => true,
        Sampled::No => false,
        Sampled::Requested | Sampled::Unknown => sampling.decide(sampler),
    }
}

fn flag(sampled: bool) -> Sampled {
    if sampled { Sampled::Yes } else { Sampled::No }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    fn start(header: Option<&str>, sampling: Sampling) -> Trace {
        let (trace, problem) = Trace::start(header, sampling, &LocalSampler::default());
        assert!(problem.is_none() || header.is_some());
        trace
    }

    #[test]
    fn a_caller_header_keeps_root_sampling_lineage_and_unknown_keys_with_the_function_segment_as_parent() {
        let header = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0;Team=blue");
        let trace = start(Some(&header), Sampling::Never);
        assert!(trace.sampled);
        assert_eq!(trace.caller.map(|p| p.to_string()).as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(
            trace.header.to_string(),
            format!("Root={ROOT};Parent={};Sampled=1;Lineage=a87bd80c:0;Team=blue", trace.function_id)
        );
        assert_ne!(trace.service_id, trace.function_id);
    }

    #[test]
    fn sampled_0_from_the_caller_is_kept_whatever_the_local_setting() {
        let trace = start(Some(&format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0")), Sampling::Always);
        assert!(!trace.sampled);
        assert_eq!(trace.header.sampled(), Sampled::No);
        assert_eq!(trace.header.parent(), Some(trace.function_id));
    }

    #[test]
    fn an_open_decision_is_taken_here() {
        for (text, sampling, sampled) in [
            (format!("Root={ROOT};Sampled=?"), Sampling::Always, true),
            (format!("Root={ROOT}"), Sampling::Never, false),
        ] {
            let trace = start(Some(&text), sampling);
            assert_eq!(trace.sampled, sampled, "{text}");
            assert_eq!(trace.root().to_string(), ROOT);
            assert_eq!(trace.caller, None);
        }
    }

    #[test]
    fn without_a_usable_header_a_new_trace_starts() {
        let fresh = start(None, Sampling::Always);
        assert!(fresh.sampled);
        assert_eq!(fresh.caller, None);
        assert_ne!(fresh.root().to_string(), ROOT);
        let (broken, problem) = Trace::start(Some("Root=nope"), Sampling::Never, &LocalSampler::default());
        assert!(problem.is_some());
        assert!(!broken.sampled);
        assert_eq!(
            broken.header.to_string(),
            format!("Root={};Parent={};Sampled=0", broken.root(), broken.function_id)
        );
    }

    #[test]
    fn a_malformed_caller_header_keeps_its_valid_root_and_lineage() {
        // Guards issue 18 point 16: a header that failed strict parsing started a new trace and dropped Lineage.
        let text = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1;Sampled=1;Team=blue");
        let (trace, problem) = Trace::start(Some(&text), Sampling::Never, &LocalSampler::default());
        assert!(problem.is_some(), "the duplicate Sampled is reported");
        assert_eq!(trace.root().to_string(), ROOT);
        assert!(trace.sampled, "the caller's agreed Sampled=1 is kept");
        assert_eq!(trace.caller.map(|p| p.to_string()).as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(
            trace.header.to_string(),
            format!("Root={ROOT};Parent={};Sampled=1;Lineage=a87bd80c:1;Team=blue", trace.function_id)
        );
        // Without a valid Root the trace is new, but Lineage still reaches the function.
        let (fresh, problem) =
            Trace::start(Some("Root=nope;Lineage=a87bd80c:1"), Sampling::Never, &LocalSampler::default());
        assert!(problem.is_some());
        assert_ne!(fresh.root().to_string(), ROOT);
        assert_eq!(fresh.header.lineage(), Some("a87bd80c:1"));
        assert_eq!(
            fresh.header.to_string(),
            format!("Root={};Parent={};Sampled=0;Lineage=a87bd80c:1", fresh.root(), fresh.function_id)
        );
    }

    #[test]
    fn the_rate_setting_samples_the_first_invocation_of_a_second() {
        let sampler = LocalSampler::default();
        // The reservoir holds one per second; 5% of the rest are sampled too, so out of 200 far fewer than all.
        let decisions: Vec<bool> = (0..200).map(|_| Sampling::Rate.decide(&sampler)).collect();
        assert!(decisions[0]);
        assert!(decisions.iter().filter(|d| **d).count() < 100);
    }
}
