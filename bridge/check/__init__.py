"""`pim-bridge check-config`: the config validated, every endpoint reached, every mapping
checked against Entra and AWS, one line per check with names and one exit code for all."""

from bridge.check.command import check_config

__all__ = ["check_config"]
