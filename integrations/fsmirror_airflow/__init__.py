"""fsmirror's airflow adapter."""
