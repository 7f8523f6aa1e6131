# One image for every process of the Procfile: `web` (the default), `worker`, `scheduler` and
# `release`, chosen by the command (`docker run IMAGE worker`); anything else runs as given.
# BASE_IMAGE must be a Debian-like image with python3 (3.11) and its venv module, and useradd.
ARG BASE_IMAGE=python:3.11-slim

# Build: the dependencies into a virtual environment (wheels only: no compiler needed).
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv /venv \
 && /venv/bin/pip install --only-binary=:all: -r /tmp/requirements.txt \
 && find /venv -name __pycache__ -prune -exec rm -rf {} + \
 && rm -rf /venv/lib/python3*/site-packages/pip /venv/lib/python3*/site-packages/pip-*

# Run: the base, the environment and the code; no pip, no build tools; a user without rights.
FROM ${BASE_IMAGE}
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production \
    PORT=5000 \
    INSTANCE_PATH=/app/instance
RUN useradd --create-home --home-dir /home/app --uid 10001 --user-group app \
 && mkdir -p /app/instance && chown app:app /app/instance
WORKDIR /app
COPY --from=build /venv /venv
COPY Procfile ./
COPY scripts/procfile-exec scripts/procfile-exec
COPY migrations migrations
COPY templates templates
COPY saas saas
USER app
EXPOSE 5000
ENTRYPOINT ["scripts/procfile-exec"]
CMD ["web"]
