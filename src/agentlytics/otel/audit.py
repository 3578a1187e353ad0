"""``audit --otlp``: the privacy audit over what the OTLP sink exports, not over the events.

It runs the checks of :mod:`agentlytics.fingerprints.audit` on the OTLP form the sink's own
mapping gives (so it lives here, above both: fingerprints never imports otel).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agentlytics.fingerprints.audit import Finding, KnownSecrets, string_findings
from agentlytics.otel.mapping import HASH_FIELDS, ExportedEvent, export_event
from agentlytics.otel.metrics import measurements


def audit_otlp(
    events: Iterable[Mapping[str, Any]], known_secrets: KnownSecrets | None = None
) -> list[Finding]:
    """Every finding in what the OTLP sink exports for ``events`` (``audit --otlp``).

    The events go through the sink's own mapping (``agentlytics.otel.mapping``, privacy
    filtering included); every exported attribute — of the log record, of its resource and of
    the metric points it adds to — then gets the generic and known-secret checks on its key and
    string values, and no key may carry a hash field or a fingerprint list, which never leave as
    attributes.
    """
    findings: list[Finding] = []
    exported: list[tuple[int, ExportedEvent]] = []
    points: list[Finding] = []
    for index, event in enumerate(events):
        if isinstance(event, Mapping):
            exported.append((index, export_event(event)))
            points += _metric_findings(index, event, known_secrets)
        else:
            findings.append(Finding(index, "?", "", "event is not a JSON object"))
    return findings + audit_exported(exported, known_secrets) + points


def _metric_findings(
    index: int, event: Mapping[str, Any], known_secrets: KnownSecrets | None
) -> list[Finding]:
    """The checks over the string attributes of the metric points the event adds to."""
    event_type = str(event.get("event_type", ""))
    params = event.get("event_params")
    if not isinstance(params, Mapping):
        return []
    findings: list[Finding] = []
    for name, _, attributes in measurements(event_type, params):
        for key, value in attributes.items():
            if not isinstance(value, str):
                continue
            where = f"metric {name}: {key}"
            reasons = string_findings(event_type, f"event_params.{key}", value)
            reasons += _secret(value, known_secrets)
            findings += [Finding(index, event_type, where, r) for r in reasons]
    return findings


def audit_exported(
    exported: Iterable[tuple[int, ExportedEvent]], known_secrets: KnownSecrets | None = None
) -> list[Finding]:
    """:func:`audit_otlp` over events already in their OTLP form: ``(index, exported)``."""
    findings: list[Finding] = []
    for index, record in exported:
        event_type = record.event_name
        resource = ((f"resource.{k}", v) for k, v in record.resource)
        for key, value in [*record.attributes.items(), *resource]:
            parts = set(key.split("."))
            if parts & HASH_FIELDS or "line_fingerprints" in parts:
                findings.append(Finding(index, event_type, key, "hash or fingerprint exported"))
            texts = [value] if isinstance(value, str) else []
            if isinstance(value, list):
                texts = [v for v in value if isinstance(v, str)]
            for text, is_key in [(key, True), *((t, False) for t in texts)]:
                where = key + (" (key)" if is_key else "")
                reasons = string_findings(event_type, f"event_params.{key}", text, is_key)
                reasons += _secret(text, known_secrets)
                findings += [Finding(index, event_type, where, r) for r in reasons]
    return findings


def _secret(text: str, known_secrets: KnownSecrets | None) -> list[str]:
    """Why ``text`` fails the known-secret check (it equals or contains one), if it does."""
    if known_secrets is None or not len(known_secrets):
        return []
    hit = known_secrets.find(text)
    if hit is None:
        return []
    return [f"{'equals' if hit[1] == text.strip() else 'contains'} a {hit[0]}"]
