//! A minimal PHP `serialize()` writer, so generated options and meta look
//! exactly like what WordPress stores (string lengths are byte counts).

use std::fmt::Write;

/// A PHP value, as far as the generator needs one.
#[derive(Debug, Clone, PartialEq)]
pub enum Php {
    /// `N;`
    Null,
    /// `b:0;` / `b:1;`
    Bool(bool),
    /// `i:42;`
    Int(i64),
    /// `d:0.5;`
    Float(f64),
    /// `s:LEN:"…";` (LEN in bytes)
    Str(String),
    /// `a:N:{key;value;…}` with integer or string keys.
    Array(Vec<(Php, Php)>),
    /// `O:LEN:"Class":N:{name;value;…}`; property names are raw, i.e. a private
    /// property of class C is `"\0C\0name"` and a protected one `"\0*\0name"`.
    Object {
        /// Class name.
        class: String,
        /// Raw property names and values.
        props: Vec<(String, Php)>,
    },
    /// `C:LEN:"Class":N:{payload}`: an object of a class that writes its own
    /// payload (PHP's `Serializable`), here the serialized form of a value.
    Custom {
        /// Class name.
        class: String,
        /// The value the payload is the serialized form of.
        payload: Box<Php>,
    },
    /// `E:LEN:"Enum:Case";`: an enum case (PHP 8.1).
    Enum {
        /// Enum name.
        class: String,
        /// Case name.
        case: String,
    },
}

impl Php {
    /// A string value.
    pub fn s(v: impl Into<String>) -> Php {
        Php::Str(v.into())
    }

    /// A list (`a:` with keys 0, 1, 2, …).
    pub fn list(items: impl IntoIterator<Item = Php>) -> Php {
        Php::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Php::Int(i as i64), v))
                .collect(),
        )
    }

    /// An associative array with string keys.
    pub fn map<K: Into<String>>(items: impl IntoIterator<Item = (K, Php)>) -> Php {
        Php::Array(
            items
                .into_iter()
                .map(|(k, v)| (Php::Str(k.into()), v))
                .collect(),
        )
    }

    /// The `serialize()` form.
    pub fn serialize(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        // Writing to a String cannot fail; the results are ignored on purpose.
        match self {
            Php::Null => out.push_str("N;"),
            Php::Bool(b) => out.push_str(if *b { "b:1;" } else { "b:0;" }),
            Php::Int(i) => {
                let _ = write!(out, "i:{i};");
            }
            Php::Float(f) => {
                let _ = write!(out, "d:{f};");
            }
            Php::Str(s) => {
                let _ = write!(out, "s:{}:\"{s}\";", s.len());
            }
            Php::Array(items) => {
                let _ = write!(out, "a:{}:{{", items.len());
                for (k, v) in items {
                    k.write(out);
                    v.write(out);
                }
                out.push('}');
            }
            Php::Custom { class, payload } => {
                let body = payload.serialize();
                let _ = write!(
                    out,
                    "C:{}:\"{class}\":{}:{{{body}}}",
                    class.len(),
                    body.len()
                );
            }
            Php::Enum { class, case } => {
                let name = format!("{class}:{case}");
                let _ = write!(out, "E:{}:\"{name}\";", name.len());
            }
            Php::Object { class, props } => {
                let _ = write!(out, "O:{}:\"{class}\":{}:{{", class.len(), props.len());
                for (k, v) in props {
                    Php::Str(k.clone()).write(out);
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Raw name of a private property `name` of `class`.
pub fn private(class: &str, name: &str) -> String {
    format!("\0{class}\0{name}")
}

/// Raw name of a protected property `name`.
pub fn protected(name: &str) -> String {
    format!("\0*\0{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_bytes() {
        assert_eq!(Php::s("é").serialize(), "s:2:\"é\";");
        assert_eq!(
            Php::list([Php::Int(1), Php::Null]).serialize(),
            "a:2:{i:0;i:1;i:1;N;}"
        );
    }

    #[test]
    fn custom_payloads_and_enum_cases() {
        let c = Php::Custom {
            class: "K".into(),
            payload: Box::new(Php::list([Php::s("é")])),
        };
        assert_eq!(c.serialize(), "C:1:\"K\":19:{a:1:{i:0;s:2:\"é\";}}");
        let e = Php::Enum {
            class: "S".into(),
            case: "Live".into(),
        };
        assert_eq!(e.serialize(), "E:6:\"S:Live\";");
    }

    #[test]
    fn objects_with_private_and_protected_properties() {
        let o = Php::Object {
            class: "Foo".into(),
            props: vec![
                (private("Foo", "a"), Php::Bool(true)),
                (protected("b"), Php::Float(0.5)),
            ],
        };
        assert_eq!(
            o.serialize(),
            "O:3:\"Foo\":2:{s:6:\"\0Foo\0a\";b:1;s:4:\"\0*\0b\";d:0.5;}"
        );
    }
}
