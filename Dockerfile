# One image for denialflow's stateless processes: `denialflow web`, `denialflow worker`
# and the one-shot `denialflow migrate`. docker-compose.yml shows how they fit together.
#
# CI has no Docker engine, so this image is never built there. What tests/test_deploy_shape.py
# does check, step by step: every COPY source exists; the uv pinned below is the one the
# Makefile locks with; the `uv export` step, run as written on a copy of exactly what is
# COPYed, gives hash-pinned requirements without the dev extra; pip accepts them with
# --require-hashes in a dry run against PyPI for CPython 3.11 on glibc x86_64 (a wheel for
# every pin: the slim image has no compiler); and `pip install .` builds a wheel holding
# every file of the package (templates, static files, migrations, data). Not checked: the
# base image, the real install into it, `useradd`, other architectures (arm64), and
# whether the built image starts.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# WeasyPrint (appeal packets, patient statements) draws text with Pango.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY denialflow ./denialflow
# The versions the tests passed with (uv.lock), then denialflow itself on top of them.
RUN pip install uv==0.13.9 \
    && uv export --frozen --no-emit-project --format requirements-txt -o /tmp/locked.txt \
    && pip install --require-hashes -r /tmp/locked.txt \
    && pip install --no-deps . \
    && pip uninstall -y uv \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin denialflow

# Nothing here keeps state: the database is DATABASE_URL, workflows live in Temporal.
# The var dir only matters for the SQLite default, which containers should not use.
ENV DENIALFLOW_VAR_DIR=/tmp/denialflow \
    DENIALFLOW_WEB_HOST=0.0.0.0 \
    DENIALFLOW_WEB_PORT=8000
USER denialflow
EXPOSE 8000
CMD ["denialflow", "web"]
