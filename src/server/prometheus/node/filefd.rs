//! `/proc/sys/fs/file-nr`: file handles allocated and the system's maximum, as node_exporter's
//! `node_filefd_allocated` and `node_filefd_maximum` gauges.

use super::super::{family, gauge};
use super::integer;
use prometheus_client::encoding::DescriptorEncoder;

/// Allocated handles and the maximum; None unless the file is its three numbers. The middle one
/// (free handles) has read 0 since Linux 2.6 and node_exporter skips it.
pub(super) fn parse(text: &str) -> Option<(f64, f64)> {
    let mut words = text.split_ascii_whitespace();
    let allocated = integer(words.next()?)?;
    integer(words.next()?)?;
    let maximum = integer(words.next()?)?;
    words.next().is_none().then_some((allocated, maximum))
}

pub(super) fn encode(
    encoder: &mut DescriptorEncoder,
    counts: Option<(f64, f64)>,
) -> std::fmt::Result {
    let Some((allocated, maximum)) = counts else {
        return Ok(());
    };
    family(
        encoder,
        "node_filefd_allocated",
        "File descriptor statistics: allocated.",
        [(vec![], gauge(allocated))],
    )?;
    family(
        encoder,
        "node_filefd_maximum",
        "File descriptor statistics: maximum.",
        [(vec![], gauge(maximum))],
    )
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    #[test]
    fn allocated_and_maximum() {
        // This machine's file-nr: tab-separated.
        assert_eq!(parse("489\t0\t2466093\n"), Some((489.0, 2466093.0)));
        let text = render::text(|e| encode(e, parse("489\t0\t9223372036854775807\n")));
        assert_eq!(render::value(&text, "node_filefd_allocated"), Some(489.0));
        assert_eq!(
            render::value(&text, "node_filefd_maximum"),
            Some(9223372036854775807.0)
        );
        assert!(text.contains("# TYPE node_filefd_maximum gauge\n"));
    }

    #[test]
    fn anything_else_is_absent() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("1 0"), None);
        assert_eq!(parse("1 0 x"), None);
        assert_eq!(parse("1 0 2 3"), None);
        assert_eq!(render::text(|e| encode(e, None)), "");
    }
}
