"""`python -m modelkit`: the same as the `modelkit` command."""

from modelkit.cli.main import main

main()
