//! Object naming and trace ordering, as the reference sf-exporter and sysprint do them.

use std::cmp::Ordering;

/// Node and pod metadata attached to every uploaded object (`x-amz-meta-*`) and used in object names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeMetadata {
    /// Node name (`--nodename`, `EXPORTER_ID`).
    pub nodename: String,
    /// Node IP (`--nodeip`, `NODE_IP`).
    pub nodeip: String,
    /// Pod name (`--podname`, `POD_NAME`).
    pub podname: String,
    /// Pod IP (`--podip`, `POD_IP`).
    pub podip: String,
    /// Pod service account (`--podservice`, `POD_SERVICE_ACCOUNT`).
    pub podservice: String,
    /// Pod namespace (`--podns`, `POD_NAMESPACE`).
    pub podns: String,
    /// Pod UUID (`--poduuid`, `POD_UUID`).
    pub poduuid: String,
    /// Cluster id (`--clusterid`, `CLUSTER_ID`); used in object names only.
    pub clusterid: String,
}

impl NodeMetadata {
    /// The user metadata pairs stored with each object, without the `x-amz-meta-` prefix, in the
    /// reference's order (`nodename, nodeip, podname, podip, podservice, podns, poduuid`).
    pub fn object_metadata(&self) -> [(&'static str, &str); 7] {
        [
            ("nodename", &self.nodename),
            ("nodeip", &self.nodeip),
            ("podname", &self.podname),
            ("podip", &self.podip),
            ("podservice", &self.podservice),
            ("podns", &self.podns),
            ("poduuid", &self.poduuid),
        ]
    }
}

/// Builds the object key of a trace file as the reference `move-del` mode does:
/// `<s3prefix>/<clusterid>/<nodename>/<nodeip>/<YYYY>/<MM>/<DD>/<basename>.<nodeip>.sf`.
///
/// Each directory component appears only when non-empty; the date directories only when the base name
/// is an integer (seconds since the epoch, UTC). The file part keeps the reference's literal format
/// `<basename>.<nodeip>.sf`, so an empty node IP gives `<basename>..sf`. Where the reference would
/// produce a key starting with `/` (every directory component empty), the leading `/` is dropped:
/// S3 clients normalise it away (see the crate README).
pub fn object_key(prefix: &str, meta: &NodeMetadata, basename: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for component in [prefix, &meta.clusterid, &meta.nodename, &meta.nodeip] {
        let c = component.trim_matches('/');
        if !c.is_empty() {
            parts.push(c.to_string());
        }
    }
    if let Some(date) = epoch_date_dirs(basename) {
        parts.push(date);
    }
    parts.push(format!("{basename}.{}.sf", meta.nodeip));
    parts.join("/")
}

/// `YYYY/MM/DD` (UTC) of a base name that parses as an integer number of seconds since the epoch, as
/// Python's `int()` would accept it (optional sign, surrounding whitespace, `_` separators are not
/// produced by the collector and are rejected here).
fn epoch_date_dirs(basename: &str) -> Option<String> {
    let secs: i64 = basename.trim().parse().ok()?;
    let days = secs.div_euclid(86_400);
    let (y, m, d) = sysflow_format::flags::time::civil_from_days(days);
    Some(format!("{y:04}/{m:02}/{d:02}"))
}

/// The reference ordering key of a path: the integer made of all its decimal digits
/// (`int(''.join(filter(str.isdigit, path)))`). Returned as the digit string without leading zeros,
/// so that arbitrarily long digit runs compare exactly; `None` when the path has no digit (the
/// reference raises `ValueError` there).
pub fn digit_key(path: &str) -> Option<String> {
    let digits: String = path.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    Some(if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    })
}

/// Compares two digit keys from [`digit_key`] numerically.
pub fn cmp_digit_keys(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Sorts names the way the reference sorts trace files: numerically by [`digit_key`], ties broken by
/// the name itself. Names without any digit (which make the reference fail) go first, by name.
pub fn sort_by_digits<T>(items: &mut [T], name: impl Fn(&T) -> &str) {
    items.sort_by(|a, b| {
        let (na, nb) = (name(a), name(b));
        match (digit_key(na), digit_key(nb)) {
            (Some(ka), Some(kb)) => cmp_digit_keys(&ka, &kb).then_with(|| na.cmp(nb)),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (None, None) => na.cmp(nb),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(nodeip: &str, nodename: &str, clusterid: &str) -> NodeMetadata {
        NodeMetadata {
            nodeip: nodeip.into(),
            nodename: nodename.into(),
            clusterid: clusterid.into(),
            ..Default::default()
        }
    }

    #[test]
    fn key_with_all_components() {
        let m = meta("10.0.0.1", "node1", "c1");
        // 1700000000 = 2023-11-14T22:13:20Z
        assert_eq!(
            object_key("acct-1/sol/env", &m, "1700000000"),
            "acct-1/sol/env/c1/node1/10.0.0.1/2023/11/14/1700000000.10.0.0.1.sf"
        );
    }

    #[test]
    fn key_skips_empty_components_and_non_integer_dates() {
        let m = meta("127.0.0.1", "", "");
        assert_eq!(
            object_key("", &m, "trace-3"),
            "127.0.0.1/trace-3.127.0.0.1.sf"
        );
        assert_eq!(
            object_key("", &meta("", "", ""), "86399"),
            "1970/01/01/86399..sf"
        );
        assert_eq!(object_key("", &meta("", "", ""), "abc"), "abc..sf");
        assert_eq!(
            object_key("p/", &meta("", "n", ""), "0"),
            "p/n/1970/01/01/0..sf"
        );
    }

    #[test]
    fn dates_match_known_calendar_days() {
        assert_eq!(epoch_date_dirs("951782400").as_deref(), Some("2000/02/29"));
        assert_eq!(epoch_date_dirs("4102444799").as_deref(), Some("2099/12/31"));
        assert_eq!(epoch_date_dirs("-1").as_deref(), Some("1969/12/31"));
        assert_eq!(epoch_date_dirs("12a"), None);
    }

    #[test]
    fn digit_sort_is_numeric_not_lexicographic() {
        let mut v = vec!["d/100", "d/99", "d/1000", "d/x", "d/0099b"];
        sort_by_digits(&mut v, |s| s);
        assert_eq!(v, vec!["d/x", "d/0099b", "d/99", "d/100", "d/1000"]);
    }
}
