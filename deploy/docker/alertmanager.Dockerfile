# Alertmanager (with amtool) from Debian's package, for sites where no registry answers
# (images.source: bootstrap). Same interface as the upstream image: /bin/alertmanager and
# /bin/amtool, config in /etc/alertmanager/alertmanager.yml, data in /alertmanager, user nobody.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus-alertmanager \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s prometheus-alertmanager /usr/bin/alertmanager \
 && mkdir -p /alertmanager /etc/alertmanager \
 && chown 65534:65534 /alertmanager
USER 65534:65534
WORKDIR /alertmanager
VOLUME /alertmanager
EXPOSE 9093
ENTRYPOINT ["/usr/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
