//! What a daemon's HTTP server allows its clients: connections, how long
//! they may take to send a request, how much of request bodies it holds at
//! once. `server` enforces them; the daemons' configs carry them.

use std::time::Duration;

/// A daemon's HTTP bounds. The defaults suit production; tests shorten them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// How long a client has to send a request's headers, counted from the
    /// moment the server waits for them: on a new connection, and between
    /// two requests of a keep-alive connection (so it is also the longest a
    /// connection idles). A response being streamed (an event stream) is
    /// not idle and is never cut.
    pub header_read_timeout: Duration,
    /// How long a client has to send a request's body.
    pub body_read_timeout: Duration,
    /// Connections open at once; more are accepted and closed at once (so
    /// the kernel's backlog keeps moving and no descriptor is held). None:
    /// derived from the descriptor limit (see [`HttpLimits::connection_cap`]).
    pub max_connections: Option<usize>,
    /// Of those, how many are kept for `/health` and for agents: a
    /// connection accepted past `max_connections - reserved_connections`
    /// may only ask for those, and gets `reserved_header_read_timeout`.
    pub reserved_connections: usize,
    pub reserved_header_read_timeout: Duration,
    /// Bytes of request bodies held at once, over every connection; a body
    /// that does not fit is refused with 503.
    pub body_budget_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(60),
            max_connections: None,
            reserved_connections: 64,
            reserved_header_read_timeout: Duration::from_secs(2),
            body_budget_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Descriptors left for everything but connections (files, pipes of
/// executors, the registry) when the cap comes from the descriptor limit.
const DESCRIPTORS_KEPT: u64 = 128;

impl HttpLimits {
    /// `max_connections`, or the soft descriptor limit less what the rest
    /// of the daemon needs, between 16 and 65,536.
    pub fn connection_cap(&self) -> usize {
        if let Some(n) = self.max_connections {
            return n.max(1);
        }
        let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_or(1024, |(soft, _)| soft);
        soft.saturating_sub(DESCRIPTORS_KEPT).clamp(16, 65_536) as usize
    }
}
