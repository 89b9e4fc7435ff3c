"""flynn_async: an asyncio client for the Flynn GST API (being assembled)."""
