# The standalone tracking edge (addons/mail_tracking_ext/tools/edge.py): no Odoo inside.
FROM python:3.11-slim
RUN pip install --no-cache-dir gunicorn==23.0.0 werkzeug==2.2.2 psycopg2-binary==2.9.9 lxml==5.2.1 \
        cryptography==42.0.8
COPY addons/mail_tracking_ext /opt/mail_tracking_ext
USER nobody
EXPOSE 8070
CMD ["gunicorn", "--chdir", "/opt/mail_tracking_ext", "--workers", "2", "--bind", "0.0.0.0:8070", \
     "--access-logfile", "-", "tools.edge:application"]
