//! A target environment's rules for the hosts of sites that the replacement
//! pairs leave alone (docs/hosts.md): `domain_template` and `domains`.

use super::Environment;

/// The placeholders a `domain_template` may use.
const PLACEHOLDERS: &[&str] = &["{slug}", "{blog_id}"];

/// Checks `domain_template` and `domains` of `env`; the error says what to fix.
pub fn validate(env: &Environment) -> Result<(), String> {
    if let Some(t) = &env.domain_template {
        let rest = PLACEHOLDERS.iter().fold(t.clone(), |s, p| s.replace(p, ""));
        if t.is_empty() || rest.contains(['{', '}']) || !plausible_host(&rest.replace("..", ".")) {
            return Err(format!(
                "domain_template = \"{t}\" is not a host template: use letters, digits, dots and hyphens with \
                 {{slug}} (the first label of the source host) and {{blog_id}}, e.g. \"{{slug}}.uat.wfu.edu\""
            ));
        }
        if !PLACEHOLDERS.iter().any(|p| t.contains(p)) {
            return Err(format!(
                "domain_template = \"{t}\" has neither {{slug}} nor {{blog_id}}: every site would get the same host. \
                 Add one of them, e.g. \"{{slug}}.uat.wfu.edu\""
            ));
        }
    }
    for (from, to) in &env.domains {
        if !plausible_host(from) || !plausible_host(to) {
            return Err(format!(
                "[domains] \"{from}\" = \"{to}\": both sides must be host names (no scheme, path or port), \
                 e.g. \"www.wakeforestmagazine.com\" = \"magazine.uat.wfu.edu\""
            ));
        }
    }
    Ok(())
}

/// The host `template` gives the site `blog_id` whose source host is
/// `host`, or `None` when the host has no slug of its own: a first label
/// `www` would give every `www.*` vanity domain the same host, so such a host
/// must be listed in `domains`.
pub fn render(template: &str, host: &str, blog_id: u64) -> Option<String> {
    let slug = host.split('.').next().filter(|s| !s.is_empty())?;
    if slug.eq_ignore_ascii_case("www") {
        return None;
    }
    Some(
        template
            .replace("{slug}", &slug.to_ascii_lowercase())
            .replace("{blog_id}", &blog_id.to_string()),
    )
}

fn plausible_host(h: &str) -> bool {
    !h.is_empty()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_the_first_label_and_the_id() {
        assert_eq!(
            render("{slug}.uat.wfu.edu", "giving.wfualumni.org", 7).as_deref(),
            Some("giving.uat.wfu.edu")
        );
        assert_eq!(
            render("s{blog_id}.uat.wfu.edu", "x.org", 12).as_deref(),
            Some("s12.uat.wfu.edu")
        );
        assert_eq!(render("{slug}.uat.wfu.edu", "www.deaconsclub.com", 3), None);
    }
}
