//! Reading processes from `/proc`.

use std::path::Path;

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`).
pub const TICKS_PER_SECOND: f64 = 100.0;
/// Bytes per page for the `rss` field.
pub const PAGE_SIZE: u64 = 4096;

/// The fields of `/proc/<pid>/stat` the isolators use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    /// Field 6: the session id.
    pub session: u32,
    /// Field 14, in clock ticks.
    pub utime: u64,
    /// Field 15, in clock ticks.
    pub stime: u64,
    /// Field 24, in pages.
    pub rss_pages: u64,
}

/// Parses the contents of `/proc/<pid>/stat`. The command name (field 2)
/// is in parentheses and may itself hold spaces and parentheses, so fields
/// are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let (head, rest) = text.rsplit_once(')')?;
    let (pid, _command) = head.split_once('(')?;
    // `rest` starts at field 3 (state).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).copied();
    Some(ProcStat {
        pid: pid.trim().parse().ok()?,
        session: field(6)?.parse().ok()?,
        utime: field(14)?.parse().ok()?,
        stime: field(15)?.parse().ok()?,
        // Signed in the kernel's format; never negative in practice.
        rss_pages: field(24)?.parse::<i64>().ok()?.max(0).unsigned_abs(),
    })
}

/// What the processes of one session use together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionUsage {
    pub processes: usize,
    /// User time, in clock ticks.
    pub utime: u64,
    /// System time, in clock ticks.
    pub stime: u64,
    pub rss_pages: u64,
}

impl SessionUsage {
    pub fn user_time_secs(&self) -> f64 {
        self.utime as f64 / TICKS_PER_SECOND
    }

    pub fn system_time_secs(&self) -> f64 {
        self.stime as f64 / TICKS_PER_SECOND
    }

    pub fn rss_bytes(&self) -> u64 {
        self.rss_pages * PAGE_SIZE
    }

    fn add(&mut self, stat: &ProcStat) {
        self.processes += 1;
        self.utime += stat.utime;
        self.stime += stat.stime;
        self.rss_pages += stat.rss_pages;
    }
}

/// Sums every process in `proc_root` (normally `/proc`) whose session id is
/// `session`. Processes that exit during the walk are skipped.
pub fn session_usage(proc_root: &Path, session: u32) -> std::io::Result<SessionUsage> {
    let mut usage = SessionUsage::default();
    for entry in std::fs::read_dir(proc_root)? {
        let Ok(entry) = entry else { continue };
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()));
        if !is_pid {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(stat) = parse_stat(&text).filter(|s| s.session == session) {
            usage.add(&stat);
        }
    }
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/proc/<pid>/stat` of a `sleep` in session 4242.
    const SLEEP: &str = "4250 (sleep) S 4242 4242 4242 0 -1 4194304 93 0 0 0 7 3 0 0 20 0 1 0 \
                         123456 5652480 187 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 \
                         0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn fields_are_counted_after_the_command_name() {
        assert_eq!(
            parse_stat(SLEEP),
            Some(ProcStat {
                pid: 4250,
                session: 4242,
                utime: 7,
                stime: 3,
                rss_pages: 187,
            })
        );
    }

    #[test]
    fn command_names_with_spaces_and_parentheses_are_skipped_whole() {
        let tricky = SLEEP.replace("(sleep)", "(my (odd) ) name)");
        let stat = parse_stat(&tricky).unwrap();
        assert_eq!(
            (stat.pid, stat.session, stat.utime, stat.stime),
            (4250, 4242, 7, 3)
        );
        assert_eq!(stat.rss_pages, 187);
        let newline = SLEEP.replace("(sleep)", "(a\n) b)");
        assert_eq!(parse_stat(&newline).map(|s| s.session), Some(4242));
    }

    #[test]
    fn truncated_or_garbled_lines_are_refused() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("12 (x) S 1 2"), None);
        assert_eq!(parse_stat("12 x S 1 2 3"), None);
        assert_eq!(parse_stat(&SLEEP.replace("4242 0 -1", "abc 0 -1")), None);
    }

    #[test]
    fn the_test_process_is_found_in_its_own_session() {
        let own = parse_stat(&std::fs::read_to_string("/proc/self/stat").unwrap()).unwrap();
        assert_eq!(own.pid, std::process::id());
        let usage = session_usage(Path::new("/proc"), own.session).unwrap();
        assert!(usage.processes >= 1, "{usage:?}");
        assert!(usage.rss_bytes() > 0, "{usage:?}");
        assert_eq!(
            session_usage(Path::new("/proc"), u32::MAX)
                .unwrap()
                .processes,
            0
        );
    }
}
