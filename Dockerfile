# syntax=docker/dockerfile:1
# The controller's image: `canary run` by default; `canary loadtester` with other arguments.
#
#   docker build -t ghcr.io/canary-dev/canary:0.1.0 .
#
# Two stages: the first builds wheels of the project and of every dependency; the second
# installs them, offline, into a virtual environment and keeps nothing else (no build tools, no
# wheel files, no pip in the environment). It runs as the unprivileged user 65532 and works with
# a read-only root filesystem (the Helm chart mounts an emptyDir at /tmp).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Only what the wheel is built from (.dockerignore keeps the rest of the repository out).
COPY pyproject.toml README.md ./
COPY canary ./canary
# The project's wheel and a wheel of every dependency, in /wheels.
RUN python -m pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="canary" \
      org.opencontainers.image.description="A progressive delivery controller for Kubernetes" \
      org.opencontainers.image.source="https://github.com/canary-dev/canary" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/canary/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
# The wheels are mounted from the build stage, not copied: they never become a layer. Nothing is
# downloaded here (--no-index), and the environment gets no pip or setuptools of its own: the
# base image's pip installs into it (--python).
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv --without-pip /opt/canary \
    && python -m pip --python /opt/canary/bin/python install --no-cache-dir --no-index \
        --find-links=/wheels canary-controller \
    && canary run --help >/dev/null
# The distroless "nonroot" user and group: no entry in /etc/passwd is needed.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["canary"]
CMD ["run"]
