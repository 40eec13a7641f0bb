"""The Microsoft Graph simulator: an in-memory Entra tenant with PIM for Groups behind a real
HTTP server, plus Entra's SCIM provisioning to a SCIM server. `sandbox.GraphSandbox` is the
entry point."""
