"""Sendmail's /etc/mail tables and /etc/passwd, read exactly as sendmail 8.17 used them.

Public interface:

* ``read_site(root)`` -> ``SendmailSite``: every live table, domain class and
  mail user, plus Findings for every line not used as written;
* ``mail_domains(site)`` -> ``MailDomain`` per domain with the users whose
  home it is (the unit of a staged cutover); ``home_domains(site)`` gives the
  same as a mapping plus the per-user findings;
* ``resolve(site, address)`` -> what sendmail did with one address.
"""

from converters.sendmail.domains import MailDomain, home_domains, mail_domains, primary_domain
from converters.sendmail.passwd import MailUserPolicy, UnixUser
from converters.sendmail.resolve import Delivery, Resolution, resolve
from converters.sendmail.site import SendmailSite, read_site

__all__ = [
    "Delivery", "MailDomain", "MailUserPolicy", "Resolution", "SendmailSite", "UnixUser",
    "home_domains", "mail_domains", "primary_domain", "read_site", "resolve",
]
