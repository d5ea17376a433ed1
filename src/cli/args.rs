//! Every binary parses its flags the same way: the `.env` file first (`--env-file` or the
//! working directory's), empty environment variables treated as unset, and a bad value that came
//! from an environment variable blamed on that variable, not on a flag the user never passed.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, Command, Parser};

use super::dotenv::{self, DotEnv};
use super::note_startup;
use crate::error::Exit;

const ENV_FILE: &str = "env_file";

/// The matches [`parse`] made, for [`matches`].
static MATCHES: std::sync::OnceLock<clap::ArgMatches> = std::sync::OnceLock::new();

/// What [`parse`] matched (`None` before it ran): where a value came from
/// (`ArgMatches::value_source`: flag, environment, default; [`dotenv::set_by_file`] tells a
/// variable the `.env` file set from one the environment had).
pub fn matches() -> Option<&'static clap::ArgMatches> {
    MATCHES.get()
}

/// Parses the command line of a binary (after reading its `.env`); exits 2 on a usage error, 0
/// for `--help` / `--version`. Call it first thing in `main`, before any thread starts.
pub fn parse<P: Parser>() -> P {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let explicit = env_file_flag(&argv).or_else(|| non_empty_var("CITYFLOW_ENV_FILE"));
    let dotenv = dotenv::load(explicit.as_deref());
    if let (Some(path), Some(e)) = (&explicit, &dotenv.unreadable) {
        super::eprint_text(&format!("error: env file {}: {e}\n", path.display()));
        std::process::exit(Exit::Usage as i32);
    }
    tell(&dotenv);
    dotenv::remember(&dotenv);
    // clap copies each variable's value when the command is built: drop the empty ones first.
    drop_empty_vars(&P::command());
    let cmd = P::command().arg(env_file_arg()).args(generator_args());
    if let Some(code) = generate(&cmd, &argv) {
        std::process::exit(code);
    }
    let parsed = cmd.clone().try_get_matches_from(&argv).and_then(|m| {
        let parsed = P::from_arg_matches(&m);
        let _ = MATCHES.set(m);
        parsed
    });
    parsed.unwrap_or_else(|e| fail(e, &cmd, &argv, &dotenv))
}

fn env_file_arg() -> Arg {
    Arg::new(ENV_FILE)
        .long("env-file")
        .env("CITYFLOW_ENV_FILE")
        .value_name("FILE")
        .global(true)
        .help("Read variables from FILE instead of ./.env (parent folders are never read)")
}

/// `--completions SHELL` and `--man`: generated from the flags themselves, shown in `--help`.
fn generator_args() -> [Arg; 2] {
    [
        Arg::new("completions")
            .long("completions")
            .value_name("SHELL")
            .value_parser(clap::value_parser!(clap_complete::Shell))
            .help("Print shell completions (bash, zsh, fish, elvish, powershell) and exit"),
        Arg::new("man")
            .long("man")
            .action(clap::ArgAction::SetTrue)
            .help("Print the man page (roff) and exit"),
    ]
}

/// Prints completions or the man page when asked (first flag after the binary's name); the
/// exit code, or None to go on.
fn generate(cmd: &Command, argv: &[OsString]) -> Option<i32> {
    let words: Vec<String> = argv
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let mut out = Vec::new();
    match words.get(1).map(String::as_str) {
        Some("--man") => clap_mangen::Man::new(cmd.clone()).render(&mut out).ok()?,
        Some("--completions") => {
            let Some(shell) = words
                .get(2)
                .and_then(|s| s.parse::<clap_complete::Shell>().ok())
            else {
                super::eprint_text(
                    "error: --completions takes bash, zsh, fish, elvish or powershell\n",
                );
                return Some(Exit::Usage as i32);
            };
            let name = cmd.get_name().to_string();
            clap_complete::generate(shell, &mut cmd.clone(), name, &mut out);
        }
        _ => return None,
    }
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(&out);
    Some(0)
}

