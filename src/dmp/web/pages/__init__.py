"""One module per page: parse the query, call the services, render a template."""
