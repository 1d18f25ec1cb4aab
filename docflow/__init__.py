"""docflow: turn a pile of documents into searchable, classified, structured data."""

__version__ = "0.1.0"
