//! `/proc/meminfo`: every line as node_exporter's `node_memory_<Field>_bytes` gauge (kB × 1024), or
//! `node_memory_<Field>` for the counts without a unit (HugePages_Total), with `Active(anon)`
//! spelled `Active_anon` as node_exporter spells it.

use super::super::{family, gauge};
use super::is_name_part;
use prometheus_client::encoding::DescriptorEncoder;

/// One meminfo line.
#[derive(Debug, PartialEq)]
pub(super) struct Field<'a> {
    /// The kernel's name, as written: `MemTotal`, `Active(anon)`.
    key: &'a str,
    /// Whether the line had a unit (always kB): the value is then bytes and the name ends `_bytes`.
    bytes: bool,
    value: f64,
}

/// The lines that read as `Name: value [kB]`; any other line is skipped.
pub(super) fn parse(text: &str) -> Vec<Field<'_>> {
    text.lines().filter_map(field).collect()
}

fn field(line: &str) -> Option<Field<'_>> {
    let (key, rest) = line.split_once(':')?;
    let mut words = rest.split_ascii_whitespace();
    let value = words.next()?.parse::<u64>().ok()? as f64;
    let (value, bytes) = match words.next() {
        None => (value, false),
        Some("kB") => (value * 1024.0, true),
        Some(_) => return None,
    };
    if words.next().is_some() || !is_metric_key(key) {
        return None;
    }
    Some(Field { key, bytes, value })
}

/// Whether a key makes a metric name once node_exporter's rule turns `Active(anon)` into
/// `Active_anon`: letters, digits and underscores, with at most one parenthesised last part.
fn is_metric_key(key: &str) -> bool {
    match key.split_once('(') {
        None => is_name_part(key),
        Some((head, tail)) => {
            is_name_part(head) && tail.strip_suffix(')').is_some_and(is_name_part)
        }
    }
}

pub(super) fn encode(encoder: &mut DescriptorEncoder, fields: &[Field]) -> std::fmt::Result {
    // One name and one help buffer for all the lines: a field's name is built, not allocated.
    let mut name = String::with_capacity(64);
    let mut help = String::with_capacity(64);
    for field in fields {
        name.clear();
        name.push_str("node_memory_");
        for c in field.key.chars().filter(|&c| c != ')') {
            name.push(if c == '(' { '_' } else { c });
        }
        if field.bytes {
            name.push_str("_bytes");
        }
        help.clear();
        help.push_str("Memory information field ");
        help.push_str(&name["node_memory_".len()..]);
        help.push('.');
        family(encoder, &name, &help, [(vec![], gauge(field.value))])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    /// This machine's /proc/meminfo (kernel 6.18), shortened.
    const MEMINFO: &str = "\
MemTotal:       24683664 kB
MemFree:        21558408 kB
MemAvailable:   23417988 kB
Buffers:           90536 kB
Cached:          1857868 kB
SwapCached:            0 kB
Active:           721788 kB
Inactive:        1942196 kB
Active(anon):       1556 kB
Inactive(anon):   723592 kB
Active(file):     720232 kB
Inactive(file):  1218604 kB
SwapTotal:             0 kB
SwapFree:              0 kB
Committed_AS:     648452 kB
VmallocTotal:   34359738367 kB
HugePages_Total:       0
HugePages_Free:        0
Hugepagesize:       2048 kB
DirectMap1G:    25165824 kB
";

    #[test]
    fn every_line_under_node_exporters_name() {
        let text = render::text(|e| encode(e, &parse(MEMINFO)));
        let value = |series: &str| render::value(&text, series);
        assert_eq!(
            value("node_memory_MemTotal_bytes"),
            Some(24683664.0 * 1024.0)
        );
        assert_eq!(
            value("node_memory_Active_anon_bytes"),
            Some(1556.0 * 1024.0)
        );
        assert_eq!(
            value("node_memory_Inactive_file_bytes"),
            Some(1218604.0 * 1024.0)
        );
        assert_eq!(
            value("node_memory_Committed_AS_bytes"),
            Some(648452.0 * 1024.0)
        );
        assert_eq!(
            value("node_memory_VmallocTotal_bytes"),
            Some(34359738367.0 * 1024.0)
        );
        assert_eq!(value("node_memory_HugePages_Total"), Some(0.0));
        assert_eq!(
            value("node_memory_Hugepagesize_bytes"),
            Some(2048.0 * 1024.0)
        );
        assert_eq!(text.matches("# TYPE ").count(), 20, "{text}");
        assert!(text.contains("# TYPE node_memory_MemAvailable_bytes gauge\n"));
        assert!(text.contains(
            "# HELP node_memory_SwapFree_bytes Memory information field SwapFree_bytes.\n"
        ));
    }

    #[test]
    fn odd_lines_are_skipped_not_fatal() {
        let fields = parse(
            "MemTotal: 10 kB\nNoValue:\nJunk: x kB\nMiB: 3 MB\nA(b)c: 1 kB\nA b: 1\nText without colon\nLast: 4 kB extra\nOk: 7\n",
        );
        let keys: Vec<_> = fields.iter().map(|f| f.key).collect();
        assert_eq!(keys, ["MemTotal", "Ok"]);
        assert!(parse("").is_empty());
    }
}
