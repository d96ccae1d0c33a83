"""Moved to `realtime.logcontext` (issue 15: the installable realtime package owns it); this name stays an alias of
that module, so existing imports, patches and private names keep working."""

import sys

import realtime.logcontext

sys.modules[__name__] = realtime.logcontext
