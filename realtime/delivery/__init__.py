"""Delivery: what happens to a room event between Redis and this process's connections.

`pipeline.DeliveryPipeline` receives every pub/sub message (the manager's one override hands it
over) and runs it through its steps, in order: continuity (gap fill, epoch, catch-up), hold-back
for joins in progress (`joins`), namespace aliases, encode once and deliver (the fast path or
python-socketio's), metrics."""
