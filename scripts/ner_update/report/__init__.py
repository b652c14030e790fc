"""The report page and the review page, as data rendered by jinja2 templates."""
