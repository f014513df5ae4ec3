"""The Argon2 floor: how much faster two bare Argon2id derivations at once run than one, on this machine, now.

Two sign-ins at once can scale no better than the derivation under them, and how well that scales moves with the
machine and its load (on two cores shared with the load generator: 1.89-2.13x measured). So the sign-in target is
judged against this floor, measured in the same run with the same parameters: two sign-ins at once must reach at
least SIGN_IN_OF_FLOOR (0.9) of the floor's ratio. Each side runs in its own processes, as gunicorn's workers do.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor

from speakup.crypto import password_keys

ROUNDS = 6  # derivations each process makes: a few seconds at the default 64 MiB and 3 iterations


def _derive(memory_kib: int, iterations: int, lanes: int, rounds: int) -> None:
    params = password_keys.PasswordParams(memory_kib, iterations, lanes)
    secret = password_keys.pepper_secret(b"bench pepper")
    for _ in range(rounds):
        password_keys.password_key("bench password", password_keys.new_salt(), params, secret)


def per_second(processes: int, memory_kib: int, iterations: int, lanes: int, rounds: int = ROUNDS) -> float:
    """Derivations a second with ``processes`` deriving at once."""
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_derive, *zip(*[(memory_kib, iterations, lanes, 1)] * processes, strict=True)))  # warm
        started = time.perf_counter()
        list(pool.map(_derive, *zip(*[(memory_kib, iterations, lanes, rounds)] * processes, strict=True)))
        took = time.perf_counter() - started
    return processes * rounds / took


def ratio(memory_kib: int, iterations: int, lanes: int, rounds: int = ROUNDS) -> float:
    """Two at once over one: the best two sign-ins at once could do, here and now."""
    return per_second(2, memory_kib, iterations, lanes, rounds) / per_second(1, memory_kib, iterations, lanes, rounds)


if __name__ == "__main__":
    print(f"Argon2 floor (64 MiB, 3 iterations): two at once = {ratio(65536, 3, 1):.2f}x one")
