//! The command line of the benchmarks: `--name value` or `--name=value` pairs.

/// Every option with its value, in order; `-h` or `--help` prints `usage` and exits.
pub fn options(usage: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut raw = std::env::args().skip(1);
    while let Some(arg) = raw.next() {
        if arg == "-h" || arg == "--help" {
            println!("{usage}");
            std::process::exit(0);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let value = inline
            .or_else(|| raw.next())
            .ok_or(format!("{name} needs a value"))?;
        pairs.push((name, value));
    }
    Ok(pairs)
}
