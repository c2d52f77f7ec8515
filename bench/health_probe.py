"""`GET /healthz` from another client address, over and over, while something else happens: how
fast the server still answers a bystander. Each probe opens a new connection (a crowd of held
connections shows up there first) and ends at `timeout`; a probe that fails or is not a 200
counts as `timeout` in the percentiles, since a bystander got nothing useful."""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.attack_clients import PROBE, RawRequest, exchange
from bench.loadgen import percentile

HEALTHZ = RawRequest("GET", "/healthz")


class HealthProbe:
    def __init__(self, host: str, port: int, timeout: float = 2.0, pause: float = 0.01) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.pause = pause
        self.times_ms: list[float] = []
        self.failed = 0
        self._request = HEALTHZ.encode(host, port)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._probe, name="healthz-probe", daemon=True)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(self.timeout + 5)

    def _probe(self) -> None:
        while not self._stop.is_set():
            answer = exchange(self.host, self.port, self._request, self.timeout, source=PROBE)
            if answer.status == 200:
                self.times_ms.append(answer.client_ms)
            else:
                self.failed += 1
                self.times_ms.append(self.timeout * 1000)
            self._stop.wait(self.pause)

    def figures(self) -> dict[str, Any]:
        return {"healthz_p50_ms": percentile(self.times_ms, 0.5), "healthz_p99_ms": percentile(self.times_ms, 0.99),
                "healthz_max_ms": round(max(self.times_ms), 2) if self.times_ms else None,
                "healthz_probes": len(self.times_ms), "healthz_failed": self.failed}


def quiet_figures(host: str, port: int, seconds: float, timeout: float = 2.0) -> dict[str, Any]:
    """The same probes for `seconds` with nothing else going on: the baseline beside an attack."""
    with HealthProbe(host, port, timeout) as probe:
        time.sleep(seconds)
    return probe.figures()
