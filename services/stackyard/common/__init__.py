"""Pieces every component shares: settings base, logging, HTTP app factory, Postgres and Redis access."""
