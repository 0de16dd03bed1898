"""Memory service: sessions and their messages in Postgres, recall by full-text search."""
