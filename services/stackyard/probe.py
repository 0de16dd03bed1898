"""Container healthcheck: `python -m stackyard.probe /readyz` exits 0 when the path answers 200.

Images carry no curl; this keeps the probe inside the runtime we already ship.
"""

import os
import sys
import urllib.request


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "/readyz"
    port = os.environ.get("STACKYARD_PORT", "8000")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return 0 if response.status == 200 else 1
    except Exception as error:  # any failure means "not healthy"; say why for `docker inspect`
        print(f"probe {path} failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
