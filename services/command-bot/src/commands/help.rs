//! `/help` and `/help <command>`, and the pointer for anything the bot does not understand.
//! The list comes from [`COMMANDS`], as does the menu registered with `setMyCommands`.

use herald_domain::Language;
use teloxide::utils::html::escape;

use super::{COMMANDS, Command, Reply};
use crate::words::{t, tf};

/// `/help` (every command) or `/help <command>` (that one, with an example).
pub fn run(lang: Language, args: &str) -> Reply {
    let topic = args
        .split_whitespace()
        .next()
        .map(|w| w.trim_start_matches('/'));
    let Some(topic) = topic else {
        return Reply::text(list(lang));
    };
    let name = topic.split('@').next().unwrap_or(topic);
    Reply::text(match Command::named(name) {
        Some(command) => {
            let spec = command.spec();
            tf(
                lang,
                "help-topic",
                &[
                    ("usage", spec.usage.into()),
                    ("help", command.explanation(lang).into()),
                    ("example", spec.example.into()),
                ],
            )
        }
        None => tf(lang, "help-no-topic", &[("name", escape(topic).into())]),
    })
}

/// Every command with its usage and description.
fn list(lang: Language) -> String {
    let mut lines = vec![t(lang, "help-intro"), String::new()];
    for spec in COMMANDS {
        lines.push(tf(
            lang,
            "help-line",
            &[
                ("usage", spec.usage.into()),
                ("description", spec.command.description(lang).into()),
            ],
        ));
    }
    lines.push(String::new());
    lines.push(t(lang, "help-more"));
    lines.join("\n")
}

/// The answer to a command the bot does not know, or to text that is not a command.
pub fn unknown(lang: Language, text: &str) -> String {
    let first = text.split_whitespace().next().unwrap_or("");
    if first.starts_with('/') {
        tf(
            lang,
            "unknown-command",
            &[("command", escape(first).into())],
        )
    } else {
        t(lang, "unknown-text")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_commands_are_named_and_escaped() {
        assert_eq!(
            unknown(Language::En, "/frobnicate now"),
            "I don't know the command /frobnicate. /help lists what I can do."
        );
        assert!(unknown(Language::En, "/<b>").contains("/&lt;b&gt;"));
        assert!(unknown(Language::En, "hello").starts_with("I answer commands only."));
    }

    #[test]
    fn help_lists_every_command_with_its_usage() {
        for lang in Language::ALL {
            let help = run(lang, "").text;
            for spec in COMMANDS {
                assert!(help.contains(spec.usage), "{lang}: {}", spec.name);
                assert!(help.contains(&spec.command.description(lang)));
            }
        }
    }

    #[test]
    fn help_explains_one_command_or_says_there_is_none() {
        let filter = run(Language::En, "filter").text;
        assert!(filter.contains("/filter [key:value …] | reset"));
        assert!(filter.contains("Example:"));
        assert_eq!(run(Language::En, "/filter").text, filter);
        let none = run(Language::En, "<nope>").text;
        assert!(none.contains("&lt;nope&gt;"), "{none}");
    }
}
