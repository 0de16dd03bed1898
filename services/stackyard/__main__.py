"""`python -m stackyard <component>`: run one component of the stack."""

import sys

from stackyard import COMPONENTS


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMPONENTS:
        print(f"usage: python -m stackyard {{{'|'.join(COMPONENTS)}}}", file=sys.stderr)
        return 2
    from stackyard.common.server import serve

    return serve(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
