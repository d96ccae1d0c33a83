"""The realtime layer: the only package that talks Socket.IO. Domain apps call `realtime.emit`."""
