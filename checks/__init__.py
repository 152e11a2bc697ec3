"""Verification: read the servers and the tracker back and compare with the source."""
