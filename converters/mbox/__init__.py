"""mbox spools and folders: a streaming reader for the copy engine, a writer for rollback.

``read_mbox`` yields ``MboxMessage`` records whose ``data`` can be appended to
Cyrus as is and whose ``sha1`` equals Cyrus's ``DIGEST.SHA1`` of the stored
copy; ``folder_keywords`` gives the keywords of a UW IMAP folder;
``writer.append_message`` puts a message back into an mbox spool the way a
local delivery would.
"""

from converters.mbox.reader import MboxMessage, folder_keywords, read_mbox

__all__ = ["MboxMessage", "folder_keywords", "read_mbox"]
