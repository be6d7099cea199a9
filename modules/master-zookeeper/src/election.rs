//! The election's znodes as Mesos names them: `json.info_` followed by the
//! 10-digit sequence ZooKeeper appends; the smallest sequence leads.

/// The prefix of every candidacy's znode.
pub const LABEL: &str = "json.info_";

/// The sequence of a candidacy's znode name, if it is one.
pub fn sequence(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(LABEL)?;
    (digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The leading candidacy among `children`: the smallest sequence.
/// Anything else under the path is ignored.
pub fn leader_of<'a>(children: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    children
        .into_iter()
        .filter_map(|c| sequence(c).map(|s| (s, c)))
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_sequence_leads_and_other_children_do_not_count() {
        let children = [
            "json.info_0000000012",
            "lock",
            "json.info_0000000003",
            "log_replicas",
            "json.info_12",
            "info_0000000001",
        ];
        assert_eq!(leader_of(children), Some("json.info_0000000003"));
        assert_eq!(leader_of(["lock"]), None);
        assert_eq!(sequence("json.info_0000000042"), Some(42));
    }
}
