//! `--max-load` and `--critical-load`: which server status variables limit a
//! run, and how far (docs/throttling.md).
//!
//! The syntax is `VAR=N[,VAR=N]` or `off`. Names are matched against
//! `SHOW GLOBAL STATUS` case-insensitively, as the server itself does; whether
//! the server has them is checked at preflight, when it can be asked.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The built-in `--max-load`: more statements than this running at once on a
/// server means it is already busy with its own work.
pub const DEFAULT_MAX_LOAD: &str = "Threads_running=25";

/// One `VAR=N`: the run reacts when the server's `VAR` is above `N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadLimit {
    /// The status variable, as the operator spelled it.
    pub variable: String,
    /// The largest value that is still fine.
    pub limit: u64,
}

/// A list of limits; empty means no limit (`off`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadLimits(Vec<LoadLimit>);

/// A `--max-load` / `--critical-load` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadSpecError {
    /// Not `VAR=N` (or `off`).
    #[error("'{0}' is not VAR=N: give a status variable and a whole number, e.g. Threads_running=25 (several: Threads_running=25,Threads_connected=300), or `off`")]
    Form(String),
    /// The name cannot be a status variable.
    #[error("'{0}' is not a status variable name: use a name SHOW GLOBAL STATUS lists (letters, digits and _), e.g. Threads_running")]
    Name(String),
    /// N is not a whole number.
    #[error("'{value}' (for {variable}) is not a number: give a whole number of 1 or more, e.g. {variable}=25")]
    Number {
        /// The variable.
        variable: String,
        /// What was given instead of a number.
        value: String,
    },
    /// A limit of 0. The run reacts while a value is *above* its limit, and
    /// its own statements count (the sampler's reading is one of
    /// `Threads_running`, its connections are in `Threads_connected`): 0
    /// would hold a run forever, or stop it at once.
    #[error("{0}=0 can never be met while wfuwp runs: its own statements count (Threads_running is at least 1 while the load is read), and the run waits (or stops) while a value is above the limit. Give 1 or more, e.g. {0}=25, or `off`")]
    Zero(String),
    /// The same variable twice (which limit would win is not obvious).
    #[error("{0} is given twice; give each variable once")]
    Duplicate(String),
}

impl LoadLimits {
    /// No limit at all.
    pub fn off() -> LoadLimits {
        LoadLimits(Vec::new())
    }

    /// [`DEFAULT_MAX_LOAD`].
    pub fn default_max() -> LoadLimits {
        LoadLimits(vec![LoadLimit {
            variable: "Threads_running".into(),
            limit: 25,
        }])
    }

    /// Whether there is no limit.
    pub fn is_off(&self) -> bool {
        self.0.is_empty()
    }

    /// The limits, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &LoadLimit> {
        self.0.iter()
    }

    /// The limits `readings` (of server `env`) are above, in the order given.
    /// A variable missing from `readings` is not exceeded: preflight made
    /// sure the server has it, so it can only be a reading that failed.
    pub fn exceeded(&self, env: &str, readings: &Readings) -> Vec<Excess> {
        self.0
            .iter()
            .filter_map(|l| {
                let (name, value) = readings.get(&l.variable)?;
                (value > l.limit as f64).then(|| Excess {
                    variable: name.to_string(),
                    value,
                    limit: l.limit,
                    env: env.to_string(),
                })
            })
            .collect()
    }
}

impl FromStr for LoadLimits {
    type Err = LoadSpecError;

    fn from_str(s: &str) -> Result<LoadLimits, LoadSpecError> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(LoadLimits::off());
        }
        let mut limits: Vec<LoadLimit> = Vec::new();
        for item in s.split(',').map(str::trim) {
            let (variable, value) = item
                .split_once('=')
                .map(|(v, n)| (v.trim(), n.trim()))
                .filter(|(v, n)| !v.is_empty() && !n.is_empty())
                .ok_or_else(|| LoadSpecError::Form(item.to_string()))?;
            if !variable
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(LoadSpecError::Name(variable.to_string()));
            }
            let limit = value.parse().map_err(|_| LoadSpecError::Number {
                variable: variable.to_string(),
                value: value.to_string(),
            })?;
            if limit == 0 {
                return Err(LoadSpecError::Zero(variable.to_string()));
            }
            if limits
                .iter()
                .any(|l| l.variable.eq_ignore_ascii_case(variable))
            {
                return Err(LoadSpecError::Duplicate(variable.to_string()));
            }
            limits.push(LoadLimit {
                variable: variable.to_string(),
                limit,
            });
        }
        Ok(LoadLimits(limits))
    }
}

impl fmt::Display for LoadLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("off");
        }
        let items: Vec<String> = self
            .0
            .iter()
            .map(|l| format!("{}={}", l.variable, l.limit))
            .collect();
        f.write_str(&items.join(","))
    }
}

/// One server's numeric status values, keyed by lower-case name (the server
/// compares status names case-insensitively, so the operator may too).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Readings(BTreeMap<String, (String, f64)>);

