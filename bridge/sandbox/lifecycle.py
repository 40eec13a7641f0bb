"""What every sandbox server shares: started and stopped by hand or as a context manager."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self


class ServerLifecycle:
    """Subclasses keep their server in `_server` and start it in `_start()`."""

    _server: Any = None

    def _start(self) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        if self._server is None:
            self._start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
