"""The load client's event loop (serving/client.py): a selector that waits to the microsecond, since
asyncio's epoll waits round up to whole milliseconds, and the thread the load runs on."""

import asyncio
import concurrent.futures
import select
import selectors
import threading
import time

FINAL_WAIT_S = 0.001  # a timer's last stretch is waited for on its own (_FineEpollSelector)


class _FineEpollSelector(getattr(selectors, "EpollSelector", selectors.DefaultSelector)):
    """epoll waits in whole milliseconds, rounded up, so asyncio's timers fire up to 1 ms late. select() on
    the epoll descriptor itself (readable while an event is pending) waits to the microsecond; epoll then
    collects the events without waiting. A wait longer than 2 × FINAL_WAIT_S ends FINAL_WAIT_S early and
    the loop waits again for the rest: a short wait ends closer to its time (the kernel lets a timer run
    late by 0.1 % of its length, and an idle virtual CPU sleeps deeper the longer it idles)."""

    def select(self, timeout=None):
        if timeout is not None and timeout > 0:
            wait = timeout - FINAL_WAIT_S if timeout > 2 * FINAL_WAIT_S else timeout
            try:
                select.select([self.fileno()], [], [], wait)
            except (ValueError, OSError):  # a descriptor past select()'s FD_SETSIZE: whole milliseconds then
                return super().select(timeout)
            timeout = 0
        return super().select(timeout)


def fine_selector() -> selectors.BaseSelector:
    # kqueue (macOS, BSD) already waits to the nanosecond; only epoll needs the detour.
    return _FineEpollSelector() if hasattr(selectors, "EpollSelector") else selectors.DefaultSelector()


class _LoadThread(threading.Thread):
    """Runs a load on an event loop of its own whose timers fire to the microsecond (fine_selector),
    so that a send is one wake-up of one thread whatever loop the caller runs; the caller only waits
    for `result`. cancel() stops the load from any thread."""

    def __init__(self, coroutine):
        super().__init__(name="lem-load", daemon=True)
        self.result: concurrent.futures.Future = concurrent.futures.Future()
        self._loop = asyncio.SelectorEventLoop(fine_selector())
        self._task = self._loop.create_task(coroutine)

    def run(self) -> None:
        loop = self._loop
        try:
            try:
                value = loop.run_until_complete(self._task)
            except BaseException as e:  # cancelled, or the load failed: the caller gets it
                self._settle(lambda: self.result.set_exception(e))
            else:
                self._settle(lambda: self.result.set_result(value))
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())  # getaddrinfo's thread
            loop.close()

    def _settle(self, settle) -> None:
        try:
            settle()
        except concurrent.futures.InvalidStateError:  # the caller cancelled its wait first
            pass

    def cancel(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._task.cancel)
        except RuntimeError:  # the loop is closed: the load is over
            pass
