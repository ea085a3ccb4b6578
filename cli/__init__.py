"""The `atp` command: one console script; each part registers its subcommands here."""
