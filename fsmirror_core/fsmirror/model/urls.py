"""URLs fsmirror records or sends, without the credentials a URL can carry.

A git ``origin`` on a CI machine is often ``https://x-access-token:<token>@github.com/o/r.git``
(or ``https://<token>@...``, or a signed URL with ``?token=...``), and OpenLineage's
``sourceCodeLocation`` facet sends the repository URL to a lineage server that many people
read. Every URL that leaves fsmirror (an event, a manifest, a printed link) goes through
:func:`public_url` first. Pure: no I/O.
"""

from __future__ import annotations

import re

__all__ = ["public_url", "SECRET_PARAMS"]

SECRET_PARAMS = re.compile(
    r"(token|secret|passw|pwd|auth|key|sig|credential|session|code|ticket)", re.IGNORECASE
)
"""A query parameter whose name matches this carries a credential (``access_token``,
``X-Amz-Signature``, Azure SAS ``sig``, ``api_key``, ``password``...): it is dropped."""

_SCP = re.compile(r"^(?P<user>[^@/:]+(?::[^@/]*)?)@(?P<rest>[^/:]+:.*)$")  # user[:pw]@host:path


def public_url(url: str | None) -> str | None:
    """``url`` without user info (``user:password@``, ``token@``) and credential query parameters.

    ``ssh://git@host/...`` and scp-style ``git@host:o/r.git`` keep a user name without a
    password (it names the account ssh logs in as, not a secret); any password is dropped.

    >>> public_url("https://user:ghp_secret@github.com/o/r.git")
    'https://github.com/o/r.git'
    >>> public_url("https://host/r.git?token=abc&ref=main")
    'https://host/r.git?ref=main'
    >>> public_url("git@github.com:o/r.git")
    'git@github.com:o/r.git'
    """
    if not url:
        return url
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    if "://" not in url:
        m = _SCP.match(url)
        if m is None:
            return url
        user = m.group("user").split(":", 1)[0]
        return f"{user}@{m.group('rest')}"
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user, has_password, _ = userinfo.partition(":")
            keep_user = parts.scheme.lower() in ("ssh", "git+ssh", "ssh+git") and not has_password
            netloc = f"{user}@{host}" if keep_user and user else host
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, v) for k, v in pairs if not SECRET_PARAMS.search(k)])
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not a URL urllib can take apart: send nothing rather than a secret
        return None
