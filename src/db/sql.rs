//! SQL text: identifier quoting and the LOAD DATA field encoding.
//!
//! Values never reach SQL text except through [`push_load_data_field`], whose
//! output is data for `LOAD DATA` (not SQL), or bound parameters.

/// Quotes an identifier with backticks, doubling embedded backticks.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A comma-separated list of quoted identifiers.
pub fn ident_list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| ident(n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Appends one field in the format `LOAD DATA … FIELDS TERMINATED BY '\t'
/// ESCAPED BY '\\' LINES TERMINATED BY '\n'` reads: `\N` for NULL, and the
/// three bytes that would end a field or a line (or start an escape) escaped.
/// Every other byte passes through, so binary and non-UTF-8 data survive.
pub fn push_load_data_field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    let Some(bytes) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0 => b"\\0",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// The `LOAD DATA LOCAL INFILE` statement matching [`push_load_data_field`].
pub fn load_data_statement(table: &str, columns: &[String]) -> String {
    format!(
        "LOAD DATA LOCAL INFILE 'wfuwp-stream' INTO TABLE {} CHARACTER SET binary \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        ident(table),
        ident_list(columns)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("wp_options"), "`wp_options`");
        assert_eq!(ident("a`b"), "`a``b`");
    }

    #[test]
    fn load_data_fields_escape_only_what_they_must() {
        let mut out = Vec::new();
        push_load_data_field(&mut out, Some(b"a\tb\nc\\d\0e\xff"));
        out.push(b'\t');
        push_load_data_field(&mut out, None);
        assert_eq!(out, b"a\\tb\\nc\\\\d\\0e\xff\t\\N".to_vec());
    }
}
