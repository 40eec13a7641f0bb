"""`make bench`: every benchmark in turn (about 50 minutes on 2 cores)."""

from bench import activity, denial, latency, report, revoke, scale

# Session denial through one SCP instead of inline policies, at a lighter load, for the
# trade-off table in docs/architecture.md.
SCP = ["--mechanism", "scp", "--grants", "60", "--spread", "60", "--modes", "poll"]

raise SystemExit(
    latency.main([])
    or latency.main(SCP)
    or scale.main([])
    or report.main([])
    or activity.main([])
    or revoke.main([])
    or denial.main([])
)
