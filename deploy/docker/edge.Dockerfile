# nginx from Debian's package, for sites where no registry answers (images.source: bootstrap).
# The configuration is mounted by compose (deploy/docker/edge/nginx.conf), the same for the
# upstream image.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/*
USER 65534:65534
EXPOSE 8080
STOPSIGNAL SIGQUIT
CMD ["nginx", "-e", "stderr", "-g", "daemon off;"]
