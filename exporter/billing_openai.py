"""The OpenAI billing poller: what OpenAI billed, read from its organization Usage and Costs APIs.

::

    poller = OpenAIBillingPoller(settings.billing.openai)   # an exporter.settings.OpenAIBilling
    poller.start()         # reads the admin key (BillingConfigError naming the file or variable, never
                           # the key), then polls at once and every interval_seconds in a thread
    poller.snapshot        # exporter.billing.Snapshot of the last poll that read every page
    poller.poll_now()      # one poll in this thread: the new Snapshot, or BillingError(reason, message)
    poller.health()        # Health(up, last_success, errors by reason)
    poller.stop()          # stops the thread (bounded join) and closes the HTTP client

``create_app`` does all this when ``billing.openai`` is configured and serves the snapshot with
``exporter.billing.BilledCollector``. A poll reads, for the days ``[min(today - days, the 1st of
this month), today)`` (UTC) in ``bucket_width=1d`` buckets, with ``end_time`` today 00:00:

* ``/organization/usage/completions`` and ``/usage/embeddings`` grouped by
  ``model,project_id,api_key_id``: ``input_tokens`` (cached included), ``input_cached_tokens``,
  ``output_tokens``, ``num_model_requests``;
* ``/organization/costs`` grouped by ``project_id,line_item``: the model is the line item's name
  before its last ``", "`` (``"gpt-4o-mini-2024-07-18, input"``, ``"priority | gpt-4o, output"``);
  a line item without a model (``"web search tool calls"``) is its own model;
* with an alias file holding redaction entries, ``/organization/projects`` and each project's
  ``/api_keys`` (``after`` / ``has_more``), to match the keys' ``redacted_value``.

Every page is followed (``next_page`` until ``has_more`` is false, at most ``max_pages``). A 429
waits its ``retry-after`` (at most ``max_retry_after_seconds``), a 5xx or a network error
``backoff_seconds * 2**n`` with jitter; after ``max_attempts`` the poll fails. 401/403 fail the poll
at once (no retry until the next interval). Any other answer, or a body that cannot be read, is a
``bad_response``. A failed poll sets ``up`` to 0 and keeps the previous snapshot: the figures served
are always those of the last poll that read every page, and since every poll re-reads the whole
window, late and revised buckets settle on the next one. Every failed request counts one error.

Aliases: a usage row takes ``keys[api_key_id]``, else ``projects[project_id]``, else the alias
matched from the alias file, else ``""``. A cost row (the Costs API does not group by key) takes
``projects[project_id]``, else the one alias every key with usage in that project in the window maps
to (by ``keys`` or matching; a key without an id or alias breaks it), else ``""``.

The admin key is a ``SecretStr``; it is sent only in the ``Authorization`` header and removed
(with any ``sk-...`` token) from every message this module logs or raises, even when the API
echoes it. Attributes that tests change: ``clock`` (unix seconds), ``sleep``, ``page_limit``,
``max_pages``, ``max_attempts``, ``backoff_seconds``, ``max_backoff_seconds``,
``max_retry_after_seconds``, ``random``.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

import httpx
from pydantic import SecretStr

from sdk_instrumentation.api_keys import load_aliases

from .billing import EMPTY, ERROR_REASONS, Snapshot, build_rows, day_of, model_family, unix, windows

__all__ = ["OpenAIBillingPoller", "BillingError", "BillingConfigError", "Health", "line_item_model",
           "match_redacted", "redaction"]

log = logging.getLogger("exporter.billing")

USAGE_KINDS = ("completions", "embeddings")
USAGE_GROUP_BY = ["model", "project_id", "api_key_id"]
COST_GROUP_BY = ["project_id", "line_item"]
_SECRET_LIKE = re.compile(r"\bsk-[^\s\"',;]*")
_FILL = re.compile(r"(?:…|\.\.\.|\*)+")


class BillingConfigError(Exception):
    """The poller cannot start: no admin key (the file or variable is named), an unreadable alias file."""


class BillingError(Exception):
    """A failed poll; ``reason`` is one of ``exporter.billing.ERROR_REASONS``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class Health(NamedTuple):
    up: int
    last_success: float | None
    errors: dict[str, int]


def line_item_model(line_item: str | None) -> str:
    """The model a cost line item names: ``"priority | gpt-4o-2024-08-06, cached input"`` ->
    ``"gpt-4o-2024-08-06"``; a line item without one (``"web search tool calls"``) is returned as is."""
    name = (line_item or "").split(" | ", 1)[-1]
    return name.rsplit(", ", 1)[0] if ", " in name else name


