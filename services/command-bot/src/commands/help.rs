//! `/help`, and the hint for anything the bot does not understand.

use teloxide::utils::html::escape;

/// The command list.
pub fn text() -> String {
    [
        "<b>Herald</b> sends you trading signals as they are generated.",
        "",
        "/start — register and see how Herald works",
        "/subscribe — receive trading signals",
        "/unsubscribe — stop receiving trading signals",
        "/help — this list",
    ]
    .join("\n")
}

/// The answer to text that is not a command the bot knows.
pub fn unknown(text: &str) -> String {
    let first = text.split_whitespace().next().unwrap_or("");
    if first.starts_with('/') {
        format!(
            "I don't know the command {}. /help lists what I can do.",
            escape(first)
        )
    } else {
        "I answer commands only. /help lists what I can do.".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_commands_are_named_and_escaped() {
        assert_eq!(
            unknown("/frobnicate now"),
            "I don't know the command /frobnicate. /help lists what I can do."
        );
        assert!(unknown("/<b>").contains("/&lt;b&gt;"));
        assert!(unknown("hello").starts_with("I answer commands only."));
    }

    #[test]
    fn help_lists_every_registered_command() {
        use crate::Command;
        use teloxide::utils::command::BotCommands;
        let help = text();
        for c in Command::bot_commands() {
            let name = c.command.trim_start_matches('/');
            assert!(help.contains(&format!("/{name} ")), "{name}");
        }
    }
}
