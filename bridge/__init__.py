"""pim-bridge: Entra PIM for Groups as the single source of just-in-time access to AWS."""

__version__ = "0.1.0"
