"""The served access log's handler: JSON lines to stdout in batches."""

import logging
from typing import TextIO

ACCESS_LOG_BATCH_LINES = 256  # access lines written to stdout at once


class LineBatchHandler(logging.Handler):
    """Keeps each record's message (the line, unformatted) and writes ACCESS_LOG_BATCH_LINES
    of them, or what the app's one-second flush finds (api/app.py), in one write: a write
    per request cost a third of a cached read, and MemoryHandler's target still formats,
    writes and flushes each record on its own."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if len(self.lines) >= ACCESS_LOG_BATCH_LINES:
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # an RLock: emit calls this holding it
            lines, self.lines = self.lines, []
            if lines:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()

    def close(self) -> None:
        self.flush()
        super().close()
