"""One adapter per external tool; every subprocess goes through `run.run` (or python-on-whales)."""
