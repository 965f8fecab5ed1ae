"""callops: contact-center operations warehouse."""

__version__ = "0.1.0"
