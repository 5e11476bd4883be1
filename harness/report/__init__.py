"""The reports of a run, rendered from its report.json: JSON, JUnit, Markdown, HTML, Allure.
Import the modules themselves (``harness.report.writers`` writes them all); this package
re-exports nothing, so that reading one view does not load the HTML templates."""

__all__: list[str] = []
