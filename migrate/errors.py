"""Operator-facing errors of the orchestration layer."""


class UnknownDomain(Exception):
    """A command named a domain the tracker does not know (exit status 2)."""

    def __init__(self, domain: str):
        super().__init__(f"unknown domain {domain!r} (run 'mailmigrate status' to list them)")
        self.domain = domain


class SieveUploadError(Exception):
    """ManageSieve refused a script or the login (exit status 1)."""
