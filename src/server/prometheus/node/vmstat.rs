//! `/proc/vmstat`: the fields node_exporter exports by default (its pattern
//! `^(oom_kill|pgpg|pswp|pg.*fault).*`: paging in and out, swapping, page faults, OOM kills) as
//! untyped `node_vmstat_<field>`, its names without `_total` though they count.

use super::super::family;
use super::{Untyped, integer, is_name_part};
use prometheus_client::encoding::DescriptorEncoder;

/// The default fields' names and values, in the file's order.
pub(super) fn parse(text: &str) -> Vec<(&str, f64)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_ascii_whitespace();
            let name = words.next()?;
            let value = integer(words.next()?)?;
            (words.next().is_none() && is_default_field(name) && is_name_part(name))
                .then_some((name, value))
        })
        .collect()
}

/// node_exporter's default `--collector.vmstat.fields`, matched by hand.
fn is_default_field(name: &str) -> bool {
    name.starts_with("oom_kill")
        || name.starts_with("pgpg")
        || name.starts_with("pswp")
        || name
            .strip_prefix("pg")
            .is_some_and(|rest| rest.contains("fault"))
}

pub(super) fn encode(encoder: &mut DescriptorEncoder, fields: &[(&str, f64)]) -> std::fmt::Result {
    let mut name = String::with_capacity(48);
    let mut help = String::with_capacity(64);
    for &(field, value) in fields {
        name.clear();
        name.push_str("node_vmstat_");
        name.push_str(field);
        help.clear();
        help.push_str("/proc/vmstat information field ");
        help.push_str(field);
        help.push('.');
        family(encoder, &name, &help, [(vec![], Untyped(value))])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    /// Lines of this machine's /proc/vmstat (kernel 6.18), with neighbours that are not exported.
    const VMSTAT: &str = "\
nr_free_pages 5389602
nr_zone_inactive_anon 180898
pgpgin 1389317
pgpgout 2804564
pswpin 0
pswpout 0
pgalloc_normal 12004871
pgfree 17415632
pgfault 22492845
pgmajfault 1059
pgrefill 0
thp_fault_alloc 4
oom_kill 0
numa_hit 12345
";

    #[test]
    fn the_default_fields_untyped_without_total() {
        let fields = parse(VMSTAT);
        let names: Vec<_> = fields.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "pgpgin",
                "pgpgout",
                "pswpin",
                "pswpout",
                "pgfault",
                "pgmajfault",
                "oom_kill"
            ]
        );
        let text = render::text(move |e| encode(e, &parse(VMSTAT)));
        assert_eq!(
            render::value(&text, "node_vmstat_pgfault"),
            Some(22492845.0)
        );
        assert_eq!(render::value(&text, "node_vmstat_pgpgout"), Some(2804564.0));
        assert!(
            text.contains("# TYPE node_vmstat_oom_kill untyped\n"),
            "{text}"
        );
        assert!(text.contains(
            "# HELP node_vmstat_pgmajfault /proc/vmstat information field pgmajfault.\n"
        ));
    }

    #[test]
    fn odd_lines_are_skipped() {
        assert!(parse("pgfault\npgfault x\npgfault 1 2\npg-fault 3\n").is_empty());
    }
}
