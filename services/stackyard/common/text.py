"""Text that Postgres can store: valid UTF-8 (no lone surrogates) and no NUL characters.

JSON allows both ("\\u0000", "\\ud800"), Postgres `text` allows neither; refusing them at the
edge turns what would be a 500 into a 422 that says why.
"""


def storable_problem(value: str) -> str | None:
    if "\x00" in value:
        return "must not contain NUL (\\u0000) characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (no lone surrogates)"
    return None


def require_storable(value: str) -> str:
    """For pydantic AfterValidator: raise ValueError with the problem."""
    problem = storable_problem(value)
    if problem:
        raise ValueError(problem)
    return value
