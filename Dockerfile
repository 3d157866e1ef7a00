# syntax=docker/dockerfile:1
# One image for the four services; the command picks the service:
#   docker run tongxin serve needs --host 0.0.0.0        (volunteers, notify, metrics alike)
# Build: docker build -t tongxin:0.1.0 .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtualenv with the project and its pinned dependencies -----------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/tongxin
ENV PATH=/opt/tongxin/bin:$PATH
WORKDIR /src
# Dependencies first: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > /tmp/requirements.txt \
    && pip install --require-virtualenv -r /tmp/requirements.txt
COPY shared ./shared
COPY services ./services
# Not editable: the code lives in site-packages; pip itself is not needed at run time.
RUN pip install --require-virtualenv --no-deps . \
    && python -m compileall -q /opt/tongxin/lib \
    && pip uninstall --yes pip

# ---- fonts: Debian's WenQuanYi Zen Hei, copied into the runtime (no apt there) -------------
FROM ${PYTHON_IMAGE} AS fonts
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*

# ---- runtime: the virtualenv alone, run by an unprivileged user ----------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="tongxin" \
      org.opencontainers.image.description="同心 Tongxin: community service projects (needs, volunteers, notify, metrics)" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 tongxin \
    && useradd --system --uid 10001 --gid tongxin --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin tongxin
COPY --from=build /opt/tongxin /opt/tongxin
# The CJK font that certificates of voluntary service embed (certificate_pdf.py).
COPY --from=fonts /usr/share/fonts/truetype/wqy /usr/share/fonts/truetype/wqy
ENV PATH=/opt/tongxin/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TONGXIN_PROFILE=prod \
    TONGXIN_LOG_FORMAT=json
WORKDIR /srv/tongxin
USER 10001:10001
EXPOSE 8001 8002 8003 8004
# /healthz of the service this container serves (its port is read from the serve command).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["tongxin", "healthcheck"]
ENTRYPOINT ["tongxin"]
CMD ["serve", "needs", "--host", "0.0.0.0"]
