use thiserror::Error;

/// A call into a module failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ModuleCallError {
    /// The module returned an error.
    #[error("module '{module}' failed in {method}: {message}")]
    Failed {
        module: String,
        method: &'static str,
        message: String,
    },
    /// The module panicked; the instance is poisoned from now on.
    #[error("module '{module}' panicked in {method} and is disabled: {message}")]
    Panicked {
        module: String,
        method: &'static str,
        message: String,
    },
    /// An earlier panic disabled the instance; it is no longer called.
    #[error("module '{module}' is disabled after an earlier panic ({cause}); {method} not called")]
    Poisoned {
        module: String,
        method: &'static str,
        cause: String,
    },
}