impl Readings {
    /// Keeps the `(name, value)` rows of `SHOW GLOBAL STATUS` that are numbers
    /// (others, like `Ssl_cipher`, can never be a load limit).
    pub fn from_rows(rows: impl IntoIterator<Item = (String, String)>) -> Readings {
        Readings(
            rows.into_iter()
                .filter_map(|(name, value)| {
                    let v: f64 = value.trim().parse().ok().filter(|v: &f64| v.is_finite())?;
                    Some((name.to_ascii_lowercase(), (name, v)))
                })
                .collect(),
        )
    }

    /// The server's spelling of `variable` and its value.
    pub fn get(&self, variable: &str) -> Option<(&str, f64)> {
        self.0
            .get(&variable.to_ascii_lowercase())
            .map(|(n, v)| (n.as_str(), *v))
    }
}

/// A limit a server is above: shown as `Threads_running=31 on prod`.
#[derive(Debug, Clone, PartialEq)]
pub struct Excess {
    /// The variable, as the server spells it.
    pub variable: String,
    /// Its value.
    pub value: f64,
    /// The limit it is above.
    pub limit: u64,
    /// The environment whose server it is.
    pub env: String,
}

impl fmt::Display for Excess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={} on {}",
            self.variable,
            number(self.value),
            self.env
        )
    }
}

/// A status value as the server shows it: whole numbers without a fraction.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<LoadLimits, LoadSpecError> {
        s.parse()
    }

    #[test]
    fn valid_forms_parse_and_print_back() {
        assert_eq!(
            parse("Threads_running=25").unwrap(),
            LoadLimits::default_max()
        );
        let two = parse(" threads_running = 10 ,Threads_connected=300").unwrap();
        assert_eq!(two.to_string(), "threads_running=10,Threads_connected=300");
        assert!(parse("off").unwrap().is_off());
        assert!(parse("OFF").unwrap().is_off());
        assert_eq!(LoadLimits::off().to_string(), "off");
        assert_eq!(parse(DEFAULT_MAX_LOAD).unwrap(), LoadLimits::default_max());
        assert_eq!(
            parse("Threads_running=1")
                .unwrap()
                .iter()
                .next()
                .unwrap()
                .limit,
            1
        );
    }

    #[test]
    fn bad_forms_say_what_is_wrong() {
        for s in [
            "",
            "Threads_running",
            "=5",
            "Threads_running=",
            "a=1,,b=2",
            "a=1,",
        ] {
            assert!(
                matches!(parse(s), Err(LoadSpecError::Form(_))),
                "{s:?}: {:?}",
                parse(s)
            );
        }
        assert_eq!(
            parse("Threads-running=5"),
            Err(LoadSpecError::Name("Threads-running".into()))
        );
        assert_eq!(
            parse("x'; DROP=5"),
            Err(LoadSpecError::Name("x'; DROP".into()))
        );
        for n in ["ten", "-1", "2.5", "1e3", "99999999999999999999999"] {
            let e = parse(&format!("Threads_running={n}")).unwrap_err();
            assert!(matches!(e, LoadSpecError::Number { .. }), "{n}: {e:?}");
            assert!(e.to_string().contains("not a number"), "{e}");
        }
        for s in [
            "Threads_running=0",
            "Threads_connected=100,Threads_running=00",
        ] {
            let e = parse(s).unwrap_err();
            assert!(matches!(e, LoadSpecError::Zero(_)), "{s}: {e:?}");
            assert!(e.to_string().contains("=0 can never be met"), "{e}");
        }
        assert_eq!(
            parse("Threads_running=5,THREADS_RUNNING=6"),
            Err(LoadSpecError::Duplicate("THREADS_RUNNING".into()))
        );
        assert!(LoadSpecError::Form("x".into())
            .to_string()
            .contains("e.g. Threads_running=25"));
    }

    #[test]
    fn readings_match_names_case_insensitively_and_only_above_the_limit() {
        let r = Readings::from_rows([
            ("Threads_running".to_string(), "31".to_string()),
            ("Threads_connected".to_string(), "25".to_string()),
            ("Ssl_cipher".to_string(), "TLS_AES".to_string()),
        ]);
        assert_eq!(r.get("THREADS_RUNNING"), Some(("Threads_running", 31.0)));
        assert_eq!(r.get("ssl_cipher"), None);
        let limits = parse("threads_running=25,threads_connected=25").unwrap();
        let over = limits.exceeded("prod", &r);
        assert_eq!(over.len(), 1, "{over:?}");
        assert_eq!(over[0].to_string(), "Threads_running=31 on prod");
        assert_eq!(over[0].limit, 25);
        assert!(parse("Threads_running=31")
            .unwrap()
            .exceeded("prod", &r)
            .is_empty());
        assert!(LoadLimits::off().exceeded("prod", &r).is_empty());
        assert_eq!(number(2.5), "2.5");
    }
}