def redaction(text: str) -> tuple[str, str, int | None] | None:
    """``(visible prefix, visible suffix, length or None)`` of a redacted key: ``sk-proj-****abcd`` (its
    length known), ``sk-proj-…abcd`` or ``sk-...abcd`` (unknown). None when nothing is hidden."""
    fills = list(_FILL.finditer(text))
    if not fills:
        return None
    known = all(set(fill.group()) == {"*"} for fill in fills)
    return text[:fills[0].start()], text[fills[-1].end():], len(text) if known else None


def _consistent(a: tuple[str, str, int | None], b: tuple[str, str, int | None]) -> bool:
    (prefix_a, suffix_a, length_a), (prefix_b, suffix_b, length_b) = a, b
    return ((prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a))
            and (suffix_a.endswith(suffix_b) or suffix_b.endswith(suffix_a))
            and (length_a is None or length_b is None or length_a == length_b))


def match_redacted(entries: dict[str, str], listed: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Key ids matched to aliases, and the ambiguous ones (key id -> the aliases it could be).

    ``entries``: alias file entries that are redactions (``sk-proj-…abcd: team-a``); ``listed``:
    ``(key id, redacted_value)`` of the API's key listings. A key maps when exactly one entry is
    consistent with its redacted value (prefixes and suffixes agree, lengths when both are known) and
    that entry with no other listed key. Compared in lower case (the SDK's ``load_aliases`` lowers
    the file's keys)."""
    patterns = {text: redaction(text.lower()) for text in entries}
    patterns = {text: p for text, p in patterns.items() if p is not None and len(p[0]) + len(p[1]) >= 4}
    shown = {}
    for key_id, value in listed:
        value = (value or "").lower()
        shown[key_id] = redaction(value) or (value, value, len(value))
    fits = {key_id: [text for text, p in patterns.items() if _consistent(p, seen)] for key_id, seen in shown.items()}
    users: dict[str, int] = {}
    for texts in fits.values():
        for text in texts:
            users[text] = users.get(text, 0) + 1
    matched, ambiguous = {}, {}
    for key_id, texts in fits.items():
        if len(texts) == 1 and users[texts[0]] == 1:
            matched[key_id] = entries[texts[0]]
        elif texts:
            ambiguous[key_id] = sorted({entries[text] for text in texts})
    return matched, ambiguous


class OpenAIBillingPoller:
    """Polls OpenAI's organization Usage and Costs APIs; see the module docstring."""

    provider = "openai"

    def __init__(self, config, *, clock: Callable[[], float] = time.time):
        self.config = config
        self.clock = clock
        self.sleep: Callable[[float], Any] = lambda seconds: self._stop.wait(seconds)
        self.page_limit = 31  # buckets per page: the Usage API's maximum for 1d buckets
        self.max_pages = 50  # per endpoint and poll
        self.max_attempts = 4
        self.backoff_seconds = 1.0
        self.max_backoff_seconds = 30.0
        self.max_retry_after_seconds = 60.0
        self.join_seconds = 5.0
        self.random = random.Random()
        self.snapshot: Snapshot = EMPTY
        self.last_error: str | None = None
        self.polls = 0  # polls finished, complete or not
        self._up = 0
        self._last_success: float | None = None
        self._errors = dict.fromkeys(ERROR_REASONS, 0)
        self._key: SecretStr | None = None
        self._entries: dict[str, str] = {}
        self._client: httpx.Client | None = None
        self._logged_ambiguous: set[str] = set()
        self._health_lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"OpenAIBillingPoller(base_url={self.config.base_url!r})"

    # lifecycle -----------------------------------------------------------------------------------

    def open(self) -> None:
        """Read the admin key and the alias file, make the HTTP client. Raises ``BillingConfigError``."""
        self._key = read_admin_key(self.config)
        path = self.config.api_key_aliases_file
        if path is not None:
            try:
                aliases = load_aliases(path)
            except (OSError, ValueError) as error:
                raise BillingConfigError(f"billing.openai.api_key_aliases_file {path}: {error}") from None
            self._entries = {text: alias for text, alias in aliases.items() if redaction(text) is not None}
            if not self._entries:
                log.info("billing: %s holds only key fingerprints, which cannot be compared with the redacted "
                         "values OpenAI lists (first 8 and last 4 characters); map OpenAI key ids with "
                         "billing.openai.keys, or add redaction entries such as 'sk-proj-…abcd: <alias>'", path)
        if self._client is not None:
            self._client.close()
        self._client = httpx.Client(
            base_url=self.config.base_url, timeout=self.config.timeout_seconds,
            headers={"Authorization": "Bearer " + self._key.get_secret_value(), "User-Agent": "genai-lens-exporter"},
        )

    def start(self) -> None:
        """``open()``, then poll now and every ``interval_seconds`` in a daemon thread."""
        self.open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="genai-lens-billing-openai", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling: interrupts a retry wait, joins the thread (at most ``join_seconds``), closes the client."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.join_seconds)
            if self._thread.is_alive():
                log.warning("billing: the OpenAI poller did not stop within %.0fs (a request in flight)",
                            self.join_seconds)
            self._thread = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_now()
            except BillingError:
                pass  # counted and logged by poll_now
            except Exception:  # never expected; the thread must go on
                log.exception("billing: the OpenAI poll failed unexpectedly")
            self._stop.wait(self.config.interval_seconds)

    def health(self) -> Health:
        with self._health_lock:
            return Health(self._up, self._last_success, dict(self._errors))

    # a poll --------------------------------------------------------------------------------------

    def poll_now(self) -> Snapshot:
        """Read the whole window once; on success the result becomes ``snapshot`` and is returned.
        On failure raises ``BillingError`` (``up`` turns 0, the previous snapshot stays)."""
        with self._poll_lock:
            if self._client is None:
                self.open()
            try:
                snapshot = self._poll()
            except BillingError as error:
                failure = error
            except Exception as error:  # a body of an unexpected shape
                self._count("bad_response")
                failure = BillingError("bad_response", self._scrub(f"unreadable answer: {type(error).__name__}: {error}"))
            else:
                with self._health_lock:
                    self.snapshot = snapshot
                    self._up, self._last_success, self.last_error = 1, self.clock(), None
                    self.polls += 1
                log.info("billing: OpenAI usage and costs of %s..%s read: %d rows", snapshot.windows.start,
                         snapshot.windows.end, len(snapshot.rows))
                return snapshot
            with self._health_lock:
                self._up, self.last_error = 0, str(failure)
                self.polls += 1
            log.warning("billing: OpenAI poll failed (%s): %s; the figures of the last complete poll stay served",
                        failure.reason, failure)
            raise failure from None

    def _poll(self) -> Snapshot:
        now = self.clock()
        w = windows(day_of(now), self.config.days)
        params = {"start_time": unix(w.start), "end_time": unix(w.end), "bucket_width": "1d", "limit": self.page_limit}
        usage = []
        for kind in USAGE_KINDS:
            for bucket in self._pages(f"/organization/usage/{kind}", {**params, "group_by": USAGE_GROUP_BY}):
                day = day_of(bucket["start_time"])
                for r in bucket["results"]:
                    usage.append((day, r.get("model") or "", r.get("project_id") or "", r.get("api_key_id"),
                                  _int(r, "input_tokens"), _int(r, "input_cached_tokens"), _int(r, "output_tokens"),
                                  _int(r, "num_model_requests")))
        costs = []
        for bucket in self._pages("/organization/costs", {**params, "group_by": COST_GROUP_BY}):
            day = day_of(bucket["start_time"])
            for r in bucket["results"]:
                amount = r["amount"]
                if (amount.get("currency") or "usd").lower() != "usd":
                    raise self._error("bad_response", f"/organization/costs: a cost in {amount.get('currency')!r}, not usd")
                costs.append((day, line_item_model(r.get("line_item")), r.get("project_id") or "", float(amount["value"])))
        matched = self._match_keys() if self._entries else {}

        keys, projects = self.config.keys, self.config.projects
        cells = []
        project_keys: dict[str, set] = {}
        for day, model, project, key_id, n_in, n_cached, n_out, n_req in usage:
            alias = keys.get(key_id) or projects.get(project) or matched.get(key_id) or ""
            cells.append((day, model_family(model), alias, project, [], n_in, n_cached, n_out, n_req))
            project_keys.setdefault(project, set()).add(keys.get(key_id) or matched.get(key_id))
        for day, model, project, usd in costs:
            alias = projects.get(project)
            if alias is None:
                aliases = project_keys.get(project, set())
                alias = next(iter(aliases)) if len(aliases) == 1 and None not in aliases else ""
            cells.append((day, model_family(model), alias, project, [usd], 0, 0, 0, 0))
        return Snapshot(build_rows(cells, w), now, w)

    def _match_keys(self) -> dict[str, str]:
        listed = []
        for project in self._listing("/organization/projects"):
            for key in self._listing(f"/organization/projects/{project['id']}/api_keys"):
                listed.append((key["id"], key.get("redacted_value") or ""))
        matched, ambiguous = match_redacted(self._entries, listed)
        for key_id, aliases in ambiguous.items():
            if key_id not in self._logged_ambiguous:
                self._logged_ambiguous.add(key_id)
                log.warning("billing: OpenAI API key %s is not mapped: its redacted value fits alias file entries "
                            "that are not unique to it (aliases %s); name it in billing.openai.keys",
                            key_id, ", ".join(aliases))
        return matched

    # HTTP ----------------------------------------------------------------------------------------

    def _pages(self, path: str, params: dict) -> Iterator[dict]:
        """The buckets of every page of a usage or costs query."""
        page = None
        for _ in range(self.max_pages):
            body = self._get(path, {**params, "page": page} if page else params)
            data = body["data"]
            if not isinstance(data, list):
                raise self._error("bad_response", f"{path}: 'data' is not a list")
            yield from data
            if not body.get("has_more"):
                return
            page = body.get("next_page")
            if not page:
                raise self._error("bad_response", f"{path}: has_more is true without a next_page")
        raise self._error("bad_response", f"{path}: more than {self.max_pages} pages")

    def _listing(self, path: str) -> Iterator[dict]:
        """The objects of an ``after``/``has_more`` list (projects, a project's API keys)."""
        after = None
        for _ in range(self.max_pages):
            body = self._get(path, {"limit": 100, **({"after": after} if after else {})})
            data = body["data"]
            yield from data
            if not body.get("has_more") or not data:
                return
            after = data[-1]["id"]
        raise self._error("bad_response", f"{path}: more than {self.max_pages} pages")

    def _get(self, path: str, params: dict) -> dict:
        """One GET with retries; the JSON object answered, or ``BillingError``."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._client.get(path, params=params)
            except httpx.HTTPError as error:
                reason, detail, delay = "network", f"{type(error).__name__}: {error}", self._backoff(attempt)
            else:
                status = response.status_code
                if status == 200:
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    if not isinstance(body, dict):
                        raise self._error("bad_response", f"GET {path}: HTTP 200 without a JSON object")
                    return body
                detail = f"HTTP {status}: {_message(response)}"
                if status in (401, 403):
                    raise self._error("unauthorized", f"GET {path}: {detail} (is the admin key valid? "
                                      "no retry before the next poll)")
                if status == 429:
                    reason, delay = "rate_limited", self._retry_after(response)
                    delay = self._backoff(attempt) if delay is None else delay
                elif status >= 500:
                    reason, delay = "server_error", self._backoff(attempt)
                else:
                    raise self._error("bad_response", f"GET {path}: {detail}")
            self._count(reason)
            if attempt == self.max_attempts or self._stop.is_set():
                raise BillingError(reason, self._scrub(f"GET {path}: {detail} (attempt {attempt} of {self.max_attempts})"))
            log.debug("billing: GET %s: %s; retrying in %.2fs", path, self._scrub(detail), delay)
            self.sleep(delay)
        raise AssertionError("unreachable")

    def _retry_after(self, response: httpx.Response) -> float | None:
        try:
            seconds = float(response.headers.get("retry-after", ""))
        except ValueError:
            return None  # absent, or an HTTP date: back off instead
        return min(max(0.0, seconds), self.max_retry_after_seconds)

    def _backoff(self, attempt: int) -> float:
        """``backoff_seconds * 2**(attempt-1)``, at most ``max_backoff_seconds``, times 0.5..1 (jitter)."""
        return min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1)) * (0.5 + self.random.random() / 2)

    def _count(self, reason: str) -> None:
        with self._health_lock:
            self._errors[reason] += 1

    def _error(self, reason: str, message: str) -> BillingError:
        self._count(reason)
        return BillingError(reason, self._scrub(message))

    def _scrub(self, text: str) -> str:
        """``text`` without the admin key or anything like an OpenAI key, at most 400 characters."""
        if self._key is not None and self._key.get_secret_value():
            text = text.replace(self._key.get_secret_value(), "[redacted]")
        return _SECRET_LIKE.sub("[redacted]", text)[:400]


def read_admin_key(config) -> SecretStr:
    """The admin key from ``config.admin_key_file`` (when set) or the variable ``config.admin_key_env``."""
    if config.admin_key_file is not None:
        path = config.admin_key_file
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise BillingConfigError(f"billing.openai.admin_key_file {path}: cannot be read ({error.strerror})") from None
        if not value:
            raise BillingConfigError(f"billing.openai.admin_key_file {path} is empty")
        return SecretStr(value)
    value = os.environ.get(config.admin_key_env, "").strip()
    if not value:
        raise BillingConfigError(f"billing.openai: no admin key: the environment variable {config.admin_key_env} is "
                                 "not set or empty (set it, or billing.openai.admin_key_file)")
    return SecretStr(value)


def _int(result: dict, name: str) -> int:
    return int(result.get(name) or 0)


def _message(response: httpx.Response) -> str:
    """The API's error message (unscrubbed: callers scrub)."""
    try:
        return str(response.json()["error"]["message"])
    except Exception:
        return response.text[:200]
