"""OpenTelemetry export: events as OTLP log records, derived OTLP metrics (docs/otlp.md).

``mapping`` turns one event into what is exported (pure data, no SDK import), ``metrics`` derives
the measurements and aggregates them with the OpenTelemetry SDK; ``agentlytics.sinks.otlp`` sends
both over OTLP/HTTP.
"""
