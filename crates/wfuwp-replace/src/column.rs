//! MySQL column types as the engine sees them: text it rewrites, or not.

/// CHAR, VARCHAR, TINYTEXT…LONGTEXT and JSON; not ENUM/SET, binary or numeric types.
pub fn is_textual(data_type: &str) -> bool {
    matches!(
        data_type.to_ascii_lowercase().as_str(),
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "json"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_types_are_textual_others_not() {
        assert!(is_textual("varchar") && is_textual("LONGTEXT") && is_textual("json"));
        assert!(
            !is_textual("enum")
                && !is_textual("set")
                && !is_textual("blob")
                && !is_textual("varbinary")
        );
    }
}
