//! SQL text: identifier quoting, LIKE patterns, row filters and the LOAD DATA field encoding.
//!
//! Values reach SQL text only through [`RowFilter`] (numbers, or literals
//! escaped by [`wfuwp_replace::push_quoted_literal`]), [`push_load_data_field`],
//! whose output is data for `LOAD DATA` (not SQL), or bound parameters.

/// Quotes an identifier with backticks, doubling embedded backticks.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The escape character [`like_literal`] uses (`LIKE … ESCAPE '|'`).
pub const LIKE_ESCAPE: char = '|';

/// `text` as a LIKE pattern that matches it literally (its `%` and `_`
/// escaped with [`LIKE_ESCAPE`]); append `%` for a prefix match.
pub fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out
}

/// `patterns` as a SQL condition on `column` (case-sensitive: names are
/// exact, `*` any run of characters); `None` for no patterns.
pub fn glob_condition(column: &str, patterns: &[String]) -> Option<String> {
    if patterns.is_empty() {
        return None;
    }
    let one = |p: &String| {
        let like: Vec<String> = p.split('*').map(like_literal).collect();
        format!(
            "CAST({column} AS BINARY) LIKE CAST('{}' AS BINARY) ESCAPE '{LIKE_ESCAPE}'",
            like.join("%").replace('\'', "''").replace('\\', "\\\\")
        )
    };
    Some(format!(
        "({})",
        patterns.iter().map(one).collect::<Vec<_>>().join(" OR ")
    ))
}

/// A comma-separated list of quoted identifiers.
pub fn ident_list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| ident(n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One value a [`RowFilter`] matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterValue {
    /// An integer id.
    Id(u64),
    /// A string (a meta key, a login).
    Text(String),
}

/// The rows of a table that a copy or a delete touches: each condition is
/// "`column` holds one of these values", and a row must meet all of them.
/// Typed, so that no caller assembles SQL conditions by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowFilter {
    conditions: Vec<(String, Vec<FilterValue>)>,
}

impl RowFilter {
    /// Rows whose `column` is one of `ids`.
    pub fn ids(column: &str, ids: impl IntoIterator<Item = u64>) -> RowFilter {
        RowFilter::default().and_ids(column, ids)
    }

    /// Also requires `column` to be one of `ids`.
    pub fn and_ids(mut self, column: &str, ids: impl IntoIterator<Item = u64>) -> RowFilter {
        let values = ids.into_iter().map(FilterValue::Id).collect();
        self.conditions.push((column.to_string(), values));
        self
    }

    /// Also requires `column` to be one of `texts`.
    pub fn and_texts<S: Into<String>>(
        mut self,
        column: &str,
        texts: impl IntoIterator<Item = S>,
    ) -> RowFilter {
        let values = texts
            .into_iter()
            .map(|t| FilterValue::Text(t.into()))
            .collect();
        self.conditions.push((column.to_string(), values));
        self
    }

    /// The condition as SQL (for `WHERE`); an empty value list matches nothing.
    pub fn sql(&self) -> String {
        if self.conditions.is_empty() {
            return "TRUE".into();
        }
        let parts: Vec<String> = self
            .conditions
            .iter()
            .map(|(column, values)| {
                if values.is_empty() {
                    return "FALSE".to_string();
                }
                let mut list = Vec::new();
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        list.push(b',');
                    }
                    match v {
                        FilterValue::Id(n) => list.extend_from_slice(n.to_string().as_bytes()),
                        FilterValue::Text(t) => {
                            wfuwp_replace::push_quoted_literal(&mut list, t.as_bytes())
                        }
                    }
                }
                // Escaping keeps valid UTF-8 valid (it only inserts ASCII).
                format!("{} IN ({})", ident(column), String::from_utf8_lossy(&list))
            })
            .collect();
        parts.join(" AND ")
    }
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
    fn like_patterns_match_text_literally() {
        assert_eq!(like_literal("_wfb_abc_"), "|_wfb|_abc|_");
        assert_eq!(like_literal("a%b|c"), "a|%b||c");
        assert_eq!(like_literal("plain"), "plain");
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("wp_options"), "`wp_options`");
        assert_eq!(ident("a`b"), "`a``b`");
    }

    #[test]
    fn row_filters_render_typed_conditions() {
        let f = RowFilter::ids("user_id", [3, 1]).and_texts("meta_key", ["wp_2_x", "it's"]);
        assert_eq!(
            f.sql(),
            "`user_id` IN (3,1) AND `meta_key` IN ('wp_2_x','it\\'s')"
        );
        assert_eq!(RowFilter::ids("blog_id", []).sql(), "FALSE");
        assert_eq!(RowFilter::default().sql(), "TRUE");
    }

    #[test]
    fn load_data_fields_escape_only_what_they_must() {
        let mut out = Vec::new();
        push_load_data_field(&mut out, Some(b"a\tb\nc\\d\0e\xff"));
        out.push(b'\t');
        push_load_data_field(&mut out, None);
        assert_eq!(out, b"a\\tb\\nc\\\\d\\0e\xff\t\\N".to_vec());
    }

    #[test]
    fn globs_become_binary_likes_with_their_specials_escaped() {
        let c = glob_condition("t.n", &["mail_*".into(), "a%b".into()]).unwrap();
        assert_eq!(
            c,
            "(CAST(t.n AS BINARY) LIKE CAST('mail|_%' AS BINARY) ESCAPE '|' OR \
             CAST(t.n AS BINARY) LIKE CAST('a|%b' AS BINARY) ESCAPE '|')"
        );
        assert_eq!(glob_condition("n", &[]), None);
    }
}
