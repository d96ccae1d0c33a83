"""Settings for the server and worker processes of the bridge tests (no tests in here): the test
settings with the bridged channel layer, as production will have it.

    worker_factory(DJANGO_SETTINGS_MODULE="realtime.tests.test_bridge_settings")

Its RQ queue lives in Redis database 1, so only workers started with these settings take the
bridge tests' jobs (the suite's other workers use database 0).
"""

from project.settings_test import *  # noqa: F403
from project.settings_test import REDIS_URL, RQ_QUEUES

BRIDGE_RQ_URL = REDIS_URL.rsplit("/", 1)[0] + "/1"

CHANNEL_LAYERS = {"default": {"BACKEND": "realtime.bridge.RealtimeChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
RQ_QUEUES = {"default": {**RQ_QUEUES["default"], "URL": BRIDGE_RQ_URL}}
