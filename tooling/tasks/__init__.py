"""Thin invoke tasks: parse flags, load config, call tooling, turn errors into `invoke.Exit`."""
