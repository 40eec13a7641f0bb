"""The local tenant: simulators of Microsoft Graph, Identity Center and SCIM on loopback."""
