"""The tests' one stand-in for an AWS client: the real client (moto's, in the unit tests) with a
hook on the first call of named operations, to make something happen at an exact moment (a
DELETE landing while renditions are written, S3 going away, a newer object arriving).

    racing = Hooked(clients.s3, before={"put_object": delete_the_image})
    process_event(event, settings, dataclasses.replace(clients, s3=racing))

`before`: the hook runs just before the operation's first call; if it raises, that call is
not made and the caller gets the exception. `after`: just after the first call, whose answer
is returned once the hook is done. Each hook runs once (marked fired before it runs, so a hook
that raises is not run again: the retry passes); every other call and every other operation
go straight to the client. Thread-safe: the processor puts renditions from several threads, and
each call of a hooked operation waits while its hook runs, so none gets ahead of the hook.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Hooked:
    def __init__(
        self,
        client,
        before: dict[str, Callable[[], object]] | None = None,
        after: dict[str, Callable[[], object]] | None = None,
    ):
        self._client = client
        self._before, self._after = dict(before or {}), dict(after or {})
        self._locks = {name: threading.Lock() for name in self._before | self._after}
        self.fired: set[str] = set()  # the operations whose hook has run (or is running)

    def _once(self, operation: str, hook: Callable[[], object]) -> None:
        with self._locks[operation]:
            if operation not in self.fired:
                self.fired.add(operation)
                hook()

    def __getattr__(self, name: str):
        call = getattr(self._client, name)
        if name not in self._locks:
            return call

        def hooked(*args, **kwargs):
            if name in self._before:
                self._once(name, self._before[name])
            answer = call(*args, **kwargs)
            if name in self._after:
                self._once(name, self._after[name])
            return answer

        return hooked


def s3_goes_away():
    """A hook: the call fails as a throttled, broken or unreachable S3 would."""
    raise ConnectionError("injected: S3 went away")
