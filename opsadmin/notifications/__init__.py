"""Rendering and sending e-mail (smtplib + EmailMessage) and the embedded outbox."""
