//! The error every module call can return.

use std::fmt;

use abi_stable::{
    nonexhaustive_enum::NonExhaustive,
    std_types::{RString, RVec},
    StableAbi,
};

/// What went wrong, broadly. New kinds may be added in minor versions, so it
/// crosses the boundary wrapped in [`ErrorKind_NE`]; a host that meets a kind
/// it does not know treats it as [`ErrorKind::Failed`].
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
#[sabi(kind(WithNonExhaustive(size = 8, align = 8, traits(Debug, Clone, PartialEq))))]
#[non_exhaustive]
pub enum ErrorKind {
    /// The module's parameters were missing, unknown or malformed.
    InvalidParameters,
    /// The module does not implement what was asked of it.
    Unsupported,
    /// The operation was attempted and failed.
    Failed,
    /// The module panicked; the guest helpers turned the panic into this error.
    Panicked,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidParameters => "invalid parameters",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Failed => "failed",
            ErrorKind::Panicked => "panicked",
        })
    }
}

/// An ABI-stable error: a kind, a message, and the chain of causes (outermost
/// first) as text.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct ModuleError {
    pub kind: ErrorKind_NE,
    pub message: RString,
    pub causes: RVec<RString>,
}

impl ModuleError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ModuleError {
            kind: NonExhaustive::new(kind),
            message: RString::from(message.into()),
            causes: RVec::new(),
        }
    }

    /// The module's parameters were wrong; `message` should name the key.
    pub fn invalid_parameters(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameters, message)
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failed, message)
    }

    pub fn panicked(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Panicked, message)
    }

    /// Appends a cause (for example the `Display` of an underlying error).
    pub fn with_cause(mut self, cause: impl fmt::Display) -> Self {
        self.causes.push(RString::from(cause.to_string()));
        self
    }

    /// The kind, or `None` for a kind added by a newer module-api.
    pub fn known_kind(&self) -> Option<ErrorKind> {
        self.kind.as_enum().ok().copied()
    }
}

impl fmt::Display for ModuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for cause in &self.causes {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ModuleError {}
