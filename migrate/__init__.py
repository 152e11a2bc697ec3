"""Stateful orchestration of a staged Sendmail/procmail -> Postfix/Cyrus migration."""
