//! Lists of codes from files: a CSV with a `url` column (the sheet and
//! export CSVs), or one code per line (pasted, or from a scanner).

/// A code list file larger than this is refused before it is read: a
/// million stamp URLs are under 250 MB, a market's inspection far less.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// The codes in `text`, each with where it came from (`name:line`); blank
/// lines skipped. A first line with a `url` column makes it a CSV.
pub fn parse(name: &str, text: &str) -> Vec<(String, String)> {
    let mut lines = text.lines();
    let Some(first) = lines.next() else {
        return Vec::new();
    };
    let url_column = first.split(',').map(str::trim).position(|h| h == "url");
    let mut out = Vec::new();
    let mut push = |n: usize, line: &str| {
        let text = match url_column {
            Some(col) => line.split(',').nth(col).unwrap_or(""),
            None => line,
        };
        if !text.trim().is_empty() {
            out.push((format!("{name}:{n}"), text.to_string()));
        }
    };
    if url_column.is_none() {
        push(1, first);
    }
    for (i, line) in lines.enumerate() {
        push(i + 2, line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_files_give_their_url_column_and_plain_files_every_line() {
        let csv = "batch_id,seq,url\n1,1,https://t/1\n1,2,\n1,3,https://t/3\n";
        assert_eq!(
            parse("f.csv", csv),
            [
                ("f.csv:2".into(), "https://t/1".into()),
                ("f.csv:4".into(), "https://t/3".into())
            ]
        );
        assert_eq!(
            parse("codes", "123\n\n  \n456"),
            [
                ("codes:1".into(), "123".into()),
                ("codes:4".into(), "456".into())
            ]
        );
        assert!(parse("empty", "").is_empty());
    }
}
