"""Server-rendered pages (French): the operator's openings dashboard first."""
