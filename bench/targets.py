"""Issue 5's targets, judged on a run's results; and the figures of the server Imagehost replaces."""

from __future__ import annotations

from typing import Any

# The upload server Imagehost replaces (Python http.server, 10 processes behind Nginx), medians
# of 3 runs on this kind of 2-core machine (issue 5). Shown beside our figures for orientation.
REPLACED = {
    ("upload", "100KB-png", 1): 264, ("upload", "100KB-png", 8): 371, ("upload", "100KB-png", 32): 378,
    ("upload", "900KB-jpeg", 1): 88, ("upload", "900KB-jpeg", 8): 161, ("upload", "900KB-jpeg", 32): 188,
    ("list", 1_000): 31.0, ("list", 10_000): 279.0,  # ms, no paging (the whole list)
    ("delete", 8): 1_881, ("delete", 32): 780,
    ("serve",): 10_770,
}

UPLOAD_RATIO = 0.60
LIST_SERVER_MS_AT_10K = 6.0
LIST_GROWTH = 1.5
SERVE_RATIO = 0.90
MEMORY_PEAK_MB = 150.0
MEMORY_FLAT = 1.20  # our reading of "flat": the peak at 32 clients within 20% of the peak at 8
# Measured ratios are shown to one decimal: to a whole percent, 89.6 % would read "90 %, missed".


def _target(name: str, goal: str, value: float | None, met: bool | None, shown: str) -> dict[str, Any]:
    return {"name": name, "goal": goal, "value": value, "shown": shown, "met": met}


