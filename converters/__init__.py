"""Pure translators: old-site files in, new-site artefacts and findings out.

Nothing in this package talks to a server, the tracker, the clock or a
subprocess, so every converter can be tested on files alone.
"""
