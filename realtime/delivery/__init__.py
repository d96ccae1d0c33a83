"""Getting room events from Redis to the server processes that have members in the room."""
