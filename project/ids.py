"""Moved to `realtime.ids` (issue 15: the installable realtime package owns it); this name stays an alias of
that module, so existing imports, patches and private names keep working."""

import sys

import realtime.ids

sys.modules[__name__] = realtime.ids
