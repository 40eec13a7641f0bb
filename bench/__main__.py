"""`make bench`: every benchmark in turn."""

from bench import latency

raise SystemExit(latency.main([]))