def evaluate(scenarios: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    uploads = scenarios.get("upload") or []
    for sample in ("100KB-png", "900KB-jpeg"):
        row = max((r for r in uploads if r["sample"] == sample), key=lambda r: r["concurrency"], default=None)
        value = row["ratio"] if row else None
        label = f"upload {sample} at c={row['concurrency']}" if row else f"upload {sample}"
        found.append(_target(label, f">= {UPLOAD_RATIO:.0%} of the ceiling's req/s", value,
                             None if value is None else value >= UPLOAD_RATIO,
                             "not measured" if value is None or row is None else
                             f"{value:.1%} ({row['service']['rps']} vs {row['ceiling']['rps']} req/s)"))

    lists = scenarios.get("list") or []
    at_10k = next((r for r in lists if r["images"] == 10_000 and r["page"] == "first"), None)
    ms = at_10k["service"].get("server_p50_ms") if at_10k else None
    found.append(_target("list first page at 10,000 images, server-side p50",
                         f"< {LIST_SERVER_MS_AT_10K:g} ms", ms,
                         None if ms is None else ms < LIST_SERVER_MS_AT_10K,
                         "not measured" if ms is None else f"{ms} ms"))
    for page in ("first", "deep"):
        rows = [r for r in lists if r["page"] == page]
        last = rows[-1] if len(rows) > 1 else None
        growth = last["ratio"] if last else None
        label = (f"list {page} page, server-side p50 at {last['images']:,} vs {last['reference_images']:,} images"
                 if last else f"list {page} page growth")
        found.append(_target(label, f"<= {LIST_GROWTH}x", growth,
                             None if growth is None else growth <= LIST_GROWTH,
                             "not measured" if growth is None or last is None else
                             f"{growth}x ({last['service'].get('server_p50_ms')} vs "
                             f"{rows[0]['service'].get('server_p50_ms')} ms)"))

    serve = (scenarios.get("serve") or [None])[0]
    value = serve["ratio"] if serve else None
    found.append(_target("serve images at c=32", f">= {SERVE_RATIO:.0%} of static Nginx", value,
                         None if value is None else value >= SERVE_RATIO,
                         "not measured" if value is None else
                         f"{value:.1%} ({serve['service']['rps']} vs {serve['ceiling']['rps']} req/s)"))

    deletes = scenarios.get("delete") or []
    last = deletes[-1] if len(deletes) > 1 else None
    value = last["ratio"] if last else None
    found.append(_target("delete: no collapse with concurrency",
                         "req/s at the highest concurrency >= at the lowest", value,
                         None if value is None else value >= 1.0,
                         "not measured" if value is None or last is None else
                         f"c={last['concurrency']} {last['service']['rps']}/s vs "
                         f"c={deletes[0]['concurrency']} {deletes[0]['service']['rps']}/s ({value}x)"))

    memory = scenarios.get("memory") or []
    last = memory[-1] if memory else None
    peak = last["service"]["max_peak_rss_mb"] if last else None
    found.append(_target(f"worker peak RSS, {last['clients'] if last else '?'} clients uploading "
                         f"{last['file_bytes'] / 2**20 if last else 0:.1f} MiB files",
                         f"< {MEMORY_PEAK_MB:g} MB", peak,
                         None if peak is None else peak < MEMORY_PEAK_MB,
                         "not measured" if peak is None else f"{peak} MB"))
    growth = last["ratio"] if last and len(memory) > 1 else None
    found.append(_target("worker peak RSS flat with more concurrent uploads",
                         f"<= {MEMORY_FLAT}x the peak at {memory[0]['clients'] if memory else '?'} clients",
                         growth, None if growth is None else growth <= MEMORY_FLAT,
                         "not measured" if growth is None else f"{growth}x"))
    return found


# Issue 12: the hardening must not cost more than 10 % of the upload rate of the main it starts
# from (measured in the same run, interleaved), and every attack ends in a clear error fast
# while another client is still served.
BASELINE_RATIO = 0.90
HEALTHZ_SLOWDOWN_MS = 100.0  # our reading of "stays fast": p99 under attack <= quiet p99 + 100 ms
IMAGE_RSS_GROWTH_MB = 50.0


def evaluate_issue12(scenarios: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    uploads = [r for r in scenarios.get("upload") or [] if r.get("vs_baseline") is not None]
    if uploads:
        worst = min(uploads, key=lambda r: r["vs_baseline"])
        found.append(_target("upload req/s against the baseline checkout, every size and concurrency",
                             f">= {BASELINE_RATIO:.0%} of the baseline's", worst["vs_baseline"],
                             worst["vs_baseline"] >= BASELINE_RATIO,
                             f"worst {worst['vs_baseline']:.1%}: {worst['sample']} c={worst['concurrency']} "
                             f"({worst['service']['rps']} vs {worst['baseline']['rps']} req/s)"))
    rows = scenarios.get("abuse") or []
    for shape in dict.fromkeys(r["target"] for r in rows):
        found += _abuse_targets(shape, [r for r in rows if r["target"] == shape])
    return found


def _abuse_targets(shape: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    not_refused = [r for r in rows if not r["answer"]["handled"]]
    found.append(_target(f"abuse ({shape}): every attack refused",
                         "all refused or cut off (images: or accepted)",
                         len(rows) - len(not_refused), not not_refused,
                         f"{len(rows) - len(not_refused)}/{len(rows)}" + ("; not: " + ", ".join(
                             f"{r['attack']} ({r['answer']['outcome']})" for r in not_refused) if not_refused else "")))
    timed = [r for r in rows if r["budget_ms"] is not None]
    slow = [r for r in timed if not r["within_budget"]]
    worst = max(timed, key=lambda r: r["service"]["server_ms_max"] or 0, default=None)
    budgets = {bool(r["may_store"]): r["budget_ms"] for r in timed}
    goal = f"<= {budgets.get(False, 0):g} ms" + (f" (images: {budgets[True]:g} ms)" if True in budgets else "")
    found.append(_target(f"abuse ({shape}): server time per attack request, refused", goal,
                         worst["service"]["server_ms_max"] if worst else None, not slow if timed else None,
                         "not measured" if worst is None else
                         f"{len(timed) - len(slow)}/{len(timed)} within" + ("; not: " + ", ".join(
                             f"{r['attack']} {r['service']['server_ms_max']} ms"
                             + ("" if r["answer"]["handled"] else f" ({r['answer']['outcome']})") for r in slow)
                             if slow else
                             f"; slowest {worst['attack']} {worst['service']['server_ms_max']} ms")))
    judged = [r for r in rows if not r["may_store"]]  # an accepted image is stored, once
    stored = [r for r in judged if r["service"]["files_stored"] or r["service"]["rows_stored"]]
    files = sum(r["service"]["files_stored"] for r in judged)
    found.append(_target(f"abuse ({shape}): nothing stored by an attack (images aside)", "0 files, 0 rows",
                         files, not stored,
                         f"{files:,} files" + (" (" + ", ".join(f"{r['attack']} {r['service']['files_stored']:,}"
                                                                 for r in stored) + ")" if stored else "")))
    unserved = [r for r in rows if r["service"]["healthz_failed"] or r["service"]["healthz_p99_ms"] is None
                or r["quiet"]["healthz_p99_ms"] is None
                or r["service"]["healthz_p99_ms"] > r["quiet"]["healthz_p99_ms"] + HEALTHZ_SLOWDOWN_MS]
    worst = max(rows, key=lambda r: r["service"]["healthz_p99_ms"] or 0, default=None)
    found.append(_target(f"abuse ({shape}): /healthz from another client during each attack",
                         f"no failed probe, p99 <= quiet p99 + {HEALTHZ_SLOWDOWN_MS:g} ms",
                         worst["service"]["healthz_p99_ms"] if worst else None, not unserved if rows else None,
                         "not measured" if worst is None else
                         ("; ".join(f"{r['attack']} p99 {r['service']['healthz_p99_ms']} ms, "
                                    f"{r['service']['healthz_failed']} failed" for r in unserved) if unserved else
                          f"worst p99 {worst['service']['healthz_p99_ms']} ms ({worst['attack']})")))
    images = [r for r in rows if r["may_store"]]
    growth = max((r["service"]["worker_rss_growth_mb"] for r in images), default=None)
    found.append(_target(f"abuse ({shape}): worker RSS growth validating a pathological image",
                         f"<= {IMAGE_RSS_GROWTH_MB:g} MB", growth,
                         None if growth is None else growth <= IMAGE_RSS_GROWTH_MB,
                         "not measured" if growth is None else f"{growth} MB"))
    return found


# The images work: a 12 MP photo's thumbnail costs about what libvips's does, the workers stay
# small while they decode 8 at once, and the images view's first page is light.
THUMBNAIL_VS_VIPS = 1.5
IMAGES_PEAK_MB = 300.0
PAGE_BYTES = 1_500_000


def evaluate_images(scenarios: dict[str, Any]) -> list[dict[str, Any]]:
    rows = {row["figure"]: row for row in scenarios.get("images") or []}
    if not rows:
        return []
    thumbnail, memory, page = rows["thumbnail"], rows["memory"], rows["page"]
    photo = f"{thumbnail['width']}x{thumbnail['height']} JPEG"
    value = thumbnail["ratio"]
    vips = thumbnail["ceiling"]
    found = [_target(f"thumbnail CPU per {photo}, against vipsthumbnail", f"<= {THUMBNAIL_VS_VIPS}x", value,
                     None if value is None else value <= THUMBNAIL_VS_VIPS,
                     "not measured (no vipsthumbnail)" if value is None or vips is None else
                     f"{value}x ({thumbnail['service']['cpu_ms']} vs {vips['cpu_ms']} ms)")]
    peak = memory["service"]["max_peak_rss_mb"]
    found.append(_target(f"worker peak RSS, {memory['clients']} clients uploading {photo}s at once",
                         f"< {IMAGES_PEAK_MB:g} MB", peak, peak < IMAGES_PEAK_MB, f"{peak} MB"))
    weight = page["service"]["thumbnail_bytes"]
    found.append(_target(f"images view, first page of {page['images']} photos: thumbnail bytes",
                         f"<= {PAGE_BYTES / 1e6:g} MB", weight, weight <= PAGE_BYTES and not page["service"]["errors"],
                         f"{weight / 1e6:.2f} MB (originals {page['originals_bytes'] / 1e6:.1f} MB)"
                         + (f", {page['service']['errors']} failed" if page["service"]["errors"] else "")))
    return found


# Issue 13: what accounts may cost, a token on this tree against the main from before accounts
# (the baseline) in the same run; and sign-in's hash: slow for attackers, fine for people.
AUTH_UPLOAD_RATIO = 0.95
AUTH_LIST_MS = 1.0
HASH_MS = (50.0, 500.0)


def evaluate_auth(scenarios: dict[str, Any]) -> list[dict[str, Any]]:
    rows = scenarios.get("auth") or []
    if not rows:
        return []
    cost = next(r for r in rows if r["figure"] == "sign-in")["service"]
    verify = cost["verify_ms"]
    found = [_target(f"sign-in: the password check ({cost['algorithm']} {cost['parameters']}, verify)",
                     f"{HASH_MS[0]:g}–{HASH_MS[1]:g} ms", verify, HASH_MS[0] <= verify <= HASH_MS[1],
                     f"{verify} ms (hash {cost['hash_ms']} ms; signIn through the stack p50 {cost['sign_in_p50_ms']} ms)")]
    uploads = [r for r in rows if r["figure"] == "upload"]
    lists = [r for r in rows if r["figure"] == "list"]
    if not uploads and not lists:
        return found + [_target("accounts' cost against the main without accounts", "needs --baseline-worktree",
                                None, None, "not measured")]
    for r in uploads:
        value = r["ratio"]
        found.append(_target(f"auth: upload {r['sample']} at c={r['concurrency']}, token vs. no accounts",
                             f">= {AUTH_UPLOAD_RATIO:.0%} of the baseline's req/s", value,
                             None if value is None else value >= AUTH_UPLOAD_RATIO,
                             "not measured" if value is None else
                             f"{value:.1%} ({r['service']['rps']} vs {r['baseline']['rps']} req/s)"))
    for r in lists:
        diff = r["difference_ms"]
        found.append(_target(f"auth: list {r['page']} page at {r['images']:,} images, server p50, token vs. no accounts",
                             f"<= +{AUTH_LIST_MS:g} ms over the baseline's", diff,
                             None if diff is None else diff <= AUTH_LIST_MS,
                             "not measured" if diff is None else
                             f"{diff:+.2f} ms ({r['service']['server_p50_ms']} vs {r['baseline']['server_p50_ms']} ms)"))
    return found
