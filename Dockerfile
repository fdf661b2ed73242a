# syntax=docker/dockerfile:1
# The monitor daemon.  Build: docker build -t footer-monitor .   Run: see docs/daemon.md.

# Both stages on one Debian release: the build stage compiles pyicu against that release's
# ICU, and the runtime stage installs the same ICU library (bookworm: libicu72).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# rigour needs pyicu, which has no wheels: it builds from source against ICU's headers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libicu-dev pkg-config g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY monitor ./monitor
COPY migrations ./migrations
# Wheels of the project and of every dependency, so the runtime stage needs no compiler.
# The postgres extra lets a team point MONITOR_DB at a shared PostgreSQL store.
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[postgres]'

FROM ${PYTHON_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends libicu72 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels 'footer-monitor[postgres]' \
    && rm -rf /wheels
# A fixed unprivileged uid, so the /data volume keeps its owner across image rebuilds.
RUN useradd --system --user-group --uid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin monitor \
    && mkdir -p /data \
    && chown monitor:monitor /data
ENV MONITOR_DB=/data/monitor.db \
    MONITOR_WATCHLIST=/data/watchlist.toml \
    PYTHONUNBUFFERED=1
WORKDIR /data
VOLUME ["/data"]
USER monitor
# `monitor status` exits non-zero when no check has succeeded lately (docs/daemon.md).
HEALTHCHECK --interval=5m --timeout=30s --start-period=2m --retries=3 CMD ["monitor", "status"]
CMD ["monitor", "run"]
