"""Rate limits that count a try before it is checked, and give back the tries that turn out not to count.

Why: Flask-Limiter's ``deduct_when`` (only wrong access codes, only failed sign-ins count) *tests* the limit before
the view and *counts* the try after it. Every request that arrives while others are still being checked passes the
test, so a burst gets far more tries than the limit (measured: 60 wrong access codes at once, 15 checked against a
limit of 10; in tests/web/test_limit_races.py, 30 of 30). Here the test is the charge: one atomic increment before
the view, which lets in exactly the limit's number of requests however many arrive at once. After the response,
Flask-Limiter asks ``deduct_when`` as before: a try that counts keeps its charge, and one that does not (a right
access code, a successful sign-in, a request another limit refused) is given back when the request ends.

A charge is given back only to the window it was taken from. A counter's window is known by when it ends, read in
the same atomic step as the charge; a refund that finds the window over (or another in its place) does nothing. Else
a request that ends just after a window closes would free a try in the next one, and a guesser sending bursts at
each boundary would get twice the limit.

Stores: memory (one process; a lock makes charge and refund atomic) and Redis (two short Lua scripts), the ones
Speak Up configures. With any other store, or a strategy other than fixed-window, tries are charged the same way
(atomically, before the check) but never given back: right codes and good sign-ins count too, stricter, never looser.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import flask
from flask import g, has_request_context
from flask_limiter import Limiter
from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter
from limits.util import WindowStats

log = logging.getLogger(__name__)

_PENDING = "speakup_limit_charges"
# One for the process, not one per strategy object: two threads that each made the strategy (the first requests of
# a new app) must still take turns at the in-memory counters.
_MEMORY_LOCK = threading.Lock()

# KEYS[1] the counter, ARGV[1] its window in seconds, ARGV[2] the cost. As limits' own incr_expire.lua, plus when the
# window ends (Redis's clock, milliseconds), read in the same step.
_CHARGE_SCRIPT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local now = redis.call('TIME')
return {count, tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + redis.call('PTTL', KEYS[1])}
"""
# KEYS[1] the counter, ARGV[1] when the charged window ends, ARGV[2] the cost. Gives back only into that window.
_REFUND_SCRIPT = """
local left = redis.call('PTTL', KEYS[1])
if left <= 0 then return 0 end
local now = redis.call('TIME')
local ends = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + left
if math.abs(ends - tonumber(ARGV[1])) > 10 then return 0 end
local back = math.min(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[2]))
if back <= 0 then return 0 end
redis.call('DECRBY', KEYS[1], back)
return back
"""
# Two readings of one window's end differ by a millisecond or two (TIME and PTTL are read apart); the next window
# can only begin once this one has ended, so it ends a whole window (a second at the least) later.


@dataclass
class Charge:
    """One try taken from one limit's counter in this request."""

    item: RateLimitItem
    key: str
    cost: int
    allowed: bool
    window_ends: float | None  # None: this store cannot give it back


class ChargingStrategy(RateLimiter):
    """Flask-Limiter's strategy, with ``test`` (used for ``deduct_when`` limits) made a charge; see the module."""

    def __init__(self, inner: RateLimiter) -> None:
        super().__init__(inner.storage)
        self.inner = inner
        self._scripts: tuple[Any, Any] | None = None

    # --- What Flask-Limiter calls ---------------------------------------------------------------------------------

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        if not has_request_context():
            return self.inner.test(item, *identifiers, cost=cost)
        charge = self.charge(item, *identifiers, cost=cost)
        g.setdefault(_PENDING, []).append(charge)
        return charge.allowed

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        """A plain limit's try; or, after the response, ``deduct_when``'s "this one counts", which keeps the charge
        already taken for it instead of taking another."""
        key = item.key_for(*identifiers)
        pending: list[Charge] = g.get(_PENDING, []) if has_request_context() else []
        for charge in pending:
            if charge.key == key:
                pending.remove(charge)
                return charge.allowed
        return self.inner.hit(item, *identifiers, cost=cost)

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return self.inner.get_window_stats(item, *identifiers)

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        self.inner.clear(item, *identifiers)

    # --- Charging and giving back ---------------------------------------------------------------------------------

    def charge(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> Charge:
        key = item.key_for(*identifiers)
        storage = self.storage
        if not isinstance(self.inner, FixedWindowRateLimiter):
            return Charge(item, key, cost, self.inner.hit(item, *identifiers, cost=cost), None)
        if isinstance(storage, MemoryStorage):
            with _MEMORY_LOCK:
                count = storage.incr(key, item.get_expiry(), cost)
                ends: float | None = storage.get_expiry(key)
        elif isinstance(storage, RedisStorage):
            count, ends = self._redis(storage, 0, [storage.prefixed_key(key)], [item.get_expiry(), cost])
        else:
            count, ends = storage.incr(key, item.get_expiry(), cost), None
        return Charge(item, key, cost, count <= item.amount, ends)

    def refund(self, charge: Charge) -> None:
        """Gives ``charge`` back, if its window is still the current one."""
        storage = self.storage
        if charge.window_ends is None:
            return
        if isinstance(storage, MemoryStorage):
            with _MEMORY_LOCK:
                if storage.get(charge.key) > 0 and storage.get_expiry(charge.key) == charge.window_ends:
                    storage.decr(charge.key, min(charge.cost, storage.get(charge.key)))
        elif isinstance(storage, RedisStorage):
            self._redis(storage, 1, [storage.prefixed_key(charge.key)], [int(charge.window_ends), charge.cost])

    def refund_uncounted(self) -> None:
        """Gives back every charge of this request that ``deduct_when`` did not keep. A store that fails here
        keeps the charge: stricter for a minute, never looser."""
        pending: list[Charge] = g.pop(_PENDING, [])
        for charge in pending:
            try:
                self.refund(charge)
            except StorageError as error:
                cause = type(error.__cause__ or error).__name__  # the type only: the message names the store's address
                log.warning("rate-limit store unavailable giving back a try: %s", cause)

    def _redis(self, storage: RedisStorage, which: int, keys: list[str], args: list[int]) -> Any:
        try:
            if self._scripts is None:
                connection = storage.get_connection()
                self._scripts = (connection.register_script(_CHARGE_SCRIPT), connection.register_script(_REFUND_SCRIPT))  # type: ignore[arg-type]  # redis takes str (limits' protocol says bytes)
            return self._scripts[which](keys, args)
        except storage.base_exceptions as error:
            # As limits does for its own commands, so the fail-closed and fail-open answers see one kind of error.
            if storage.wrap_exceptions:
                raise StorageError(error) from error
            raise


class ChargingLimiter(Limiter):
    """Flask-Limiter with ChargingStrategy in place of its strategy, and the refunds made at the end of each request."""

    def init_app(self, app: flask.Flask) -> None:
        super().init_app(app)
        if self.enabled and self._refund_uncounted not in app.teardown_request_funcs.get(None, []):
            app.teardown_request(self._refund_uncounted)

    @property
    def limiter(self) -> RateLimiter:
        return self._charging()

    def _charging(self) -> ChargingStrategy:
        inner = super().limiter
        wrapped: ChargingStrategy | None = self.__dict__.get("_speakup_charging")
        if wrapped is None or wrapped.inner is not inner:  # a new app (each test makes one) brings a new store
            wrapped = ChargingStrategy(inner)
            self.__dict__["_speakup_charging"] = wrapped
        return wrapped

    def _refund_uncounted(self, _error: BaseException | None = None) -> None:
        if g.get(_PENDING):
            self._charging().refund_uncounted()
