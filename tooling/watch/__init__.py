"""`inv up --watch`: the inner loop. A saved file reaches the services that use it in seconds.

changes.py  which files changed (a poll of modification times)
impact.py   what a change means: restart these services, rebuild images, or re-render the config
loop.py     the loop: check, apply, wait until healthy, print one line per reload (or the traceback)
docs/development.md says what happens underneath and why it is not compose's `develop.watch`.
"""
