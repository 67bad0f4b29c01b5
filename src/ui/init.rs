//! The questions `wfuwp config init` asks on a terminal (dialoguer, on stderr).
//!
//! Values given as flags are never asked again. With no `--env` flags every
//! question is asked; with some, only what those environments still lack
//! (host or socket, user, database, token values), so a half-written command
//! line is completed rather than started over. Passwords are never asked
//! for: the file only names the variable that holds each one.

use std::str::FromStr;

use anyhow::{Context as _, Result};
use dialoguer::console::Term;
use dialoguer::{Input, MultiSelect, Select};

use wfuwp_engine::config::draft::{
    self, EnvDraft, NewEnvironment, STANDARD_ENVIRONMENTS, STANDARD_TOKENS,
};

const PROMPT_FAILED: &str =
    "the prompt failed; give the environments as flags instead (see `wfuwp config init --help`)";

/// Environments pre-selected in the list: the pair most people migrate between.
const PRESELECTED: [&str; 2] = ["prod", "uat"];

/// Asks for whatever `seeds` (from the flags) leave open; returns the complete environments.
pub fn ask(seeds: Vec<EnvDraft>) -> Result<Vec<NewEnvironment>> {
    let term = Term::stderr();
    let everything = seeds.is_empty();
    let (mut drafts, keys) = if everything {
        let names = ask_environments(&term)?;
        let keys = ask_token_keys(&term)?;
        (names.into_iter().map(EnvDraft::named).collect(), keys)
    } else {
        // Before any question: answers for a command line that fails anyway are wasted.
        draft::check_unique(&seeds)?;
        let keys = draft::token_keys(&seeds);
        (seeds, keys)
    };
    let mut previous_user: Option<String> = None;
    for d in drafts.iter_mut() {
        if !everything && d.finish(&keys, &[]).is_ok() {
            previous_user = d.user.clone();
            continue;
        }
        term.write_line(&format!("\n[environments.{}]", d.name))
            .context(PROMPT_FAILED)?;
        complete(&term, d, &keys, everything, previous_user.as_deref())?;
        previous_user = d.user.clone();
    }
    Ok(draft::finish_all(&drafts)?)
}

/// Asks for one value. `default` is offered in brackets; `check` runs on the answer.
fn input<T>(
    term: &Term,
    prompt: &str,
    default: Option<T>,
    check: fn(&T) -> Result<(), String>,
) -> Result<T>
where
    T: Clone + ToString + FromStr,
    <T as FromStr>::Err: ToString,
{
    let mut q = Input::<T>::new().with_prompt(prompt).validate_with(check);
    if let Some(d) = default {
        q = q.default(d);
    }
    q.interact_text_on(term).context(PROMPT_FAILED)
}

/// For text answers that must not be empty (a closure: `input` takes `&T`, here `&String`).
const NOT_BLANK: fn(&String) -> Result<(), String> = |s| draft::check_not_blank("the answer", s);

fn ask_environments(term: &Term) -> Result<Vec<String>> {
    loop {
        let checked: Vec<bool> = STANDARD_ENVIRONMENTS
            .iter()
            .map(|n| PRESELECTED.contains(n))
            .collect();
        let picked = MultiSelect::new()
            .with_prompt("Environments to configure (space toggles, enter accepts)")
            .items(STANDARD_ENVIRONMENTS)
            .defaults(&checked)
            .interact_on(term)
            .context(PROMPT_FAILED)?;
        let mut names: Vec<String> = picked
            .into_iter()
            .map(|i| STANDARD_ENVIRONMENTS[i].to_string())
            .collect();
        let others: String = Input::new()
            .with_prompt("Other environment names (comma-separated; enter for none)")
            .allow_empty(true)
            .validate_with(|s: &String| split_list(s).try_for_each(draft::check_env_name))
            .interact_text_on(term)
            .context(PROMPT_FAILED)?;
        for name in split_list(&others) {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        if !names.is_empty() {
            return Ok(names);
        }
        term.write_line("Pick at least one environment (space checks the one under the cursor).")
            .context(PROMPT_FAILED)?;
    }
}

fn ask_token_keys(term: &Term) -> Result<Vec<String>> {
    term.write_line(
        "Replacement tokens name the values that differ between environments (domains, CDN host, bucket);\n\
         a migration replaces the source's value of each key with the target's.",
    )
    .context(PROMPT_FAILED)?;
    let answer: String = Input::new()
        .with_prompt("Token keys, the same in every environment (comma-separated; 'none' for none)")
        .default(STANDARD_TOKENS.join(","))
        .validate_with(|s: &String| {
            if s.trim() == "none" {
                return Ok(());
            }
            split_list(s).try_for_each(draft::check_token_key)
        })
        .interact_text_on(term)
        .context(PROMPT_FAILED)?;
    if answer.trim() == "none" {
        return Ok(Vec::new());
    }
    let mut keys: Vec<String> = Vec::new();
    for k in split_list(&answer) {
        if !keys.iter().any(|x| x == k) {
            keys.push(k.to_string());
        }
    }
    Ok(keys)
}

/// The non-empty items of a comma-separated answer, trimmed.
fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty())
}

/// Fills the open fields of `d`. `everything`: also ask the optional ones
/// (port, password variable, prefix) instead of taking their defaults.
fn complete(
    term: &Term,
    d: &mut EnvDraft,
    keys: &[String],
    everything: bool,
    previous_user: Option<&str>,
) -> Result<()> {
    let name = d.name.clone();
    if d.host.is_none() && d.socket.is_none() {
        let socket_first = name == "local";
        let how = Select::new()
            .with_prompt(format!("{name}: connect through"))
            .items([
                "TCP (host and port)",
                "Unix socket (a server on this machine)",
            ])
            .default(usize::from(socket_first))
            .interact_on(term)
            .context(PROMPT_FAILED)?;
        if how == 0 {
            d.host = Some(input(
                term,
                &format!("{name}: database host"),
                None,
                NOT_BLANK,
            )?);
            d.port = Some(input(term, &format!("{name}: port"), Some(3306u16), |p| {
                if *p == 0 {
                    Err("the port must be between 1 and 65535".into())
                } else {
                    Ok(())
                }
            })?);
        } else {
            d.socket = Some(input(
                term,
                &format!("{name}: socket path"),
                Some("/run/mysqld/mysqld.sock".to_string()),
                NOT_BLANK,
            )?);
        }
    }
    if d.user.is_none() {
        d.user = Some(input(
            term,
            &format!("{name}: database user"),
            previous_user.map(str::to_string),
            NOT_BLANK,
        )?);
    }
    if d.database.is_none() {
        d.database = Some(input(
            term,
            &format!("{name}: database name"),
            Some(draft::default_database(&name)),
            NOT_BLANK,
        )?);
    }
    if d.password_env.is_none() && everything {
        d.password_env = Some(input(
            term,
            &format!("{name}: variable holding the password (its name, not the password)"),
            Some(draft::default_password_var(&name)),
            |s| draft::check_var_name(s),
        )?);
    }
    if d.table_prefix.is_none() && everything {
        d.table_prefix = Some(input(
            term,
            &format!("{name}: table prefix"),
            Some("wp_".to_string()),
            |s| draft::check_prefix(s),
        )?);
    }
    for key in keys {
        if d.token(key).is_none() {
            let value = input(
                term,
                &format!("{name}: value of token '{key}'"),
                None,
                NOT_BLANK,
            )?;
            d.tokens.push((key.clone(), value));
        }
    }
    Ok(())
}
