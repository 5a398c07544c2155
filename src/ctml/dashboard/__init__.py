"""The web dashboard (L3): apps, models and lineage, runs, drift and performance over time, decisions with
their evidence, backtest reports, and operator actions behind API tokens.

Server-rendered HTML (Starlette + Jinja2, the ``serve`` extra) with charts drawn on the server as inline SVG:
no Node server, no charting library, nothing fetched from the network. ``ctml ui`` serves it alone;
``ctml serve`` mounts it at ``/ui``. See docs/dashboard.md.
"""

from ctml.dashboard._app import COOKIE, create_dashboard, standalone

__all__ = ["COOKIE", "create_dashboard", "standalone"]
