# PostgreSQL 15 from Debian's package, for sites where no registry answers (images.source: bootstrap).
# Same interface as the upstream image: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# uid/gid 999 as in the upstream image, so Kubernetes' runAsUser: 999 matches a real account;
# the package's postinst reuses an existing account.
RUN echo 'postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/bash' >> /etc/passwd \
 && echo 'postgres:x:999:' >> /etc/group \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 700 /var/lib/postgresql/data
COPY deploy/docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
# Numeric (the postgres account above), so runAsNonRoot can be verified without the passwd file.
USER 999:999
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
