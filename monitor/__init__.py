"""Watch companies' websites and web archives for changes in the legal entities they name."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/footer-monitor/footer-monitor"
USER_AGENT = f"monitor/{__version__} (+{PROJECT_URL})"
