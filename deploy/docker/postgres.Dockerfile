# PostgreSQL 15 from Debian's package, for sites where no registry answers (images.source: bootstrap).
# Same interface as the upstream image: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# uid/gid 999 as in the upstream image, so Kubernetes' runAsUser: 999 matches a real account;
# the package's postinst reuses an existing account. No cluster is made at install (the entrypoint
# initialises PGDATA). Lean: the server runs without JIT (llvmjit.so and its bitcode removed:
# PostgreSQL then treats JIT as unavailable), so LLVM and Z3 go; so do perl (only the pg_wrapper
# scripts in /usr/bin use it; PATH puts the real binaries first) and `locales` (initdb uses
# C.UTF-8 from libc-bin). dpkg keeps the truth: those packages are purged, their dependants'
# dependencies marked unmet; nothing installs on top of this image. The ldd check fails the
# build if a server or client binary or module lost a library.
RUN echo 'postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/bash' >> /etc/passwd \
 && echo 'postgres:x:999:' >> /etc/group \
 && mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/stackyard.conf \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* /usr/lib/postgresql/15/lib/bitcode /usr/lib/postgresql/15/lib/llvmjit* \
 && DEBIAN_FRONTEND=noninteractive dpkg --purge --force-depends \
        libllvm14 libz3-4 perl perl-modules-5.36 libperl5.36 locales \
 && ldd /usr/lib/postgresql/15/bin/* /usr/lib/postgresql/15/lib/*.so > /tmp/ldd.txt \
 && if grep 'not found' /tmp/ldd.txt; then exit 1; fi \
 && rm /tmp/ldd.txt \
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
