"""Evidence of use: what each grant's AWS sessions did, read from the organization trail's log
files in S3 and kept as one digest per grant in the ledger (docs/report.md, "Activity").

One concern per module: `layout` (where the trail puts its files), `objects` (listing and
fetching them), `records` (reading one file's records as a stream), `callers` (who made a call,
from its userIdentity), `matching` (which grant it belongs to), `digest` (what a grant's calls
add up to), `targets` (a grant's accounts, permission set names and session name), `plan`
(which files a set of grants needs), `scan` (one reading, end to end) and `job` (the reading
`report --activity` and `run` start). Nothing here imports the store's SQL.
"""
