"""``rorsync`` with fake engines registered through the service's seam, for the subprocess tests.

Run as ``python -m tests.service.fake_daemon --config FILE run``; ``FAKE_*`` environment
variables shape the engines (see :func:`tests.service.fakes.from_environment`).
"""

from rorsync.cli import main
from rorsync.model import Source
from rorsync.service.engines import register_engine
from tests.service.fakes import from_environment

if __name__ == "__main__":
    for source in (Source.FHIR, Source.CSD):
        register_engine(source, from_environment(source))
    main()
