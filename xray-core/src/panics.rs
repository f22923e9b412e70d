//! A panic in traced code: recorded on the subsegment it happened in, then resumed, so the function fails exactly
//! as it would untraced.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use crate::document::Exception;
use crate::record::Recorder;

/// Runs `body`, recording a panic on `recorder()` before resuming it.
pub(crate) fn run_caught<R>(body: impl FnOnce() -> R, recorder: impl FnOnce() -> Recorder) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            record_panic(&recorder(), &*payload);
            resume_unwind(payload)
        }
    }
}

/// Marks a fault whose cause is the panic's message.
fn record_panic(rec: &Recorder, payload: &(dyn Any + Send)) {
    let message = payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic with a non-string payload");
    rec.mark_fault();
    rec.add_exception(Exception::new("panic", message));
}
