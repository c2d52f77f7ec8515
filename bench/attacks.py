"""The attacks of the `abuse` scenario (issue 12), each bounded in count and seconds, and how
an answer is judged: refused, stored, executed, an unclear error, a server error or nothing.

A `Flood` is one request sent back to back by one or more clients from 127.0.0.2; a `SlowCrowd`
is many connections whose headers never end. `AbusePlan` holds their sizes (full and quick) and
the windows the scenario measures them in.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench import attack_bodies as bodies
from bench.attack_clients import Exchange, RawRequest, SlowHeaders, exchange, post
from bench.processes import HOST


def human_bytes(size: float) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} KB"


@dataclass(frozen=True)
class AbusePlan:
    typename_fields: int = 450_000
    images_aliases: int = 1_000
    images_first: int = 100
    concurrent_query_bytes: int = 1_600_000
    mapped_fields: int = 500
    one_variable_fields: int = 2_000
    slow_connections: int = 2_200
    slow_hold_seconds: float = 10.0
    jpeg_markers: int = 2_600_000
    png_chunks: int = 870_000
    json_depth: int = 100_000
    header_bytes: int = 50_000_000
    quiet_seconds: float = 1.0
    """The /healthz baseline window before each attack."""
    attack_seconds: float = 1.0
    """A refused attack is repeated back to back this long (at most `max_requests`)."""
    max_requests: int = 200
    request_timeout: float = 10.0
    settle_seconds: float = 8.0
    """Longest wait for the workers to go idle after an attack before they are replaced."""
    targets: tuple[str, ...] = ("stack", "serve")


FULL_ABUSE = AbusePlan()
QUICK_ABUSE = AbusePlan(typename_fields=4_500, images_aliases=50, images_first=20, concurrent_query_bytes=16_000,
                        mapped_fields=50, one_variable_fields=100, slow_connections=100, slow_hold_seconds=1.5,
                        jpeg_markers=26_000, png_chunks=8_700, header_bytes=1_000_000, quiet_seconds=0.25,
                        attack_seconds=0.25, max_requests=20, request_timeout=3.0, settle_seconds=3.0,
                        targets=("stack",))


@dataclass(frozen=True)
class Flood:
    """`parallel` clients, each sending `request` back to back while the attack lasts."""

    name: str
    what: str
    request: RawRequest
    parallel: int = 1
    budget_ms: float = 100.0
    """Server time a refusal may take (issue 12: 100 ms; images: "well under a second")."""
    may_store: bool = False
    """Images: "refused, or accepted" is fine, if it is cheap."""
    timed_by: tuple[str, ...] = ("app", "nginx", "client")
    """Where its server time is read, first found wins. A header's cost is in the HTTP parser,
    before the app's clock starts: that attack is timed by Nginx, or by the client."""

    def run(self, port: int, plan: AbusePlan) -> dict[str, Any]:
        raw = self.request.encode(HOST, port)
        answers: list[Exchange] = []
        lock = threading.Lock()
        stop = threading.Event()
        started = time.monotonic()
        per_client = max(1, plan.max_requests // self.parallel)

        def client() -> None:
            for _ in range(per_client):
                answer = exchange(HOST, port, raw, plan.request_timeout)
                with lock:
                    answers.append(answer)
                if judge(answer)["outcome"] != "refused":
                    stop.set()  # not refused: once is enough to show it
                if stop.is_set() or time.monotonic() - started >= plan.attack_seconds:
                    return

        threads = [threading.Thread(target=client, name=f"attack-{self.name}", daemon=True)
                   for _ in range(self.parallel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        verdicts = [judge(answer) for answer in answers]
        outcomes: dict[str, int] = {}
        for verdict in verdicts:
            outcomes[verdict["outcome"]] = outcomes.get(verdict["outcome"], 0) + 1
        worst = next((v for v in verdicts if v["outcome"] != "refused"), verdicts[0])
        client_ms = [answer.client_ms for answer in answers]
        fine = {"refused", "stored"} if self.may_store else {"refused"}
        return {
            "sent": {"requests": len(answers), "request_bytes": len(raw), "parallel": self.parallel,
                     "seconds": round(time.monotonic() - started, 2)},
            "answer": {**worst, "outcomes": outcomes, "refused": outcomes.get("refused", 0) == len(answers),
                       "handled": set(outcomes) <= fine},
            "client_ms": client_ms,
        }


@dataclass(frozen=True)
class SlowCrowd:
    """Many connections that send their headers one byte a second and never finish them."""

    name: str
    what: str
    connections: int
    hold_seconds: float
    budget_ms: float | None = None  # no request to time: judged by /healthz and by who is cut off
    may_store: bool = False

    def run(self, port: int, plan: AbusePlan) -> dict[str, Any]:
        figures = SlowHeaders(HOST, port, self.connections, self.hold_seconds).run()
        # Refused: the server cut the attacker's connections off, or never let them in, rather
        # than holding all of them until the attacker gave up.
        refused = figures["held_to_the_end"] < figures["connections"] // 2
        return {
            "sent": {"requests": figures["opened"], "request_bytes": None, "parallel": figures["connections"],
                     "seconds": figures["seconds"]},
            "answer": {"outcome": "cut off" if refused else "held", "status": None,
                       "code": ", ".join(f"{k}: {v}" for k, v in sorted(figures["answers"].items())) or None,
                       "shaped": None, "message": None, "refused": refused, "handled": refused},
            "client_ms": [],
            "slow": figures,
        }


Attack = Flood | SlowCrowd


def attacks(plan: AbusePlan, auth: dict[str, str]) -> list[Attack]:
    """Every attack; the POSTs carry `auth` (the target's Authorization header, if any)."""
    png = bodies.small_png()
    mapped, mapped_type = bodies.upload_mapped_into(plan.mapped_fields, png)
    one_variable, one_variable_type = bodies.upload_one_variable_into(plan.one_variable_fields, png)
    jpeg, jpeg_type = bodies.upload_file(bodies.marker_jpeg(plan.jpeg_markers), "markers.jpg", "image/jpeg")
    chunks, chunks_type = bodies.upload_file(bodies.chunk_png(plan.png_chunks), "chunks.png", "image/png")
    typename = bodies.aliased_typename(plan.typename_fields)
    json_type = "application/json"
    return [
        Flood("typename-aliases", f"{plan.typename_fields:,} aliased __typename ({human_bytes(len(typename))} JSON)",
              post(typename, json_type, auth)),
        Flood("images-aliases", f"images(first: {plan.images_first}) aliased {plan.images_aliases:,} times",
              post(bodies.aliased_images(plan.images_aliases, plan.images_first), json_type, auth)),
        Flood("two-big-queries", f"two concurrent {human_bytes(plan.concurrent_query_bytes)} aliased queries",
              post(bodies.typename_of_size(plan.concurrent_query_bytes), json_type, auth), parallel=2),
        Flood("upload-mapped-fields", f"one PNG mapped into {plan.mapped_fields:,} aliased uploadImage "
              f"({human_bytes(len(mapped))})", post(mapped, mapped_type, auth)),
        Flood("upload-one-variable", f"one PNG, one variable, {plan.one_variable_fields:,} aliased uploadImage "
              f"({human_bytes(len(one_variable))})", post(one_variable, one_variable_type, auth)),
        SlowCrowd("slow-headers", f"{plan.slow_connections:,} connections sending headers at 1 byte/s, "
                  f"held {plan.slow_hold_seconds:g} s", plan.slow_connections, plan.slow_hold_seconds),
        Flood("jpeg-markers", f"JPEG of {plan.jpeg_markers:,} empty markers ({human_bytes(len(jpeg))})",
              post(jpeg, jpeg_type, auth), budget_ms=1000.0, may_store=True),
        Flood("png-chunks", f"PNG of {plan.png_chunks:,} empty chunks ({human_bytes(len(chunks))})",
              post(chunks, chunks_type, auth), budget_ms=1000.0, may_store=True),
        Flood("json-nesting", f"JSON body nested {plan.json_depth:,} deep", post(bodies.nested_json(plan.json_depth),
                                                                                  json_type, auth)),
        Flood("huge-header", f"one {human_bytes(plan.header_bytes)} header line (GET /healthz)",
              RawRequest("GET", "/healthz", (("X-Padding", "p" * plan.header_bytes),)), timed_by=("nginx", "client")),
    ]


def judge(answer: Exchange) -> dict[str, Any]:
    """What an answer says: refused (a 4xx, a GraphQL error with a code and no data, every upload
    an UploadError), an unclear error (no code), stored, answered (executed), a server error (500,
    502, 504), or no answer."""
    if answer.status is None:
        return {"outcome": "no answer", "status": None, "code": None, "shaped": False, "message": answer.error}
    try:
        document = json.loads(answer.body)
    except ValueError:
        document = None
    errors = document.get("errors") if isinstance(document, dict) else None
    data = document.get("data") if isinstance(document, dict) else None
    first: dict[str, Any] = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    extensions = first.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    message = first.get("message")
    shaped = isinstance(message, str) and isinstance(code, str)
    text = message if isinstance(message, str) else answer.body[:160].decode(errors="replace")
    verdict = {"status": answer.status, "code": code, "shaped": shaped, "message": text[:240]}
    if answer.status in (500, 502, 504):
        return {**verdict, "outcome": "server error"}
    if answer.status >= 400 or (errors and not data and shaped):
        return {**verdict, "outcome": "refused"}
    if errors and not data:  # e.g. "maximum recursion depth exceeded", with no code
        return {**verdict, "outcome": "unclear error"}
    if isinstance(data, dict):
        fields = [value for value in data.values() if isinstance(value, dict)]
        kinds = {field.get("__typename") for field in fields}
        if "Image" in kinds:
            return {**verdict, "outcome": "stored"}
        if fields and kinds == {"UploadError"}:
            codes = sorted({str(field.get("code", "UploadError")) for field in fields})
            said = str(fields[0].get("message", ""))[:200]
            return {**verdict, "outcome": "refused", "code": ", ".join(codes), "shaped": True,
                    "message": f"{len(fields):,} UploadError field(s): {said}".rstrip(": ")}
    return {**verdict, "outcome": "answered"}


