"""Reading Entra PIM for Groups from Microsoft Graph (msgraph-sdk, azure-identity)."""

from bridge.graph.client import GraphSession
from bridge.graph.credentials import build_credential, graph_scopes
from bridge.graph.source import GraphPimSource

__all__ = ["GraphPimSource", "GraphSession", "build_credential", "graph_scopes"]
