"""Does a failed login's answer time tell an unknown user from a wrong password? (default cost)

Logs in N times each as an unknown user, a known user with a wrong password and the right
password, at the configured scrypt cost, and prints the mean and spread of each.

    python bench/login_timing.py [--rounds 30] [--cost 32768]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

from core.auth.users import create_user
from core.testing import gateway_client, make_settings

PASSWORD = "plum-Orchard-42-kettle"


async def main(rounds: int, cost: int) -> None:
    auth = {"password_scrypt_n": cost, "login_rate_per_minute": 1_000_000, "lockout_attempts": 1_000_000}
    async with gateway_client(make_settings(tempfile.mkdtemp(), auth=auth)) as client:
        await create_user(client.gateway, "known", PASSWORD, "viewer")
        cases = {"unknown user": ("nobody", PASSWORD), "wrong password": ("known", "not-" + PASSWORD)}
        cases["right password"] = ("known", PASSWORD)
        await client.post("/api/auth/token", json={"username": "nobody", "password": "x"})  # makes the dummy hash
        times: dict[str, list[float]] = {label: [] for label in cases}
        for _ in range(rounds):  # interleaved, so drift affects every case alike
            for label, (username, password) in cases.items():
                started = time.perf_counter()
                await client.post("/api/auth/token", json={"username": username, "password": password})
                times[label].append((time.perf_counter() - started) * 1000)
        print(f"scrypt n={cost}, {rounds} logins each\n")
        for label, values in times.items():
            print(f"{label:<16} mean {statistics.mean(values):7.1f} ms   stdev {statistics.stdev(values):5.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--cost", type=int, default=2**15)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.cost))
