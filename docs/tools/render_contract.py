"""Generate what is derived from the event contract (realtime/contract/events.json):

    realtime/contract/asyncapi.json     the AsyncAPI 3.0 document (also GET /api/realtime/asyncapi.json)
    static/js/realtime-events.d.ts      TypeScript event maps and payloads for socket.io-client
    realtime/contract_types.py          TypedDict payloads for the Python client (realtime/client.py)

    python docs/tools/render_contract.py            # writes them
    python docs/tools/render_contract.py --check    # exit 1 if one is out of date

The contract file is the truth; a test fails when a generated file disagrees with it
(realtime/tests/test_contract_generated.py)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from realtime.codegen import asyncapi, pytypes, typescript  # noqa: E402

CONTRACT = ROOT / "realtime" / "contract" / "events.json"


def asyncapi_text(contract: dict[str, Any]) -> str:
    return json.dumps(asyncapi.build(contract), indent=1, ensure_ascii=False) + "\n"


OUTPUTS: dict[Path, Callable[[dict[str, Any]], str]] = {
    ROOT / "realtime" / "contract" / "asyncapi.json": asyncapi_text,
    ROOT / "static" / "js" / "realtime-events.d.ts": typescript.render,
    ROOT / "realtime" / "contract_types.py": pytypes.render,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    contract = json.loads(CONTRACT.read_text())
    stale = []
    for path, render in OUTPUTS.items():
        text = render(contract)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"out of date: {', '.join(stale)}: run python docs/tools/render_contract.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
