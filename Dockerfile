# The image the Kubernetes example (deploy/kubernetes/) runs: tagocheck and Locust, nothing else.
FROM python:3.11-slim
WORKDIR /opt/tagocheck
COPY pyproject.toml README.md ./
COPY tagocheck ./tagocheck
COPY schemas ./schemas
COPY loadtests ./loadtests
RUN pip install --no-cache-dir . && useradd --create-home locust
USER locust
ENTRYPOINT ["locust"]
