"""`python -m tools.rq_queue_worker QUEUE...`: what `manage.py rqworker` runs (our TrackingWorker,
JSON serializer), on queues that need not be in RQ_QUEUES: the test suite gives a test that kills
its worker a queue of its own, so no other worker of the session takes that job."""

from __future__ import annotations

import os
import sys


def main(queue_names: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings_test")
    import django

    django.setup()
    from django.conf import settings
    from redis import Redis
    from rq import Queue
    from rq.serializers import JSONSerializer

    from jobs.worker import TrackingWorker

    connection = Redis.from_url(settings.REDIS_URL)
    queues = [Queue(name, connection=connection, serializer=JSONSerializer) for name in queue_names]
    # Like `rqworker --with-scheduler` (retries with intervals need a scheduler), unless the test
    # is about to kill this worker: a dead scheduler keeps its queue's lock until the lock expires.
    with_scheduler = os.environ.get("RQ_WITH_SCHEDULER", "1") == "1"
    TrackingWorker(queues, connection=connection).work(  # its intervals: settings.RQ_*
        logging_level="INFO", with_scheduler=with_scheduler
    )


if __name__ == "__main__":
    main(sys.argv[1:])
