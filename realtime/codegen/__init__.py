"""Generators over the event contract (realtime/contract/events.json), the one source of truth:

- `asyncapi.build()`: the AsyncAPI 3.0 document (committed as realtime/contract/asyncapi.json,
  served at `GET /api/realtime/asyncapi.json` with the host's extra events merged in);
- `typescript.render()`: socket.io-client event maps and payload types
  (static/js/realtime-events.d.ts, served with the pages' scripts);
- `pytypes.render()`: TypedDict payloads and typed helpers for realtime/client.py
  (realtime/contract_types.py).

`python docs/tools/render_contract.py` writes the three files (`--check`: exit 1 when one is out of
date; a test runs it). Each generator takes whatever the contract holds: a new event, field or
namespace needs no change here.
"""
