//! Turning module-side panics into errors before they reach the ABI.

use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::std_types::RResult;

use crate::error::ModuleError;

/// Runs `body`, turning a panic into [`ModuleError::panicked`] naming `what`.
///
/// Every call that crosses into a module must run under this guard: a panic
/// escaping an `extern "C"` function aborts the whole daemon. The adapters
/// in [`crate::guest`] apply it to every method, so modules written with
/// them never need to call it themselves.
pub fn guard<T>(
    what: &str,
    body: impl FnOnce() -> Result<T, ModuleError>,
) -> RResult<T, ModuleError> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result.into(),
        Err(payload) => RResult::RErr(ModuleError::panicked(format!(
            "panicked in {what}: {}",
            panic_message(payload.as_ref())
        ))),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn a_panic_becomes_a_panicked_error_with_its_message() {
        let result: RResult<(), ModuleError> = guard("the test body", || panic!("boom {}", 7));
        let err = result.into_result().unwrap_err();
        assert_eq!(err.known_kind(), Some(ErrorKind::Panicked));
        assert_eq!(err.message.as_str(), "panicked in the test body: boom 7");
    }

    #[test]
    fn results_pass_through_unchanged() {
        assert_eq!(guard("ok", || Ok(5)).into_result().unwrap(), 5);
        let err = guard::<()>("err", || Err(ModuleError::failed("nope")))
            .into_result()
            .unwrap_err();
        assert_eq!(err.known_kind(), Some(ErrorKind::Failed));
        assert_eq!(err.to_string(), "nope");
    }
}
