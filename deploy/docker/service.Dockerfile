# One image per component of the stack: build with --build-arg COMPONENT=<gateway|orchestrator|worker|memory|model>.
# Everything above `ARG COMPONENT` is shared, so the five builds reuse one cached runtime.
# The build is offline: dependencies come from a wheelhouse the toolkit downloads on the host
# (tooling/images.py), so it needs neither registry credentials nor the host's pip settings.
# Lean: pip, setuptools, packaged test suites and Cython sources leave the venv; the bytecode stays
# (the runtime user cannot write it and PYTHONDONTWRITEBYTECODE is set, so it saves every start).
ARG BASE_IMAGE
FROM ${BASE_IMAGE} AS build
ARG WHEELHOUSE
COPY ${WHEELHOUSE} /wheels
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \
        --find-links /wheels -r /wheels/requirements.txt \
 && /opt/venv/bin/pip uninstall -y --disable-pip-version-check pip setuptools \
 && find /opt/venv/lib -depth \( \( -type d -name tests \) -o -name '*.pyx' -o -name '*.pxd' \) -exec rm -rf {} +
COPY services/stackyard /app/stackyard
RUN /opt/venv/bin/python -m compileall -q /app/stackyard

FROM ${BASE_IMAGE}
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp
# No account is needed for a numeric user; nothing in the image is writable by it.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --retries=5 CMD ["python", "-m", "stackyard.probe", "/readyz"]
ARG COMPONENT
ENV STACKYARD_COMPONENT=${COMPONENT}
LABEL org.opencontainers.image.title="stackyard-${COMPONENT}" org.opencontainers.image.source="stackyard"
# The shell form's /bin/sh -c, written out: `exec` makes python PID 1's successor so SIGTERM
# reaches it and the drain runs; the shell expands $STACKYARD_COMPONENT.
CMD ["/bin/sh", "-c", "exec python -m stackyard \"$STACKYARD_COMPONENT\""]
