"""Per-client settings for the explicit form, ``instrument_client(client, ...)``.

Stored on the client object itself, so the class-level patches find them from
any resource of that client (``client.chat.completions``, ``client.aio.models``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["ClientOptions", "get_options", "set_options"]

_ATTR = "_genai_lens_options"


@dataclass(frozen=True)
class ClientOptions:
    api_key_alias: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    provider: str | None = None


def get_options(client) -> ClientOptions | None:
    # Read from the instance dict: a failed getattr builds an AttributeError, on every call
    # of every client that was not given options.
    try:
        return client.__dict__.get(_ATTR)
    except AttributeError:  # no __dict__ (None, or a slotted object)
        return getattr(client, _ATTR, None)


def set_options(client, options: ClientOptions) -> None:
    object.__setattr__(client, _ATTR, options)
