"""`make bench`: every benchmark in turn."""

from bench import latency, report, scale

raise SystemExit(latency.main([]) or scale.main([]) or report.main([]))
