"""The holder's portal at /portail (RULES R19, R16): activation, login with a one-time
code, password reset, "Mon dossier" and TOTP enrolment. Server-rendered French pages
that work without JavaScript; every form is protected against cross-site forgery by
`security.PortalRoute` (docs/decisions/0007-portal-accounts.md)."""