fn non_empty_var(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `--env-file FILE` or `--env-file=FILE`, read before clap so the file can set flag defaults.
fn env_file_flag(argv: &[OsString]) -> Option<PathBuf> {
    let mut words = argv.iter().skip(1).map(|w| w.to_string_lossy());
    while let Some(w) = words.next() {
        if w == "--" {
            return None;
        }
        if w == "--env-file" {
            return words.next().map(|v| PathBuf::from(v.as_ref()));
        }
        if let Some(v) = w.strip_prefix("--env-file=") {
            return Some(PathBuf::from(v));
        }
    }
    None
}

fn tell(dotenv: &DotEnv) {
    if let Some(path) = &dotenv.path {
        let names: Vec<&str> = dotenv.set.iter().map(|(n, _)| n.as_str()).collect();
        let message = format!("read {} (set {})", path.display(), names.join(", "));
        note_startup(tracing::Level::DEBUG, message);
    }
    for w in &dotenv.warnings {
        note_startup(tracing::Level::WARN, w.clone());
    }
}

/// `OUTPUT_DIR=` means "not set", for every variable a flag of `cmd` reads.
fn drop_empty_vars(cmd: &Command) {
    let mut names = Vec::new();
    env_names(cmd, &mut names);
    for name in names {
        if std::env::var_os(&name).is_some_and(|v| v.is_empty()) {
            std::env::remove_var(&name);
            note_startup(
                tracing::Level::DEBUG,
                format!("{} is empty: treated as unset", name.to_string_lossy()),
            );
        }
    }
}

fn env_names(cmd: &Command, out: &mut Vec<OsString>) {
    out.extend(
        cmd.get_arguments()
            .filter_map(|a| a.get_env().map(|e| e.to_os_string())),
    );
    for sub in cmd.get_subcommands() {
        env_names(sub, out);
    }
}

/// Prints the usage error (naming the environment variable when the bad value came from one)
/// and exits with clap's code (2, or 0 for `--help`).
fn fail(err: clap::Error, cmd: &Command, argv: &[OsString], dotenv: &DotEnv) -> ! {
    let Some(var) = blamed_var(&err, cmd, argv) else {
        err.exit()
    };
    let from = match dotenv.line_of(&var) {
        Some(line) => format!(
            ", set in {} line {line}",
            dotenv
                .path
                .as_ref()
                .map_or(".env".into(), |p| p.display().to_string())
        ),
        None => String::new(),
    };
    let message = err.to_string();
    let first = message.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    super::eprint_text(&format!(
        "error: environment variable {var}{from}: {first}\n"
    ));
    std::process::exit(Exit::Usage as i32)
}

/// The environment variable behind a rejected value, when the flag was not on the command line.
fn blamed_var(err: &clap::Error, cmd: &Command, argv: &[OsString]) -> Option<String> {
    if !matches!(
        err.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(shown)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = shown.split_whitespace().next()?.strip_prefix("--")?;
    let arg = find_arg(cmd, long)?;
    let var = arg.get_env()?.to_str()?.to_string();
    (!on_command_line(arg, argv) && std::env::var_os(&var).is_some()).then_some(var)
}

fn find_arg<'a>(cmd: &'a Command, long: &str) -> Option<&'a Arg> {
    cmd.get_arguments()
        .find(|a| a.get_long() == Some(long))
        .or_else(|| cmd.get_subcommands().find_map(|s| find_arg(s, long)))
}

fn on_command_line(arg: &Arg, argv: &[OsString]) -> bool {
    let long = arg.get_long().map(|l| format!("--{l}"));
    let short = arg.get_short().map(|s| format!("-{s}"));
    argv.iter().skip(1).map(|w| w.to_string_lossy()).any(|w| {
        long.as_ref()
            .is_some_and(|l| w == *l || w.starts_with(&format!("{l}=")))
            || short
                .as_ref()
                .is_some_and(|s| !w.starts_with("--") && w.starts_with(s.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<OsString> {
        w.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_env_file_flag_is_found_before_clap() {
        assert_eq!(
            env_file_flag(&words(&["p", "--env-file", "a"])),
            Some("a".into())
        );
        assert_eq!(
            env_file_flag(&words(&["p", "-q", "--env-file=b"])),
            Some("b".into())
        );
        assert_eq!(env_file_flag(&words(&["p", "--", "--env-file=b"])), None);
        assert_eq!(env_file_flag(&words(&["p"])), None);
    }

    #[test]
    fn flags_on_the_command_line_are_recognised() {
        let arg = Arg::new("jobs").long("jobs").short('j');
        assert!(on_command_line(&arg, &words(&["p", "--jobs", "x"])));
        assert!(on_command_line(&arg, &words(&["p", "--jobs=x"])));
        assert!(on_command_line(&arg, &words(&["p", "-j4"])));
        assert!(!on_command_line(&arg, &words(&["p", "--jobsx", "--json"])));
    }
}
