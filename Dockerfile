# The app image: one uvicorn worker per container, started as `imagehost stack` starts its workers
# (the CMD below is imagehost.stack.worker_command(8000, "0.0.0.0"); tests/stack keeps them equal).
# Nginx runs beside it from the official nginx image; this image also renders Nginx's
# configuration for it (the nginx-config service in docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /srv/imagehost imagehost \
 && mkdir -p /srv/imagehost/images /srv/imagehost/logs /srv/imagehost/nginx-conf \
 && chown -R imagehost:imagehost /srv/imagehost

COPY . /tmp/imagehost-src
RUN pip install /tmp/imagehost-src && rm -rf /tmp/imagehost-src

ENV IMAGEHOST_IMAGES_DIR=/srv/imagehost/images \
    IMAGEHOST_LOG_DIR=/srv/imagehost/logs
USER imagehost
WORKDIR /srv/imagehost
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]

CMD ["python", "-m", "uvicorn", "--factory", "imagehost.app:create_app", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers", "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5", "--timeout-keep-alive", "75"]
