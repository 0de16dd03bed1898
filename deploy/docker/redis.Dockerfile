# Redis from Debian's package, for sites where no registry answers (images.source: bootstrap).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# uid/gid 999 as in the upstream image, so Kubernetes' runAsUser: 999 matches a real account;
# the package's postinst reuses an existing account.
RUN echo 'redis:x:999:999:Redis:/var/lib/redis:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'redis:x:999:' >> /etc/group \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
# Numeric (the redis account above), so runAsNonRoot can be verified without the passwd file.
USER 999:999
WORKDIR /data
VOLUME /data
EXPOSE 6379
CMD ["redis-server", "--appendonly", "yes", "--dir", "/data", "--bind", "0.0.0.0", "--protected-mode", "no"]
